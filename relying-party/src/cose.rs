//! COSE public keys ([RFC 9052 §7](https://www.rfc-editor.org/rfc/rfc9052#section-7),
//! [RFC 9053](https://www.rfc-editor.org/rfc/rfc9053)) and signature verification
//! for the algorithms this relying party implements: ES256, EdDSA (Ed25519), RS256.
//!
//! Anything else (ES384, ES512, Ed448, PS256 …) is reported as
//! [`Error::UnsupportedAlgorithm`] or [`Error::UnsupportedKeyType`], never guessed at.

use coset::iana::{self, EnumI64 as _};
use coset::{AsCborValue as _, CoseKey, KeyType, Label};
use p256::ecdsa::signature::Verifier as _;

use crate::Error;

/// COSE algorithm ES256 (ECDSA P-256 with SHA-256).
pub const ALG_ES256: i64 = -7;
/// COSE algorithm EdDSA (here: Ed25519 only).
pub const ALG_EDDSA: i64 = -8;
/// COSE algorithm RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const ALG_RS256: i64 = -257;

/// A credential public key we can verify with.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ES256.
    Es256(p256::ecdsa::VerifyingKey),
    /// EdDSA over Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RS256.
    Rs256(rsa::pkcs1v15::VerifyingKey<sha2::Sha256>),
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
        match (&key.kty, alg) {
            (KeyType::Assigned(iana::KeyType::EC2), ALG_ES256) => {
                require_int(
                    &key,
                    iana::Ec2KeyParameter::Crv.to_i64(),
                    iana::EllipticCurve::P_256.to_i64(),
                )?;
                let x = bytes_param(&key, iana::Ec2KeyParameter::X.to_i64())?;
                let y = bytes_param(&key, iana::Ec2KeyParameter::Y.to_i64())?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(Error::MalformedPublicKey("P-256 coordinate not 32 bytes"));
                }
                let mut sec1 = [0u8; 65];
                sec1[0] = 0x04;
                sec1[1..33].copy_from_slice(x);
                sec1[33..].copy_from_slice(y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(PublicKey::Es256)
                    .map_err(|_| Error::MalformedPublicKey("P-256 point not on the curve"))
            }
            (KeyType::Assigned(iana::KeyType::OKP), ALG_EDDSA) => {
                require_int(
                    &key,
                    iana::OkpKeyParameter::Crv.to_i64(),
                    iana::EllipticCurve::Ed25519.to_i64(),
                )?;
                let x: [u8; 32] = bytes_param(&key, iana::OkpKeyParameter::X.to_i64())?
                    .try_into()
                    .map_err(|_| Error::MalformedPublicKey("Ed25519 key not 32 bytes"))?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| Error::MalformedPublicKey("Ed25519 point invalid"))
            }
            (KeyType::Assigned(iana::KeyType::RSA), ALG_RS256) => {
                let n = bytes_param(&key, iana::RsaKeyParameter::N.to_i64())?;
                let e = bytes_param(&key, iana::RsaKeyParameter::E.to_i64())?;
                let key = rsa::PublicKey::new(
                    rsa::BoxedUint::from_be_slice_vartime(n),
                    rsa::BoxedUint::from_be_slice_vartime(e),
                )
                .map_err(|_| Error::MalformedPublicKey("RSA modulus or exponent out of range"))?;
                Ok(PublicKey::Rs256(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            (_, ALG_ES256 | ALG_EDDSA | ALG_RS256) => Err(Error::UnsupportedKeyType),
            (_, other) => Err(Error::UnsupportedAlgorithm(other)),
        }
    }

    /// The COSE algorithm identifier.
    pub fn algorithm(&self) -> i64 {
        match self {
            PublicKey::Es256(_) => ALG_ES256,
            PublicKey::Ed25519(_) => ALG_EDDSA,
            PublicKey::Rs256(_) => ALG_RS256,
        }
    }

    /// Verifies `signature` over `message` in WebAuthn's encoding for this algorithm
    /// (§6.5.6: ES256 signatures are ASN.1 DER; EdDSA raw 64 bytes; RS256 PKCS#1 v1.5).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        match self {
            PublicKey::Es256(key) => verify_es256(key, message, signature),
            PublicKey::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| Error::BadSignature)?;
                key.verify_strict(message, &signature)
                    .map_err(|_| Error::BadSignature)
            }
            PublicKey::Rs256(key) => {
                let signature = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| Error::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| Error::BadSignature)
            }
        }
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
