//! The vault's behaviour through its public API: store semantics, key slots,
//! tamper detection, what the file reveals, and permission checks.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Fixture, credential, raw_blob, raw_set_blob, raw_sql, summary, with_key};
use softkey_authenticator::crypto::{Algorithm, PrivateKey, sha256};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{SettingKey, Store, StoreError};
use softkey_vault::{KdfParams, SlotKind, Unlocker, Vault, VaultError};

const ID_A: [u8; 32] = [0x81; 32];
const ID_B: [u8; 32] = [0x82; 32];

#[test]
fn stores_and_finds_credentials_across_reopen() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let a = credential(&ID_A, "example.com", b"alice", "alice", 1);
    let b = credential(&ID_B, "other.org", b"bob", "bob", 2);
    vault.put_discoverable(&a).unwrap();
    vault.put_discoverable(&b).unwrap();
    let secret = vault.device_secret().unwrap().expose_secret().to_vec();
    drop(vault);

    let mut vault = fixture.open();
    assert_eq!(vault.discoverable_count().unwrap(), 2);
    let found = vault.discoverable_for_rp(&sha256(b"example.com")).unwrap();
    assert_eq!(
        found.iter().map(summary).collect::<Vec<_>>(),
        vec![summary(&a)]
    );
    let by_id = vault.discoverable_by_id(&ID_B).unwrap().unwrap();
    assert_eq!(summary(&by_id), summary(&b));
    assert!(vault.discoverable_by_id(&[9; 32]).unwrap().is_none());
    assert_eq!(
        vault.device_secret().unwrap().expose_secret().to_vec(),
        secret
    );
    assert!(
        vault
            .discoverable_for_rp(&sha256(b"nobody.net"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn same_rp_and_user_replaces_and_same_id_updates() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    // Same rp + user handle, new id: replaces.
    vault
        .put_discoverable(&credential(&ID_B, "example.com", b"alice", "alice2", 2))
        .unwrap();
    let all = vault.all_discoverable().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].credential_id, ID_B);
    // Same id: updates in place (signature counter).
    let mut updated = credential(&ID_B, "example.com", b"alice", "alice2", 2);
    updated.sign_count = 7;
    let created_before = vault.list().unwrap()[0].created;
    vault.put_discoverable(&updated).unwrap();
    let listed = vault.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sign_count, 7);
    assert_eq!(listed[0].created, created_before);
    assert_eq!(listed[0].user_name.as_deref(), Some("alice2"));
    // Same user handle under another rp: a separate credential.
    vault
        .put_discoverable(&credential(&ID_A, "other.org", b"alice", "alice", 1))
        .unwrap();
    assert_eq!(vault.discoverable_count().unwrap(), 2);
    assert!(vault.delete(&ID_A).unwrap());
    assert!(!vault.delete(&ID_A).unwrap());
    assert_eq!(vault.discoverable_count().unwrap(), 1);
}

#[test]
fn counter_settings_and_wipe() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    assert_eq!(vault.next_global_counter().unwrap(), 1);
    assert_eq!(vault.next_global_counter().unwrap(), 2);
    vault
        .put_setting(SettingKey::PinState, Some(b"pin"))
        .unwrap();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    drop(vault);
    let mut vault = fixture.open();
    assert_eq!(vault.next_global_counter().unwrap(), 3);
    assert!(
        vault
            .setting(SettingKey::PinState)
            .unwrap()
            .unwrap()
            .ct_eq(b"pin")
    );
    assert!(vault.setting(SettingKey::Config).unwrap().is_none());
    vault.put_setting(SettingKey::PinState, None).unwrap();
    assert!(vault.setting(SettingKey::PinState).unwrap().is_none());
    vault.put_setting(SettingKey::Config, Some(b"cfg")).unwrap();
    vault
        .put_setting(SettingKey::AttestationIdentity, Some(b"device identity"))
        .unwrap();

    vault.wipe(Secret32::new([42; 32])).unwrap();
    drop(vault);
    let mut vault = fixture.open();
    assert_eq!(vault.discoverable_count().unwrap(), 0);
    assert!(vault.setting(SettingKey::Config).unwrap().is_none());
    // The device's attestation identity outlives a reset.
    assert!(
        vault
            .setting(SettingKey::AttestationIdentity)
            .unwrap()
            .unwrap()
            .ct_eq(b"device identity")
    );
    assert_eq!(vault.device_secret().unwrap().expose_secret(), &[42; 32]);
    assert_eq!(vault.next_global_counter().unwrap(), 1);
}

