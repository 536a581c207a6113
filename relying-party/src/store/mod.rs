//! SQLite credential store: users and their credentials.
//!
//! Format: two tables, `users` and `credentials`, described with their columns in
//! [`migrations`]; the schema version is `PRAGMA user_version`. Opening a store runs
//! pending migrations. Files use WAL journaling and foreign keys (deleting a user
//! deletes their credentials).

pub mod migrations;

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::CredentialRecord;

/// Store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The username is already registered.
    #[error("username already taken")]
    UsernameTaken,
    /// The credential ID is already registered.
    #[error("credential already registered")]
    CredentialExists,
    /// A row does not have the shape the schema promises.
    #[error("store is corrupt: {0}")]
    Corrupt(&'static str),
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// WebAuthn user handle (`user.id`).
    pub user_handle: Vec<u8>,
    /// Unique account name.
    pub username: String,
    /// Display name.
    pub display_name: String,
}

/// A credential with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// The credential record.
    pub record: CredentialRecord,
    /// Registration time, unix seconds.
    pub created_at: i64,
    /// Last successful sign-in, unix seconds.
    pub last_used_at: Option<i64>,
}

/// The store; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    connection: Mutex<Connection>,
}

/// A fresh random user handle (32 bytes; §14.6.1: no personal information).
pub fn new_user_handle() -> Vec<u8> {
    crate::challenge::random_challenge()
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn is_constraint_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::ConstraintViolation)
}

const CREDENTIAL_COLUMNS: &str = "credential_id, user_handle, public_key_cose, algorithm, sign_count, \
     backup_eligible, backed_up, user_verified, aaguid, transports, attestation_format, created_at, last_used_at";

fn credential_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(StoredCredential, String, Vec<u8>)> {
    let transports: String = row.get(9)?;
    let aaguid: Vec<u8> = row.get(8)?;
    Ok((
        StoredCredential {
            record: CredentialRecord {
                credential_id: row.get(0)?,
                user_id: row.get(1)?,
                public_key_cose: row.get(2)?,
                algorithm: row.get(3)?,
                sign_count: row.get(4)?,
                backup_eligible: row.get(5)?,
                backed_up: row.get(6)?,
                user_verified: row.get(7)?,
                aaguid: [0; 16],
                transports: Vec::new(),
                attestation_format: row.get(10)?,
            },
            created_at: row.get(11)?,
            last_used_at: row.get(12)?,
        },
        transports,
        aaguid,
    ))
}

