"""Built-in user verification (`softkey sim --verify …`) and `softkey client`,
driven from outside: python-fido2 takes UV-based pinUvAuthTokens, and the CLI
manages the key like fido2-token.

Both need the `--verify` and `client` wiring in the binary; until it is there
these tests skip and say why."""

from __future__ import annotations

import os
import subprocess

import pytest

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin
from fido2.server import Fido2Server

from conftest import Sim, softkey_binary


def binary_supports(*args: str) -> bool:
    result = subprocess.run(
        [softkey_binary(), *args, "--help"], capture_output=True, text=True, timeout=30
    )
    return result.returncode == 0


def sim_with(*args: str) -> Sim:
    if not binary_supports("sim") or "--verify" not in subprocess.run(
        [softkey_binary(), "sim", "--help"], capture_output=True, text=True, timeout=30
    ).stdout:
        pytest.skip("this softkey binary has no `sim --verify` yet")
    return Sim(*args)


class UvOnly(UserInteraction):
    def prompt_up(self):
        pass

    def request_pin(self, permissions, rp_id):
        raise AssertionError("asked for a PIN although built-in UV is offered")

    def request_uv(self, permissions, rp_id):
        return True


def test_uv_tokens_with_always_verified():
    sim = sim_with("--verify", "danger-always-verified")
    try:
        device = sim.device()
        ctap2 = Ctap2(device)
        assert ctap2.info.options["uv"] is True
        pin = ClientPin(ctap2)
        assert pin.get_uv_retries() == 8
        assert pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, "example.com")
        client = Fido2Client(
            device,
            client_data_collector=DefaultClientDataCollector("https://example.com"),
            user_interaction=UvOnly(),
        )
        server = Fido2Server({"id": "example.com", "name": "Example"})
        user = {"id": os.urandom(8), "name": "uv-user"}
        options, state = server.register_begin(
            user, resident_key_requirement="required", user_verification="required"
        )
        auth_data = server.register_complete(state, client.make_credential(options.public_key))
        assert auth_data.is_user_verified()
        options, state = server.authenticate_begin(user_verification="required")
        response = client.get_assertion(options.public_key).get_response(0)
        server.authenticate_complete(state, [auth_data.credential_data], response)
        assert response.response.authenticator_data.is_user_verified()
    finally:
        sim.stop()


def test_failed_verification_counts_down_uv_retries():
    sim = sim_with("--verify", "command", "--verify-command", "exit 1")
    try:
        pin = ClientPin(Ctap2(sim.device()))
        with pytest.raises(CtapError) as error:
            pin.get_uv_token(ClientPin.PERMISSION.MAKE_CREDENTIAL)
        assert error.value.code == CtapError.ERR.UV_INVALID
        assert pin.get_uv_retries() == 7
    finally:
        sim.stop()


def test_softkey_client_cli():
    if not binary_supports("client"):
        pytest.skip("this softkey binary has no `client` subcommand yet")
    sim = Sim()
    try:
        udp = f"127.0.0.1:{sim.port}"

        def client(*args: str, pin: str | None = None) -> subprocess.CompletedProcess:
            extra = ["--pin", pin] if pin else []
            return subprocess.run(
                [softkey_binary(), "client", "--udp", udp, *extra, *args],
                capture_output=True,
                text=True,
                timeout=60,
            )

        info = client("info")
        assert info.returncode == 0, info.stderr
        assert '"clientPin": false' in info.stdout
        assert client("pin", "set", pin="1234").returncode == 0
        retries = client("pin", "retries")
        assert retries.stdout.strip() == "8"
        wrong = client("creds", "list", pin="9999")
        assert wrong.returncode != 0 and "PIN_INVALID" in wrong.stderr
        assert client("creds", "list", pin="1234").returncode == 0
        assert client("config", "min-pin", "--length", "6", pin="1234").returncode == 0
        assert '13: 6' in client("info").stdout
        assert client("reset").returncode == 0
        assert "PIN_NOT_SET" in client("pin", "retries").stderr
    finally:
        sim.stop()
