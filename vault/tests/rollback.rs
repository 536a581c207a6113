//! Rollback and splicing by someone who can write the vault file but holds no
//! key (issue 13 point 3): deleting a sealed row, writing an older sealed row
//! back, or copying one in from another vault must be a named tamper error when
//! the vault opens (and when an open vault reads it), never a silent default.

// Test code throughout (helpers included): a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, credential, raw_blob, raw_set_blob, raw_sql};
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::pin::PinState;
use softkey_authenticator::secret::SecretBytes;
use softkey_authenticator::store::{SettingKey, Store, StoreError};
use softkey_vault::{Vault, VaultError};

const ID_A: [u8; 32] = [0x81; 32];
const ID_B: [u8; 32] = [0x82; 32];

fn pin_state(retries: u8) -> PinState {
    PinState {
        pin_hash: Some(SecretBytes::from_slice(&[0x55; 16])),
        pin_code_points: 4,
        pin_retries: retries,
        ..PinState::default()
    }
}

/// A vault with a PIN (8 retries), a global counter at 2 and two credentials.
fn populated(fixture: &Fixture) -> Vault {
    let mut vault = fixture.create();
    pin_state(8).save(&mut vault).unwrap();
    vault.next_global_counter().unwrap();
    vault.next_global_counter().unwrap();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    vault
        .put_discoverable(&credential(&ID_B, "other.org", b"bob", "bob", 2))
        .unwrap();
    vault
}

const PIN_ROW: &str = "SELECT payload FROM secrets WHERE name = 'setting/pin_state'";
const PUT_PIN_ROW: &str = "UPDATE secrets SET payload = ?1 WHERE name = 'setting/pin_state'";
const COUNTER_ROW: &str = "SELECT payload FROM secrets WHERE name = 'global_counter'";
const PUT_COUNTER_ROW: &str = "UPDATE secrets SET payload = ?1 WHERE name = 'global_counter'";

/// Opens the vault, which must fail as tampering; returns the error.
fn open_error(fixture: &Fixture, attack: &str) -> VaultError {
    match Vault::open(&fixture.vault_path, &fixture.unlocker()) {
        Ok(mut vault) => panic!(
            "the vault opened although {attack}: PIN set = {:?}, counter next = {:?}, credentials = {:?}",
            PinState::load(&mut vault).map(|p| (p.is_set(), p.pin_retries)),
            vault.next_global_counter(),
            vault.discoverable_count(),
        ),
        Err(error) => error,
    }
}

fn assert_missing(error: &VaultError, table: &str, row: &str) {
    match error {
        VaultError::RowMissing { table: t, row: r } => assert_eq!((*t, r.as_str()), (table, row)),
        other => panic!("expected RowMissing {table}/{row}, got {other:?}"),
    }
    assert!(error.to_string().contains("missing"), "{error}");
}

fn assert_replaced(error: &VaultError, table: &str, row: &str) {
    match error {
        VaultError::RowReplaced { table: t, row: r } => {
            assert_eq!((*t, r.as_str()), (table, row));
        }
        other => panic!("expected RowReplaced {table}/{row}, got {other:?}"),
    }
}

fn assert_credential_set(error: &VaultError, found_rows: u64, listed_rows: u64) {
    match error {
        VaultError::CredentialSetMismatch { found, listed } => {
            assert_eq!((*found, *listed), (found_rows, listed_rows));
        }
        other => panic!("expected a credential-set mismatch, got {other:?}"),
    }
}

fn assert_unknown(error: &VaultError, table: &str) {
    match error {
        VaultError::RowUnknown { table: t, .. } => assert_eq!(*t, table),
        other => panic!("expected RowUnknown in {table}, got {other:?}"),
    }
}

#[test]
fn deleting_the_pin_state_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    drop(populated(&fixture));
    raw_sql(
        &fixture.vault_path,
        "DELETE FROM secrets WHERE name = 'setting/pin_state'",
    );
    let error = open_error(&fixture, "the PIN-state row was deleted");
    assert_missing(&error, "secrets", "setting/pin_state");
}

