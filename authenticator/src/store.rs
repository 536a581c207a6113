//! The storage capability: what the core needs to keep across requests and power cycles.
//!
//! The core never touches files. Everything persistent goes through [`Store`]:
//! discoverable credentials, a global signature counter for non-discoverable
//! credentials, the device secret that wraps credential IDs, and opaque settings
//! (PIN state, configuration) that the core encodes itself. The vault crate
//! implements it on SQLite; [`MemoryStore`] is the in-memory double for tests,
//! fuzzing and ephemeral simulators.
//!
//! Contract: a method that returns `Ok` has made its change durable. A failed
//! method changes nothing.

use std::collections::BTreeMap;

use crate::credential::StoredCredential;
use crate::secret::{Secret32, SecretBytes};
use crate::status::StatusCode;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No room for another discoverable credential.
    #[error("credential storage is full")]
    Full,
    /// The backing storage failed (I/O, database).
    #[error("storage failure: {0}")]
    Io(String),
    /// Stored data failed its integrity check or could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<StoreError> for StatusCode {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Full => StatusCode::KeyStoreFull,
            StoreError::Io(_) | StoreError::Corrupt(_) => StatusCode::Other,
        }
    }
}

/// Names of the opaque settings the core keeps in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SettingKey {
    /// PIN state (hash, retries, minimum length, force-change flag).
    PinState,
    /// Authenticator configuration (alwaysUv, …).
    Config,
    /// The serialized large-blob array.
    LargeBlobArray,
    /// The attestation key and certificate chain. Unlike every other setting
    /// it survives [`Store::wipe`]: it identifies the device, not its owner.
    AttestationIdentity,
    /// The persistent pinUvAuthToken, the device identifier and the
    /// credential store state (CTAP 2.2 §6.4 `encIdentifier`,
    /// `encCredStoreState`): regenerated after [`Store::wipe`].
    PersistentState,
}

impl SettingKey {
    /// A stable name, usable as a database key. Never reuse a name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PinState => "pin_state",
            Self::Config => "config",
            Self::LargeBlobArray => "large_blob_array",
            Self::AttestationIdentity => "attestation_identity",
            Self::PersistentState => "persistent_state",
        }
    }
}

/// Persistent state of one authenticator.
pub trait Store {
    /// The 256-bit device secret from which credential-ID wrap keys are derived.
    /// It exists from the store's creation; [`Store::wipe`] replaces it.
    fn device_secret(&mut self) -> Result<Secret32, StoreError>;

