//! The persistentPinUvAuthToken and the two getInfo members it decrypts
//! (CTAP 2.2 §6.4 `encIdentifier` 0x19, `encCredStoreState` 0x1E; §6.5.5.7
//! step "If the value of the requested permissions is pcmr").
//!
//! Unlike the pinUvAuthToken, this token survives power cycles: a platform
//! that once asked for the `pcmr` permission (persistent credential
//! management, read-only) keeps reading the credential list and recognising
//! the authenticator across replugs without asking for the PIN again. It is
//! replaced — and its `pcmr` grant dropped — by changePIN
//! (resetPersistentPinUvAuthToken) and by authenticatorReset (the store is
//! wiped, and a new one is made on first use).
//!
//! ```text
//!  key = HKDF-SHA-256(salt 0³², ikm persistentPinUvAuthToken, info "encIdentifier" | "encCredStoreState", 16 bytes)
//!  getInfo member = IV (16, fresh per call) ‖ AES-128-CBC(key, IV, value (16))
//! ```
//!
//! ## Format (a storage contract: never reuse a key)
//! `SettingKey::PersistentState`: CBOR map {0: format version (1),
//! 1: persistentPinUvAuthToken (32 bytes), 2: pcmr granted (bool), 3: device
//! identifier (16 bytes), 4: credential store state (16 bytes)}.

use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use ciborium::Value;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cbor::{self, IntMap};
use crate::credential::StoredCredential;
use crate::pin::Protocol;
use crate::secret::Secret32;
use crate::status::StatusCode;
use crate::store::{SettingKey, Store, StoreError};

const FORMAT_VERSION: i64 = 1;
const BLOCK: usize = 16;

/// A getInfo member encrypted under the persistentPinUvAuthToken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// `encIdentifier` (0x19): a device identifier, stable until reset.
    Identifier,
    /// `encCredStoreState` (0x1E): a value that changes whenever the
    /// discoverable credentials change.
    CredStoreState,
}

impl Member {
    /// The HKDF info string of this member.
    pub fn info(self) -> &'static [u8] {
        match self {
            Self::Identifier => b"encIdentifier",
            Self::CredStoreState => b"encCredStoreState",
        }
    }
}

/// The persistent state: token, its grant, identifier, credential store state.
pub struct PersistentState {
    token: Secret32,
    pcmr: bool,
    identifier: Zeroizing<[u8; BLOCK]>,
    cred_store_state: Zeroizing<[u8; BLOCK]>,
}

impl std::fmt::Debug for PersistentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentState")
            .field("pcmr", &self.pcmr)
            .finish_non_exhaustive()
    }
}

fn random_block<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Zeroizing<[u8; BLOCK]> {
    let mut block = Zeroizing::new([0u8; BLOCK]);
    rng.fill_bytes(block.as_mut());
    block
}

fn block(value: Value) -> Result<Zeroizing<[u8; BLOCK]>, StatusCode> {
    let bytes = Zeroizing::new(cbor::into_bytes(value)?);
    let array: [u8; BLOCK] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StatusCode::InvalidLength)?;
    Ok(Zeroizing::new(array))
}