#[test]
fn replaying_an_older_pin_state_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let eight_retries = raw_blob(&fixture.vault_path, PIN_ROW);
    pin_state(5).save(&mut vault).unwrap();
    drop(vault);
    raw_set_blob(&fixture.vault_path, PUT_PIN_ROW, &eight_retries);
    let error = open_error(
        &fixture,
        "an older PIN-state row (8 retries) was written back",
    );
    assert_replaced(&error, "secrets", "setting/pin_state");
}

#[test]
fn replaying_an_older_global_counter_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let older = raw_blob(&fixture.vault_path, COUNTER_ROW);
    // Past any range reserved so far: the counter row is written again.
    for _ in 0..1000 {
        vault.next_global_counter().unwrap();
    }
    drop(vault);
    assert_ne!(raw_blob(&fixture.vault_path, COUNTER_ROW), older);
    raw_set_blob(&fixture.vault_path, PUT_COUNTER_ROW, &older);
    let error = open_error(&fixture, "an older global-counter row was written back");
    assert_replaced(&error, "secrets", "global_counter");
}

#[test]
fn deleting_the_global_counter_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    drop(populated(&fixture));
    raw_sql(
        &fixture.vault_path,
        "DELETE FROM secrets WHERE name = 'global_counter'",
    );
    let error = open_error(&fixture, "the global-counter row was deleted");
    assert_missing(&error, "secrets", "global_counter");
}

#[test]
fn deleting_a_credential_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    drop(populated(&fixture));
    raw_sql(&fixture.vault_path, "DELETE FROM credentials WHERE id = 1");
    let error = open_error(&fixture, "a credential row was deleted");
    assert_credential_set(&error, 1, 2);
}

#[test]
fn replaying_an_older_credential_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let select = "SELECT payload FROM credentials WHERE id = 1";
    let older = raw_blob(&fixture.vault_path, select);
    let mut updated = credential(&ID_A, "example.com", b"alice", "alice", 1);
    updated.user.display_name = Some("Alice, renamed".into());
    vault.put_discoverable(&updated).unwrap();
    drop(vault);
    raw_set_blob(
        &fixture.vault_path,
        "UPDATE credentials SET payload = ?1 WHERE id = 1",
        &older,
    );
    let error = open_error(&fixture, "an older credential row was written back");
    assert_credential_set(&error, 2, 2);
}

#[test]
fn a_deleted_credential_written_back_fails_open_as_tampering() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let row = "SELECT id || ', ' || quote(id_mac) || ', ' || quote(rp_mac) || ', ' \
               || quote(user_mac) || ', ' || quote(payload) FROM credentials WHERE id = 1";
    let conn = rusqlite::Connection::open(&fixture.vault_path).unwrap();
    let values: String = conn.query_row(row, [], |r| r.get(0)).unwrap();
    drop(conn);
    assert!(vault.delete(&ID_A).unwrap());
    drop(vault);
    raw_sql(
        &fixture.vault_path,
        &format!(
            "INSERT INTO credentials (id, id_mac, rp_mac, user_mac, payload) VALUES ({values})"
        ),
    );
    let error = open_error(&fixture, "a deleted credential row was written back");
    assert_credential_set(&error, 2, 1);
}

#[test]
fn a_row_copied_from_another_vault_fails_open_as_tampering() {
    let ours = Fixture::new();
    drop(populated(&ours));
    let theirs = Fixture::new();
    let mut other = theirs.create();
    pin_state(8).save(&mut other).unwrap();
    other
        .put_discoverable(&credential(&[0x83; 32], "evil.example", b"eve", "eve", 3))
        .unwrap();
    drop(other);
    raw_sql(
        &ours.vault_path,
        &format!(
            "ATTACH DATABASE '{}' AS other;
             INSERT INTO credentials (id, id_mac, rp_mac, user_mac, payload)
                 SELECT 9, id_mac, rp_mac, user_mac, payload FROM other.credentials;
             DETACH DATABASE other;",
            theirs.vault_path.display()
        ),
    );
    let error = open_error(&ours, "a credential row of another vault was copied in");
    match &error {
        VaultError::Tampered { table, .. } => assert_eq!(*table, "credentials"),
        other => panic!("expected a tampered credential row, got {other:?}"),
    }

    // Another vault's PIN state in place of ours.
    let ours = Fixture::new();
    drop(populated(&ours));
    let foreign = raw_blob(&theirs.vault_path, PIN_ROW);
    raw_set_blob(&ours.vault_path, PUT_PIN_ROW, &foreign);
    let error = open_error(&ours, "another vault's PIN-state row was copied in");
    match &error {
        VaultError::Tampered { table, row } => {
            assert_eq!((*table, row.as_str()), ("secrets", "setting/pin_state"));
        }
        other => panic!("expected a tampered PIN-state row, got {other:?}"),
    }
}

