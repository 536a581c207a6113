//! Credentials: the stored form of a discoverable credential, and the sealed
//! credential ID that carries a non-discoverable one.
//!
//! ## Stored form (a storage contract: never reuse a key)
//! A CBOR map with integer keys: 0 format version (2), 1 credential id, 2 rp id,
//! 3 rp name, 4 user id, 5 user name, 6 user display name, 7 COSE algorithm,
//! 8 private key, 9 signature counter, 10 credProtect level, 11 credRandom with
//! UV, 12 credRandom without UV, 13 credBlob, 14 largeBlobKey, 15 public key
//! (format 2: Ed25519's 32 bytes, kept because signing needs it and deriving
//! it costs as much as the signature), 16 backup eligible (true, or absent),
//! 17 backed up (true, or absent), 20 made for third-party payment (`true`;
//! absent otherwise). Keys 16 and 17 are written only when true, so a
//! device-bound credential encodes as before. The private key's form per
//! algorithm is in [`crate::crypto`].
//!
//! ## Sealed credential ID (non-discoverable credentials)
//! `version ‖ nonce (12) ‖ AES-256-GCM(key, nonce, payload, aad = rpIdHash)` where
//! the key is HKDF-SHA256(device secret, info "softkey/credential-id/v1") and the
//! payload is the CBOR map {7: algorithm, 8: private key, 10: credProtect, 11/12:
//! credRandom, 15: public key, 20: thirdPartyPayment}. Only this authenticator
//! can open it, and only for the relying party it was made for. Discoverable
//! credentials get random IDs with another first byte and live in the
//! [`Store`](crate::store::Store).
//!
//! ## Versions and migration
//! Format 1 (stored version 1, sealed IDs starting `0x01`) had no key 15 and
//! only ES256 and EdDSA. Both still open: an Ed25519 public key missing from
//! the record is derived once when it is read, and the record is written in
//! format 2 the next time it is stored (a discoverable credential on its next
//! sign-in; [`StoredCredential::migrate_stored`] rewrites one at once). New
//! records and IDs are written in format 2 (sealed IDs start `0x02`), which
//! softkey before format 2 refuses by name rather than misreading.

use aes_gcm::Nonce;
use aes_gcm::aead::{Aead, Payload};
use ciborium::Value;
use zeroize::Zeroizing;

use crate::cbor::{self, IntMap};
use crate::crypto::{Algorithm, PrivateKey, sha256};
use crate::policy::BackupFlags;
use crate::secret::{Secret32, SecretBytes};
use crate::status::StatusCode;

mod id_key;

pub use id_key::CredentialIdKey;
pub(crate) use id_key::CredentialIdKeyCache;

/// First byte of a sealed (non-discoverable) credential ID, format version 1
/// (still opened; no longer written).
pub const SEALED_ID_V1: u8 = 0x01;
/// First byte of a sealed credential ID, format version 2 (what is written).
pub const SEALED_ID_V2: u8 = 0x02;
/// First byte of a discoverable credential's random ID.
pub const DISCOVERABLE_ID_V1: u8 = 0x81;
/// Length of a discoverable credential ID.
pub const DISCOVERABLE_ID_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The stored format written (see the module docs).
const STORED_FORMAT_VERSION: i64 = 2;
/// The oldest stored format still read.
const OLDEST_STORED_FORMAT_VERSION: i64 = 1;

/// The user a credential belongs to (WebAuthn PublicKeyCredentialUserEntity).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserEntity {
    /// The user handle (at most 64 bytes).
    pub id: Vec<u8>,
    /// Account name, if the relying party gave one.
    pub name: Option<String>,
    /// Display name, if the relying party gave one.
    pub display_name: Option<String>,
}

