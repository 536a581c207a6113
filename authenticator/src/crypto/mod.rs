//! Credential key pairs, one implementation per COSE algorithm, and their
//! COSE public keys (RFC 9052 §7, RFC 9053, RFC 8230, RFC 8812,
//! draft-ietf-cose-dilithium):
//!
//! | algorithm | COSE | key | signature |
//! |---|---|---|---|
//! | ES256, ESP256 | -7, -9 | P-256 scalar | DER ECDSA, SHA-256 |
//! | ES384, ESP384 | -35, -51 | P-384 scalar | DER ECDSA, SHA-384 |
//! | ES512, ESP512 | -36, -52 | P-521 scalar | DER ECDSA, SHA-512 |
//! | ES256K | -47 | secp256k1 scalar | DER ECDSA, SHA-256, low-S |
//! | EdDSA, Ed25519 | -8, -19 | Ed25519 seed (+ public key) | 64 bytes |
//! | RS256, PS256 | -257, -37 | RSA-2048 `p ‖ q ‖ d ‖ qInv` | 256 bytes |
//! | ML-DSA-44/65/87 | -48, -49, -50 | 32-byte seed ξ | 2420/3309/4627 bytes |
//!
//! The fully-specified identifiers of RFC 9864 (ESP256, ESP384, ESP512,
//! Ed25519) name the same keys and signatures as their polymorphic twins; a
//! credential remembers which one the platform asked for, and its COSE key
//! and attestation carry that identifier.

use ciborium::Value;
use sha2::{Digest, Sha256};

use crate::cbor;
use crate::secret::SecretBytes;
use crate::status::StatusCode;

mod algorithm;
mod ec;
mod ed25519;
mod ml_dsa;
mod rsa;

pub use algorithm::Algorithm;
use algorithm::KeyKind;

/// The expanded forms kept beside the stored secret, so that repeated use
/// within one request does not rebuild them.
enum Ready {
    /// Nothing to keep (ECDSA signs with the bare scalar).
    Nothing,
    /// A freshly generated Ed25519 key, with its public key.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// An RSA key, checked and with its CRT values.
    Rsa(Box<rsa::Key>),
    /// An ML-DSA seed, expanded.
    MlDsa(ml_dsa::Expanded),
}

/// A credential private key: its stored secret (see the module table), the
/// public key where signing needs it and deriving it is costly (Ed25519), and
/// any expanded form already built. Zeroized on drop; `Debug` shows only the
/// algorithm.
pub struct PrivateKey {
    algorithm: Algorithm,
    secret: SecretBytes,
    /// The Ed25519 public key, from the same sealed record as `secret`.
    public: Option<[u8; 32]>,
    ready: Ready,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a fresh key. RSA takes long (see [`Algorithm::slow_keygen`]).
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(algorithm: Algorithm, rng: &mut R) -> Self {
        let (secret, public, ready) = match algorithm.kind() {
            KeyKind::P256 => (ec::p256::generate(rng), None, Ready::Nothing),
            KeyKind::P384 => (ec::p384::generate(rng), None, Ready::Nothing),
            KeyKind::P521 => (ec::p521::generate(rng), None, Ready::Nothing),
            KeyKind::Secp256k1 => (ec::k256::generate(rng), None, Ready::Nothing),
            KeyKind::Ed25519 => {
                let (seed, key) = ed25519::generate(rng);
                let public = key.verifying_key().to_bytes();
                (seed, Some(public), Ready::Ed25519(key))
            }
            KeyKind::Rsa(_) => {
                let (secret, key) = rsa::generate(rng);
                (secret, None, Ready::Rsa(key))
            }
            KeyKind::MlDsa(level) => {
                let (seed, expanded) = ml_dsa::generate(level, rng);
                (seed, None, Ready::MlDsa(expanded))
            }
        };
        Self {
            algorithm,
            secret,
            public,
            ready,
        }
    }

