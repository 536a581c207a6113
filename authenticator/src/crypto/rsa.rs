//! RSA-2048 credential keys for RS256 (RSASSA-PKCS1-v1_5, COSE -257) and
//! PS256 (RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, COSE -37,
//! RFC 8230 §2). The public exponent is always 65537.
//!
//! Stored form (640 bytes): `p ‖ q ‖ d ‖ qInv`, each big-endian and
//! left-padded to 128, 128, 256 and 128 bytes, `qInv = q⁻¹ mod p`. The
//! modulus is `p·q` (one multiplication); `d` is kept because recomputing it
//! from the primes costs a fifth of a signature, and `qInv` because the
//! constant-time inversion that finds it costs as much as all the other
//! rebuilding together. The 512-byte form `p ‖ q ‖ d` written before
//! `qInv` was kept still opens (its `qInv` computed as before) and is written
//! back in the current form, as vault rows are rewritten; sealed credential
//! IDs in the old form keep working as they are.
//!
//! A key read back is checked, cheaply, against itself before it signs:
//! `d·e ≡ 1 (mod p−1)` and `(mod q−1)`, `qInv·q ≡ 1 (mod p)`, distinct odd
//! primes making a 2048-bit modulus; and every signature is checked with the
//! public key before it leaves (the rsa crate's `rsa_decrypt_and_check`).
//!
//! Key generation takes a fifth of a second on average and has a long tail:
//! the runtime runs it off the thread that sends CTAPHID keepalives
//! ([`crate::Authenticator::resume_is_slow`]).

use ::rsa::hazmat::rsa_decrypt_and_check;
use ::rsa::traits::{PrivateKeyParts, PublicKeyParts};
use ::rsa::{CrtValue, PrivateKey as RsaPrivateKey};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams, MontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul as _, NonZero, Odd};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// Modulus length in bits.
pub(crate) const MODULUS_BITS: u32 = 2048;
/// Modulus (and signature) length in bytes.
pub(crate) const MODULUS_LEN: usize = 256;
const PRIME_BITS: u32 = MODULUS_BITS / 2;
const PRIME_LEN: usize = MODULUS_LEN / 2;
/// Length of the stored form.
pub(crate) const STORED_LEN: usize = 3 * PRIME_LEN + MODULUS_LEN;
/// Length of the stored form before `qInv` was kept (`p ‖ q ‖ d`).
const STORED_LEN_WITHOUT_QINV: usize = 2 * PRIME_LEN + MODULUS_LEN;
/// The public exponent, big-endian (65537).
pub(crate) const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];
/// The DER DigestInfo header of a SHA-256 hash (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const HASH_LEN: usize = 32;
/// PS256's salt is as long as the hash (RFC 8230 §2).
const SALT_LEN: usize = HASH_LEN;

/// RSA signature padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256).
    Pkcs1v15,
    /// RSASSA-PSS with SHA-256 (PS256).
    Pss,
}

/// An RSA-2048 private key with its CRT values, ready to sign. Built from
/// the stored form without the rsa crate's constructor, which always
/// recomputes `qInv`; the rsa crate's private operation runs on it through
/// [`PrivateKeyParts`]. Zeroized on drop; no `Debug`.
pub(crate) struct Key {
    n: NonZero<BoxedUint>,
    e: BoxedUint,
    n_params: BoxedMontyParams,
    d: BoxedUint,
    /// `p` and `q`, each at half the modulus's precision.
    primes: Vec<Odd<BoxedUint>>,
    p: MontyParams<BoxedUint>,
    q: MontyParams<BoxedUint>,
    dp: BoxedUint,
    dq: BoxedUint,
    /// `q⁻¹ mod p`, in Montgomery form modulo `p`.
    qinv: BoxedMontyForm,
}

impl Drop for Key {
    fn drop(&mut self) {
        self.d.zeroize();
        self.primes.zeroize();
        self.p.zeroize();
        self.q.zeroize();
        self.dp.zeroize();
        self.dq.zeroize();
        self.qinv.zeroize();
    }
}

impl PublicKeyParts for Key {
    fn n(&self) -> &NonZero<BoxedUint> {
        &self.n
    }

    fn e(&self) -> &BoxedUint {
        &self.e
    }

