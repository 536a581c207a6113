//! Schema migrations, tested on vaults the old code wrote: `fixtures/v1` was
//! made by the version-1 vault, `fixtures/v2` by the version-2 vault
//! migrating `v1` (see `fixtures/README.md`).

// Test code throughout (helpers included): a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{raw_blob, raw_sql};
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::pin::{AuthenticatorSettings, PinState};
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::schema::{ROW_FORMAT, SCHEMA_VERSION};
use softkey_vault::{Unlocker, Vault, VaultError};

/// The fixture's device secret, as printed when it was made.
const FIXTURE_DEVICE_SECRET: &str =
    "738c9c76608f6d77378a7e27693ad7ee225cca7e0c18a56e65661d4275cb48bf";

/// A private copy of a fixture (git does not keep modes).
struct FixtureCopy {
    _dir: tempfile::TempDir,
    vault_path: PathBuf,
    key_file: PathBuf,
}

impl FixtureCopy {
    /// Of `fixtures/v1`.
    fn new() -> Self {
        Self::of("v1")
    }

    /// Of `fixtures/<name>`.
    fn of(name: &str) -> Self {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let dir = tempfile::tempdir().unwrap();
        let vault_path = dir.path().join("vault.sqlite");
        let key_file = dir.path().join("vault.key");
        for (from, to) in [("vault.sqlite", &vault_path), ("vault.key", &key_file)] {
            std::fs::copy(fixtures.join(from), to).unwrap();
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Self {
            _dir: dir,
            vault_path,
            key_file,
        }
    }

    fn unlocker(&self) -> Unlocker {
        Unlocker::KeyFile(self.key_file.clone())
    }

    fn version(&self) -> i64 {
        let conn = rusqlite::Connection::open(&self.vault_path).unwrap();
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    /// The version byte of every sealed row.
    fn row_versions(&self) -> Vec<u8> {
        let conn = rusqlite::Connection::open(&self.vault_path).unwrap();
        let mut statement = conn
            .prepare("SELECT payload FROM secrets UNION ALL SELECT payload FROM credentials")
            .unwrap();
        statement
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|payload| payload.unwrap()[0])
            .collect()
    }
}

#[test]
fn a_version_1_vault_migrates_with_everything_kept() {
    let copy = FixtureCopy::new();
    assert_eq!(copy.version(), 1);
    assert!(copy.row_versions().iter().all(|&v| v == 1));

    let mut vault = Vault::open(&copy.vault_path, &copy.unlocker()).unwrap();
    let info = vault.info().unwrap();
    assert_eq!(info.schema_version, SCHEMA_VERSION);
    assert_eq!(info.credentials, 3);
    assert_eq!(info.slots.len(), 2);
    assert_eq!(
        hex::encode(vault.device_secret().unwrap().expose_secret()),
        FIXTURE_DEVICE_SECRET
    );
    let listed: Vec<_> = vault
        .list()
        .unwrap()
        .into_iter()
        .map(|c| (c.rp_id, c.algorithm, c.sign_count, c.user_name))
        .collect();
    assert_eq!(
        listed,
        [
            ("rp1.example", "ES256", 10, "user1@example.com"),
            ("rp2.example", "EdDSA", 20, "user2@example.com"),
            ("rp3.example", "ES256", 30, "user3@example.com"),
        ]
        .map(|(rp, alg, count, user)| (rp.to_owned(), alg, count, Some(user.to_owned())))
    );
    let found = vault.discoverable_for_rp(&sha256(b"rp2.example")).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].credential_id, vec![0x82; 32]);
    assert_eq!(found[0].cred_blob.as_deref(), Some(&[2u8; 4][..]));
    assert!(found[0].large_blob_key.is_some());
    let pin = PinState::load(&mut vault).unwrap();
    assert!(pin.is_set());
    assert_eq!((pin.pin_retries, pin.min_pin_length), (5, 6));
    let settings = AuthenticatorSettings::load(&mut vault).unwrap();
    assert!(settings.always_uv);
    assert!(
        vault
            .setting(SettingKey::LargeBlobArray)
            .unwrap()
            .unwrap()
            .ct_eq(&[0x80, 1, 2, 3])
    );
    softkey_authenticator::attestation::load_or_create(
        &mut vault,
        softkey_authenticator::AAGUID,
        &mut rand::rng(),
    )
    .unwrap();
    assert!(vault.next_global_counter().unwrap() > 5);
    drop(vault);

    // Every row sealed again in the current row format, and the file is at
    // the current schema version.
    assert_eq!(copy.version(), SCHEMA_VERSION);
    assert!(copy.row_versions().iter().all(|&v| v == ROW_FORMAT));
    // The passphrase slot still opens it; opening again migrates nothing.
    let mut vault = Vault::open(
        &copy.vault_path,
        &Unlocker::passphrase("fixture passphrase"),
    )
    .unwrap();
    assert_eq!(vault.list().unwrap().len(), 3);
}

