//! CXF export and import through the vault and `softkey vault …`: the kind
//! of a vault, a round trip with every field and extension, the file an
//! independent implementation (Bitwarden's CXF types) reads, files made by
//! another implementation. Malformed, hostile and duplicate items on import:
//! `cxf_import.rs`.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Fixture, credential, import_all, one_passkey, passkey_mut, run_on, with_key};
use serde_json::{Value, json};
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::cxf::{self, CxfError, ItemOutcome, SkipReason};
use softkey_vault::{Vault, VaultError};

const ELIGIBLE: BackupFlags = BackupFlags {
    eligible: true,
    state: false,
};

/// A backup-eligible vault with two eligible passkeys (one with every
/// extension and a large blob) and one device-bound one made before.
fn eligible_vault(fixture: &Fixture) -> Vault {
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&[0x81, 1], "old.example", b"u0", "before", 1))
        .unwrap();
    vault.set_backup_eligible(true).unwrap();
    let mut full = with_key(
        &[0x81, 2],
        "example.com",
        b"alice-handle",
        "alice",
        PrivateKey::generate(Algorithm::Es256, &mut rand::rng()),
    );
    full.backup = ELIGIBLE;
    full.cred_protect = 3;
    full.cred_random_with_uv = Some(Secret32::new([0xA1; 32]));
    full.cred_random_without_uv = Some(Secret32::new([0xA2; 32]));
    full.cred_blob = Some(b"blob of alice".to_vec());
    let large_blob_key = Secret32::new([0xB1; 32]);
    full.large_blob_key = Some(large_blob_key.duplicate());
    vault.put_discoverable(&full).unwrap();
    // A large-blob array holding alice's entry (what a client would write).
    let entry = large_blob_entry(&large_blob_key, b"deflated bytes", 999);
    let array = softkey_authenticator::commands::large_blobs::serialize(
        softkey_authenticator::cbor::encode(ciborium::Value::Array(vec![entry])),
    );
    vault
        .put_setting(SettingKey::LargeBlobArray, Some(&array))
        .unwrap();
    let mut ed = credential(&[0x81, 3], "example.org", b"bob-handle", "bob", 9);
    ed.backup = ELIGIBLE;
    vault.put_discoverable(&ed).unwrap();
    vault
}

fn large_blob_entry(key: &Secret32, compressed: &[u8], orig_size: u64) -> ciborium::Value {
    use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
    let mut aad = b"blob".to_vec();
    aad.extend_from_slice(&orig_size.to_le_bytes());
    let nonce = [7u8; 12];
    let ciphertext = aes_gcm::Aes256Gcm::new(key.expose_secret().into())
        .encrypt(
            &nonce.into(),
            Payload {
                msg: compressed,
                aad: &aad,
            },
        )
        .unwrap();
    ciborium::Value::Map(vec![
        (1.into(), ciborium::Value::Bytes(ciphertext)),
        (2.into(), ciborium::Value::Bytes(nonce.to_vec())),
        (3.into(), i64::try_from(orig_size).unwrap().into()),
    ])
}

#[test]
fn round_trip_keeps_keys_cred_randoms_blobs_and_cred_protect_with_backup_flags() {
    let source = Fixture::new();
    let mut vault = eligible_vault(&source);
    let export = vault.export_cxf().unwrap();
    assert_eq!(
        export.credential_ids.len(),
        2,
        "the device-bound passkey stays"
    );
    let originals: Vec<_> = vault.all_discoverable().unwrap();

    let target = Fixture::new();
    let mut fresh = target.create();
    let plan = import_all(&mut fresh, &export.json, false).unwrap();
    assert_eq!(plan.stored(), 2);
    for id in &export.credential_ids {
        let before = originals.iter().find(|c| &c.credential_id == id).unwrap();
        let after = fresh.discoverable_by_id(id).unwrap().unwrap();
        assert_eq!(common::summary(&after), common::summary(before));
        assert_eq!(after.user.display_name, before.user.display_name);
        assert_eq!(after.cred_protect, before.cred_protect);
        assert_eq!(after.cred_blob, before.cred_blob);
        assert_eq!(
            after
                .cred_random_with_uv
                .as_ref()
                .map(|s| *s.expose_secret()),
            before
                .cred_random_with_uv
                .as_ref()
                .map(|s| *s.expose_secret())
        );
        assert_eq!(
            after
                .cred_random_without_uv
                .as_ref()
                .map(|s| *s.expose_secret()),
            before
                .cred_random_without_uv
                .as_ref()
                .map(|s| *s.expose_secret())
        );
        assert_eq!(
            after.backup,
            BackupFlags {
                eligible: true,
                state: true
            }
        );
        assert_eq!(after.sign_count, 0);
    }
    // alice's large blob: the same compressed bytes under a new key.
    let alice = fresh.discoverable_by_id(&[0x81, 2]).unwrap().unwrap();
    let array = fresh.setting(SettingKey::LargeBlobArray).unwrap().unwrap();
    let blobs = cxf::large_blobs_of(Some(array.expose_secret()), &[&alice]).unwrap();
    let blob = blobs[0].as_ref().unwrap();
    assert_eq!(&blob.compressed[..], b"deflated bytes");
    assert_eq!(blob.uncompressed_size, 999);
    assert_ne!(
        alice.large_blob_key.as_ref().unwrap().expose_secret(),
        &[0xB1; 32],
        "a new largeBlobKey"
    );
}

