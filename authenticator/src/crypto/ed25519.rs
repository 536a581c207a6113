//! Ed25519 credential keys (EdDSA, COSE -8, and its fully-specified name
//! Ed25519, -19). The private key is the 32-byte RFC 8032 seed.
//!
//! Signing needs the public key (it is hashed into every signature), and
//! computing it from the seed is a scalar multiplication as costly as the
//! signature itself. So the public key is kept beside the seed, inside the
//! same sealed record (the vault row or the credential ID's AEAD): it is as
//! authentic as the seed. It must never come from anywhere else: signing with
//! a public key that does not belong to the seed leaks the seed's scalar
//! (two signatures of one message under two public keys share a nonce).

use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// A fresh key: its seed and its expanded form (which holds the public key).
pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
) -> (SecretBytes, Box<ed25519_dalek::SigningKey>) {
    let key = Box::new(ed25519_dalek::SigningKey::generate(rng));
    let seed = SecretBytes::from_slice(Zeroizing::new(key.to_bytes()).as_ref());
    (seed, key)
}

fn seed(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, StatusCode> {
    bytes
        .try_into()
        .map(Zeroizing::new)
        .map_err(|_| StatusCode::Other)
}

/// The public key of a seed: a scalar multiplication (for keys stored
/// without it, and for keys imported from outside).
pub(crate) fn public_from_seed(secret: &[u8]) -> Result<[u8; 32], StatusCode> {
    let key = ed25519_dalek::SigningKey::from_bytes(&*seed(secret)?);
    Ok(key.verifying_key().to_bytes())
}

/// The Ed25519 signature of `message` by `secret`, whose public key is
/// `public` (read from the same sealed record: see the module docs). Costs one
/// signature and a point decompression, not a second scalar multiplication.
pub(crate) fn sign_with_public(
    secret: &[u8],
    public: &[u8; 32],
    message: &[u8],
) -> Result<Vec<u8>, StatusCode> {
    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| StatusCode::Other)?;
    let expanded = ExpandedSecretKey::from(&*seed(secret)?);
    Ok(raw_sign::<sha2::Sha512>(&expanded, message, &verifying)
        .to_bytes()
        .to_vec())
}