#[test]
fn a_row_from_a_diverged_copy_of_the_vault_fails_open_as_tampering() {
    // A copy of the same vault (same keys) that lived on: its PIN state, with
    // 8 retries, spliced into the original, where 2 are left.
    let fixture = Fixture::new();
    drop(populated(&fixture));
    let copy_dir = tempfile::tempdir().unwrap();
    let copy_path = copy_dir.path().join("vault.sqlite");
    raw_sql(
        &fixture.vault_path,
        &format!("VACUUM INTO '{}'", copy_path.display()),
    );
    std::fs::set_permissions(
        &copy_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut copy = Vault::open(&copy_path, &fixture.unlocker()).unwrap();
    pin_state(8).save(&mut copy).unwrap();
    drop(copy);
    let mut vault = fixture.open();
    pin_state(2).save(&mut vault).unwrap();
    drop(vault);
    raw_set_blob(
        &fixture.vault_path,
        PUT_PIN_ROW,
        &raw_blob(&copy_path, PIN_ROW),
    );
    let error = open_error(&fixture, "a diverged copy's PIN-state row was spliced in");
    assert_replaced(&error, "secrets", "setting/pin_state");
}

#[test]
fn deleting_the_pin_state_row_under_an_open_vault_is_a_tamper_error() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    raw_sql(
        &fixture.vault_path,
        "DELETE FROM secrets WHERE name = 'setting/pin_state'",
    );
    match vault.setting(SettingKey::PinState) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("missing"), "{message}"),
        other => panic!("expected a tamper error, got {other:?}"),
    }
    assert!(PinState::load(&mut vault).is_err());
}

