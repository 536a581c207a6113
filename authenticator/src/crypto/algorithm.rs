//! The COSE algorithms softkey makes credentials for: their identifiers and
//! names (IANA COSE registry, RFC 9864), and the sizes that follow from each
//! (see the table in [`super`]).

use super::{ml_dsa, rsa};

/// A COSE signature algorithm softkey can create credentials for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA with SHA-256 on P-256 (COSE -7).
    Es256,
    /// EdDSA on Ed25519 (COSE -8).
    EdDsa,
    /// ECDSA with SHA-384 on P-384 (COSE -35).
    Es384,
    /// ECDSA with SHA-512 on P-521 (COSE -36).
    Es512,
    /// ECDSA with SHA-256 on secp256k1 (COSE -47, RFC 8812).
    Es256K,
    /// RSASSA-PSS with SHA-256, RSA-2048 (COSE -37, RFC 8230).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048 (COSE -257, RFC 8812).
    Rs256,
    /// ML-DSA-44 (COSE -48, FIPS 204).
    MlDsa44,
    /// ML-DSA-65 (COSE -49, FIPS 204).
    MlDsa65,
    /// ML-DSA-87 (COSE -50, FIPS 204).
    MlDsa87,
    /// ECDSA with SHA-256 on P-256, fully specified (COSE -9, RFC 9864).
    Esp256,
    /// ECDSA with SHA-384 on P-384, fully specified (COSE -51, RFC 9864).
    Esp384,
    /// ECDSA with SHA-512 on P-521, fully specified (COSE -52, RFC 9864).
    Esp512,
    /// EdDSA on Ed25519, fully specified (COSE -19, RFC 9864).
    Ed25519,
}

/// What a credential's private key is, whatever its algorithm's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyKind {
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    Rsa(rsa::Padding),
    MlDsa(ml_dsa::Level),
}

impl Algorithm {
    /// Every algorithm softkey implements, in the order getInfo lists them
    /// (ES256 first, then EdDSA, then the rest).
    pub const ALL: [Algorithm; 14] = [
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::Es256K,
        Algorithm::Ps256,
        Algorithm::Rs256,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::MlDsa87,
        Algorithm::Esp256,
        Algorithm::Esp384,
        Algorithm::Esp512,
        Algorithm::Ed25519,
    ];

