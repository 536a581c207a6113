//! [`Vault::rekey`]: a new master key, every row sealed again under it and
//! every kept slot wrapped again, in one transaction.
//!
//! `passwd`, `add-key` and `remove-key` change slots only: the master key
//! stays, so an old copy of the file together with a secret that opened it
//! then (a passphrase since changed, a key file since removed) still yields
//! the master key, and that key opens every row written later. After a
//! passphrase or key file may have leaked, replace or remove that unlocker
//! and then rekey: rows written after the rekey open only under the new key.
//!
//! Every slot the rekey keeps must be opened with its own unlocker (the old
//! master key is checked to come out of it); the others are removed. A
//! keyring slot keeps its item's secret (rotating it would have to happen in
//! the keyring outside the transaction; remove and add the slot to rotate
//! it). The rekey first checks the whole file against the sealed state, so a
//! tampered row is never sealed again as if it were valid; then one SQLite
//! transaction re-seals, re-indexes and re-wraps everything: killed at any
//! point, the file holds the old vault or the new one (`tests/rekey.rs`).

use rusqlite::{TransactionBehavior, params};

use crate::error::VaultError;
use crate::rows::{
    self, CREDENTIALS, SECRETS, credential_identity, decode_credential, select_credentials,
};
use crate::sealing::{VaultKeys, random_bytes, random_secret};
use crate::slots::{self, Unlocker};
use crate::state::{self, Listed, Staged, State};
use crate::vault::Vault;

/// What a rekey did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RekeyOutcome {
    /// The slots kept, wrapped again under the new master key.
    pub kept: Vec<i64>,
    /// The slots removed (no unlocker was given for them).
    pub removed: Vec<i64>,
    /// How many credential rows were sealed again.
    pub credentials: usize,
    /// How many secrets rows (device secret, counter, settings) were sealed again.
    pub secrets: usize,
}

impl Vault {
    /// Replaces the master key: every slot in `keep` is opened with its
    /// unlocker and wrapped again under a new master key, every other slot is
    /// removed, and every row is sealed (and indexed) again, in one durable
    /// transaction. Runs Argon2 twice per kept passphrase slot, before the
    /// transaction. Other handles open on the vault get
    /// [`VaultError::RekeyedElsewhere`] afterwards.
    pub fn rekey(&mut self, keep: &[(i64, &Unlocker)]) -> Result<RekeyOutcome, VaultError> {
        let existing: Vec<i64> = self.slots()?.iter().map(|slot| slot.id).collect();
        if keep.is_empty() {
            return Err(VaultError::Usage(
                "a rekey must keep at least one slot".into(),
            ));
        }
        let mut kept: Vec<i64> = keep.iter().map(|(id, _)| *id).collect();
        kept.sort_unstable();
        if let Some(pair) = kept.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(VaultError::Usage(format!(
                "slot {} is named twice",
                pair[0]
            )));
        }
        if let Some(id) = kept.iter().find(|id| !existing.contains(id)) {
            return Err(VaultError::NoSuchSlot(*id));
        }
        let removed: Vec<i64> = existing
            .into_iter()
            .filter(|id| !kept.contains(id))
            .collect();

        let new_master = random_secret();
        let rewrapped = keep
            .iter()
            .map(|(id, unlocker)| {
                slots::rewrap(
                    &self.conn,
                    &self.vault_id,
                    *id,
                    unlocker,
                    self.keys.master(),
                    &new_master,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let new_keys = VaultKeys::derive(new_master);
        let key_epoch = random_bytes::<16>().to_vec();
        let bus = self.keyring_bus.clone();

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The whole file against the sealed state, before anything is sealed anew.
        let checked = State::load(
            &tx,
            &self.keys,
            &self.vault_id,
            Some(self.state.generation()),
        )?;
        for id in &removed {
            slots::remove(&tx, &self.vault_id, *id, &bus)?;
        }
        for slot in &rewrapped {
            slots::store_rewrapped(&tx, slot)?;
        }
        let base = State::at_generation(checked.generation(), checked.next_id());
        let mut staged = Staged::new(&base);
        for (id, digest) in slots::digests(&tx)? {
            staged.set_slot(id, Some(digest));
        }
        let names: Vec<String> = tx
            .prepare("SELECT name FROM secrets")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for name in &names {
            let value = rows::read_secret(&tx, &self.keys, name, checked.listed_secret(name))?
                .ok_or_else(|| VaultError::RowMissing {
                    table: SECRETS,
                    row: name.clone(),
                })?;
            rows::write_secret(&tx, &new_keys, &mut staged, name, Some(&value))?;
        }
        let credential_rows = select_credentials(&tx, "1", &[])?;
        for row in &credential_rows {
            state::check_credential(&self.keys, checked.listed_credential(&row.id_mac), row)?;
            let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
            let plaintext =
                self.keys
                    .open_row(CREDENTIALS, &identity, &|| row.label(), &row.payload)?;
            let (credential, _) = decode_credential(&self.keys, row, &plaintext)?;
            let rp_id_hash = credential.rp_id_hash();
            let id_mac = new_keys.id_mac(&credential.credential_id);
            let rp_mac = new_keys.rp_mac(&rp_id_hash);
            let user_mac = new_keys.user_mac(&rp_id_hash, &credential.user.id);
            let identity = credential_identity(&id_mac, &rp_mac, &user_mac);
            // The same plaintext bytes, sealed under the new key and identity.
            let payload = new_keys.seal_row(CREDENTIALS, &identity, &plaintext);
            tx.execute(
                "UPDATE credentials SET id_mac = ?1, rp_mac = ?2, user_mac = ?3, payload = ?4
                 WHERE id_mac = ?5",
                params![
                    &id_mac[..],
                    &rp_mac[..],
                    &user_mac[..],
                    payload,
                    &row.id_mac
                ],
            )?;
            let digest = state::credential_digest(&id_mac, &rp_mac, &user_mac, &payload);
            staged.set_credential(&new_keys, id_mac, Some(Listed { rp_mac, digest }));
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('key_epoch', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [&key_epoch],
        )?;
        let changes = staged.finish(&tx, &new_keys, &self.vault_id)?;
        tx.commit()?;

        self.keys = new_keys;
        self.state = base;
        self.state.apply(changes);
        self.key_epoch = Some(key_epoch);
        // Reservations were kept by the old index values: counting resumes
        // above the stored bounds.
        self.counters.clear();
        self.cache.clear();
        Ok(RekeyOutcome {
            kept,
            removed,
            credentials: credential_rows.len(),
            secrets: names.len(),
        })
    }
}
