//! [`Vault`]: creating, opening and managing a vault file (slots, listing,
//! deleting). The [`Store`](softkey_authenticator::store::Store) methods are in
//! `store.rs`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::secret::Secret32;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::files;
use crate::keyring::KeyringBus;
use crate::schema::{self, APPLICATION_ID};
use crate::sealing::{VaultKeys, push_framed, random_bytes, random_secret};
use crate::slots::{self, KdfParams, SlotInfo, SlotKind, Unlocker};

/// Name of the credentials table (in errors and associated data).
pub(crate) const CREDENTIALS: &str = "credentials";
/// Name of the secrets table (device secret, counter, settings).
pub(crate) const SECRETS: &str = "secrets";
/// `secrets` row holding the device secret.
pub(crate) const DEVICE_SECRET: &str = "device_secret";
/// `secrets` row holding the global signature counter.
pub(crate) const GLOBAL_COUNTER: &str = "global_counter";
/// Prefix of `secrets` rows holding settings.
pub(crate) const SETTING_PREFIX: &str = "setting/";

/// An open, unlocked vault.
pub struct Vault {
    pub(crate) conn: Connection,
    path: PathBuf,
    pub(crate) keys: VaultKeys,
    vault_id: Vec<u8>,
    unlocked_slot: i64,
    /// Where `remove_slot` deletes keyring items: the bus unlocked with, else
    /// the session bus.
    keyring_bus: KeyringBus,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("unlocked_slot", &self.unlocked_slot)
            .finish_non_exhaustive()
    }
}

/// What `vault info` shows.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VaultInfo {
    /// The vault file.
    pub path: PathBuf,
    /// Its schema version.
    pub schema_version: i64,
    /// Number of discoverable credentials.
    pub credentials: usize,
    /// The key slots.
    pub slots: Vec<SlotInfo>,
    /// The slot this session unlocked with.
    pub unlocked_slot: i64,
}

/// A discoverable credential as `vault list` shows it (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CredentialSummary {
    /// The credential ID, hex (what `vault delete` takes).
    pub credential_id: String,
    /// The relying party id.
    pub rp_id: String,
    /// The relying party's name.
    pub rp_name: Option<String>,
    /// The user handle, hex.
    pub user_id: String,
    /// The account name.
    pub user_name: Option<String>,
    /// The display name.
    pub user_display_name: Option<String>,
    /// "ES256" or "EdDSA".
    pub algorithm: &'static str,
    /// The signature counter.
    pub sign_count: u32,
    /// credProtect level.
    pub cred_protect: u8,
    /// When it was stored first, seconds since the Unix epoch.
    pub created: i64,
}

/// A credentials row as read from the file.
pub(crate) struct CredentialRow {
    pub(crate) rowid: i64,
    pub(crate) id_mac: Vec<u8>,
    pub(crate) rp_mac: Vec<u8>,
    pub(crate) user_mac: Vec<u8>,
    pub(crate) payload: Vec<u8>,
}

impl CredentialRow {
    /// The columns, in the order [`CredentialRow::from_row`] reads them.
    pub(crate) const COLUMNS: &'static str = "id, id_mac, rp_mac, user_mac, payload";

    pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            rowid: row.get(0)?,
            id_mac: row.get(1)?,
            rp_mac: row.get(2)?,
            user_mac: row.get(3)?,
            payload: row.get(4)?,
        })
    }
}

