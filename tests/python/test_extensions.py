"""Extensions against `softkey sim`, driven by python-fido2's own client code
(an independent implementation of the platform side): credProtect, PRF /
hmac-secret over both PIN/UV auth protocols, credBlob, largeBlobKey and
authenticatorLargeBlobs."""

from __future__ import annotations

import os

import pytest

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.extensions import HmacSecretExtension
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.utils import sha256, websafe_encode

from conftest import AutoInteraction, CanonicalCheckingDevice, Sim

RP = {"id": "example.com", "name": "Example RP"}
PIN = "4321"


@pytest.fixture
def fresh():
    """A factory-fresh simulator per test."""
    sim = Sim()
    device = CanonicalCheckingDevice(sim.device())
    try:
        yield device
    finally:
        device.close()
        sim.stop()


def client_for(device, **kwargs):
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector("https://example.com"),
        user_interaction=AutoInteraction(),
        **kwargs,
    )


def test_get_info_lists_the_extensions(fresh):
    from fido2.ctap2 import Ctap2

    info = Ctap2(fresh).info
    for name in ("credProtect", "credBlob", "hmac-secret", "hmac-secret-mc", "largeBlobKey"):
        assert name in info.extensions
    assert info.max_cred_blob_length >= 32
    assert info.max_large_blob >= 65536
    assert info.options["largeBlobs"] is True


@pytest.mark.parametrize("protocol", [PinProtocolV1, PinProtocolV2], ids=["v1", "v2"])
def test_cred_protect_required_needs_uv(fresh, protocol):
    from fido2.ctap2 import Ctap2

    ctap2 = Ctap2(fresh)
    client_pin = ClientPin(ctap2, protocol())
    client_pin.set_pin(PIN)
    token = client_pin.get_pin_token(
        PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION, RP["id"]
    )
    cdh = os.urandom(32)
    response = ctap2.make_credential(
        cdh,
        RP,
        {"id": b"user", "name": "alice"},
        [{"type": "public-key", "alg": -7}],
        extensions={"credProtect": 3},
        options={"rk": True},
        pin_uv_param=client_pin.protocol.authenticate(token, cdh),
        pin_uv_protocol=client_pin.protocol.VERSION,
    )
    assert response.auth_data.extensions == {"credProtect": 3}
    credential_id = response.auth_data.credential_data.credential_id
    allow = [{"type": "public-key", "id": credential_id}]
    for allow_list in (None, allow):
        with pytest.raises(CtapError) as error:
            ctap2.get_assertion(RP["id"], os.urandom(32), allow_list)
        assert error.value.code == CtapError.ERR.NO_CREDENTIALS
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    cdh = os.urandom(32)
    assertion = ctap2.get_assertion(
        RP["id"],
        cdh,
        allow,
        pin_uv_param=client_pin.protocol.authenticate(token, cdh),
        pin_uv_protocol=client_pin.protocol.VERSION,
    )
    assert assertion.credential["id"] == credential_id


def test_prf_outputs_are_stable_per_salt(fresh):
    server = Fido2Server(RP)
    client = client_for(fresh)
    options, state = server.register_begin(
        {"id": b"user", "name": "alice"}, user_verification="discouraged"
    )
    result = client.make_credential({**options["publicKey"], "extensions": {"prf": {}}})
    assert result.client_extension_results["prf"]["enabled"] is True
    credential = server.register_complete(state, result).credential_data

    def evaluate(first, second=None):
        request, _ = server.authenticate_begin([credential], user_verification="discouraged")
        salts = {"first": websafe_encode(first)}
        if second is not None:
            salts["second"] = websafe_encode(second)
        response = client.get_assertion(
            {**request["publicKey"], "extensions": {"prf": {"eval": salts}}}
        ).get_response(0)
        return response.client_extension_results.prf.results

    a = evaluate(b"salt one")
    b = evaluate(b"salt one", b"salt two")
    assert a.first == b.first
    assert b.second is not None and b.second != b.first


def test_hmac_secret_mc_matches_get_assertion(fresh):
    server = Fido2Server(RP)
    client = client_for(fresh, extensions=[HmacSecretExtension(allow_hmac_secret=True)])
    options, state = server.register_begin(
        {"id": b"user", "name": "alice"}, user_verification="discouraged"
    )
    salt = websafe_encode(b"at creation")
    result = client.make_credential(
        {**options["publicKey"], "extensions": {"prf": {"eval": {"first": salt}}}}
    )
    at_creation = result.client_extension_results.prf.results.first
    credential = server.register_complete(state, result).credential_data
    request, _ = server.authenticate_begin([credential], user_verification="discouraged")
    response = client.get_assertion(
        {**request["publicKey"], "extensions": {"prf": {"eval": {"first": salt}}}}
    ).get_response(0)
    assert response.client_extension_results.prf.results.first == at_creation