    fn n_params(&self) -> &BoxedMontyParams {
        &self.n_params
    }
}

impl PrivateKeyParts for Key {
    fn d(&self) -> &BoxedUint {
        &self.d
    }

    fn primes(&self) -> &[Odd<BoxedUint>] {
        &self.primes
    }

    fn p(&self) -> Option<&MontyParams<BoxedUint>> {
        Some(&self.p)
    }

    fn q(&self) -> Option<&MontyParams<BoxedUint>> {
        Some(&self.q)
    }

    fn dp(&self) -> Option<&BoxedUint> {
        Some(&self.dp)
    }

    fn dq(&self) -> Option<&BoxedUint> {
        Some(&self.dq)
    }

    fn qinv(&self) -> Option<&BoxedMontyForm> {
        Some(&self.qinv)
    }

    fn crt_values(&self) -> Option<&[CrtValue]> {
        None
    }
}

impl Key {
    /// An explicit deep copy (secrets are not `Clone`).
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            n: self.n.clone(),
            e: self.e.clone(),
            n_params: self.n_params.clone(),
            d: self.d.clone(),
            primes: self.primes.clone(),
            p: self.p.clone(),
            q: self.q.clone(),
            dp: self.dp.clone(),
            dq: self.dq.clone(),
            qinv: self.qinv.clone(),
        }
    }

    /// The key the rsa crate built (and checked, and precomputed).
    fn from_rsa(key: &RsaPrivateKey) -> Option<Self> {
        Some(Self {
            n: key.n().clone(),
            e: key.e().clone(),
            n_params: key.n_params().clone(),
            d: key.d().clone(),
            primes: key.primes().to_vec(),
            p: key.p()?.clone(),
            q: key.q()?.clone(),
            dp: key.dp()?.clone(),
            dq: key.dq()?.clone(),
            qinv: key.qinv()?.clone(),
        })
    }

    /// A key from its components; `None` unless they make a consistent
    /// RSA-2048 key with exponent 65537 (see the module docs).
    fn from_parts(p: BoxedUint, q: BoxedUint, d: BoxedUint, qinv: BoxedUint) -> Option<Self> {
        let e = BoxedUint::from_be_slice(&PUBLIC_EXPONENT, 32).ok()?;
        let n = p.concatenating_mul(&q);
        if n.bit_width() != MODULUS_BITS || bool::from(p.is_zero()) || p == q {
            return None;
        }
        let p = Odd::new(p).into_option()?;
        let q = Odd::new(q).into_option()?;
        let n = Odd::new(n).into_option()?;
        // The modulus is public: its parameters need not be constant-time.
        let n_params = BoxedMontyParams::new_vartime(n.clone());
        let n = NonZero::new(n.get()).into_option()?;
        if d >= *n.as_ref() {
            return None;
        }
        let one = BoxedUint::one_with_precision(PRIME_BITS);
        let p_minus_1 = NonZero::new(p.wrapping_sub(&one)).into_option()?;
        let q_minus_1 = NonZero::new(q.wrapping_sub(&one)).into_option()?;
        // d·e ≡ 1 modulo p−1 and q−1: d belongs to these primes.
        let de = Zeroizing::new(d.concatenating_mul(&e));
        if !bool::from(de.rem(&p_minus_1).is_one()) || !bool::from(de.rem(&q_minus_1).is_one()) {
            return None;
        }
        let p_params = BoxedMontyParams::new(p.clone());
        let q_params = BoxedMontyParams::new(q.clone());
        if qinv >= *p.as_ref() {
            return None;
        }
        let qinv = BoxedMontyForm::new(qinv, &p_params);
        let q_mod_p = BoxedMontyForm::new(q.as_ref().clone(), &p_params);
        if !bool::from((&qinv * &q_mod_p).retrieve().is_one()) {
            return None;
        }
        Some(Self {
            dp: d.rem(&p_minus_1),
            dq: d.rem(&q_minus_1),
            n,
            e,
            n_params,
            d,
            primes: vec![p, q],
            p: p_params.as_ref().clone(),
            q: q_params.as_ref().clone(),
            qinv,
        })
    }
}

