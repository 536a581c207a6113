//! The credential as the browser's `PublicKeyCredential.toJSON()` gives it
//! ([RegistrationResponseJSON / AuthenticationResponseJSON, §5.1](https://www.w3.org/TR/webauthn-3/#dictdef-registrationresponsejson)).

use serde::Deserialize;

use crate::Error;

/// `AuthenticatorAttestationResponseJSON` (the fields we use).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponseJson {
    /// base64url clientDataJSON.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url attestationObject.
    pub attestation_object: String,
    /// Transports the authenticator reported.
    #[serde(default)]
    pub transports: Vec<String>,
}

/// `RegistrationResponseJSON`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponseJson {
    /// base64url credential ID.
    pub id: String,
    /// base64url credential ID (same as `id`).
    pub raw_id: String,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub credential_type: String,
    /// The authenticator's response.
    pub response: AttestationResponseJson,
    /// Client extension outputs.
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponseJson {
    /// base64url clientDataJSON.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url authenticatorData.
    pub authenticator_data: String,
    /// base64url signature.
    pub signature: String,
    /// base64url user handle (present for discoverable credentials).
    #[serde(default)]
    pub user_handle: Option<String>,
}

/// `AuthenticationResponseJSON`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponseJson {
    /// base64url credential ID.
    pub id: String,
    /// base64url credential ID (same as `id`).
    pub raw_id: String,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub credential_type: String,
    /// The authenticator's response.
    pub response: AssertionResponseJson,
}

/// Decodes `id`/`rawId`, which must agree, and checks `type`.
pub(crate) fn credential_id(
    id: &str,
    raw_id: &str,
    credential_type: &str,
) -> Result<Vec<u8>, Error> {
    if credential_type != "public-key" {
        return Err(Error::MalformedResponse(format!(
            "type is {credential_type:?}, not \"public-key\""
        )));
    }
    let raw = crate::b64::decode(raw_id, "rawId")?;
    if crate::b64::decode(id, "id")? != raw {
        return Err(Error::MalformedResponse("id and rawId differ".into()));
    }
    Ok(raw)
}