#[test]
fn deleting_a_credential_row_under_an_open_vault_is_a_tamper_error() {
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    raw_sql(&fixture.vault_path, "DELETE FROM credentials WHERE id = 1");
    assert!(matches!(
        vault.discoverable_for_rp(&sha256(b"example.com")),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        vault.discoverable_by_id(&ID_A),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        vault.all_discoverable(),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(vault.list(), Err(VaultError::RowMissing { .. })));
}

#[test]
fn a_replayed_key_slot_fails_open_as_tampering() {
    // `vault passwd` replaced the passphrase slot; writing the old slot row back
    // must not make the old passphrase open the vault again.
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let old = softkey_vault::Unlocker::passphrase("old passphrase");
    let fast = softkey_vault::KdfParams::danger_fast_for_tests();
    let slot = vault.add_slot(&old, fast).unwrap();
    let conn = rusqlite::Connection::open(&fixture.vault_path).unwrap();
    let values: String = conn
        .query_row(
            "SELECT id || ', ' || quote(kind) || ', ' || m_cost_kib || ', ' || t_cost || ', ' \
             || p_cost || ', ' || quote(salt) || ', ' || quote(wrapped_key) || ', ' || created \
             FROM slots WHERE id = ?1",
            [slot],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    vault
        .change_passphrase(
            slot,
            &softkey_vault::Unlocker::passphrase("new passphrase"),
            fast,
        )
        .unwrap();
    drop(vault);
    raw_sql(
        &fixture.vault_path,
        &format!(
            "INSERT INTO slots (id, kind, m_cost_kib, t_cost, p_cost, salt, wrapped_key, created)
             VALUES ({values})"
        ),
    );
    match Vault::open(&fixture.vault_path, &old) {
        Ok(_) => panic!("the old passphrase opened the vault through a replayed slot"),
        Err(error) => assert_unknown(&error, "slots"),
    }
    // Whichever unlocker is used, the replayed slot is found.
    assert_unknown(
        &open_error(&fixture, "a slot row was written back"),
        "slots",
    );
}

#[test]
fn deleting_the_manifest_row_fails_open_as_tampering() {
    let fixture = Fixture::new();
    drop(populated(&fixture));
    raw_sql(&fixture.vault_path, "DELETE FROM manifest");
    assert_missing(
        &open_error(&fixture, "the manifest row was deleted"),
        "manifest",
        "1",
    );
}

#[test]
fn a_replayed_manifest_row_fails_open_as_tampering() {
    // An older manifest with today's rows: the rows are not its state.
    let fixture = Fixture::new();
    drop(populated(&fixture));
    let mut vault = fixture.open();
    let older = raw_blob(&fixture.vault_path, "SELECT payload FROM manifest");
    let older_generation = raw_generation(&fixture);
    pin_state(3).save(&mut vault).unwrap();
    drop(vault);
    let conn = rusqlite::Connection::open(&fixture.vault_path).unwrap();
    conn.execute(
        "UPDATE manifest SET payload = ?1, generation = ?2",
        rusqlite::params![older, older_generation],
    )
    .unwrap();
    drop(conn);
    assert_replaced(
        &open_error(&fixture, "an older manifest was written back"),
        "secrets",
        "setting/pin_state",
    );
}

fn raw_generation(fixture: &Fixture) -> i64 {
    let conn = rusqlite::Connection::open(&fixture.vault_path).unwrap();
    conn.query_row("SELECT generation FROM manifest", [], |r| r.get(0))
        .unwrap()
}

/// Writes every table of the copy at `from` over the vault at `to`, in one
/// transaction through SQLite (as a process of the same user could).
fn restore_whole_copy(from: &std::path::Path, to: &std::path::Path) {
    raw_sql(
        to,
        &format!(
            "ATTACH DATABASE '{}' AS old;
             BEGIN;
             DELETE FROM main.secrets; INSERT INTO main.secrets SELECT * FROM old.secrets;
             DELETE FROM main.credentials;
             INSERT INTO main.credentials SELECT * FROM old.credentials;
             DELETE FROM main.slots; INSERT INTO main.slots SELECT * FROM old.slots;
             DELETE FROM main.manifest; INSERT INTO main.manifest SELECT * FROM old.manifest;
             COMMIT;
             DETACH DATABASE old;",
            from.display()
        ),
    );
}

fn copy_of(fixture: &Fixture) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.sqlite");
    raw_sql(
        &fixture.vault_path,
        &format!("VACUUM INTO '{}'", path.display()),
    );
    (dir, path)
}

#[test]
fn a_whole_file_rollback_under_an_open_vault_is_detected() {
    let fixture = Fixture::new();
    let mut daemon = populated(&fixture);
    let (_dir, copy) = copy_of(&fixture);
    pin_state(5).save(&mut daemon).unwrap();
    restore_whole_copy(&copy, &fixture.vault_path);
    match daemon.setting(SettingKey::PinState) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("older state"), "{message}"),
        other => panic!("expected a rollback error, got {other:?}"),
    }
    match daemon.list() {
        Err(VaultError::RolledBack { found, seen }) => assert!(found < seen),
        other => panic!("expected RolledBack, got {other:?}"),
    }
}

#[test]
fn whole_file_rollback_while_closed_is_not_detectable_from_the_file() {
    // The limit of what the file alone can show (docs/threat-model.md): an
    // older copy of every row together with its manifest is a valid state.
    let fixture = Fixture::new();
    let mut vault = populated(&fixture);
    let (_dir, copy) = copy_of(&fixture);
    pin_state(5).save(&mut vault).unwrap();
    drop(vault);
    restore_whole_copy(&copy, &fixture.vault_path);
    let mut vault = fixture.open();
    assert_eq!(PinState::load(&mut vault).unwrap().pin_retries, 8);
}
