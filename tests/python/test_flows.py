"""python-fido2 (an independent CTAP client) drives `softkey sim` over UDP:
registration and sign-in verified by python-fido2's own WebAuthn server."""

from __future__ import annotations

import os

import pytest

from fido2.client import ClientError
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server, to_descriptor
from fido2.utils import sha256
from fido2.webauthn import Aaguid

RP = {"id": "example.com", "name": "Example RP"}
SOFTKEY_AAGUID = Aaguid.parse("6fe254e0-9452-4e0f-aab0-6472b68f1804")
ES256 = {"type": "public-key", "alg": -7}
# The key supports clientPIN but has no PIN set: python-fido2 refuses "preferred"
# user verification on such a key (CONFIGURATION_UNSUPPORTED), as it should, so
# these PIN-less flows ask for none.
NO_UV = "discouraged"
EDDSA = {"type": "public-key", "alg": -8}


def register(client, user, algorithm=None, resident=None, exclude=None):
    server = Fido2Server(RP)
    options, state = server.register_begin(
        user, exclude or [], resident_key_requirement=resident, user_verification=NO_UV
    )
    public_key = dict(options.public_key)
    if algorithm:
        public_key["pubKeyCredParams"] = [algorithm]
    result = client.make_credential(public_key)
    auth_data = server.register_complete(state, result)
    return auth_data.credential_data, auth_data


def sign_in(client, credentials, allow=True):
    server = Fido2Server(RP)
    options, state = server.authenticate_begin(
        credentials if allow else None, user_verification=NO_UV
    )
    selection = client.get_assertion(options.public_key)
    count = len(selection.get_assertions())
    responses = [selection.get_response(i) for i in range(count)]
    for response in responses:
        server.authenticate_complete(state, credentials, response)
    return responses


def test_get_info_advertises_what_is_built(ctap2):
    info = ctap2.get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]
    assert info.aaguid == SOFTKEY_AAGUID
    assert info.options == {
        "rk": True,
        "up": True,
        "plat": False,
        "clientPin": False,
        "pinUvAuthToken": True,
        "credMgmt": True,
        "authnrCfg": True,
        "setMinPINLength": True,
        "alwaysUv": False,
        "makeCredUvNotRqd": True,
        "largeBlobs": True,
        "perCredMgmtRO": True,
    }
    assert info.extensions == [
        "credProtect",
        "credBlob",
        "hmac-secret",
        "hmac-secret-mc",
        "largeBlobKey",
        "minPinLength",
        "pinComplexityPolicy",
        "thirdPartyPayment",
    ]
    assert info.pin_uv_protocols == [2, 1]
    assert {"alg": -7, "type": "public-key"} in info.algorithms
    assert {"alg": -8, "type": "public-key"} in info.algorithms
    assert info.max_msg_size == 7609
    assert info.transports == ["usb"]


@pytest.mark.parametrize("algorithm", [ES256, EDDSA], ids=["ES256", "EdDSA"])
def test_register_and_sign_in_non_discoverable(client, algorithm):
    user = {"id": os.urandom(16), "name": "alice"}
    credential, auth_data = register(client, user, algorithm)
    assert credential.public_key[3] == algorithm["alg"]
    assert credential.aaguid == SOFTKEY_AAGUID
    assert auth_data.is_user_present() and not auth_data.is_user_verified()
    first = sign_in(client, [credential])[0]
    second = sign_in(client, [credential])[0]
    assert second.response.authenticator_data.counter > first.response.authenticator_data.counter