/// A credential as stored (discoverable) or carried in its ID (non-discoverable).
#[derive(Debug)]
pub struct StoredCredential {
    /// The credential ID the relying party knows.
    pub credential_id: Vec<u8>,
    /// The relying party id (empty for a non-discoverable credential, whose ID
    /// only opens under the right rpIdHash).
    pub rp_id: String,
    /// The relying party's name, if given.
    pub rp_name: Option<String>,
    /// The user (empty for non-discoverable credentials).
    pub user: UserEntity,
    /// The private key.
    pub private_key: PrivateKey,
    /// Signature counter (discoverable credentials only).
    pub sign_count: u32,
    /// credProtect level (1, 2 or 3).
    pub cred_protect: u8,
    /// hmac-secret CredRandom used with UV.
    pub cred_random_with_uv: Option<Secret32>,
    /// hmac-secret CredRandom used without UV.
    pub cred_random_without_uv: Option<Secret32>,
    /// credBlob, if one was stored.
    pub cred_blob: Option<Vec<u8>>,
    /// largeBlobKey, if one was made.
    pub large_blob_key: Option<Secret32>,
    /// Whether the credential is discoverable (lives in the store).
    pub discoverable: bool,
    /// The backup flags it was created with (BE) and whether it is backed up
    /// (BS); kept with a discoverable credential only (a sealed ID does not
    /// carry them).
    pub backup: BackupFlags,
    /// Made with the thirdPartyPayment extension (CTAP 2.2 §12.9).
    pub third_party_payment: bool,
}

/// Why stored credential bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialDecodeError {
    /// Not CBOR, or not the expected shape.
    #[error("malformed credential record: {0}")]
    Malformed(StatusCode),
    /// Written by a newer softkey.
    #[error("credential record format {0} is newer than this softkey understands")]
    UnsupportedVersion(i64),
    /// The private key bytes are not a valid key.
    #[error("credential record holds an invalid private key")]
    InvalidKey,
}

impl From<StatusCode> for CredentialDecodeError {
    fn from(code: StatusCode) -> Self {
        Self::Malformed(code)
    }
}

impl StoredCredential {
    /// SHA-256 of the relying party id.
    pub fn rp_id_hash(&self) -> [u8; 32] {
        sha256(self.rp_id.as_bytes())
    }

    /// The algorithm of the credential's key.
    pub fn algorithm(&self) -> Algorithm {
        self.private_key.algorithm()
    }

    /// An explicit deep copy (secrets are not `Clone`).
    pub fn duplicate(&self) -> Self {
        Self {
            credential_id: self.credential_id.clone(),
            rp_id: self.rp_id.clone(),
            rp_name: self.rp_name.clone(),
            user: self.user.clone(),
            private_key: self.private_key.duplicate(),
            sign_count: self.sign_count,
            cred_protect: self.cred_protect,
            cred_random_with_uv: self.cred_random_with_uv.as_ref().map(Secret32::duplicate),
            cred_random_without_uv: self
                .cred_random_without_uv
                .as_ref()
                .map(Secret32::duplicate),
            cred_blob: self.cred_blob.clone(),
            large_blob_key: self.large_blob_key.as_ref().map(Secret32::duplicate),
            discoverable: self.discoverable,
            backup: self.backup,
            third_party_payment: self.third_party_payment,
        }
    }

