"""The control API of `softkey sim --control` (WebDriver virtual-authenticator
paths and softkey's additions) driven together with python-fido2 over UDP."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import urllib.error
import urllib.request
from http.client import HTTPConnection

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.utils import sha256

import softkey_udp
from conftest import AutoInteraction, Sim

RP_ID = "example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, headers=None) -> tuple[int, dict, bytes]:
    """One HTTP request (stdlib only): status, headers, body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Control:
    """A client of the control API."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.headers = {"Authorization": f"Bearer {token}"}
        self.base = f"{url}/session/test/webauthn/authenticator"

    def call(self, method: str, path: str = "", body=None, expect: int = 200):
        status, _, data = http(method, self.base + path, body, self.headers)
        assert status == expect, data
        return json.loads(data)

    def add(self, **options) -> tuple[str, int]:
        body = {"protocol": "ctap2_1", "transport": "usb", "hasResidentKey": True, **options}
        answer = self.call("POST", "", body)
        assert answer["value"] == answer["authenticatorId"]
        return answer["authenticatorId"], answer["udpPort"]


@pytest.fixture(scope="module")
def control_sim(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("control") / "token"
    vault_dir = tmp_path_factory.mktemp("vaults")
    port = free_tcp_port()
    process = Sim(
        "--control", f"127.0.0.1:{port}", "--control-token-file", str(token_file),
        "--control-vault-dir", str(vault_dir),
    )
    assert token_file.stat().st_mode & 0o777 == 0o600
    control = Control(f"http://127.0.0.1:{port}", token_file.read_text().strip())
    control.vault_dir = vault_dir
    yield process, control
    process.stop()


@pytest.fixture(scope="module")
def api(control_sim):
    return control_sim[1]


@pytest.fixture
def authenticator(api):
    """A fresh CTAP 2.1 authenticator with resident keys, and a device on it."""
    authenticator_id, port = api.add()
    device = softkey_udp.open_device(port=port, timeout=10)
    yield authenticator_id, device
    device.close()
    api.call("DELETE", f"/{authenticator_id}")


def p256_key():
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, der


def inject(api, authenticator_id, credential_id: bytes, der: bytes, sign_count=0, **extra):
    """Add Credential: a non-resident credential for RP_ID unless `extra` says otherwise."""
    body = {
        "credentialId": b64url(credential_id),
        "isResidentCredential": False,
        "rpId": RP_ID,
        "privateKey": b64url(der),
        "signCount": sign_count,
        **extra,
    }
    return api.call("POST", f"/{authenticator_id}/credential", body)


def fido_client(device, rp_id=RP_ID):
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector(f"https://{rp_id}"),
        user_interaction=AutoInteraction(),
    )


def sign_in_with(device, credential_id: bytes | None, rp_id=RP_ID):
    allow = [{"type": "public-key", "id": credential_id}] if credential_id else []
    options = {
        "challenge": os.urandom(32),
        "rpId": rp_id,
        "allowCredentials": allow,
        "userVerification": "discouraged",
    }
    selection = fido_client(device, rp_id).get_assertion(options)
    return selection.get_response(0)


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


def u2f_device(port):
    device = softkey_udp.open_device(port=port, timeout=10)
    return device


def test_u2f_profile_registers_authenticates_and_takes_injected_credentials(api):
    from fido2.ctap1 import Ctap1
    from fido2.hid import CAPABILITY

    authenticator_id, port = api.add(protocol="ctap1/u2f", hasResidentKey=False)
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        # A U2F key: no CBOR capability, so no CTAP2.
        assert not device.capabilities & CAPABILITY.CBOR
        with pytest.raises(CtapError) as error:
            device.call(0x10, b"\x04")  # CTAPHID_CBOR getInfo
        assert error.value.code == CtapError.ERR.INVALID_COMMAND
        ctap1 = Ctap1(device)
        assert ctap1.get_version() == "U2F_V2"
        app = sha256(RP_ID.encode())
        client = os.urandom(32)
        registration = ctap1.register(client, app)
        registration.verify(app, client)
        signed = ctap1.authenticate(os.urandom(32), app, registration.key_handle)
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert [c["credentialId"] for c in listed] == [b64url(registration.key_handle)]
        assert listed[0]["rpId"] is None  # U2F carries only the application hash
        assert listed[0]["signCount"] == signed.counter

        # An injected credential answers U2F authenticate under the tester's
        # key handle, with its own counter.
        key, der = p256_key()
        credential_id = os.urandom(40)
        inject(api, authenticator_id, credential_id, der, sign_count=7)
        challenge = os.urandom(32)
        signature = ctap1.authenticate(challenge, app, credential_id)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        signature.verify(app, challenge, public)
        assert signature.counter == 8
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert {c["credentialId"]: c["signCount"] for c in listed}[b64url(credential_id)] == 8
        # An Ed25519 key cannot be a U2F credential.
        eddsa = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        body = {"credentialId": b64url(b"ed"), "isResidentCredential": False, "rpId": RP_ID,
                "privateKey": b64url(eddsa), "signCount": 0}
        assert api.call("POST", f"/{authenticator_id}/credential", body, expect=400)["value"]["error"] == "invalid argument"
        events = api.call("GET", f"/{authenticator_id}/trace")["value"]
        assert any(e["data"].get("instruction") == "U2F_AUTHENTICATE" for e in events)
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_injected_non_resident_credentials_count_separately(api, authenticator):
    authenticator_id, device = authenticator
    ids = []
    for start in (100, 5):
        _, der = p256_key()
        credential_id = os.urandom(16)
        ids.append(credential_id)
        inject(api, authenticator_id, credential_id, der, sign_count=start)
    ctap2 = Ctap2(device)

    def counter(credential_id):
        assertion = ctap2.get_assertion(RP_ID, sha256(b"c"), [{"type": "public-key", "id": credential_id}])
        return assertion.auth_data.counter

    assert [counter(i) for i in ids] == [101, 6]
    assert [counter(i) for i in ids] == [102, 7]


def test_backup_flags_follow_the_options_and_properties(api):
    authenticator_id, port = api.add(defaultBackupEligibility=True)
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        server = Fido2Server({"id": RP_ID, "name": "Example"})
        options, state = server.register_begin(
            {"id": b"backup", "name": "bea"}, resident_key_requirement="required",
            user_verification="discouraged",
        )
        result = fido_client(device).make_credential(options.public_key)
        auth_data = server.register_complete(state, result)
        assert auth_data.flags & 0x08 and not auth_data.flags & 0x10  # BE, not BS
        credential = auth_data.credential_data
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert (listed[0]["backupEligibility"], listed[0]["backupState"]) == (True, False)

        api.call("POST", f"/{authenticator_id}/credentials/{b64url(credential.credential_id)}/props",
                 {"backupState": True})
        request, state = server.authenticate_begin([credential], user_verification="discouraged")
        selection = fido_client(device).get_assertion(request.public_key)
        response = selection.get_response(0)
        # The flags are under the signature: the RP's verification passes.
        server.authenticate_complete(state, [credential], response)
        assert response.response.authenticator_data.flags & 0x18 == 0x18
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert (listed[0]["backupEligibility"], listed[0]["backupState"]) == (True, True)

        # An injected credential may differ from the defaults.
        _, der = p256_key()
        injected = os.urandom(16)
        inject(api, authenticator_id, injected, der, backupEligibility=False)
        assert sign_in_with(device, injected).response.authenticator_data.flags & 0x18 == 0
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_injected_large_blob_is_read_and_written_by_the_client(api):
    authenticator_id, port = api.add(extensions=["largeBlob"])
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        _, der = p256_key()
        credential_id = os.urandom(16)
        inject(api, authenticator_id, credential_id, der, isResidentCredential=True,
               userHandle=b64url(b"blobby"), largeBlob=b64url(b"injected blob " * 20))
        client = fido_client(device)
        request = {
            "challenge": os.urandom(32), "rpId": RP_ID,
            "allowCredentials": [{"type": "public-key", "id": credential_id}],
            "userVerification": "discouraged",
            "extensions": {"largeBlob": {"read": True}},
        }
        response = client.get_assertion(request).get_response(0)
        # Client extension results are in their JSON form (base64url).
        assert unb64url(response.client_extension_results["largeBlob"]["blob"]) == b"injected blob " * 20

        request["extensions"] = {"largeBlob": {"write": b"written by python-fido2"}}
        response = client.get_assertion(request).get_response(0)
        assert response.client_extension_results["largeBlob"]["written"] is True
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert unb64url(listed[0]["largeBlob"]) == b"written by python-fido2"

        # Removing the credential removes its blob from the array.
        api.call("DELETE", f"/{authenticator_id}/credentials/{b64url(credential_id)}")
        array = Ctap2(device).send_cbor(0x0C, {1: 1024, 3: 0})[1]
        assert array[:1] == b"\x80", "the large-blob array is empty again"
        # A blob needs a resident credential.
        body = {"credentialId": b64url(b"nr"), "isResidentCredential": False, "rpId": RP_ID,
                "privateKey": b64url(der), "signCount": 0, "largeBlob": b64url(b"x")}
        assert api.call("POST", f"/{authenticator_id}/credential", body, expect=400)["value"]["error"] == "invalid argument"
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def approve_next_prompt(api, authenticator_id):
    """A persistent vault's authenticator asks the simulator's presence
    provider: the test answers its one prompt through the script."""
    api.call("POST", f"/{authenticator_id}/presence", {"script": [{"action": "approve"}]})


def test_persistent_vault_keeps_credentials_across_authenticators(api):
    options = {"softkey:vault": {"name": "persist"}}
    authenticator_id, port = api.add(**options)
    approve_next_prompt(api, authenticator_id)
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        server = Fido2Server({"id": RP_ID, "name": "Example"})
        register, state = server.register_begin(
            {"id": b"kept", "name": "kim"}, resident_key_requirement="required",
            user_verification="discouraged",
        )
        credential = server.register_complete(
            state, fido_client(device).make_credential(register.public_key)
        ).credential_data
        # The same vault cannot be opened twice.
        assert api.call("POST", "", {"protocol": "ctap2_1", "transport": "usb", **options},
                        expect=400)["value"]["error"] == "invalid argument"
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")
    vault = api.vault_dir / "persist.sqlite"
    assert vault.stat().st_mode & 0o777 == 0o600
    assert (api.vault_dir / "persist.key").stat().st_mode & 0o777 == 0o600

    authenticator_id, port = api.add(**options)
    approve_next_prompt(api, authenticator_id)
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert [c["credentialId"] for c in listed] == [b64url(credential.credential_id)]
        request, state = server.authenticate_begin(user_verification="discouraged")
        response = fido_client(device).get_assertion(request.public_key).get_response(0)
        server.authenticate_complete(state, [credential], response)
        assert response.response.authenticator_data.counter == 1
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_uhid_is_refused_clearly_where_there_is_none(api):
    if Path("/dev/uhid").exists():
        pytest.skip("this machine has /dev/uhid: the VM test covers UHID authenticators")
    answer = api.call("POST", "", {"protocol": "ctap2_1", "transport": "usb", "softkey:uhid": True},
                      expect=400)["value"]
    assert answer["error"] == "unsupported operation"
    assert "/dev/uhid" in answer["message"]


def test_default_authenticator_on_a_vault_keeps_its_passkeys(tmp_path):
    """`softkey sim --control --vault`: the `default` authenticator is the vault's."""
    import subprocess

    from conftest import softkey_binary

    path, key = tmp_path / "vault" / "vault.sqlite", tmp_path / "vault.key"
    subprocess.run(
        [softkey_binary(), "vault", "--vault", str(path), "--key-file", str(key), "init"],
        check=True, capture_output=True, timeout=60,
    )
    credential_ids = []
    for _ in range(2):
        token_file = tmp_path / "token"
        port = free_tcp_port()
        sim = Sim("--vault", str(path), "--key-file", str(key), "--presence", "danger-auto-approve",
                  "--control", f"127.0.0.1:{port}", "--control-token-file", str(token_file))
        try:
            api = Control(f"http://127.0.0.1:{port}", token_file.read_text().strip())
            listed = [c["credentialId"] for c in api.call("GET", "/default/credentials")["value"]]
            assert listed == credential_ids
            device = sim.device()
            try:
                made = Ctap2(device).make_credential(
                    os.urandom(32), {"id": RP_ID, "name": "Example"},
                    {"id": os.urandom(8), "name": "v"}, [{"type": "public-key", "alg": -7}],
                    options={"rk": True},
                )
            finally:
                device.close()
            credential_ids.append(b64url(made.auth_data.credential_data.credential_id))
        finally:
            sim.stop()
    assert len(set(credential_ids)) == 2


