//! [`Vault`]: creating, opening and managing a vault file (slots, listing,
//! deleting), and the read and write transactions every operation runs in,
//! checked against the authenticated state (`state.rs`). The
//! [`Store`](softkey_authenticator::store::Store) methods are in `store.rs`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::secret::Secret32;
use zeroize::Zeroizing;

use crate::cache::{self, RowCache, data_version};
use crate::counters::{Counter, Counters, Reservation};
use crate::error::VaultError;
use crate::files;
use crate::keyring::KeyringBus;
use crate::rows::{
    self, CREDENTIALS, CredentialRow, DEVICE_SECRET, SECRETS, open_listed_credential,
    select_credentials,
};
use crate::schema::{self, APPLICATION_ID};
use crate::sealing::{VaultKeys, random_bytes, random_secret};
use crate::slots::{self, KdfParams, SlotInfo, SlotKind, Unlocker};
use crate::state::{self, Lookup, Staged, State};

/// An open, unlocked vault.
pub struct Vault {
    pub(crate) conn: Connection,
    path: PathBuf,
    pub(crate) keys: VaultKeys,
    pub(crate) vault_id: Vec<u8>,
    /// The authenticated state every read and write is checked against.
    pub(crate) state: State,
    /// `meta.key_epoch` as this handle found it (changed by a rekey).
    pub(crate) key_epoch: Option<Vec<u8>>,
    /// Signature-counter ranges reserved by this handle (`counters.rs`).
    pub(crate) counters: Counters,
    /// The rows a sign-in reads, while the file is unchanged (`cache.rs`).
    pub(crate) cache: RowCache,
    /// Inside a request of the core ([`Store::begin_request`]): `Some(true)`
    /// once this request found the file unchanged (or read it), so its
    /// other reads need not ask again; `None` outside a request.
    ///
    /// [`Store::begin_request`]: softkey_authenticator::store::Store::begin_request
    pub(crate) request_fresh: Option<bool>,
    unlocked_slot: i64,
    /// Where `remove_slot` deletes keyring items: the bus unlocked with, else
    /// the session bus.
    pub(crate) keyring_bus: KeyringBus,
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
    /// Backup eligible (BE), fixed when it was made.
    pub backup_eligible: bool,
    /// Backed up (BS): exported, or imported.
    pub backup_state: bool,
    /// When it was stored first, seconds since the Unix epoch.
    pub created: i64,
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
    // Every statement of the sign-in path stays prepared (the default 16
    // would evict some in favour of the write path's).
    conn.set_prepared_statement_cache_capacity(64);
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
        schema::create(&mut conn)?;
        let mut vault = Self {
            conn,
            path: path.to_owned(),
            keys: VaultKeys::derive(random_secret()),
            vault_id: random_bytes::<16>().to_vec(),
            state: State::empty(),
            key_epoch: None,
            counters: Counters::default(),
            cache: RowCache::default(),
            request_fresh: None,
            unlocked_slot: 0,
            keyring_bus: keyring_bus_of(unlocker),
        };
        vault.unlocked_slot = vault.transact(true, |w| {
            w.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('vault_id', ?1)",
                [w.vault_id],
            )?;
            let slot = w.insert_slot(unlocker, kdf)?;
            let device_secret = random_secret();
            w.put_secret(DEVICE_SECRET, Some(device_secret.expose_secret()))?;
            Ok(slot)
        })?;
        Ok(vault)
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
        let vault_id: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| VaultError::NotAVault {
                path: path.to_owned(),
            })?;
        let (master, slot) = slots::unlock(&conn, &vault_id, unlocker)?;
        let keys = VaultKeys::derive(master);
        schema::migrate(&mut conn, &keys, &vault_id)?;
        // Every row, once, against the sealed manifest.
        let state = State::load(&conn, &keys, &vault_id, None)?;
        let key_epoch = read_key_epoch(&conn)?;
        let mut vault = Self {
            conn,
            path: path.to_owned(),
            keys,
            vault_id,
            state,
            key_epoch,
            counters: Counters::default(),
            cache: RowCache::default(),
            request_fresh: None,
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
    pub fn info(&mut self) -> Result<VaultInfo, VaultError> {
        let (schema_version, slots) = self.read(|r| {
            r.state.check_slots(r.conn)?;
            Ok((schema::version(r.conn)?, slots::list(r.conn)?))
        })?;
        Ok(VaultInfo {
            path: self.path.clone(),
            schema_version,
            credentials: self.state.credential_count(),
            slots,
            unlocked_slot: self.unlocked_slot,
        })
    }

    /// The key slots.
    pub fn slots(&mut self) -> Result<Vec<SlotInfo>, VaultError> {
        self.read(|r| {
            r.state.check_slots(r.conn)?;
            slots::list(r.conn)
        })
    }

    /// Every discoverable credential, decoded, without secrets; ordered by relying
    /// party then user name. Fails on the first tampered row.
    pub fn list(&mut self) -> Result<Vec<CredentialSummary>, VaultError> {
        let mut summaries =
            self.read_credentials(Lookup::All, |credential, created| CredentialSummary {
                credential_id: hex::encode(&credential.credential_id),
                rp_id: credential.rp_id.clone(),
                rp_name: credential.rp_name.clone(),
                user_id: hex::encode(&credential.user.id),
                user_name: credential.user.name.clone(),
                user_display_name: credential.user.display_name.clone(),
                algorithm: credential.algorithm().name(),
                sign_count: credential.sign_count,
                cred_protect: credential.cred_protect,
                backup_eligible: credential.backup.eligible,
                backup_state: credential.backup.state,
                created,
            })?;
        summaries.sort_by(|a, b| (&a.rp_id, &a.user_name).cmp(&(&b.rp_id, &b.user_name)));
        Ok(summaries)
    }

    /// Deletes a discoverable credential by ID; `Ok(false)` when there is none.
    pub fn delete(&mut self, credential_id: &[u8]) -> Result<bool, VaultError> {
        let id_mac = self.keys.id_mac(credential_id);
        self.write(|w| {
            let rows = w.select_checked(&id_mac)?;
            for row in &rows {
                rows::delete_credential_row(w.conn, w.keys, &mut w.staged, row)?;
                w.forget_counter(&row.id_mac);
            }
            Ok(!rows.is_empty())
        })
    }

    /// Adds a key slot for `unlocker` (Argon2 `kdf` for a passphrase); returns its
    /// id. Rows are not re-encrypted.
    pub fn add_slot(&mut self, unlocker: &Unlocker, kdf: KdfParams) -> Result<i64, VaultError> {
        self.write(|w| {
            w.staged.check_slots(w.conn)?;
            w.insert_slot(unlocker, kdf)
        })
    }

    /// Removes key slot `id`; the last slot cannot be removed. A keyring slot's
    /// item is deleted from the keyring first (see [`Vault::set_keyring_bus`]).
    pub fn remove_slot(&mut self, id: i64) -> Result<(), VaultError> {
        let bus = self.keyring_bus.clone();
        self.write(|w| {
            w.staged.check_slots(w.conn)?;
            w.remove_slot(id, &bus)
        })
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
        let existing = self
            .slots()?
            .into_iter()
            .find(|s| s.id == slot)
            .ok_or(VaultError::NoSuchSlot(slot))?;
        if existing.kind != SlotKind::Passphrase {
            return Err(VaultError::Usage(format!(
                "slot {slot} is not a passphrase slot"
            )));
        }
        let bus = self.keyring_bus.clone();
        let id = self.write(|w| {
            w.staged.check_slots(w.conn)?;
            let id = w.insert_slot(new_passphrase, kdf)?;
            w.remove_slot(slot, &bus)?;
            Ok(id)
        })?;
        if self.unlocked_slot == slot {
            self.unlocked_slot = id;
        }
        Ok(id)
    }

    /// Runs `read` in one read transaction (one snapshot of the file), after
    /// taking in any other handle's writes.
    pub(crate) fn read<T>(
        &mut self,
        read: impl FnOnce(&Reader<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let tx = CachedTx::begin(&self.conn, "BEGIN DEFERRED")?;
        if refresh(
            &tx,
            &self.keys,
            &self.vault_id,
            &mut self.state,
            &self.key_epoch,
        )? {
            self.counters.clear();
        }
        self.cache.at_version(data_version(&tx)?);
        mark_fresh(&mut self.request_fresh);
        let value = read(&Reader {
            conn: &tx,
            keys: &self.keys,
            state: &self.state,
            counters: &self.counters,
        })?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `write` in one durable write transaction that also writes the
    /// next generation of the sealed manifest; the state in memory follows
    /// only once the transaction committed.
    pub(crate) fn write<T>(
        &mut self,
        write: impl FnOnce(&mut Writer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.transact(false, write)
    }

    /// [`Vault::write`]; `first` for the vault being created (no manifest
    /// yet to refresh from).
    fn transact<T>(
        &mut self,
        first: bool,
        write: impl FnOnce(&mut Writer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let tx = CachedTx::begin(
            &self.conn,
            if first {
                "BEGIN EXCLUSIVE"
            } else {
                "BEGIN IMMEDIATE"
            },
        )?;
        // Another handle's writes drop every counter reservation: it may
        // have raised the bounds they were taken from.
        if !first
            && refresh(
                &tx,
                &self.keys,
                &self.vault_id,
                &mut self.state,
                &self.key_epoch,
            )?
        {
            self.counters.clear();
        }
        self.cache.at_version(data_version(&tx)?);
        mark_fresh(&mut self.request_fresh);
        let mut writer = Writer {
            conn: &tx,
            keys: &self.keys,
            vault_id: &self.vault_id,
            staged: Staged::new(&self.state),
            counters: &self.counters,
            counter_changes: Vec::new(),
        };
        let value = write(&mut writer)?;
        let Writer {
            staged,
            counter_changes,
            ..
        } = writer;
        let changes = staged.finish(&tx, &self.keys, &self.vault_id)?;
        tx.commit()?;
        self.state.apply(changes);
        self.counters.apply(counter_changes);
        Ok(value)
    }

    /// Whether no other connection committed to the file since this handle's
    /// last transaction (so the state and the cache are still the file's):
    /// one statement (`cache.rs`; a read lock of the file, two `fcntl`
    /// calls). Inside a request of the core, once per request.
    pub(crate) fn fresh(&mut self) -> Result<bool, VaultError> {
        if self.request_fresh == Some(true) {
            return Ok(true);
        }
        let fresh = self.fresh_now()?;
        if fresh {
            mark_fresh(&mut self.request_fresh);
        }
        Ok(fresh)
    }

    /// [`Vault::fresh`], asking the file whatever the request found.
    pub(crate) fn fresh_now(&self) -> Result<bool, VaultError> {
        Ok(self.cache.is_current(data_version(&self.conn)?))
    }

    /// The discoverable credentials of the relying party with this
    /// rpIdHash, oldest first: copies of the cached opened credentials
    /// while the file and their rows are unchanged, else read, checked and
    /// opened anew (and cached).
    pub(crate) fn rp_credentials(
        &mut self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, VaultError> {
        if self.fresh()?
            && let Some(found) = copies(&self.cache, &self.counters, &self.state, rp_id_hash)
        {
            return Ok(found);
        }
        let rp_mac = self.keys.rp_mac(rp_id_hash);
        let rows = self.read(|r| r.checked_rows(Lookup::Rp(&rp_mac)))?;
        // The counters as stored: a copy handed out shows the reservation's.
        let opened = open_rows(&self.keys, &Counters::default(), &rows, |c, _| c)?;
        for (row, credential) in rows.iter().zip(&opened) {
            self.cache
                .put_id_mac(&credential.credential_id, &row.id_mac);
        }
        self.cache
            .put_rp_credentials(*rp_id_hash, rp_mac, &rows, opened, &self.state);
        Ok(copies(&self.cache, &self.counters, &self.state, rp_id_hash).unwrap_or_default())
    }

    /// The `id_mac` of a credential id (remembered from the rows opened).
    pub(crate) fn id_mac(&self, credential_id: &[u8]) -> [u8; 32] {
        self.cache
            .id_mac(credential_id)
            .unwrap_or_else(|| self.keys.id_mac(credential_id))
    }

    /// Reads, checks and opens the credentials a lookup finds; `each` makes
    /// an entry of the result from a credential and its creation time.
    pub(crate) fn read_credentials<T>(
        &mut self,
        lookup: Lookup<'_>,
        each: impl FnMut(StoredCredential, i64) -> T,
    ) -> Result<Vec<T>, VaultError> {
        self.read(|r| r.credentials(lookup, each))
    }

    /// Reads a `secrets` row (one of the rows a sign-in reads from the
    /// cache while the file is unchanged).
    pub(crate) fn secret(&mut self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        if cache::CACHED_SECRETS.contains(&name)
            && self.fresh()?
            && let Some(value) = self.cache.secret(name, self.state.listed_secret(name))
        {
            return Ok(value);
        }
        let value = self.read(|r| r.secret(name))?;
        self.cache
            .put_secret(name, self.state.listed_secret(name), value.as_ref());
        Ok(value)
    }

    /// The device secret; its absence is corruption, never a reason to make one.
    pub(crate) fn device_secret_row(&mut self) -> Result<Secret32, VaultError> {
        let bytes = self.secret(DEVICE_SECRET)?.ok_or(VaultError::RowMissing {
            table: SECRETS,
            row: DEVICE_SECRET.into(),
        })?;
        Secret32::from_slice(&bytes).ok_or(VaultError::Undecodable {
            table: SECRETS,
            row: DEVICE_SECRET.into(),
            reason: "the device secret is not 32 bytes".into(),
        })
    }
}

/// The state and the cache are the file's as of now (a transaction just
/// checked them): the rest of the request need not ask.
fn mark_fresh(request_fresh: &mut Option<bool>) {
    if request_fresh.is_some() {
        *request_fresh = Some(true);
    }
}

/// A transaction begun and ended with prepared statements kept in the
/// connection's cache: rusqlite's `Transaction` parses the BEGIN and COMMIT
/// text every time, which on the sign-in path cost as much as the lookup.
/// Dropped without [`CachedTx::commit`], it rolls back.
struct CachedTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> CachedTx<'c> {
    fn begin(conn: &'c Connection, begin: &'static str) -> Result<Self, VaultError> {
        conn.prepare_cached(begin)?.execute([])?;
        Ok(Self { conn, open: true })
    }

    fn commit(mut self) -> Result<(), VaultError> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for CachedTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}

impl std::ops::Deref for CachedTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Vault {
    /// Gives unspent counter ranges back, so a clean restart skips no values
    /// (best effort: if it fails, the next start resumes above the bounds).
    fn drop(&mut self) {
        let _ = self.release_counters();
    }
}

/// `meta.key_epoch`: absent until the first rekey, then 16 random bytes
/// that each rekey replaces.
pub(crate) fn read_key_epoch(conn: &Connection) -> Result<Option<Vec<u8>>, VaultError> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'key_epoch'")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// [`state::refresh`], telling a rekey by another handle (the manifest no
/// longer opens under this handle's keys, and the key epoch changed) from
/// tampering.
fn refresh(
    conn: &Connection,
    keys: &VaultKeys,
    vault_id: &[u8],
    state: &mut State,
    key_epoch: &Option<Vec<u8>>,
) -> Result<bool, VaultError> {
    match state::refresh(conn, keys, vault_id, state) {
        Err(VaultError::Tampered { table, .. })
            if table == state::MANIFEST && read_key_epoch(conn)? != *key_epoch =>
        {
            Err(VaultError::RekeyedElsewhere)
        }
        other => other,
    }
}

/// A read transaction: the connection inside it, the keys and the state.
pub(crate) struct Reader<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) keys: &'a VaultKeys,
    pub(crate) state: &'a State,
    /// For the signature counters reached (the rows hold bounds).
    counters: &'a Counters,
}

impl Reader<'_> {
    /// Reads, checks and opens the credentials a lookup finds; `each` makes
    /// an entry of the result from a credential and its creation time. (The
    /// result is allocated at its final size: a growing or converted `Vec`
    /// would free copies of the keys held inline in the credentials.)
    pub(crate) fn credentials<T>(
        &self,
        lookup: Lookup<'_>,
        each: impl FnMut(StoredCredential, i64) -> T,
    ) -> Result<Vec<T>, VaultError> {
        let rows = self.checked_rows(lookup)?;
        open_rows(self.keys, self.counters, &rows, each)
    }

    /// The sealed rows a lookup finds, checked against the state.
    pub(crate) fn checked_rows(
        &self,
        lookup: Lookup<'_>,
    ) -> Result<Vec<CredentialRow>, VaultError> {
        let rows = match lookup {
            Lookup::Rp(rp_mac) => select_credentials(self.conn, "rp_mac = ?1", &[&&rp_mac[..]])?,
            Lookup::Id(id_mac) => select_credentials(self.conn, "id_mac = ?1", &[&&id_mac[..]])?,
            Lookup::All => select_credentials(self.conn, "1", &[])?,
        };
        self.state.check_found(self.keys, &rows, lookup)?;
        Ok(rows)
    }

    /// Reads, checks and opens a `secrets` row.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        rows::read_secret(self.conn, self.keys, name, self.state.listed_secret(name))
    }
}

