//! CollectedClientData: parsing and the checks of
//! [WebAuthn L3 §7.1 steps 7–12](https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential)
//! and [§7.2 steps 10–15](https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion).

use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::config::{CrossOriginPolicy, RelyingParty};

/// Which ceremony a clientDataJSON belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// `navigator.credentials.create()`: `webauthn.create`.
    Create,
    /// `navigator.credentials.get()`: `webauthn.get`.
    Get,
}

impl Ceremony {
    fn type_name(self) -> &'static str {
        match self {
            Ceremony::Create => "webauthn.create",
            Ceremony::Get => "webauthn.get",
        }
    }
}

/// The fields of CollectedClientData ([§5.8.1](https://www.w3.org/TR/webauthn-3/#dictionary-client-data)) we check.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectedClientData {
    /// `webauthn.create` or `webauthn.get`.
    #[serde(rename = "type")]
    pub ceremony_type: String,
    /// The challenge, base64url.
    pub challenge: String,
    /// The origin of the calling document.
    pub origin: String,
    /// True when called from a cross-origin iframe.
    #[serde(default)]
    pub cross_origin: Option<bool>,
    /// The top-level origin, when cross-origin.
    #[serde(default)]
    pub top_origin: Option<String>,
}

impl CollectedClientData {
    /// Parses clientDataJSON (UTF-8 JSON; unknown members are ignored as the spec requires).
    pub fn parse(client_data_json: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(client_data_json)
            .map_err(|error| Error::MalformedClientData(error.to_string()))
    }

    /// The challenge bytes (base64url-decoded).
    pub fn challenge_bytes(&self) -> Result<Vec<u8>, Error> {
        crate::b64::decode(&self.challenge, "clientDataJSON.challenge")
    }

    /// Checks type, challenge, origin, crossOrigin and topOrigin.
    pub fn verify(
        &self,
        ceremony: Ceremony,
        expected_challenge: &[u8],
        rp: &RelyingParty,
    ) -> Result<(), Error> {
        // §7.1 step 7 / §7.2 step 11: type.
        if self.ceremony_type != ceremony.type_name() {
            return Err(Error::WrongCeremonyType {
                expected: ceremony.type_name(),
                found: self.ceremony_type.clone(),
            });
        }
        // Step 8 / 12: challenge equals the issued one.
        let challenge = self.challenge_bytes()?;
        if !bool::from(challenge.ct_eq(expected_challenge)) {
            return Err(Error::ChallengeMismatch);
        }
        // Step 9 / 13: origin is one the RP expects.
        if !rp.origins.contains(&self.origin) {
            return Err(Error::OriginMismatch(self.origin.clone()));
        }
        // Step 10–11 / 14–15: crossOrigin and topOrigin.
        if self.cross_origin == Some(true) {
            match (&rp.cross_origin, &self.top_origin) {
                (CrossOriginPolicy::Deny, _) => return Err(Error::CrossOriginNotAllowed),
                (CrossOriginPolicy::AllowAnyTopOrigin, _) => {}
                // An allow list needs the top origin to check it against.
                (CrossOriginPolicy::AllowTopOrigins(_), None) => {
                    return Err(Error::TopOriginMissing);
                }
                (CrossOriginPolicy::AllowTopOrigins(allowed), Some(top_origin)) => {
                    if !allowed.iter().any(|origin| origin == top_origin) {
                        return Err(Error::TopOriginNotAllowed(top_origin.clone()));
                    }
                }
            }
        } else if let Some(top_origin) = &self.top_origin
            && *top_origin != self.origin
        {
            // topOrigin present without crossOrigin: only consistent if same as origin.
            return Err(Error::TopOriginNotAllowed(top_origin.clone()));
        }
        Ok(())
    }
}
