"""What `softkey sim` trusts (issue 13, points 4, 7, 8): a persistent vault is
served under the daily daemon's rules unless a `danger` choice is written on
the command line; names from the platform reach prompts only sanitised; the
control API's token file is made new, never through a link, in a private
directory.

Presence through the real notification provider is observed with a stand-in
`notify-send` put first on PATH: it records each call (its arguments) and
answers as the test tells it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

import softkey_udp
from conftest import Sim, softkey_binary
from control_api import RP_ID, Control, free_tcp_port

ES256 = [{"type": "public-key", "alg": -7}]
RESET_WINDOW_S = 10

FAKE_NOTIFY_SEND = """#!/bin/sh
# Stand-in for libnotify's notify-send --wait: records the call, answers
# with what the test wrote into ANSWER (the invoked action's key).
dir=$(dirname "$0")
n=$(ls "$dir"/call-* 2>/dev/null | wc -l)
for arg in "$@"; do printf '%s\\0' "$arg"; done > "$dir/call-$n"
cat "$dir/ANSWER"
"""


class Notifier:
    """The stand-in notify-send and what it was asked."""

    def __init__(self, directory: Path, answer: str):
        self.dir = directory
        self.dir.mkdir()
        script = self.dir / "notify-send"
        script.write_text(FAKE_NOTIFY_SEND)
        script.chmod(0o755)
        self.answer(answer)

    def answer(self, answer: str) -> None:
        (self.dir / "ANSWER").write_text(answer + "\n")

    def calls(self) -> list[list[str]]:
        return [
            p.read_bytes().decode().split("\0")[:-1]
            for p in sorted(self.dir.glob("call-*"), key=lambda p: int(p.name[5:]))
        ]


@pytest.fixture
def notifier(tmp_path, monkeypatch):
    notifier = Notifier(tmp_path / "bin", "deny")
    monkeypatch.setenv("PATH", f"{notifier.dir}:{os.environ['PATH']}")
    return notifier


def make_vault(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path, key = directory / "vault.sqlite", directory / "vault.key"
    subprocess.run(
        [softkey_binary(), "vault", "--vault", str(path), "--key-file", str(key), "init"],
        check=True, capture_output=True, timeout=60,
    )
    return path, key


def make_credential(device, user_name: str = "alice"):
    return Ctap2(device).make_credential(
        os.urandom(32), {"id": RP_ID, "name": "Example"},
        {"id": os.urandom(8), "name": user_name}, ES256,
    )


def make_credential_then_stop(sim: Sim, user_name: str = "alice") -> None:
    """One makeCredential on a fresh device of `sim`, then stops `sim`."""
    try:
        device = sim.device()
        try:
            make_credential(device, user_name)
        finally:
            device.close()
    finally:
        sim.stop()


def sim_log(sim: Sim) -> str:
    return sim.log_path.read_text()


def test_sim_on_persistent_vault_asks_presence_through_real_provider(tmp_path, notifier):
    path, key = make_vault(tmp_path)
    sim = Sim("--vault", str(path), "--key-file", str(key))
    try:
        device = sim.device()
        try:
            with pytest.raises(CtapError) as denied:
                make_credential(device)
            assert denied.value.code == CtapError.ERR.OPERATION_DENIED
            assert len(notifier.calls()) == 1, "the person was asked through the notification"
            notifier.answer("allow")
            make_credential(device)
            assert len(notifier.calls()) == 2
        finally:
            device.close()
    finally:
        sim.stop()


def test_sim_on_persistent_vault_with_explicit_danger_warns_loudly(tmp_path, notifier):
    path, key = make_vault(tmp_path)
    sim = Sim("--vault", str(path), "--key-file", str(key), "--presence", "danger-auto-approve")
    make_credential_then_stop(sim)
    assert notifier.calls() == [], "the danger choice was written: nobody is asked"
    warnings = [line for line in sim_log(sim).splitlines() if "DANGER" in line]
    assert any("danger-auto-approve" in line and str(path) in line for line in warnings), warnings


def test_ephemeral_sim_still_auto_approves_by_default(notifier):
    sim = Sim()
    make_credential_then_stop(sim)
    assert notifier.calls() == []


def reset(device) -> int:
    """authenticatorReset: 0 on success, else the CTAP status."""
    try:
        Ctap2(device).reset()
        return 0
    except CtapError as error:
        return error.code


def test_persistent_vaults_enforce_the_reset_window(tmp_path, notifier):
    notifier.answer("allow")
    strict_vault = make_vault(tmp_path / "strict")
    danger_vault = make_vault(tmp_path / "danger")
    vault_dir = tmp_path / "control-vaults"
    vault_dir.mkdir()
    token_file = tmp_path / "token"
    control_port = free_tcp_port()
    sims = {
        "strict": Sim("--vault", str(strict_vault[0]), "--key-file", str(strict_vault[1])),
        "danger": Sim("--vault", str(danger_vault[0]), "--key-file", str(danger_vault[1]),
                      "--danger-reset-anytime"),
        "control": Sim("--control", f"127.0.0.1:{control_port}", "--control-token-file",
                       str(token_file), "--control-vault-dir", str(vault_dir)),
    }
    started = time.monotonic()
    try:
        api = Control(f"http://127.0.0.1:{control_port}", token_file.read_text().strip())
        _, vault_port = api.add(**{"softkey:vault": {"name": "kept"}})
        devices = {name: sim.device() for name, sim in sims.items()}
        devices["control-vault"] = softkey_udp.open_device(port=vault_port, timeout=10)
        time.sleep(max(0.0, RESET_WINDOW_S + 1 - (time.monotonic() - started)))
        statuses = {name: reset(device) for name, device in devices.items()}
        assert statuses == {
            "strict": CtapError.ERR.NOT_ALLOWED,  # a real vault: 10 s after power-up
            "danger": 0,  # --danger-reset-anytime written
            "control": 0,  # the in-memory default authenticator, as before
            "control-vault": CtapError.ERR.NOT_ALLOWED,
        }
        # Within the window after a power cycle, reset works (and asks).
        asked = len(notifier.calls())
        sims["strict"].power_cycle()
        devices["strict"].close()
        devices["strict"] = sims["strict"].device()
        assert reset(devices["strict"]) == 0
        assert len(notifier.calls()) == asked + 1
        for device in devices.values():
            device.close()
    finally:
        for sim in sims.values():
            sim.stop()
    assert any("DANGER" in line and "--danger-reset-anytime" in line
               for line in sim_log(sims["danger"]).splitlines())


def test_control_vault_authenticator_asks_the_simulator_presence_provider(tmp_path, notifier):
    vault_dir = tmp_path / "vaults"
    vault_dir.mkdir()
    token_file = tmp_path / "token"
    port = free_tcp_port()
    sim = Sim("--control", f"127.0.0.1:{port}", "--control-token-file", str(token_file),
              "--control-vault-dir", str(vault_dir))
    try:
        api = Control(f"http://127.0.0.1:{port}", token_file.read_text().strip())
        vault = {"softkey:vault": {"name": "asked"}}
        # A standing approval is the danger choice, not the API's to make.
        refused = api.call("POST", "", {"protocol": "ctap2_1", "transport": "usb",
                                        "isUserConsenting": True, **vault}, expect=400)
        assert "danger-auto-approve" in refused["value"]["message"]
        authenticator_id, vault_port = api.add(**vault)
        refused = api.call("POST", f"/{authenticator_id}/presence", {"then": "approve"}, expect=400)
        assert "danger-auto-approve" in refused["value"]["message"]
        device = softkey_udp.open_device(port=vault_port, timeout=10)
        try:
            with pytest.raises(CtapError) as denied:
                make_credential(device)
            assert denied.value.code == CtapError.ERR.OPERATION_DENIED
            assert len(notifier.calls()) == 1
            # The token holder answering one prompt is a person answering it.
            api.call("POST", f"/{authenticator_id}/presence", {"script": [{"action": "approve"}]})
            make_credential(device)
            assert len(notifier.calls()) == 1
        finally:
            device.close()
    finally:
        sim.stop()


HOSTILE_NAME = "\x1b[2J\x1b]0;pwned\x07ad\u202emin\u2066 <b>bold</b> & <a href='x'>y</a>\r\nnext" + "z" * 300


def test_hostile_user_name_reaches_notification_sanitised(notifier):
    notifier.answer("allow")
    sim = Sim("--presence", "notification")
    make_credential_then_stop(sim, HOSTILE_NAME)
    [call] = notifier.calls()
    body = call[-1]
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", body), repr(body)
    assert "<" not in body and ">" not in body, body
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&#39;x&#39;&gt;" in body, body
    assert len(body) < 200, len(body)


def test_control_token_file_is_not_written_through_planted_symlink(tmp_path, monkeypatch):
    """Without XDG_RUNTIME_DIR the token went to $TMPDIR/softkey-control-PORT.token:
    another local user could plant a link there. Now it is made new in a
    private directory of ours."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    port = free_tcp_port()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (temp / f"softkey-control-{port}.token").symlink_to(victim)
    sim = Sim("--control", f"127.0.0.1:{port}")
    try:
        match = re.search(r"^SOFTKEY_CONTROL_TOKEN_FILE=(.*)$", sim_log(sim), re.M)
        assert match, sim_log(sim)
        token_file = Path(match.group(1))
        assert victim.read_text() == "precious\n", "the planted link was followed"
        file_stat = token_file.lstat()
        assert stat.S_ISREG(file_stat.st_mode)
        assert file_stat.st_mode & 0o777 == 0o600
        directory = token_file.parent.lstat()
        assert stat.S_ISDIR(directory.st_mode), "the token's directory is a real directory"
        assert directory.st_mode & 0o777 == 0o700
        assert directory.st_uid == os.getuid()
        assert token_file.parent.parent == temp
    finally:
        sim.stop()


def test_control_token_directory_planted_as_symlink_is_refused(tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    (temp / f"softkey-{os.getuid()}").symlink_to(elsewhere)
    port = free_tcp_port()
    with pytest.raises(RuntimeError, match="not a directory of its own|symbolic link|symlink"):
        Sim("--control", f"127.0.0.1:{port}")
    assert list(elsewhere.iterdir()) == []