#[test]
fn passphrase_slots_add_remove_change() {
    let fixture = Fixture::new();
    let fast = KdfParams::danger_fast_for_tests();
    let mut vault =
        Vault::create(&fixture.vault_path, &Unlocker::passphrase("first"), fast).unwrap();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    let first = vault.unlocked_slot();
    let key_slot = vault.add_slot(&fixture.unlocker(), fast).unwrap();
    assert_ne!(first, key_slot);
    let changed = vault
        .change_passphrase(first, &Unlocker::passphrase("second"), fast)
        .unwrap();
    let kinds: Vec<_> = vault.slots().unwrap().iter().map(|s| s.kind).collect();
    assert_eq!(kinds, vec![SlotKind::KeyFile, SlotKind::Passphrase]);
    drop(vault);

    assert!(matches!(
        Vault::open(&fixture.vault_path, &Unlocker::passphrase("first")),
        Err(VaultError::WrongPassphrase)
    ));
    let mut vault = Vault::open(&fixture.vault_path, &Unlocker::passphrase("second")).unwrap();
    assert_eq!(vault.unlocked_slot(), changed);
    assert_eq!(vault.discoverable_count().unwrap(), 1);
    vault.remove_slot(changed).unwrap();
    assert!(matches!(
        vault.remove_slot(key_slot),
        Err(VaultError::LastSlot(_))
    ));
    assert!(matches!(
        vault.remove_slot(99),
        Err(VaultError::NoSuchSlot(99))
    ));
    drop(vault);
    assert!(matches!(
        Vault::open(&fixture.vault_path, &Unlocker::passphrase("second")),
        Err(VaultError::NoMatchingSlot { kind: "passphrase" })
    ));
    let mut vault = fixture.open();
    assert_eq!(vault.discoverable_count().unwrap(), 1);
}

#[test]
fn wrong_passphrase_and_wrong_key_file_have_their_own_errors() {
    let fixture = Fixture::new();
    let fast = KdfParams::danger_fast_for_tests();
    drop(Vault::create(&fixture.vault_path, &Unlocker::passphrase("right"), fast).unwrap());
    assert!(matches!(
        Vault::open(&fixture.vault_path, &Unlocker::passphrase("wrong")),
        Err(VaultError::WrongPassphrase)
    ));
    assert!(matches!(
        Vault::open(&fixture.vault_path, &fixture.unlocker()),
        Err(VaultError::NoMatchingSlot { kind: "key-file" })
    ));
    Vault::open(&fixture.vault_path, &Unlocker::passphrase("right")).unwrap();
}

#[test]
fn create_refuses_to_overwrite_and_open_refuses_non_vaults() {
    let fixture = Fixture::new();
    drop(fixture.create());
    assert!(matches!(
        Vault::create(
            &fixture.vault_path,
            &fixture.unlocker(),
            KdfParams::danger_fast_for_tests()
        ),
        Err(VaultError::AlreadyExists { .. })
    ));
    let other = fixture.dir.path().join("other.sqlite");
    raw_sql(&other, "CREATE TABLE t (x);");
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        Vault::open(&other, &fixture.unlocker()),
        Err(VaultError::NotAVault { .. })
    ));
    let garbage = fixture.dir.path().join("garbage");
    std::fs::write(&garbage, vec![0x5a; 4096]).unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        Vault::open(&garbage, &fixture.unlocker()),
        Err(VaultError::NotAVault { .. })
    ));
}

