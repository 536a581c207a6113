//! Private keys as PKCS#8 DER (RFC 5958), the form CXF carries them in:
//! P-256 (`id-ecPublicKey` with `secp256r1`, COSE ES256) and Ed25519 (COSE
//! EdDSA), the algorithms softkey signs with. Every encoding is a zeroizing
//! buffer.

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use p256::pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::secret::SecretBytes;
use zeroize::Zeroizing;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Names of algorithms softkey recognises but does not sign with.
const KNOWN: &[(&str, &str)] = &[
    ("1.3.132.0.34", "ECDSA P-384"),
    ("1.3.132.0.35", "ECDSA P-521"),
    ("1.3.132.0.10", "ECDSA secp256k1"),
    ("1.2.840.113549.1.1.1", "RSA"),
    ("1.3.101.113", "Ed448"),
];

/// Why a PKCS#8 key is not taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Well-formed PKCS#8 of an algorithm softkey does not sign with.
    Unsupported(String),
    /// Not PKCS#8 DER, or not a valid key of its algorithm.
    Invalid(String),
}

fn name_of(oid: ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    KNOWN
        .iter()
        .find(|(known, _)| *known == dotted)
        .map_or_else(|| format!("OID {dotted}"), |(_, name)| (*name).to_owned())
}

/// The private key in a PKCS#8 document.
pub(crate) fn decode(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|e| KeyError::Invalid(format!("not PKCS#8 DER: {e}")))?;
    let algorithm = info.algorithm.oid;
    if algorithm == EC_PUBLIC_KEY {
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::Invalid("an EC key without its curve".into()))?;
        if curve != SECP256R1 {
            return Err(KeyError::Unsupported(name_of(curve)));
        }
        let key = p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| KeyError::Invalid(format!("not a valid P-256 key: {e}")))?;
        let bytes = Zeroizing::new(key.to_bytes());
        return PrivateKey::from_bytes(Algorithm::Es256, SecretBytes::from_slice(&bytes[..]))
            .ok_or_else(|| KeyError::Invalid("not a valid P-256 key".into()));
    }
    if algorithm == ED25519 {
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| KeyError::Invalid(format!("not a valid Ed25519 key: {e}")))?;
        let seed = Zeroizing::new(key.to_bytes());
        return PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed[..]))
            .ok_or_else(|| KeyError::Invalid("not a valid Ed25519 key".into()));
    }
    Err(KeyError::Unsupported(name_of(algorithm)))
}

/// The PKCS#8 document of a private key.
pub(crate) fn encode(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let secret = key.secret_bytes().expose_secret();
    let document = match key.algorithm() {
        Algorithm::Es256 => p256::SecretKey::from_slice(secret)
            .map_err(|_| KeyError::Invalid("a stored P-256 key is invalid".into()))?
            .to_pkcs8_der(),
        Algorithm::EdDsa => {
            let seed: &[u8; 32] = secret
                .try_into()
                .map_err(|_| KeyError::Invalid("a stored Ed25519 seed is not 32 bytes".into()))?;
            ed25519_dalek::SigningKey::from_bytes(seed).to_pkcs8_der()
        }
    }
    .map_err(|e| KeyError::Invalid(format!("encoding PKCS#8: {e}")))?;
    Ok(Zeroizing::new(document.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410 §10.3: an Ed25519 private key in PKCS#8 (its seed
    /// d4ee72db…5842).
    const RFC8410_ED25519: &str = "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

    #[test]
    fn rfc8410_ed25519_key_decodes_and_encodes_back() {
        let der = hex::decode(RFC8410_ED25519).unwrap();
        let key = decode(&der).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EdDsa);
        assert_eq!(
            hex::encode(key.secret_bytes().expose_secret()),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
        );
        // Written back as a OneAsymmetricKey v2 (RFC 5958) carrying the
        // public key, RFC 8410 §10.1's 19bf4409…3166e1.
        let encoded = encode(&key).unwrap();
        assert!(
            hex::encode(&encoded[..]).ends_with(
                "8121001 9bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
                    .replace(' ', "")
                    .as_str()
            )
        );
        let again = decode(&encoded).unwrap();
        assert!(
            again
                .secret_bytes()
                .ct_eq(key.secret_bytes().expose_secret())
        );
    }

    #[test]
    fn p256_keys_round_trip_through_pkcs8() {
        let key = PrivateKey::generate(Algorithm::Es256, &mut rand::rng());
        let der = encode(&key).unwrap();
        let back = decode(&der).unwrap();
        assert_eq!(back.algorithm(), Algorithm::Es256);
        assert!(
            back.secret_bytes()
                .ct_eq(key.secret_bytes().expose_secret())
        );
    }

    #[test]
    fn other_algorithms_are_unsupported_and_garbage_is_invalid() {
        // An Ed448 PKCS#8 header with a 57-byte key (RFC 8410's layout).
        let mut ed448 = hex::decode("3047020100300506032b6571043b0439").unwrap();
        ed448.extend_from_slice(&[7; 57]);
        assert!(matches!(decode(&ed448), Err(KeyError::Unsupported(name)) if name == "Ed448"));
        assert!(matches!(
            decode(b"\x30\x03\x02\x01\x00"),
            Err(KeyError::Invalid(_))
        ));
        assert!(matches!(decode(&[]), Err(KeyError::Invalid(_))));
        // An Ed25519 key of the wrong length.
        let short = hex::decode("302d020100300506032b657004210420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f447558").unwrap();
        assert!(matches!(decode(&short), Err(KeyError::Invalid(_))));
    }
}