    /// Encodes the stored form (see the module docs). The result holds the
    /// private key: seal it before it leaves memory.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut entries = vec![
            (cbor::int(0), cbor::int(STORED_FORMAT_VERSION)),
            (cbor::int(1), cbor::bytes(&self.credential_id)),
            (cbor::int(2), cbor::text(&self.rp_id)),
            (cbor::int(4), cbor::bytes(&self.user.id)),
        ];
        if let Some(name) = &self.rp_name {
            entries.push((cbor::int(3), cbor::text(name)));
        }
        if let Some(name) = &self.user.name {
            entries.push((cbor::int(5), cbor::text(name)));
        }
        if let Some(name) = &self.user.display_name {
            entries.push((cbor::int(6), cbor::text(name)));
        }
        entries.push((cbor::int(9), cbor::int(i64::from(self.sign_count))));
        if self.backup.eligible {
            entries.push((cbor::int(16), Value::Bool(true)));
        }
        if self.backup.state {
            entries.push((cbor::int(17), Value::Bool(true)));
        }
        self.push_secret_fields(&mut entries);
        cbor::encode_secret(Value::Map(entries))
    }

    fn push_secret_fields(&self, entries: &mut Vec<(Value, Value)>) {
        entries.push((cbor::int(7), cbor::int(self.algorithm().cose_id())));
        entries.push((
            cbor::int(8),
            cbor::bytes(self.private_key.secret_bytes().expose_secret()),
        ));
        entries.push((cbor::int(10), cbor::int(i64::from(self.cred_protect))));
        if let Some(random) = &self.cred_random_with_uv {
            entries.push((cbor::int(11), cbor::bytes(random.expose_secret())));
        }
        if let Some(random) = &self.cred_random_without_uv {
            entries.push((cbor::int(12), cbor::bytes(random.expose_secret())));
        }
        if let Some(blob) = &self.cred_blob {
            entries.push((cbor::int(13), cbor::bytes(blob)));
        }
        if let Some(key) = &self.large_blob_key {
            entries.push((cbor::int(14), cbor::bytes(key.expose_secret())));
        }
        if let Some(public) = self.private_key.stored_public_key() {
            entries.push((cbor::int(15), cbor::bytes(public)));
        }
        if self.third_party_payment {
            entries.push((cbor::int(20), Value::Bool(true)));
        }
    }

    /// Decodes the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialDecodeError> {
        Self::from_value(cbor::decode(bytes)?, true)
    }

    /// The stored form in the current format, if `bytes` holds an older one
    /// (see "Versions and migration" in the module docs); `Ok(None)` when it
    /// is current already.
    pub fn migrate_stored(
        bytes: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, CredentialDecodeError> {
        let credential = Self::from_bytes(bytes)?;
        let current = credential.to_bytes();
        Ok((current.as_slice() != bytes).then_some(current))
    }

    /// Takes the fields out of the decoded map; the secret ones move into
    /// their zeroizing owners, and whatever is left, also on an error, is
    /// wiped with the map.
    fn from_value(value: Value, stored: bool) -> Result<Self, CredentialDecodeError> {
        let mut map = IntMap::new(value)?;
        if stored {
            let version = cbor::as_i64(&map.require(0)?)?;
            if !(OLDEST_STORED_FORMAT_VERSION..=STORED_FORMAT_VERSION).contains(&version) {
                return Err(CredentialDecodeError::UnsupportedVersion(version));
            }
        }
        let text_opt = |v: Option<Value>| v.map(cbor::into_text).transpose();
        let credential_id = map
            .take(1)
            .map(cbor::into_bytes)
            .transpose()?
            .unwrap_or_default();
        let rp_id = text_opt(map.take(2))?.unwrap_or_default();
        let rp_name = text_opt(map.take(3))?;
        let user = UserEntity {
            id: map
                .take(4)
                .map(cbor::into_bytes)
                .transpose()?
                .unwrap_or_default(),
            name: text_opt(map.take(5))?,
            display_name: text_opt(map.take(6))?,
        };
        let algorithm = Algorithm::from_cose_id(cbor::as_i64(&map.require(7)?)?)
            .ok_or(CredentialDecodeError::InvalidKey)?;
        let key_bytes = SecretBytes::new(cbor::into_bytes(map.require(8)?)?);
        let public_key = map.take(15).map(cbor::into_bytes).transpose()?;
        let private_key = PrivateKey::from_stored(algorithm, key_bytes, public_key.as_deref())
            .ok_or(CredentialDecodeError::InvalidKey)?;
        let sign_count = map
            .take(9)
            .map(|v| cbor::as_u64(&v))
            .transpose()?
            .map(|c| u32::try_from(c).unwrap_or(u32::MAX))
            .unwrap_or(0);
        let cred_protect = map
            .take(10)
            .map(|v| cbor::as_u64(&v))
            .transpose()?
            .map(|c| u8::try_from(c).unwrap_or(0))
            .unwrap_or(1);
        let secret32 = |v: Option<Value>| -> Result<Option<Secret32>, CredentialDecodeError> {
            match v {
                None => Ok(None),
                Some(v) => {
                    let bytes = Zeroizing::new(cbor::into_bytes(v)?);
                    Secret32::from_slice(&bytes)
                        .map(Some)
                        .ok_or(CredentialDecodeError::Malformed(StatusCode::InvalidLength))
                }
            }
        };
        let flag = |v: Option<Value>| v.map(|v| cbor::as_bool(&v)).transpose();
        let backup = BackupFlags {
            eligible: flag(map.take(16))?.unwrap_or(false),
            state: flag(map.take(17))?.unwrap_or(false),
        };
        Ok(Self {
            backup,
            credential_id,
            rp_id,
            rp_name,
            user,
            private_key,
            sign_count,
            cred_protect,
            cred_random_with_uv: secret32(map.take(11))?,
            cred_random_without_uv: secret32(map.take(12))?,
            cred_blob: map.take(13).map(cbor::into_bytes).transpose()?,
            large_blob_key: secret32(map.take(14))?,
            discoverable: stored,
            third_party_payment: map
                .take(20)
                .map(|v| cbor::as_bool(&v))
                .transpose()?
                .unwrap_or(false),
        })
    }

    /// Seals this (non-discoverable) credential into a credential ID bound to
    /// `rp_id_hash`.
    pub fn seal_id<R: rand_core::CryptoRng + ?Sized>(
        &self,
        device_secret: &Secret32,
        rp_id_hash: &[u8; 32],
        rng: &mut R,
    ) -> Result<Vec<u8>, StatusCode> {
        self.seal_id_with(&CredentialIdKey::derive(device_secret), rp_id_hash, rng)
    }

    /// [`seal_id`](Self::seal_id) under a key derived already.
    pub fn seal_id_with<R: rand_core::CryptoRng + ?Sized>(
        &self,
        key: &CredentialIdKey,
        rp_id_hash: &[u8; 32],
        rng: &mut R,
    ) -> Result<Vec<u8>, StatusCode> {
        let mut entries = Vec::new();
        self.push_secret_fields(&mut entries);
        let plaintext = cbor::encode_secret(Value::Map(entries));
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: rp_id_hash,
                },
            )
            .map_err(|_| StatusCode::Other)?;
        let mut id = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        id.push(SEALED_ID_V2);
        id.extend_from_slice(&nonce);
        id.extend_from_slice(&sealed);
        Ok(id)
    }

    /// Opens a sealed credential ID made by this authenticator for `rp_id_hash`;
    /// `None` for any other ID (another relying party, another device, tampered,
    /// or a discoverable credential's ID).
    pub fn open_id(
        credential_id: &[u8],
        device_secret: &Secret32,
        rp_id_hash: &[u8; 32],
    ) -> Option<Self> {
        Self::open_id_with(
            credential_id,
            &CredentialIdKey::derive(device_secret),
            rp_id_hash,
        )
    }

    /// [`open_id`](Self::open_id) under a key derived already.
    pub fn open_id_with(
        credential_id: &[u8],
        key: &CredentialIdKey,
        rp_id_hash: &[u8; 32],
    ) -> Option<Self> {
        let (&version, rest) = credential_id.split_first()?;
        if !matches!(version, SEALED_ID_V1 | SEALED_ID_V2) || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let plaintext = Zeroizing::new(
            key.cipher()
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: sealed,
                        aad: rp_id_hash,
                    },
                )
                .ok()?,
        );
        let mut credential = Self::from_value(cbor::decode(&plaintext).ok()?, false).ok()?;
        credential.credential_id = credential_id.to_vec();
        Some(credential)
    }
}

