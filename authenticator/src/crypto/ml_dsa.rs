//! ML-DSA credential keys (FIPS 204): ML-DSA-44, -65 and -87, COSE -48, -49
//! and -50 (the "AKP" key type 7 with the encoded public key as parameter -1,
//! as draft-ietf-cose-dilithium and python-fido2 use them).
//!
//! The private key is the 32-byte seed ξ of ML-DSA.KeyGen_internal, never the
//! expanded key: a sealed credential ID stays small, and FIPS 204 §3.6.3
//! prefers the seed as the storage format. Every use expands it again (a
//! fraction of a signature; see `scripts/bench.sh`). Signatures are the pure,
//! hedged ML-DSA.Sign with an empty context string.

use ml_dsa::{MlDsa44, MlDsa65, MlDsa87, SigningKey};
use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::status::StatusCode;

/// An ML-DSA parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// ML-DSA-44 (category 2).
    L44,
    /// ML-DSA-65 (category 3).
    L65,
    /// ML-DSA-87 (category 5).
    L87,
}

impl Level {
    /// Encoded public key length (FIPS 204 Table 2).
    pub(crate) fn public_key_len(self) -> usize {
        match self {
            Self::L44 => 1312,
            Self::L65 => 1952,
            Self::L87 => 2592,
        }
    }

    /// Signature length (FIPS 204 Table 2).
    pub(crate) fn signature_len(self) -> usize {
        match self {
            Self::L44 => 2420,
            Self::L65 => 3309,
            Self::L87 => 4627,
        }
    }
}

/// A seed expanded into a signing key (zeroized on drop by ml-dsa).
pub(crate) enum Expanded {
    /// ML-DSA-44.
    L44(Box<SigningKey<MlDsa44>>),
    /// ML-DSA-65.
    L65(Box<SigningKey<MlDsa65>>),
    /// ML-DSA-87.
    L87(Box<SigningKey<MlDsa87>>),
}

/// Length of the seed ξ.
pub(crate) const SEED_LEN: usize = 32;

/// A fresh seed, expanded.
pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(
    level: Level,
    rng: &mut R,
) -> (SecretBytes, Expanded) {
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    rng.fill_bytes(seed.as_mut());
    let expanded = expand(level, seed.as_ref()).expect("a 32-byte seed always expands");
    (SecretBytes::from_slice(seed.as_ref()), expanded)
}

/// ML-DSA.KeyGen_internal(ξ); `None` unless the seed is 32 bytes.
pub(crate) fn expand(level: Level, seed: &[u8]) -> Option<Expanded> {
    let seed = Zeroizing::new(ml_dsa::Seed::try_from(seed).ok()?);
    Some(match level {
        Level::L44 => Expanded::L44(Box::new(SigningKey::from_seed(&seed))),
        Level::L65 => Expanded::L65(Box::new(SigningKey::from_seed(&seed))),
        Level::L87 => Expanded::L87(Box::new(SigningKey::from_seed(&seed))),
    })
}

impl Expanded {
    /// The hedged pure ML-DSA signature of `message`, empty context.
    pub(crate) fn sign<R: rand_core::CryptoRng + ?Sized>(
        &self,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, StatusCode> {
        let error = |_| StatusCode::Other;
        Ok(match self {
            Self::L44(key) => key
                .expanded_key()
                .sign_randomized(message, &[], rng)
                .map_err(error)?
                .encode()
                .to_vec(),
            Self::L65(key) => key
                .expanded_key()
                .sign_randomized(message, &[], rng)
                .map_err(error)?
                .encode()
                .to_vec(),
            Self::L87(key) => key
                .expanded_key()
                .sign_randomized(message, &[], rng)
                .map_err(error)?
                .encode()
                .to_vec(),
        })
    }

    /// The encoded public key.
    pub(crate) fn public_key(&self) -> Vec<u8> {
        use ml_dsa::signature::Keypair as _;
        match self {
            Self::L44(key) => key.verifying_key().encode().to_vec(),
            Self::L65(key) => key.verifying_key().encode().to_vec(),
            Self::L87(key) => key.verifying_key().encode().to_vec(),
        }
    }

    /// An explicit deep copy.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::L44(key) => Self::L44(key.clone()),
            Self::L65(key) => Self::L65(key.clone()),
            Self::L87(key) => Self::L87(key.clone()),
        }
    }
}