/// Opens credentials rows checked against the state, each with the
/// signature counter reached; `each` makes an entry of the result from a
/// credential and its creation time. (The result is allocated at its final
/// size: a growing or converted `Vec` would free copies of the keys held
/// inline in the credentials.)
fn open_rows<T>(
    keys: &VaultKeys,
    counters: &Counters,
    rows: &[CredentialRow],
    mut each: impl FnMut(StoredCredential, i64) -> T,
) -> Result<Vec<T>, VaultError> {
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let (mut credential, created) = open_listed_credential(keys, row)?;
        show_counter_reached(counters, &row.id_mac, &mut credential);
        found.push(each(credential, created));
    }
    Ok(found)
}

/// Copies of the cached credentials of the relying party with this
/// rpIdHash, each showing the signature counter reached, if the cache holds
/// them as the state lists them ([`RowCache::rp_credentials`]).
fn copies(
    cache: &RowCache,
    counters: &Counters,
    state: &State,
    rp_id_hash: &[u8; 32],
) -> Option<Vec<StoredCredential>> {
    let cached = cache.rp_credentials(rp_id_hash, state)?;
    let mut found = Vec::with_capacity(cached.size_hint().0);
    for (id_mac, credential) in cached {
        let mut credential = credential.duplicate();
        show_counter_reached(counters, id_mac, &mut credential);
        found.push(credential);
    }
    Some(found)
}

