//! `impl Store for Vault`: the authenticator's persistent state on the vault.
//!
//! Every writing method is one SQLite transaction, committed (and, with WAL and
//! `synchronous=FULL`, fsynced) before it returns `Ok`. Every reading method opens
//! every row it touches: a row that fails its integrity check fails the call
//! with [`StoreError::Corrupt`]; it never silently disappears from a result.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{SettingKey, Store, StoreError};

use crate::error::VaultError;
use crate::sealing::VaultKeys;
use crate::vault::{
    CredentialRow, DEVICE_SECRET, GLOBAL_COUNTER, SETTING_PREFIX, Vault, now, open_credential,
    put_secret, read_secret, seal_credential,
};

fn setting_row(key: SettingKey) -> String {
    format!("{SETTING_PREFIX}{}", key.name())
}

impl Vault {
    /// Stores many discoverable credentials in one durable transaction (import,
    /// restore), with the replacement rules of
    /// [`Store::put_discoverable`]. All or nothing.
    pub fn put_many<'a>(
        &mut self,
        credentials: impl IntoIterator<Item = &'a StoredCredential>,
    ) -> Result<usize, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut count = 0;
        for credential in credentials {
            put_in(&tx, &self.keys, credential)?;
            count += 1;
        }
        tx.commit()?;
        Ok(count)
    }

    fn put_credential(&mut self, credential: &StoredCredential) -> Result<(), VaultError> {
        self.put_many([credential]).map(drop)
    }

    fn increment_counter(&mut self) -> Result<u32, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = match read_secret(&tx, &self.keys, GLOBAL_COUNTER)? {
            None => 0,
            Some(bytes) => u32::from_be_bytes(<[u8; 4]>::try_from(&bytes[..]).map_err(|_| {
                VaultError::Undecodable {
                    table: crate::vault::SECRETS,
                    row: GLOBAL_COUNTER.into(),
                    reason: "counter is not 4 bytes".into(),
                }
            })?),
        };
        let next = current.wrapping_add(1);
        put_secret(&tx, &self.keys, GLOBAL_COUNTER, Some(&next.to_be_bytes()))?;
        tx.commit()?;
        Ok(next)
    }

    fn write_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        put_secret(&tx, &self.keys, &setting_row(key), value)?;
        tx.commit()?;
        Ok(())
    }

    fn wipe_all(&mut self, new_device_secret: &Secret32) -> Result<(), VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM credentials", [])?;
        // The attestation identity survives a reset: it identifies the device.
        let attestation = setting_row(SettingKey::AttestationIdentity);
        tx.execute(
            "DELETE FROM secrets WHERE name != ?1 AND name != ?2",
            [DEVICE_SECRET, attestation.as_str()],
        )?;
        put_secret(
            &tx,
            &self.keys,
            DEVICE_SECRET,
            Some(new_device_secret.expose_secret()),
        )?;
        tx.commit()?;
        Ok(())
    }
}

fn only_credentials(rows: Vec<(StoredCredential, i64)>) -> Vec<StoredCredential> {
    rows.into_iter().map(|(credential, _)| credential).collect()
}

impl Store for Vault {
    fn device_secret(&mut self) -> Result<Secret32, StoreError> {
        Ok(self.device_secret_row()?)
    }

    fn discoverable_for_rp(
        &mut self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        let rp_mac = self.keys.rp_mac(rp_id_hash);
        Ok(only_credentials(
            self.read_where("rp_mac = ?1", &[&&rp_mac[..]])?,
        ))
    }

    fn discoverable_by_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<StoredCredential>, StoreError> {
        let id_mac = self.keys.id_mac(credential_id);
        Ok(
            only_credentials(self.read_where("id_mac = ?1", &[&&id_mac[..]])?)
                .into_iter()
                .next(),
        )
    }

    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(only_credentials(self.read_all()?))
    }

    fn discoverable_count(&mut self) -> Result<usize, StoreError> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM credentials", [], |r| r.get(0))
            .map_err(VaultError::from)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
        Ok(self.put_credential(credential)?)
    }

    fn delete_discoverable(&mut self, credential_id: &[u8]) -> Result<bool, StoreError> {
        Ok(self.delete(credential_id)?)
    }

    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        Ok(self.increment_counter()?)
    }

    fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self.secret(&setting_row(key))?.map(SecretBytes::from))
    }

    fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError> {
        Ok(self.write_setting(key, value)?)
    }

    fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError> {
        Ok(self.wipe_all(&new_device_secret)?)
    }
}

/// Writes one credential inside `tx`.
fn put_in(
    tx: &rusqlite::Connection,
    keys: &VaultKeys,
    credential: &StoredCredential,
) -> Result<(), VaultError> {
    let id_mac = keys.id_mac(&credential.credential_id);
    let existing = tx
        .prepare_cached(&format!(
            "SELECT {} FROM credentials WHERE id_mac = ?1",
            CredentialRow::COLUMNS
        ))?
        .query_row([&id_mac[..]], CredentialRow::from_row)
        .optional()?;
    // An update keeps the creation time; a tampered row is reported, not overwritten.
    let created = match existing {
        Some(row) => open_credential(keys, &row)?.1,
        None => now(),
    };
    let (id_mac, rp_mac, user_mac, payload) = seal_credential(keys, credential, created);
    // CTAP 2.1 §6.1.2 step 17: a new credential replaces the same (rp, user handle).
    tx.prepare_cached("DELETE FROM credentials WHERE user_mac = ?1 AND id_mac != ?2")?
        .execute(params![&user_mac[..], &id_mac[..]])?;
    tx.prepare_cached(
        "INSERT INTO credentials (id_mac, rp_mac, user_mac, payload) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id_mac) DO UPDATE SET
             rp_mac = excluded.rp_mac, user_mac = excluded.user_mac, payload = excluded.payload",
    )?
    .execute(params![&id_mac[..], &rp_mac[..], &user_mac[..], payload])?;
    Ok(())
}
