//! Schema migrations, tested on a vault the old code wrote: `fixtures/v1` was
//! made by the version-1 vault (see `fixtures/README.md`).

// Test code throughout (helpers included): a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{raw_blob, raw_sql};
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::pin::{AuthenticatorSettings, PinState};
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::schema::SCHEMA_VERSION;
use softkey_vault::{Unlocker, Vault, VaultError};

/// The fixture's device secret, as printed when it was made.
const FIXTURE_DEVICE_SECRET: &str =
    "738c9c76608f6d77378a7e27693ad7ee225cca7e0c18a56e65661d4275cb48bf";

/// A private copy of the version-1 fixture (git does not keep modes).
struct V1Copy {
    _dir: tempfile::TempDir,
    vault_path: PathBuf,
    key_file: PathBuf,
}

impl V1Copy {
    fn new() -> Self {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
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
    let copy = V1Copy::new();
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

    // Every row sealed again under the new version, and the file says so.
    assert_eq!(copy.version(), SCHEMA_VERSION);
    assert!(
        copy.row_versions()
            .iter()
            .all(|&v| i64::from(v) == SCHEMA_VERSION)
    );
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
    let copy = V1Copy::new();
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
    let copy = V1Copy::new();
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
    let copy = V1Copy::new();
    drop(Vault::open(&copy.vault_path, &copy.unlocker()).unwrap());
    raw_sql(&copy.vault_path, "PRAGMA user_version = 1;");
    assert!(matches!(
        Vault::open(&copy.vault_path, &copy.unlocker()),
        Err(VaultError::Tampered { .. })
    ));
}

#[test]
fn a_failed_migration_leaves_the_version_1_file_as_it_was() {
    let copy = V1Copy::new();
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
