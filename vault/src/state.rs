//! The rows as one authenticated state (schema version 2).
//!
//! Sealing each row on its own (AES-GCM with the row's identity as associated
//! data) stops edits, moves and swaps, but not someone who can write the file
//! and deletes a row (the PIN state: no PIN), writes an older sealed row back
//! (the PIN retries refilled, a counter rolled back) or copies a row in from a
//! copy of the vault. So the vault keeps one sealed **manifest** row, rewritten
//! in the same transaction as every other write:
//!
//! ```text
//! manifest(id = 1, generation, payload = seal("manifest", vault id,
//!     generation (u64) ‖ slots: count (u32) ‖ (slot id (i64) ‖ digest)*
//!                      ‖ secrets: count (u32) ‖ (len ‖ name ‖ digest)*
//!                      ‖ credentials: count (u64) ‖ set hash (32)))
//! digest(row)  = SHA-256("softkey-vault/v2/row" ‖ table ‖ the row's columns, each length-framed)
//! set hash     = XOR over credential rows of HMAC(state key, "credentials" ‖ digest(row))
//! ```
//!
//! The few slot and secret rows are listed one by one, so a deleted, replayed
//! or foreign one is named ([`VaultError::RowMissing`], [`VaultError::RowReplaced`],
//! [`VaultError::RowUnknown`]; one that does not even open is
//! [`VaultError::Tampered`]). The credential rows, which may be many, are
//! bound by their count and a keyed set hash (the MSet-XOR-Hash of Clarke,
//! Devadas, van Dijk, Gassend and Suh, 2003, keyed with an HKDF subkey of the
//! master key and sealed, so its value is never seen): updating it costs
//! O(1) per written row, so a write stays O(1) in the number of credentials.
//! A set that differs is [`VaultError::CredentialSetMismatch`] at open.
//!
//! Opening a vault reads every row once and checks it against the manifest;
//! the open vault then keeps every row's digest in memory and checks each row
//! it reads (a missing, replayed or unknown row fails the call that reads it).
//! The `generation` grows by one per write; another handle's write (a higher
//! generation) makes a handle reload and re-check the state, and a lower
//! generation than one already seen is [`VaultError::RolledBack`].
//!
//! What the file alone cannot show: a copy of the **whole** file (every row
//! and the manifest, as they were together) put back while no softkey has
//! the vault open. That needs an anchor outside the file.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest as _, Sha256};

use crate::error::VaultError;
use crate::rows::{self, CREDENTIALS, CredentialRow, SECRETS};
use crate::sealing::VaultKeys;
use crate::slots;

/// Name of the manifest table (in errors and associated data).
pub(crate) const MANIFEST: &str = "manifest";
/// Name of the slots table (in errors).
pub(crate) const SLOTS: &str = "slots";
/// The manifest's row label in errors.
const MANIFEST_ROW: &str = "1";

/// SHA-256 of a row's columns.
pub(crate) type Digest = [u8; 32];