    /// Rebuilds a key from its stored secret alone; `None` if the bytes are
    /// not a valid key. An Ed25519 public key is derived here (once): keys
    /// imported from outside, and records written before the public key was
    /// kept with them.
    pub fn from_bytes(algorithm: Algorithm, secret: SecretBytes) -> Option<Self> {
        Self::from_stored(algorithm, secret, None)
    }

    /// Rebuilds a key from its sealed record: the secret and, for Ed25519, the
    /// public key stored with it (derived when absent). Only for bytes that
    /// come out of this authenticator's own AEAD: a foreign public key would
    /// make Ed25519 signatures leak the secret.
    pub(crate) fn from_stored(
        algorithm: Algorithm,
        secret: SecretBytes,
        stored_public: Option<&[u8]>,
    ) -> Option<Self> {
        let bytes = secret.expose_secret();
        let mut public = None;
        let mut upgraded = None;
        let ready = match algorithm.kind() {
            KeyKind::P256 => ec::p256::is_valid(bytes).then_some(Ready::Nothing)?,
            KeyKind::P384 => ec::p384::is_valid(bytes).then_some(Ready::Nothing)?,
            KeyKind::P521 => ec::p521::is_valid(bytes).then_some(Ready::Nothing)?,
            KeyKind::Secp256k1 => ec::k256::is_valid(bytes).then_some(Ready::Nothing)?,
            KeyKind::Ed25519 => {
                public = Some(match stored_public {
                    Some(stored) => stored.try_into().ok()?,
                    None => ed25519::public_from_seed(bytes).ok()?,
                });
                Ready::Nothing
            }
            KeyKind::Rsa(_) => {
                let (key, current) = rsa::decode(bytes)?;
                // A key stored before qInv was kept: written back in the
                // current form the next time the record is stored.
                if !current {
                    upgraded = Some(rsa::encode(&key).ok()?);
                }
                Ready::Rsa(key)
            }
            // Expanded on first use: a credential read only to be listed or
            // skipped costs nothing.
            KeyKind::MlDsa(_) => (bytes.len() == ml_dsa::SEED_LEN).then_some(Ready::Nothing)?,
        };
        Some(Self {
            algorithm,
            secret: upgraded.unwrap_or(secret),
            public,
            ready,
        })
    }