fn finish_credential(
    (mut stored, transports, aaguid): (StoredCredential, String, Vec<u8>),
) -> Result<StoredCredential, StoreError> {
    stored.record.transports = serde_json::from_str(&transports)
        .map_err(|_| StoreError::Corrupt("transports is not a JSON string array"))?;
    stored.record.aaguid = aaguid
        .try_into()
        .map_err(|_| StoreError::Corrupt("aaguid is not 16 bytes"))?;
    Ok(stored)
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        Self::from_connection(connection)
    }

    /// A store in memory, for tests and throwaway demos.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "foreign_keys", true)?;
        migrations::migrate(&mut connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // SQLite keeps its own consistency (transactions); a poisoned lock is safe to reuse.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates a user; `user_handle` should be fresh random bytes (see [`new_user_handle`]).
    pub fn create_user(
        &self,
        user_handle: &[u8],
        username: &str,
        display_name: &str,
        now: SystemTime,
    ) -> Result<User, StoreError> {
        let user = User {
            user_handle: user_handle.to_vec(),
            username: username.to_owned(),
            display_name: display_name.to_owned(),
        };
        self.lock()
            .execute(
                "INSERT INTO users (user_handle, username, display_name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![user.user_handle, user.username, user.display_name, unix_seconds(now)],
            )
            .map_err(|error| if is_constraint_violation(&error) { StoreError::UsernameTaken } else { error.into() })?;
        Ok(user)
    }

    fn user_where(
        &self,
        condition: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<User>, StoreError> {
        let sql =
            format!("SELECT user_handle, username, display_name FROM users WHERE {condition}");
        Ok(self
            .lock()
            .query_row(&sql, [value], |row| {
                Ok(User {
                    user_handle: row.get(0)?,
                    username: row.get(1)?,
                    display_name: row.get(2)?,
                })
            })
            .optional()?)
    }

    /// The user with this username.
    pub fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("username = ?1", &username)
    }

    /// The user with this user handle.
    pub fn user_by_handle(&self, user_handle: &[u8]) -> Result<Option<User>, StoreError> {
        self.user_where("user_handle = ?1", &user_handle)
    }

    /// Stores a newly registered credential (§7.1 step 24: refuses a known credential ID).
    pub fn add_credential(
        &self,
        record: &CredentialRecord,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let transports = serde_json::to_string(&record.transports)
            .map_err(|_| StoreError::Corrupt("transports"))?;
        self.lock()
            .execute(
                &format!("INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL)"),
                params![
                    record.credential_id,
                    record.user_id,
                    record.public_key_cose,
                    record.algorithm,
                    record.sign_count,
                    record.backup_eligible,
                    record.backed_up,
                    record.user_verified,
                    record.aaguid.to_vec(),
                    transports,
                    record.attestation_format,
                    unix_seconds(now),
                ],
            )
            .map_err(|error| if is_constraint_violation(&error) { StoreError::CredentialExists } else { error.into() })?;
        Ok(())
    }

    /// The credential with this ID.
    pub fn credential(&self, credential_id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        let row = self
            .lock()
            .query_row(
                &format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE credential_id = ?1"),
                [credential_id],
                credential_from_row,
            )
            .optional()?;
        row.map(finish_credential).transpose()
    }

    /// All credentials of a user, oldest first.
    pub fn credentials_for_user(
        &self,
        user_handle: &[u8],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE user_handle = ?1 ORDER BY created_at, rowid"
        ))?;
        let rows = statement.query_map([user_handle], credential_from_row)?;
        rows.map(|row| finish_credential(row?)).collect()
    }

    /// Records a successful sign-in: new counter, BS flag, last-used time.
    pub fn record_use(
        &self,
        credential_id: &[u8],
        sign_count: u32,
        backed_up: bool,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE credentials SET sign_count = ?2, backed_up = ?3, last_used_at = ?4 WHERE credential_id = ?1",
            params![credential_id, sign_count, backed_up, unix_seconds(now)],
        )?;
        Ok(())
    }

    /// Deletes a credential of this user; false if there was none.
    pub fn delete_credential(
        &self,
        user_handle: &[u8],
        credential_id: &[u8],
    ) -> Result<bool, StoreError> {
        let deleted = self.lock().execute(
            "DELETE FROM credentials WHERE user_handle = ?1 AND credential_id = ?2",
            params![user_handle, credential_id],
        )?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user_id: &[u8], id: &[u8]) -> CredentialRecord {
        CredentialRecord {
            credential_id: id.to_vec(),
            user_id: user_id.to_vec(),
            public_key_cose: vec![0xa0],
            algorithm: -7,
            sign_count: 3,
            backup_eligible: true,
            backed_up: false,
            user_verified: true,
            aaguid: [7; 16],
            transports: vec!["usb".into(), "hybrid".into()],
            attestation_format: "none".into(),
        }
    }

    #[test]
    fn users_credentials_round_trip() {
        let store = Store::open_in_memory().expect("opens");
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let alice = store
            .create_user(&new_user_handle(), "alice", "Alice", now)
            .expect("created");
        assert!(matches!(
            store.create_user(&new_user_handle(), "alice", "Other", now),
            Err(StoreError::UsernameTaken)
        ));
        assert_eq!(
            store.user_by_name("alice").expect("query"),
            Some(alice.clone())
        );
        assert_eq!(
            store.user_by_handle(&alice.user_handle).expect("query"),
            Some(alice.clone())
        );
        let credential = record(&alice.user_handle, b"cred-1");
        store.add_credential(&credential, now).expect("added");
        assert!(matches!(
            store.add_credential(&credential, now),
            Err(StoreError::CredentialExists)
        ));
        let stored = store
            .credential(b"cred-1")
            .expect("query")
            .expect("present");
        assert_eq!(stored.record, credential);
        assert_eq!(
            (stored.created_at, stored.last_used_at),
            (1_700_000_000, None)
        );
        store.record_use(b"cred-1", 9, true, now).expect("updated");
        let stored = store
            .credential(b"cred-1")
            .expect("query")
            .expect("present");
        assert_eq!(
            (
                stored.record.sign_count,
                stored.record.backed_up,
                stored.last_used_at
            ),
            (9, true, Some(1_700_000_000))
        );
        assert_eq!(
            store
                .credentials_for_user(&alice.user_handle)
                .expect("list")
                .len(),
            1
        );
        assert!(
            !store
                .delete_credential(b"someone else", b"cred-1")
                .expect("delete")
        );
        assert!(
            store
                .delete_credential(&alice.user_handle, b"cred-1")
                .expect("delete")
        );
        assert!(store.credential(b"cred-1").expect("query").is_none());
    }

    #[test]
    fn file_store_reopens_at_latest_version() {
        let directory =
            std::env::temp_dir().join(format!("softkey-rp-store-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let path = directory.join("rp.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let store = Store::open(&path).expect("creates");
            store
                .create_user(&new_user_handle(), "bob", "Bob", SystemTime::now())
                .expect("user");
        }
        let store = Store::open(&path).expect("reopens");
        assert!(store.user_by_name("bob").expect("query").is_some());
        let version: i64 = store
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("pragma");
        assert_eq!(
            version,
            i64::try_from(migrations::MIGRATIONS.len()).expect("small")
        );
        drop(store);
        std::fs::remove_dir_all(&directory).expect("cleanup");
    }
}
