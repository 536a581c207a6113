//! The key that seals credential IDs (see "Sealed credential ID" in the
//! parent module), and its per-device-secret cache.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::secret::Secret32;

/// The AES-256-GCM key that seals credential IDs:
/// HKDF-SHA256(device secret, info "softkey/credential-id/v1"). Zeroized on
/// drop; `Debug` shows nothing of it.
pub struct CredentialIdKey(Secret32);

impl std::fmt::Debug for CredentialIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialIdKey").finish_non_exhaustive()
    }
}

impl CredentialIdKey {
    /// Derives the key from the device secret (eight SHA-256 compressions).
    pub fn derive(device_secret: &Secret32) -> Self {
        let hkdf = Hkdf::<Sha256>::new(None, device_secret.expose_secret());
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"softkey/credential-id/v1", key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(Secret32::from_slice(key.as_ref()).expect("the key is 32 bytes"))
    }

    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.expose_secret().into())
    }
}

/// The [`CredentialIdKey`] of the current device secret, derived once rather
/// than for every sealed ID made or opened: the derivation cost a tenth of an
/// Ed25519 signature, and the device secret changes only on reset. The entry
/// remembers the device secret it was derived from (compared in constant
/// time), so a key derived before a reset is never used after it; reset
/// also [`clear`](Self::clear)s it. Both secrets are zeroized on drop.
#[derive(Default)]
pub(crate) struct CredentialIdKeyCache {
    entry: Option<(Secret32, CredentialIdKey)>,
}

impl std::fmt::Debug for CredentialIdKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialIdKeyCache")
            .field("derived", &self.entry.is_some())
            .finish_non_exhaustive()
    }
}

impl CredentialIdKeyCache {
    /// The key for `device_secret`, derived now if the cached one belongs to
    /// another device secret (or none is cached).
    pub(crate) fn key(&mut self, device_secret: &Secret32) -> &CredentialIdKey {
        let current = self.entry.as_ref().is_some_and(|(source, _)| {
            bool::from(source.expose_secret().ct_eq(device_secret.expose_secret()))
        });
        if !current {
            self.entry = None;
        }
        let (_, key) = self.entry.get_or_insert_with(|| {
            (
                device_secret.duplicate(),
                CredentialIdKey::derive(device_secret),
            )
        });
        key
    }

    /// Forgets the cached key (the device secret is being replaced).
    pub(crate) fn clear(&mut self) {
        self.entry = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(key: &CredentialIdKey) -> [u8; 32] {
        *key.0.expose_secret()
    }

    #[test]
    fn cached_key_follows_the_device_secret() {
        let first = Secret32::new([1; 32]);
        let second = Secret32::new([2; 32]);
        let (first_key, second_key) = (
            bytes(&CredentialIdKey::derive(&first)),
            bytes(&CredentialIdKey::derive(&second)),
        );
        assert_ne!(first_key, second_key);
        let mut cache = CredentialIdKeyCache::default();
        assert_eq!(bytes(cache.key(&first)), first_key);
        assert_eq!(bytes(cache.key(&first)), first_key);
        // A new device secret (after a reset) gets its own key, never the
        // one cached for the old secret.
        assert_eq!(bytes(cache.key(&second)), second_key);
        assert_eq!(bytes(cache.key(&first)), first_key);
        cache.clear();
        assert!(cache.entry.is_none());
        assert!(!format!("{cache:?}").contains('1'));
    }

    #[test]
    fn derivation_matches_hkdf_sha256() {
        // RFC 5869 HKDF with no salt over the device secret, info
        // "softkey/credential-id/v1", computed independently (the hmac crate
        // directly): PRK = HMAC(zeros, IKM), OKM = HMAC(PRK, info ‖ 0x01).
        use hmac::{KeyInit as _, Mac};
        let secret = Secret32::new([0x5a; 32]);
        let mut extract = hmac::Hmac::<Sha256>::new_from_slice(&[0; 32]).unwrap();
        extract.update(secret.expose_secret());
        let prk = extract.finalize().into_bytes();
        let mut expand = hmac::Hmac::<Sha256>::new_from_slice(&prk).unwrap();
        expand.update(b"softkey/credential-id/v1\x01");
        let okm: [u8; 32] = expand.finalize().into_bytes().into();
        assert_eq!(bytes(&CredentialIdKey::derive(&secret)), okm);
    }
}