    /// An explicit deep copy (secrets are not `Clone`); expanded forms are
    /// copied, not rebuilt.
    pub fn duplicate(&self) -> Self {
        Self {
            algorithm: self.algorithm,
            secret: self.secret.duplicate(),
            public: self.public,
            ready: match &self.ready {
                Ready::Nothing => Ready::Nothing,
                Ready::Ed25519(key) => Ready::Ed25519(key.clone()),
                Ready::Rsa(key) => Ready::Rsa(Box::new(key.duplicate())),
                Ready::MlDsa(key) => Ready::MlDsa(key.duplicate()),
            },
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The stored secret (see the module table), for sealing into storage.
    pub fn secret_bytes(&self) -> &SecretBytes {
        &self.secret
    }

    /// The public key stored beside the secret: Ed25519's 32 bytes (see
    /// [`from_stored`](Self::from_stored)); `None` for other algorithms.
    pub fn stored_public_key(&self) -> Option<&[u8]> {
        self.public.as_ref().map(<[u8; 32]>::as_slice)
    }

    /// Signs `message` as WebAuthn expects for the algorithm (§6.5.6): ECDSA
    /// as ASN.1 DER over the algorithm's hash with an RFC 6979 nonce; EdDSA
    /// as 64 raw bytes; RSA over SHA-256 (blinded with `rng`; PSS salt from
    /// `rng`); ML-DSA hedged with randomness from `rng`.
    pub fn sign<R: rand_core::CryptoRng + ?Sized>(
        &self,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, StatusCode> {
        let secret = self.secret.expose_secret();
        match (self.algorithm.kind(), &self.ready) {
            (KeyKind::P256, _) => ec::p256::sign(secret, message),
            (KeyKind::P384, _) => ec::p384::sign(secret, message),
            (KeyKind::P521, _) => ec::p521::sign(secret, message),
            (KeyKind::Secp256k1, _) => ec::k256::sign(secret, message),
            (KeyKind::Ed25519, Ready::Ed25519(key)) => {
                use ed25519_dalek::Signer as _;
                Ok(key.sign(message).to_bytes().to_vec())
            }
            (KeyKind::Ed25519, _) => {
                let public = self.public.as_ref().ok_or(StatusCode::Other)?;
                ed25519::sign_with_public(secret, public, message)
            }
            (KeyKind::Rsa(padding), Ready::Rsa(key)) => rsa::sign(key, padding, message, rng),
            (KeyKind::MlDsa(_), Ready::MlDsa(key)) => key.sign(message, rng),
            (KeyKind::MlDsa(level), _) => ml_dsa::expand(level, secret)
                .ok_or(StatusCode::Other)?
                .sign(message, rng),
            (KeyKind::Rsa(_), _) => Err(StatusCode::Other),
        }
    }

    /// The P-256 public key as an uncompressed SEC1 point (65 bytes), as U2F
    /// sends it; an error for other key types.
    pub fn sec1_public_key(&self) -> Result<Vec<u8>, StatusCode> {
        if self.algorithm.kind() != KeyKind::P256 {
            return Err(StatusCode::Other);
        }
        let (x, y) = ec::p256::public_xy(self.secret.expose_secret())?;
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }

    /// The public key as a COSE_Key map: EC2 (RFC 9053 §7.1), OKP (§7.2), RSA
    /// (RFC 8230 §4) or AKP (draft-ietf-cose-dilithium), with this
    /// credential's algorithm identifier.
    pub fn cose_public_key(&self) -> Result<Value, StatusCode> {
        let alg = cbor::int(self.algorithm.cose_id());
        let secret = self.secret.expose_secret();
        let ec2 = |crv: i64, (x, y): (Vec<u8>, Vec<u8>)| {
            Value::Map(vec![
                (cbor::int(1), cbor::int(2)), // kty: EC2
                (cbor::int(3), alg.clone()),
                (cbor::int(-1), cbor::int(crv)),
                (cbor::int(-2), Value::Bytes(x)),
                (cbor::int(-3), Value::Bytes(y)),
            ])
        };
        Ok(match (self.algorithm.kind(), &self.ready) {
            (KeyKind::P256, _) => ec2(1, ec::p256::public_xy(secret)?),
            (KeyKind::P384, _) => ec2(2, ec::p384::public_xy(secret)?),
            (KeyKind::P521, _) => ec2(3, ec::p521::public_xy(secret)?),
            (KeyKind::Secp256k1, _) => ec2(8, ec::k256::public_xy(secret)?),
            (KeyKind::Ed25519, _) => {
                let public = match (&self.ready, &self.public) {
                    (_, Some(public)) => *public,
                    (Ready::Ed25519(key), None) => key.verifying_key().to_bytes(),
                    _ => ed25519::public_from_seed(secret)?,
                };
                Value::Map(vec![
                    (cbor::int(1), cbor::int(1)), // kty: OKP
                    (cbor::int(3), alg),
                    (cbor::int(-1), cbor::int(6)), // crv: Ed25519
                    (cbor::int(-2), cbor::bytes(&public)),
                ])
            }
            (KeyKind::Rsa(_), Ready::Rsa(key)) => Value::Map(vec![
                (cbor::int(1), cbor::int(3)), // kty: RSA
                (cbor::int(3), alg),
                (cbor::int(-1), Value::Bytes(rsa::modulus(key)?)),
                (cbor::int(-2), cbor::bytes(&rsa::PUBLIC_EXPONENT)),
            ]),
            (KeyKind::Rsa(_), _) => return Err(StatusCode::Other),
            (KeyKind::MlDsa(level), ready) => {
                let public = match ready {
                    Ready::MlDsa(key) => key.public_key(),
                    _ => ml_dsa::expand(level, secret)
                        .ok_or(StatusCode::Other)?
                        .public_key(),
                };
                Value::Map(vec![
                    (cbor::int(1), cbor::int(7)), // kty: AKP
                    (cbor::int(3), alg),
                    (cbor::int(-1), Value::Bytes(public)),
                ])
            }
        })
    }
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer as _, Verifier as _};

    fn rng() -> rand::rngs::StdRng {
        use rand::SeedableRng;
        rand::rngs::StdRng::seed_from_u64(7)
    }

    fn entry(key: &Value, label: i64) -> &Value {
        let Value::Map(entries) = key else {
            panic!("not a map")
        };
        &entries
            .iter()
            .find(|(k, _)| *k == cbor::int(label))
            .expect("label present")
            .1
    }

    fn bytes_at(key: &Value, label: i64) -> Vec<u8> {
        entry(key, label).as_bytes().expect("bytes").clone()
    }

    fn sec1(key: &Value) -> Vec<u8> {
        let mut point = vec![4u8];
        point.extend_from_slice(&bytes_at(key, -2));
        point.extend_from_slice(&bytes_at(key, -3));
        point
    }

    /// Signs with a fresh key and with the same key rebuilt from its stored
    /// form, and checks each signature with an independent verifier built from
    /// the COSE key (its `alg` and key type checked too).
    fn check_round_trip(algorithm: Algorithm, verify: impl Fn(&Value, &[u8], &[u8]) -> bool) {
        let mut rng = rng();
        let fresh = PrivateKey::generate(algorithm, &mut rng);
        let stored = PrivateKey::from_stored(
            algorithm,
            fresh.secret_bytes().duplicate(),
            fresh.stored_public_key(),
        )
        .expect("stored form opens");
        assert_eq!(fresh.secret_bytes().len(), algorithm.stored_secret_len());
        let cose = fresh.cose_public_key().unwrap();
        assert_eq!(cose, stored.cose_public_key().unwrap());
        assert_eq!(entry(&cose, 3), &cbor::int(algorithm.cose_id()));
        assert_eq!(
            cbor::encode(cose.clone()).len(),
            algorithm.cose_public_key_len()
        );
        for key in [&fresh, &stored] {
            let signature = key.sign(b"message", &mut rng).unwrap();
            assert!(signature.len() <= algorithm.max_signature_len());
            assert!(
                verify(&cose, b"message", &signature),
                "{algorithm} verifies"
            );
            assert!(
                !verify(&cose, b"messagE", &signature),
                "{algorithm} binds the message"
            );
        }
    }

    #[test]
    fn es256_signature_verifies_against_cose_key() {
        for algorithm in [Algorithm::Es256, Algorithm::Esp256] {
            check_round_trip(algorithm, |cose, message, signature| {
                assert_eq!(entry(cose, -1), &cbor::int(1));
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(cose)).unwrap();
                let signature = p256::ecdsa::Signature::from_der(signature).unwrap();
                key.verify(message, &signature).is_ok()
            });
        }
    }

    #[test]
    fn es384_signature_verifies_against_cose_key() {
        for algorithm in [Algorithm::Es384, Algorithm::Esp384] {
            check_round_trip(algorithm, |cose, message, signature| {
                assert_eq!(entry(cose, -1), &cbor::int(2));
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(cose)).unwrap();
                let signature = p384::ecdsa::Signature::from_der(signature).unwrap();
                key.verify(message, &signature).is_ok()
            });
        }
    }

