"""The control API of `softkey sim --control` (WebDriver virtual-authenticator
paths and softkey's additions) driven together with python-fido2 over UDP:
authenticators, injected and registered credentials, presence, verification,
faults, profiles, events and errors. Helpers and fixtures: control_api.py."""

from __future__ import annotations

import json
import os
import threading
import time
from http.client import HTTPConnection

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.utils import sha256

import softkey_udp
from control_api import (  # noqa: F401  (control_sim, api, authenticator: fixtures)
    RP_ID,
    api,
    authenticator,
    b64url,
    control_sim,
    fido_client,
    http,
    inject,
    p256_key,
    sign_in_with,
    unb64url,
)

def test_default_authenticator_and_auth(control_sim):
    sim, api = control_sim
    assert api.call("GET", "/default/credentials") == {"value": []}
    assert http("GET", api.base + "/default/credentials")[0] == 401
    wrong = {"Authorization": "Bearer nope"}
    assert http("GET", api.base + "/default/credentials", headers=wrong)[0] == 401
    spec = json.loads(http("GET", api.url + "/openapi.json")[2])
    assert spec["openapi"].startswith("3.")
    # The default authenticator still serves on --udp.
    Ctap2(sim.device()).get_info()


@pytest.mark.parametrize("resident", [False, True], ids=["non-resident", "resident"])
def test_injected_credential_signs_in_and_counts(api, authenticator, resident):
    authenticator_id, device = authenticator
    key, der = p256_key()
    credential_id = os.urandom(16)
    user_handle = os.urandom(8)
    api.call(
        "POST",
        f"/{authenticator_id}/credential",
        {
            "credentialId": b64url(credential_id),
            "isResidentCredential": resident,
            "rpId": RP_ID,
            "privateKey": b64url(der),
            "userHandle": b64url(user_handle),
            "signCount": 41,
        },
    )
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert len(listed) == 1 and listed[0]["credentialId"] == b64url(credential_id)
    assert listed[0]["isResidentCredential"] is resident
    assert listed[0]["rpId"] == RP_ID
    assert listed[0]["signCount"] == 41

    response = sign_in_with(device, None if resident else credential_id)
    assert response.raw_id == credential_id
    auth_data = response.response.authenticator_data
    client_data = response.response.client_data
    key.public_key().verify(
        response.response.signature,
        bytes(auth_data) + client_data.hash,
        ec.ECDSA(hashes.SHA256()),
    )
    if resident:
        assert response.response.user_handle == user_handle
    # Each injected credential counts from its own signCount (python-fido2
    # first probes an allowList with a silent up=false assertion, which
    # counts too).
    assert auth_data.counter == (42 if resident else 43)
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert listed[0]["signCount"] == auth_data.counter
    # The exported key is the injected one.
    exported = serialization.load_der_private_key(unb64url(listed[0]["privateKey"]), None)
    assert exported.private_numbers() == key.private_numbers()

    api.call("DELETE", f"/{authenticator_id}/credentials/{b64url(credential_id)}")
    assert api.call("GET", f"/{authenticator_id}/credentials")["value"] == []
    with pytest.raises(CtapError) as error:
        Ctap2(device).get_assertion(
            RP_ID, sha256(b"x"), [{"type": "public-key", "id": credential_id}]
        )
    assert error.value.code == CtapError.ERR.NO_CREDENTIALS


def test_eddsa_credential_and_remove_all(api, authenticator):
    authenticator_id, device = authenticator
    key = ed25519.Ed25519PrivateKey.generate()
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credential_id = os.urandom(20)
    api.call(
        "POST",
        f"/{authenticator_id}/credential",
        {
            "credentialId": b64url(credential_id),
            "isResidentCredential": True,
            "rpId": RP_ID,
            "privateKey": b64url(der),
            "userHandle": b64url(b"eddsa-user"),
            "signCount": 0,
        },
    )
    response = sign_in_with(device, credential_id)
    key.public_key().verify(
        response.response.signature,
        bytes(response.response.authenticator_data) + response.response.client_data.hash,
    )
    api.call("DELETE", f"/{authenticator_id}/credentials")
    assert api.call("GET", f"/{authenticator_id}/credentials")["value"] == []