#[test]
fn bitwarden_cxf_types_read_softkeys_export() {
    let fixture = Fixture::new();
    let export = eligible_vault(&fixture).export_cxf().unwrap();
    let header: credential_exchange_format::Header =
        serde_json::from_slice(&export.json).expect("Bitwarden's CXF types read the export");
    assert_eq!((header.version.major, header.version.minor), (1, 0));
    assert_eq!(header.accounts.len(), 1);
    let passkeys: Vec<_> = header.accounts[0]
        .items
        .iter()
        .flat_map(|item| &item.credentials)
        .filter_map(|c| match c {
            credential_exchange_format::Credential::Passkey(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(passkeys.len(), 2);
    let alice = passkeys.iter().find(|p| p.rp_id == "example.com").unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.user_display_name, "alice Display");
    assert_eq!(alice.user_handle.as_ref(), b"alice-handle");
    assert_eq!(alice.credential_id.as_ref(), &[0x81, 2]);
    let extensions = alice.fido2_extensions.as_ref().unwrap();
    let hmac = extensions.hmac_credentials.as_ref().unwrap();
    assert!(matches!(
        hmac.algorithm,
        credential_exchange_format::Fido2HmacCredentialAlgorithm::HmacSha256
    ));
    assert_eq!(hmac.cred_with_uv.as_ref(), &[0xA1; 32]);
    assert_eq!(hmac.cred_without_uv.as_ref(), &[0xA2; 32]);
    assert_eq!(
        extensions.cred_blob.as_ref().unwrap().as_ref(),
        b"blob of alice"
    );
    let large_blob = extensions.large_blob.as_ref().unwrap();
    assert_eq!(large_blob.uncompressed_size, 999);
    assert_eq!(large_blob.data.as_ref(), b"deflated bytes");
    // The key is PKCS#8 of a P-256 key (what p256 itself parses).
    use p256::pkcs8::DecodePrivateKey as _;
    p256::SecretKey::from_pkcs8_der(alice.key.as_ref()).unwrap();
}

#[test]
fn device_bound_vault_refuses_to_export_with_a_clear_message() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&[0x81, 1], "example.com", b"u", "alice", 1))
        .unwrap();
    let error = vault.export_cxf().unwrap_err();
    assert!(matches!(error, VaultError::DeviceBound));
    let message = error.to_string();
    assert!(
        message.contains("device-bound") && message.contains("--backup-eligible"),
        "{message}"
    );
    // Through the CLI, no file is written.
    let out = fixture.dir.path().join("out.cxf");
    let refused = run_on(
        &fixture,
        &[
            "export",
            "--format",
            "cxf",
            "--out",
            out.to_str().unwrap(),
            "--danger-plaintext",
        ],
    );
    assert!(matches!(refused, Err(VaultError::DeviceBound)));
    assert!(!out.exists());
}

#[test]
fn backup_eligibility_survives_an_authenticator_reset_and_reopening() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    assert!(!vault.backup_eligible().unwrap());
    assert!(!vault.credential_policy().unwrap().backup_eligible());
    vault.set_backup_eligible(true).unwrap();
    vault.wipe(Secret32::new([9; 32])).unwrap();
    drop(vault);
    let mut vault = fixture.open();
    assert!(vault.backup_eligible().unwrap());
    vault.set_backup_eligible(false).unwrap();
    assert!(!fixture.open().backup_eligible().unwrap());
}

