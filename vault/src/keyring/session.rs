//! The Secret Service transfer encryption `dh-ietf1024-sha256-aes128-cbc-pkcs7`
//! ([Secret Service API, "Transfer of Secrets"][spec]): secrets cross the bus
//! encrypted, never in clear in D-Bus message buffers.
//!
//! 1. Both sides make a Diffie-Hellman key pair in the 1024-bit MODP group 2 of
//!    [RFC 2409 §6.2] (generator 2); `OpenSession` swaps the public values as
//!    big-endian byte arrays.
//! 2. The shared value, as a 128-byte big-endian number (leading zeros kept, as
//!    GNOME Keyring writes it), is the input of HKDF-SHA256 with no salt and no
//!    info, expanded to 16 bytes: the AES-128 key.
//! 3. Each secret is AES-128-CBC with PKCS #7 padding under a fresh random IV;
//!    the IV travels as the secret's `parameters`.
//!
//! [spec]: https://specifications.freedesktop.org/secret-service/latest/transfer-secrets.html
//! [RFC 2409 §6.2]: https://www.rfc-editor.org/rfc/rfc2409#section-6.2

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U1024};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The algorithm name passed to `OpenSession`.
pub(crate) const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

/// Bytes of a group element (1024 bits).
const ELEMENT_LEN: usize = 128;
/// AES block and IV length.
const BLOCK: usize = 16;

/// The RFC 2409 §6.2 prime: 2^1024 − 2^960 − 1 + 2^64 · (⌊2^894 π⌋ + 129093).
const MODP_GROUP_2: Odd<U1024> = Odd::<U1024>::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381",
    "FFFFFFFFFFFFFFFF"
));

/// Why the service's half of the exchange is unusable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// The public value is empty, too long, or outside 2 ..= p − 2.
    BadServicePublicKey,
}

/// Our half of the exchange: a private exponent and its public value.
pub(crate) struct KeyPair {
    private: Zeroizing<[u8; ELEMENT_LEN]>,
    public: [u8; ELEMENT_LEN],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").finish_non_exhaustive()
    }
}

fn modpow(base: &U1024, exponent: &U1024) -> U1024 {
    let params = FixedMontyParams::new_vartime(MODP_GROUP_2);
    FixedMontyForm::new(base, &params).pow(exponent).retrieve()
}

fn to_bytes(value: &U1024) -> [u8; ELEMENT_LEN] {
    let mut bytes = [0u8; ELEMENT_LEN];
    bytes.copy_from_slice(value.to_be_bytes().as_ref());
    bytes
}

impl KeyPair {
    /// A fresh key pair: a random 1023-bit private exponent (below p, so
    /// in range without reduction).
    pub(crate) fn generate() -> Self {
        let mut private = Zeroizing::new(crate::sealing::random_bytes::<ELEMENT_LEN>());
        private[0] &= 0x7f;
        private[ELEMENT_LEN - 1] |= 1; // never zero
        Self::from_private(private)
    }

    /// The key pair of a given private exponent (known-answer tests).
    pub(crate) fn from_private(private: Zeroizing<[u8; ELEMENT_LEN]>) -> Self {
        let mut exponent = U1024::from_be_slice(private.as_ref());
        let public = to_bytes(&modpow(&U1024::from_u8(2), &exponent));
        exponent.zeroize();
        Self { private, public }
    }

    /// The value sent as `OpenSession`'s input.
    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// The session key from the service's public value (step 2).
    pub(crate) fn session_key(&self, service_public: &[u8]) -> Result<SessionKey, SessionError> {
        let service = service_public_value(service_public)?;
        let mut exponent = U1024::from_be_slice(self.private.as_ref());
        let mut shared = modpow(&service, &exponent);
        let shared_bytes = Zeroizing::new(to_bytes(&shared));
        exponent.zeroize();
        shared.zeroize();
        let mut key = Zeroizing::new([0u8; BLOCK]);
        Hkdf::<Sha256>::new(None, shared_bytes.as_ref())
            .expand(&[], key.as_mut())
            .expect("16 bytes is a valid HKDF-SHA256 output length");
        Ok(SessionKey { key })
    }
}

/// The service's public value, checked to lie in 2 ..= p − 2 (1 and p − 1
/// would make the shared value guessable).
fn service_public_value(bytes: &[u8]) -> Result<U1024, SessionError> {
    let significant = &bytes[bytes.iter().take_while(|&&b| b == 0).count()..];
    if significant.is_empty() || significant.len() > ELEMENT_LEN {
        return Err(SessionError::BadServicePublicKey);
    }
    let mut padded = [0u8; ELEMENT_LEN];
    padded[ELEMENT_LEN - significant.len()..].copy_from_slice(significant);
    let prime = to_bytes(MODP_GROUP_2.as_ref());
    let mut prime_minus_one = prime;
    prime_minus_one[ELEMENT_LEN - 1] -= 1; // p is odd: no borrow
    let one = {
        let mut one = [0u8; ELEMENT_LEN];
        one[ELEMENT_LEN - 1] = 1;
        one
    };
    // Big-endian byte strings of equal length compare as the numbers do.
    if padded <= one || padded >= prime_minus_one {
        return Err(SessionError::BadServicePublicKey);
    }
    Ok(U1024::from_be_slice(&padded))
}

