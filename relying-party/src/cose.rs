//! COSE public keys ([RFC 9052 §7](https://www.rfc-editor.org/rfc/rfc9052#section-7),
//! [RFC 9053](https://www.rfc-editor.org/rfc/rfc9053)) and signature verification
//! for every algorithm this relying party implements:
//!
//! | algorithm | COSE | key | signature (WebAuthn §6.5.6) |
//! |---|---|---|---|
//! | ES256, ESP256 | -7, -9 | EC2 P-256 | ASN.1 DER ECDSA, SHA-256 |
//! | ES384, ESP384 | -35, -51 | EC2 P-384 | ASN.1 DER ECDSA, SHA-384 |
//! | ES512, ESP512 | -36, -52 | EC2 P-521 | ASN.1 DER ECDSA, SHA-512 |
//! | ES256K | -47 | EC2 secp256k1 ([RFC 8812]) | ASN.1 DER ECDSA, SHA-256 |
//! | EdDSA, Ed25519 | -8, -19 | OKP Ed25519 | 64 bytes, strict |
//! | RS256 | -257 | RSA ([RFC 8230]) | PKCS#1 v1.5, SHA-256 |
//! | PS256 | -37 | RSA | PSS, SHA-256, MGF1-SHA-256, any salt length |
//! | ML-DSA-44/65/87 | -48, -49, -50 | AKP (draft-ietf-cose-dilithium) | FIPS 204, empty context |
//!
//! The fully-specified names of [RFC 9864] (ESP256 …) must come with the
//! curve they name. ECDSA signatures are accepted with a high or a low S
//! (WebAuthn does not require low-S). Anything else (Ed448, PS384, RS1 …) is
//! reported as [`Error::UnsupportedAlgorithm`] or [`Error::UnsupportedKeyType`],
//! never guessed at.
//!
//! [RFC 8812]: https://www.rfc-editor.org/rfc/rfc8812
//! [RFC 8230]: https://www.rfc-editor.org/rfc/rfc8230
//! [RFC 9864]: https://www.rfc-editor.org/rfc/rfc9864

use coset::iana::{self, EnumI64 as _};
use coset::{AsCborValue as _, CoseKey, KeyType, Label};
use p256::ecdsa::signature::Verifier as _;

use crate::Error;

/// COSE algorithm ES256 (ECDSA P-256 with SHA-256).
pub const ALG_ES256: i64 = -7;
/// COSE algorithm ESP256 (ES256, fully specified: RFC 9864).
pub const ALG_ESP256: i64 = -9;
/// COSE algorithm EdDSA (here: Ed25519 only).
pub const ALG_EDDSA: i64 = -8;
/// COSE algorithm Ed25519 (fully specified: RFC 9864).
pub const ALG_ED25519: i64 = -19;
/// COSE algorithm ES384 (ECDSA P-384 with SHA-384).
pub const ALG_ES384: i64 = -35;
/// COSE algorithm ESP384 (ES384, fully specified: RFC 9864).
pub const ALG_ESP384: i64 = -51;
/// COSE algorithm ES512 (ECDSA P-521 with SHA-512).
pub const ALG_ES512: i64 = -36;
/// COSE algorithm ESP512 (ES512, fully specified: RFC 9864).
pub const ALG_ESP512: i64 = -52;
/// COSE algorithm ES256K (ECDSA secp256k1 with SHA-256, RFC 8812).
pub const ALG_ES256K: i64 = -47;
/// COSE algorithm RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const ALG_RS256: i64 = -257;
/// COSE algorithm PS256 (RSASSA-PSS with SHA-256).
pub const ALG_PS256: i64 = -37;
/// COSE algorithm ML-DSA-44 (FIPS 204).
pub const ALG_ML_DSA_44: i64 = -48;
/// COSE algorithm ML-DSA-65 (FIPS 204).
pub const ALG_ML_DSA_65: i64 = -49;
/// COSE algorithm ML-DSA-87 (FIPS 204).
pub const ALG_ML_DSA_87: i64 = -50;