/// The digest of a row of `table` with these columns.
pub(crate) fn row_digest(table: &str, columns: &[&[u8]]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update(b"softkey-vault/v2/row");
    for part in std::iter::once(table.as_bytes()).chain(columns.iter().copied()) {
        let len = u32::try_from(part.len()).expect("row columns are far below 4 GiB");
        hasher.update(len.to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The digest of a credentials row.
pub(crate) fn credential_digest(
    id_mac: &[u8],
    rp_mac: &[u8],
    user_mac: &[u8],
    payload: &[u8],
) -> Digest {
    row_digest(CREDENTIALS, &[id_mac, rp_mac, user_mac, payload])
}

/// The digest of a secrets row.
pub(crate) fn secret_digest(name: &str, payload: &[u8]) -> Digest {
    row_digest(SECRETS, &[name.as_bytes(), payload])
}

/// What the state lists for one credentials row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Its relying-party index value (to know how many rows a lookup finds).
    pub(crate) rp_mac: [u8; 32],
    /// Its digest.
    pub(crate) digest: Digest,
}

/// The sealed manifest's content.
#[derive(Debug, Default, PartialEq, Eq)]
struct Manifest {
    generation: u64,
    slots: BTreeMap<i64, Digest>,
    secrets: BTreeMap<String, Digest>,
    credential_count: u64,
    credential_set: [u8; 32],
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let count = |n: usize| u32::try_from(n).expect("few slots and secrets");
        let mut out = Vec::with_capacity(64 + 40 * (self.slots.len() + self.secrets.len()));
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&count(self.slots.len()).to_be_bytes());
        for (id, digest) in &self.slots {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(digest);
        }
        out.extend_from_slice(&count(self.secrets.len()).to_be_bytes());
        for (name, digest) in &self.secrets {
            crate::sealing::push_framed(&mut out, name.as_bytes());
            out.extend_from_slice(digest);
        }
        out.extend_from_slice(&self.credential_count.to_be_bytes());
        out.extend_from_slice(&self.credential_set);
        out
    }

    fn decode(mut bytes: &[u8]) -> Option<Self> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, tail) = bytes.split_at_checked(n)?;
            *bytes = tail;
            Some(head)
        }
        fn array<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
            take(bytes, N)?.try_into().ok()
        }
        let generation = u64::from_be_bytes(array(&mut bytes)?);
        let mut slots = BTreeMap::new();
        for _ in 0..u32::from_be_bytes(array(&mut bytes)?) {
            let id = i64::from_be_bytes(array(&mut bytes)?);
            slots.insert(id, array(&mut bytes)?);
        }
        let mut secrets = BTreeMap::new();
        for _ in 0..u32::from_be_bytes(array(&mut bytes)?) {
            let len = u32::from_be_bytes(array(&mut bytes)?);
            let name = std::str::from_utf8(take(&mut bytes, usize::try_from(len).ok()?)?).ok()?;
            secrets.insert(name.to_owned(), array(&mut bytes)?);
        }
        let credential_count = u64::from_be_bytes(array(&mut bytes)?);
        let credential_set = array(&mut bytes)?;
        bytes.is_empty().then_some(Self {
            generation,
            slots,
            secrets,
            credential_count,
            credential_set,
        })
    }
}

/// Writes the sealed manifest of `generation` inside a transaction.
fn write_manifest(
    conn: &Connection,
    keys: &VaultKeys,
    vault_id: &[u8],
    manifest: &Manifest,
) -> Result<(), VaultError> {
    let payload = keys.seal_row(MANIFEST, vault_id, &manifest.encode());
    let generation = i64::try_from(manifest.generation).expect("generations stay below 2^63");
    conn.prepare_cached(
        "INSERT INTO manifest (id, generation, payload) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET generation = excluded.generation, payload = excluded.payload",
    )?
    .execute(params![generation, payload])?;
    Ok(())
}

/// The generation column of the manifest row (a missing row is tampering).
pub(crate) fn generation_column(conn: &Connection) -> Result<i64, VaultError> {
    conn.prepare_cached("SELECT generation FROM manifest WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .ok_or_else(|| VaultError::RowMissing {
            table: MANIFEST,
            row: MANIFEST_ROW.into(),
        })
}

/// Reads and opens the sealed manifest.
fn read_manifest(
    conn: &Connection,
    keys: &VaultKeys,
    vault_id: &[u8],
) -> Result<Manifest, VaultError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT generation, payload FROM manifest WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (column, payload) = row.ok_or_else(|| VaultError::RowMissing {
        table: MANIFEST,
        row: MANIFEST_ROW.into(),
    })?;
    let plaintext = keys.open_row(MANIFEST, vault_id, &|| MANIFEST_ROW.into(), &payload)?;
    let manifest = Manifest::decode(&plaintext).ok_or_else(|| VaultError::Undecodable {
        table: MANIFEST,
        row: MANIFEST_ROW.into(),
        reason: "the manifest's layout is wrong".into(),
    })?;
    // The column is a copy for cheap change checks; the sealed value rules.
    if i64::try_from(manifest.generation).ok() != Some(column) {
        return Err(VaultError::Tampered {
            table: MANIFEST,
            row: MANIFEST_ROW.into(),
        });
    }
    Ok(manifest)
}

fn xor_into(set: &mut [u8; 32], element: &[u8; 32]) {
    for (byte, other) in set.iter_mut().zip(element) {
        *byte ^= other;
    }
}