/// The associated data identity of a credentials row: its index columns.
pub(crate) fn credential_identity(id_mac: &[u8], rp_mac: &[u8], user_mac: &[u8]) -> Vec<u8> {
    let mut identity = Vec::with_capacity(3 * 36);
    push_framed(&mut identity, id_mac);
    push_framed(&mut identity, rp_mac);
    push_framed(&mut identity, user_mac);
    identity
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn configure(conn: &Connection) -> Result<(), VaultError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL + FULL: every committed transaction is fsynced before `commit` returns.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(VaultError::Usage(format!(
            "the vault's file system does not support SQLite WAL mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

fn not_a_vault(path: &Path, error: rusqlite::Error) -> VaultError {
    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
        VaultError::NotAVault {
            path: path.to_owned(),
        }
    } else {
        error.into()
    }
}

impl Vault {
    /// Creates a new vault at `path` (directory 0700, file 0600) with one slot for
    /// `unlocker`. `kdf` applies to a passphrase slot; use
    /// [`KdfParams::recommended`] for real vaults. Refuses to overwrite a file.
    pub fn create(path: &Path, unlocker: &Unlocker, kdf: KdfParams) -> Result<Self, VaultError> {
        files::create_new(path)?;
        let result = Self::initialize(path, unlocker, kdf);
        if result.is_err() {
            files::remove_partial(path);
        }
        result
    }

    fn initialize(path: &Path, unlocker: &Unlocker, kdf: KdfParams) -> Result<Self, VaultError> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let vault_id = random_bytes::<16>().to_vec();
        let keys = VaultKeys::derive(random_secret());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('vault_id', ?1)",
            [&vault_id],
        )?;
        let slot = slots::insert(&tx, &vault_id, keys.master(), unlocker, kdf)?;
        put_secret(
            &tx,
            &keys,
            DEVICE_SECRET,
            Some(random_secret().expose_secret()),
        )?;
        tx.commit()?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            keys,
            vault_id,
            unlocked_slot: slot,
            keyring_bus: keyring_bus_of(unlocker),
        })
    }

    /// Opens and unlocks the vault at `path`. Refuses a vault other users can
    /// read, a file that is not a vault, and one written by a newer softkey.
    pub fn open(path: &Path, unlocker: &Unlocker) -> Result<Self, VaultError> {
        files::check_existing(path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let application_id = schema::application_id(&conn).map_err(|e| match e {
            VaultError::Database(e) => not_a_vault(path, e),
            other => other,
        })?;
        if application_id != APPLICATION_ID {
            return Err(VaultError::NotAVault {
                path: path.to_owned(),
            });
        }
        schema::check_supported(schema::version(&conn)?)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let vault_id: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| VaultError::NotAVault {
                path: path.to_owned(),
            })?;
        let (master, slot) = slots::unlock(&conn, &vault_id, unlocker)?;
        let vault = Self {
            conn,
            path: path.to_owned(),
            keys: VaultKeys::derive(master),
            vault_id,
            unlocked_slot: slot,
            keyring_bus: keyring_bus_of(unlocker),
        };
        // The device secret row doubles as a check that the master key is right.
        vault.device_secret_row()?;
        Ok(vault)
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The slot this session was unlocked with.
    pub fn unlocked_slot(&self) -> i64 {
        self.unlocked_slot
    }

    /// Schema version, credential count and slots.
    pub fn info(&self) -> Result<VaultInfo, VaultError> {
        let credentials: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM credentials", [], |r| r.get(0))?;
        Ok(VaultInfo {
            path: self.path.clone(),
            schema_version: schema::version(&self.conn)?,
            credentials: usize::try_from(credentials).unwrap_or(0),
            slots: slots::list(&self.conn)?,
            unlocked_slot: self.unlocked_slot,
        })
    }

    /// The key slots.
    pub fn slots(&self) -> Result<Vec<SlotInfo>, VaultError> {
        slots::list(&self.conn)
    }

    /// Every discoverable credential, decoded, without secrets; ordered by relying
    /// party then user name. Fails on the first tampered row.
    pub fn list(&self) -> Result<Vec<CredentialSummary>, VaultError> {
        let mut summaries = Vec::new();
        for (credential, created) in self.read_all()? {
            summaries.push(CredentialSummary {
                credential_id: hex::encode(&credential.credential_id),
                rp_id: credential.rp_id.clone(),
                rp_name: credential.rp_name.clone(),
                user_id: hex::encode(&credential.user.id),
                user_name: credential.user.name.clone(),
                user_display_name: credential.user.display_name.clone(),
                algorithm: credential.algorithm().name(),
                sign_count: credential.sign_count,
                cred_protect: credential.cred_protect,
                created,
            });
        }
        summaries.sort_by(|a, b| (&a.rp_id, &a.user_name).cmp(&(&b.rp_id, &b.user_name)));
        Ok(summaries)
    }

    /// Deletes a discoverable credential by ID; `Ok(false)` when there is none.
    pub fn delete(&mut self, credential_id: &[u8]) -> Result<bool, VaultError> {
        let id_mac = self.keys.id_mac(credential_id);
        let deleted = self
            .conn
            .execute("DELETE FROM credentials WHERE id_mac = ?1", [&id_mac[..]])?;
        Ok(deleted > 0)
    }

    /// Adds a key slot for `unlocker` (Argon2 `kdf` for a passphrase); returns its
    /// id. Rows are not re-encrypted.
    pub fn add_slot(&mut self, unlocker: &Unlocker, kdf: KdfParams) -> Result<i64, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = slots::insert(&tx, &self.vault_id, self.keys.master(), unlocker, kdf)?;
        tx.commit()?;
        Ok(id)
    }

    /// Removes key slot `id`; the last slot cannot be removed. A keyring slot's
    /// item is deleted from the keyring first (see [`Vault::set_keyring_bus`]).
    pub fn remove_slot(&mut self, id: i64) -> Result<(), VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        slots::remove(&tx, &self.vault_id, id, &self.keyring_bus)?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the bus on which [`Vault::remove_slot`] finds keyring items (by
    /// default the one the vault was unlocked with, else the session bus).
    pub fn set_keyring_bus(&mut self, bus: KeyringBus) {
        self.keyring_bus = bus;
    }

    /// Replaces passphrase slot `slot` by one for `new_passphrase`, atomically;
    /// returns the new slot's id.
    pub fn change_passphrase(
        &mut self,
        slot: i64,
        new_passphrase: &Unlocker,
        kdf: KdfParams,
    ) -> Result<i64, VaultError> {
        if new_passphrase.kind() != SlotKind::Passphrase {
            return Err(VaultError::Usage(
                "the new unlocker must be a passphrase".into(),
            ));
        }
        let existing = slots::list(&self.conn)?
            .into_iter()
            .find(|s| s.id == slot)
            .ok_or(VaultError::NoSuchSlot(slot))?;
        if existing.kind != SlotKind::Passphrase {
            return Err(VaultError::Usage(format!(
                "slot {slot} is not a passphrase slot"
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = slots::insert(&tx, &self.vault_id, self.keys.master(), new_passphrase, kdf)?;
        slots::remove(&tx, &self.vault_id, slot, &self.keyring_bus)?;
        tx.commit()?;
        if self.unlocked_slot == slot {
            self.unlocked_slot = id;
        }
        Ok(id)
    }

    /// Opens a credentials row: the credential and its creation time.
    pub(crate) fn open_credential(
        &self,
        row: &CredentialRow,
    ) -> Result<(StoredCredential, i64), VaultError> {
        open_credential(&self.keys, row)
    }

    /// Reads and opens every credentials row.
    pub(crate) fn read_all(&self) -> Result<Vec<(StoredCredential, i64)>, VaultError> {
        self.read_where("1", &[])
    }

    /// Reads and opens the credentials rows matching `condition`.
    pub(crate) fn read_where(
        &self,
        condition: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<(StoredCredential, i64)>, VaultError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {} FROM credentials WHERE {condition} ORDER BY id",
            CredentialRow::COLUMNS
        ))?;
        let rows = statement.query_map(values, CredentialRow::from_row)?;
        let mut credentials = Vec::new();
        for row in rows {
            credentials.push(self.open_credential(&row?)?);
        }
        Ok(credentials)
    }

    /// Reads a `secrets` row.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        read_secret(&self.conn, &self.keys, name)
    }
    /// The device secret; its absence is corruption, never a reason to make one.
    pub(crate) fn device_secret_row(&self) -> Result<Secret32, VaultError> {
        let bytes = self.secret(DEVICE_SECRET)?.ok_or(VaultError::Undecodable {
            table: SECRETS,
            row: DEVICE_SECRET.into(),
            reason: "the device secret is missing".into(),
        })?;
        Secret32::from_slice(&bytes).ok_or(VaultError::Undecodable {
            table: SECRETS,
            row: DEVICE_SECRET.into(),
            reason: "the device secret is not 32 bytes".into(),
        })
    }
}

/// The bus of a keyring unlocker, else the session bus.
fn keyring_bus_of(unlocker: &Unlocker) -> KeyringBus {
    match unlocker {
        Unlocker::Keyring(bus) => bus.clone(),
        _ => KeyringBus::Session,
    }
}

/// Writes (`Some`) or deletes (`None`) a `secrets` row inside `conn`'s transaction.
pub(crate) fn put_secret(
    conn: &Connection,
    keys: &VaultKeys,
    name: &str,
    value: Option<&[u8]>,
) -> Result<(), VaultError> {
    match value {
        Some(value) => {
            let payload = keys.seal_row(SECRETS, name.as_bytes(), value);
            conn.prepare_cached(
                "INSERT INTO secrets (name, payload) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET payload = excluded.payload",
            )?
            .execute(params![name, payload])?;
        }
        None => {
            conn.prepare_cached("DELETE FROM secrets WHERE name = ?1")?
                .execute([name])?;
        }
    }
    Ok(())
}

/// Opens a credentials row: the credential and its creation time.
pub(crate) fn open_credential(
    keys: &VaultKeys,
    row: &CredentialRow,
) -> Result<(StoredCredential, i64), VaultError> {
    let label = || row.rowid.to_string();
    let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
    let plaintext = keys.open_row(CREDENTIALS, &identity, &label, &row.payload)?;
    let undecodable = |reason: String| VaultError::Undecodable {
        table: CREDENTIALS,
        row: label(),
        reason,
    };
    if plaintext.len() < 8 {
        return Err(undecodable("payload shorter than its header".into()));
    }
    let (created, body) = plaintext.split_at(8);
    let created = i64::from_be_bytes(created.try_into().expect("split at 8"));
    let credential = StoredCredential::from_bytes(body).map_err(|e| undecodable(e.to_string()))?;
    let rp_id_hash = credential.rp_id_hash();
    let consistent = keys.id_mac(&credential.credential_id)[..] == row.id_mac[..]
        && keys.rp_mac(&rp_id_hash)[..] == row.rp_mac[..]
        && keys.user_mac(&rp_id_hash, &credential.user.id)[..] == row.user_mac[..];
    if !consistent {
        return Err(VaultError::Tampered {
            table: CREDENTIALS,
            row: label(),
        });
    }
    Ok((credential, created))
}

/// Seals a credential into the row values `(id_mac, rp_mac, user_mac, payload)`.
pub(crate) fn seal_credential(
    keys: &VaultKeys,
    credential: &StoredCredential,
    created: i64,
) -> ([u8; 32], [u8; 32], [u8; 32], Vec<u8>) {
    let rp_id_hash = credential.rp_id_hash();
    let id_mac = keys.id_mac(&credential.credential_id);
    let rp_mac = keys.rp_mac(&rp_id_hash);
    let user_mac = keys.user_mac(&rp_id_hash, &credential.user.id);
    let body = credential.to_bytes();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(8 + body.len()));
    plaintext.extend_from_slice(&created.to_be_bytes());
    plaintext.extend_from_slice(&body);
    let identity = credential_identity(&id_mac, &rp_mac, &user_mac);
    let payload = keys.seal_row(CREDENTIALS, &identity, &plaintext);
    (id_mac, rp_mac, user_mac, payload)
}

/// Reads and opens a `secrets` row inside `conn` (or its transaction).
pub(crate) fn read_secret(
    conn: &Connection,
    keys: &VaultKeys,
    name: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
    let payload: Option<Vec<u8>> = conn
        .prepare_cached("SELECT payload FROM secrets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    payload
        .map(|payload| {
            let label = || name.to_owned();
            keys.open_row(SECRETS, name.as_bytes(), &label, &payload)
        })
        .transpose()
}