/// Every algorithm this relying party verifies, with its IANA name, in the
/// order [`crate::RelyingParty::new`] offers them (ES256 first).
pub const ALGORITHMS: [(i64, &str); 14] = [
    (ALG_ES256, "ES256"),
    (ALG_EDDSA, "EdDSA"),
    (ALG_ES384, "ES384"),
    (ALG_ES512, "ES512"),
    (ALG_PS256, "PS256"),
    (ALG_RS256, "RS256"),
    (ALG_ES256K, "ES256K"),
    (ALG_ML_DSA_44, "ML-DSA-44"),
    (ALG_ML_DSA_65, "ML-DSA-65"),
    (ALG_ML_DSA_87, "ML-DSA-87"),
    (ALG_ESP256, "ESP256"),
    (ALG_ESP384, "ESP384"),
    (ALG_ESP512, "ESP512"),
    (ALG_ED25519, "Ed25519"),
];

/// The ML-DSA algorithms, strongest-to-smallest trade-off first as the
/// demo page asks for them ("post-quantum first").
pub const ML_DSA_ALGORITHMS: [i64; 3] = [ALG_ML_DSA_65, ALG_ML_DSA_44, ALG_ML_DSA_87];

/// The algorithm a name (IANA name, any case) or decimal COSE identifier
/// stands for, if this relying party verifies it.
pub fn algorithm_from_name(name: &str) -> Option<i64> {
    let name = name.trim();
    ALGORITHMS
        .iter()
        .find(|(id, known)| known.eq_ignore_ascii_case(name) || name.parse() == Ok(*id))
        .map(|(id, _)| *id)
}

/// The IANA name of an algorithm this relying party verifies.
pub fn algorithm_name(alg: i64) -> Option<&'static str> {
    ALGORITHMS
        .iter()
        .find(|(id, _)| *id == alg)
        .map(|(_, name)| *name)
}

/// The key inside a [`PublicKey`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Key {
    /// NIST P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// NIST P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// NIST P-521.
    P521(Box<p521::ecdsa::VerifyingKey>),
    /// secp256k1.
    Secp256k1(k256::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (any size the rsa crate accepts, exponent included).
    Rsa(rsa::PublicKey),
    /// ML-DSA-44.
    MlDsa44(Box<ml_dsa::VerifyingKey<ml_dsa::MlDsa44>>),
    /// ML-DSA-65.
    MlDsa65(Box<ml_dsa::VerifyingKey<ml_dsa::MlDsa65>>),
    /// ML-DSA-87.
    MlDsa87(Box<ml_dsa::VerifyingKey<ml_dsa::MlDsa87>>),
}

/// A credential public key we can verify with: the key and the algorithm
/// its COSE_Key names.
#[derive(Debug, Clone)]
pub struct PublicKey {
    alg: i64,
    key: Key,
}

impl PublicKey {
    /// Parses a COSE_Key from its CBOR bytes.
    pub fn from_cose(bytes: &[u8]) -> Result<Self, Error> {
        let (value, rest) = crate::auth_data::read_cbor(bytes)
            .map_err(|_| Error::MalformedPublicKey("not CBOR"))?;
        if !rest.is_empty() {
            return Err(Error::MalformedPublicKey("trailing bytes"));
        }
        Self::from_cbor_value(value)
    }

