//! A read-through cache of the rows a sign-in reads, so that a getAssertion
//! on the vault costs little more than on the in-memory store (issue 15).
//!
//! A sign-in reads the PIN state, the configuration, the device secret (with
//! an allowList) and the credentials of one relying party. Read from the file
//! each time, that is a read transaction per row, a SHA-256 digest of each
//! row checked against the authenticated state and an AES-GCM open per
//! secret row. The cache keeps:
//!
//! - the **opened** small secrets rows of [`CACHED_SECRETS`] (PIN state,
//!   configuration, device secret), in zeroizing memory, each with the digest
//!   the authenticated state listed for it when it was read;
//! - the **opened** credentials found for a relying party (by its rpIdHash,
//!   so that a hit needs no HMAC), decoded (`StoredCredential`, whose
//!   secrets zeroize on drop; the cache's `Debug` shows none of it), with
//!   the `id_mac` of each row and what the state listed for it, so that a
//!   sign-in does no AES-GCM open and no decode while the rows are as read;
//! - the `id_mac` of each credential id opened (a pure function of the
//!   index key, so the signature counter of the credential a sign-in just
//!   read needs no HMAC either).
//!
//! **When an entry is used.** Every entry was read, checked and opened in a
//! transaction that saw `PRAGMA data_version` at [`RowCache::version`]. That
//! value changes whenever another connection commits to the file (the
//! `softkey vault` CLI while the daemon runs, another softkey, or anyone
//! editing the file with SQLite), and not for this connection's own commits.
//! So an entry is used only while the file's `data_version` still reads the
//! same **and** the state in memory lists the same digest for the row (this
//! handle's own writes change the state as they commit). Asking
//! `data_version` is one statement, but a read transaction of SQLite: the
//! WAL read lock taken and dropped, two `fcntl` calls. Inside a request of
//! the core (`Store::begin_request`) it is asked once, at the request's
//! first read, and the answer holds for the rest of the request (the
//! signature counter alone asks again, right before each value). Any other commit clears the whole cache at the next transaction,
//! which reads and checks every row it needs again, tampering included.
//! Nothing cached is more secret than the keys the open vault holds anyway
//! in the same process memory (they open every row, so a reader of this
//! memory learns no more from an opened credential than from the keys and
//! the file), and every entry is dropped, zeroized, with the vault.
//!
//! An opened credential is a function of its sealed row alone: it is kept
//! under exactly the rule a sealed row would be (the same `data_version`,
//! the same digest listed for the row). A write of this handle (a counter
//! reservation, a replacement, a delete) changes that digest as it commits,
//! so the next sign-in reads, checks and opens the row again. The signature
//! counter a sign-in shows is the reservation's, never the cached one.

use std::collections::HashMap;

use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::error::VaultError;
use softkey_authenticator::credential::StoredCredential;

use crate::rows::{CredentialRow, DEVICE_SECRET};
use crate::state::{Digest, Listed, State};

/// The secrets rows kept opened: what a sign-in reads. (Not the attestation
/// key, the persistent pinUvAuthToken or the large-blob array.)
pub(crate) const CACHED_SECRETS: [&str; 3] = [DEVICE_SECRET, "setting/pin_state", "setting/config"];

/// `PRAGMA data_version` of the connection: changes when another connection
/// commits to the file.
pub(crate) fn data_version(conn: &Connection) -> Result<i64, VaultError> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// One opened secrets row (`None`: the row is absent) and the digest the
/// state listed for it when it was read.
struct CachedSecret {
    listed: Option<Digest>,
    value: Option<Zeroizing<Vec<u8>>>,
}

/// The opened credentials of one relying party (`rp_mac`), with the
/// `id_mac` of each row and what the state listed for it.
struct RpRows {
    rp_mac: [u8; 32],
    id_macs: Vec<Vec<u8>>,
    listed: Vec<Option<Listed>>,
    credentials: Vec<StoredCredential>,
}