/// A secrets row's payload against what the state lists for it.
pub(crate) fn check_secret(
    keys: &VaultKeys,
    name: &str,
    listed: Option<Digest>,
    payload: Option<&[u8]>,
) -> Result<(), VaultError> {
    let row = || name.to_owned();
    match (listed, payload) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(VaultError::RowMissing {
            table: SECRETS,
            row: row(),
        }),
        (Some(digest), Some(payload)) if secret_digest(name, payload) == digest => Ok(()),
        // Not the listed row: one that does not open is tampered; one that
        // does is a genuine row of this vault's keys, out of place.
        (listed, Some(payload)) => {
            rows::open_secret(keys, name, payload)?;
            Err(if listed.is_some() {
                VaultError::RowReplaced {
                    table: SECRETS,
                    row: row(),
                }
            } else {
                VaultError::RowUnknown {
                    table: SECRETS,
                    row: row(),
                }
            })
        }
    }
}

/// A credentials row against what the state lists for its `id_mac`.
pub(crate) fn check_credential(
    keys: &VaultKeys,
    listed: Option<Listed>,
    row: &CredentialRow,
) -> Result<(), VaultError> {
    if listed.is_some() && row.listed() == listed {
        return Ok(());
    }
    rows::open_credential(keys, row)?;
    Err(if listed.is_some() {
        VaultError::RowReplaced {
            table: CREDENTIALS,
            row: row.label(),
        }
    } else {
        VaultError::RowUnknown {
            table: CREDENTIALS,
            row: row.label(),
        }
    })
}

/// How a credential that the state lists but the file lacks is named.
fn missing_credential(id_mac: &[u8; 32]) -> VaultError {
    VaultError::RowMissing {
        table: CREDENTIALS,
        row: format!("id_mac {}…", hex::encode(&id_mac[..8])),
    }
}

/// Compares the slot rows with those listed (no slot opens without its
/// unlocker, so a changed one is only ever "replaced").
fn check_slot_rows(listed: &BTreeMap<i64, Digest>, conn: &Connection) -> Result<(), VaultError> {
    compare_listed(SLOTS, listed, &slots::digests(conn)?, |_| Ok(()))
}