/// Shows in `credential` (of the row with this `id_mac`) the signature
/// counter value this handle reached, where it reserved a range (the row
/// holds the bound).
fn show_counter_reached(counters: &Counters, id_mac: &[u8], credential: &mut StoredCredential) {
    if let Ok(id_mac) = <[u8; 32]>::try_from(id_mac)
        && let Some(last) = counters.last(Counter::Credential(id_mac))
    {
        credential.sign_count = last;
    }
}

/// A write transaction: the connection inside it, the keys, the vault id
/// and the state it is building.
pub(crate) struct Writer<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) keys: &'a VaultKeys,
    pub(crate) vault_id: &'a [u8],
    pub(crate) staged: Staged<'a>,
    /// The counter reservations as they stand (after the refresh).
    pub(crate) counters: &'a Counters,
    /// Reservations made (`Some`) or dropped (`None`), applied on commit.
    pub(crate) counter_changes: Vec<(Counter, Option<Reservation>)>,
}

impl Writer<'_> {
    /// Reads a `secrets` row, checked against the staged state.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        rows::read_secret(self.conn, self.keys, name, self.staged.listed_secret(name))
    }

    /// Writes (`Some`) or deletes (`None`) a `secrets` row.
    pub(crate) fn put_secret(
        &mut self,
        name: &str,
        value: Option<&[u8]>,
    ) -> Result<(), VaultError> {
        rows::write_secret(self.conn, self.keys, &mut self.staged, name, value)
    }

    /// The credentials row with this `id_mac` (none or one), checked against
    /// the staged state.
    pub(crate) fn select_checked(
        &self,
        id_mac: &[u8; 32],
    ) -> Result<Vec<CredentialRow>, VaultError> {
        let rows = select_credentials(self.conn, "id_mac = ?1", &[&&id_mac[..]])?;
        let listed = self.staged.listed_credential(id_mac);
        for row in &rows {
            state::check_credential(self.keys, listed, row)?;
        }
        if rows.is_empty() && listed.is_some() {
            return Err(VaultError::RowMissing {
                table: CREDENTIALS,
                row: format!("id_mac {}…", hex::encode(&id_mac[..8])),
            });
        }
        Ok(rows)
    }

    /// Adds a slot row for `unlocker` and stages it.
    fn insert_slot(&mut self, unlocker: &Unlocker, kdf: KdfParams) -> Result<i64, VaultError> {
        let id = slots::insert(self.conn, self.vault_id, self.keys.master(), unlocker, kdf)?;
        self.staged
            .set_slot(id, Some(slots::digest_of(self.conn, id)?));
        Ok(id)
    }

    /// Removes slot row `id` (and a keyring slot's item) and stages it.
    fn remove_slot(&mut self, id: i64, bus: &KeyringBus) -> Result<(), VaultError> {
        slots::remove(self.conn, self.vault_id, id, bus)?;
        self.staged.set_slot(id, None);
        Ok(())
    }
}

/// The bus of a keyring unlocker, else the session bus.
fn keyring_bus_of(unlocker: &Unlocker) -> KeyringBus {
    match unlocker {
        Unlocker::Keyring(bus) => bus.clone(),
        _ => KeyringBus::Session,
    }
}