    /// Parses a COSE_Key from a decoded CBOR value.
    pub fn from_cbor_value(value: ciborium::Value) -> Result<Self, Error> {
        let key = CoseKey::from_cbor_value(value)
            .map_err(|_| Error::MalformedPublicKey("not a COSE_Key map"))?;
        // WebAuthn requires `alg` in credential public keys (§6.5.1.1).
        let alg = match &key.alg {
            Some(coset::Algorithm::Assigned(alg)) => alg.to_i64(),
            Some(_) => return Err(Error::MalformedPublicKey("alg is not an assigned integer")),
            None => return Err(Error::MalformedPublicKey("alg missing")),
        };
        let ec2 = |curve: iana::EllipticCurve, len: usize| -> Result<Vec<u8>, Error> {
            require_int(&key, iana::Ec2KeyParameter::Crv.to_i64(), curve.to_i64())?;
            let x = bytes_param(&key, iana::Ec2KeyParameter::X.to_i64())?;
            let y = bytes_param(&key, iana::Ec2KeyParameter::Y.to_i64())?;
            if x.len() != len || y.len() != len {
                return Err(Error::MalformedPublicKey(
                    "EC2 coordinate of the wrong length",
                ));
            }
            let mut sec1 = Vec::with_capacity(1 + 2 * len);
            sec1.push(0x04);
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            Ok(sec1)
        };
        let not_on_curve = |_| Error::MalformedPublicKey("EC2 point not on the curve");
        let parsed = match (&key.kty, alg) {
            (KeyType::Assigned(iana::KeyType::EC2), ALG_ES256 | ALG_ESP256) => Key::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&ec2(iana::EllipticCurve::P_256, 32)?)
                    .map_err(not_on_curve)?,
            ),
            (KeyType::Assigned(iana::KeyType::EC2), ALG_ES384 | ALG_ESP384) => Key::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&ec2(iana::EllipticCurve::P_384, 48)?)
                    .map_err(not_on_curve)?,
            ),
            (KeyType::Assigned(iana::KeyType::EC2), ALG_ES512 | ALG_ESP512) => Key::P521(Box::new(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(&ec2(iana::EllipticCurve::P_521, 66)?)
                    .map_err(not_on_curve)?,
            )),
            (KeyType::Assigned(iana::KeyType::EC2), ALG_ES256K) => Key::Secp256k1(
                k256::ecdsa::VerifyingKey::from_sec1_bytes(&ec2(
                    iana::EllipticCurve::Secp256k1,
                    32,
                )?)
                .map_err(not_on_curve)?,
            ),
            (KeyType::Assigned(iana::KeyType::OKP), ALG_EDDSA | ALG_ED25519) => {
                require_int(
                    &key,
                    iana::OkpKeyParameter::Crv.to_i64(),
                    iana::EllipticCurve::Ed25519.to_i64(),
                )?;
                let x: [u8; 32] = bytes_param(&key, iana::OkpKeyParameter::X.to_i64())?
                    .try_into()
                    .map_err(|_| Error::MalformedPublicKey("Ed25519 key not 32 bytes"))?;
                Key::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| Error::MalformedPublicKey("Ed25519 point invalid"))?,
                )
            }
            (KeyType::Assigned(iana::KeyType::RSA), ALG_RS256 | ALG_PS256) => {
                let n = bytes_param(&key, iana::RsaKeyParameter::N.to_i64())?;
                let e = bytes_param(&key, iana::RsaKeyParameter::E.to_i64())?;
                Key::Rsa(
                    rsa::PublicKey::new(
                        rsa::BoxedUint::from_be_slice_vartime(n),
                        rsa::BoxedUint::from_be_slice_vartime(e),
                    )
                    .map_err(|_| {
                        Error::MalformedPublicKey("RSA modulus or exponent out of range")
                    })?,
                )
            }
            (KeyType::Assigned(iana::KeyType::AKP), ALG_ML_DSA_44) => {
                Key::MlDsa44(Box::new(ml_dsa_key(&key)?))
            }
            (KeyType::Assigned(iana::KeyType::AKP), ALG_ML_DSA_65) => {
                Key::MlDsa65(Box::new(ml_dsa_key(&key)?))
            }
            (KeyType::Assigned(iana::KeyType::AKP), ALG_ML_DSA_87) => {
                Key::MlDsa87(Box::new(ml_dsa_key(&key)?))
            }
            (_, other) if algorithm_name(other).is_some() => {
                return Err(Error::UnsupportedKeyType);
            }
            (_, other) => return Err(Error::UnsupportedAlgorithm(other)),
        };
        Ok(Self { alg, key: parsed })
    }

    /// The COSE algorithm identifier.
    pub fn algorithm(&self) -> i64 {
        self.alg
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Verifies `signature` over `message` in WebAuthn's encoding for this
    /// algorithm (§6.5.6; see the module table).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let bad = |_| Error::BadSignature;
        match &self.key {
            Key::P256(key) => verify_es256(key, message, signature),
            Key::P384(key) => {
                let signature = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                key.verify(message, &signature.normalize_s()).map_err(bad)
            }
            Key::P521(key) => {
                let signature = p521::ecdsa::Signature::from_der(signature).map_err(bad)?;
                key.verify(message, &signature.normalize_s()).map_err(bad)
            }
            Key::Secp256k1(key) => {
                let signature = k256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                key.verify(message, &signature.normalize_s()).map_err(bad)
            }
            Key::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(signature).map_err(bad)?;
                key.verify_strict(message, &signature).map_err(bad)
            }
            Key::Rsa(key) if self.alg == ALG_PS256 => {
                let signature = rsa::pss::Signature::try_from(signature).map_err(bad)?;
                rsa::pss::VerifyingKey::<sha2::Sha256>::new_with_auto_salt_len(key.clone())
                    .verify(message, &signature)
                    .map_err(bad)
            }
            Key::Rsa(key) => {
                let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(bad)?;
                rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone())
                    .verify(message, &signature)
                    .map_err(bad)
            }
            Key::MlDsa44(key) => verify_ml_dsa(key, message, signature),
            Key::MlDsa65(key) => verify_ml_dsa(key, message, signature),
            Key::MlDsa87(key) => verify_ml_dsa(key, message, signature),
        }
    }
}

