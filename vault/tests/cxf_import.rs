//! CXF import of malformed, hostile, unsupported and duplicate items: each
//! refused or reported by name, a refused file changing nothing, and an
//! import racing a new duplicate writing nothing.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Fixture, credential, import_all, one_passkey, passkey_mut, run_on};
use serde_json::{Value, json};
use softkey_authenticator::store::Store;
use softkey_vault::VaultError;
use softkey_vault::cxf::{self, CxfError, ImportPlan, ItemOutcome, SkipReason};

/// Imports `file` into a vault holding one credential; the import must fail
/// and leave the vault exactly as it was.
fn refused(file: &Value) -> VaultError {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&[0x81, 9], "keep.example", b"k", "keep", 4))
        .unwrap();
    let before = vault.list().unwrap();
    let error = import_all(&mut vault, &serde_json::to_vec(file).unwrap(), true).unwrap_err();
    assert_eq!(vault.list().unwrap(), before, "nothing changed");
    assert_eq!(fixture.open().list().unwrap(), before);
    error
}

#[test]
fn malformed_and_hostile_files_are_refused_by_name_and_change_nothing() {
    // Wrong types.
    let mut file = one_passkey();
    passkey_mut(&mut file)["rpId"] = json!(17);
    assert!(
        matches!(refused(&file), VaultError::Cxf(CxfError::Malformed { at, .. }) if at == "accounts[0].items[0].credentials[0]")
    );
    let mut file = one_passkey();
    file["accounts"][0]["items"] = json!({"not": "an array"});
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::NotCxf(_))
    ));
    let mut file = one_passkey();
    passkey_mut(&mut file)["fido2Extensions"] = json!({"hmacCredentials": "yes"});
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::Malformed { .. })
    ));
    assert!(matches!(
        import_all(&mut Fixture::new().create(), b"[1, 2", false),
        Err(VaultError::Cxf(CxfError::NotCxf(_)))
    ));
    // Another major version.
    let mut file = one_passkey();
    file["version"]["major"] = json!(2);
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::UnsupportedVersion { major: 2, .. })
    ));
    // Huge and empty fields.
    let mut file = one_passkey();
    passkey_mut(&mut file)["credentialId"] = json!(URL_SAFE_NO_PAD.encode(vec![1u8; 1024]));
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::FieldLength {
            field: "credentialId",
            len: 1024,
            ..
        })
    ));
    let mut file = one_passkey();
    passkey_mut(&mut file)["userHandle"] = json!(URL_SAFE_NO_PAD.encode(vec![1u8; 65]));
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::FieldLength {
            field: "userHandle",
            ..
        })
    ));
    let mut file = one_passkey();
    passkey_mut(&mut file)["username"] = json!("x".repeat(5000));
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::FieldLength {
            field: "username",
            ..
        })
    ));
    let mut file = one_passkey();
    passkey_mut(&mut file)["rpId"] = json!("");
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::FieldLength { field: "rpId", .. })
    ));
    let huge = vec![b' '; cxf::MAX_FILE_LEN + 1];
    assert!(matches!(cxf::decode(&huge), Err(CxfError::TooLarge { .. })));
    // Duplicate ids, and the same user twice.
    let mut file = one_passkey();
    let copy = passkey_mut(&mut file).clone();
    file["accounts"][0]["items"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .push(copy.clone());
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::DuplicateCredentialId { .. })
    ));
    let mut other = copy;
    other["credentialId"] = json!(URL_SAFE_NO_PAD.encode(b"cred-2"));
    let mut file = one_passkey();
    file["accounts"][0]["items"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .push(other);
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::DuplicateUser { .. })
    ));
    // A duplicated JSON member.
    let text = serde_json::to_string(&one_passkey()).unwrap().replacen(
        "\"rpId\":\"example.com\"",
        "\"rpId\":\"example.com\",\"rpId\":\"evil.example\"",
        1,
    );
    assert!(matches!(
        import_all(&mut Fixture::new().create(), text.as_bytes(), false),
        Err(VaultError::Cxf(CxfError::Malformed { .. }))
    ));
    // Bad keys: not DER, a zero P-256 scalar, CredRandoms of the wrong size.
    let mut file = one_passkey();
    passkey_mut(&mut file)["key"] = json!(URL_SAFE_NO_PAD.encode(b"not a key"));
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::BadKey { .. })
    ));
    let mut file = one_passkey();
    let zero_scalar = hex_der_p256_with_scalar(&[0; 32]);
    passkey_mut(&mut file)["key"] = json!(URL_SAFE_NO_PAD.encode(zero_scalar));
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::BadKey { .. })
    ));
    let mut file = one_passkey();
    passkey_mut(&mut file)["fido2Extensions"] = json!({"hmacCredentials": {
        "algorithm": "hmac-sha256",
        "credWithUV": URL_SAFE_NO_PAD.encode([1u8; 31]),
        "credWithoutUV": URL_SAFE_NO_PAD.encode([1u8; 32]),
    }});
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::BadExtension { .. })
    ));
    let mut file = one_passkey();
    file["accounts"][0]["items"][0]["extensions"] = json!([{"name": "softkey", "credProtect": 7}]);
    assert!(matches!(
        refused(&file),
        VaultError::Cxf(CxfError::BadExtension { .. })
    ));
}

/// PKCS#8 of a P-256 key with this scalar (RFC 5915 inside RFC 5958).
fn hex_der_p256_with_scalar(scalar: &[u8; 32]) -> Vec<u8> {
    let mut der =
        hex::decode("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420")
            .unwrap();
    der.extend_from_slice(scalar);
    der
}