    /// Discoverable credentials of one relying party (by SHA-256 of its id),
    /// oldest first (in the order they were first stored; an update keeps a
    /// credential's place, a replacement for the same user is the newest).
    fn discoverable_for_rp(
        &mut self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError>;

    /// One discoverable credential by its id.
    fn discoverable_by_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<StoredCredential>, StoreError>;

    /// Every discoverable credential (credential management, `vault list`).
    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError>;

    /// Number of discoverable credentials.
    fn discoverable_count(&mut self) -> Result<usize, StoreError>;

    /// Stores a discoverable credential, durably. A credential with the same id is
    /// updated; any other credential of the same relying party and user handle is
    /// replaced (CTAP 2.1 §6.1.2 step 17).
    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError>;

    /// Stores a discoverable credential as [`Store::put_discoverable`] does,
    /// and writes the setting `key` (the credential store state that changes
    /// with it), in one durable write where the store can: on `Ok` both are
    /// durable, on `Err` the credential is not stored. The default writes the
    /// setting first, then the credential (two durable writes; a failure in
    /// between leaves only the setting changed); the vault overrides it with
    /// one transaction, one fsync per discoverable makeCredential.
    fn put_discoverable_with_setting(
        &mut self,
        credential: &StoredCredential,
        key: SettingKey,
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.put_setting(key, Some(value))?;
        self.put_discoverable(credential)
    }

    /// Stores `credentials` as [`Store::put_discoverable`] would, one after
    /// the other (the same id updated, another credential of the same
    /// relying party and user handle replaced), and writes (`Some`) or
    /// removes (`None`) each of `settings`, as one operation: on `Ok` all of
    /// it is durable; on `Err` nothing changed (no credential stored,
    /// updated or replaced, no setting written), however far it got. Imports
    /// use it, so that a failure midway leaves the store as it was. There is
    /// no default: a store that writes one credential at a time cannot take
    /// them back once its writes fail, so each store says how it does this.
    fn put_discoverable_batch(
        &mut self,
        credentials: &[&StoredCredential],
        settings: &[(SettingKey, Option<&[u8]>)],
    ) -> Result<(), StoreError>;

    /// Deletes a discoverable credential; `Ok(false)` when there was none.
    fn delete_discoverable(&mut self, credential_id: &[u8]) -> Result<bool, StoreError>;

    /// Increments and returns the signature counter shared by non-discoverable
    /// credentials (which have no row to keep their own).
    fn next_global_counter(&mut self) -> Result<u32, StoreError>;

    /// Advances the signature counter of the discoverable `credential` (as
    /// just read from this store) and returns it, also setting it in
    /// `credential`. No value returned may ever be returned again or undercut,
    /// also after a crash. The default stores the credential with its counter
    /// plus one (a durable write per call); a store may reserve ranges durably
    /// and count in memory instead.
    fn next_sign_count(&mut self, credential: &mut StoredCredential) -> Result<u32, StoreError> {
        credential.sign_count = credential.sign_count.wrapping_add(1);
        self.put_discoverable(credential)?;
        Ok(credential.sign_count)
    }

    /// An opaque setting the core encoded itself.
    fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError>;

    /// Writes (`Some`) or removes (`None`) a setting, durably.
    fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError>;

    /// Factory reset: deletes every credential and setting (except
    /// [`SettingKey::AttestationIdentity`]) and replaces the device secret with
    /// `new_device_secret`, so that no credential ID issued before decrypts
    /// afterwards.
    fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError>;

    /// How many more discoverable credentials fit, if the store knows.
    fn remaining_capacity(&mut self) -> Option<usize> {
        None
    }

    /// The core begins handling a request (or resuming one the user
    /// answered); [`Store::end_request`] follows before it returns. A store
    /// that other programs may change (the vault, which the `softkey vault`
    /// CLI writes while the daemon runs) may check once per request whether
    /// they did, and serve the request's other reads from what that check
    /// found current; a change made meanwhile is seen by the next request.
    /// Between the two calls the store still sees its own writes. The
    /// default does nothing.
    fn begin_request(&mut self) {}

    /// The request [`Store::begin_request`] began is answered (or waits for
    /// the user): reads outside a request check the backing storage again.
    fn end_request(&mut self) {}
}

/// An in-memory [`Store`]: ephemeral simulators, tests and fuzzing.
#[derive(Debug)]
pub struct MemoryStore {
    device_secret: Secret32,
    credentials: Vec<StoredCredential>,
    /// `credentials[i].rp_id_hash()`, kept so that a lookup by relying party
    /// does not hash every stored RP ID again.
    rp_id_hashes: Vec<[u8; 32]>,
    global_counter: u32,
    settings: BTreeMap<SettingKey, SecretBytes>,
    capacity: Option<usize>,
}

impl MemoryStore {
    /// An empty store with the given device secret (draw it from a CSPRNG, or fix
    /// it in tests that need stable credential IDs).
    pub fn new(device_secret: Secret32) -> Self {
        Self {
            device_secret,
            credentials: Vec::new(),
            rp_id_hashes: Vec::new(),
            global_counter: 0,
            settings: BTreeMap::new(),
            capacity: None,
        }
    }

    /// Limits the number of discoverable credentials (to test a full store).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }
}

impl Store for MemoryStore {
    fn device_secret(&mut self) -> Result<Secret32, StoreError> {
        Ok(self.device_secret.duplicate())
    }
    fn discoverable_for_rp(
        &mut self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .zip(&self.rp_id_hashes)
            .filter(|(_, hash)| *hash == rp_id_hash)
            .map(|(c, _)| c.duplicate())
            .collect())
    }