    #[test]
    fn es512_signature_verifies_against_cose_key() {
        for algorithm in [Algorithm::Es512, Algorithm::Esp512] {
            check_round_trip(algorithm, |cose, message, signature| {
                assert_eq!(entry(cose, -1), &cbor::int(3));
                assert_eq!(bytes_at(cose, -2).len(), 66);
                let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(cose)).unwrap();
                let signature = p521::ecdsa::Signature::from_der(signature).unwrap();
                key.verify(message, &signature).is_ok()
            });
        }
    }

    #[test]
    fn es256k_signature_is_low_s_and_verifies() {
        check_round_trip(Algorithm::Es256K, |cose, message, signature| {
            assert_eq!(entry(cose, -1), &cbor::int(8));
            let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(cose)).unwrap();
            let signature = k256::ecdsa::Signature::from_der(signature).unwrap();
            assert!(signature.normalize_s() == signature, "low-S");
            key.verify(message, &signature).is_ok()
        });
    }

    #[test]
    fn eddsa_signature_verifies_against_cose_key() {
        for algorithm in [Algorithm::EdDsa, Algorithm::Ed25519] {
            check_round_trip(algorithm, |cose, message, signature| {
                assert_eq!(entry(cose, 1), &cbor::int(1));
                assert_eq!(entry(cose, -1), &cbor::int(6));
                let public: [u8; 32] = bytes_at(cose, -2).try_into().unwrap();
                let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
                let signature = ed25519_dalek::Signature::from_slice(signature).unwrap();
                key.verify_strict(message, &signature).is_ok()
            });
        }
    }

    fn rsa_public(cose: &Value) -> ::rsa::PublicKey {
        assert_eq!(entry(cose, 1), &cbor::int(3));
        assert_eq!(bytes_at(cose, -2), vec![1, 0, 1]);
        let n = bytes_at(cose, -1);
        assert_eq!(n.len(), 256);
        ::rsa::PublicKey::new(
            ::rsa::BoxedUint::from_be_slice_vartime(&n),
            ::rsa::BoxedUint::from_be_slice_vartime(&[1, 0, 1]),
        )
        .unwrap()
    }

    #[test]
    fn rs256_and_ps256_signatures_verify_against_cose_key() {
        check_round_trip(Algorithm::Rs256, |cose, message, signature| {
            let key = ::rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(rsa_public(cose));
            let signature = ::rsa::pkcs1v15::Signature::try_from(signature).unwrap();
            key.verify(message, &signature).is_ok()
        });
        check_round_trip(Algorithm::Ps256, |cose, message, signature| {
            let key = ::rsa::pss::VerifyingKey::<sha2::Sha256>::new(rsa_public(cose));
            let signature = ::rsa::pss::Signature::try_from(signature).unwrap();
            key.verify(message, &signature).is_ok()
        });
    }

    #[test]
    fn ml_dsa_signatures_verify_against_cose_key() {
        fn check<P: ::ml_dsa::MlDsaParams>(algorithm: Algorithm) {
            check_round_trip(algorithm, |cose, message, signature| {
                assert_eq!(entry(cose, 1), &cbor::int(7));
                let public = bytes_at(cose, -1);
                let encoded = ::ml_dsa::EncodedVerifyingKey::<P>::try_from(public.as_slice())
                    .expect("public key length");
                let key = ::ml_dsa::VerifyingKey::<P>::decode(&encoded);
                let signature = ::ml_dsa::Signature::<P>::try_from(signature).unwrap();
                key.verify_with_context(message, &[], &signature)
            });
        }
        check::<::ml_dsa::MlDsa44>(Algorithm::MlDsa44);
        check::<::ml_dsa::MlDsa65>(Algorithm::MlDsa65);
        check::<::ml_dsa::MlDsa87>(Algorithm::MlDsa87);
    }

    #[test]
    fn ml_dsa_public_keys_match_an_independent_implementation() {
        // SHA-256 of the public key that seed ξ = 00 01 … 1f expands to, as
        // OpenSSL computes it (python cryptography 50,
        // MLDSA{44,65,87}PrivateKey.from_seed_bytes): FIPS 204 KeyGen_internal.
        let seed: Vec<u8> = (0u8..32).collect();
        for (algorithm, expected) in [
            (
                Algorithm::MlDsa44,
                "9f107644c1084526af3bc8098680b05499a2325a644e388fb4f970e058d19d46",
            ),
            (
                Algorithm::MlDsa65,
                "d666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9",
            ),
            (
                Algorithm::MlDsa87,
                "91dc389cfaa01470b7f66eee45a4ae9026d154817c754dfe22298b3fa241ffcd",
            ),
        ] {
            let key = PrivateKey::from_bytes(algorithm, SecretBytes::from_slice(&seed)).unwrap();
            let public = bytes_at(&key.cose_public_key().unwrap(), -1);
            assert_eq!(hex::encode(sha256(&public)), expected, "{algorithm}");
        }
    }

    #[test]
    fn ecdsa_matches_rfc6979_known_answers() {
        // RFC 6979 A.2.6 (P-384, SHA-384, "sample") and A.2.7 (P-521,
        // SHA-512, "sample"): the private keys and the (r, s) of the RFC.
        let p384 = PrivateKey::from_bytes(
            Algorithm::Es384,
            SecretBytes::from_slice(
                &hex::decode(
                    "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d8\
                 96d5724e4c70a825f872c9ea60d2edf5",
                )
                .unwrap(),
            ),
        )
        .unwrap();
        let signature =
            p384::ecdsa::Signature::from_der(&p384.sign(b"sample", &mut rng()).unwrap()).unwrap();
        assert_eq!(
            hex::encode(signature.to_bytes()),
            "94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c\
             81a648152e44acf96e36dd1e80fabe46\
             99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94f\
             a329c145786e679e7b82c71a38628ac8"
        );
        let p521 = PrivateKey::from_bytes(
            Algorithm::Es512,
            SecretBytes::from_slice(
                &hex::decode(
                    "00fad06daa62ba3b25d2fb40133da757205de67f5bb0018fee8c86e1b68c7e75\
                 caa896eb32f1f47c70855836a6d16fcc1466f6d8fbec67db89ec0c08b0e996b8\
                 3538",
                )
                .unwrap(),
            ),
        )
        .unwrap();
        let signature =
            p521::ecdsa::Signature::from_der(&p521.sign(b"sample", &mut rng()).unwrap()).unwrap();
        assert_eq!(
            hex::encode(signature.to_bytes()),
            "00c328fafcbd79dd77850370c46325d987cb525569fb63c5d3bc53950e6d4c5f\
             174e25a1ee9017b5d450606add152b534931d7d4e8455cc91f9b15bf05ec36e3\
             77fa\
             00617cce7cf5064806c467f678d3b4080d6f1cc50af26ca209417308281b68af\
             282623eaa63e5b5c0723d8b8c37ff0777b1a20f8ccb1dccc43997f1ee0e44da4\
             a67a"
        );
    }

    #[test]
    fn eddsa_with_stored_public_key_matches_rfc8032() {
        // RFC 8032 §7.1 TEST 1: secret key, public key, empty message, signature.
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let public =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap();
        let expected = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
        let stored = PrivateKey::from_stored(
            Algorithm::EdDsa,
            SecretBytes::from_slice(&seed),
            Some(&public),
        )
        .unwrap();
        assert_eq!(hex::encode(stored.sign(b"", &mut rng()).unwrap()), expected);
        // Without the stored public key (format 1 records) it is derived once.
        let derived =
            PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed)).unwrap();
        assert_eq!(derived.stored_public_key(), Some(public.as_slice()));
        assert_eq!(
            hex::encode(derived.sign(b"", &mut rng()).unwrap()),
            expected
        );
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
                key.sign(message, &mut rng()).unwrap(),
                expected.to_der().to_bytes().to_vec()
            );
        }
    }

    #[test]
    fn generated_eddsa_key_matches_its_stored_form() {
        // A fresh key keeps its expanded form; one rebuilt from storage signs
        // with the stored public key. Both must sign and describe themselves
        // identically.
        let fresh = PrivateKey::generate(Algorithm::EdDsa, &mut rng());
        let stored = PrivateKey::from_stored(
            Algorithm::EdDsa,
            fresh.secret_bytes().duplicate(),
            fresh.stored_public_key(),
        )
        .unwrap();
        assert_eq!(
            fresh.sign(b"message", &mut rng()).unwrap(),
            stored.sign(b"message", &mut rng()).unwrap()
        );
        assert_eq!(
            fresh.cose_public_key().unwrap(),
            stored.cose_public_key().unwrap()
        );
    }

    #[test]
    fn invalid_private_keys_are_rejected() {
        let reject = |algorithm, bytes: &[u8]| {
            PrivateKey::from_bytes(algorithm, SecretBytes::from_slice(bytes)).is_none()
        };
        assert!(reject(Algorithm::Es256, &[0; 32]));
        assert!(reject(Algorithm::Es384, &[0xff; 48]));
        assert!(reject(Algorithm::Es512, &[0xff; 66]));
        assert!(reject(Algorithm::Es512, &[1; 32]));
        assert!(reject(Algorithm::Es256K, &[0; 32]));
        assert!(reject(Algorithm::EdDsa, &[0; 31]));
        assert!(reject(Algorithm::MlDsa65, &[0; 64]));
        assert!(reject(Algorithm::Rs256, &[0x55; 512]));
        assert!(reject(Algorithm::Ps256, &[0; 100]));
        // A stored Ed25519 public key must be 32 bytes.
        assert!(
            PrivateKey::from_stored(
                Algorithm::EdDsa,
                SecretBytes::from_slice(&[1; 32]),
                Some(&[0; 31])
            )
            .is_none()
        );
    }

    #[test]
    fn rsa_stored_form_round_trips_and_rejects_tampering() {
        let key = PrivateKey::generate(Algorithm::Rs256, &mut rng());
        let stored = key.secret_bytes().expose_secret().to_vec();
        assert_eq!(stored.len(), 640, "p ‖ q ‖ d ‖ qInv");
        let reopened =
            PrivateKey::from_bytes(Algorithm::Ps256, SecretBytes::from_slice(&stored)).unwrap();
        assert_eq!(
            bytes_at(&reopened.cose_public_key().unwrap(), -1),
            bytes_at(&key.cose_public_key().unwrap(), -1)
        );
        // A flipped bit in d, qInv or a prime no longer makes a consistent key.
        for at in [10, 200, 400, 600] {
            let mut tampered = stored.clone();
            tampered[at] ^= 0x40;
            assert!(
                PrivateKey::from_bytes(Algorithm::Rs256, SecretBytes::from_slice(&tampered))
                    .is_none()
            );
        }
    }

    #[test]
    fn rsa_key_stored_without_qinv_signs_and_is_upgraded() {
        // Records and sealed IDs written before qInv was kept hold p ‖ q ‖ d
        // (512 bytes): the key opens, signs as before, and its stored form
        // (what the next write stores) is the current one.
        let key = PrivateKey::generate(Algorithm::Rs256, &mut rng());
        let current = key.secret_bytes().expose_secret().to_vec();
        let old = SecretBytes::from_slice(&current[..512]);
        let reopened = PrivateKey::from_bytes(Algorithm::Rs256, old).unwrap();
        assert_eq!(reopened.secret_bytes().expose_secret(), &current[..]);
        assert_eq!(
            reopened.sign(b"message", &mut rng()).unwrap(),
            key.sign(b"message", &mut rng()).unwrap()
        );
    }

    #[test]
    fn private_key_debug_shows_no_secret() {
        let key =
            PrivateKey::from_bytes(Algorithm::Es256, SecretBytes::from_slice(&[0x42; 32])).unwrap();
        let printed = format!("{key:?}");
        assert!(printed.contains("Es256"));
        assert!(
            !printed.contains("66") && !printed.contains("42"),
            "{printed}"
        );
    }
}
