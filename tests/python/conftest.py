"""Fixtures for softkey's own python-fido2 tests: a fresh `softkey sim` per test
module, on a free loopback port, and a device/client pointed at it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from fido2 import cbor
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap2 import Ctap2
from fido2.hid import CTAPHID

import softkey_udp

REPO = Path(__file__).resolve().parents[2]


def softkey_binary() -> str:
    explicit = os.environ.get("SOFTKEY_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        candidate = target / profile / "softkey"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("softkey binary not found: run `cargo build -p softkey` or set SOFTKEY_BIN")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sim:
    """A running `softkey sim` process."""

    def __init__(self, *extra_args: str):
        self.port = free_udp_port()
        self.log_path = Path(os.environ.get("SOFTKEY_TEST_LOG_DIR", "/tmp")) / f"softkey-sim-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [softkey_binary(), "sim", "--udp", f"127.0.0.1:{self.port}", *extra_args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"softkey sim exited: {self.log_path.read_text()}")
            try:
                dev = softkey_udp.open_device(port=self.port, timeout=0.5)
                dev.close()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("softkey sim did not answer INIT in time")

    def device(self):
        return softkey_udp.open_device(port=self.port)

    def power_cycle(self) -> None:
        softkey_udp.power_cycle(port=self.port)
        time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class CanonicalCheckingDevice:
    """Wraps a CtapHidDevice; every CTAP2 response body must be CTAP2-canonical
    CBOR, as python-fido2's own encoder writes it."""

    def __init__(self, device):
        self._device = device
        self.responses_checked = 0

    def __getattr__(self, name):
        return getattr(self._device, name)

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        response = self._device.call(cmd, data, event, on_keepalive)
        if cmd == CTAPHID.CBOR and len(response) > 1 and response[0] == 0:
            body = response[1:]
            decoded = cbor.decode(body)  # rejects trailing bytes
            assert cbor.encode(decoded) == body, f"non-canonical CBOR: {body.hex()}"
            self.responses_checked += 1
        return response


@pytest.fixture(scope="module")
def sim():
    process = Sim()
    yield process
    process.stop()


@pytest.fixture
def device(sim):
    dev = CanonicalCheckingDevice(sim.device())
    yield dev
    dev.close()


@pytest.fixture
def ctap2(device):
    return Ctap2(device)


class AutoInteraction(UserInteraction):
    def prompt_up(self):
        pass

    def request_pin(self, permissions, rp_id):
        raise AssertionError("no PIN is set")

    def request_uv(self, permissions, rp_id):
        return True


@pytest.fixture
def client(device):
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector("https://example.com"),
        user_interaction=AutoInteraction(),
    )
