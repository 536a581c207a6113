//! Credentials: the stored form of a discoverable credential, and the sealed
//! credential ID that carries a non-discoverable one.
//!
//! ## Stored form (a storage contract: never reuse a key)
//! A CBOR map with integer keys: 0 format version (1), 1 credential id, 2 rp id,
//! 3 rp name, 4 user id, 5 user name, 6 user display name, 7 COSE algorithm,
//! 8 private key, 9 signature counter, 10 credProtect level, 11 credRandom with
//! UV, 12 credRandom without UV, 13 credBlob, 14 largeBlobKey, 16 backup
//! eligible (true, or absent), 17 backed up (true, or absent), 20 made for
//! third-party payment (`true`; absent otherwise). Keys 16 and 17 are written
//! only when true, so a device-bound credential encodes as before.
//!
//! ## Sealed credential ID (non-discoverable credentials)
//! `0x01 ‖ nonce (12) ‖ AES-256-GCM(key, nonce, payload, aad = rpIdHash)` where
//! the key is HKDF-SHA256(device secret, info "softkey/credential-id/v1") and the
//! payload is the CBOR map {7: algorithm, 8: private key, 10: credProtect, 11/12:
//! credRandom, 20: thirdPartyPayment}. Only this authenticator can open it, and only for the relying
//! party it was made for. Discoverable credentials get random IDs with another
//! first byte and live in the [`Store`](crate::store::Store).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ciborium::Value;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cbor::{self, IntMap};
use crate::crypto::{Algorithm, PrivateKey, sha256};
use crate::policy::BackupFlags;
use crate::secret::{Secret32, SecretBytes};
use crate::status::StatusCode;

/// First byte of a sealed (non-discoverable) credential ID, format version 1.
pub const SEALED_ID_V1: u8 = 0x01;
/// First byte of a discoverable credential's random ID.
pub const DISCOVERABLE_ID_V1: u8 = 0x81;
/// Length of a discoverable credential ID.
pub const DISCOVERABLE_ID_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const STORED_FORMAT_VERSION: i64 = 1;

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
            private_key: PrivateKey::from_bytes(
                self.private_key.algorithm(),
                self.private_key.secret_bytes().duplicate(),
            )
            .expect("a key that was valid stays valid"),
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
        if self.third_party_payment {
            entries.push((cbor::int(20), Value::Bool(true)));
        }
    }

    /// Decodes the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialDecodeError> {
        Self::from_value(cbor::decode(bytes)?, true)
    }

    /// Takes the fields out of the decoded map; the secret ones move into
    /// their zeroizing owners, and whatever is left, also on an error, is
    /// wiped with the map.
    fn from_value(value: Value, stored: bool) -> Result<Self, CredentialDecodeError> {
        let mut map = IntMap::new(value)?;
        if stored {
            let version = cbor::as_i64(&map.require(0)?)?;
            if version != STORED_FORMAT_VERSION {
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
        let private_key = PrivateKey::from_bytes(algorithm, key_bytes)
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
        let mut entries = Vec::new();
        self.push_secret_fields(&mut entries);
        let plaintext = cbor::encode_secret(Value::Map(entries));
        let cipher = wrap_cipher(device_secret);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: rp_id_hash,
                },
            )
            .map_err(|_| StatusCode::Other)?;
        let mut id = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        id.push(SEALED_ID_V1);
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
        let (&version, rest) = credential_id.split_first()?;
        if version != SEALED_ID_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let cipher = wrap_cipher(device_secret);
        let plaintext = Zeroizing::new(
            cipher
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

/// Maximum length of a sealed credential ID holding every optional field.
pub const MAX_CREDENTIAL_ID_LEN: usize = 256;

fn wrap_cipher(device_secret: &Secret32) -> Aes256Gcm {
    let hkdf = Hkdf::<Sha256>::new(None, device_secret.expose_secret());
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand(b"softkey/credential-id/v1", key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new(&(*key).into())
}

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
        // {0: 2}
        let err = StoredCredential::from_bytes(&[0xa1, 0x00, 0x02]).unwrap_err();
        assert!(matches!(err, CredentialDecodeError::UnsupportedVersion(2)));
    }

    #[test]
    fn sealed_id_opens_only_for_its_rp_and_device() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let credential = sample(&mut rng);
        let secret = Secret32::new([9; 32]);
        let rp = sha256(b"example.com");
        let id = credential.seal_id(&secret, &rp, &mut rng).unwrap();
        assert_eq!(id[0], SEALED_ID_V1);
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
