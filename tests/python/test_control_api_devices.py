"""The control API of `softkey sim --control`, continued: the U2F profile,
counters of injected non-resident credentials, backup flags, large blobs,
persistent vaults, UHID and algorithm options. Helpers and fixtures:
control_api.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.utils import sha256

import softkey_udp
from conftest import Sim
from control_api import (  # noqa: F401  (control_sim, api, authenticator: fixtures)
    RP_ID,
    Control,
    api,
    authenticator,
    b64url,
    control_sim,
    fido_client,
    free_tcp_port,
    http,
    inject,
    p256_key,
    sign_in_with,
    unb64url,
)

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
