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
//! - the **sealed** credentials rows found for a relying party (by its
//!   rpIdHash, so that a hit needs no HMAC), with what the state listed for
//!   each (the private keys in them are opened per request, never kept open:
//!   a cached row is still ciphertext);
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
//! (they open every row).

use std::collections::HashMap;

use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::error::VaultError;
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

/// The sealed credentials rows of one relying party (`rp_mac`), and what
/// the state listed for each.
struct RpRows {
    rp_mac: [u8; 32],
    rows: Vec<CredentialRow>,
    listed: Vec<Option<Listed>>,
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

    /// The cached rows of the relying party with this rpIdHash, if they are
    /// still every row the state lists for it, unchanged.
    pub(crate) fn rp_rows(&self, rp_id_hash: &[u8; 32], state: &State) -> Option<&[CredentialRow]> {
        let cached = self.rp_rows.get(rp_id_hash)?;
        let current = cached.rows.len() == state.rp_count(&cached.rp_mac)
            && cached
                .rows
                .iter()
                .zip(&cached.listed)
                .all(|(row, listed)| state.listed_credential(&row.id_mac) == *listed);
        current.then_some(cached.rows.as_slice())
    }

    /// Keeps the rows of the relying party with this rpIdHash (and
    /// `rp_mac`) as just read and checked against `state`.
    pub(crate) fn put_rp_rows(
        &mut self,
        rp_id_hash: [u8; 32],
        rp_mac: [u8; 32],
        rows: Vec<CredentialRow>,
        state: &State,
    ) {
        let listed = rows
            .iter()
            .map(|row| state.listed_credential(&row.id_mac))
            .collect();
        let entry = RpRows {
            rp_mac,
            rows,
            listed,
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