    fn discoverable_by_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<StoredCredential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .find(|c| c.credential_id == credential_id)
            .map(StoredCredential::duplicate))
    }

    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .map(StoredCredential::duplicate)
            .collect())
    }

    fn discoverable_count(&mut self) -> Result<usize, StoreError> {
        Ok(self.credentials.len())
    }

    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
        if let Some(index) = self
            .credentials
            .iter()
            .position(|c| c.credential_id == credential.credential_id)
        {
            // A counter update (every assertion) keeps the RP: no new hash.
            if self.credentials[index].rp_id != credential.rp_id {
                self.rp_id_hashes[index] = credential.rp_id_hash();
            }
            self.credentials[index] = credential.duplicate();
            return Ok(());
        }
        let replaced = self
            .credentials
            .iter()
            .position(|c| c.rp_id == credential.rp_id && c.user.id == credential.user.id);
        if replaced.is_none()
            && self
                .capacity
                .is_some_and(|cap| self.credentials.len() >= cap)
        {
            return Err(StoreError::Full);
        }
        if let Some(index) = replaced {
            self.credentials.remove(index);
            self.rp_id_hashes.remove(index);
        }
        self.credentials.push(credential.duplicate());
        self.rp_id_hashes.push(credential.rp_id_hash());
        Ok(())
    }

    /// Staged on a copy that replaces `self` only once every write went in:
    /// a credential that does not fit leaves the store as it was.
    fn put_discoverable_batch(
        &mut self,
        credentials: &[&StoredCredential],
        settings: &[(SettingKey, Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        let mut staged = Self {
            device_secret: self.device_secret.duplicate(),
            credentials: self
                .credentials
                .iter()
                .map(StoredCredential::duplicate)
                .collect(),
            rp_id_hashes: self.rp_id_hashes.clone(),
            global_counter: self.global_counter,
            settings: self
                .settings
                .iter()
                .map(|(key, value)| (*key, value.duplicate()))
                .collect(),
            capacity: self.capacity,
        };
        for credential in credentials {
            staged.put_discoverable(credential)?;
        }
        for (key, value) in settings {
            staged.put_setting(*key, *value)?;
        }
        *self = staged;
        Ok(())
    }

    fn delete_discoverable(&mut self, credential_id: &[u8]) -> Result<bool, StoreError> {
        let Some(index) = self
            .credentials
            .iter()
            .position(|c| c.credential_id == credential_id)
        else {
            return Ok(false);
        };
        self.credentials.remove(index);
        self.rp_id_hashes.remove(index);
        Ok(true)
    }

    /// The stored credential's counter goes up in place (the default would
    /// store a copy of the whole credential on every assertion).
    fn next_sign_count(&mut self, credential: &mut StoredCredential) -> Result<u32, StoreError> {
        credential.sign_count = credential.sign_count.wrapping_add(1);
        match self
            .credentials
            .iter_mut()
            .find(|c| c.credential_id == credential.credential_id)
        {
            Some(stored) => stored.sign_count = credential.sign_count,
            None => self.put_discoverable(credential)?,
        }
        Ok(credential.sign_count)
    }

    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        self.global_counter = self.global_counter.wrapping_add(1);
        Ok(self.global_counter)
    }

    fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self.settings.get(&key).map(SecretBytes::duplicate))
    }

    fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(bytes) => {
                self.settings.insert(key, SecretBytes::from_slice(bytes));
            }
            None => {
                self.settings.remove(&key);
            }
        }
        Ok(())
    }

    fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError> {
        self.credentials.clear();
        self.rp_id_hashes.clear();
        self.settings
            .retain(|key, _| *key == SettingKey::AttestationIdentity);
        self.global_counter = 0;
        self.device_secret = new_device_secret;
        Ok(())
    }

    fn remaining_capacity(&mut self) -> Option<usize> {
        self.capacity
            .map(|cap| cap.saturating_sub(self.credentials.len()))
    }
}
