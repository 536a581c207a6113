"""CXF through the control API (issue 16 point 6): testers move passkeys
between virtual authenticators as FIDO CXF v1.0 documents. python-fido2
registers passkeys (PRF, credBlob, a large blob) on one authenticator, the
API exports them, another authenticator imports the document, and
python-fido2 signs in to each from there with the same key, PRF outputs,
credBlob and large blob, BE = BS = 1. Malformed and hostile documents are
refused with a named reason and change nothing; duplicates are kept unless
replaced; a dry run stores nothing; an import whose storing fails midway
(a fault placed in a persistent authenticator's vault file) stores nothing
and keeps the passkey it was to replace as it was. Helpers and fixtures:
control_api.py."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
from pathlib import Path

from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode

import softkey_udp
from control_api import (  # noqa: F401  (control_sim, api: fixtures)
    RP_ID,
    api,
    b64url,
    control_sim,
    fido_client,
    inject,
    p256_key,
    unb64url,
)

RP = {"id": RP_ID, "name": "Example RP"}
USERS = [(b"user-one", "alice"), (b"user-two", "bob")]
SALT_ONE, SALT_TWO = b"salt one" * 4, b"salt two" * 4
FLAG_BE, FLAG_BS = 0x08, 0x10
EXTENSIONS = ["prf", "credBlob", "largeBlob"]
# The CXF specification's example as Bitwarden's SDK carries it (source in
# vault/tests/fixtures/README.md): produced by another implementation.
EXTERNAL = (Path(__file__).resolve().parents[2]
            / "vault/tests/fixtures/cxf/bitwarden_sdk_cxf_example.json")


def register(port: int) -> list[dict]:
    """A discoverable passkey per user with PRF and a credBlob, the first
    with a large blob too; returns what signing in must find again."""
    server = Fido2Server(RP)
    device = softkey_udp.open_device(port=port, timeout=10)
    registered = []
    try:
        client = fido_client(device)
        for index, (user_id, name) in enumerate(USERS):
            options, state = server.register_begin(
                {"id": user_id, "name": name, "displayName": name.title()},
                resident_key_requirement="required",
                user_verification="discouraged",
            )
            blob = os.urandom(32)
            extensions = {"prf": {}, "credBlob": blob, "largeBlob": {"support": "preferred"}}
            result = client.make_credential({**options["publicKey"], "extensions": extensions})
            auth_data = server.register_complete(state, result)
            entry = {"credential": auth_data.credential_data, "cred_blob": blob, "large_blob": None}
            if index == 0:
                entry["large_blob"] = b"large blob of " + name.encode()
                write = {"largeBlob": {"write": entry["large_blob"]}}
                request, state = server.authenticate_begin(
                    [auth_data.credential_data], user_verification="discouraged")
                written = client.get_assertion(
                    {**request["publicKey"], "extensions": write}).get_response(0)
                assert written.client_extension_results["largeBlob"]["written"] is True
            registered.append(entry)
    finally:
        device.close()
    return registered


def sign_in(port: int, registered: list[dict]) -> list[dict]:
    """Signs in to each passkey; the RP verifies each signature against the
    key it registered. Returns what each sign-in showed."""
    server = Fido2Server(RP)
    device = softkey_udp.open_device(port=port, timeout=10)
    seen = []
    try:
        client = fido_client(device)
        for entry in registered:
            credential = entry["credential"]
            request, state = server.authenticate_begin([credential], user_verification="discouraged")
            salts = {"first": websafe_encode(SALT_ONE), "second": websafe_encode(SALT_TWO)}
            extensions = {"prf": {"eval": salts}, "getCredBlob": True, "largeBlob": {"read": True}}
            response = client.get_assertion(
                {**request["publicKey"], "extensions": extensions}).get_response(0)
            server.authenticate_complete(state, [credential], response)
            auth_data = response.response.authenticator_data
            results = response.client_extension_results
            seen.append({
                "flags": auth_data.flags,
                "prf": (results.prf.results.first, results.prf.results.second),
                "cred_blob": auth_data.extensions.get("credBlob"),
                # The JSON form of the results: base64url.
                "large_blob": websafe_decode(results["largeBlob"]["blob"])
                if "blob" in results.get("largeBlob", {}) else None,
            })
    finally:
        device.close()
    return seen


def passkeys_of(document: dict) -> list[dict]:
    """The passkeys of a CXF v1.0 document, its required members checked."""
    assert document["version"] == {"major": 1, "minor": 0}
    assert document["exporterRpId"] == "softkey-sim"
    assert isinstance(document["timestamp"], int)
    found = []
    for account in document["accounts"]:
        for item in account["items"]:
            for credential in item["credentials"]:
                assert credential["type"] == "passkey"
                for member in ("credentialId", "rpId", "username", "userDisplayName",
                               "userHandle", "key"):
                    assert isinstance(credential[member], str), member
                found.append(credential)
    return found


def listed_ids(api, authenticator_id) -> list[str]:
    return sorted(c["credentialId"] for c in api.call("GET", f"/{authenticator_id}/credentials")["value"])


def refusal(api, authenticator_id, document, **options) -> dict:
    """Imports `document`, expecting a named refusal; returns the error."""
    answer = api.call("POST", f"/{authenticator_id}/cxf", {"cxf": document, **options}, expect=400)
    error = answer["value"]
    assert error["error"] == "invalid argument", error
    return error


def test_passkeys_move_between_authenticators_with_their_prf_outputs(api):
    old_id, old_port = api.add(extensions=EXTENSIONS)
    registered = register(old_port)
    before = sign_in(old_port, registered)
    exported = api.call("GET", f"/{old_id}/cxf")["value"]
    assert exported["refused"] == []
    passkeys = passkeys_of(exported["cxf"])
    assert sorted(p["username"] for p in passkeys) == ["alice", "bob"]
    assert all(len(unb64url(p["fido2Extensions"]["hmacCredentials"]["credWithUV"])) == 32
               for p in passkeys)
    api.call("DELETE", f"/{old_id}")

    new_id, new_port = api.add(extensions=EXTENSIONS)
    # A dry run lists what would happen and stores nothing.
    planned = api.call("POST", f"/{new_id}/cxf", {"cxf": exported["cxf"], "dryRun": True})["value"]
    assert (planned["imported"], planned["wouldImport"], planned["dryRun"]) == (0, 2, True)
    assert [i["outcome"] for i in planned["items"]] == ["import", "import"]
    assert listed_ids(api, new_id) == []
    # The document as text imports too (a file read as is).
    imported = api.call("POST", f"/{new_id}/cxf", {"cxf": json.dumps(exported["cxf"])})["value"]
    assert imported["imported"] == 2
    after = sign_in(new_port, registered)
    for old, new, entry in zip(before, after, registered):
        assert new["prf"] == old["prf"] and new["prf"][0] != new["prf"][1]
        assert new["cred_blob"] == entry["cred_blob"]
        assert new["large_blob"] == entry["large_blob"]
        assert new["flags"] & FLAG_BE and new["flags"] & FLAG_BS
    listed = api.call("GET", f"/{new_id}/credentials")["value"]
    assert all(c["backupEligibility"] and c["backupState"] and c["signCount"] == 0 for c in listed)

    # Imported again: duplicates are kept, unless replaced.
    again = api.call("POST", f"/{new_id}/cxf", {"cxf": exported["cxf"]})["value"]
    assert again["imported"] == 0
    assert [i["outcome"] for i in again["items"]] == ["keep-existing", "keep-existing"]
    replaced = api.call("POST", f"/{new_id}/cxf", {"cxf": exported["cxf"], "replace": True})["value"]
    assert [i["outcome"] for i in replaced["items"]] == ["replace", "replace"]
    assert len(listed_ids(api, new_id)) == 2
    api.call("DELETE", f"/{new_id}")


def test_malformed_and_hostile_documents_are_refused_by_name_and_change_nothing(api):
    source_id, source_port = api.add(extensions=EXTENSIONS)
    register(source_port)
    document = api.call("GET", f"/{source_id}/cxf")["value"]["cxf"]
    target_id, _ = api.add(extensions=EXTENSIONS)
    _, der = p256_key()
    inject(api, target_id, b"kept", der, isResidentCredential=True, userHandle=b64url(b"kept"))
    kept = listed_ids(api, target_id)

    def changed(edit):
        hostile = copy.deepcopy(document)
        edit(hostile)
        return hostile

    first = lambda d: d["accounts"][0]["items"][0]["credentials"][0]  # noqa: E731
    second = lambda d: d["accounts"][0]["items"][1]["credentials"][0]  # noqa: E731
    cases = [
        ("cxf-not-cxf", "not json at all"),
        ("cxf-not-cxf", {"hello": "world"}),
        ("cxf-unsupported-version", changed(lambda d: d.update(version={"major": 2, "minor": 0}))),
        ("cxf-malformed", changed(lambda d: first(d).update(rpId=7))),
        ("cxf-field-length", changed(lambda d: first(d).update(credentialId=b64url(b"x" * 1024)))),
        ("cxf-field-length", changed(lambda d: first(d).update(username="a" * 100_000))),
        ("cxf-duplicate-credential-id",
         changed(lambda d: second(d).update(credentialId=first(d)["credentialId"]))),
        ("cxf-duplicate-user", changed(lambda d: second(d).update(userHandle=first(d)["userHandle"]))),
        ("cxf-bad-key", changed(lambda d: first(d).update(key=b64url(b"\x30\x03\x02\x01\x00")))),
        ("cxf-bad-extension", changed(lambda d: first(d)["fido2Extensions"]["hmacCredentials"]
                                      .update(credWithUV=b64url(b"short")))),
    ]
    for reason, hostile in cases:
        error = refusal(api, target_id, hostile)
        assert error["softkey:reason"] == reason, (reason, error)
        assert listed_ids(api, target_id) == kept, reason
    # Not a document at all, or no document: the request itself is refused.
    for body in ({"cxf": 5}, {"document": document}, {"cxf": document, "replace": "yes"}):
        error = api.call("POST", f"/{target_id}/cxf", body, expect=400)["value"]
        assert error["error"] == "invalid argument" and "softkey:reason" not in error
    assert listed_ids(api, target_id) == kept
    for authenticator_id in (source_id, target_id):
        api.call("DELETE", f"/{authenticator_id}")


def test_what_cxf_cannot_carry_is_reported(api):
    # Non-discoverable credentials stay out of an export, each with its reason.
    authenticator_id, _ = api.add(extensions=EXTENSIONS)
    _, der = p256_key()
    inject(api, authenticator_id, b"non-resident", der)
    exported = api.call("GET", f"/{authenticator_id}/cxf")["value"]
    assert passkeys_of(exported["cxf"]) == []
    assert [(r["credentialId"], r["reason"].split(":")[0]) for r in exported["refused"]] == [
        (b64url(b"non-resident"), "not discoverable")]
    api.call("DELETE", f"/{authenticator_id}")
    # A large blob for an authenticator without the largeBlob extension: reported.
    source_id, source_port = api.add(extensions=EXTENSIONS)
    register(source_port)
    document = api.call("GET", f"/{source_id}/cxf")["value"]["cxf"]
    plain_id, _ = api.add(extensions=["prf", "credBlob"])
    answer = api.call("POST", f"/{plain_id}/cxf", {"cxf": document})["value"]
    assert [i["outcome"] for i in answer["items"]] == ["skip", "import"]
    assert answer["items"][0]["reason"] == "large-blob-unsupported"
    assert answer["imported"] == 1
    # No resident keys: nothing to hold passkeys in.
    flat_id, _ = api.add(hasResidentKey=False)
    error = api.call("POST", f"/{flat_id}/cxf", {"cxf": document}, expect=400)["value"]
    assert error["error"] == "unsupported operation"
    for removed in (source_id, plain_id, flat_id):
        api.call("DELETE", f"/{removed}")


def test_a_document_from_another_implementation_imports(api):
    authenticator_id, port = api.add(extensions=EXTENSIONS)
    document = json.loads(EXTERNAL.read_text())
    answer = api.call("POST", f"/{authenticator_id}/cxf", {"cxf": document})["value"]
    outcomes = [i["outcome"] for i in answer["items"]]
    assert "import" in outcomes, answer
    assert answer["imported"] == outcomes.count("import")
    listed = api.call("GET", f"/{authenticator_id}/credentials")["value"]
    assert len(listed) == answer["imported"]
    assert all(c["isResidentCredential"] and c["backupState"] for c in listed)
    api.call("DELETE", f"/{authenticator_id}")


def test_an_import_that_fails_midway_stores_nothing(api):
    """A persistent authenticator's vault: a trigger placed in its file makes
    the second credential write of a transaction fail (a full disk midway).
    The import with replace fails whole: the passkey it was to replace and
    the other one come back exactly as they were."""
    source_id, _ = api.add()
    target_id, _ = api.add(**{"softkey:vault": {"name": "cxf-midway"}})
    for name, sign_count in (("anna", 7), ("ben", 3)):
        _, der = p256_key()
        inject(api, target_id, f"kept-{name}".encode(), der, sign_count=sign_count,
               isResidentCredential=True, userHandle=b64url(name.encode()))
    for name in ("anna", "cleo", "dan"):  # anna's replaces the kept one
        _, der = p256_key()
        inject(api, source_id, f"new-{name}".encode(), der,
               isResidentCredential=True, userHandle=b64url(name.encode()))
    document = api.call("GET", f"/{source_id}/cxf")["value"]["cxf"]
    assert len(passkeys_of(document)) == 3

    def listed():
        return sorted(api.call("GET", f"/{target_id}/credentials")["value"],
                      key=lambda c: c["credentialId"])

    before = listed()
    assert [c["signCount"] for c in before] == [7, 3]
    vault = sqlite3.connect(api.vault_dir / "cxf-midway.sqlite")
    try:
        vault.executescript("""
            CREATE TABLE fault (writes INTEGER NOT NULL);
            INSERT INTO fault VALUES (0);
            CREATE TRIGGER fault_at BEFORE INSERT ON credentials BEGIN
                UPDATE fault SET writes = writes + 1;
                SELECT RAISE(ABORT, 'injected fault') WHERE (SELECT writes FROM fault) >= 2;
            END;""")
        error = api.call("POST", f"/{target_id}/cxf", {"cxf": document, "replace": True},
                         expect=500)["value"]
        assert "injected fault" in error["message"], error
        # IDs, user handles, keys, counters: all as before.
        assert listed() == before
        vault.executescript("DROP TRIGGER fault_at; DROP TABLE fault;")
    finally:
        vault.close()
    answer = api.call("POST", f"/{target_id}/cxf", {"cxf": document, "replace": True})["value"]
    assert answer["imported"] == 3
    assert [i["outcome"] for i in answer["items"]].count("replace") == 1
    ids = [unb64url(c["credentialId"]) for c in listed()]
    assert sorted(ids) == [b"kept-ben", b"new-anna", b"new-cleo", b"new-dan"]
    for removed in (source_id, target_id):
        api.call("DELETE", f"/{removed}")
