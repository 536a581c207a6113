//! Schema migrations for the relying party's credential store.
//!
//! The schema version is SQLite's `PRAGMA user_version`. Each entry of
//! [`MIGRATIONS`] moves the schema from version *i* to *i + 1* and runs in one
//! transaction together with the version bump, so a crash leaves either the old or
//! the new schema. Entries are never edited once released; columns are never reused.

use rusqlite::Connection;

/// Schema version 1: users and their credentials.
const V1: &str = "
CREATE TABLE users (
    user_handle  BLOB PRIMARY KEY NOT NULL,   -- WebAuthn user.id: 32 random bytes
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL             -- unix seconds
) STRICT;
CREATE TABLE credentials (
    credential_id      BLOB PRIMARY KEY NOT NULL,
    user_handle        BLOB NOT NULL REFERENCES users(user_handle) ON DELETE CASCADE,
    public_key_cose    BLOB NOT NULL,
    algorithm          INTEGER NOT NULL,      -- COSE alg
    sign_count         INTEGER NOT NULL,
    backup_eligible    INTEGER NOT NULL,      -- BE at registration (never changes)
    backed_up          INTEGER NOT NULL,      -- BS last seen
    user_verified      INTEGER NOT NULL,      -- UV at registration
    aaguid             BLOB NOT NULL,
    transports         TEXT NOT NULL,         -- JSON array of strings
    attestation_format TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER                -- NULL until first sign-in
) STRICT;
CREATE INDEX credentials_by_user ON credentials(user_handle);
";

/// All migrations, in order; the schema version is the number applied.
pub const MIGRATIONS: &[&str] = &[V1];

/// Brings the database to the latest schema version.
pub fn migrate(connection: &mut Connection) -> Result<(), super::StoreError> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version)
        .map_err(|_| super::StoreError::Corrupt("negative schema version"))?;
    if version > MIGRATIONS.len() {
        return Err(super::StoreError::Corrupt("schema newer than this program"));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        let next = i64::try_from(index + 1)
            .map_err(|_| super::StoreError::Corrupt("too many migrations"))?;
        transaction.pragma_update(None, "user_version", next)?;
        transaction.commit()?;
    }
    Ok(())
}