def test_registered_credentials_are_listed(api, authenticator):
    authenticator_id, device = authenticator
    server = Fido2Server({"id": RP_ID, "name": "Example"})
    options, state = server.register_begin(
        {"id": b"listed", "name": "dora"},
        resident_key_requirement="required",
        user_verification="discouraged",
    )
    result = fido_client(device).make_credential(options.public_key)
    credential = server.register_complete(state, result).credential_data
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert [c["credentialId"] for c in listed] == [b64url(credential.credential_id)]
    assert listed[0]["userHandle"] == b64url(b"listed")
    assert listed[0]["userName"] == "dora"

    # userName and userDisplayName of an injected passkey are kept with it.
    _, der = p256_key()
    inject(api, authenticator_id, b"named", der, isResidentCredential=True,
           userHandle=b64url(b"named-user"), userName="nina", userDisplayName="Nina N.")
    listed = {c["credentialId"]: c for c in api.call("GET", f"/{authenticator_id}/credentials")["value"]}
    assert (listed[b64url(b"named")]["userName"], listed[b64url(b"named")]["userDisplayName"]) == ("nina", "Nina N.")


def test_non_resident_registration_is_listed_counted_and_removable(api, authenticator):
    authenticator_id, device = authenticator
    server = Fido2Server({"id": RP_ID, "name": "Example"})
    options, state = server.register_begin(
        {"id": b"nr-user", "name": "erin"}, user_verification="discouraged"
    )
    result = fido_client(device).make_credential(options.public_key)
    credential = server.register_complete(state, result).credential_data
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert [c["credentialId"] for c in listed] == [b64url(credential.credential_id)]
    assert listed[0]["isResidentCredential"] is False
    response = sign_in_with(device, credential.credential_id)
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert listed[0]["signCount"] == response.response.authenticator_data.counter > 0
    api.call("DELETE", f"/{authenticator_id}/credentials/{b64url(credential.credential_id)}")
    assert api.call("GET", f"/{authenticator_id}/credentials")["value"] == []
    with pytest.raises(CtapError) as error:
        Ctap2(device).get_assertion(
            RP_ID, sha256(b"x"), [{"type": "public-key", "id": credential.credential_id}]
        )
    assert error.value.code == CtapError.ERR.NO_CREDENTIALS


def test_scripted_presence(api, authenticator):
    authenticator_id, device = authenticator
    _, der = p256_key()
    credential_id = os.urandom(16)
    inject(api, authenticator_id, credential_id, der)
    ctap2 = Ctap2(device)
    allow = [{"type": "public-key", "id": credential_id}]

    def assertion_status():
        try:
            ctap2.get_assertion(RP_ID, os.urandom(32), allow)
            return "OK"
        except CtapError as error:
            return error.code.name

    # Approve the next two, then deny.
    api.call(
        "POST",
        f"/{authenticator_id}/presence",
        {"script": [{"action": "approve", "repeat": 2}], "then": "deny"},
    )
    assert [assertion_status() for _ in range(3)] == ["OK", "OK", "OPERATION_DENIED"]
    api.call("POST", f"/{authenticator_id}/presence", {"script": [{"action": "timeout"}]})
    assert assertion_status() == "USER_ACTION_TIMEOUT"
    # A slow person: keepalives flow while the script waits 300 ms.
    keepalives = []
    api.call(
        "POST",
        f"/{authenticator_id}/presence",
        {"script": [{"action": "approve", "delayMs": 300}], "then": "approve"},
    )
    started = time.monotonic()
    ctap2.get_assertion(RP_ID, os.urandom(32), allow, on_keepalive=keepalives.append)
    assert time.monotonic() - started >= 0.3
    assert keepalives and set(keepalives) == {2}  # STATUS_UPNEEDED
    # isUserConsenting false at creation denies.
    denied_id, port = api.add(isUserConsenting=False)
    denied_device = softkey_udp.open_device(port=port, timeout=10)
    try:
        with pytest.raises(CtapError) as error:
            Ctap2(denied_device).make_credential(
                os.urandom(32),
                {"id": RP_ID, "name": "Example"},
                {"id": b"u", "name": "u"},
                [{"type": "public-key", "alg": -7}],
            )
        assert error.value.code == CtapError.ERR.OPERATION_DENIED
    finally:
        denied_device.close()
        api.call("DELETE", f"/{denied_id}")


