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

use curve25519_dalek::{EdwardsPoint, Scalar};
use ed25519_dalek::hazmat::ExpandedSecretKey;
use sha2::{Digest as _, Sha512};
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
/// `public` (read from the same sealed record: see the module docs).
///
/// RFC 8032 §5.1.6 as ed25519-dalek's `raw_sign` computes it, with the public
/// key taken as the 32 encoded bytes that go into the hash: `raw_sign` wants
/// a `VerifyingKey`, and building one decompresses the point (a field
/// exponentiation, a fifth of the signature's cost) that signing never uses.
pub(crate) fn sign_with_public(
    secret: &[u8],
    public: &[u8; 32],
    message: &[u8],
) -> Result<Vec<u8>, StatusCode> {
    // 1. (h = SHA-512(seed), s = clamp(h[..32]), prefix = h[32..]).
    let expanded = ExpandedSecretKey::from(&*seed(secret)?);
    // 2. r = SHA-512(prefix ‖ M) mod L.
    let r = Zeroizing::new(wide_scalar(&[&expanded.hash_prefix, message]));
    // 3. R = [r]B.
    let big_r = EdwardsPoint::mul_base(&r).compress();
    // 4. k = SHA-512(R ‖ A ‖ M) mod L.
    let k = wide_scalar(&[big_r.as_bytes(), public, message]);
    // 5. S = (r + k·s) mod L; the signature is R ‖ S.
    let s = Zeroizing::new(k * expanded.scalar + *r);
    let mut signature = Vec::with_capacity(64);
    signature.extend_from_slice(big_r.as_bytes());
    signature.extend_from_slice(s.as_bytes());
    Ok(signature)
}

/// SHA-512 of the concatenated `parts`, reduced modulo the group order.
fn wide_scalar(parts: &[&[u8]]) -> Scalar {
    let mut hash = Sha512::new();
    for part in parts {
        hash.update(part);
    }
    let digest = Zeroizing::new(<[u8; 64]>::from(hash.finalize()));
    Scalar::from_bytes_mod_order_wide(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    #[test]
    fn signs_exactly_as_ed25519_dalek() {
        // Seeds and messages from SHA-512 of a counter; lengths around the
        // 69-byte assertion message and SHA-512's 128-byte block.
        for (i, len) in [0usize, 1, 37, 69, 111, 112, 128, 129, 1000]
            .into_iter()
            .enumerate()
        {
            let seed: [u8; 32] = Sha512::digest([i as u8, 0]).as_slice()[..32]
                .try_into()
                .unwrap();
            let message: Vec<u8> = (0..len.div_ceil(64))
                .flat_map(|block| Sha512::digest([i as u8, 1, block as u8]).to_vec())
                .take(len)
                .collect();
            let reference = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public = reference.verifying_key().to_bytes();
            assert_eq!(
                sign_with_public(&seed, &public, &message).unwrap(),
                reference.sign(&message).to_bytes().to_vec(),
                "message of {len} bytes"
            );
        }
    }

    #[test]
    fn matches_rfc8032_test_vectors() {
        // RFC 8032 §7.1 TEST 2 and TEST 3 (TEST 1 is in crypto/mod.rs):
        // secret key, public key, message, signature.
        for (secret, public, message, expected) in [
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
                 18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ] {
            let secret = hex::decode(secret).unwrap();
            let public: [u8; 32] = hex::decode(public).unwrap().try_into().unwrap();
            assert_eq!(public_from_seed(&secret).unwrap(), public);
            let signature = sign_with_public(&secret, &public, &hex::decode(message).unwrap());
            assert_eq!(hex::encode(signature.unwrap()), expected);
        }
    }

    #[test]
    fn rejects_a_seed_of_the_wrong_length() {
        assert_eq!(
            sign_with_public(&[1; 31], &[0; 32], b"m"),
            Err(StatusCode::Other)
        );
    }
}