/// An AKP key's public key (parameter -1), of the parameter set's exact length.
fn ml_dsa_key<P: ml_dsa::MlDsaParams>(key: &CoseKey) -> Result<ml_dsa::VerifyingKey<P>, Error> {
    let public = bytes_param(key, iana::AkpKeyParameter::Pub.to_i64())?;
    let encoded = ml_dsa::EncodedVerifyingKey::<P>::try_from(public)
        .map_err(|_| Error::MalformedPublicKey("ML-DSA public key of the wrong length"))?;
    Ok(ml_dsa::VerifyingKey::<P>::decode(&encoded))
}

/// Pure ML-DSA verification with the empty context (FIPS 204 Algorithm 3).
fn verify_ml_dsa<P: ml_dsa::MlDsaParams>(
    key: &ml_dsa::VerifyingKey<P>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let signature = ml_dsa::Signature::<P>::try_from(signature).map_err(|_| Error::BadSignature)?;
    if key.verify_with_context(message, &[], &signature) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// Verifies a DER-encoded ECDSA P-256/SHA-256 signature.
pub(crate) fn verify_es256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| Error::BadSignature)?;
    // ECDSA signatures are malleable (s and n − s both verify); WebAuthn does not require
    // low-S, so normalise instead of rejecting high-S signatures real authenticators emit.
    let signature = signature.normalize_s();
    key.verify(message, &signature)
        .map_err(|_| Error::BadSignature)
}

fn param(key: &CoseKey, label: i64) -> Option<&ciborium::Value> {
    key.params
        .iter()
        .find(|(candidate, _)| *candidate == Label::Int(label))
        .map(|(_, value)| value)
}

fn bytes_param(key: &CoseKey, label: i64) -> Result<&[u8], Error> {
    match param(key, label) {
        Some(ciborium::Value::Bytes(bytes)) => Ok(bytes),
        Some(_) => Err(Error::MalformedPublicKey(
            "key parameter is not a byte string",
        )),
        None => Err(Error::MalformedPublicKey("key parameter missing")),
    }
}

