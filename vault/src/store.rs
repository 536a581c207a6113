//! `impl Store for Vault`: the authenticator's persistent state on the vault.
//!
//! Every writing method is one SQLite transaction (a discoverable credential
//! and the setting that changes with it included), committed (and, with WAL and
//! `synchronous=FULL`, fsynced) before it returns `Ok`. Every reading method opens
//! every row it touches: a row that fails its integrity check fails the call
//! with [`StoreError::Corrupt`]; it never silently disappears from a result.

use std::borrow::Cow;

use rusqlite::params;
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{SettingKey, Store, StoreError};

use crate::counters::Counter;
use crate::error::VaultError;
use crate::exchange::BACKUP_ELIGIBLE;
use crate::rows::{
    self, DEVICE_SECRET, IndexMacs, SETTING_PREFIX, now, open_credential, select_credentials,
};
use crate::state::{self, Lookup};
use crate::vault::{Vault, Writer};

/// The `secrets` row of a core setting: [`SETTING_PREFIX`] and the
/// setting's name (a constant for the known settings, as a sign-in reads
/// two of them and a formatted name costs an allocation).
pub(crate) fn setting_row(key: SettingKey) -> Cow<'static, str> {
    Cow::Borrowed(match key {
        SettingKey::PinState => "setting/pin_state",
        SettingKey::Config => "setting/config",
        SettingKey::LargeBlobArray => "setting/large_blob_array",
        SettingKey::AttestationIdentity => "setting/attestation_identity",
        SettingKey::PersistentState => "setting/persistent_state",
        _ => return Cow::Owned(format!("{SETTING_PREFIX}{}", key.name())),
    })
}

impl Vault {
    /// Stores many discoverable credentials in one durable transaction (import,
    /// restore), with the replacement rules of
    /// [`Store::put_discoverable`]. All or nothing.
    pub fn put_many<'a>(
        &mut self,
        credentials: impl IntoIterator<Item = &'a StoredCredential>,
    ) -> Result<usize, VaultError> {
        self.write(|w| {
            let mut count = 0;
            for credential in credentials {
                put_in(w, credential)?;
                count += 1;
            }
            Ok(count)
        })
    }

    fn put_credential(&mut self, credential: &StoredCredential) -> Result<(), VaultError> {
        self.put_many([credential]).map(drop)
    }

    fn write_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), VaultError> {
        self.write(|w| w.put_secret(&setting_row(key), value))
    }

    fn wipe_all(&mut self, new_device_secret: &Secret32) -> Result<(), VaultError> {
        self.write(|w| {
            w.conn.execute("DELETE FROM credentials", [])?;
            w.staged.clear_credentials();
            // The attestation identity survives a reset: it identifies the
            // device; so does the vault's kind (device-bound or backup-eligible).
            let attestation = setting_row(SettingKey::AttestationIdentity);
            let names: Vec<String> = w
                .conn
                .prepare("SELECT name FROM secrets")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for name in names {
                if name != DEVICE_SECRET && name != attestation && name != BACKUP_ELIGIBLE {
                    w.put_secret(&name, None)?;
                }
            }
            w.put_secret(DEVICE_SECRET, Some(new_device_secret.expose_secret()))
        })?;
        // The counters start again with the rows they counted in.
        self.counters.clear();
        self.cache.clear();
        Ok(())
    }
}

/// What the Store methods keep of a credentials row.
fn credential_only(credential: StoredCredential, _created: i64) -> StoredCredential {
    credential
}

impl Store for Vault {
    fn device_secret(&mut self) -> Result<Secret32, StoreError> {
        Ok(self.device_secret_row()?)
    }