def test_cred_blob_round_trip(fresh):
    server = Fido2Server(RP)
    client = client_for(fresh)
    options, state = server.register_begin(
        {"id": b"user", "name": "alice"},
        resident_key_requirement="required",
        user_verification="discouraged",
    )
    blob = os.urandom(32)
    result = client.make_credential({**options["publicKey"], "extensions": {"credBlob": blob}})
    credential = server.register_complete(state, result)
    assert credential.extensions["credBlob"] is True
    request, _ = server.authenticate_begin(
        [credential.credential_data], user_verification="discouraged"
    )
    response = client.get_assertion(
        {**request["publicKey"], "extensions": {"getCredBlob": True}}
    ).get_response(0)
    assert response.response.authenticator_data.extensions["credBlob"] == blob


def test_large_blobs_without_a_pin(fresh):
    from fido2.ctap2 import Ctap2

    ctap2 = Ctap2(fresh)
    # The initial array: 0x80 and LEFT(SHA-256(0x80), 16).
    assert ctap2.large_blobs(0, get=64)[1] == b"\x80" + sha256(b"\x80")[:16]
    blobs = LargeBlobs(ctap2)
    assert blobs.read_blob_array() == []
    key = os.urandom(32)
    blobs.put_blob(key, b"hello large blob" * 1000)
    assert blobs.get_blob(key) == b"hello large blob" * 1000
    blobs.delete_blob(key)
    assert blobs.read_blob_array() == []


def test_hmac_secret_without_pin_at_enroll_differs_from_pin_unlock():
    """What the VM's disk-unlock steps rest on (tests/vm/README.md): systemd
    252 (Debian bookworm) enrolls a PIN-locked LUKS2 volume by trying
    makeCredential without the PIN, and takes its secret from an assertion
    without the PIN when that worked; unlocking sends the PIN. hmac-secret
    keeps two CredRandoms (CTAP 2.1 §12.5), so the two secrets differ on a
    key with makeCredUvNotRqd, and with alwaysUv the first makeCredential is
    refused, so the PIN is used at both ends and the secrets agree."""
    from fido2.ctap2 import Ctap2, Config

    sim = Sim("--verify", "danger-always-verified")
    try:
        ctap2 = Ctap2(sim.device())
        protocol = PinProtocolV2()
        ClientPin(ctap2, protocol).set_pin(PIN)
        rp_id = "io.systemd.cryptsetup"
        cdh = bytes(32)
        salt = os.urandom(32)

        def token(permission):
            return ClientPin(ctap2, protocol).get_pin_token(PIN, permission, rp_id)

        def make(with_pin):
            auth = {}
            if with_pin:
                t = token(ClientPin.PERMISSION.MAKE_CREDENTIAL)
                auth = {"pin_uv_param": protocol.authenticate(t, cdh), "pin_uv_protocol": 2}
            attestation = ctap2.make_credential(
                cdh, {"id": rp_id}, {"id": os.urandom(16), "name": "luks"},
                [{"type": "public-key", "alg": -7}], extensions={"hmac-secret": True},
                options={"rk": False, "uv": False}, **auth,
            )
            return attestation.auth_data.credential_data.credential_id

        def secret(credential_id, with_pin):
            key_agreement, shared = ClientPin(ctap2, protocol)._get_shared_secret()
            salt_enc = protocol.encrypt(shared, salt)
            extension = {1: key_agreement, 2: salt_enc, 3: protocol.authenticate(shared, salt_enc), 4: 2}
            auth = {}
            if with_pin:
                t = token(ClientPin.PERMISSION.GET_ASSERTION)
                auth = {"pin_uv_param": protocol.authenticate(t, cdh), "pin_uv_protocol": 2}
            assertion = ctap2.get_assertion(
                rp_id, cdh, [{"type": "public-key", "id": credential_id}],
                extensions={"hmac-secret": extension}, options={"up": True, "uv": False}, **auth,
            )
            uv = bool(assertion.auth_data.flags & assertion.auth_data.FLAG.UV)
            return uv, protocol.decrypt(shared, assertion.auth_data.extensions["hmac-secret"])

        # systemd 252 on a key with makeCredUvNotRqd: no PIN at enrollment.
        enrolled = make(with_pin=False)
        uv_enroll, at_enroll = secret(enrolled, with_pin=False)
        uv_unlock, at_unlock = secret(enrolled, with_pin=True)
        assert (uv_enroll, uv_unlock) == (False, True)
        assert at_enroll != at_unlock

        # With alwaysUv the PIN-less makeCredential is refused ...
        Config(ctap2, protocol, token(ClientPin.PERMISSION.AUTHENTICATOR_CFG)).toggle_always_uv()
        with pytest.raises(CtapError) as error:
            make(with_pin=False)
        assert error.value.code == CtapError.ERR.PUAT_REQUIRED
        # ... so systemd enrolls with the PIN, and unlocking with it matches.
        enrolled = make(with_pin=True)
        assert secret(enrolled, with_pin=True) == secret(enrolled, with_pin=True)
        assert secret(enrolled, with_pin=True)[0] is True
    finally:
        sim.stop()