def test_user_verification(api):
    authenticator_id, port = api.add(hasUserVerification=True, isUserVerified=True)
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        ctap2 = Ctap2(device)
        assert ctap2.info.options.get("uv") is True
        rp = {"id": RP_ID, "name": "Example"}
        user = {"id": b"uv-user", "name": "uv"}
        params = [{"type": "public-key", "alg": -7}]
        result = ctap2.make_credential(os.urandom(32), rp, user, params, options={"uv": True})
        assert result.auth_data.is_user_verified()
        api.call("POST", f"/{authenticator_id}/uv", {"isUserVerified": False})
        with pytest.raises(CtapError):
            ctap2.make_credential(os.urandom(32), rp, user, params, options={"uv": True})
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_faults_are_observed_by_the_client(api, authenticator):
    authenticator_id, device = authenticator
    ctap2 = Ctap2(device)
    rp = {"id": RP_ID, "name": "Example"}
    params = [{"type": "public-key", "alg": -7}]

    def make(resident=False):
        return ctap2.make_credential(
            os.urandom(32), rp, {"id": os.urandom(8), "name": "f"}, params,
            options={"rk": resident},
        )

    # A chosen CTAP status, for getInfo only.
    api.call(
        "POST",
        f"/{authenticator_id}/faults",
        {"command": "authenticatorMakeCredential", "kind": "status", "status": "CTAP2_ERR_KEY_STORE_FULL"},
    )
    ctap2.get_info()
    with pytest.raises(CtapError) as error:
        make()
    assert error.value.code == CtapError.ERR.KEY_STORE_FULL
    make()  # the fault applied once
    # A failing store write.
    api.call("POST", f"/{authenticator_id}/faults", {"command": 1, "kind": "storeFailure"})
    with pytest.raises(CtapError) as error:
        make(resident=True)
    assert error.value.code == CtapError.ERR.OTHER
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert not any(c["isResidentCredential"] for c in listed)  # nothing was stored
    # A corrupted report: the status byte arrives inverted.
    api.call("POST", f"/{authenticator_id}/faults", {"command": "authenticatorGetInfo", "kind": "corrupt"})
    with pytest.raises(CtapError) as error:
        ctap2.get_info()
    assert error.value.code == 0xFF
    # A delayed response.
    api.call(
        "POST",
        f"/{authenticator_id}/faults",
        {"command": "authenticatorGetInfo", "kind": "delay", "delayMs": 400},
    )
    started = time.monotonic()
    ctap2.get_info()
    assert time.monotonic() - started >= 0.4
    # A dropped report: the client times out.
    api.call("POST", f"/{authenticator_id}/faults", {"command": "authenticatorGetInfo", "kind": "drop"})
    device._connection.sock.settimeout(1.0)
    with pytest.raises(Exception):
        ctap2.get_info()


def test_power_cycle_endpoint(api, authenticator):
    authenticator_id, device = authenticator
    ctap2 = Ctap2(device)
    api.call("POST", f"/{authenticator_id}/power-cycle")
    events = api.call("GET", f"/{authenticator_id}/trace")["value"]
    assert events[-1]["type"] == "powerCycle"
    # Over UDP the power cycle keeps the client's channel.
    assert ctap2.get_info().versions == ctap2.info.versions


def test_profiles_follow_the_protocol(api):
    full_id, full_port = api.add(protocol="ctap2_1", transport="nfc")
    old_id, old_port = api.add(protocol="ctap2", hasResidentKey=False)
    full = softkey_udp.open_device(port=full_port, timeout=10)
    old = softkey_udp.open_device(port=old_port, timeout=10)
    try:
        info = Ctap2(full).get_info()
        assert info.options["credMgmt"] is True and info.options["rk"] is True
        assert 2 in info.pin_uv_protocols
        assert info.transports == ["nfc"]
        old_ctap2 = Ctap2(old)
        info = old_ctap2.info
        assert info.versions == ["FIDO_2_0"]
        assert info.pin_uv_protocols == [1]
        assert info.options == {"rk": False, "up": True, "plat": False, "clientPin": False}
        assert info.transports == []  # not a CTAP 2.0 field
        with pytest.raises(CtapError) as error:
            old_ctap2.send_cbor(0x0A, {1: 2})  # credentialManagement
        assert error.value.code == CtapError.ERR.INVALID_COMMAND
        with pytest.raises(CtapError) as error:
            old_ctap2.make_credential(
                os.urandom(32), {"id": RP_ID}, {"id": b"u"},
                [{"type": "public-key", "alg": -7}], options={"rk": True},
            )
        assert error.value.code == CtapError.ERR.UNSUPPORTED_OPTION
    finally:
        full.close()
        old.close()
        api.call("DELETE", f"/{full_id}")
        api.call("DELETE", f"/{old_id}")


