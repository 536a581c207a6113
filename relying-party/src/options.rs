//! Ceremony options in the spec's JSON forms:
//! [PublicKeyCredentialCreationOptionsJSON](https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialcreationoptionsjson)
//! and [PublicKeyCredentialRequestOptionsJSON](https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialrequestoptionsjson)
//! (§5.1.8–5.1.9): byte fields are base64url strings, so a page passes them to
//! `PublicKeyCredential.parseCreationOptionsFromJSON()` / `parseRequestOptionsFromJSON()` as they are.

use serde::{Deserialize, Serialize};

use crate::config::UserVerification;

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RpEntity {
    /// RP ID.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle: random, at most 64 bytes, no personal data.
    #[serde(with = "crate::b64::serde_bytes")]
    pub id: Vec<u8>,
    /// Account name (e.g. the username).
    pub name: String,
    /// Name shown by authenticators.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialParameters {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub credential_type: String,
    /// COSE algorithm identifier.
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialDescriptor {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub credential_type: String,
    /// Credential ID.
    #[serde(with = "crate::b64::serde_bytes")]
    pub id: Vec<u8>,
    /// Transport hints (`usb`, `internal`, `hybrid` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

impl CredentialDescriptor {
    /// A `public-key` descriptor.
    pub fn new(id: Vec<u8>, transports: Vec<String>) -> Self {
        Self {
            credential_type: "public-key".into(),
            id,
            transports,
        }
    }
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `discouraged`, `preferred` or `required`.
    pub resident_key: String,
    /// Legacy mirror of `residentKey == "required"`.
    pub require_resident_key: bool,
    /// UV requirement.
    pub user_verification: UserVerification,
}

/// `PublicKeyCredentialCreationOptionsJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptionsJson {
    /// The relying party.
    pub rp: RpEntity,
    /// The user account.
    pub user: UserEntity,
    /// Fresh random challenge.
    #[serde(with = "crate::b64::serde_bytes")]
    pub challenge: Vec<u8>,
    /// Acceptable algorithms, most preferred first.
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// Milliseconds hint.
    pub timeout: u32,
    /// Credentials the user already has (so the same authenticator is not registered twice).
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Authenticator requirements.
    pub authenticator_selection: AuthenticatorSelection,
    /// Attestation conveyance (`none` or `direct`).
    pub attestation: String,
    /// Client extension inputs.
    pub extensions: serde_json::Value,
}

/// `PublicKeyCredentialRequestOptionsJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptionsJson {
    /// Fresh random challenge.
    #[serde(with = "crate::b64::serde_bytes")]
    pub challenge: Vec<u8>,
    /// Milliseconds hint.
    pub timeout: u32,
    /// RP ID.
    pub rp_id: String,
    /// Empty for discoverable (username-less) sign-in.
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// UV requirement.
    pub user_verification: UserVerification,
}
