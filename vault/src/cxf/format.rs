//! CXF v1.0 JSON as serde types: what softkey writes (borrowing from the
//! credentials it exports, secrets encoded straight into zeroizing buffers)
//! and what it reads.
//!
//! Reading is two-level, so that no copy of a key is left behind in freed
//! memory and other credential kinds cannot trip the parser: the header,
//! accounts and items are parsed with every credential kept as a borrowed
//! [`RawValue`] (a slice of the decrypted input); a credential is parsed
//! again, strictly, only if its `type` is `passkey`. Members softkey does not
//! use are skipped unread (serde's `IgnoredAny` copies nothing), members it
//! does not know are ignored (CXF lets an exporter add them), and a member
//! it uses with the wrong JSON type fails the file.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

/// The CXF major version softkey reads and writes.
pub(crate) const MAJOR: u8 = 1;
/// The CXF minor version softkey writes.
pub(crate) const MINOR: u8 = 0;
/// The `hmacCredentials.algorithm` of hmac-secret / PRF.
pub(crate) const HMAC_SHA256: &str = "hmac-sha256";
/// The `name` of softkey's item extension (what CXF has no member for).
pub(crate) const SOFTKEY_EXTENSION: &str = "softkey";

// ---------------------------------------------------------------- writing

/// Bytes written as unpadded base64url.
pub(crate) struct B64<'a>(pub(crate) &'a [u8]);

impl Serialize for B64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// Secret bytes written as unpadded base64url, encoded into a zeroizing
/// buffer of its final size (serde_json writes the text straight to its
/// output, so no other copy is made).
pub(crate) struct SecretB64<'a>(pub(crate) &'a [u8]);

impl Serialize for SecretB64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = base64::encoded_len(self.0.len(), false).expect("secrets are small");
        let mut text = Zeroizing::new(vec![0u8; len]);
        let written = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut text[..])
            .expect("the buffer has the encoded length");
        let text = std::str::from_utf8(&text[..written]).expect("base64 is ASCII");
        serializer.serialize_str(text)
    }
}

/// The CXF header of an export (one account).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeaderOut<'a> {
    pub(crate) version: VersionOut,
    pub(crate) exporter_rp_id: &'a str,
    pub(crate) exporter_display_name: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) accounts: [AccountOut<'a>; 1],
}

/// `version`.
#[derive(Serialize)]
pub(crate) struct VersionOut {
    pub(crate) major: u8,
    pub(crate) minor: u8,
}

/// An account.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountOut<'a> {
    pub(crate) id: B64<'a>,
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) collections: [(); 0],
    pub(crate) items: Vec<ItemOut<'a>>,
}

/// An item holding one passkey.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemOut<'a> {
    pub(crate) id: B64<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) creation_at: Option<u64>,
    pub(crate) title: &'a str,
    pub(crate) credentials: [PasskeyOut<'a>; 1],
    pub(crate) extensions: [SoftkeyExtensionOut; 1],
}

/// softkey's item extension: what a passkey has beyond CXF's members.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SoftkeyExtensionOut {
    pub(crate) name: &'static str,
    /// credProtect level (1–3).
    pub(crate) cred_protect: u8,
}

/// A passkey credential.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasskeyOut<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) credential_id: B64<'a>,
    pub(crate) rp_id: &'a str,
    pub(crate) username: &'a str,
    pub(crate) user_display_name: &'a str,
    pub(crate) user_handle: B64<'a>,
    pub(crate) key: SecretB64<'a>,
    #[serde(skip_serializing_if = "Fido2ExtensionsOut::is_empty")]
    pub(crate) fido2_extensions: Fido2ExtensionsOut<'a>,
}

/// `fido2Extensions`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Fido2ExtensionsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hmac_credentials: Option<HmacCredentialsOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cred_blob: Option<SecretB64<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) large_blob: Option<LargeBlobOut<'a>>,
    /// A payment credential (CTAP 2.2 thirdPartyPayment); written only when true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payments: Option<bool>,
}

impl Fido2ExtensionsOut<'_> {
    fn is_empty(&self) -> bool {
        self.hmac_credentials.is_none()
            && self.cred_blob.is_none()
            && self.large_blob.is_none()
            && self.payments.is_none()
    }
}

/// `hmacCredentials`: the hmac-secret CredRandoms.
#[derive(Serialize)]
pub(crate) struct HmacCredentialsOut<'a> {
    pub(crate) algorithm: &'static str,
    #[serde(rename = "credWithUV")]
    pub(crate) cred_with_uv: SecretB64<'a>,
    #[serde(rename = "credWithoutUV")]
    pub(crate) cred_without_uv: SecretB64<'a>,
}

/// `largeBlob`: the DEFLATE-compressed blob as the authenticator stored it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LargeBlobOut<'a> {
    pub(crate) uncompressed_size: u64,
    pub(crate) data: SecretB64<'a>,
}

// ---------------------------------------------------------------- reading

/// The header as read: everything but the accounts is checked for its type
/// only where softkey uses it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeaderIn<'a> {
    pub(crate) version: VersionIn,
    #[serde(borrow)]
    pub(crate) accounts: Vec<AccountIn<'a>>,
}

/// `version`.
#[derive(Deserialize)]
pub(crate) struct VersionIn {
    pub(crate) major: u64,
    pub(crate) minor: u64,
}

/// An account as read.
#[derive(Deserialize)]
pub(crate) struct AccountIn<'a> {
    #[serde(default, borrow)]
    pub(crate) items: Vec<ItemIn<'a>>,
}

/// An item as read: its credentials unparsed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemIn<'a> {
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default, borrow)]
    pub(crate) credentials: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) extensions: Vec<&'a RawValue>,
}

