//! base64url as WebAuthn's JSON forms use it (RFC 4648 §5, no padding on output,
//! padding tolerated on input).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

/// Decodes base64url (padded or not); `field` names the field in the error.
pub fn decode(text: &str, field: &'static str) -> Result<Vec<u8>, crate::Error> {
    ENGINE.decode(text).map_err(|_| crate::Error::Base64(field))
}

/// Serde adapter: `Vec<u8>` as base64url string.
pub mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as base64url.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    /// Deserializes base64url into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode(&text, "bytes").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_padding_tolerance() {
        assert_eq!(super::encode(b"\xfb\xff"), "-_8");
        assert_eq!(super::decode("-_8", "x").expect("valid"), b"\xfb\xff");
        assert_eq!(super::decode("-_8=", "x").expect("padded"), b"\xfb\xff");
        assert!(super::decode("+/8", "x").is_err());
    }
}
