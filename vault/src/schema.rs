//! The schema and its migrations: the only place that changes the file's layout.
//!
//! `PRAGMA application_id` marks the file as a softkey vault; `PRAGMA
//! user_version` holds the schema version. Each migration moves the schema from
//! one version to the next inside one transaction, so a vault is always at a
//! version some softkey understands. Never edit a released migration: add one.
//!
//! - 0 → 1: the first format (meta, slots, credentials, secrets).
//! - 1 → 2: the rows become one authenticated state (`state.rs`): the
//!   `manifest` table, and every sealed row re-sealed under version 2 (which
//!   needs the master key, so this step runs once the vault is unlocked). A
//!   version-1 file must hold version-1 rows only: a version-2 row in a file
//!   marked version 1 means someone lowered the version to have the manifest
//!   rebuilt over rows they changed, and fails as [`VaultError::Tampered`].
//! - 2 → 3: fewer pages written per transaction (issue 15 point 3: a
//!   discoverable makeCredential commits 4 pages instead of 6). `credentials`
//!   and `secrets` become `WITHOUT ROWID` tables keyed by `id_mac` and `name`
//!   (one b-tree each instead of a table and a unique index), `credentials.id`
//!   stays as the insertion order (no longer a key), and the `user_mac` index
//!   goes (a replaced credential is found through the relying-party index).
//!   The rows themselves do not change ([`ROW_FORMAT`] stays 2), except
//!   credentials still in credential format 1, which are written in the
//!   current one (an Ed25519 key with its public key: issue 15 point 2), with
//!   the manifest of the next generation.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::VaultError;
use softkey_authenticator::credential::StoredCredential;

use crate::rows::{
    self, CREDENTIALS, CredentialRow, IndexMacs, SECRETS, credential_identity, decode_credential,
    select_credentials,
};
use crate::sealing::VaultKeys;
use crate::slots;
use crate::state::{self, Staged, State};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 3;

/// The version of the sealed rows this build writes and opens, bound into
/// each (its first byte and associated data): the schema version that last
/// changed what a row holds (schema 3 changed only the tables' layout).
pub const ROW_FORMAT: u8 = 2;

/// `PRAGMA application_id` of a softkey vault: ASCII "skvt".
pub(crate) const APPLICATION_ID: i64 = 0x736b_7674;

/// Work on the rows of an unlocked vault (with its keys and vault id).
type RowStep = fn(&Transaction<'_>, &VaultKeys, &[u8]) -> Result<(), VaultError>;

/// One migration: `before` (checks and re-seals rows), the SQL, `after`
/// (fills what the new layout adds). A new vault runs the SQL only.
struct Migration {
    before: Option<RowStep>,
    sql: &'static str,
    after: Option<RowStep>,
}

/// Migrations, in order: entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[
    Migration {
        before: None,
        // 0 → 1: the first format.
        sql: "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value BLOB NOT NULL
     ) STRICT;
     CREATE TABLE slots (
         id          INTEGER PRIMARY KEY,
         kind        TEXT    NOT NULL,
         m_cost_kib  INTEGER,
         t_cost      INTEGER,
         p_cost      INTEGER,
         salt        BLOB    NOT NULL,
         wrapped_key BLOB    NOT NULL,
         created     INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE credentials (
         id       INTEGER PRIMARY KEY,
         id_mac   BLOB NOT NULL UNIQUE,
         rp_mac   BLOB NOT NULL,
         user_mac BLOB NOT NULL UNIQUE,
         payload  BLOB NOT NULL
     ) STRICT;
     CREATE INDEX credentials_by_rp ON credentials (rp_mac);
     CREATE TABLE secrets (
         name    TEXT PRIMARY KEY,
         payload BLOB NOT NULL
     ) STRICT;",
        after: None,
    },
    Migration {
        before: Some(reseal_v1_rows),
        // 1 → 2: the sealed manifest (one row).
        sql: "CREATE TABLE manifest (
             id         INTEGER PRIMARY KEY CHECK (id = 1),
             generation INTEGER NOT NULL,
             payload    BLOB    NOT NULL
         ) STRICT;",
        after: Some(write_first_manifest),
    },
    Migration {
        before: None,
        // 2 → 3: the same rows in fewer b-trees.
        sql: "CREATE TABLE credentials_v3 (
             id_mac   BLOB    PRIMARY KEY,
             id       INTEGER NOT NULL,
             rp_mac   BLOB    NOT NULL,
             user_mac BLOB    NOT NULL,
             payload  BLOB    NOT NULL
         ) STRICT, WITHOUT ROWID;
         INSERT INTO credentials_v3 (id_mac, id, rp_mac, user_mac, payload)
             SELECT id_mac, id, rp_mac, user_mac, payload FROM credentials;
         DROP TABLE credentials;
         ALTER TABLE credentials_v3 RENAME TO credentials;
         CREATE INDEX credentials_by_rp ON credentials (rp_mac);
         CREATE TABLE secrets_v3 (
             name    TEXT PRIMARY KEY,
             payload BLOB NOT NULL
         ) STRICT, WITHOUT ROWID;
         INSERT INTO secrets_v3 (name, payload) SELECT name, payload FROM secrets;
         DROP TABLE secrets;
         ALTER TABLE secrets_v3 RENAME TO secrets;",
        after: Some(current_credential_format),
    },
];

