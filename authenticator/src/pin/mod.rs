//! PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6, §6.5.7), the persistent
//! PIN state and the volatile pinUvAuthToken.
//!
//! ```text
//!  platform key ──ecdh──► Z ──kdf──► shared secret ──► decrypt(pinHashEnc / newPinEnc)
//!  (COSE, alg -25)                                   └─► verify(pinUvAuthParam)
//!                                                    └─► encrypt(pinUvAuthToken) ──► platform
//! ```
//!
//! | | protocol one | protocol two |
//! |---|---|---|
//! | kdf(Z) | SHA-256(Z) | HKDF-SHA-256(salt 0³², "CTAP2 HMAC key") ‖ HKDF(…, "CTAP2 AES key") |
//! | encrypt | AES-256-CBC, IV = 0 | random IV ‖ AES-256-CBC under the AES half |
//! | authenticate | LEFT(HMAC-SHA-256, 16) | HMAC-SHA-256 under the HMAC half |
//!
//! The key-agreement key and the token live only in memory and are regenerated
//! at every power-up ([`PinRuntime::new`]).

pub mod complexity;
pub mod persistent;
pub mod state;
pub mod token;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use ciborium::Value;
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::cbor::{self, IntMap};
use crate::status::StatusCode;

pub use state::{AuthenticatorSettings, PinState};
pub use token::{Permissions, PinUvAuthToken};

const BLOCK: usize = 16;

/// A PIN/UV auth protocol (getInfo `pinUvAuthProtocols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// PIN/UV auth protocol one (CTAP 2.1 §6.5.6).
    One,
    /// PIN/UV auth protocol two (CTAP 2.1 §6.5.7).
    Two,
}

impl Protocol {
    /// The protocols supported, in getInfo's order of preference.
    pub const ALL: [Protocol; 2] = [Protocol::Two, Protocol::One];

    /// The protocol for its number; unsupported → `CTAP1_ERR_INVALID_PARAMETER`.
    pub fn from_number(number: u64) -> Result<Self, StatusCode> {
        match number {
            1 => Ok(Self::One),
            2 => Ok(Self::Two),
            _ => Err(StatusCode::InvalidParameter),
        }
    }

    /// The protocol's number.
    pub fn number(self) -> u64 {
        match self {
            Self::One => 1,
            Self::Two => 2,
        }
    }

    /// Length of a pinUvAuthParam this protocol produces.
    pub fn param_len(self) -> usize {
        match self {
            Self::One => 16,
            Self::Two => 32,
        }
    }

    /// authenticate(key, message): the MAC this protocol produces. `key` is a
    /// pinUvAuthToken or (in protocol two) the HMAC half of a shared secret.
    pub fn authenticate(self, key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        mac.update(message);
        let mut tag = Zeroizing::new(mac.finalize().into_bytes().to_vec());
        tag.truncate(self.param_len());
        tag
    }

    /// verify(key, message, signature) in constant time; a signature of the
    /// wrong length never verifies.
    pub fn verify(self, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.param_len() {
            return false;
        }
        let expected = self.authenticate(key, message);
        expected.as_slice().ct_eq(signature).into()
    }
}

/// The authenticator's key-agreement key pair (P-256), fresh per power-up.
pub struct KeyAgreementKey(p256::SecretKey);

impl std::fmt::Debug for KeyAgreementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAgreementKey").finish_non_exhaustive()
    }
}

impl KeyAgreementKey {
    /// A fresh key pair.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(p256::SecretKey::generate_from_rng(rng))
    }

    /// A key pair from a fixed scalar (test vectors).
    pub fn from_scalar(bytes: &[u8]) -> Option<Self> {
        p256::SecretKey::from_slice(bytes).ok().map(Self)
    }

    /// The public key as getKeyAgreement returns it: a COSE_Key with
    /// alg -25 (ECDH-ES + HKDF-256), whichever protocol is used.
    pub fn cose_public_key(&self) -> Value {
        let point = self.0.public_key().to_sec1_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| cbor::bytes(c.map(|c| c.as_slice()).unwrap_or(&[]));
        Value::Map(vec![
            (cbor::int(1), cbor::int(2)),   // kty: EC2
            (cbor::int(3), cbor::int(-25)), // alg: ECDH-ES + HKDF-256
            (cbor::int(-1), cbor::int(1)),  // crv: P-256
            (cbor::int(-2), coordinate(point.x())),
            (cbor::int(-3), coordinate(point.y())),
        ])
    }

    /// decapsulate(peerCoseKey): ECDH with the platform's key, then the
    /// protocol's KDF. A malformed or off-curve key → `CTAP1_ERR_INVALID_PARAMETER`.
    pub fn shared_secret(
        &self,
        protocol: Protocol,
        platform_key: Value,
    ) -> Result<SharedSecret, StatusCode> {
        let public = parse_platform_key(platform_key)?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), public.as_affine());
        Ok(SharedSecret::derive(protocol, shared.raw_secret_bytes()))
    }
}

/// Parses the platform's COSE_Key: EC2 on P-256 with x and y.
fn parse_platform_key(value: Value) -> Result<p256::PublicKey, StatusCode> {
    let mut map = IntMap::new(value)?;
    let kty = cbor::as_i64(&map.require(1)?)?;
    let x = cbor::into_bytes(map.require(-2)?)?;
    let y = cbor::into_bytes(map.require(-3)?)?;
    if let Some(crv) = map.take(-1)
        && cbor::as_i64(&crv)? != 1
    {
        return Err(StatusCode::InvalidParameter);
    }
    if kty != 2 || x.len() != 32 || y.len() != 32 {
        return Err(StatusCode::InvalidParameter);
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| StatusCode::InvalidParameter)
}

