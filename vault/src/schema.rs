//! The schema and its migrations: the only place that changes the file's layout.
//!
//! `PRAGMA application_id` marks the file as a softkey vault; `PRAGMA
//! user_version` holds the schema version. Each migration moves the schema from
//! one version to the next inside one transaction, so a vault is always at a
//! version some softkey understands. Never edit a released migration: add one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::VaultError;

/// The schema version this build writes. Also bound into every sealed row.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a softkey vault: ASCII "skvt".
pub(crate) const APPLICATION_ID: i64 = 0x736b_7674;

/// Migrations, in order: entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first format.
    "CREATE TABLE meta (
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

/// Brings the schema up to [`SCHEMA_VERSION`], one transaction per step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), VaultError> {
    let mut current = version(conn)?;
    check_supported(current)?;
    debug_assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    while current < SCHEMA_VERSION {
        let step = usize::try_from(current).expect("schema versions are small and non-negative");
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(MIGRATIONS[step])?;
        tx.pragma_update(None, "user_version", current + 1)?;
        if current == 0 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        tx.commit()?;
        current += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_to_the_current_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(application_id(&conn).unwrap(), APPLICATION_ID);
        // Idempotent.
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn refuses_a_newer_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(VaultError::UnsupportedVersion { found, .. }) if found == SCHEMA_VERSION + 1
        ));
    }
}