/// The schema version of an open database (0 for an empty one).
pub(crate) fn version(conn: &Connection) -> Result<i64, VaultError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// The application id of an open database.
pub(crate) fn application_id(conn: &Connection) -> Result<i64, VaultError> {
    Ok(conn.pragma_query_value(None, "application_id", |row| row.get(0))?)
}

/// Refuses a file written by a newer softkey.
pub(crate) fn check_supported(found: i64) -> Result<(), VaultError> {
    if found > SCHEMA_VERSION {
        return Err(VaultError::UnsupportedVersion {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Lays out the current schema in a new, empty database (nothing to re-seal).
pub(crate) fn create(conn: &mut Connection) -> Result<(), VaultError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    if version(&tx)? != 0 {
        return Err(VaultError::Usage("internal: creating over a schema".into()));
    }
    debug_assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    for migration in MIGRATIONS {
        tx.execute_batch(migration.sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

/// Brings an unlocked vault's schema up to [`SCHEMA_VERSION`], one
/// transaction per step.
pub(crate) fn migrate(
    conn: &mut Connection,
    keys: &VaultKeys,
    vault_id: &[u8],
) -> Result<(), VaultError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        // Read inside the lock: another process may have migrated meanwhile.
        let current = version(&tx)?;
        check_supported(current)?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        let step = usize::try_from(current).expect("schema versions are small and non-negative");
        if step == 0 {
            // Every vault was created at version 1 or later.
            return Err(VaultError::Usage(
                "internal: migrating an empty file".into(),
            ));
        }
        let migration = &MIGRATIONS[step];
        // The row checks first: a version-2 table in a "version-1" file must
        // not turn into a database error ahead of the tamper error.
        if let Some(before) = migration.before {
            before(&tx, keys, vault_id)?;
        }
        tx.execute_batch(migration.sql)?;
        if let Some(after) = migration.after {
            after(&tx, keys, vault_id)?;
        }
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

/// 1 → 2, first half: every sealed row must be a version-1 row; each is
/// opened, checked and sealed again under version 2, in place (its plaintext
/// bytes unchanged).
fn reseal_v1_rows(
    tx: &Transaction<'_>,
    keys: &VaultKeys,
    _vault_id: &[u8],
) -> Result<(), VaultError> {
    let secrets: Vec<(String, Vec<u8>)> = tx
        .prepare("SELECT name, payload FROM secrets")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, payload) in secrets {
        let plaintext =
            keys.open_row_as(1, SECRETS, name.as_bytes(), &|| name.clone(), &payload)?;
        let resealed = keys.seal_row(SECRETS, name.as_bytes(), &plaintext);
        tx.execute(
            "UPDATE secrets SET payload = ?1 WHERE name = ?2",
            rusqlite::params![resealed, name],
        )?;
    }
    for row in select_credentials(tx, "1", &[])? {
        let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
        let plaintext =
            keys.open_row_as(1, CREDENTIALS, &identity, &|| row.label(), &row.payload)?;
        decode_credential(keys, &row, &plaintext)?;
        let resealed = keys.seal_row(CREDENTIALS, &identity, &plaintext);
        tx.execute(
            "UPDATE credentials SET payload = ?1 WHERE id = ?2",
            rusqlite::params![resealed, row.rowid],
        )?;
    }
    Ok(())
}

/// 1 → 2, second half: the manifest of the re-sealed rows, generation 1.
fn write_first_manifest(
    tx: &Transaction<'_>,
    keys: &VaultKeys,
    vault_id: &[u8],
) -> Result<(), VaultError> {
    let empty = State::empty();
    let mut staged = Staged::new(&empty);
    for (id, digest) in slots::digests(tx)? {
        staged.set_slot(id, Some(digest));
    }
    let mut statement = tx.prepare("SELECT name, payload FROM secrets")?;
    for row in statement.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })? {
        let (name, payload) = row?;
        staged.set_secret(&name, Some(state::secret_digest(&name, &payload)));
    }
    for row in select_credentials(tx, "1", &[])? {
        let id_mac = listed_id(&row)?;
        staged.set_credential(keys, id_mac, row.listed());
    }
    staged.finish(tx, keys, vault_id)?;
    Ok(())
}

/// 2 → 3, after the new layout: the whole state checked against the
/// manifest, then every credential still stored in an older credential
/// format ([`StoredCredential::migrate_stored`]: an Ed25519 key without its
/// public key, an RSA key without qInv) written in the current one, and the
/// manifest of the next generation over them. A vault with none is left
/// at its generation.
fn current_credential_format(
    tx: &Transaction<'_>,
    keys: &VaultKeys,
    vault_id: &[u8],
) -> Result<(), VaultError> {
    let state = State::load(tx, keys, vault_id, None)?;
    let mut staged = Staged::new(&state);
    let mut rewritten = 0usize;
    for row in select_credentials(tx, "1", &[])? {
        let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
        let plaintext = keys.open_row(CREDENTIALS, &identity, &|| row.label(), &row.payload)?;
        let (credential, created) = decode_credential(keys, &row, &plaintext)?;
        let older = StoredCredential::migrate_stored(plaintext.get(8..).unwrap_or_default())
            .map_err(|e| VaultError::Undecodable {
                table: CREDENTIALS,
                row: row.label(),
                reason: e.to_string(),
            })?
            .is_some();
        if older {
            let macs = IndexMacs::of(keys, &credential);
            rows::write_credential_row(tx, keys, &mut staged, &credential, &macs, created)?;
            rewritten += 1;
        }
    }
    if rewritten > 0 {
        staged.finish(tx, keys, vault_id)?;
    }
    Ok(())
}

/// The `id_mac` of a row that opened and decoded (so it is 32 bytes).
fn listed_id(row: &CredentialRow) -> Result<[u8; 32], VaultError> {
    <[u8; 32]>::try_from(row.id_mac.as_slice()).map_err(|_| VaultError::Tampered {
        table: CREDENTIALS,
        row: row.label(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use softkey_authenticator::secret::Secret32;

    #[test]
    fn creates_the_current_version_in_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        create(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(application_id(&conn).unwrap(), APPLICATION_ID);
        // Nothing left to migrate.
        let keys = VaultKeys::derive(Secret32::new([1; 32]));
        migrate(&mut conn, &keys, b"id").unwrap();
        assert!(create(&mut conn).is_err());
    }

    #[test]
    fn refuses_a_newer_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let keys = VaultKeys::derive(Secret32::new([1; 32]));
        assert!(matches!(
            migrate(&mut conn, &keys, b"id"),
            Err(VaultError::UnsupportedVersion { found, .. }) if found == SCHEMA_VERSION + 1
        ));
    }
}
