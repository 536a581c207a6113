"""`softkey sim --verify fprintd` end to end: python-fido2 over UDP asks for
UV-based pinUvAuthTokens; softkey verifies through a test double of fprintd
(simulator/tests/fprintd_double.py, a python-dbusmock template) on a private
D-Bus bus that stands in for the system bus.

Needs dbus-daemon, dbus-send and python-dbusmock for /usr/bin/python3
(Debian: dbus-daemon dbus-bin python3-dbusmock). Without them the tests are
skipped with the reason, unless SOFTKEY_REQUIRE_FPRINTD=1 (as in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin

from conftest import REPO, Sim

SYSTEM_PYTHON = os.environ.get("SOFTKEY_DBUSMOCK_PYTHON", "/usr/bin/python3")
DOUBLE = REPO / "simulator" / "tests" / "fprintd_double.py"
MAKE_CREDENTIAL = ClientPin.PERMISSION.MAKE_CREDENTIAL
MAX_UV_RETRIES = 8


def missing_programs() -> str | None:
    for program, package in (("dbus-daemon", "dbus-daemon"), ("dbus-send", "dbus-bin")):
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian: {package})"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import dbusmock"], capture_output=True)
    if probe.returncode != 0:
        return f"python-dbusmock is not importable by {SYSTEM_PYTHON} (Debian: python3-dbusmock)"
    return None


class FprintdBus:
    """A private dbus-daemon, and the fprintd double on it."""

    def __init__(self, folder):
        self.folder = folder
        self.daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address",
             f"--address=unix:path={folder}/bus"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.address = self.daemon.stdout.readline().strip()
        self.double = None
        self.log = folder / "fprintd-calls.log"

    def start_fprintd(self, **parameters) -> None:
        self.double = subprocess.Popen(
            [SYSTEM_PYTHON, "-m", "dbusmock", "--system", "-t", str(DOUBLE),
             "-l", str(self.log), "-p", json.dumps(parameters)],
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address},
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self._fprintd_on_bus():
            assert time.monotonic() < deadline, "the fprintd double did not start"
            time.sleep(0.05)

    def _fprintd_on_bus(self) -> bool:
        answer = subprocess.run(
            ["dbus-send", f"--bus={self.address}", "--print-reply",
             "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
             "org.freedesktop.DBus.NameHasOwner", "string:net.reactivated.Fprint"],
            capture_output=True, text=True,
        )
        return "boolean true" in answer.stdout

    def calls(self) -> list[str]:
        if not self.log.exists():
            return []
        words = [line.split()[1] for line in self.log.read_text().splitlines() if len(line.split()) > 1]
        return [word for word in words if word != "emit"]

    def wait_for_calls_ending(self, *tail: str) -> list[str]:
        deadline = time.monotonic() + 10
        while self.calls()[-len(tail):] != list(tail):
            assert time.monotonic() < deadline, f"calls {self.calls()} do not end with {tail}"
            time.sleep(0.02)
        return self.calls()

    def stop(self) -> None:
        for process in (self.double, self.daemon):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture
def fprintd(tmp_path, monkeypatch):
    why = missing_programs()
    if why:
        if os.environ.get("SOFTKEY_REQUIRE_FPRINTD"):
            pytest.fail(f"SOFTKEY_REQUIRE_FPRINTD is set but {why}")
        pytest.skip(f"the fprintd tests need a private D-Bus bus and python-dbusmock: {why}")
    bus = FprintdBus(tmp_path)
    # softkey finds fprintd on the system bus: this private bus is it here.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
    yield bus
    bus.stop()


def uv_token_status(pin: ClientPin, event=None):
    """None when a UV token was issued, else the CTAP error code."""
    try:
        assert pin.get_uv_token(MAKE_CREDENTIAL, "example.com", event=event)
        return None
    except CtapError as error:
        return error.code


def test_fprintd_uv_advertised_and_uv_retries_count_down_to_blocked(fprintd):
    fprintd.start_fprintd(
        results=[["verify-no-match"], ["verify-retry-scan", "verify-no-match"], ["verify-match"]],
        then="verify-no-match",
    )
    sim = Sim("--verify", "fprintd")
    try:
        ctap2 = Ctap2(sim.device())
        assert ctap2.info.options["uv"] is True
        assert ctap2.info.options["pinUvAuthToken"] is True
        pin = ClientPin(ctap2)
        assert pin.get_uv_retries() == MAX_UV_RETRIES
        # Two fingers that do not match: one retry fewer each.
        for left in (7, 6):
            assert uv_token_status(pin) == CtapError.ERR.UV_INVALID
            assert pin.get_uv_retries() == left
        # A match issues the token and restores every retry.
        assert uv_token_status(pin) is None
        assert pin.get_uv_retries() == MAX_UV_RETRIES
        # No match, eight times: blocked.
        codes = [uv_token_status(pin) for _ in range(MAX_UV_RETRIES)]
        assert codes == [CtapError.ERR.UV_INVALID] * 7 + [CtapError.ERR.UV_BLOCKED]
        assert pin.get_uv_retries() == 0
        starts = fprintd.calls().count("VerifyStart")
        assert uv_token_status(pin) == CtapError.ERR.UV_BLOCKED
        assert fprintd.calls().count("VerifyStart") == starts, "a blocked key asks no finger"
        # Every session claimed and released the reader.
        calls = fprintd.calls()
        assert calls.count("Claim") == calls.count("Release") == starts == 3 + MAX_UV_RETRIES
    finally:
        sim.stop()


def test_fprintd_cancel_is_keepalive_cancel_and_releases_the_reader(fprintd):
    fprintd.start_fprintd(then="hang")
    sim = Sim("--verify", "fprintd")
    try:
        pin = ClientPin(Ctap2(sim.device()))
        event = threading.Event()
        threading.Timer(1.0, event.set).start()
        assert uv_token_status(pin, event) == CtapError.ERR.KEEPALIVE_CANCEL
        fprintd.wait_for_calls_ending("VerifyStop", "Release")
        assert pin.get_uv_retries() == MAX_UV_RETRIES, "a cancel is no failed verification"
    finally:
        sim.stop()


def test_fprintd_nobody_touching_is_user_action_timeout(fprintd):
    fprintd.start_fprintd(then="hang")
    sim = Sim("--verify", "fprintd", "--user-timeout", "2")
    try:
        pin = ClientPin(Ctap2(sim.device()))
        assert uv_token_status(pin) == CtapError.ERR.USER_ACTION_TIMEOUT
        fprintd.wait_for_calls_ending("VerifyStop", "Release")
        assert pin.get_uv_retries() == MAX_UV_RETRIES
    finally:
        sim.stop()


def test_fprintd_busy_reader_is_no_failed_verification(fprintd):
    fprintd.start_fprintd(busy=True)
    sim = Sim("--verify", "fprintd")
    try:
        pin = ClientPin(Ctap2(sim.device()))
        assert uv_token_status(pin) == CtapError.ERR.USER_ACTION_TIMEOUT
        assert pin.get_uv_retries() == MAX_UV_RETRIES
        assert "the fingerprint reader is busy" in sim.log_path.read_text()
    finally:
        sim.stop()


def test_fprintd_absent_or_without_finger_softkey_does_not_offer_uv(fprintd):
    with pytest.raises(RuntimeError, match="install fprintd"):
        Sim("--verify", "fprintd")
    fprintd.start_fprintd(enrolled=[])
    with pytest.raises(RuntimeError, match="fprintd-enroll"):
        Sim("--verify", "fprintd")