/// A credential's `type`, all other members skipped.
#[derive(Deserialize)]
pub(crate) struct KindIn {
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

/// An item extension's `name`, all other members skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExtensionIn {
    #[serde(default)]
    pub(crate) name: Option<IgnoredOrText>,
}

/// softkey's item extension, parsed strictly once its name is known.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SoftkeyExtensionIn {
    #[serde(default)]
    pub(crate) cred_protect: Option<u8>,
}

/// A text member of a foreign extension, or anything else (skipped).
pub(crate) enum IgnoredOrText {
    /// It was text.
    Text(String),
    /// It was not.
    Other,
}

impl<'de> Deserialize<'de> for IgnoredOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrSkip;
        impl<'de> Visitor<'de> for TextOrSkip {
            type Value = IgnoredOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Text(text.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IgnoredOrText::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IgnoredOrText::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IgnoredOrText::Other)
            }
        }
        deserializer.deserialize_any(TextOrSkip)
    }
}

/// A passkey credential as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasskeyIn {
    pub(crate) credential_id: BytesIn,
    pub(crate) rp_id: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) user_display_name: Option<String>,
    pub(crate) user_handle: BytesIn,
    #[serde(default)]
    pub(crate) key: Option<SecretIn>,
    #[serde(default)]
    pub(crate) fido2_extensions: Option<Fido2ExtensionsIn>,
}

/// `fido2Extensions` as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Fido2ExtensionsIn {
    #[serde(default)]
    pub(crate) hmac_credentials: Option<HmacCredentialsIn>,
    #[serde(default)]
    pub(crate) cred_blob: Option<SecretIn>,
    #[serde(default)]
    pub(crate) large_blob: Option<LargeBlobIn>,
    #[serde(default)]
    pub(crate) payments: Option<bool>,
}

/// `hmacCredentials` as read.
#[derive(Deserialize)]
pub(crate) struct HmacCredentialsIn {
    pub(crate) algorithm: String,
    #[serde(rename = "credWithUV")]
    pub(crate) cred_with_uv: SecretIn,
    #[serde(rename = "credWithoutUV")]
    pub(crate) cred_without_uv: SecretIn,
}

/// `largeBlob` as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LargeBlobIn {
    pub(crate) uncompressed_size: u64,
    pub(crate) data: SecretIn,
}

/// Decodes base64url text (padding and the standard alphabet's `+/`
/// tolerated, as exporters differ) into `out`, which has room for it.
fn decode_b64_into(text: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeSliceError> {
    let trimmed = text.trim_end_matches('=');
    let len = base64::decoded_len_estimate(trimmed.len());
    out.resize(len, 0);
    let written = if trimmed.contains(['+', '/']) {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode_slice(trimmed, &mut out[..])?
    } else {
        URL_SAFE_NO_PAD.decode_slice(trimmed, &mut out[..])?
    };
    out.truncate(written);
    Ok(())
}

fn not_base64<E: de::Error>(_: base64::DecodeSliceError) -> E {
    E::custom("not base64url")
}

/// Non-secret bytes read from base64url.
pub(crate) struct BytesIn(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for BytesIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = BytesIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64url string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                let mut out = Vec::new();
                decode_b64_into(text, &mut out).map_err(not_base64)?;
                Ok(BytesIn(out))
            }
        }
        deserializer.deserialize_str(Bytes)
    }
}

/// Secret bytes read from base64url into a zeroizing buffer of their size
/// (a text without escapes is borrowed from the input, never copied).
pub(crate) struct SecretIn(pub(crate) Zeroizing<Vec<u8>>);

impl<'de> Deserialize<'de> for SecretIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Secret;
        impl Visitor<'_> for Secret {
            type Value = SecretIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64url string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                let capacity = base64::decoded_len_estimate(text.len());
                let mut out = Zeroizing::new(Vec::with_capacity(capacity));
                decode_b64_into(text, &mut out).map_err(not_base64)?;
                Ok(SecretIn(out))
            }
        }
        deserializer.deserialize_str(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_base64_round_trips_and_tolerates_padding_and_the_standard_alphabet() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = serde_json::to_string(&SecretB64(&bytes)).unwrap();
        assert!(!text.contains(['=', '+', '/']));
        let back: SecretIn = serde_json::from_str(&text).unwrap();
        assert_eq!(&back.0[..], &bytes[..]);
        let padded = format!(
            "\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        let back: SecretIn = serde_json::from_str(&padded).unwrap();
        assert_eq!(&back.0[..], &bytes[..]);
        let back: BytesIn = serde_json::from_str(&padded).unwrap();
        assert_eq!(back.0, bytes);
        assert!(serde_json::from_str::<SecretIn>("\"not base64!\"").is_err());
        assert!(serde_json::from_str::<BytesIn>("17").is_err());
    }

    #[test]
    fn foreign_credentials_and_extensions_are_kept_raw() {
        let item: ItemIn<'_> = serde_json::from_str(
            r#"{"id": "aQ", "title": "x", "credentials": [{"type": "note", "content": {"value": 1}}],
                "extensions": [{"name": {"odd": true}}, {"name": "softkey", "credProtect": 3}]}"#,
        )
        .unwrap();
        assert_eq!(item.credentials.len(), 1);
        let kind: KindIn = serde_json::from_str(item.credentials[0].get()).unwrap();
        assert_eq!(kind.kind, "note");
        let first: ExtensionIn = serde_json::from_str(item.extensions[0].get()).unwrap();
        assert!(matches!(first.name, Some(IgnoredOrText::Other)));
        let second: SoftkeyExtensionIn = serde_json::from_str(item.extensions[1].get()).unwrap();
        assert_eq!(second.cred_protect, Some(3));
    }
}