#[test]
fn a_migrated_vault_refuses_a_deleted_pin_state_row() {
    let copy = FixtureCopy::new();
    drop(Vault::open(&copy.vault_path, &copy.unlocker()).unwrap());
    raw_sql(
        &copy.vault_path,
        "DELETE FROM secrets WHERE name = 'setting/pin_state'",
    );
    match Vault::open(&copy.vault_path, &copy.unlocker()) {
        Err(VaultError::RowMissing { table, row }) => {
            assert_eq!((table, row.as_str()), ("secrets", "setting/pin_state"));
        }
        other => panic!("expected the PIN-state row to be missing, got {other:?}"),
    }
}

#[test]
fn lowering_the_schema_version_fails_open_as_tampering() {
    // Marking a migrated vault as version 1 (and dropping its manifest) would
    // have the manifest rebuilt over whatever rows are left: refused.
    let copy = FixtureCopy::new();
    drop(Vault::open(&copy.vault_path, &copy.unlocker()).unwrap());
    raw_sql(
        &copy.vault_path,
        "DELETE FROM secrets WHERE name = 'setting/pin_state';
         DROP TABLE manifest;
         PRAGMA user_version = 1;",
    );
    match Vault::open(&copy.vault_path, &copy.unlocker()) {
        Err(VaultError::Tampered { table, .. }) => assert_eq!(table, "secrets"),
        other => panic!("expected a tamper error, got {other:?}"),
    }
    // Keeping the manifest table does not help either.
    let copy = FixtureCopy::new();
    drop(Vault::open(&copy.vault_path, &copy.unlocker()).unwrap());
    raw_sql(&copy.vault_path, "PRAGMA user_version = 1;");
    assert!(matches!(
        Vault::open(&copy.vault_path, &copy.unlocker()),
        Err(VaultError::Tampered { .. })
    ));
}

