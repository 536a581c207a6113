"""The daemon on a vault sealed to a TPM, end to end, against swtpm (a
software TPM 2.0 reached through tpm2-tss's swtpm TCTI, as
vault/tests/tpm.rs does): `softkey vault init --tpm` makes a vault whose only
slot is sealed to the TPM; the daemon unseals it with `--tpm` and serves it
over UDP (`softkey sim --vault … --tpm`, the same vault options and unlock as
`softkey run`, which serves UHID only); python-fido2 registers a passkey and
signs in; after a restart the TPM unseals the vault again and the same
passkey signs in with a higher counter. `softkey run --tpm` itself opens the
vault through the TPM and gets as far as its UHID device; with another TPM
(a fresh swtpm: another machine) it refuses with a message naming the cause,
exits nonzero, and leaves the vault file byte for byte as it was.

Without swtpm, or with a softkey built without the `tpm` feature, the tests
are skipped with the reason, unless SOFTKEY_REQUIRE_TPM=1 (CI, and
scripts/test.sh where tpm2-tss is installed), where they fail."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server

from conftest import AutoInteraction, CanonicalCheckingDevice, Sim, softkey_binary

RP = {"id": "example.com", "name": "Example RP"}
REQUIRED = os.environ.get("SOFTKEY_REQUIRE_TPM") == "1"
NO_UHID = "/nonexistent/softkey-test-uhid"


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"the TPM tests cannot run, and SOFTKEY_REQUIRE_TPM=1: {reason}")
    pytest.skip(reason)


def free_port_pair() -> int:
    """A TCP port whose successor is free too (swtpm's control port)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


class Swtpm:
    """A swtpm with its own state (a machine's TPM), on loopback."""

    def __init__(self, state: Path):
        state.mkdir()
        self.port = free_port_pair()
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2",
             "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
             "--tpmstate", f"dir={state}",
             "--flags", "not-need-init,startup-clear"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("swtpm did not start")
                time.sleep(0.05)

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def tpms(tmp_path):
    """Starts swtpms on demand; stops them at the end."""
    if shutil.which("swtpm") is None:
        unavailable("swtpm is not installed (Debian: apt-get install swtpm swtpm-tools)")
    started = []

    def start() -> Swtpm:
        started.append(Swtpm(tmp_path / f"tpm{len(started)}"))
        return started[-1]

    yield start
    for tpm in started:
        tpm.stop()


def tpm_vault(directory: Path, tpm: Swtpm) -> Path:
    """`softkey vault init --tpm`: a vault whose only slot is sealed to `tpm`."""
    path = directory / "vault.sqlite"
    made = subprocess.run(
        [softkey_binary(), "vault", "--vault", str(path), "--tpm", "--tpm-tcti", tpm.tcti, "init"],
        capture_output=True, text=True, timeout=120,
    )
    if "built without the tpm feature" in made.stderr:
        unavailable("softkey was built without the tpm feature "
                    "(cargo build -p softkey --features softkey/tpm)")
    assert made.returncode == 0, made.stderr
    assert "(slot 1: tpm)" in made.stdout, made.stdout
    return path


def serve(vault: Path, tpm: Swtpm, monkeypatch) -> Sim:
    """The daemon on `vault`, unsealed by `tpm` (named by SOFTKEY_TPM_TCTI, as
    a user would), over UDP."""
    monkeypatch.setenv("SOFTKEY_TPM_TCTI", tpm.tcti)
    return Sim("--vault", str(vault), "--tpm", "--presence", "danger-auto-approve")


def client(sim: Sim) -> tuple[Fido2Client, CanonicalCheckingDevice]:
    device = CanonicalCheckingDevice(sim.device())
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector("https://example.com"),
        user_interaction=AutoInteraction(),
    ), device


def sign_in(sim: Sim, credential) -> int:
    """Signs in with `credential` (the RP verifies the signature); the counter."""
    server = Fido2Server(RP)
    fido, device = client(sim)
    try:
        request, state = server.authenticate_begin([credential], user_verification="discouraged")
        response = fido.get_assertion(request.public_key).get_response(0)
        server.authenticate_complete(state, [credential], response)
        return response.response.authenticator_data.counter
    finally:
        device.close()


def run_daemon(vault: Path, tpm: Swtpm) -> subprocess.CompletedProcess:
    """`softkey run --tpm` on `vault` with `tpm`; its UHID device does not
    exist, so it stops there at the latest."""
    return subprocess.run(
        [softkey_binary(), "run", "--vault", str(vault), "--tpm",
         "--presence", "command", "--presence-command", "false", "--uhid-path", NO_UHID],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "SOFTKEY_TPM_TCTI": tpm.tcti, "SOFTKEY_LOG": "info"},
    )


def tpm2_tss_noise(log: str) -> list[str]:
    return [line for line in log.splitlines() if "WARNING:" in line or "ERROR:" in line]


def test_the_daemon_unseals_its_vault_with_the_tpm_across_restarts(tmp_path, tpms, monkeypatch):
    tpm = tpms()
    vault = tpm_vault(tmp_path, tpm)
    sim = serve(vault, tpm, monkeypatch)
    try:
        server = Fido2Server(RP)
        fido, device = client(sim)
        try:
            options, state = server.register_begin(
                {"id": b"tpm-user", "name": "tess", "displayName": "Tess"},
                resident_key_requirement="required", user_verification="discouraged")
            credential = server.register_complete(
                state, fido.make_credential(options.public_key)).credential_data
        finally:
            device.close()
        first = sign_in(sim, credential)
    finally:
        sim.stop()
    log = sim.log_path.read_text()
    assert not tpm2_tss_noise(log), log

    # Restarted: the TPM unseals the vault again; the passkey is there and
    # counts on.
    sim = serve(vault, tpm, monkeypatch)
    try:
        again = sign_in(sim, credential)
    finally:
        sim.stop()
    assert again > first > 0
    log = sim.log_path.read_text()
    assert not tpm2_tss_noise(log), log


def test_softkey_run_opens_the_vault_only_with_its_tpm(tmp_path, tpms):
    tpm = tpms()
    vault = tpm_vault(tmp_path, tpm)

    # Its TPM unseals it: `softkey run` gets past the vault to the device.
    opened = run_daemon(vault, tpm)
    assert opened.returncode != 0
    assert "softkey run starting" in opened.stderr, opened.stderr
    assert NO_UHID in opened.stderr, opened.stderr
    assert not tpm2_tss_noise(opened.stderr), opened.stderr

    # Another machine's TPM: refused by name before any device, the vault
    # file untouched.
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert "vault.sqlite" in files
    other = tpms()
    refused = run_daemon(vault, other)
    assert refused.returncode == 1, refused.stderr
    assert "sealed to a different TPM" in refused.stderr, refused.stderr
    assert str(vault) in refused.stderr, refused.stderr
    assert "softkey run starting" not in refused.stderr
    assert NO_UHID not in refused.stderr
    assert not tpm2_tss_noise(refused.stderr), refused.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == files

    # And the vault still opens with its own TPM.
    assert "softkey run starting" in run_daemon(vault, tpm).stderr