/// A fresh 2048-bit key with exponent 65537 (slow: see the module docs).
pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> (SecretBytes, Box<Key>) {
    // The rsa crate fails only for a failing RNG (a `CryptoRng` does not) or
    // an unsupported size (2048 bits is supported).
    let key = RsaPrivateKey::new(rng, MODULUS_BITS as usize)
        .expect("an infallible RNG makes a 2048-bit key");
    let key = Box::new(Key::from_rsa(&key).expect("a generated key is precomputed"));
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
pub(crate) fn encode(key: &Key) -> Result<SecretBytes, StatusCode> {
    let [p, q] = key.primes.as_slice() else {
        return Err(StatusCode::Other);
    };
    let qinv = Zeroizing::new(key.qinv.retrieve());
    let mut out = Zeroizing::new(vec![0u8; STORED_LEN]);
    let (p_out, rest) = out.split_at_mut(PRIME_LEN);
    let (q_out, rest) = rest.split_at_mut(PRIME_LEN);
    let (d_out, qinv_out) = rest.split_at_mut(MODULUS_LEN);
    put(p_out, p.as_ref())?;
    put(q_out, q.as_ref())?;
    put(d_out, &key.d)?;
    put(qinv_out, &qinv)?;
    Ok(SecretBytes::from_slice(&out))
}

/// Rebuilds a key from its stored form, and says whether that form is the
/// current one; `None` if it is not a valid key of this shape.
pub(crate) fn decode(stored: &[u8]) -> Option<(Box<Key>, bool)> {
    let current = match stored.len() {
        STORED_LEN => true,
        STORED_LEN_WITHOUT_QINV => false,
        _ => return None,
    };
    let (p, rest) = stored.split_at(PRIME_LEN);
    let (q, rest) = rest.split_at(PRIME_LEN);
    let (d, qinv) = rest.split_at(MODULUS_LEN);
    let p = BoxedUint::from_be_slice(p, PRIME_BITS).ok()?;
    let q = BoxedUint::from_be_slice(q, PRIME_BITS).ok()?;
    let d = BoxedUint::from_be_slice(d, MODULUS_BITS).ok()?;
    let key = if current {
        let qinv = BoxedUint::from_be_slice(qinv, PRIME_BITS).ok()?;
        Key::from_parts(p, q, d, qinv)?
    } else {
        // The old form: the rsa crate checks the parts and finds qInv.
        let n = p.concatenating_mul(&q);
        if n.bit_width() != MODULUS_BITS {
            return None;
        }
        let e = BoxedUint::from_be_slice(&PUBLIC_EXPONENT, 32).ok()?;
        Key::from_rsa(&RsaPrivateKey::from_components(n, e, d, vec![p, q]).ok()?)?
    };
    Some((Box::new(key), current))
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of a SHA-256 hash:
/// `00 01 FF…FF 00 ‖ DigestInfo ‖ H`.
fn pkcs1v15_encode(hash: &[u8; HASH_LEN]) -> [u8; MODULUS_LEN] {
    let mut em = [0xff; MODULUS_LEN];
    em[0] = 0x00;
    em[1] = 0x01;
    let t = MODULUS_LEN - SHA256_DIGEST_INFO.len() - HASH_LEN;
    em[t - 1] = 0x00;
    em[t..MODULUS_LEN - HASH_LEN].copy_from_slice(&SHA256_DIGEST_INFO);
    em[MODULUS_LEN - HASH_LEN..].copy_from_slice(hash);
    em
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of a SHA-256 hash for a 2048-bit
/// modulus (emBits = 2047, so emLen = 256) with SHA-256, MGF1-SHA-256 and
/// `salt`: `maskedDB ‖ H ‖ BC`.
fn pss_encode(hash: &[u8; HASH_LEN], salt: &[u8; SALT_LEN]) -> [u8; MODULUS_LEN] {
    // 5–6. H = Hash(00×8 ‖ mHash ‖ salt).
    let h: [u8; HASH_LEN] = Sha256::new()
        .chain_update([0u8; 8])
        .chain_update(hash)
        .chain_update(salt)
        .finalize()
        .into();
    let mut em = [0u8; MODULUS_LEN];
    const DB_LEN: usize = MODULUS_LEN - HASH_LEN - 1;
    let (db, tail) = em.split_at_mut(DB_LEN);
    // 7–8. DB = PS (zeros) ‖ 01 ‖ salt.
    db[DB_LEN - SALT_LEN - 1] = 0x01;
    db[DB_LEN - SALT_LEN..].copy_from_slice(salt);
    // 9–10. maskedDB = DB ⊕ MGF1(H, emLen − hLen − 1).
    for (counter, chunk) in db.chunks_mut(HASH_LEN).enumerate() {
        let counter = u32::try_from(counter).unwrap_or(u32::MAX);
        let mask = Sha256::new()
            .chain_update(h)
            .chain_update(counter.to_be_bytes())
            .finalize();
        chunk.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
    }
    // 11. The leftmost 8·emLen − emBits = 1 bit cleared.
    db[0] &= 0x7f;
    // 12. EM = maskedDB ‖ H ‖ 0xbc.
    tail[..HASH_LEN].copy_from_slice(&h);
    tail[HASH_LEN] = 0xbc;
    em
}

/// The signature of `message` (SHA-256 of it, padded as asked; the private
/// operation blinded with `rng`, the PSS salt from `rng`), checked with the
/// public key before it is returned.
pub(crate) fn sign<R: rand_core::CryptoRng + ?Sized>(
    key: &Key,
    padding: Padding,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, StatusCode> {
    let hash = crate::crypto::sha256(message);
    let em = match padding {
        Padding::Pkcs1v15 => pkcs1v15_encode(&hash),
        Padding::Pss => {
            let mut salt = [0u8; SALT_LEN];
            rng.fill_bytes(&mut salt);
            pss_encode(&hash, &salt)
        }
    };
    let em =
        BoxedUint::from_be_slice(&em, key.n.bits_precision()).map_err(|_| StatusCode::Other)?;
    let signature = rsa_decrypt_and_check(key, Some(rng), &em).map_err(|_| StatusCode::Other)?;
    let mut out = vec![0u8; MODULUS_LEN];
    put(&mut out, &signature)?;
    Ok(out)
}

/// The modulus, big-endian, 256 bytes.
pub(crate) fn modulus(key: &Key) -> Result<Vec<u8>, StatusCode> {
    let mut out = vec![0u8; MODULUS_LEN];
    put(&mut out, key.n.as_ref())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    /// A fresh key, its stored form, and the rsa crate's own key built (and
    /// checked) from the same components.
    fn fixture() -> (Box<Key>, Vec<u8>, RsaPrivateKey) {
        let (stored, key) = generate(&mut rng(1));
        let reference = RsaPrivateKey::from_components(
            key.n.as_ref().clone(),
            key.e.clone(),
            key.d.clone(),
            key.primes.iter().map(|p| p.as_ref().clone()).collect(),
        )
        .unwrap();
        (key, stored.expose_secret().to_vec(), reference)
    }

    #[test]
    fn signatures_equal_the_rsa_crates_byte_for_byte() {
        let (key, stored, reference) = fixture();
        let (reopened, current) = decode(&stored).unwrap();
        assert!(current);
        let digest = crate::crypto::sha256(b"message");
        // PKCS#1 v1.5 is deterministic; PSS draws its salt first from the
        // RNG (then blinding, which does not change the result), so equal
        // seeds give equal signatures.
        let expected = reference
            .sign(::rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap();
        let expected_pss = reference
            .sign_with_rng(&mut rng(5), ::rsa::Pss::<Sha256>::new(), &digest)
            .unwrap();
        for key in [&key, &reopened] {
            let signature = sign(key, Padding::Pkcs1v15, b"message", &mut rng(3)).unwrap();
            assert_eq!(signature, expected);
            let signature = sign(key, Padding::Pss, b"message", &mut rng(5)).unwrap();
            assert_eq!(signature, expected_pss);
        }
    }

    #[test]
    fn pss_encoding_verifies_with_the_rsa_crate() {
        // Salts of every byte value's worth of seeds: the encoding (and the
        // one cleared top bit) hold for any salt, not one lucky draw.
        let (key, _, reference) = fixture();
        let verifier = ::rsa::pss::VerifyingKey::<Sha256>::new(reference.to_public_key());
        for seed in 0..8 {
            let message = [seed as u8; 69];
            let signature = sign(&key, Padding::Pss, &message, &mut rng(seed)).unwrap();
            let signature = ::rsa::pss::Signature::try_from(signature.as_slice()).unwrap();
            use ::rsa::signature::Verifier as _;
            assert!(verifier.verify(&message, &signature).is_ok(), "seed {seed}");
        }
    }

    #[test]
    fn the_form_without_qinv_still_opens_and_signs() {
        let (key, stored, _) = fixture();
        // The old form is the current one without its last 128 bytes.
        let old = &stored[..STORED_LEN_WITHOUT_QINV];
        let (reopened, current) = decode(old).unwrap();
        assert!(!current, "read as the old form");
        assert_eq!(encode(&reopened).unwrap().expose_secret(), &stored[..]);
        assert_eq!(
            sign(&reopened, Padding::Pkcs1v15, b"m", &mut rng(2)).unwrap(),
            sign(&key, Padding::Pkcs1v15, b"m", &mut rng(2)).unwrap()
        );
    }

    #[test]
    fn inconsistent_stored_forms_are_refused() {
        let (_, stored, _) = fixture();
        // A flipped bit in p, q, d or qInv; both forms.
        for at in [10, 200, 300, 500, 600, 639] {
            let mut tampered = stored.clone();
            tampered[at] ^= 0x40;
            assert!(decode(&tampered).is_none(), "bit flipped at {at}");
            if at < STORED_LEN_WITHOUT_QINV {
                assert!(decode(&tampered[..STORED_LEN_WITHOUT_QINV]).is_none());
            }
        }
        // qInv + p (the same residue, not reduced) and zero.
        let mut unreduced = stored.clone();
        unreduced[STORED_LEN_WITHOUT_QINV..].copy_from_slice(&[0xff; PRIME_LEN]);
        assert!(decode(&unreduced).is_none());
        let mut zero = stored.clone();
        zero[STORED_LEN_WITHOUT_QINV..].fill(0);
        assert!(decode(&zero).is_none());
        // p and q swapped: a valid key, but qInv is then p⁻¹ mod q's partner.
        let mut swapped = stored.clone();
        swapped[..PRIME_LEN].copy_from_slice(&stored[PRIME_LEN..2 * PRIME_LEN]);
        swapped[PRIME_LEN..2 * PRIME_LEN].copy_from_slice(&stored[..PRIME_LEN]);
        assert!(decode(&swapped).is_none());
        for len in [0, 511, 513, 639, 641] {
            assert!(decode(&vec![0x55; len]).is_none(), "{len} bytes");
        }
    }

    #[test]
    fn encodings_match_rfc8017() {
        // EMSA-PKCS1-v1_5: 00 01, 202 bytes FF, 00, DigestInfo, hash.
        let em = pkcs1v15_encode(&[0xab; 32]);
        assert_eq!(&em[..2], &[0, 1]);
        assert!(em[2..204].iter().all(|&b| b == 0xff));
        assert_eq!(em[204], 0);
        assert_eq!(
            hex::encode(&em[205..224]),
            "3031300d060960864801650304020105000420"
        );
        assert_eq!(&em[224..], &[0xab; 32]);
        // EMSA-PSS: unmasking DB with MGF1(H) gives PS ‖ 01 ‖ salt.
        let salt = [0x5c; SALT_LEN];
        let em = pss_encode(&[0xab; 32], &salt);
        assert_eq!(em[255], 0xbc);
        assert!(em[0] < 0x80, "top bit cleared");
        let h = &em[223..255];
        let mut db = em[..223].to_vec();
        for (counter, chunk) in db.chunks_mut(32).enumerate() {
            let mask = Sha256::new()
                .chain_update(h)
                .chain_update((counter as u32).to_be_bytes())
                .finalize();
            chunk.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
        }
        db[0] &= 0x7f;
        assert!(db[..190].iter().all(|&b| b == 0));
        assert_eq!(db[190], 1);
        assert_eq!(&db[191..], &salt);
        let expected: [u8; 32] = Sha256::new()
            .chain_update([0u8; 8])
            .chain_update([0xab; 32])
            .chain_update(salt)
            .finalize()
            .into();
        assert_eq!(h, &expected);
    }
}
