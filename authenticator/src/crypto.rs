//! Credential key pairs: ES256 (P-256) and EdDSA (Ed25519), COSE public keys.

use ciborium::Value;
use p256::ecdsa::signature::Signer as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cbor;
use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// A COSE signature algorithm softkey can create credentials for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA with SHA-256 on P-256 (COSE -7).
    Es256,
    /// EdDSA on Ed25519 (COSE -8).
    EdDsa,
}

impl Algorithm {
    /// The supported algorithms, in the order getInfo lists them.
    pub const ALL: [Algorithm; 2] = [Algorithm::Es256, Algorithm::EdDsa];

    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::EdDsa => -8,
        }
    }

    /// The algorithm for a COSE identifier, if supported.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            -7 => Some(Self::Es256),
            -8 => Some(Self::EdDsa),
            _ => None,
        }
    }
}

/// A credential private key, kept as its 32 secret bytes (P-256 scalar or Ed25519 seed).
#[derive(Debug)]
pub struct PrivateKey {
    algorithm: Algorithm,
    bytes: SecretBytes,
    /// The expanded Ed25519 key (with its public point) when this key was just
    /// generated, so that makeCredential derives the public point once, not
    /// three times (keygen, attestation signature, COSE key). Keys rebuilt
    /// from storage derive it per use. Zeroized on drop by ed25519-dalek.
    ed25519: Option<ed25519_dalek::SigningKey>,
}

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(algorithm: Algorithm, rng: &mut R) -> Self {
        let mut ed25519 = None;
        let bytes = match algorithm {
            Algorithm::Es256 => loop {
                // A uniformly random 256-bit string is a valid scalar with
                // probability 1 - 2^-32; draw again in the rare other case.
                let mut candidate = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(candidate.as_mut());
                if is_p256_scalar(candidate.as_ref()) {
                    break SecretBytes::from_slice(candidate.as_ref());
                }
            },
            Algorithm::EdDsa => {
                let key = ed25519_dalek::SigningKey::generate(rng);
                let bytes = SecretBytes::new(key.to_bytes().to_vec());
                ed25519 = Some(key);
                bytes
            }
        };
        Self {
            algorithm,
            bytes,
            ed25519,
        }
    }

    /// Rebuilds a key from its stored bytes; `None` if they are not a valid key.
    pub fn from_bytes(algorithm: Algorithm, bytes: SecretBytes) -> Option<Self> {
        let valid = match algorithm {
            Algorithm::Es256 => is_p256_scalar(bytes.expose_secret()),
            Algorithm::EdDsa => bytes.len() == 32,
        };
        valid.then_some(Self {
            algorithm,
            bytes,
            ed25519: None,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The secret bytes, for sealing into storage.
    pub fn secret_bytes(&self) -> &SecretBytes {
        &self.bytes
    }

    /// Signs `message`: ES256 as an ASN.1 DER signature over SHA-256(message),
    /// EdDSA as the 64-byte Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StatusCode> {
        match self.algorithm {
            Algorithm::Es256 => {
                // Sign with the scalar alone: `SigningKey::from_slice` would also
                // compute the public point, a second scalar multiplication that
                // doubles the cost of a signature. Same RFC 6979 nonce and
                // output as `SigningKey::sign` (tested below).
                let scalar = Zeroizing::new(
                    p256::NonZeroScalar::try_from(self.bytes.expose_secret())
                        .map_err(|_| StatusCode::Other)?,
                );
                let (signature, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p256::NistP256, Sha256>(
                    &scalar,
                    &sha256(message),
                    &[],
                );
                Ok(signature.to_der().to_bytes().to_vec())
            }
            Algorithm::EdDsa => self.with_ed25519_key(|key| key.sign(message).to_bytes().to_vec()),
        }
    }

    fn with_ed25519_key<T>(
        &self,
        f: impl FnOnce(&ed25519_dalek::SigningKey) -> T,
    ) -> Result<T, StatusCode> {
        match &self.ed25519 {
            Some(key) => Ok(f(key)),
            None => Ok(f(&self.ed25519_key()?)),
        }
    }

    fn ed25519_key(&self) -> Result<ed25519_dalek::SigningKey, StatusCode> {
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            self.bytes
                .expose_secret()
                .try_into()
                .map_err(|_| StatusCode::Other)?,
        );
        Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The P-256 public key as an uncompressed SEC1 point (65 bytes), as U2F
    /// sends it; an error for other algorithms.
    pub fn sec1_public_key(&self) -> Result<Vec<u8>, StatusCode> {
        match self.algorithm {
            Algorithm::Es256 => {
                let key = p256::ecdsa::SigningKey::from_slice(self.bytes.expose_secret())
                    .map_err(|_| StatusCode::Other)?;
                Ok(key.verifying_key().to_sec1_point(false).as_bytes().to_vec())
            }
            Algorithm::EdDsa => Err(StatusCode::Other),
        }
    }

    /// The public key as a COSE_Key map (RFC 9053 §7: EC2 for ES256, OKP for EdDSA).
    pub fn cose_public_key(&self) -> Result<Value, StatusCode> {
        match self.algorithm {
            Algorithm::Es256 => {
                let key = p256::ecdsa::SigningKey::from_slice(self.bytes.expose_secret())
                    .map_err(|_| StatusCode::Other)?;
                let point = key.verifying_key().to_sec1_point(false);
                let x = point.x().ok_or(StatusCode::Other)?;
                let y = point.y().ok_or(StatusCode::Other)?;
                Ok(Value::Map(vec![
                    (cbor::int(1), cbor::int(2)),  // kty: EC2
                    (cbor::int(3), cbor::int(-7)), // alg: ES256
                    (cbor::int(-1), cbor::int(1)), // crv: P-256
                    (cbor::int(-2), cbor::bytes(x)),
                    (cbor::int(-3), cbor::bytes(y)),
                ]))
            }
            Algorithm::EdDsa => {
                let public = self.with_ed25519_key(|key| *key.verifying_key().as_bytes())?;
                Ok(Value::Map(vec![
                    (cbor::int(1), cbor::int(1)),  // kty: OKP
                    (cbor::int(3), cbor::int(-8)), // alg: EdDSA
                    (cbor::int(-1), cbor::int(6)), // crv: Ed25519
                    (cbor::int(-2), cbor::bytes(&public)),
                ]))
            }
        }
    }
}

/// Whether `bytes` is a valid P-256 private key: 32 bytes, a scalar in [1, n).
/// A range check only; `SigningKey::from_slice` would also compute the public
/// point (a scalar multiplication) that signing does not need.
fn is_p256_scalar(bytes: &[u8]) -> bool {
    p256::NonZeroScalar::try_from(bytes).is_ok()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    fn rng() -> rand::rngs::StdRng {
        use rand::SeedableRng;
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn es256_signature_verifies_against_cose_key() {
        let key = PrivateKey::generate(Algorithm::Es256, &mut rng());
        let signature = key.sign(b"message").unwrap();
        let cose = key.cose_public_key().unwrap();
        let Value::Map(entries) = cose else { panic!() };
        let x = entries[3].1.as_bytes().unwrap();
        let y = entries[4].1.as_bytes().unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let parsed = p256::ecdsa::Signature::from_der(&signature).unwrap();
        verifying.verify(b"message", &parsed).unwrap();
        assert!(verifying.verify(b"messagE", &parsed).is_err());
    }

    #[test]
    fn eddsa_signature_verifies_against_cose_key() {
        let key = PrivateKey::generate(Algorithm::EdDsa, &mut rng());
        let signature = key.sign(b"message").unwrap();
        let Value::Map(entries) = key.cose_public_key().unwrap() else {
            panic!()
        };
        let public: [u8; 32] = entries[3]
            .1
            .as_bytes()
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap();
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
        verifying.verify_strict(b"message", &signature).unwrap();
    }

    #[test]
    fn es256_signature_equals_signing_key_signature() {
        // Signing with the bare scalar must be exactly RFC 6979 ECDSA as the
        // `p256` signing key does it (deterministic: byte-for-byte equal).
        let key = PrivateKey::generate(Algorithm::Es256, &mut rng());
        let reference =
            p256::ecdsa::SigningKey::from_slice(key.secret_bytes().expose_secret()).unwrap();
        for message in [&b""[..], b"message", &[0x5a; 69]] {
            let expected: p256::ecdsa::Signature = reference.sign(message);
            assert_eq!(
                key.sign(message).unwrap(),
                expected.to_der().to_bytes().to_vec()
            );
        }
    }

    #[test]
    fn generated_eddsa_key_matches_its_stored_form() {
        // A fresh key keeps its expanded form; one rebuilt from storage derives
        // it again. Both must sign and describe themselves identically.
        let fresh = PrivateKey::generate(Algorithm::EdDsa, &mut rng());
        let stored =
            PrivateKey::from_bytes(Algorithm::EdDsa, fresh.secret_bytes().duplicate()).unwrap();
        assert_eq!(
            fresh.sign(b"message").unwrap(),
            stored.sign(b"message").unwrap()
        );
        assert_eq!(
            fresh.cose_public_key().unwrap(),
            stored.cose_public_key().unwrap()
        );
    }

    #[test]
    fn invalid_p256_scalar_is_rejected() {
        assert!(
            PrivateKey::from_bytes(Algorithm::Es256, SecretBytes::from_slice(&[0; 32])).is_none()
        );
        assert!(
            PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&[0; 31])).is_none()
        );
    }
}