fn require_int(key: &CoseKey, label: i64, expected: i64) -> Result<(), Error> {
    match param(key, label) {
        Some(ciborium::Value::Integer(found)) if i128::from(*found) == i128::from(expected) => {
            Ok(())
        }
        Some(ciborium::Value::Integer(_)) => Err(Error::UnsupportedKeyType),
        _ => Err(Error::MalformedPublicKey("curve missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;
    use rand::SeedableRng;

    fn int(value: i64) -> Value {
        Value::Integer(value.into())
    }

    fn cose(entries: Vec<(i64, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
    }

    fn ec2(alg: i64, crv: i64, sec1: &[u8]) -> Value {
        let len = (sec1.len() - 1) / 2;
        cose(vec![
            (1, int(2)),
            (3, int(alg)),
            (-1, int(crv)),
            (-2, Value::Bytes(sec1[1..=len].to_vec())),
            (-3, Value::Bytes(sec1[1 + len..].to_vec())),
        ])
    }

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(9)
    }

    /// Parses `key`, checks its algorithm, and that `signature` verifies over
    /// "message" and not over anything else.
    fn check(key: Value, alg: i64, signature: &[u8]) {
        let key = PublicKey::from_cbor_value(key).unwrap();
        assert_eq!(key.algorithm(), alg);
        key.verify(b"message", signature).unwrap();
        assert_eq!(key.verify(b"messagE", signature), Err(Error::BadSignature));
    }

    #[test]
    fn ecdsa_keys_on_every_curve_verify_under_both_names() {
        use p256::ecdsa::signature::Signer as _;
        let p256 = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let signature: p256::ecdsa::Signature = p256.sign(b"message");
        let point = p256.verifying_key().to_sec1_point(false);
        for alg in [ALG_ES256, ALG_ESP256] {
            check(
                ec2(alg, 1, point.as_bytes()),
                alg,
                signature.to_der().as_bytes(),
            );
        }
        let p384 = p384::ecdsa::SigningKey::from_slice(&[7; 48]).unwrap();
        let signature: p384::ecdsa::Signature = p384.sign(b"message");
        let point = p384.verifying_key().to_sec1_point(false);
        for alg in [ALG_ES384, ALG_ESP384] {
            check(
                ec2(alg, 2, point.as_bytes()),
                alg,
                signature.to_der().as_bytes(),
            );
        }
        let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
        let signature: p521::ecdsa::Signature = p521.sign(b"message");
        let point = p521.verifying_key().to_sec1_point(false);
        for alg in [ALG_ES512, ALG_ESP512] {
            check(
                ec2(alg, 3, point.as_bytes()),
                alg,
                signature.to_der().as_bytes(),
            );
        }
        let k256 = k256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let signature: k256::ecdsa::Signature = k256.sign(b"message");
        let point = k256.verifying_key().to_sec1_point(false);
        check(
            ec2(ALG_ES256K, 8, point.as_bytes()),
            ALG_ES256K,
            signature.to_der().as_bytes(),
        );
        // A high-S secp256k1 signature (valid ECDSA, not Bitcoin's rule) is accepted.
        let (r, s) = signature.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        assert!(high.normalize_s() != high);
        check(
            ec2(ALG_ES256K, 8, point.as_bytes()),
            ALG_ES256K,
            high.to_der().as_bytes(),
        );
    }

    #[test]
    fn fully_specified_names_insist_on_their_curve() {
        let p256 = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let point = p256.verifying_key().to_sec1_point(false);
        // ESP384 with a P-256 key; ES256K with crv P-256.
        for (alg, crv) in [(ALG_ESP384, 1), (ALG_ES256K, 1), (ALG_ESP256, 8)] {
            assert_eq!(
                PublicKey::from_cbor_value(ec2(alg, crv, point.as_bytes())).unwrap_err(),
                Error::UnsupportedKeyType,
                "{alg}"
            );
        }
        // Ed25519 (-19) must be an OKP key on crv 6.
        assert_eq!(
            PublicKey::from_cbor_value(ec2(ALG_ED25519, 1, point.as_bytes())).unwrap_err(),
            Error::UnsupportedKeyType
        );
    }

    #[test]
    fn ed25519_verifies_under_both_names() {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let signature = key.sign(b"message").to_bytes();
        for alg in [ALG_EDDSA, ALG_ED25519] {
            let cose = cose(vec![
                (1, int(1)),
                (3, int(alg)),
                (-1, int(6)),
                (-2, Value::Bytes(key.verifying_key().to_bytes().to_vec())),
            ]);
            check(cose, alg, &signature);
        }
    }

    fn rsa_cose(alg: i64, key: &rsa::PrivateKey) -> Value {
        use rsa::traits::PublicKeyParts as _;
        cose(vec![
            (1, int(3)),
            (3, int(alg)),
            (
                -1,
                Value::Bytes(key.n().to_be_bytes_trimmed_vartime().to_vec()),
            ),
            (
                -2,
                Value::Bytes(key.e().to_be_bytes_trimmed_vartime().to_vec()),
            ),
        ])
    }

    #[test]
    fn rs256_and_ps256_verify_and_are_not_confused() {
        use rsa::signature::RandomizedSigner as _;
        use rsa::signature::SignatureEncoding as _;
        let mut rng = rng();
        let key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
        let pkcs1 = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign_with_rng(&mut rng, b"message")
            .to_vec();
        check(rsa_cose(ALG_RS256, &key), ALG_RS256, &pkcs1);
        // PSS with the hash-length salt of RFC 8230 and with the largest salt.
        for salt in [32, 256 - 32 - 2] {
            let pss = rsa::pss::SigningKey::<sha2::Sha256>::new_with_salt_len(key.clone(), salt)
                .sign_with_rng(&mut rng, b"message")
                .to_vec();
            check(rsa_cose(ALG_PS256, &key), ALG_PS256, &pss);
            // The same key named RS256 does not accept a PSS signature.
            let rs256 = PublicKey::from_cbor_value(rsa_cose(ALG_RS256, &key)).unwrap();
            assert_eq!(rs256.verify(b"message", &pss), Err(Error::BadSignature));
        }
        let ps256 = PublicKey::from_cbor_value(rsa_cose(ALG_PS256, &key)).unwrap();
        assert_eq!(ps256.verify(b"message", &pkcs1), Err(Error::BadSignature));
    }

    fn ml_dsa_case<P: ml_dsa::MlDsaParams>(alg: i64) {
        use ml_dsa::signature::Keypair as _;
        let key = ml_dsa::SigningKey::<P>::from_seed(&ml_dsa::B32::from([5u8; 32]));
        let public = key.verifying_key().encode().to_vec();
        let signature = key
            .expanded_key()
            .sign_randomized(b"message", &[], &mut rng())
            .unwrap()
            .encode()
            .to_vec();
        let akp =
            |public: Vec<u8>| cose(vec![(1, int(7)), (3, int(alg)), (-1, Value::Bytes(public))]);
        check(akp(public.clone()), alg, &signature);
        // A signature with a context string is not the pure, empty-context one.
        let with_context = key
            .expanded_key()
            .sign_randomized(b"message", b"ctx", &mut rng())
            .unwrap()
            .encode()
            .to_vec();
        let parsed = PublicKey::from_cbor_value(akp(public.clone())).unwrap();
        assert_eq!(
            parsed.verify(b"message", &with_context),
            Err(Error::BadSignature)
        );
        assert_eq!(
            parsed.verify(b"message", &signature[1..]),
            Err(Error::BadSignature)
        );
        // A public key one byte short, and an ML-DSA alg on an EC2 key.
        assert_eq!(
            PublicKey::from_cbor_value(akp(public[1..].to_vec())).unwrap_err(),
            Error::MalformedPublicKey("ML-DSA public key of the wrong length")
        );
        let p256 = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        assert_eq!(
            PublicKey::from_cbor_value(ec2(
                alg,
                1,
                p256.verifying_key().to_sec1_point(false).as_bytes()
            ))
            .unwrap_err(),
            Error::UnsupportedKeyType
        );
    }

    #[test]
    fn ml_dsa_keys_verify_pure_signatures_of_each_size() {
        ml_dsa_case::<ml_dsa::MlDsa44>(ALG_ML_DSA_44);
        ml_dsa_case::<ml_dsa::MlDsa65>(ALG_ML_DSA_65);
        ml_dsa_case::<ml_dsa::MlDsa87>(ALG_ML_DSA_87);
    }

    #[test]
    fn unknown_algorithms_stay_unsupported() {
        let key = cose(vec![
            (1, int(1)),
            (3, int(-53)),
            (-1, int(7)),
            (-2, Value::Bytes(vec![0; 57])),
        ]);
        assert_eq!(
            PublicKey::from_cbor_value(key).unwrap_err(),
            Error::UnsupportedAlgorithm(-53)
        );
        assert_eq!(algorithm_from_name("ml-dsa-65"), Some(ALG_ML_DSA_65));
        assert_eq!(algorithm_from_name("-257"), Some(ALG_RS256));
        assert_eq!(algorithm_from_name("Ed448"), None);
        assert_eq!(algorithm_name(ALG_ESP512), Some("ESP512"));
    }
}