/// The secret shared with the platform for one clientPIN exchange.
pub struct SharedSecret {
    protocol: Protocol,
    /// Protocol one: the 32-byte key. Protocol two: HMAC key ‖ AES key.
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl SharedSecret {
    /// kdf(Z) of the protocol.
    pub fn derive(protocol: Protocol, z: &[u8]) -> Self {
        let key = match protocol {
            Protocol::One => Zeroizing::new(Sha256::digest(z).to_vec()),
            Protocol::Two => {
                let hkdf = Hkdf::<Sha256>::new(Some(&[0u8; 32]), z);
                let mut key = Zeroizing::new(vec![0u8; 64]);
                let (hmac_key, aes_key) = key.split_at_mut(32);
                hkdf.expand(b"CTAP2 HMAC key", hmac_key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                hkdf.expand(b"CTAP2 AES key", aes_key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                key
            }
        };
        Self { protocol, key }
    }

    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The whole secret (32 bytes in protocol one, 64 in protocol two).
    pub fn expose_secret(&self) -> &[u8] {
        &self.key
    }

    fn hmac_key(&self) -> &[u8] {
        &self.key[..32]
    }

    fn aes_key(&self) -> &[u8; 32] {
        let half = match self.protocol {
            Protocol::One => &self.key[..32],
            Protocol::Two => &self.key[32..],
        };
        half.try_into().expect("the AES key is 32 bytes")
    }

    /// encrypt(key, plaintext); `plaintext` is a whole number of blocks.
    pub fn encrypt<R: rand_core::CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut iv = [0u8; BLOCK];
        if self.protocol == Protocol::Two {
            rng.fill_bytes(&mut iv);
        }
        self.encrypt_with_iv(&iv, plaintext)
    }

    /// encrypt with a given IV (protocol two's known-answer tests).
    pub fn encrypt_with_iv(&self, iv: &[u8; BLOCK], plaintext: &[u8]) -> Vec<u8> {
        debug_assert_eq!(plaintext.len() % BLOCK, 0, "whole blocks only");
        let mut buffer = Zeroizing::new(plaintext.to_vec());
        let mut encryptor = cbc::Encryptor::<aes::Aes256>::new(self.aes_key().into(), iv.into());
        for chunk in buffer.chunks_exact_mut(BLOCK) {
            let block: &mut aes::Block = chunk.try_into().expect("a chunk is one block");
            encryptor.encrypt_block(block);
        }
        let mut out = Vec::with_capacity(BLOCK + buffer.len());
        if self.protocol == Protocol::Two {
            out.extend_from_slice(iv);
        }
        out.extend_from_slice(&buffer);
        out
    }

    /// decrypt(key, ciphertext); `None` when the length is not whole blocks
    /// (after protocol two's IV).
    pub fn decrypt(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (iv, body) = match self.protocol {
            Protocol::One => ([0u8; BLOCK], ciphertext),
            Protocol::Two => {
                if ciphertext.len() < BLOCK {
                    return None;
                }
                let (iv, body) = ciphertext.split_at(BLOCK);
                (iv.try_into().ok()?, body)
            }
        };
        if body.is_empty() || body.len() % BLOCK != 0 {
            return None;
        }
        let mut buffer = Zeroizing::new(body.to_vec());
        let mut decryptor = cbc::Decryptor::<aes::Aes256>::new(self.aes_key().into(), (&iv).into());
        for chunk in buffer.chunks_exact_mut(BLOCK) {
            let block: &mut aes::Block = chunk.try_into().ok()?;
            decryptor.decrypt_block(block);
        }
        Some(buffer)
    }

    /// authenticate(sharedSecret, message).
    pub fn authenticate(&self, message: &[u8]) -> Zeroizing<Vec<u8>> {
        self.protocol.authenticate(self.hmac_key(), message)
    }

    /// verify(sharedSecret, message, signature).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.protocol.verify(self.hmac_key(), message, signature)
    }
}

/// Volatile PIN/UV state: lost at power-off, as the spec wants.
pub struct PinRuntime {
    /// The key-agreement key pair.
    pub key_agreement: KeyAgreementKey,
    /// The pinUvAuthToken and its state.
    pub token: PinUvAuthToken,
    /// Consecutive wrong PINs since power-up (3 → PIN_AUTH_BLOCKED).
    pub consecutive_pin_mismatches: u8,
    /// Consecutive failed built-in verifications since power-up.
    pub consecutive_uv_failures: u8,
}

impl std::fmt::Debug for PinRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinRuntime")
            .field(
                "consecutive_pin_mismatches",
                &self.consecutive_pin_mismatches,
            )
            .finish_non_exhaustive()
    }
}

impl PinRuntime {
    /// Power-up: a fresh key-agreement key and token (CTAP 2.1 §6.5.5.1 initialize).
    pub fn new<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            key_agreement: KeyAgreementKey::generate(rng),
            token: PinUvAuthToken::new(rng),
            consecutive_pin_mismatches: 0,
            consecutive_uv_failures: 0,
        }
    }

    /// regenerate(): a new key-agreement key pair.
    pub fn regenerate_key_agreement<R: rand_core::CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.key_agreement = KeyAgreementKey::generate(rng);
    }
}

/// LEFT(SHA-256(pin), 16): the only form in which a PIN is kept.
pub fn pin_hash(pin: &[u8]) -> Zeroizing<[u8; 16]> {
    let digest = Zeroizing::new(Sha256::digest(pin));
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&digest[..16]);
    out
}

#[cfg(test)]
mod tests;