impl PersistentState {
    /// Fresh values: a new token without permissions, identifier and state.
    fn fresh<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            token: Secret32::random(rng),
            pcmr: false,
            identifier: random_block(rng),
            cred_store_state: random_block(rng),
        }
    }

    /// The stored state, made and stored first if there is none (a new or
    /// just reset authenticator).
    pub fn load_or_create<S: Store + ?Sized, R: rand_core::CryptoRng + ?Sized>(
        store: &mut S,
        rng: &mut R,
    ) -> Result<Self, StatusCode> {
        let (state, stored) = Self::load_or_fresh(store, rng)?;
        if !stored {
            state.save(store)?;
        }
        Ok(state)
    }

    /// The stored state (`true`), or fresh values when there is none
    /// (`false`), not written: the caller stores [`Self::encode`] with the
    /// change it makes. One read of the setting.
    fn load_or_fresh<S: Store + ?Sized, R: rand_core::CryptoRng + ?Sized>(
        store: &mut S,
        rng: &mut R,
    ) -> Result<(Self, bool), StatusCode> {
        match store.setting(SettingKey::PersistentState)? {
            Some(bytes) => Self::decode(bytes.expose_secret())
                .map(|state| (state, true))
                .map_err(|_| {
                    tracing::error!("stored persistent token state is corrupt");
                    StatusCode::from(StoreError::Corrupt("persistent state".into()))
                }),
            None => Ok((Self::fresh(rng), false)),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, StatusCode> {
        let mut map = IntMap::new(cbor::decode(bytes)?)?;
        if cbor::as_i64(&map.require(0)?)? != FORMAT_VERSION {
            return Err(StatusCode::InvalidCbor);
        }
        let token = Zeroizing::new(cbor::into_bytes(map.require(1)?)?);
        Ok(Self {
            token: Secret32::from_slice(&token).ok_or(StatusCode::InvalidLength)?,
            pcmr: cbor::as_bool(&map.require(2)?)?,
            identifier: block(map.require(3)?)?,
            cred_store_state: block(map.require(4)?)?,
        })
    }

    /// Writes the state durably.
    pub fn save<S: Store + ?Sized>(&self, store: &mut S) -> Result<(), StatusCode> {
        store.put_setting(SettingKey::PersistentState, Some(&self.encode()))?;
        Ok(())
    }

    /// The stored form ([`SettingKey::PersistentState`]).
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut value = Value::Map(vec![
            (cbor::int(0), cbor::int(FORMAT_VERSION)),
            (cbor::int(1), cbor::bytes(self.token.expose_secret())),
            (cbor::int(2), Value::Bool(self.pcmr)),
            (cbor::int(3), cbor::bytes(self.identifier.as_ref())),
            (cbor::int(4), cbor::bytes(self.cred_store_state.as_ref())),
        ]);
        let encoded = Zeroizing::new(cbor::encode(value.clone()));
        if let Value::Map(entries) = &mut value {
            for (_, field) in entries {
                if let Value::Bytes(bytes) = field {
                    zeroize::Zeroize::zeroize(bytes);
                }
            }
        }
        encoded
    }

    /// The token, for encrypting to the platform.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.token.expose_secret()
    }

    /// Whether the token holds the `pcmr` permission.
    pub fn grants_pcmr(&self) -> bool {
        self.pcmr
    }

    /// Assigns the `pcmr` permission to the token.
    pub fn grant_pcmr(&mut self) {
        self.pcmr = true;
    }

    /// resetPersistentPinUvAuthToken(): a new random token, no permission.
    pub fn reset_token<R: rand_core::CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.token = Secret32::random(rng);
        self.pcmr = false;
    }

    /// "Generate a new 128-bit random value for credential store state."
    pub fn renew_cred_store_state<R: rand_core::CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.cred_store_state = random_block(rng);
    }

    /// Whether `param` is a MAC of `message` under this token that grants
    /// `pcmr`: `Some(true)` it is and does, `Some(false)` the MAC is this
    /// token's but the permission is missing, `None` not this token's MAC.
    pub fn check_pcmr(&self, protocol: Protocol, message: &[u8], param: &[u8]) -> Option<bool> {
        protocol
            .verify(self.token.expose_secret(), message, param)
            .then_some(self.pcmr)
    }

    /// The getInfo member: IV ‖ AES-128-CBC(key, IV, value), with a fresh IV.
    pub fn encrypted<R: rand_core::CryptoRng + ?Sized>(
        &self,
        member: Member,
        rng: &mut R,
    ) -> Vec<u8> {
        let mut iv = [0u8; BLOCK];
        rng.fill_bytes(&mut iv);
        self.encrypt_with_iv(member, &iv)
    }

    /// [`Self::encrypted`] with a given IV (known-answer tests).
    pub fn encrypt_with_iv(&self, member: Member, iv: &[u8; BLOCK]) -> Vec<u8> {
        let mut key = Zeroizing::new([0u8; BLOCK]);
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), self.token.expose_secret())
            .expand(member.info(), key.as_mut())
            .expect("16 bytes is a valid HKDF-SHA256 output length");
        let mut block = match member {
            Member::Identifier => self.identifier.clone(),
            Member::CredStoreState => self.cred_store_state.clone(),
        };
        let key_array: &[u8; BLOCK] = &key;
        let mut encryptor = cbc::Encryptor::<aes::Aes128>::new(key_array.into(), iv.into());
        let block_array: &mut [u8; BLOCK] = &mut block;
        encryptor.encrypt_block(block_array.into());
        let mut out = Vec::with_capacity(2 * BLOCK);
        out.extend_from_slice(iv);
        out.extend_from_slice(block.as_ref());
        out
    }
}