def test_event_stream_shows_the_exchange(api, authenticator):
    authenticator_id, device = authenticator
    lines: list[dict] = []
    ready = threading.Event()

    def listen():
        connection = HTTPConnection("127.0.0.1", api.port, timeout=10)
        connection.request(
            "GET", f"/session/test/webauthn/authenticator/{authenticator_id}/events", headers=api.headers
        )
        response = connection.getresponse()
        assert response.getheader("content-type").startswith("text/event-stream")
        ready.set()
        try:
            while True:
                line = response.readline().decode().strip()
                if line.startswith("data:"):
                    lines.append(json.loads(line[5:]))
                    if lines[-1]["type"] == "response" and lines[-1]["data"]["command"] == "authenticatorMakeCredential":
                        return
        finally:
            connection.close()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(5)
    time.sleep(0.2)
    Ctap2(device).make_credential(
        os.urandom(32), {"id": RP_ID, "name": "Example"}, {"id": b"trace", "name": "t"},
        [{"type": "public-key", "alg": -7}],
    )
    listener.join(10)
    kinds = [(e["type"], e["data"].get("command")) for e in lines]
    assert ("request", "authenticatorMakeCredential") in kinds
    assert ("presence", "authenticatorMakeCredential") in kinds
    request = next(e for e in lines if e["type"] == "request" and e["data"]["command"] == "authenticatorMakeCredential")
    assert request["data"]["parameters"]["rp"]["id"] == RP_ID
    assert lines[-1]["data"]["status"] == "CTAP2_OK"
    assert "authData" in lines[-1]["data"]["body"]


def test_webdriver_errors(api):
    assert api.call("DELETE", "/missing", expect=404)["value"]["error"] == "no such authenticator"
    assert api.call("POST", "", {"protocol": "ctap3", "transport": "usb"}, expect=400)["value"]["error"] == "invalid argument"
    assert api.call(
        "POST", "", {"protocol": "ctap1/u2f", "transport": "usb", "hasResidentKey": True}, expect=400
    )["value"]["error"] == "invalid argument"
    assert api.call(
        "POST", "", {"protocol": "ctap2_1", "transport": "usb", "softkey:vault": {"name": "../x"}}, expect=400
    )["value"]["error"] == "invalid argument"
    authenticator_id, _ = api.add(hasResidentKey=False)
    try:
        _, der = p256_key()
        body = {
            "credentialId": b64url(b"abc"),
            "isResidentCredential": True,
            "rpId": RP_ID,
            "privateKey": b64url(der),
            "userHandle": b64url(b"u"),
            "signCount": 0,
        }
        assert api.call("POST", f"/{authenticator_id}/credential", body, expect=400)["value"]["error"] == "invalid argument"
        body["isResidentCredential"] = False
        body["privateKey"] = b64url(b"not a key")
        assert api.call("POST", f"/{authenticator_id}/credential", body, expect=400)["value"]["error"] == "invalid argument"
        assert api.call("DELETE", f"/{authenticator_id}/credentials/{b64url(b'none')}", expect=400)["value"]["error"] == "invalid argument"
        _, der = p256_key()
        body["privateKey"] = b64url(der)
        api.call("POST", f"/{authenticator_id}/credential", body)
        props = f"/{authenticator_id}/credentials/{body['credentialId']}/props"
        api.call("POST", props, {"backupEligibility": False, "backupState": False})
        missing = f"/{authenticator_id}/credentials/{b64url(b'none')}/props"
        assert api.call("POST", missing, {"backupState": True}, expect=400)["value"]["error"] == "invalid argument"
    finally:
        api.call("DELETE", f"/{authenticator_id}")
