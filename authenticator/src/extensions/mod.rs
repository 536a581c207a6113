//! CTAP2 extensions (CTAP 2.1 §12, CTAP 2.2 §12): one module each.
//!
//! ```text
//!  request 0x06/0x04 ──parse──► MakeCredentialInputs / GetAssertionInputs
//!        (validated before the touch; errors leave before the prompt)
//!  after the touch ──► credential fields (credProtect, CredRandom, …)
//!                  └─► authData extensions map (canonical CBOR)
//! ```
//!
//! Unknown extensions are ignored, as the spec wants. getInfo lists
//! [`SUPPORTED`] and nothing else.

pub mod cred_blob;
pub mod cred_protect;
pub mod hmac_secret;
pub mod large_blob_key;
pub mod pin_complexity_policy;
pub mod third_party_payment;

use ciborium::Value;

use crate::cbor::text;
use crate::pin::KeyAgreementKey;
use crate::status::StatusCode;

/// The extension identifiers getInfo lists (0x02), in a fixed order.
pub const SUPPORTED: &[&str] = &[
    cred_protect::NAME,
    cred_blob::NAME,
    hmac_secret::NAME,
    hmac_secret::MC_NAME,
    large_blob_key::NAME,
    "minPinLength",
    pin_complexity_policy::NAME,
    third_party_payment::NAME,
];

/// The makeCredential extension inputs this authenticator understands.
#[derive(Debug, Default)]
pub struct MakeCredentialInputs {
    /// credProtect: the requested level (1–3).
    pub cred_protect: Option<cred_protect::Level>,
    /// hmac-secret: true (make CredRandoms).
    pub hmac_secret: bool,
    /// hmac-secret-mc: salts to evaluate at creation (with hmac-secret).
    pub hmac_secret_mc: Option<hmac_secret::Salts>,
    /// credBlob: the blob to keep (any length; [`cred_blob::fits`] decides).
    pub cred_blob: Option<Vec<u8>>,
    /// largeBlobKey: true (discoverable credentials only).
    pub large_blob_key: bool,
    /// minPinLength: true.
    pub min_pin_length: bool,
    /// pinComplexityPolicy: true.
    pub pin_complexity_policy: bool,
    /// thirdPartyPayment: true (mark the credential).
    pub third_party_payment: bool,
}

impl MakeCredentialInputs {
    /// Reads the known inputs; unknown names are ignored, a known one of the
    /// wrong type is `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`. Salts are opened with
    /// the current `key_agreement` key.
    pub fn parse(
        extensions: Option<&[(String, Value)]>,
        key_agreement: &KeyAgreementKey,
    ) -> Result<Self, StatusCode> {
        let mut inputs = Self::default();
        let mut mc_salts = None;
        for (name, value) in extensions.unwrap_or_default() {
            match name.as_str() {
                cred_protect::NAME => inputs.cred_protect = cred_protect::Level::parse(value)?,
                hmac_secret::NAME => inputs.hmac_secret = hmac_secret::parse_flag(value)?,
                hmac_secret::MC_NAME => mc_salts = Some(value),
                cred_blob::NAME => inputs.cred_blob = Some(cred_blob::parse_blob(value)?),
                large_blob_key::NAME => inputs.large_blob_key = large_blob_key::parse(value)?,
                "minPinLength" => inputs.min_pin_length = *value == Value::Bool(true),
                pin_complexity_policy::NAME => {
                    inputs.pin_complexity_policy = pin_complexity_policy::parse(value)?;
                }
                third_party_payment::NAME => {
                    inputs.third_party_payment = third_party_payment::parse(value)?;
                }
                _ => {}
            }
        }
        // hmac-secret-mc only means something next to "hmac-secret": true.
        if let Some(value) = mc_salts
            && inputs.hmac_secret
        {
            inputs.hmac_secret_mc = Some(hmac_secret::Salts::parse(value.clone(), key_agreement)?);
        }
        Ok(inputs)
    }
}

/// The getAssertion extension inputs this authenticator understands.
#[derive(Debug, Default)]
pub struct GetAssertionInputs {
    /// hmac-secret: the salts, opened.
    pub hmac_secret: Option<hmac_secret::Salts>,
    /// credBlob: true (return the blob).
    pub cred_blob: bool,
    /// largeBlobKey: true (return the credential's key).
    pub large_blob_key: bool,
    /// thirdPartyPayment: true (report the credential's mark).
    pub third_party_payment: bool,
}

impl GetAssertionInputs {
    /// Reads the known inputs; unknown names are ignored. `up`: the request's
    /// "up" option (true when absent).
    ///
    /// hmac-secret is refused outright on a silent request, before its salts
    /// are opened: "If "up" is set to false, the authenticator returns
    /// CTAP2_ERR_UNSUPPORTED_OPTION" is the first step of its getAssertion
    /// processing (CTAP 2.2, hmac-secret extension; CTAP 2.1 §12.5). credBlob
    /// and largeBlobKey have no such step (CTAP 2.1 §12.2, §12.3): a silent assertion returns them for
    /// the credentials credProtect lets it see.
    pub fn parse(
        extensions: Option<&[(String, Value)]>,
        key_agreement: &KeyAgreementKey,
        up: bool,
    ) -> Result<Self, StatusCode> {
        let mut inputs = Self::default();
        for (name, value) in extensions.unwrap_or_default() {
            match name.as_str() {
                hmac_secret::NAME => {
                    if !up {
                        return Err(StatusCode::UnsupportedOption);
                    }
                    inputs.hmac_secret =
                        Some(hmac_secret::Salts::parse(value.clone(), key_agreement)?);
                }
                cred_blob::NAME => inputs.cred_blob = cred_blob::parse_request(value)?,
                large_blob_key::NAME => inputs.large_blob_key = large_blob_key::parse(value)?,
                third_party_payment::NAME => {
                    inputs.third_party_payment = third_party_payment::parse(value)?;
                }
                _ => {}
            }
        }
        Ok(inputs)
    }
}

/// An authData extensions map being built: `None` when nothing was added
/// (then the ED flag stays clear).
#[derive(Debug, Default)]
pub struct Outputs(Vec<(Value, Value)>);

impl Outputs {
    /// Adds one extension output.
    pub fn push(&mut self, name: &str, value: Value) {
        self.0.push((text(name), value));
    }

    /// The map, if any output was added.
    pub fn into_value(self) -> Option<Value> {
        (!self.0.is_empty()).then_some(Value::Map(self.0))
    }
}
