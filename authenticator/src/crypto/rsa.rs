//! RSA-2048 credential keys for RS256 (RSASSA-PKCS1-v1_5, COSE -257) and
//! PS256 (RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, COSE -37,
//! RFC 8230 §2). The public exponent is always 65537.
//!
//! Stored form (512 bytes): `p ‖ q ‖ d`, each big-endian and left-padded to
//! 128, 128 and 256 bytes. The modulus is `p·q` (one multiplication); `d` is
//! kept because recomputing it from the primes costs a fifth of a signature.
//! Key generation takes a fifth of a second on average and has a long tail:
//! the runtime runs it off the thread that sends CTAPHID keepalives
//! ([`crate::Authenticator::resume_is_slow`]).

use ::rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use ::rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey as RsaPrivateKey, Pss};
use crypto_bigint::ConcatenatingMul as _;
use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// Modulus length in bits.
pub(crate) const MODULUS_BITS: u32 = 2048;
/// Modulus (and signature) length in bytes.
pub(crate) const MODULUS_LEN: usize = 256;
const PRIME_LEN: usize = MODULUS_LEN / 2;
/// Length of the stored form.
pub(crate) const STORED_LEN: usize = 2 * PRIME_LEN + MODULUS_LEN;
/// The public exponent, big-endian (65537).
pub(crate) const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// RSA signature padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256).
    Pkcs1v15,
    /// RSASSA-PSS with SHA-256 (PS256).
    Pss,
}

/// A fresh 2048-bit key with exponent 65537 (slow: see the module docs).
pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
) -> (SecretBytes, Box<RsaPrivateKey>) {
    // The rsa crate fails only for a failing RNG (a `CryptoRng` does not) or
    // an unsupported size (2048 bits is supported).
    let key = Box::new(
        RsaPrivateKey::new(rng, MODULUS_BITS as usize)
            .expect("an infallible RNG makes a 2048-bit key"),
    );
    let stored = encode(&key).expect("a generated key has two 1024-bit primes and d < n");
    (stored, key)
}

fn put(out: &mut [u8], value: &BoxedUint) -> Result<(), StatusCode> {
    let bytes = Zeroizing::new(value.to_be_bytes());
    let skip = bytes.len().saturating_sub(out.len());
    if bytes.iter().take(skip).any(|&b| b != 0) {
        return Err(StatusCode::Other);
    }
    let value = bytes.get(skip..).ok_or(StatusCode::Other)?;
    let start = out.len() - value.len();
    out.get_mut(start..)
        .ok_or(StatusCode::Other)?
        .copy_from_slice(value);
    Ok(())
}

/// The stored form of `key` (see the module docs).
pub(crate) fn encode(key: &RsaPrivateKey) -> Result<SecretBytes, StatusCode> {
    let [p, q] = key.primes() else {
        return Err(StatusCode::Other);
    };
    let mut out = Zeroizing::new(vec![0u8; STORED_LEN]);
    let (primes, d) = out.split_at_mut(2 * PRIME_LEN);
    let (p_out, q_out) = primes.split_at_mut(PRIME_LEN);
    put(p_out, p.as_ref())?;
    put(q_out, q.as_ref())?;
    put(d, key.d())?;
    Ok(SecretBytes::from_slice(&out))
}

/// Rebuilds a key from its stored form; `None` if it is not a valid key of
/// this shape (the rsa crate checks the components against each other).
pub(crate) fn decode(stored: &[u8]) -> Option<Box<RsaPrivateKey>> {
    if stored.len() != STORED_LEN {
        return None;
    }
    let (primes, d) = stored.split_at(2 * PRIME_LEN);
    let (p, q) = primes.split_at(PRIME_LEN);
    let half = MODULUS_BITS / 2;
    let p = BoxedUint::from_be_slice(p, half).ok()?;
    let q = BoxedUint::from_be_slice(q, half).ok()?;
    let d = BoxedUint::from_be_slice(d, MODULUS_BITS).ok()?;
    let n = p.concatenating_mul(&q);
    if n.bit_width() != MODULUS_BITS {
        return None;
    }
    let e = BoxedUint::from_be_slice(&PUBLIC_EXPONENT, 32).ok()?;
    RsaPrivateKey::from_components(n, e, d, vec![p, q])
        .ok()
        .map(Box::new)
}

/// The signature of `message` (SHA-256 of it, padded as asked; the private
/// operation blinded with `rng`).
pub(crate) fn sign<R: rand_core::CryptoRng + ?Sized>(
    key: &RsaPrivateKey,
    padding: Padding,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, StatusCode> {
    let digest = crate::crypto::sha256(message);
    let signature = match padding {
        Padding::Pkcs1v15 => key.sign_with_rng(rng, Pkcs1v15Sign::new::<sha2::Sha256>(), &digest),
        Padding::Pss => key.sign_with_rng(rng, Pss::<sha2::Sha256>::new(), &digest),
    };
    signature.map_err(|_| StatusCode::Other)
}

/// The modulus, big-endian, 256 bytes.
pub(crate) fn modulus(key: &RsaPrivateKey) -> Result<Vec<u8>, StatusCode> {
    let mut out = vec![0u8; MODULUS_LEN];
    put(&mut out, key.n().as_ref())?;
    Ok(out)
}
