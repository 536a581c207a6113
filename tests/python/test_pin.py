"""clientPIN, PIN-gated registration and sign-in, credential management and
authenticatorConfig, driven by python-fido2's own client classes (an
independent implementation of both PIN/UV auth protocols) against
`softkey sim`."""

from __future__ import annotations

import os

import pytest

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server

from conftest import Sim

PIN = "4321"
RP = {"id": "example.com", "name": "Example RP"}


class PinInteraction(UserInteraction):
    def __init__(self, pin):
        self.pin = pin

    def prompt_up(self):
        pass

    def request_pin(self, permissions, rp_id):
        return self.pin

    def request_uv(self, permissions, rp_id):
        return True


@pytest.fixture(params=[PinProtocolV1, PinProtocolV2], ids=["v1", "v2"])
def key(request):
    """A fresh simulator per test (PIN state is the point of these tests)."""
    sim = Sim()
    try:
        yield sim, request.param()
    finally:
        sim.stop()


def test_set_pin_lockout_and_power_cycle(key):
    sim, protocol = key
    ctap2 = Ctap2(sim.device())
    assert ctap2.info.options["clientPin"] is False
    assert ctap2.info.pin_uv_protocols == [2, 1]
    pin = ClientPin(ctap2, protocol)
    with pytest.raises(CtapError) as error:
        pin.get_pin_retries()
    assert error.value.code == CtapError.ERR.PIN_NOT_SET
    pin.set_pin(PIN)
    assert ctap2.get_info().options["clientPin"] is True
    assert pin.get_pin_retries()[0] == 8
    with pytest.raises(CtapError) as error:
        pin.set_pin("9999")
    assert error.value.code == CtapError.ERR.PIN_AUTH_INVALID
    expected = [CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_AUTH_BLOCKED]
    for code in expected:
        with pytest.raises(CtapError) as error:
            pin.get_pin_token("0000", ClientPin.PERMISSION.MAKE_CREDENTIAL)
        assert error.value.code == code
    with pytest.raises(CtapError) as error:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL)
    assert error.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
    assert pin.get_pin_retries()[0] == 5
    sim.power_cycle()
    pin = ClientPin(Ctap2(sim.device()), protocol)
    assert pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL)
    assert pin.get_pin_retries()[0] == 8
    pin.change_pin(PIN, "56789")
    with pytest.raises(CtapError) as error:
        pin.get_pin_token(PIN)
    assert error.value.code == CtapError.ERR.PIN_INVALID
    assert pin.get_pin_token("56789")


def test_register_and_sign_in_with_the_pin(key):
    sim, protocol = key
    device = sim.device()
    ClientPin(Ctap2(device), protocol).set_pin(PIN)
    ClientPin.PROTOCOLS, saved = [type(protocol)], ClientPin.PROTOCOLS
    try:
        client = Fido2Client(
            device,
            client_data_collector=DefaultClientDataCollector("https://example.com"),
            user_interaction=PinInteraction(PIN),
        )
        server = Fido2Server(RP)
        user = {"id": os.urandom(16), "name": "alice", "displayName": "Alice"}
        options, state = server.register_begin(
            user, resident_key_requirement="required", user_verification="required"
        )
        result = client.make_credential(options.public_key)
        auth_data = server.register_complete(state, result)
        assert auth_data.is_user_verified()
        options, state = server.authenticate_begin(user_verification="required")
        selection = client.get_assertion(options.public_key)
        response = selection.get_response(0)
        server.authenticate_complete(state, [auth_data.credential_data], response)
        assert response.response.authenticator_data.is_user_verified()
        # One account for the RP: the user handle alone, even with UV (CTAP
        # 2.1 §6.2.2), so the platform has no account to ask about.
        assert selection.get_assertions()[0].user == {"id": user["id"]}
        # A wrong PIN surfaces as PIN_INVALID.
        client = Fido2Client(
            device,
            client_data_collector=DefaultClientDataCollector("https://example.com"),
            user_interaction=PinInteraction("0000"),
        )
        options, _ = server.register_begin(user, user_verification="required")
        with pytest.raises(Exception, match="PIN_INVALID"):
            client.make_credential(options.public_key)
    finally:
        ClientPin.PROTOCOLS = saved


def test_credential_management_and_config(key):
    sim, protocol = key
    ctap2 = Ctap2(sim.device())
    pin = ClientPin(ctap2, protocol)
    pin.set_pin(PIN)
    # Three discoverable credentials, each with its own mc token.
    for i in range(3):
        token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
        client_data_hash = os.urandom(32)
        ctap2.make_credential(
            client_data_hash,
            RP,
            {"id": bytes([i]) * 8, "name": f"user{i}"},
            [{"type": "public-key", "alg": -7}],
            options={"rk": True},
            pin_uv_param=protocol.authenticate(token, client_data_hash),
            pin_uv_protocol=protocol.VERSION,
        )
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    credman = CredentialManagement(ctap2, protocol, token)
    assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 3
    rps = credman.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == [RP["id"]]
    creds = credman.enumerate_creds(rps[0][CredentialManagement.RESULT.RP_ID_HASH])
    assert sorted(c[CredentialManagement.RESULT.USER]["name"] for c in creds) == [
        "user0",
        "user1",
        "user2",
    ]
    credman.delete_cred(creds[0][CredentialManagement.RESULT.CREDENTIAL_ID])
    assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    # A token without cm is refused.
    weak = pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION)
    with pytest.raises(CtapError) as error:
        CredentialManagement(ctap2, protocol, weak).get_metadata()
    assert error.value.code == CtapError.ERR.PIN_AUTH_INVALID
    # authenticatorConfig: alwaysUv, then a longer minimum forces a change.
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    config = Config(ctap2, protocol, token)
    config.toggle_always_uv()
    info = ctap2.get_info()
    assert info.options["alwaysUv"] is True
    assert info.options["makeCredUvNotRqd"] is False
    with pytest.raises(CtapError) as error:
        ctap2.make_credential(os.urandom(32), RP, {"id": b"x"}, [{"type": "public-key", "alg": -7}])
    assert error.value.code == CtapError.ERR.PUAT_REQUIRED
    config.set_min_pin_length(min_pin_length=6)
    info = ctap2.get_info()
    assert info.min_pin_length == 6
    assert info.force_pin_change is True
    with pytest.raises(CtapError) as error:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL)
    assert error.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    pin.change_pin(PIN, "654321")
    assert ctap2.get_info().force_pin_change is False