#[test]
fn unsupported_items_are_reported_with_their_reason_and_the_rest_imports() {
    let mut file = one_passkey();
    let base = passkey_mut(&mut file).clone();
    let variant = |id: &[u8], user: &[u8], change: &dyn Fn(&mut Value)| {
        let mut passkey = base.clone();
        passkey["credentialId"] = json!(URL_SAFE_NO_PAD.encode(id));
        passkey["userHandle"] = json!(URL_SAFE_NO_PAD.encode(user));
        change(&mut passkey);
        passkey
    };
    let mut ed448 = hex::decode("3047020100300506032b6571043b0439").unwrap();
    ed448.extend_from_slice(&[7; 57]);
    let extra = vec![
        variant(b"no-key", b"u2", &|p| {
            p.as_object_mut().unwrap().remove("key");
        }),
        variant(b"ed448", b"u3", &|p| {
            p["key"] = json!(URL_SAFE_NO_PAD.encode(&ed448))
        }),
        variant(b"blob", b"u4", &|p| {
            p["fido2Extensions"] = json!({"credBlob": URL_SAFE_NO_PAD.encode([0u8; 33])})
        }),
        variant(b"hmac", b"u5", &|p| {
            p["fido2Extensions"] = json!({"hmacCredentials": {
                "algorithm": "hmac-sha512",
                "credWithUV": URL_SAFE_NO_PAD.encode([1u8; 32]),
                "credWithoutUV": URL_SAFE_NO_PAD.encode([1u8; 32]),
            }})
        }),
        json!({"type": "note", "content": {"fieldType": "string", "value": "x"}}),
    ];
    file["accounts"][0]["items"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .extend(extra);
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let plan = import_all(&mut vault, &serde_json::to_vec(&file).unwrap(), false).unwrap();
    let reasons: Vec<&ItemOutcome> = plan.items.iter().map(|i| &i.outcome).collect();
    assert_eq!(reasons[0], &ItemOutcome::Import);
    assert_eq!(
        reasons[1],
        &ItemOutcome::Skip {
            reason: SkipReason::MissingKey
        }
    );
    assert_eq!(
        reasons[2],
        &ItemOutcome::Skip {
            reason: SkipReason::UnsupportedAlgorithm {
                algorithm: "Ed448".into()
            }
        }
    );
    assert!(matches!(
        reasons[3],
        ItemOutcome::Skip {
            reason: SkipReason::CredBlobTooLong { len: 33, .. }
        }
    ));
    assert!(matches!(
        reasons[4],
        ItemOutcome::Skip {
            reason: SkipReason::UnsupportedHmacAlgorithm { .. }
        }
    ));
    assert!(matches!(
        reasons[5],
        ItemOutcome::Skip {
            reason: SkipReason::NotAPasskey { .. }
        }
    ));
    assert_eq!(vault.all_discoverable().unwrap().len(), 1);
}

#[test]
fn duplicates_are_kept_unless_replaced_and_dry_run_changes_nothing() {
    let file = one_passkey();
    let bytes = serde_json::to_vec(&file).unwrap();
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    // Same relying party and user handle, another credential.
    vault
        .put_discoverable(&credential(&[0x81, 5], "example.com", b"carol", "carol", 3))
        .unwrap();
    let plan = import_all(&mut vault, &bytes, false).unwrap();
    assert!(
        matches!(&plan.items[0].outcome, ItemOutcome::KeepExisting { existing } if existing == "8105")
    );
    assert!(vault.discoverable_by_id(&[0x81, 5]).unwrap().is_some());
    assert!(vault.discoverable_by_id(b"cred-1").unwrap().is_none());

    let path = fixture.dir.path().join("plain.json");
    std::fs::write(&path, &bytes).unwrap();
    drop(vault);
    let path = path.to_str().unwrap();
    let out = run_on(&fixture, &["import", path, "--dry-run", "--replace"]).unwrap();
    assert!(
        out.contains("would replace 8105") && out.contains("nothing was changed"),
        "{out}"
    );
    assert!(
        fixture
            .open()
            .discoverable_by_id(&[0x81, 5])
            .unwrap()
            .is_some()
    );
    let out = run_on(&fixture, &["import", path, "--replace", "--json"]).unwrap();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["imported"], 1);
    assert_eq!(report["items"][0]["outcome"], "replace");
    let mut vault = fixture.open();
    assert!(vault.discoverable_by_id(&[0x81, 5]).unwrap().is_none());
    assert!(vault.discoverable_by_id(b"cred-1").unwrap().is_some());
}

#[test]
fn import_race_with_a_new_duplicate_writes_nothing() {
    let bytes = serde_json::to_vec(&one_passkey()).unwrap();
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let decoded = cxf::decode(&bytes).unwrap();
    let existing = vault.existing_for_import().unwrap();
    let mut plan = ImportPlan::new(decoded, &existing, |_| false);
    // Another handle makes a passkey for the same user meanwhile.
    fixture
        .open()
        .put_discoverable(&credential(&[0x81, 6], "example.com", b"carol", "carol", 3))
        .unwrap();
    assert!(matches!(
        vault.import_cxf(&mut plan),
        Err(VaultError::ImportRaced)
    ));
    assert!(vault.discoverable_by_id(b"cred-1").unwrap().is_none());
    assert!(vault.discoverable_by_id(&[0x81, 6]).unwrap().is_some());
}
