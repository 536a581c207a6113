"""Passkeys moved between vaults as FIDO CXF v1.0 (issue 16), end to end:
python-fido2's client registers passkeys with PRF on a backup-eligible vault
served by `softkey sim --vault`, `softkey vault export` writes them
age-encrypted, the age command-line tool decrypts the file (an independent
age implementation) into JSON that has the CXF v1.0 structure, a fresh vault
imports it, and python-fido2 signs in to every passkey from the new vault
with the same key, the same PRF outputs (same CredRandoms) and the same
credBlob, BE = BS = 1 and counter 0. A device-bound vault refuses to export;
a hostile file is refused by name and changes nothing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server
from fido2.utils import websafe_encode

from conftest import AutoInteraction, CanonicalCheckingDevice, Sim, softkey_binary

RP = {"id": "example.com", "name": "Example RP"}
USERS = [(b"user-one", "alice"), (b"user-two", "bob")]
SALT_ONE, SALT_TWO = b"salt one" * 4, b"salt two" * 4

FLAG_UP, FLAG_BE, FLAG_BS = 0x01, 0x08, 0x10

AGE_MISSING = shutil.which("age") is None or shutil.which("age-keygen") is None
if AGE_MISSING and os.environ.get("SOFTKEY_REQUIRE_AGE"):
    # CI installs the tool: there a missing one is a failure, not a skip.
    raise RuntimeError("SOFTKEY_REQUIRE_AGE is set but the age command-line tool is not installed")

needs_age = pytest.mark.skipif(
    AGE_MISSING,
    reason="the age command-line tool (Debian package `age`) is not installed",
)


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Vault:
    """A vault file with its key file, driven through `softkey vault`."""

    def __init__(self, directory, name: str, backup_eligible: bool):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.sqlite"
        self.key = directory / f"{name}.key"
        self.run("init", *(["--backup-eligible"] if backup_eligible else []))

    def command(self, *args: str) -> list[str]:
        return [softkey_binary(), "vault", "--vault", str(self.path), "--key-file", str(self.key), *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args), check=check, capture_output=True, text=True, timeout=120
        )

    def listing(self) -> list[dict]:
        return json.loads(self.run("list", "--json").stdout)

    def serve(self) -> Sim:
        # A persistent vault asks for presence unless the danger is written out.
        return Sim("--vault", str(self.path), "--key-file", str(self.key),
                   "--presence", "danger-auto-approve")


def client_for(device) -> Fido2Client:
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector("https://example.com"),
        user_interaction=AutoInteraction(),
    )


def register_all(sim: Sim) -> list[tuple[object, bytes]]:
    """Registers a discoverable passkey with PRF and a credBlob per user;
    returns each (credential data, credBlob)."""
    server = Fido2Server(RP)
    device = CanonicalCheckingDevice(sim.device())
    registered = []
    try:
        client = client_for(device)
        for user_id, name in USERS:
            options, state = server.register_begin(
                {"id": user_id, "name": name, "displayName": name.title()},
                resident_key_requirement="required",
                user_verification="discouraged",
            )
            blob = os.urandom(32)
            result = client.make_credential(
                {**options["publicKey"], "extensions": {"prf": {}, "credBlob": blob}}
            )
            assert result.client_extension_results["prf"]["enabled"] is True
            auth_data = server.register_complete(state, result)
            # A backup-eligible vault's new passkey: BE = 1, not yet backed up.
            assert auth_data.flags & FLAG_BE
            assert not auth_data.flags & FLAG_BS
            assert auth_data.counter == 0
            assert auth_data.extensions["credBlob"] is True
            registered.append((auth_data.credential_data, blob))
    finally:
        device.close()
    return registered


def sign_in_all(sim: Sim, registered) -> list[dict]:
    """Signs in to each passkey (discoverable: no allow list) with both PRF
    salts and getCredBlob; the RP verifies each signature against the key it
    registered. Returns what each sign-in showed."""
    server = Fido2Server(RP)
    device = CanonicalCheckingDevice(sim.device())
    seen = []
    try:
        client = client_for(device)
        for credential, _ in registered:
            request, state = server.authenticate_begin(
                [credential], user_verification="discouraged"
            )
            salts = {"first": websafe_encode(SALT_ONE), "second": websafe_encode(SALT_TWO)}
            response = client.get_assertion(
                {**request["publicKey"],
                 "extensions": {"prf": {"eval": salts}, "getCredBlob": True}}
            ).get_response(0)
            # Raises unless the signature verifies with the registered key.
            server.authenticate_complete(state, [credential], response)
            auth_data = response.response.authenticator_data
            results = response.client_extension_results
            seen.append({
                "credential_id": credential.credential_id,
                "flags": auth_data.flags,
                "counter": auth_data.counter,
                "prf": (results.prf.results.first, results.prf.results.second),
                "cred_blob": auth_data.extensions.get("credBlob"),
            })
    finally:
        device.close()
    return seen


def check_cxf_structure(document: dict) -> list[dict]:
    """The members CXF v1.0 requires, with their types; returns the passkeys."""
    assert document["version"] == {"major": 1, "minor": 0}
    assert isinstance(document["exporterRpId"], str) and document["exporterRpId"]
    assert isinstance(document["exporterDisplayName"], str)
    assert isinstance(document["timestamp"], int) and document["timestamp"] > 1_700_000_000
    passkeys = []
    for account in document["accounts"]:
        for member in ("id", "username", "email"):
            assert isinstance(account[member], str)
        assert isinstance(account["collections"], list)
        for item in account["items"]:
            assert isinstance(item["id"], str) and b64url(item["id"])
            assert isinstance(item["title"], str)
            for credential in item["credentials"]:
                assert credential["type"] == "passkey"
                for member in ("credentialId", "rpId", "username", "userDisplayName",
                               "userHandle", "key"):
                    assert isinstance(credential[member], str), member
                # base64url without padding, as CXF's b64url type says.
                for member in ("credentialId", "userHandle", "key"):
                    assert "=" not in credential[member] and "+" not in credential[member]
                hmac = credential["fido2Extensions"]["hmacCredentials"]
                assert hmac["algorithm"] == "hmac-sha256"
                assert len(b64url(hmac["credWithUV"])) == 32
                assert len(b64url(hmac["credWithoutUV"])) == 32
                passkeys.append(credential)
    return passkeys


@needs_age
def test_passkeys_move_with_their_prf_outputs_through_an_age_encrypted_cxf_file(tmp_path):
    source = Vault(tmp_path / "source", "vault", backup_eligible=True)
    sim = source.serve()
    try:
        registered = register_all(sim)
        before = sign_in_all(sim, registered)
    finally:
        sim.stop()
    assert all(s["flags"] & FLAG_BE and not s["flags"] & FLAG_BS for s in before)
    # Backup eligible: counter 0, and it stays 0.
    assert [s["counter"] for s in before] == [0, 0]

    identity = tmp_path / "identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    exported = tmp_path / "passkeys.cxf.age"
    out = source.run("export", "--format", "cxf", "--out", str(exported),
                     "--age-recipient", recipient).stdout
    assert "Exported 2 passkeys" in out
    assert exported.stat().st_mode & 0o777 == 0o600
    assert exported.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert b"credentialId" not in exported.read_bytes()
    # Exported passkeys are backed up from now on.
    assert all(c["backup_eligible"] and c["backup_state"] for c in source.listing())

    # The age tool decrypts it into the CXF v1.0 structure, with the passkeys
    # registered above.
    plain = subprocess.run(
        ["age", "-d", "-i", str(identity), str(exported)], check=True, capture_output=True
    ).stdout
    passkeys = check_cxf_structure(json.loads(plain))
    assert sorted(b64url(p["credentialId"]) for p in passkeys) == sorted(
        c.credential_id for c, _ in registered
    )
    assert sorted((p["rpId"], b64url(p["userHandle"]), p["username"], p["userDisplayName"])
                  for p in passkeys) == sorted(
        ("example.com", user_id, name, name.title()) for user_id, name in USERS
    )

    target = Vault(tmp_path / "target", "vault", backup_eligible=False)
    dry = target.run("import", str(exported), "--age-identity", str(identity), "--dry-run").stdout
    assert "2 passkeys would be imported" in dry
    assert target.listing() == []
    out = target.run("import", str(exported), "--age-identity", str(identity)).stdout
    assert "Imported 2 passkeys" in out
    listed = target.listing()
    assert len(listed) == 2
    assert all(c["backup_eligible"] and c["backup_state"] and c["sign_count"] == 0 for c in listed)

    sim = target.serve()
    try:
        after = sign_in_all(sim, registered)
        again = sign_in_all(sim, registered)
    finally:
        sim.stop()
    for old, new, newer, (_, blob) in zip(before, after, again, registered):
        assert new["credential_id"] == old["credential_id"]
        # Same CredRandoms: the same PRF outputs for the same salts.
        assert new["prf"] == old["prf"]
        assert new["prf"][0] is not None and new["prf"][0] != new["prf"][1]
        assert new["cred_blob"] == blob == old["cred_blob"]
        assert new["flags"] & (FLAG_UP | FLAG_BE | FLAG_BS) == FLAG_UP | FLAG_BE | FLAG_BS
        assert new["counter"] == 0 and newer["counter"] == 0


def test_device_bound_vault_refuses_to_export_and_writes_no_file(tmp_path):
    vault = Vault(tmp_path, "vault", backup_eligible=False)
    sim = vault.serve()
    try:
        registered = register_device_bound(sim)
    finally:
        sim.stop()
    assert len(registered) == 1
    out = tmp_path / "passkeys.json"
    result = vault.run("export", "--out", str(out), "--danger-plaintext", check=False)
    assert result.returncode != 0
    assert "device-bound" in result.stderr
    assert not out.exists()
    assert [c["backup_state"] for c in vault.listing()] == [False]


def register_device_bound(sim: Sim) -> list[bytes]:
    server = Fido2Server(RP)
    device = CanonicalCheckingDevice(sim.device())
    try:
        options, state = server.register_begin(
            {"id": b"user", "name": "carol"},
            resident_key_requirement="required",
            user_verification="discouraged",
        )
        result = client_for(device).make_credential(options["publicKey"])
        auth_data = server.register_complete(state, result)
    finally:
        device.close()
    assert not auth_data.flags & (FLAG_BE | FLAG_BS)
    return [auth_data.credential_data.credential_id]


def test_hostile_cxf_file_is_refused_by_name_and_changes_nothing(tmp_path):
    vault = Vault(tmp_path, "vault", backup_eligible=True)
    passkey = {
        "type": "passkey",
        "credentialId": "AAAA",
        "rpId": "example.com",
        "username": "mallory",
        "userDisplayName": "Mallory",
        "userHandle": "AAAA",
        "key": "A" * (200 * 1024),
    }
    item = {"id": "AAAA", "title": "example.com", "credentials": [passkey]}
    document = {
        "version": {"major": 1, "minor": 0},
        "exporterRpId": "example.org",
        "exporterDisplayName": "hostile",
        "timestamp": 1_760_000_000,
        "accounts": [{"id": "AAAA", "username": "", "email": "", "collections": [],
                      "items": [item, item]}],
    }
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    small = {**passkey, "key": base64.urlsafe_b64encode(key).rstrip(b"=").decode()}
    cases = {
        "huge key": (document, "the key is not a usable private key"),
        "oversized user handle": (
            {**document, "accounts": [{**document["accounts"][0], "items": [
                {**item, "credentials": [{**passkey, "userHandle": "A" * 200}]}]}]},
            "userHandle is 150 bytes; it must be 1 to 64",
        ),
        "wrong version": ({**document, "version": {"major": 2, "minor": 0}},
                          "CXF version 2.0 is not supported"),
        "wrong type": ({**document, "accounts": "none"}, "not a CXF file: invalid type"),
        "duplicate ids": (
            {**document, "accounts": [{**document["accounts"][0], "items": [
                {**item, "credentials": [small]}, {**item, "credentials": [small]}]}]},
            "credential ID AAAA is also the one at accounts[0].items[0].credentials[0]",
        ),
    }
    for name, (broken, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(json.dumps(broken))
        result = vault.run("import", str(path), "--replace", check=False)
        assert result.returncode != 0, name
        assert message in result.stderr, (name, result.stderr)
        assert vault.listing() == [], name