def test_softkey_algorithms_option_sets_what_an_authenticator_offers(api):
    """"softkey:algorithms" (names or numbers) is what getInfo lists, ES256
    first, and what makeCredential picks from; the list registered here is a
    post-quantum one."""
    authenticator_id, port = api.add(**{"softkey:algorithms": ["ML-DSA-87", -7]})
    device = softkey_udp.open_device(port=port, timeout=10)
    try:
        info = Ctap2(device).get_info()
        assert [entry["alg"] for entry in info.algorithms] == [-7, -50]
        server = Fido2Server({"id": RP_ID, "name": "Example"})
        options, state = server.register_begin(
            {"id": b"pq", "name": "pq"}, user_verification="discouraged"
        )
        offered = [{"type": "public-key", "alg": alg} for alg in (-49, -50, -7)]
        result = fido_client(device).make_credential({**options["publicKey"], "pubKeyCredParams": offered})
        credential = server.register_complete(state, result).credential_data
        assert credential.public_key[3] == -50
        listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
        assert [c["credentialId"] for c in listed] == [b64url(credential.credential_id)]
        # ML-DSA keys are not exported as PKCS#8.
        assert listed[0]["privateKey"] is None
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")
    # An algorithm softkey does not implement is an unsupported operation.
    status, _, body = http(
        "POST",
        api.base,
        {"protocol": "ctap2_1", "transport": "usb", "softkey:algorithms": ["Ed448"]},
        api.headers,
    )
    assert status == 400 and b"Ed448" in body, body