#[test]
fn newer_schema_is_refused_as_such() {
    let fixture = Fixture::new();
    drop(fixture.create());
    raw_sql(&fixture.vault_path, "PRAGMA user_version = 99;");
    assert!(matches!(
        Vault::open(&fixture.vault_path, &fixture.unlocker()),
        Err(VaultError::UnsupportedVersion { found: 99, .. })
    ));
}

#[allow(clippy::unwrap_used)] // a test helper
fn two_credentials(fixture: &Fixture) {
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    vault
        .put_discoverable(&credential(&ID_B, "other.org", b"bob", "bob", 2))
        .unwrap();
}

fn assert_tampered(vault: &mut Vault, expected_row: &str) {
    match vault.list() {
        Err(VaultError::Tampered { table, row }) => {
            assert_eq!(table, "credentials");
            assert_eq!(row, expected_row);
        }
        other => panic!("expected a tamper error, got {other:?}"),
    }
    // Through the Store trait: the call fails, the row never silently vanishes.
    assert!(matches!(
        vault.all_discoverable(),
        Err(StoreError::Corrupt(_))
    ));
}

/// Opening must fail, naming the credentials row.
fn assert_open_fails_tampered(fixture: &Fixture, expected_row: &str) {
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Err(VaultError::Tampered { table, row }) => {
            assert_eq!((table, row.as_str()), ("credentials", expected_row));
        }
        other => panic!("expected a tamper error at open, got {other:?}"),
    }
}

#[test]
fn every_flipped_payload_byte_is_a_named_tamper_error() {
    let fixture = Fixture::new();
    two_credentials(&fixture);
    // A vault open while the file is edited (the daemon), and fresh opens.
    let mut vault = fixture.open();
    let select = "SELECT payload FROM credentials WHERE id = 1";
    let original = raw_blob(&fixture.vault_path, select);
    for index in 0..original.len() {
        let mut flipped = original.clone();
        flipped[index] ^= 0x01;
        raw_set_blob(
            &fixture.vault_path,
            "UPDATE credentials SET payload = ?1 WHERE id = 1",
            &flipped,
        );
        assert_open_fails_tampered(&fixture, "1");
        assert_tampered(&mut vault, "1");
        assert!(matches!(
            vault.discoverable_by_id(&ID_A),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            vault.discoverable_for_rp(&sha256(b"example.com")),
            Err(StoreError::Corrupt(_))
        ));
        // An update of the tampered credential is refused rather than papering over it.
        assert!(
            vault
                .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
                .is_err()
        );
        // The other credential is still reachable by its own lookups.
        assert!(vault.discoverable_by_id(&ID_B).unwrap().is_some());
    }
    raw_set_blob(
        &fixture.vault_path,
        "UPDATE credentials SET payload = ?1 WHERE id = 1",
        &original,
    );
    assert_eq!(vault.list().unwrap().len(), 2);
    assert_eq!(fixture.open().list().unwrap().len(), 2);
}

#[test]
fn swapped_payloads_and_index_columns_are_detected() {
    let fixture = Fixture::new();
    two_credentials(&fixture);
    let mut vault = fixture.open();
    let path = &fixture.vault_path;
    raw_sql(
        path,
        "UPDATE credentials SET payload = (SELECT payload FROM credentials WHERE id = 2) WHERE id = 1;",
    );
    assert_open_fails_tampered(&fixture, "1");
    assert_tampered(&mut vault, "1");

    let fixture = Fixture::new();
    two_credentials(&fixture);
    let mut vault = fixture.open();
    // Point rp B's index at credential A: A must not show up as B's (nor vanish).
    raw_sql(
        &fixture.vault_path,
        "UPDATE credentials SET rp_mac = (SELECT rp_mac FROM credentials WHERE id = 2) WHERE id = 1;",
    );
    assert_open_fails_tampered(&fixture, "1");
    assert!(matches!(
        vault.discoverable_for_rp(&sha256(b"other.org")),
        Err(StoreError::Corrupt(_))
    ));
    assert_tampered(&mut vault, "1");

    let fixture = Fixture::new();
    two_credentials(&fixture);
    let mut vault = fixture.open();
    raw_sql(
        &fixture.vault_path,
        "UPDATE secrets SET payload = (SELECT payload FROM secrets WHERE name = 'device_secret')
         WHERE name = 'device_secret';
         INSERT INTO secrets (name, payload)
             SELECT 'setting/pin_state', payload FROM secrets WHERE name = 'device_secret';",
    );
    match vault.setting(SettingKey::PinState) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("secrets/setting/pin_state")),
        other => panic!("expected corruption, got {other:?}"),
    }
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Err(VaultError::Tampered { table, row }) => {
            assert_eq!((table, row.as_str()), ("secrets", "setting/pin_state"));
        }
        other => panic!("expected a tamper error at open, got {other:?}"),
    }
}