@pytest.mark.parametrize("algorithm", [ES256, EDDSA], ids=["ES256", "EdDSA"])
def test_register_and_sign_in_discoverable(client, ctap2, algorithm):
    rp_id = f"disc-{algorithm['alg']}.example.com"
    user = {"id": os.urandom(16), "name": "bob", "displayName": "Bob"}
    server = Fido2Server({"id": rp_id, "name": "Disc"})
    options, state = server.register_begin(
        user, resident_key_requirement="required", user_verification=NO_UV
    )
    public_key = dict(options.public_key)
    public_key["pubKeyCredParams"] = [algorithm]
    from fido2.client import DefaultClientDataCollector, Fido2Client

    from conftest import AutoInteraction

    rp_client = Fido2Client(
        client._device if hasattr(client, "_device") else ctap2.device,
        client_data_collector=DefaultClientDataCollector(f"https://{rp_id}"),
        user_interaction=AutoInteraction(),
    )
    result = rp_client.make_credential(public_key)
    credential = server.register_complete(state, result).credential_data
    options, state = server.authenticate_begin(user_verification=NO_UV)  # no allowList
    selection = rp_client.get_assertion(options.public_key)
    responses = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    assert len(responses) == 1
    server.authenticate_complete(state, [credential], responses[0])
    assert responses[0].response.user_handle == user["id"]


def test_exclude_list_single_and_among_others(client):
    user = {"id": b"exclude-user", "name": "carol"}
    credential, _ = register(client, user)
    with pytest.raises(ClientError, match="CREDENTIAL_EXCLUDED"):
        register(client, user, exclude=[credential])
    others = [{"id": os.urandom(32), "type": "public-key"} for _ in range(4)]
    others.insert(2, to_descriptor(credential))
    with pytest.raises(ClientError, match="CREDENTIAL_EXCLUDED"):
        register(client, user, exclude=others)
    # Unknown IDs do not exclude.
    register(client, user, exclude=[{"id": os.urandom(64), "type": "public-key"}])


def test_allow_list(client):
    credential, _ = register(client, {"id": b"allow-user", "name": "dave"})
    allow = [{"id": os.urandom(32), "type": "public-key"} for _ in range(5)]
    allow.insert(3, to_descriptor(credential))
    server = Fido2Server(RP)
    options, state = server.authenticate_begin(allow, user_verification=NO_UV)
    response = client.get_assertion(options.public_key).get_response(0)
    server.authenticate_complete(state, [credential], response)
    # Only foreign IDs: the authenticator has no credential to offer.
    options, _ = server.authenticate_begin(
        [{"id": os.urandom(32), "type": "public-key"}], user_verification=NO_UV
    )
    with pytest.raises(ClientError, match="DEVICE_INELIGIBLE"):
        client.get_assertion(options.public_key)


def test_get_next_assertion_over_three_credentials(ctap2, sim):
    rp = {"id": "three.example", "name": "Three"}
    users = [{"id": bytes([i]) * 8, "name": f"user{i}"} for i in range(3)]
    credentials = []
    for user in users:
        attestation = ctap2.make_credential(
            os.urandom(32), rp, user, [ES256], options={"rk": True}
        )
        credentials.append(attestation.auth_data.credential_data)
    client_data_hash = os.urandom(32)
    first = ctap2.get_assertion(rp["id"], client_data_hash)
    assert first.number_of_credentials == 3
    assertions = [first, ctap2.get_next_assertion(), ctap2.get_next_assertion()]
    with pytest.raises(CtapError) as error:
        ctap2.get_next_assertion()
    assert error.value.code == CtapError.ERR.NOT_ALLOWED
    # Newest first, each signed by its own key.
    by_id = {c.credential_id: c for c in credentials}
    returned = [a.credential["id"] for a in assertions]
    assert returned == [c.credential_id for c in reversed(credentials)]
    for assertion in assertions:
        assertion.verify(client_data_hash, by_id[assertion.credential["id"]].public_key)
        assert assertion.user["id"] in [u["id"] for u in users]
        assert "name" not in assertion.user  # identifying fields only with UV
    # A power cycle forgets the getNextAssertion state. Over UDP it keeps the
    # channel (nothing re-enumerates): the client goes on using it.
    ctap2.get_assertion(rp["id"], client_data_hash)
    sim.power_cycle()
    with pytest.raises(CtapError) as error:
        ctap2.get_next_assertion()
    assert error.value.code == CtapError.ERR.NOT_ALLOWED
    assert ctap2.get_info().aaguid == ctap2.info.aaguid
    fresh = Ctap2(sim.device())
    with pytest.raises(CtapError) as error:
        fresh.get_next_assertion()
    assert error.value.code == CtapError.ERR.NOT_ALLOWED


