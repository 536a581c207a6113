//! Private keys as PKCS#8 DER (RFC 5958), the form CXF carries them in:
//! P-256 (`id-ecPublicKey` with `secp256r1`, COSE ES256 and ESP256) and
//! Ed25519 (COSE EdDSA and Ed25519). softkey's other algorithms (ES384,
//! ES512, ES256K, RS256, PS256, ML-DSA) have no CXF form here: their
//! credentials are refused per item on export as [`KeyError::Unsupported`],
//! and their PKCS#8 keys are skipped on import with the same reason. An
//! imported key comes in under the polymorphic name (ES256, EdDSA): PKCS#8
//! does not say which COSE identifier a relying party was given, and both
//! names sign alike. Every encoding is a zeroizing buffer.

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
        // `from_bytes` derives the public key format 2 stores beside the seed.
        return PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed[..]))
            .ok_or_else(|| KeyError::Invalid("not a valid Ed25519 key".into()));
    }
    Err(KeyError::Unsupported(name_of(algorithm)))
}

/// The PKCS#8 document of a private key; [`KeyError::Unsupported`] (with
/// the algorithm's COSE name) for one that has no CXF form in softkey.
pub(crate) fn encode(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let secret = key.secret_bytes().expose_secret();
    let document = match key.algorithm() {
        Algorithm::Es256 | Algorithm::Esp256 => p256::SecretKey::from_slice(secret)
            .map_err(|_| KeyError::Invalid("a stored P-256 key is invalid".into()))?
            .to_pkcs8_der(),
        Algorithm::EdDsa | Algorithm::Ed25519 => {
            let seed: &[u8; 32] = secret
                .try_into()
                .map_err(|_| KeyError::Invalid("a stored Ed25519 seed is not 32 bytes".into()))?;
            ed25519_dalek::SigningKey::from_bytes(seed).to_pkcs8_der()
        }
        other => return Err(KeyError::Unsupported(other.name().to_owned())),
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
    fn imported_ed25519_key_carries_its_public_key() {
        let der = hex::decode(RFC8410_ED25519).unwrap();
        let key = decode(&der).unwrap();
        // RFC 8410 §10.1's public key, kept as stored-format 2 requires.
        assert_eq!(
            hex::encode(key.stored_public_key().expect("public key stored")),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
    }

    #[test]
    fn fully_specified_names_export_as_their_polymorphic_twins() {
        let mut rng = rand::rng();
        for (algorithm, imported) in [
            (Algorithm::Esp256, Algorithm::Es256),
            (Algorithm::Ed25519, Algorithm::EdDsa),
        ] {
            let key = PrivateKey::generate(algorithm, &mut rng);
            let back = decode(&encode(&key).unwrap()).unwrap();
            assert_eq!(back.algorithm(), imported);
            assert_eq!(
                back.cose_public_key().unwrap(),
                PrivateKey::from_bytes(imported, key.secret_bytes().duplicate())
                    .unwrap()
                    .cose_public_key()
                    .unwrap()
            );
        }
    }

    #[test]
    fn algorithms_without_cxf_form_are_refused_by_name() {
        let mut rng = rand::rng();
        for algorithm in Algorithm::ALL {
            if matches!(
                algorithm,
                Algorithm::Es256 | Algorithm::Esp256 | Algorithm::EdDsa | Algorithm::Ed25519
            ) || algorithm.slow_keygen()
            {
                continue;
            }
            let key = PrivateKey::generate(algorithm, &mut rng);
            assert_eq!(
                encode(&key).unwrap_err(),
                KeyError::Unsupported(algorithm.name().to_owned())
            );
        }
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