#[test]
fn a_tampered_device_secret_fails_open() {
    let fixture = Fixture::new();
    two_credentials(&fixture);
    let select = "SELECT payload FROM secrets WHERE name = 'device_secret'";
    let mut payload = raw_blob(&fixture.vault_path, select);
    let last = payload.len() - 1;
    payload[last] ^= 0x80;
    raw_set_blob(
        &fixture.vault_path,
        "UPDATE secrets SET payload = ?1 WHERE name = 'device_secret'",
        &payload,
    );
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Err(VaultError::Tampered { table, row }) => {
            assert_eq!((table, row.as_str()), ("secrets", "device_secret"));
        }
        other => panic!("expected a tamper error, got {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn the_file_never_holds_rp_ids_user_names_or_private_keys() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for index in 0..20u8 {
        let rp_id = format!("bank-number-{index}.example");
        let user_name = format!("holder-of-account-{index}");
        let key = PrivateKey::generate(
            if index % 2 == 0 {
                Algorithm::Es256
            } else {
                Algorithm::EdDsa
            },
            &mut rand::rng(),
        );
        needles.push(key.secret_bytes().expose_secret().to_vec());
        needles.push(rp_id.clone().into_bytes());
        needles.push(user_name.clone().into_bytes());
        needles.push(format!("{user_name} Display").into_bytes());
        let mut id = [0x81u8; 32];
        id[1] = index;
        let user_id = format!("user-handle-{index}");
        needles.push(user_id.clone().into_bytes());
        let credential = with_key(&id, &rp_id, user_id.as_bytes(), &user_name, key);
        vault.put_discoverable(&credential).unwrap();
    }
    vault
        .put_setting(SettingKey::PinState, Some(b"pin-state-marker"))
        .unwrap();
    needles.push(b"pin-state-marker".to_vec());
    needles.push(vault.device_secret().unwrap().expose_secret().to_vec());

    let check = |when: &str| {
        let mut files = vec![fixture.vault_path.clone()];
        let wal = fixture.dir.path().join("vault.sqlite-wal");
        if wal.exists() {
            files.push(wal);
        }
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            for needle in &needles {
                assert!(
                    !contains(&bytes, needle),
                    "{} ({when}) holds {:?}",
                    file.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    };
    // While open (the data sits in the write-ahead log) and after a checkpoint.
    check("open");
    drop(vault);
    check("closed");
}

#[test]
fn open_refuses_a_vault_others_can_read_and_says_how_to_fix_it() {
    let fixture = Fixture::new();
    drop(fixture.create());
    std::fs::set_permissions(&fixture.vault_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Err(error @ VaultError::InsecurePermissions { mode: 0o644, .. }) => {
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        other => panic!("expected a permission refusal, got {other:?}"),
    }
    std::fs::set_permissions(&fixture.vault_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(fixture.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Err(error @ VaultError::InsecurePermissions { .. }) => {
            assert!(error.to_string().contains("chmod 700"), "{error}");
        }
        other => panic!("expected a permission refusal, got {other:?}"),
    }
    std::fs::set_permissions(fixture.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    fixture.open();
    // A key file others can read is refused too.
    std::fs::set_permissions(&fixture.key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(matches!(
        Vault::open(&fixture.vault_path, &fixture.unlocker()),
        Err(VaultError::InsecurePermissions { .. })
    ));
}

#[test]
fn create_makes_a_private_directory_and_file() {
    let fixture = Fixture::new();
    let path = fixture.dir.path().join("new/nested/vault.sqlite");
    drop(
        Vault::create(
            &path,
            &fixture.unlocker(),
            KdfParams::danger_fast_for_tests(),
        )
        .unwrap(),
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[test]
fn debug_output_holds_no_secrets() {
    let fixture = Fixture::new();
    let vault = fixture.create();
    let printed = format!("{vault:?} {:?}", Unlocker::passphrase("hunter2"));
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn put_many_is_one_transaction_with_the_same_rules() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    let batch = [
        credential(&ID_A, "example.com", b"alice", "alice", 1),
        credential(&ID_B, "example.com", b"alice", "alice-new", 2),
        credential(&[0x83; 32], "other.org", b"bob", "bob", 3),
    ];
    assert_eq!(vault.put_many(&batch).unwrap(), 3);
    drop(vault);
    let mut vault = fixture.open();
    let mut ids: Vec<_> = vault
        .all_discoverable()
        .unwrap()
        .into_iter()
        .map(|c| c.credential_id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![ID_B.to_vec(), vec![0x83; 32]]);
}

#[test]
fn two_handles_on_one_vault_see_each_others_writes() {
    // The daemon keeps the vault open while `softkey vault list` opens it too.
    let fixture = Fixture::new();
    let mut daemon = fixture.create();
    let mut cli = fixture.open();
    daemon
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    assert_eq!(cli.list().unwrap().len(), 1);
    assert!(cli.delete(&ID_A).unwrap());
    assert!(daemon.discoverable_by_id(&ID_A).unwrap().is_none());
    // Counters stay strictly increasing across handles, each counting from
    // the range it reserved until the other one writes.
    let first = daemon.next_global_counter().unwrap();
    let second = cli.next_global_counter().unwrap();
    let third = daemon.next_global_counter().unwrap();
    assert!(first < second && second < third, "{first} {second} {third}");
}

#[test]
fn a_credential_and_its_setting_are_stored_together_or_not_at_all() {
    // makeCredential's one durable write (issue 15 point 3): the credential
    // and the new credential store state commit in one transaction.
    let fixture = Fixture::new();
    two_credentials(&fixture);
    let mut vault = fixture.open();
    let key = SettingKey::PersistentState;
    let new = credential(&[0x84; 32], "new.example", b"carol", "carol", 4);
    vault
        .put_discoverable_with_setting(&new, key, b"one")
        .unwrap();
    assert_eq!(vault.setting(key).unwrap().unwrap().expose_secret(), b"one");
    assert!(vault.discoverable_by_id(&[0x84; 32]).unwrap().is_some());

    // The credential's write fails (its row was tampered with, so it is
    // reported rather than overwritten): the setting does not change either.
    let select = "SELECT payload FROM credentials WHERE id = 1";
    let original = raw_blob(&fixture.vault_path, select);
    let mut tampered = original.clone();
    tampered[0] ^= 1;
    raw_set_blob(
        &fixture.vault_path,
        "UPDATE credentials SET payload = ?1 WHERE id = 1",
        &tampered,
    );
    let again = credential(&ID_A, "example.com", b"alice", "alice", 1);
    assert!(matches!(
        vault.put_discoverable_with_setting(&again, key, b"two"),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(vault.setting(key).unwrap().unwrap().expose_secret(), b"one");
    raw_set_blob(
        &fixture.vault_path,
        "UPDATE credentials SET payload = ?1 WHERE id = 1",
        &original,
    );
    drop(vault);
    let mut vault = fixture.open();
    assert_eq!(vault.setting(key).unwrap().unwrap().expose_secret(), b"one");
    assert_eq!(vault.list().unwrap().len(), 3);
}
