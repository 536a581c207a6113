"""Differential test of the relying party: registrations and assertions that
softkey made (python-fido2's Fido2Client against `softkey sim`, origin
http://localhost:PORT) go to our RP (`softkey rp`, over its JSON API) and to an
independent one, py_webauthn. Both must accept the genuine responses and both
must reject each tampered copy."""

from __future__ import annotations

import base64
import copy
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import webauthn
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from fido2 import cbor
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap2 import ClientPin, Ctap2
from fido2.webauthn import (
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
)

from conftest import AutoInteraction, Sim, softkey_binary


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RelyingParty:
    """A running `softkey rp`."""

    def __init__(self):
        self.port = free_tcp_port()
        self.origin = f"http://localhost:{self.port}"
        self.proc = subprocess.Popen(
            [softkey_binary(), "rp", "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("softkey rp did not start")

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


PIN = "diff-pin-1234"


class PinInteraction(AutoInteraction):
    def request_pin(self, permissions, rp_id):
        return PIN


@pytest.fixture(scope="module")
def stack():
    sim = Sim()
    rp = RelyingParty()
    # The RP prefers user verification: like a browser, python-fido2 then
    # wants a PIN on a key that supports one.
    ClientPin(Ctap2(sim.device())).set_pin(PIN)
    client = Fido2Client(
        sim.device(),
        client_data_collector=DefaultClientDataCollector(rp.origin),
        user_interaction=PinInteraction(),
    )
    yield rp, client
    rp.stop()
    sim.stop()


def register(rp, client, username):
    status, options = rp.post("/api/register/options", {"username": username})
    assert status == 200, options
    creation = PublicKeyCredentialCreationOptions.from_dict(options)
    response = dict(client.make_credential(creation))
    return options, json.loads(json.dumps(response, default=str))


def py_webauthn_registration(options, response, origin):
    try:
        verified = webauthn.verify_registration_response(
            credential=json.dumps(response),
            expected_challenge=b64d(options["challenge"]),
            expected_origin=origin,
            expected_rp_id="localhost",
            # Every algorithm py_webauthn verifies (its default is ES256, EdDSA, RS256).
            supported_pub_key_algs=list(COSEAlgorithmIdentifier),
        )
        return True, verified
    except Exception as error:  # py_webauthn raises its own exception types
        return False, error


# Each tamper takes a registration response (JSON form) and breaks one thing.
def tamper_signature(response):
    att = cbor.decode(b64d(response["response"]["attestationObject"]))
    sig = bytearray(att["attStmt"]["sig"])
    sig[-1] ^= 0x01
    att["attStmt"]["sig"] = bytes(sig)
    response["response"]["attestationObject"] = b64e(cbor.encode(att))


def tamper_rp_id_hash(response):
    att = cbor.decode(b64d(response["response"]["attestationObject"]))
    auth_data = bytearray(att["authData"])
    auth_data[0] ^= 0x01
    att["authData"] = bytes(auth_data)
    response["response"]["attestationObject"] = b64e(cbor.encode(att))


def tamper_origin(response):
    client_data = json.loads(b64d(response["response"]["clientDataJSON"]))
    client_data["origin"] = "http://evil.example"
    response["response"]["clientDataJSON"] = b64e(json.dumps(client_data).encode())


def tamper_user_present(response):
    att = cbor.decode(b64d(response["response"]["attestationObject"]))
    auth_data = bytearray(att["authData"])
    auth_data[32] &= ~0x01
    att["authData"] = bytes(auth_data)
    response["response"]["attestationObject"] = b64e(cbor.encode(att))


def tamper_type(response):
    client_data = json.loads(b64d(response["response"]["clientDataJSON"]))
    client_data["type"] = "webauthn.get"
    response["response"]["clientDataJSON"] = b64e(json.dumps(client_data).encode())


TAMPERS = [tamper_signature, tamper_rp_id_hash, tamper_origin, tamper_user_present, tamper_type]


def test_genuine_registration_and_sign_in_verify_in_both(stack):
    rp, client = stack
    options, response = register(rp, client, "diff-alice")
    ok, verified = py_webauthn_registration(options, response, rp.origin)
    assert ok, verified
    status, body = rp.post("/api/register/verify", response)
    assert status == 200, body

    status, request = rp.post("/api/login/options", {"username": "diff-alice"})
    assert status == 200, request
    assertion = dict(
        client.get_assertion(PublicKeyCredentialRequestOptions.from_dict(request)).get_response(0)
    )
    assertion = json.loads(json.dumps(assertion, default=str))
    # py_webauthn verifies with the public key it extracted at registration.
    auth = webauthn.verify_authentication_response(
        credential=json.dumps(assertion),
        expected_challenge=b64d(request["challenge"]),
        expected_rp_id="localhost",
        expected_origin=rp.origin,
        credential_public_key=verified.credential_public_key,
        credential_current_sign_count=verified.sign_count,
    )
    assert auth.new_sign_count > verified.sign_count
    status, body = rp.post("/api/login/verify", assertion)
    assert status == 200, body

    # A tampered assertion signature: both refuse.
    status, request = rp.post("/api/login/options", {"username": "diff-alice"})
    assertion = json.loads(json.dumps(dict(
        client.get_assertion(PublicKeyCredentialRequestOptions.from_dict(request)).get_response(0)
    ), default=str))
    signature = bytearray(b64d(assertion["response"]["signature"]))
    signature[-1] ^= 0x01
    assertion["response"]["signature"] = b64e(bytes(signature))
    with pytest.raises(Exception):
        webauthn.verify_authentication_response(
            credential=json.dumps(assertion),
            expected_challenge=b64d(request["challenge"]),
            expected_rp_id="localhost",
            expected_origin=rp.origin,
            credential_public_key=verified.credential_public_key,
            credential_current_sign_count=auth.new_sign_count,
        )
    status, body = rp.post("/api/login/verify", assertion)
    assert status >= 400 and body.get("error"), body


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.__name__ for t in TAMPERS])
def test_tampered_registrations_are_refused_by_both(stack, tamper):
    rp, client = stack
    options, response = register(rp, client, f"diff-{tamper.__name__}")
    genuine_ok, _ = py_webauthn_registration(options, copy.deepcopy(response), rp.origin)
    assert genuine_ok, "the untouched response verifies in py_webauthn"
    tamper(response)
    py_ok, py_error = py_webauthn_registration(options, response, rp.origin)
    status, body = rp.post("/api/register/verify", response)
    ours_ok = status == 200
    assert (ours_ok, py_ok) == (False, False), (body, py_error)
    assert body.get("error"), body