#[test]
fn export_marks_backed_up_and_list_shows_backup_flags() {
    let fixture = Fixture::new();
    drop(eligible_vault(&fixture));
    let out = fixture.dir.path().join("export.cxf.age");
    // X25519: what the distributions' age command reads.
    #[allow(deprecated)]
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let printed = run_on(
        &fixture,
        &[
            "export",
            "--out",
            out.to_str().unwrap(),
            "--age-recipient",
            &recipient,
        ],
    )
    .unwrap();
    assert!(printed.contains("Exported 2 passkeys"), "{printed}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let list = run_on(&fixture, &["list", "--json"]).unwrap();
    let list: Value = serde_json::from_str(&list).unwrap();
    let flags: Vec<(String, bool, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["rp_id"].as_str().unwrap().to_owned(),
                c["backup_eligible"].as_bool().unwrap(),
                c["backup_state"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(flags.contains(&("example.com".into(), true, true)));
    assert!(flags.contains(&("example.org".into(), true, true)));
    assert!(flags.contains(&("old.example".into(), false, false)));
    let human = run_on(&fixture, &["list"]).unwrap();
    assert!(
        human.contains("BE=1 BS=1") && human.contains("BE=0 BS=0"),
        "{human}"
    );
    // An existing file is never overwritten.
    let again = run_on(
        &fixture,
        &[
            "export",
            "--out",
            out.to_str().unwrap(),
            "--age-recipient",
            &recipient,
        ],
    );
    assert!(matches!(again, Err(VaultError::AlreadyExists { .. })));

    // The age file opens with the identity, through the CLI import.
    let identity_file = fixture.dir.path().join("identity.txt");
    use age::secrecy::ExposeSecret as _;
    std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();
    let target = Fixture::new();
    target.create();
    let printed = run_on(
        &target,
        &[
            "import",
            out.to_str().unwrap(),
            "--age-identity",
            identity_file.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(printed.contains("Imported 2 passkeys"), "{printed}");
}

#[test]
fn passphrase_export_imports_with_the_passphrase_only() {
    let fixture = Fixture::new();
    drop(eligible_vault(&fixture));
    let pass = fixture.dir.path().join("export-pass");
    std::fs::write(&pass, "export passphrase\n").unwrap();
    let wrong = fixture.dir.path().join("wrong-pass");
    std::fs::write(&wrong, "another one\n").unwrap();
    let out = fixture.dir.path().join("export.age");
    run_on(
        &fixture,
        &[
            "export",
            "--out",
            out.to_str().unwrap(),
            "--age-passphrase-file",
            pass.to_str().unwrap(),
        ],
    )
    .unwrap();
    let file = std::fs::read(&out).unwrap();
    assert_eq!(cxf::kind_of(&file).unwrap(), cxf::FileKind::AgePassphrase);
    let target = Fixture::new();
    target.create();
    let import = |pass: &Path| {
        run_on(
            &target,
            &[
                "import",
                out.to_str().unwrap(),
                "--age-passphrase-file",
                pass.to_str().unwrap(),
            ],
        )
    };
    assert!(matches!(
        import(&wrong),
        Err(VaultError::Cxf(CxfError::Decryption(_)))
    ));
    assert_eq!(target.open().all_discoverable().unwrap().len(), 0);
    assert!(import(&pass).unwrap().contains("Imported 2 passkeys"));
}

#[test]
fn bitwarden_sdk_cxf_example_imports_its_passkey_and_reports_the_rest() {
    let json = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cxf/bitwarden_sdk_cxf_example.json"),
    )
    .unwrap();
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let plan = import_all(&mut vault, &json, false).unwrap();
    let outcomes: Vec<(&str, &ItemOutcome)> = plan
        .items
        .iter()
        .map(|i| (i.at.as_str(), &i.outcome))
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert!(matches!(
        outcomes[0].1,
        ItemOutcome::Skip { reason: SkipReason::NotAPasskey { kind } } if kind == "basic-auth"
    ));
    assert!(matches!(
        outcomes[1].1,
        ItemOutcome::Skip { reason: SkipReason::NotAPasskey { kind } } if kind == "totp"
    ));
    assert_eq!(
        outcomes[2],
        ("accounts[0].items[1].credentials[0]", &ItemOutcome::Import)
    );
    let imported = vault
        .discoverable_by_id(b"credentialIdExample")
        .unwrap()
        .unwrap();
    assert_eq!(imported.rp_id, "webauthn.io");
    assert_eq!(imported.user.name.as_deref(), Some("johndoe"));
    assert_eq!(imported.user.display_name.as_deref(), Some("John Doe"));
    assert_eq!(imported.rp_name.as_deref(), Some("WebAuthn.io"));
    assert_eq!(imported.algorithm(), Algorithm::Es256);
    assert_eq!(
        imported.backup,
        BackupFlags {
            eligible: true,
            state: true
        }
    );
    assert!(
        imported.cred_random_with_uv.is_none(),
        "hmacSecret is not a CXF member"
    );
    // It signs, and its signature verifies under the fixture's public key.
    let signature = imported
        .private_key
        .sign(b"message", &mut rand::rng())
        .unwrap();
    assert!(!signature.is_empty());
}

#[test]
fn payments_member_round_trips_as_third_party_payment() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault.set_backup_eligible(true).unwrap();
    let mut file = one_passkey();
    passkey_mut(&mut file)["fido2Extensions"] = json!({"payments": true});
    import_all(&mut vault, &serde_json::to_vec(&file).unwrap(), false).unwrap();
    let stored = vault.all_discoverable().unwrap();
    assert!(stored[0].third_party_payment);
    let export = vault.export_cxf().unwrap();
    let written: Value = serde_json::from_slice(&export.json).unwrap();
    let passkey = &written["accounts"][0]["items"][0]["credentials"][0];
    assert_eq!(passkey["fido2Extensions"]["payments"], json!(true));
    // A passkey that is no payment credential writes no member.
    let mut file = one_passkey();
    passkey_mut(&mut file)["credentialId"] = json!(URL_SAFE_NO_PAD.encode(b"cred-2"));
    passkey_mut(&mut file)["userHandle"] = json!(URL_SAFE_NO_PAD.encode(b"dave"));
    import_all(&mut vault, &serde_json::to_vec(&file).unwrap(), false).unwrap();
    let export = vault.export_cxf().unwrap();
    let written: Value = serde_json::from_slice(&export.json).unwrap();
    let items = written["accounts"][0]["items"].as_array().unwrap();
    let without: Vec<_> = items
        .iter()
        .filter(|i| {
            i["credentials"][0]["fido2Extensions"]
                .get("payments")
                .is_none()
        })
        .collect();
    assert_eq!(without.len(), 1);
}

#[test]
fn export_reports_ml_dsa_passkey_unexportable_and_writes_the_rest() {
    let fixture = Fixture::new();
    let mut vault = eligible_vault(&fixture);
    let mut post_quantum = with_key(
        &[0x81, 4],
        "pq.example",
        b"carol-handle",
        "carol",
        PrivateKey::generate(Algorithm::MlDsa65, &mut rand::rng()),
    );
    post_quantum.backup = ELIGIBLE;
    vault.put_discoverable(&post_quantum).unwrap();
    // The library call: the two others in the JSON, ML-DSA-65 refused by name.
    let export = vault.export_cxf().unwrap();
    assert_eq!(export.credential_ids.len(), 2);
    assert!(!export.credential_ids.contains(&vec![0x81, 4]));
    assert_eq!(
        export.refused,
        vec![cxf::Refused {
            credential_id: vec![0x81, 4],
            rp_id: "pq.example".into(),
            reason: "unexportable: ML-DSA-65 has no CXF key form in softkey".into(),
        }]
    );
    let json: Value = serde_json::from_slice(&export.json).unwrap();
    let rp_ids: Vec<&str> = json["accounts"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["credentials"][0]["rpId"].as_str().unwrap())
        .collect();
    assert_eq!(rp_ids.len(), 2, "{rp_ids:?}");
    assert!(!rp_ids.contains(&"pq.example"));
    drop(export);
    drop(vault);
    // The command line: says so, writes the file, leaves its BS clear.
    let out = fixture.dir.path().join("export.cxf");
    let printed = run_on(
        &fixture,
        &[
            "export",
            "--out",
            out.to_str().unwrap(),
            "--danger-plaintext",
        ],
    )
    .unwrap();
    assert!(
        printed.contains("Not exported: credential 8104 of pq.example: unexportable: ML-DSA-65"),
        "{printed}"
    );
    assert!(printed.contains("Exported 2 passkeys"), "{printed}");
    let file: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(file["accounts"][0]["items"].as_array().unwrap().len(), 2);
    let list: Value =
        serde_json::from_str(&run_on(&fixture, &["list", "--json"]).unwrap()).unwrap();
    let pq = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rp_id"] == "pq.example")
        .unwrap();
    assert_eq!(pq["backup_state"], false, "not backed up: not in the file");
}