    /// What an authenticator offers unless configured otherwise: ES256 and
    /// EdDSA, which every platform and relying party knows. (Older clients
    /// may not parse unknown identifiers in getInfo, RSA key generation is
    /// slow, and an ML-DSA attestation fills a CTAPHID message.)
    pub const DEFAULT: [Algorithm; 2] = [Algorithm::Es256, Algorithm::EdDsa];

    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::EdDsa => -8,
            Self::Es384 => -35,
            Self::Es512 => -36,
            Self::Es256K => -47,
            Self::Ps256 => -37,
            Self::Rs256 => -257,
            Self::MlDsa44 => -48,
            Self::MlDsa65 => -49,
            Self::MlDsa87 => -50,
            Self::Esp256 => -9,
            Self::Esp384 => -51,
            Self::Esp512 => -52,
            Self::Ed25519 => -19,
        }
    }

    /// The algorithm for a COSE identifier, if implemented.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.cose_id() == id)
    }

    /// The IANA COSE name ("ES256", "EdDSA", "ML-DSA-65" …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::Es256K => "ES256K",
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
            Self::MlDsa44 => "ML-DSA-44",
            Self::MlDsa65 => "ML-DSA-65",
            Self::MlDsa87 => "ML-DSA-87",
            Self::Esp256 => "ESP256",
            Self::Esp384 => "ESP384",
            Self::Esp512 => "ESP512",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The algorithm named `name` (its IANA COSE name, any case), if implemented.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(name))
    }

    pub(super) fn kind(self) -> KeyKind {
        match self {
            Self::Es256 | Self::Esp256 => KeyKind::P256,
            Self::Es384 | Self::Esp384 => KeyKind::P384,
            Self::Es512 | Self::Esp512 => KeyKind::P521,
            Self::Es256K => KeyKind::Secp256k1,
            Self::EdDsa | Self::Ed25519 => KeyKind::Ed25519,
            Self::Ps256 => KeyKind::Rsa(rsa::Padding::Pss),
            Self::Rs256 => KeyKind::Rsa(rsa::Padding::Pkcs1v15),
            Self::MlDsa44 => KeyKind::MlDsa(ml_dsa::Level::L44),
            Self::MlDsa65 => KeyKind::MlDsa(ml_dsa::Level::L65),
            Self::MlDsa87 => KeyKind::MlDsa(ml_dsa::Level::L87),
        }
    }

    /// Whether making a key takes long enough to matter for keepalives (RSA:
    /// a fifth of a second on average, seconds in the tail).
    pub fn slow_keygen(self) -> bool {
        matches!(self.kind(), KeyKind::Rsa(_))
    }

    /// The longest signature this algorithm makes, in bytes (DER ECDSA at
    /// its longest).
    pub fn max_signature_len(self) -> usize {
        match self.kind() {
            KeyKind::P256 | KeyKind::Secp256k1 => 72,
            KeyKind::P384 => 104,
            KeyKind::P521 => 139,
            KeyKind::Ed25519 => 64,
            KeyKind::Rsa(_) => rsa::MODULUS_LEN,
            KeyKind::MlDsa(level) => level.signature_len(),
        }
    }

    /// The length of the stored private key (see the module table).
    pub fn stored_secret_len(self) -> usize {
        match self.kind() {
            KeyKind::P256 | KeyKind::Secp256k1 | KeyKind::Ed25519 => 32,
            KeyKind::P384 => 48,
            KeyKind::P521 => 66,
            KeyKind::Rsa(_) => rsa::STORED_LEN,
            KeyKind::MlDsa(_) => ml_dsa::SEED_LEN,
        }
    }

    /// Whether the credential record keeps a public key beside the secret
    /// (Ed25519: see [`PrivateKey::stored_public_key`]).
    pub fn stores_public_key(self) -> bool {
        self.kind() == KeyKind::Ed25519
    }

    /// The length of the COSE_Key this algorithm's public keys encode to.
    pub fn cose_public_key_len(self) -> usize {
        // Map head, kty (key and value), alg (key, then a 1- to 3-byte integer).
        let alg = match self.cose_id() {
            -24..=23 => 1,
            -256..=255 => 2,
            _ => 3,
        };
        let head = 1 + 2 + 1 + alg;
        // A labelled byte string of 24 to 255 bytes: label, 2-byte head, bytes.
        let field = |len: usize| 1 + 2 + len;
        head + match self.kind() {
            // crv, x, y.
            KeyKind::P256 | KeyKind::Secp256k1 => 2 + 2 * field(32),
            KeyKind::P384 => 2 + 2 * field(48),
            KeyKind::P521 => 2 + 2 * field(66),
            // crv, x.
            KeyKind::Ed25519 => 2 + field(32),
            // n (a 3-byte head), e (3 bytes).
            KeyKind::Rsa(_) => 1 + 3 + rsa::MODULUS_LEN + 1 + 1 + rsa::PUBLIC_EXPONENT.len(),
            // pub (a 3-byte head).
            KeyKind::MlDsa(level) => 1 + 3 + level.public_key_len(),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|alg| alg.name()).collect();
            format!("unknown algorithm {name:?} (known: {})", known.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_and_identifiers_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(
                Algorithm::from_cose_id(algorithm.cose_id()),
                Some(algorithm)
            );
            assert_eq!(algorithm.name().parse::<Algorithm>(), Ok(algorithm));
            assert_eq!(
                algorithm.name().to_lowercase().parse::<Algorithm>(),
                Ok(algorithm)
            );
        }
        assert_eq!(Algorithm::ALL[0], Algorithm::Es256);
        assert_eq!(Algorithm::from_cose_id(-65535), None);
        assert!("ES999".parse::<Algorithm>().is_err());
    }
}