/// Maximum length of a sealed credential ID holding every optional field:
/// an RSA key (640 bytes, see [`crate::crypto`]) with both credRandoms and a
/// full credBlob comes to 785 bytes (tested); WebAuthn allows 1023.
pub const MAX_CREDENTIAL_ID_LEN: usize = 832;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample(rng: &mut rand::rngs::StdRng) -> StoredCredential {
        StoredCredential {
            credential_id: vec![DISCOVERABLE_ID_V1; 32],
            rp_id: "example.com".into(),
            rp_name: Some("Example".into()),
            user: UserEntity {
                id: b"user".to_vec(),
                name: Some("alice".into()),
                display_name: None,
            },
            private_key: PrivateKey::generate(Algorithm::Es256, rng),
            sign_count: 7,
            cred_protect: 2,
            cred_random_with_uv: Some(Secret32::new([1; 32])),
            cred_random_without_uv: None,
            cred_blob: Some(b"blob".to_vec()),
            large_blob_key: None,
            discoverable: true,
            backup: BackupFlags::default(),
            third_party_payment: false,
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let credential = sample(&mut rng);
        let bytes = credential.to_bytes();
        assert!(cbor::is_canonical(&bytes));
        let back = StoredCredential::from_bytes(&bytes).unwrap();
        assert_eq!(back.credential_id, credential.credential_id);
        assert_eq!(back.user, credential.user);
        assert_eq!(back.rp_name, credential.rp_name);
        assert_eq!(back.sign_count, 7);
        assert_eq!(back.cred_protect, 2);
        assert_eq!(back.cred_blob.as_deref(), Some(&b"blob"[..]));
        assert!(
            back.private_key
                .secret_bytes()
                .ct_eq(credential.private_key.secret_bytes().expose_secret())
        );
    }

    #[test]
    fn stored_backup_flags_round_trip_and_leave_device_bound_encoding_unchanged() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut credential = sample(&mut rng);
        let device_bound = credential.to_bytes();
        assert_eq!(
            StoredCredential::from_bytes(&device_bound).unwrap().backup,
            BackupFlags::default()
        );
        let mut value = cbor::decode(&device_bound).unwrap();
        let Value::Map(entries) = &mut value else {
            panic!("not a map")
        };
        assert!(
            !entries
                .iter()
                .any(|(k, _)| *k == cbor::int(16) || *k == cbor::int(17))
        );
        for flags in [
            BackupFlags {
                eligible: true,
                state: false,
            },
            BackupFlags {
                eligible: true,
                state: true,
            },
        ] {
            credential.backup = flags;
            let bytes = credential.to_bytes();
            assert!(cbor::is_canonical(&bytes));
            assert_eq!(StoredCredential::from_bytes(&bytes).unwrap().backup, flags);
        }
        cbor::zeroize_value(&mut value);
    }

    #[test]
    fn newer_format_is_refused_by_name() {
        // {0: 3}
        let err = StoredCredential::from_bytes(&[0xa1, 0x00, 0x03]).unwrap_err();
        assert!(matches!(err, CredentialDecodeError::UnsupportedVersion(3)));
    }

    // Format 1 records, made by softkey before format 2 (commit a837bce, the
    // `to_bytes`/`seal_id` of that day) from fixed inputs: private key 11…11
    // (EdDSA seed) or 22…22 (ES256 scalar), credProtect 2, CredRandoms 01…01
    // and 02…02; stored ones with credential ID 81…81, rp "example.com"
    // ("Example"), user "user"/"alice", signCount 5, credBlob "blob",
    // largeBlobKey 03…03; sealed ones under device secret 09…09 for
    // "example.com".
    const FORMAT1_EDDSA_STORED: &str = "ae00010158208181818181818181818181818181818181818181818181818181818181818181026b6578616d706c652e636f6d03674578616d706c650444757365720565616c6963650727085820111111111111111111111111111111111111111111111111111111111111111109050a020b582001010101010101010101010101010101010101010101010101010101010101010c582002020202020202020202020202020202020202020202020202020202020202020d44626c6f620e58200303030303030303030303030303030303030303030303030303030303030303";
    const FORMAT1_EDDSA_SEALED: &str = "01a22427226377cc867d51ad3f266d4ffa7bcd1d2519c29a298154b77b487f1c2eee4b68c18bd280cacf45d29c9db1999cc71d96fee9e38d25400f935efcb1d3ed47672ad6afa8c1201165e42de68fedb5f69036f5cb8a46b8350f5bf63a1d6822739552a99847f546dc0e68ce3ac7553346b0495b65be5435b5460eaae323eb285232294b65be21fb6ade";
    const FORMAT1_ES256_STORED: &str = "ae00010158208181818181818181818181818181818181818181818181818181818181818181026b6578616d706c652e636f6d03674578616d706c650444757365720565616c6963650726085820222222222222222222222222222222222222222222222222222222222222222209050a020b582001010101010101010101010101010101010101010101010101010101010101010c582002020202020202020202020202020202020202020202020202020202020202020d44626c6f620e58200303030303030303030303030303030303030303030303030303030303030303";
    const FORMAT1_ES256_SEALED: &str = "01130af08ad13451de7160efa2ab0ec19b1cf650a4fc026a4a20a5eccb765e16aed73e7634da463a9b95c5b5d54c232b03d48f0484e51e986c51d01bdb27062e4288f7fa1106a6005b990af72ccfe6d946d55c18bdb9386017fc3c84fea8d6ceda511db7f5aa3f32218ded31d54ab060c55b675614c2021b5d4a21e869bfed1db91bb2b3a6fa3a24f7b76b";

    fn ed25519_public(seed: [u8; 32]) -> ed25519_dalek::VerifyingKey {
        ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key()
    }

    fn verify_eddsa(credential: &StoredCredential, public: &ed25519_dalek::VerifyingKey) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let signature = credential.private_key.sign(b"assertion", &mut rng).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
        public.verify_strict(b"assertion", &signature).unwrap();
    }

    #[test]
    fn format1_stored_eddsa_record_opens_signs_and_migrates() {
        let old = hex::decode(FORMAT1_EDDSA_STORED).unwrap();
        let public = ed25519_public([0x11; 32]);
        let credential = StoredCredential::from_bytes(&old).unwrap();
        assert_eq!(credential.algorithm(), Algorithm::EdDsa);
        assert_eq!(credential.sign_count, 5);
        assert_eq!(credential.cred_blob.as_deref(), Some(&b"blob"[..]));
        assert_eq!(
            credential.private_key.stored_public_key(),
            Some(&public.to_bytes()[..])
        );
        verify_eddsa(&credential, &public);
        // Migration: format 2 with the public key (key 15) beside the seed;
        // running it again changes nothing.
        let migrated = StoredCredential::migrate_stored(&old)
            .unwrap()
            .expect("outdated");
        let value = cbor::decode(&migrated).unwrap();
        let mut map = IntMap::new(value).unwrap();
        assert_eq!(map.take(0), Some(cbor::int(2)));
        assert_eq!(map.take(15), Some(cbor::bytes(public.as_bytes())));
        assert!(
            StoredCredential::migrate_stored(&migrated)
                .unwrap()
                .is_none()
        );
        let reopened = StoredCredential::from_bytes(&migrated).unwrap();
        verify_eddsa(&reopened, &public);
        assert_eq!(reopened.user, credential.user);
        assert_eq!(reopened.sign_count, 5);
    }

    #[test]
    fn rsa_records_and_ids_without_qinv_open_sign_and_migrate() {
        // An RSA key as softkey stored it before qInv was kept: p ‖ q ‖ d,
        // the first 512 bytes of today's form.
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut credential = sample(&mut rng);
        credential.private_key = PrivateKey::generate(Algorithm::Rs256, &mut rng);
        let current = credential
            .private_key
            .secret_bytes()
            .expose_secret()
            .to_vec();
        let expected = credential.private_key.sign(b"m", &mut rng).unwrap();
        let mut map = IntMap::new(cbor::decode(&credential.to_bytes()).unwrap()).unwrap();
        map.take(8).unwrap();
        let mut entries = Vec::new();
        for key in [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 13] {
            if let Some(value) = map.take(key) {
                entries.push((cbor::int(key), value));
            }
        }
        entries.push((cbor::int(8), cbor::bytes(&current[..512])));
        let old = cbor::encode(Value::Map(entries.clone()));
        // RS256 signatures are deterministic (blinding does not change them).
        // A vault row: opens, signs as before, and migrates to the new form.
        let opened = StoredCredential::from_bytes(&old).unwrap();
        assert_eq!(opened.private_key.sign(b"m", &mut rng).unwrap(), expected);
        let migrated = StoredCredential::migrate_stored(&old)
            .unwrap()
            .expect("outdated");
        let reread = StoredCredential::from_bytes(&migrated).unwrap();
        assert_eq!(
            reread.private_key.secret_bytes().expose_secret(),
            &current[..]
        );
        assert!(
            StoredCredential::migrate_stored(&migrated)
                .unwrap()
                .is_none()
        );
        // A sealed ID (which the relying party keeps as it is): still opens
        // and signs.
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        let payload = cbor::encode(Value::Map(
            entries
                .into_iter()
                .filter(|(k, _)| [7, 8, 10, 11].map(cbor::int).contains(k))
                .collect(),
        ));
        let nonce = [7u8; NONCE_LEN];
        let sealed = CredentialIdKey::derive(&secret)
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &payload,
                    aad: &rp,
                },
            )
            .unwrap();
        let id = [&[SEALED_ID_V2][..], &nonce, &sealed].concat();
        assert_eq!(id.len(), 1 + 12 + payload.len() + 16);
        let opened = StoredCredential::open_id(&id, &secret, &rp).unwrap();
        assert_eq!(opened.algorithm(), Algorithm::Rs256);
        assert_eq!(opened.private_key.sign(b"m", &mut rng).unwrap(), expected);
    }

    #[test]
    fn format1_stored_es256_record_opens_and_signs() {
        use p256::ecdsa::signature::Verifier as _;
        let old = hex::decode(FORMAT1_ES256_STORED).unwrap();
        let credential = StoredCredential::from_bytes(&old).unwrap();
        assert_eq!(credential.algorithm(), Algorithm::Es256);
        let public = *p256::ecdsa::SigningKey::from_slice(&[0x22; 32])
            .unwrap()
            .verifying_key();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let signature = credential.private_key.sign(b"assertion", &mut rng).unwrap();
        let signature = p256::ecdsa::Signature::from_der(&signature).unwrap();
        public.verify(b"assertion", &signature).unwrap();
        // Only the version changes for ES256 (no public key is kept).
        let migrated = StoredCredential::migrate_stored(&old)
            .unwrap()
            .expect("outdated");
        assert_eq!(migrated.len(), old.len());
    }

    #[test]
    fn format1_sealed_ids_open_and_sign() {
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        let id = hex::decode(FORMAT1_EDDSA_SEALED).unwrap();
        assert_eq!(id[0], SEALED_ID_V1);
        let credential = StoredCredential::open_id(&id, &secret, &rp).unwrap();
        assert_eq!(credential.algorithm(), Algorithm::EdDsa);
        assert_eq!(credential.cred_protect, 2);
        assert!(credential.cred_random_with_uv.is_some());
        assert_eq!(credential.credential_id, id);
        verify_eddsa(&credential, &ed25519_public([0x11; 32]));
        assert!(StoredCredential::open_id(&id, &secret, &sha256(b"evil.com")).is_none());
        let id = hex::decode(FORMAT1_ES256_SEALED).unwrap();
        let credential = StoredCredential::open_id(&id, &secret, &rp).unwrap();
        assert_eq!(credential.algorithm(), Algorithm::Es256);
    }

    #[test]
    fn sealed_eddsa_id_carries_its_public_key() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut credential = sample(&mut rng);
        credential.private_key = PrivateKey::generate(Algorithm::EdDsa, &mut rng);
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        let id = credential.seal_id(&secret, &rp, &mut rng).unwrap();
        let opened = StoredCredential::open_id(&id, &secret, &rp).unwrap();
        assert_eq!(
            opened.private_key.stored_public_key(),
            credential.private_key.stored_public_key()
        );
        assert!(opened.private_key.stored_public_key().is_some());
    }

    #[test]
    fn every_algorithm_round_trips_stored_and_sealed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        for algorithm in Algorithm::ALL {
            let mut credential = sample(&mut rng);
            credential.private_key = PrivateKey::generate(algorithm, &mut rng);
            let public = credential.private_key.cose_public_key().unwrap();
            let back = StoredCredential::from_bytes(&credential.to_bytes()).unwrap();
            assert_eq!(back.algorithm(), algorithm);
            assert_eq!(back.private_key.cose_public_key().unwrap(), public);
            let id = credential.seal_id(&secret, &rp, &mut rng).unwrap();
            assert!(
                id.len() <= MAX_CREDENTIAL_ID_LEN,
                "{algorithm}: {}",
                id.len()
            );
            let opened = StoredCredential::open_id(&id, &secret, &rp).unwrap();
            assert_eq!(opened.algorithm(), algorithm);
            assert_eq!(opened.private_key.cose_public_key().unwrap(), public);
        }
    }

    #[test]
    fn sealed_ml_dsa_id_carries_the_seed_not_the_expanded_key() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        for algorithm in [Algorithm::MlDsa44, Algorithm::MlDsa65, Algorithm::MlDsa87] {
            let mut credential = sample(&mut rng);
            credential.cred_random_with_uv = None;
            credential.cred_blob = None;
            credential.private_key = PrivateKey::generate(algorithm, &mut rng);
            let id = credential.seal_id(&secret, &rp, &mut rng).unwrap();
            // Open the AEAD by hand: the payload's key 8 is the 32-byte seed
            // (an expanded ML-DSA key is 2560 to 4896 bytes).
            let (nonce, sealed) = id[1..].split_at(NONCE_LEN);
            let plaintext = Zeroizing::new(
                CredentialIdKey::derive(&secret)
                    .cipher()
                    .decrypt(
                        &Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).unwrap()),
                        Payload {
                            msg: sealed,
                            aad: &rp,
                        },
                    )
                    .unwrap(),
            );
            let mut map = IntMap::new(cbor::decode(&plaintext).unwrap()).unwrap();
            let key = cbor::into_bytes(map.take(8).unwrap()).unwrap();
            assert_eq!(key.len(), 32, "{algorithm}");
            assert!(
                map.take(15).is_none(),
                "no public key beside an ML-DSA seed"
            );
            assert_eq!(id.len(), 70, "{algorithm}: the whole ID");
        }
    }

    #[test]
    fn largest_sealed_id_fits_the_advertised_maximum() {
        // RSA with both CredRandoms and a full credBlob: the longest ID.
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let mut credential = sample(&mut rng);
        credential.private_key = PrivateKey::generate(Algorithm::Rs256, &mut rng);
        credential.cred_random_without_uv = Some(Secret32::new([2; 32]));
        credential.cred_blob = Some(vec![
            0xbb;
            crate::extensions::cred_blob::MAX_CRED_BLOB_LENGTH
        ]);
        credential.cred_protect = 3;
        let id = credential
            .seal_id(&Secret32::new([9; 32]), &sha256(b"example.com"), &mut rng)
            .unwrap();
        assert_eq!(id.len(), 785);
        assert!(id.len() <= MAX_CREDENTIAL_ID_LEN);
    }

    #[test]
    fn sealed_id_opens_only_for_its_rp_and_device() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let credential = sample(&mut rng);
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        let id = credential.seal_id(&secret, &rp, &mut rng).unwrap();
        assert_eq!(id[0], SEALED_ID_V2);
        assert!(id.len() <= MAX_CREDENTIAL_ID_LEN);
        let opened = StoredCredential::open_id(&id, &secret, &rp).unwrap();
        assert_eq!(opened.algorithm(), Algorithm::Es256);
        assert!(!opened.discoverable);
        assert!(StoredCredential::open_id(&id, &secret, &sha256(b"evil.com")).is_none());
        assert!(StoredCredential::open_id(&id, &Secret32::new([8; 32]), &rp).is_none());
        let mut tampered = id.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(StoredCredential::open_id(&tampered, &secret, &rp).is_none());
        assert!(StoredCredential::open_id(&id[..10], &secret, &rp).is_none());
    }
}