def credential_algorithm(response) -> int:
    """The COSE alg of the credential public key in a registration response."""
    att = cbor.decode(b64d(response["response"]["attestationObject"]))
    auth_data = att["authData"]
    id_len = int.from_bytes(auth_data[53:55], "big")
    key = cbor.decode_from(auth_data[55 + id_len :])[0]
    return key[3]


def sign_in(rp, client, username):
    status, request = rp.post("/api/login/options", {"username": username})
    assert status == 200, request
    assertion = dict(
        client.get_assertion(PublicKeyCredentialRequestOptions.from_dict(request)).get_response(0)
    )
    return request, json.loads(json.dumps(assertion, default=str))


def test_ml_dsa_65_sign_up_and_sign_in_through_softkey_rp(stack):
    """The demo page's "post-quantum first" sign-up: softkey makes an
    ML-DSA-65 passkey, softkey rp verifies its attestation and a sign-in."""
    rp, client = stack
    status, options = rp.post(
        "/api/register/options", {"username": "pq-alice", "preferPostQuantum": True}
    )
    assert status == 200, options
    assert [p["alg"] for p in options["pubKeyCredParams"]][:3] == [-49, -48, -50]
    creation = PublicKeyCredentialCreationOptions.from_dict(options)
    response = json.loads(json.dumps(dict(client.make_credential(creation)), default=str))
    assert credential_algorithm(response) == -49
    status, body = rp.post("/api/register/verify", response)
    assert status == 200, body
    assert body["username"] == "pq-alice"
    for _ in range(2):
        _, assertion = sign_in(rp, client, "pq-alice")
        assert len(b64d(assertion["response"]["signature"])) == 3309  # ML-DSA-65
        status, body = rp.post("/api/login/verify", assertion)
        assert status == 200, body
        assert body["username"] == "pq-alice"
    # A tampered ML-DSA signature is refused.
    _, assertion = sign_in(rp, client, "pq-alice")
    signature = bytearray(b64d(assertion["response"]["signature"]))
    signature[100] ^= 0x01
    assertion["response"]["signature"] = b64e(bytes(signature))
    status, body = rp.post("/api/login/verify", assertion)
    assert status >= 400 and body.get("error") == "bad_signature", body


# The algorithms py_webauthn 3.0.1 verifies besides ES256 (it has no ES384,
# ES256K or RFC 9864 identifiers).
PY_WEBAUTHN_ALGORITHMS = [-8, -36, -37, -257, -48, -49, -50]


@pytest.mark.parametrize("alg", PY_WEBAUTHN_ALGORITHMS)
def test_each_algorithm_verifies_in_both_and_tampering_in_neither(stack, alg):
    rp, client = stack
    username = f"diff-alg{alg}"
    status, options = rp.post("/api/register/options", {"username": username})
    assert status == 200, options
    options["pubKeyCredParams"] = [{"type": "public-key", "alg": alg}]
    creation = PublicKeyCredentialCreationOptions.from_dict(options)
    response = json.loads(json.dumps(dict(client.make_credential(creation)), default=str))
    assert credential_algorithm(response) == alg
    ok, verified = py_webauthn_registration(options, response, rp.origin)
    assert ok, verified
    status, body = rp.post("/api/register/verify", response)
    assert status == 200, body

    request, assertion = sign_in(rp, client, username)
    verify = lambda assertion, count: webauthn.verify_authentication_response(  # noqa: E731
        credential=json.dumps(assertion),
        expected_challenge=b64d(request["challenge"]),
        expected_rp_id="localhost",
        expected_origin=rp.origin,
        credential_public_key=verified.credential_public_key,
        credential_current_sign_count=count,
    )
    auth = verify(assertion, verified.sign_count)
    assert auth.new_sign_count > verified.sign_count
    status, body = rp.post("/api/login/verify", assertion)
    assert status == 200, body

    request, assertion = sign_in(rp, client, username)
    signature = bytearray(b64d(assertion["response"]["signature"]))
    signature[len(signature) // 2] ^= 0x01
    assertion["response"]["signature"] = b64e(bytes(signature))
    with pytest.raises(Exception):
        verify(assertion, auth.new_sign_count)
    status, body = rp.post("/api/login/verify", assertion)
    assert status >= 400 and body.get("error"), body