/// The cache of an open vault (see the module docs).
#[derive(Default)]
pub(crate) struct RowCache {
    version: Option<i64>,
    secrets: HashMap<&'static str, CachedSecret>,
    /// By rpIdHash.
    rp_rows: HashMap<[u8; 32], RpRows>,
    /// Credential id → `id_mac`.
    id_macs: HashMap<Vec<u8>, [u8; 32]>,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl RowCache {
    /// Takes the `data_version` a transaction read (after checking the
    /// state): every entry read under another one is dropped.
    pub(crate) fn at_version(&mut self, version: i64) {
        if self.version != Some(version) {
            self.clear();
            self.version = Some(version);
        }
    }

    /// Whether the entries are still those of the file (`version` is the
    /// `data_version` just read).
    pub(crate) fn is_current(&self, version: i64) -> bool {
        self.version == Some(version)
    }

    /// Drops every entry (and the version: the next transaction sets it).
    pub(crate) fn clear(&mut self) {
        self.secrets.clear();
        self.rp_rows.clear();
        self.id_macs.clear();
        self.version = None;
    }

    /// The cached secrets row `name` if the state still lists it as it was
    /// (`Some(None)`: cached as absent).
    pub(crate) fn secret(
        &self,
        name: &str,
        listed: Option<Digest>,
    ) -> Option<Option<Zeroizing<Vec<u8>>>> {
        self.secrets
            .get(name)
            .filter(|cached| cached.listed == listed)
            .map(|cached| cached.value.clone())
    }

    /// Keeps the secrets row `name` as just read, if it is one of
    /// [`CACHED_SECRETS`].
    pub(crate) fn put_secret(
        &mut self,
        name: &str,
        listed: Option<Digest>,
        value: Option<&Zeroizing<Vec<u8>>>,
    ) {
        if let Some(name) = CACHED_SECRETS.iter().find(|cached| **cached == name) {
            let value = value.cloned();
            self.secrets.insert(name, CachedSecret { listed, value });
        }
    }

    /// The cached credentials of the relying party with this rpIdHash, each
    /// with its row's `id_mac`, if their rows are still every row the state
    /// lists for it, unchanged.
    pub(crate) fn rp_credentials(
        &self,
        rp_id_hash: &[u8; 32],
        state: &State,
    ) -> Option<impl Iterator<Item = (&[u8], &StoredCredential)>> {
        let cached = self.rp_rows.get(rp_id_hash)?;
        let current = cached.id_macs.len() == state.rp_count(&cached.rp_mac)
            && cached
                .id_macs
                .iter()
                .zip(&cached.listed)
                .all(|(id_mac, listed)| state.listed_credential(id_mac) == *listed);
        current.then(|| {
            cached
                .id_macs
                .iter()
                .map(Vec::as_slice)
                .zip(&cached.credentials)
        })
    }

    /// Keeps the credentials of the relying party with this rpIdHash (and
    /// `rp_mac`) opened from `rows`, as just read and checked against
    /// `state` (`credentials[i]` opened from `rows[i]`).
    pub(crate) fn put_rp_credentials(
        &mut self,
        rp_id_hash: [u8; 32],
        rp_mac: [u8; 32],
        rows: &[CredentialRow],
        credentials: Vec<StoredCredential>,
        state: &State,
    ) {
        let listed = rows
            .iter()
            .map(|row| state.listed_credential(&row.id_mac))
            .collect();
        let id_macs = rows.iter().map(|row| row.id_mac.clone()).collect();
        let entry = RpRows {
            rp_mac,
            id_macs,
            listed,
            credentials,
        };
        self.rp_rows.insert(rp_id_hash, entry);
    }

    /// The `id_mac` of a credential id opened before.
    pub(crate) fn id_mac(&self, credential_id: &[u8]) -> Option<[u8; 32]> {
        self.id_macs.get(credential_id).copied()
    }

    /// Notes the `id_mac` of the credential id of a row that opened.
    pub(crate) fn put_id_mac(&mut self, credential_id: &[u8], id_mac: &[u8]) {
        if let Ok(id_mac) = <[u8; 32]>::try_from(id_mac)
            && !self.id_macs.contains_key(credential_id)
        {
            self.id_macs.insert(credential_id.to_vec(), id_mac);
        }
    }
}