    fn discoverable_for_rp(
        &mut self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self.rp_credentials(rp_id_hash)?)
    }

    fn discoverable_by_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<StoredCredential>, StoreError> {
        let id_mac = self.keys.id_mac(credential_id);
        Ok(self
            .read_credentials(Lookup::Id(&id_mac), credential_only)?
            .pop())
    }

    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self.read_credentials(Lookup::All, credential_only)?)
    }

    fn discoverable_count(&mut self) -> Result<usize, StoreError> {
        Ok(self.read(|r| Ok(r.state.credential_count()))?)
    }

    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
        Ok(self.put_credential(credential)?)
    }

    /// One transaction, so one fsync: a discoverable makeCredential pays
    /// for one durable write, and a crash leaves both or neither.
    fn put_discoverable_with_setting(
        &mut self,
        credential: &StoredCredential,
        key: SettingKey,
        value: &[u8],
    ) -> Result<(), StoreError> {
        Ok(self.write(|w| {
            w.put_secret(&setting_row(key), Some(value))?;
            put_in(w, credential)
        })?)
    }

    /// One transaction: a write that fails anywhere in it rolls back all
    /// of it, the credentials it replaced included.
    fn put_discoverable_batch(
        &mut self,
        credentials: &[&StoredCredential],
        settings: &[(SettingKey, Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        Ok(self.write(|w| {
            for (key, value) in settings {
                w.put_secret(&setting_row(*key), *value)?;
            }
            for credential in credentials {
                put_in(w, credential)?;
            }
            Ok(())
        })?)
    }

    fn delete_discoverable(&mut self, credential_id: &[u8]) -> Result<bool, StoreError> {
        Ok(self.delete(credential_id)?)
    }

    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        Ok(self.next_counter(Counter::Global)?)
    }

    fn next_sign_count(&mut self, credential: &mut StoredCredential) -> Result<u32, StoreError> {
        let id_mac = self.id_mac(&credential.credential_id);
        credential.sign_count = self.next_counter(Counter::Credential(id_mac))?;
        Ok(credential.sign_count)
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

    /// The request's first read asks the file whether another connection
    /// committed (`PRAGMA data_version`); its other reads trust that answer,
    /// so a sign-in takes the file's read lock twice (once more for the
    /// signature counter, which always asks) instead of once per read.
    fn begin_request(&mut self) {
        self.request_fresh = Some(false);
    }

    fn end_request(&mut self) {
        self.request_fresh = None;
    }
}

/// Writes one credential inside a write transaction.
pub(crate) fn put_in(w: &mut Writer<'_>, credential: &StoredCredential) -> Result<(), VaultError> {
    let macs = IndexMacs::of(w.keys, credential);
    let id_mac = macs.id;
    // A tampered row is reported, not overwritten.
    let existing = match w.select_checked(&id_mac)?.first() {
        Some(row) => Some(open_credential(w.keys, row)?),
        None => None,
    };
    // CTAP 2.1 §6.1.2 step 17: a new credential replaces the same (rp, user
    // handle). (The same user_mac means the same rp_mac: found through the
    // relying-party index, the only one besides the id.)
    let replaced = select_credentials(
        w.conn,
        "rp_mac = ?1 AND user_mac = ?2 AND id_mac != ?3",
        params![&macs.rp[..], &macs.user[..], &id_mac[..]],
    )?;
    for row in &replaced {
        state::check_credential(w.keys, w.staged.listed_credential(&row.id_mac), row)?;
        rows::delete_credential_row(w.conn, w.keys, &mut w.staged, row)?;
        w.forget_counter(&row.id_mac);
    }
    let Some((_, created)) = existing else {
        return rows::write_credential_row(w.conn, w.keys, &mut w.staged, credential, &macs, now());
    };
    // An update keeps the creation time and stores the counter given (the
    // core gives back the value it read, which is the one reached); the
    // reservation, if any, ends: counting resumes above what is stored.
    w.forget_counter(&id_mac);
    rows::write_credential_row(w.conn, w.keys, &mut w.staged, credential, &macs, created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_row_is_the_prefix_and_the_settings_name() {
        for key in [
            SettingKey::PinState,
            SettingKey::Config,
            SettingKey::LargeBlobArray,
            SettingKey::AttestationIdentity,
            SettingKey::PersistentState,
        ] {
            assert_eq!(setting_row(key), format!("{SETTING_PREFIX}{}", key.name()));
        }
    }
}