#[test]
fn a_failed_migration_leaves_the_version_1_file_as_it_was() {
    let copy = FixtureCopy::new();
    let select = "SELECT payload FROM credentials WHERE id = 2";
    let mut payload = raw_blob(&copy.vault_path, select);
    let last = payload.len() - 1;
    payload[last] ^= 1;
    common::raw_set_blob(
        &copy.vault_path,
        "UPDATE credentials SET payload = ?1 WHERE id = 2",
        &payload,
    );
    match Vault::open(&copy.vault_path, &copy.unlocker()) {
        Err(VaultError::Tampered { table, row }) => {
            assert_eq!((table, row.as_str()), ("credentials", "2"));
        }
        other => panic!("expected a tamper error, got {other:?}"),
    }
    // One transaction: nothing re-sealed, no manifest, still version 1.
    assert_eq!(copy.version(), 1);
    assert!(copy.row_versions().iter().all(|&v| v == 1));
    let conn = rusqlite::Connection::open(&copy.vault_path).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'manifest'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

/// The `CREATE` statement of table `name`.
fn table_sql(conn: &rusqlite::Connection, name: &str) -> String {
    conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
    .unwrap()
}

/// The columns of every index of table `name`.
fn indexed_columns(conn: &rusqlite::Connection, name: &str) -> Vec<Vec<String>> {
    let indexes: Vec<String> = conn
        .prepare(&format!("PRAGMA index_list({name})"))
        .unwrap()
        .query_map([], |r| r.get(1))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    indexes
        .iter()
        .map(|index| {
            conn.prepare(&format!("PRAGMA index_info({index})"))
                .unwrap()
                .query_map([], |r| r.get::<_, Option<String>>(2))
                .unwrap()
                .map(|column| column.unwrap().unwrap_or_default())
                .collect()
        })
        .collect()
}

/// `(id, payload)` of every credentials row, by `id`.
fn credential_payloads(conn: &rusqlite::Connection) -> Vec<(i64, Vec<u8>)> {
    conn.prepare("SELECT id, payload FROM credentials ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_version_2_vault_migrates_to_fewer_b_trees_with_everything_kept() {
    let copy = FixtureCopy::of("v2");
    assert_eq!(copy.version(), 2);
    let conn = rusqlite::Connection::open(&copy.vault_path).unwrap();
    assert!(!table_sql(&conn, "credentials").contains("WITHOUT ROWID"));
    // Version 2: the id_mac, user_mac and rp_mac indexes beside the rowid table.
    assert_eq!(indexed_columns(&conn, "credentials").len(), 3);
    let before = credential_payloads(&conn);
    drop(conn);

    let mut vault = Vault::open(&copy.vault_path, &copy.unlocker()).unwrap();
    assert_eq!(vault.info().unwrap().schema_version, SCHEMA_VERSION);
    assert_eq!(
        hex::encode(vault.device_secret().unwrap().expose_secret()),
        FIXTURE_DEVICE_SECRET
    );
    // Oldest first, with the counters reached (rp1 signed once at version 2).
    let found: Vec<_> = vault
        .all_discoverable()
        .unwrap()
        .into_iter()
        .map(|c| (c.credential_id[0], c.sign_count))
        .collect();
    assert_eq!(found, [(0x81, 11), (0x82, 20), (0x83, 30)]);
    assert!(PinState::load(&mut vault).unwrap().is_set());
    assert!(AuthenticatorSettings::load(&mut vault).unwrap().always_uv);
    let mut rp1 = vault.discoverable_by_id(&[0x81; 32]).unwrap().unwrap();
    assert_eq!(vault.next_sign_count(&mut rp1).unwrap(), 12);
    assert!(vault.next_global_counter().unwrap() > 6);
    drop(vault);

    let conn = rusqlite::Connection::open(&copy.vault_path).unwrap();
    for table in ["credentials", "secrets"] {
        assert!(table_sql(&conn, table).contains("WITHOUT ROWID"), "{table}");
    }
    // One b-tree keyed by id_mac, one index by rp_mac; none by user_mac.
    let mut indexes = indexed_columns(&conn, "credentials");
    indexes.sort();
    assert_eq!(indexes, [vec!["id_mac".to_owned()], vec!["rp_mac".into()]]);
    // The rows of credential format 1 (rp2's Ed25519 key without its public
    // key, rp3's ES256 key) written in the current format; each keeps its place.
    let after = credential_payloads(&conn);
    assert_eq!(
        after.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_ne!(after[1].1, before[1].1, "rp2's format-1 row is rewritten");
    assert_ne!(after[2].1, before[2].1, "rp3's format-1 row is rewritten");
    drop(conn);
    // Opening again migrates and rewrites nothing.
    drop(Vault::open(&copy.vault_path, &copy.unlocker()).unwrap());
    assert_eq!(
        credential_payloads(&rusqlite::Connection::open(&copy.vault_path).unwrap()),
        after
    );

    // A new credential goes last.
    let mut vault = Vault::open(&copy.vault_path, &copy.unlocker()).unwrap();
    let new = common::credential(&[0x84; 32], "rp4.example", b"user4", "user4", 4);
    vault.put_discoverable(&new).unwrap();
    let ids: Vec<u8> = vault
        .all_discoverable()
        .unwrap()
        .iter()
        .map(|c| c.credential_id[0])
        .collect();
    assert_eq!(ids, [0x81, 0x82, 0x83, 0x84]);
    drop(vault);
    assert_eq!(
        credential_payloads(&rusqlite::Connection::open(&copy.vault_path).unwrap())
            .last()
            .map(|(id, _)| *id),
        Some(4)
    );
}

#[test]
fn a_discoverable_credential_stored_with_its_setting_commits_four_pages() {
    // What a discoverable makeCredential writes (issue 15 point 3): the
    // credential (replacing the same user's), the credential store state and
    // the manifest, in one transaction. Version 2 wrote 6 pages (the table,
    // three indexes, the secrets row, the manifest).
    let fixture = common::Fixture::new();
    let mut vault = fixture.create();
    let wal = fixture.vault_path.with_extension("sqlite-wal");
    let frame = 4096 + 24;
    let mut sizes = Vec::new();
    for round in 0..4u8 {
        let before = std::fs::metadata(&wal).unwrap().len();
        let id = [0x81, round, 0, 0];
        vault
            .put_discoverable_with_setting(
                &common::credential(&id, "example.com", b"alice", "alice", round),
                SettingKey::PersistentState,
                &[round; 40],
            )
            .unwrap();
        sizes.push((std::fs::metadata(&wal).unwrap().len() - before) / frame);
    }
    assert_eq!(vault.all_discoverable().unwrap().len(), 1);
    // The first one also extends the file's b-trees; the replacements are steady.
    assert!(sizes[1..].iter().all(|&pages| pages <= 4), "{sizes:?}");
}