/// The AES-128 key of an open session.
pub(crate) struct SessionKey {
    key: Zeroizing<[u8; BLOCK]>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKey").finish_non_exhaustive()
    }
}

impl SessionKey {
    /// Encrypts `plaintext` under a fresh IV: `(parameters = IV, value)`.
    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let iv = crate::sealing::random_bytes::<BLOCK>();
        (iv.to_vec(), self.encrypt_with_iv(&iv, plaintext))
    }

    /// AES-128-CBC-PKCS7 with a given IV (known-answer tests).
    pub(crate) fn encrypt_with_iv(&self, iv: &[u8; BLOCK], plaintext: &[u8]) -> Vec<u8> {
        let pad = BLOCK - plaintext.len() % BLOCK;
        let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
        buffer.extend_from_slice(plaintext);
        buffer.resize(plaintext.len() + pad, pad as u8);
        let mut encryptor = cbc::Encryptor::<aes::Aes128>::new((&*self.key).into(), iv.into());
        for chunk in buffer.chunks_exact_mut(BLOCK) {
            let block: &mut aes::Block = chunk.try_into().expect("a chunk is one block");
            encryptor.encrypt_block(block);
        }
        buffer.to_vec()
    }

    /// Decrypts a secret's `value` with its `parameters` (the IV); `None` when
    /// the IV, length or padding is wrong.
    pub(crate) fn decrypt(&self, parameters: &[u8], value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let iv: &[u8; BLOCK] = parameters.try_into().ok()?;
        if value.is_empty() || !value.len().is_multiple_of(BLOCK) {
            return None;
        }
        let mut buffer = Zeroizing::new(value.to_vec());
        let mut decryptor = cbc::Decryptor::<aes::Aes128>::new((&*self.key).into(), iv.into());
        for chunk in buffer.chunks_exact_mut(BLOCK) {
            let block: &mut aes::Block = chunk.try_into().ok()?;
            decryptor.decrypt_block(block);
        }
        let pad = usize::from(*buffer.last()?);
        if pad == 0
            || pad > BLOCK
            || buffer[buffer.len() - pad..]
                .iter()
                .any(|&b| usize::from(b) != pad)
        {
            return None;
        }
        let len = buffer.len() - pad;
        buffer.truncate(len);
        Some(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers computed independently with Python's `pow()`, `hmac`/`hashlib`
    // (RFC 5869 HKDF by hand) and `cryptography` (AES-128-CBC, PKCS7):
    // `vault/tests/data/secret_service_kat.py`.
    const CLIENT_PRIVATE: &str = "685dda88818cebe12ade425bddf989df8b3732b7c0de3c8b423d22ac3b0874ed685dda88818cebe12ade425bddf989df8b3732b7c0de3c8b423d22ac3b0874ed685dda88818cebe12ade425bddf989df8b3732b7c0de3c8b423d22ac3b0874ed685dda88818cebe12ade425bddf989df8b3732b7c0de3c8b423d22ac3b0874ed";
    const CLIENT_PUBLIC: &str = "687f43ff00c78a1aebbe93980f41b69715de302c4a86b713c0432d7fd2c02ae0d8537f42d4a8a234fd862a62d6ac9b143799b00d32233f4f70697a9606490ee503a2b2234f051e7e47c63966553ef0a00dff338f1cded4c20debaff55a470b080a95d702f6c3af8507d3a033bd0842066b096fa024717083e80cdd445334b495";
    const SERVICE_PUBLIC: &str = "cfa477670cbefecba3d189c2eeefbf7eec49b7da811f598357cfcb4c5a39ecf8499fed073672d59ca6dcf3591117ba63bbfbe7cf7099f32ed9c01f71fe40764d8b10cf79599bac955c660dd8a0b7a86342e5e2696bdded40628833aa9fbe358d567b16fa554100284123d326e75ddb49571df364cda60ca7d7e2f934b868b8ca";
    const SESSION_KEY: &str = "03dfa940908ec88b5da9df8cea62ce59";
    /// AES-128-CBC-PKCS7(SESSION_KEY, iv = 00 01 … 0f, plaintext = 00 01 … 1f).
    const CIPHERTEXT: &str = "87bff07c9254d298aa6f0b35ac24662f2bda1f66d8e9e3fbf241803a5d0f1eb8a2f871a3bb1a4f131f0f0f57ffe13054";
    /// A service value whose shared value with CLIENT_PRIVATE starts with a zero
    /// byte (00f41342…): the HKDF input must keep it (128 bytes, not 127).
    const SERVICE_PUBLIC_LEADING_ZERO: &str = "b8c26446a06c22c9cc38bfca3e61d295457102a4526efcf933f817020844a8456ce52495fc85d09afa786bbdc21d142ba2b3b04614317e472388dfbc14bdd8265c2fa81b33435dd4b3dbfb725a373a65ba39acc036962df5889d9ddae95eb3333a9fc4db45d05886da8e2a4695185a4781cf0d7cdddf5db9b3865f7f65e83081";
    const SESSION_KEY_LEADING_ZERO: &str = "08466b55d9e9cef29bfeb0d8fb93cd8e";

    fn client() -> KeyPair {
        let private: [u8; ELEMENT_LEN] = hex::decode(CLIENT_PRIVATE).unwrap().try_into().unwrap();
        KeyPair::from_private(Zeroizing::new(private))
    }

    #[test]
    fn public_value_matches_python_pow() {
        assert_eq!(hex::encode(client().public()), CLIENT_PUBLIC);
    }

    #[test]
    fn session_key_matches_independent_hkdf() {
        let key = client()
            .session_key(&hex::decode(SERVICE_PUBLIC).unwrap())
            .unwrap();
        assert_eq!(hex::encode(key.key.as_ref()), SESSION_KEY);
        let key = client()
            .session_key(&hex::decode(SERVICE_PUBLIC_LEADING_ZERO).unwrap())
            .unwrap();
        assert_eq!(hex::encode(key.key.as_ref()), SESSION_KEY_LEADING_ZERO);
    }

    #[test]
    fn service_value_with_leading_zero_bytes_is_accepted() {
        // A service may send its value unpadded or padded; both are the same number.
        let mut padded = vec![0u8; 3];
        padded.extend(hex::decode(SERVICE_PUBLIC).unwrap());
        let key = client().session_key(&padded).unwrap();
        assert_eq!(hex::encode(key.key.as_ref()), SESSION_KEY);
    }

    #[test]
    fn degenerate_service_values_are_refused() {
        let prime = to_bytes(MODP_GROUP_2.as_ref());
        let mut prime_minus_one = prime;
        prime_minus_one[ELEMENT_LEN - 1] -= 1;
        for bad in [
            vec![],
            vec![0],
            vec![1],
            vec![0, 0, 1],
            prime_minus_one.to_vec(),
            prime.to_vec(),
            vec![0xff; ELEMENT_LEN],
            vec![1; ELEMENT_LEN + 1],
        ] {
            assert_eq!(
                client().session_key(&bad).unwrap_err(),
                SessionError::BadServicePublicKey,
                "{bad:02x?}"
            );
        }
        assert!(client().session_key(&[2]).is_ok());
    }

    #[test]
    fn cbc_pkcs7_matches_python_cryptography() {
        let key = SessionKey {
            key: Zeroizing::new(hex::decode(SESSION_KEY).unwrap().try_into().unwrap()),
        };
        let iv: [u8; 16] = std::array::from_fn(|i| i as u8);
        let plaintext: Vec<u8> = (0..32).collect();
        let ciphertext = key.encrypt_with_iv(&iv, &plaintext);
        assert_eq!(hex::encode(&ciphertext), CIPHERTEXT);
        assert_eq!(key.decrypt(&iv, &ciphertext).unwrap().as_slice(), plaintext);
    }

    #[test]
    fn bad_iv_length_or_padding_is_refused() {
        let key = SessionKey {
            key: Zeroizing::new([7; 16]),
        };
        let (iv, value) = key.encrypt(b"thirty-two bytes of secret here!");
        assert!(key.decrypt(&iv[..15], &value).is_none());
        assert!(key.decrypt(&iv, &value[..31]).is_none());
        assert!(key.decrypt(&iv, &[]).is_none());
        // A wrong IV changes the first block only; a tampered last block breaks
        // the padding (with overwhelming probability for this fixed input).
        let mut tampered = value.clone();
        tampered[value.len() - 17] ^= 0x55;
        assert!(key.decrypt(&iv, &tampered).is_none());
        // Every plaintext length round-trips, including whole blocks.
        for len in 0..=33 {
            let plaintext = vec![0xa5; len];
            let (iv, value) = key.encrypt(&plaintext);
            assert_eq!(value.len(), (len / 16 + 1) * 16);
            assert_eq!(key.decrypt(&iv, &value).unwrap().as_slice(), plaintext);
        }
    }
}