/// Compares the rows of a listed table (slots, secrets) with the manifest.
fn compare_listed<K: Ord + ToString>(
    table: &'static str,
    listed: &BTreeMap<K, Digest>,
    found: &BTreeMap<K, Digest>,
    opens: impl Fn(&K) -> Result<(), VaultError>,
) -> Result<(), VaultError> {
    for (key, digest) in listed {
        match found.get(key) {
            None => {
                return Err(VaultError::RowMissing {
                    table,
                    row: key.to_string(),
                });
            }
            Some(found) if found != digest => {
                opens(key)?;
                return Err(VaultError::RowReplaced {
                    table,
                    row: key.to_string(),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(key) = found.keys().find(|key| !listed.contains_key(key)) {
        opens(key)?;
        return Err(VaultError::RowUnknown {
            table,
            row: key.to_string(),
        });
    }
    Ok(())
}

/// The authenticated state of an open vault: the generation it is at and the
/// digest of every row, as the sealed manifest of that generation binds them.
#[derive(Debug, Default)]
pub(crate) struct State {
    generation: u64,
    slots: BTreeMap<i64, Digest>,
    secrets: BTreeMap<String, Digest>,
    credentials: HashMap<[u8; 32], Listed>,
    /// How many credentials each `rp_mac` has (what a lookup must find).
    rp_counts: HashMap<[u8; 32], usize>,
    credential_set: [u8; 32],
    /// The `id` (insertion order) a new credentials row gets: one above
    /// the largest in the file.
    next_id: i64,
}

impl State {
    /// The state of a vault being created: nothing yet, generation 0.
    pub(crate) fn empty() -> Self {
        Self::default()
    }

    /// Nothing yet, at `generation` (a rekey builds the state anew on it,
    /// over rows whose largest `id` is below `next_id`).
    pub(crate) fn at_generation(generation: u64, next_id: i64) -> Self {
        Self {
            generation,
            next_id,
            ..Self::default()
        }
    }

    /// The `id` a new credentials row gets.
    pub(crate) fn next_id(&self) -> i64 {
        self.next_id
    }

    /// The generation this state is at.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Reads the sealed manifest and every row, and checks that they are the
    /// state the manifest binds. `seen` is a generation this handle already
    /// saw (when reloading after another handle wrote): an older one is a
    /// rollback.
    pub(crate) fn load(
        conn: &Connection,
        keys: &VaultKeys,
        vault_id: &[u8],
        seen: Option<u64>,
    ) -> Result<Self, VaultError> {
        let manifest = read_manifest(conn, keys, vault_id)?;
        if let Some(seen) = seen
            && manifest.generation < seen
        {
            return Err(VaultError::RolledBack {
                found: manifest.generation,
                seen,
            });
        }
        check_slot_rows(&manifest.slots, conn)?;

        let mut secret_rows = BTreeMap::new();
        let mut statement = conn.prepare_cached("SELECT name, payload FROM secrets")?;
        for row in statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
            let (name, payload): (String, Vec<u8>) = row?;
            secret_rows.insert(name, payload);
        }
        let found: BTreeMap<String, Digest> = secret_rows
            .iter()
            .map(|(name, payload)| (name.clone(), secret_digest(name, payload)))
            .collect();
        compare_listed(SECRETS, &manifest.secrets, &found, |name| {
            rows::open_secret(keys, name, &secret_rows[name]).map(drop)
        })?;

        let mut state = Self {
            generation: manifest.generation,
            slots: manifest.slots,
            secrets: manifest.secrets,
            ..Self::default()
        };
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {} FROM credentials ORDER BY id",
            CredentialRow::COLUMNS
        ))?;
        let mut rows_found = 0u64;
        for row in statement.query_map([], CredentialRow::from_row)? {
            let row = row?;
            rows_found += 1;
            state.next_id = state.next_id.max(row.rowid.saturating_add(1));
            let (Ok(id_mac), Some(listed)) = (<[u8; 32]>::try_from(&row.id_mac[..]), row.listed())
            else {
                // Not even the right shape: it cannot open either.
                rows::open_credential(keys, &row)?;
                return Err(VaultError::Tampered {
                    table: CREDENTIALS,
                    row: row.label(),
                });
            };
            xor_into(
                &mut state.credential_set,
                &keys.credential_set_element(&listed.digest),
            );
            *state.rp_counts.entry(listed.rp_mac).or_default() += 1;
            state.credentials.insert(id_mac, listed);
        }
        if rows_found != manifest.credential_count
            || state.credential_set != manifest.credential_set
        {
            // Name a row that does not even open, if there is one.
            for row in rows::select_credentials(conn, "1", &[])? {
                rows::open_credential(keys, &row)?;
            }
            return Err(VaultError::CredentialSetMismatch {
                found: rows_found,
                listed: manifest.credential_count,
            });
        }
        Ok(state)
    }

    /// How many credentials the state holds.
    pub(crate) fn credential_count(&self) -> usize {
        self.credentials.len()
    }

    /// What the state lists for the secrets row `name`.
    pub(crate) fn listed_secret(&self, name: &str) -> Option<Digest> {
        self.secrets.get(name).copied()
    }

    /// How many credentials the state lists for the relying party `rp_mac`.
    pub(crate) fn rp_count(&self, rp_mac: &[u8; 32]) -> usize {
        self.rp_counts.get(rp_mac).copied().unwrap_or(0)
    }

    /// What the state lists for the credential with this `id_mac`.
    pub(crate) fn listed_credential(&self, id_mac: &[u8]) -> Option<Listed> {
        <[u8; 32]>::try_from(id_mac)
            .ok()
            .and_then(|id_mac| self.credentials.get(&id_mac).copied())
    }

    /// Checks the rows a lookup found against the state: each one listed and
    /// unchanged, and none that the state lists for the lookup missing.
    /// `lookup` says which listed credentials the lookup should have found.
    pub(crate) fn check_found(
        &self,
        keys: &VaultKeys,
        rows: &[CredentialRow],
        lookup: Lookup<'_>,
    ) -> Result<(), VaultError> {
        for row in rows {
            check_credential(keys, self.listed_credential(&row.id_mac), row)?;
        }
        let expected = match lookup {
            Lookup::Rp(rp_mac) => self.rp_count(rp_mac),
            Lookup::Id(id_mac) => usize::from(self.credentials.contains_key(id_mac)),
            Lookup::All => self.credentials.len(),
        };
        if rows.len() == expected {
            return Ok(());
        }
        let found: std::collections::HashSet<&[u8]> =
            rows.iter().map(|row| row.id_mac.as_slice()).collect();
        let missing = self
            .credentials
            .iter()
            .filter(|(id_mac, listed)| match lookup {
                Lookup::Rp(rp_mac) => &listed.rp_mac == rp_mac,
                Lookup::Id(wanted) => *id_mac == wanted,
                Lookup::All => true,
            })
            .find(|(id_mac, _)| !found.contains(id_mac.as_slice()))
            .map(|(id_mac, _)| *id_mac);
        Err(missing.map_or(
            VaultError::CredentialSetMismatch {
                found: rows.len() as u64,
                listed: expected as u64,
            },
            |id_mac| missing_credential(&id_mac),
        ))
    }

    /// Checks the slot rows against the state (before a slot is changed, and
    /// for `info`).
    pub(crate) fn check_slots(&self, conn: &Connection) -> Result<(), VaultError> {
        check_slot_rows(&self.slots, conn)
    }

    /// Takes in what a committed transaction changed.
    pub(crate) fn apply(&mut self, changes: Changes) {
        if changes.cleared {
            self.credentials.clear();
            self.rp_counts.clear();
        }
        for (id_mac, new) in changes.credentials {
            if let Some(old) = self.credentials.remove(&id_mac) {
                let count = self.rp_counts.entry(old.rp_mac).or_default();
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.rp_counts.remove(&old.rp_mac);
                }
            }
            if let Some(new) = new {
                *self.rp_counts.entry(new.rp_mac).or_default() += 1;
                self.credentials.insert(id_mac, new);
            }
        }
        self.generation = changes.manifest.generation;
        self.slots = changes.manifest.slots;
        self.secrets = changes.manifest.secrets;
        self.credential_set = changes.manifest.credential_set;
        self.next_id = changes.next_id;
    }
}

/// Which listed credentials a lookup should find.
#[derive(Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// Those of one relying party (`rp_mac`).
    Rp(&'a [u8; 32]),
    /// The one with this `id_mac`, if listed.
    Id(&'a [u8; 32]),
    /// All of them.
    All,
}

/// Reloads `state` when another handle wrote since it was loaded (checked
/// through the manifest's generation column; `Ok(true)` then).
pub(crate) fn refresh(
    conn: &Connection,
    keys: &VaultKeys,
    vault_id: &[u8],
    state: &mut State,
) -> Result<bool, VaultError> {
    if u64::try_from(generation_column(conn)?).ok() == Some(state.generation) {
        return Ok(false);
    }
    *state = State::load(conn, keys, vault_id, Some(state.generation))?;
    Ok(true)
}

/// The state a write transaction is building: the base state with this
/// transaction's row changes over it.
pub(crate) struct Staged<'s> {
    base: &'s State,
    slots: BTreeMap<i64, Digest>,
    secrets: BTreeMap<String, Digest>,
    cleared: bool,
    credentials: HashMap<[u8; 32], Option<Listed>>,
    credential_count: u64,
    credential_set: [u8; 32],
    next_id: i64,
}

impl<'s> Staged<'s> {
    /// Starts from `base`.
    pub(crate) fn new(base: &'s State) -> Self {
        Self {
            base,
            slots: base.slots.clone(),
            secrets: base.secrets.clone(),
            cleared: false,
            credentials: HashMap::new(),
            credential_count: base.credentials.len() as u64,
            credential_set: base.credential_set,
            next_id: base.next_id,
        }
    }

    /// What the staged state lists for the secrets row `name`.
    pub(crate) fn listed_secret(&self, name: &str) -> Option<Digest> {
        self.secrets.get(name).copied()
    }

    /// What the staged state lists for the credential with this `id_mac`.
    pub(crate) fn listed_credential(&self, id_mac: &[u8]) -> Option<Listed> {
        let key = <[u8; 32]>::try_from(id_mac).ok()?;
        match self.credentials.get(&key) {
            Some(staged) => *staged,
            None if self.cleared => None,
            None => self.base.credentials.get(&key).copied(),
        }
    }

    /// Records a credentials row written (`Some`) or deleted (`None`).
    pub(crate) fn set_credential(
        &mut self,
        keys: &VaultKeys,
        id_mac: [u8; 32],
        new: Option<Listed>,
    ) {
        if let Some(old) = self.listed_credential(&id_mac) {
            xor_into(
                &mut self.credential_set,
                &keys.credential_set_element(&old.digest),
            );
            self.credential_count -= 1;
        }
        if let Some(new) = new {
            xor_into(
                &mut self.credential_set,
                &keys.credential_set_element(&new.digest),
            );
            self.credential_count += 1;
        }
        self.credentials.insert(id_mac, new);
    }

    /// The `id` (insertion order) of a credentials row about to be inserted.
    pub(crate) fn new_row_id(&mut self) -> i64 {
        // From 1, as the rowids that were the order before schema 3.
        let id = self.next_id.max(1);
        self.next_id = id.saturating_add(1);
        id
    }

    /// Records that every credentials row was deleted.
    pub(crate) fn clear_credentials(&mut self) {
        self.cleared = true;
        self.credentials.clear();
        self.credential_count = 0;
        self.credential_set = [0; 32];
    }

    /// Records a secrets row written (`Some`) or deleted (`None`).
    pub(crate) fn set_secret(&mut self, name: &str, digest: Option<Digest>) {
        match digest {
            Some(digest) => self.secrets.insert(name.to_owned(), digest),
            None => self.secrets.remove(name),
        };
    }

    /// Checks the slot rows against the staged state (before changing one).
    pub(crate) fn check_slots(&self, conn: &Connection) -> Result<(), VaultError> {
        check_slot_rows(&self.slots, conn)
    }

    /// Records a slot row written (`Some`) or deleted (`None`).
    pub(crate) fn set_slot(&mut self, id: i64, digest: Option<Digest>) {
        match digest {
            Some(digest) => self.slots.insert(id, digest),
            None => self.slots.remove(&id),
        };
    }

    /// Writes the manifest of the next generation; what the transaction
    /// changed, for [`State::apply`] once it committed.
    pub(crate) fn finish(
        self,
        conn: &Connection,
        keys: &VaultKeys,
        vault_id: &[u8],
    ) -> Result<Changes, VaultError> {
        let manifest = Manifest {
            generation: self.base.generation + 1,
            slots: self.slots,
            secrets: self.secrets,
            credential_count: self.credential_count,
            credential_set: self.credential_set,
        };
        write_manifest(conn, keys, vault_id, &manifest)?;
        Ok(Changes {
            manifest,
            cleared: self.cleared,
            next_id: self.next_id,
            credentials: self.credentials,
        })
    }
}

/// What a committed write changed.
pub(crate) struct Changes {
    manifest: Manifest,
    cleared: bool,
    next_id: i64,
    credentials: HashMap<[u8; 32], Option<Listed>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_refuses_trailing_bytes() {
        let manifest = Manifest {
            generation: 7,
            slots: [(1, [1; 32]), (3, [3; 32])].into(),
            secrets: [("device_secret".to_owned(), [9; 32])].into(),
            credential_count: 2,
            credential_set: [5; 32],
        };
        let encoded = manifest.encode();
        assert_eq!(Manifest::decode(&encoded), Some(manifest));
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(Manifest::decode(&longer), None);
        for len in 0..encoded.len() {
            assert_eq!(Manifest::decode(&encoded[..len]), None, "cut at {len}");
        }
    }

    #[test]
    fn row_digests_are_framed_and_separate_tables() {
        assert_ne!(
            row_digest("secrets", &[b"ab", b"c"]),
            row_digest("secrets", &[b"a", b"bc"])
        );
        assert_ne!(
            row_digest("secrets", &[b"a"]),
            row_digest("credentials", &[b"a"])
        );
    }
}
