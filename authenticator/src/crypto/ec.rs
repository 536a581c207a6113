//! ECDSA credential keys on the short-Weierstrass curves: P-256 (ES256,
//! ESP256), P-384 (ES384, ESP384), P-521 (ES512, ESP512) and secp256k1
//! (ES256K). The private key is the bare scalar, big-endian, as long as the
//! curve's field (32, 48, 66 bytes). Signatures are ASN.1 DER over
//! `r ‖ s` (WebAuthn §6.5.6), made with RFC 6979 nonces from the scalar alone:
//! building an `ecdsa::SigningKey` would also compute the public point, a
//! second scalar multiplication that doubles the cost of a signature.

use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// One curve's operations on a stored scalar. `top_byte_mask`: the bits of
/// the scalar's first byte that can be set (P-521's 66 bytes hold 521 bits).
macro_rules! curve {
    ($module:ident, $krate:ident, $curve:ty, $digest:ty, $top_byte_mask:literal, $low_s:literal, $doc:literal) => {
        #[doc = $doc]
        pub(crate) mod $module {
            use super::*;

            /// A fresh uniformly random non-zero scalar: field-length random
            /// strings (P-521: the top 7 bits cleared) until one is in [1, n).
            pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> SecretBytes {
                let mut candidate = Zeroizing::new(::$krate::FieldBytes::default());
                loop {
                    rng.fill_bytes(candidate.as_mut_slice());
                    if let Some(first) = candidate.first_mut() {
                        *first &= $top_byte_mask;
                    }
                    if is_valid(candidate.as_slice()) {
                        return SecretBytes::from_slice(candidate.as_slice());
                    }
                }
            }

            fn scalar(bytes: &[u8]) -> Result<Zeroizing<::$krate::NonZeroScalar>, StatusCode> {
                ::$krate::NonZeroScalar::try_from(bytes)
                    .map(Zeroizing::new)
                    .map_err(|_| StatusCode::Other)
            }

            /// Whether `bytes` is a scalar in [1, n) of the field's length (a
            /// range check: no scalar multiplication).
            pub(crate) fn is_valid(bytes: &[u8]) -> bool {
                scalar(bytes).is_ok()
            }

            /// The DER signature of `message` (hashed with the algorithm's digest).
            pub(crate) fn sign(secret: &[u8], message: &[u8]) -> Result<Vec<u8>, StatusCode> {
                use sha2::Digest as _;
                let scalar = scalar(secret)?;
                let digest = <$digest>::digest(message);
                let (signature, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<$curve, $digest>(
                    &scalar,
                    digest.as_slice(),
                    &[],
                );
                // Low-S on secp256k1, whose verifiers commonly insist on it (as
                // the k256 signing key does); the NIST curves keep RFC 6979's s.
                let signature = if $low_s {
                    signature.normalize_s()
                } else {
                    signature
                };
                Ok(signature.to_der().as_bytes().to_vec())
            }

            /// The public point's affine coordinates (x, y), each as long as the field.
            pub(crate) fn public_xy(secret: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StatusCode> {
                let key = ::$krate::ecdsa::SigningKey::from(*scalar(secret)?);
                let point = key.verifying_key().to_sec1_point(false);
                let x = point.x().ok_or(StatusCode::Other)?;
                let y = point.y().ok_or(StatusCode::Other)?;
                Ok((x.to_vec(), y.to_vec()))
            }
        }
    };
}

curve!(
    p256,
    p256,
    ::p256::NistP256,
    sha2::Sha256,
    0xff,
    false,
    "NIST P-256 with SHA-256."
);
curve!(
    p384,
    p384,
    ::p384::NistP384,
    sha2::Sha384,
    0xff,
    false,
    "NIST P-384 with SHA-384."
);
curve!(
    p521,
    p521,
    ::p521::NistP521,
    sha2::Sha512,
    0x01,
    false,
    "NIST P-521 with SHA-512."
);
curve!(
    k256,
    k256,
    ::k256::Secp256k1,
    sha2::Sha256,
    0xff,
    true,
    "secp256k1 with SHA-256."
);