def test_ctap2_error_codes(ctap2):
    with pytest.raises(CtapError) as error:
        ctap2.make_credential(
            # Ed448: not among the algorithms softkey implements.
            os.urandom(32), RP, {"id": b"x", "name": "x"}, [{"type": "public-key", "alg": -53}]
        )
    assert error.value.code == CtapError.ERR.UNSUPPORTED_ALGORITHM
    with pytest.raises(CtapError) as error:
        ctap2.get_assertion("nothing.example", os.urandom(32))
    assert error.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError) as error:
        ctap2.send_cbor(0x01, {1: os.urandom(32)})
    assert error.value.code == CtapError.ERR.MISSING_PARAMETER
    with pytest.raises(CtapError) as error:
        ctap2.send_cbor(0x01, {1: "not bytes", 2: RP, 3: {"id": b"x"}, 4: [ES256]})
    assert error.value.code == CtapError.ERR.CBOR_UNEXPECTED_TYPE
    with pytest.raises(CtapError) as error:
        ctap2.send_cbor(0x55)
    assert error.value.code == CtapError.ERR.INVALID_COMMAND
    with pytest.raises(CtapError) as error:
        ctap2.make_credential(os.urandom(32), RP, {"id": b"x"}, [ES256], options={"up": False})
    assert error.value.code == CtapError.ERR.INVALID_OPTION


def test_malformed_cbor_is_invalid_cbor(device):
    from fido2.hid import CTAPHID

    # makeCredential whose map announces one pair but ends early.
    response = device.call(CTAPHID.CBOR, bytes([0x01, 0xA1, 0x01]))
    assert response == bytes([CtapError.ERR.INVALID_CBOR])
    # A well-formed map followed by a stray byte.
    response = device.call(CTAPHID.CBOR, bytes([0x02, 0xA0, 0x00]))
    assert response == bytes([CtapError.ERR.INVALID_CBOR])


def test_hid_ping_wink_and_large_messages(device):
    assert device.ping(b"hello") == b"hello"
    big = os.urandom(7609)
    assert device.ping(big) == big
    device.wink()


def test_reset_erases_every_credential(sim):
    # A fresh simulator of its own so that other tests keep their credentials.
    from conftest import Sim

    own = Sim()
    try:
        ctap2 = Ctap2(own.device())
        rp = {"id": "reset.example", "name": "Reset"}
        made = ctap2.make_credential(os.urandom(32), rp, {"id": b"r"}, [ES256], options={"rk": True})
        non_disc = ctap2.make_credential(os.urandom(32), rp, {"id": b"n"}, [ES256])
        ctap2.reset()
        with pytest.raises(CtapError) as error:
            ctap2.get_assertion(rp["id"], os.urandom(32))
        assert error.value.code == CtapError.ERR.NO_CREDENTIALS
        allow = [{"id": non_disc.auth_data.credential_data.credential_id, "type": "public-key"}]
        with pytest.raises(CtapError) as error:
            ctap2.get_assertion(rp["id"], os.urandom(32), allow)
        assert error.value.code == CtapError.ERR.NO_CREDENTIALS
        assert made.auth_data.credential_data is not None
    finally:
        own.stop()


def test_every_response_was_canonical(device, ctap2):
    ctap2.get_info()
    ctap2.make_credential(sha256(b"x"), RP, {"id": b"c"}, [ES256])
    assert device.responses_checked >= 2