/// The discoverable credentials are about to change: a new credential store
/// state, stored before the change itself (a crash in between only makes a
/// platform refresh a list that did not change). The core calls it; so must
/// anything else that changes a store's discoverable credentials (the
/// simulator's control API does).
pub fn note_credential_store_change<S: Store + ?Sized, R: rand_core::CryptoRng + ?Sized>(
    store: &mut S,
    rng: &mut R,
) -> Result<(), StatusCode> {
    let (mut state, _) = PersistentState::load_or_fresh(store, rng)?;
    state.renew_cred_store_state(rng);
    state.save(store)
}

/// The [`SettingKey::PersistentState`] value that records a change of the
/// discoverable credentials (a new credential store state), not written: for
/// a caller that writes it together with the change, in one operation
/// ([`Store::put_discoverable_batch`]: the simulator's CXF import).
pub fn credential_store_changed<S: Store + ?Sized, R: rand_core::CryptoRng + ?Sized>(
    store: &mut S,
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, StatusCode> {
    let (mut state, _) = PersistentState::load_or_fresh(store, rng)?;
    state.renew_cred_store_state(rng);
    Ok(state.encode())
}

/// Stores a new discoverable credential together with a new credential store
/// state, in one durable write ([`Store::put_discoverable_with_setting`]):
/// what [`note_credential_store_change`] then
/// [`Store::put_discoverable`] do, with one fsync instead of two (or three,
/// on a store that has no persistent state yet).
pub fn put_discoverable_noting_change<S: Store + ?Sized, R: rand_core::CryptoRng + ?Sized>(
    store: &mut S,
    rng: &mut R,
    credential: &StoredCredential,
) -> Result<(), StatusCode> {
    let (mut state, _) = PersistentState::load_or_fresh(store, rng)?;
    state.renew_cred_store_state(rng);
    store.put_discoverable_with_setting(
        credential,
        SettingKey::PersistentState,
        &state.encode(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::secret::SecretBytes;
    use crate::store::MemoryStore;
    use rand::SeedableRng;

    /// Known answer computed with the `cryptography` package the way
    /// python-fido2 2.2.1 decrypts these members (`Info._decrypt` in
    /// fido2/ctap2/base.py: HKDF-SHA256, salt 32 zero bytes, 16-byte key,
    /// AES-CBC with the first 16 bytes as IV): token 01..20, IV a5 × 16,
    /// identifier 10..1f, credential store state 40..4f.
    #[test]
    fn encrypted_members_match_an_independent_aes_cbc_vector() {
        let state = PersistentState {
            token: Secret32::new(std::array::from_fn(|i| i as u8 + 1)),
            pcmr: true,
            identifier: Zeroizing::new(std::array::from_fn(|i| i as u8 + 0x10)),
            cred_store_state: Zeroizing::new(std::array::from_fn(|i| i as u8 + 0x40)),
        };
        let iv = [0xa5; 16];
        assert_eq!(
            hex::encode(state.encrypt_with_iv(Member::Identifier, &iv)),
            "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5714725a745bfd752f309c8757a657e4f"
        );
        assert_eq!(
            hex::encode(state.encrypt_with_iv(Member::CredStoreState, &iv)),
            "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5c0b405162aba28e0bd3025a68021bfd3"
        );
    }

    #[test]
    fn persistent_state_round_trips_through_the_store() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut store = MemoryStore::new(Secret32::new([1; 32]));
        let mut state = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert!(!state.grants_pcmr());
        state.grant_pcmr();
        state.save(&mut store).unwrap();
        let back = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert!(back.grants_pcmr());
        assert_eq!(back.expose_secret(), state.expose_secret());
        assert_eq!(
            back.encrypt_with_iv(Member::Identifier, &[7; 16]),
            state.encrypt_with_iv(Member::Identifier, &[7; 16])
        );
        assert!(!format!("{back:?}").contains("token"));
        store
            .put_setting(SettingKey::PersistentState, Some(&[0xa0]))
            .unwrap();
        assert_eq!(
            PersistentState::load_or_create(&mut store, &mut rng).unwrap_err(),
            StatusCode::Other
        );
    }

    /// A [`MemoryStore`] that records each durable write it is asked for.
    struct Recording {
        inner: MemoryStore,
        writes: Vec<&'static str>,
        setting_reads: usize,
    }

    impl Recording {
        fn new(device_secret: u8) -> Self {
            Self {
                inner: MemoryStore::new(Secret32::new([device_secret; 32])),
                writes: Vec::new(),
                setting_reads: 0,
            }
        }
    }

    impl Store for Recording {
        fn device_secret(&mut self) -> Result<Secret32, StoreError> {
            self.inner.device_secret()
        }
        fn discoverable_for_rp(
            &mut self,
            rp_id_hash: &[u8; 32],
        ) -> Result<Vec<StoredCredential>, StoreError> {
            self.inner.discoverable_for_rp(rp_id_hash)
        }
        fn discoverable_by_id(
            &mut self,
            id: &[u8],
        ) -> Result<Option<StoredCredential>, StoreError> {
            self.inner.discoverable_by_id(id)
        }
        fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
            self.inner.all_discoverable()
        }
        fn discoverable_count(&mut self) -> Result<usize, StoreError> {
            self.inner.discoverable_count()
        }
        fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
            self.writes.push("put_discoverable");
            self.inner.put_discoverable(credential)
        }
        fn put_discoverable_with_setting(
            &mut self,
            credential: &StoredCredential,
            key: SettingKey,
            value: &[u8],
        ) -> Result<(), StoreError> {
            self.writes.push("put_discoverable_with_setting");
            self.inner.put_setting(key, Some(value))?;
            self.inner.put_discoverable(credential)
        }
        fn put_discoverable_batch(
            &mut self,
            credentials: &[&StoredCredential],
            settings: &[(SettingKey, Option<&[u8]>)],
        ) -> Result<(), StoreError> {
            self.writes.push("put_discoverable_batch");
            self.inner.put_discoverable_batch(credentials, settings)
        }
        fn delete_discoverable(&mut self, id: &[u8]) -> Result<bool, StoreError> {
            self.writes.push("delete_discoverable");
            self.inner.delete_discoverable(id)
        }
        fn next_global_counter(&mut self) -> Result<u32, StoreError> {
            self.writes.push("next_global_counter");
            self.inner.next_global_counter()
        }
        fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError> {
            self.setting_reads += 1;
            self.inner.setting(key)
        }
        fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError> {
            self.writes.push("put_setting");
            self.inner.put_setting(key, value)
        }
        fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError> {
            self.writes.push("wipe");
            self.inner.wipe(new_device_secret)
        }
    }

    fn discoverable(id: u8, rng: &mut rand::rngs::StdRng) -> StoredCredential {
        StoredCredential {
            credential_id: vec![id; 32],
            rp_id: "example.com".into(),
            rp_name: None,
            user: crate::credential::UserEntity {
                id: vec![id],
                name: None,
                display_name: None,
            },
            private_key: crate::crypto::PrivateKey::generate(crate::crypto::Algorithm::Es256, rng),
            sign_count: 0,
            cred_protect: 1,
            cred_random_with_uv: None,
            cred_random_without_uv: None,
            cred_blob: None,
            large_blob_key: None,
            discoverable: true,
            backup: crate::policy::BackupFlags::default(),
            third_party_payment: false,
        }
    }

    /// Issue 15 point 3: a discoverable makeCredential asks for one durable
    /// write (the vault makes it one transaction), also on a store that has
    /// no persistent state yet, and the state it writes is the old one with a
    /// new credential store state.
    #[test]
    fn a_new_discoverable_credential_and_its_store_state_are_one_write() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut store = Recording::new(1);
        let first_credential = discoverable(1, &mut rng);
        put_discoverable_noting_change(&mut store, &mut rng, &first_credential).unwrap();
        assert_eq!(store.writes, ["put_discoverable_with_setting"]);
        let first = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert_eq!(
            store.writes.len(),
            1,
            "the state was stored with the credential"
        );

        let second_credential = discoverable(2, &mut rng);
        put_discoverable_noting_change(&mut store, &mut rng, &second_credential).unwrap();
        assert_eq!(store.writes, ["put_discoverable_with_setting"; 2]);
        let second = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert_eq!(second.expose_secret(), first.expose_secret());
        assert_eq!(second.identifier, first.identifier);
        assert_ne!(second.cred_store_state, first.cred_store_state);
        assert_eq!(store.inner.discoverable_count().unwrap(), 2);
    }

    /// The state is read once per use (getInfo and clientPIN load it on every
    /// call; on the vault a read opens a sealed row), and a store without one
    /// gets it written once, also when the first use is a change.
    #[test]
    fn the_state_is_read_once_and_a_first_change_is_one_write() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut store = Recording::new(1);
        let made = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert_eq!((store.setting_reads, store.writes.len()), (1, 1));
        let loaded = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert_eq!((store.setting_reads, store.writes.len()), (2, 1));
        assert_eq!(loaded.cred_store_state, made.cred_store_state);

        let mut fresh = Recording::new(2);
        note_credential_store_change(&mut fresh, &mut rng).unwrap();
        assert_eq!(
            (fresh.setting_reads, fresh.writes.as_slice()),
            (1, &["put_setting"][..])
        );
        assert!(
            fresh
                .inner
                .setting(SettingKey::PersistentState)
                .unwrap()
                .is_some()
        );
    }

    /// A batch of credentials (an import) and the credential store state
    /// that changes with it are one write.
    #[test]
    fn a_batch_and_its_store_state_are_one_write() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut store = Recording::new(1);
        let before = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        store.writes.clear();
        let credentials = [discoverable(1, &mut rng), discoverable(2, &mut rng)];
        let state = credential_store_changed(&mut store, &mut rng).unwrap();
        assert!(store.writes.is_empty(), "not written by itself");
        store
            .put_discoverable_batch(
                &[&credentials[0], &credentials[1]],
                &[(SettingKey::PersistentState, Some(&state))],
            )
            .unwrap();
        assert_eq!(store.writes, ["put_discoverable_batch"]);
        let after = PersistentState::load_or_create(&mut store, &mut rng).unwrap();
        assert_eq!(after.identifier, before.identifier);
        assert_ne!(after.cred_store_state, before.cred_store_state);
        assert_eq!(store.inner.discoverable_count().unwrap(), 2);
    }
}
