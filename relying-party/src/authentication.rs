//! The authentication ceremony
//! ([WebAuthn L3 §7.2](https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion)).

use std::time::SystemTime;

use sha2::Digest as _;

use crate::auth_data::AuthenticatorData;
use crate::client_data::{Ceremony, CollectedClientData};
use crate::config::{RelyingParty, UserVerification};
use crate::cose::PublicKey;
use crate::options::{CredentialDescriptor, RequestOptionsJson};
use crate::response::AuthenticationResponseJson;
use crate::{CredentialRecord, Error};

/// What the relying party remembers between issuing request options and verifying the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationState {
    /// The issued challenge.
    pub challenge: Vec<u8>,
    /// The credentials offered in `allowCredentials`; empty for discoverable sign-in.
    pub allow_credentials: Vec<Vec<u8>>,
    /// UV requirement in force.
    pub user_verification: UserVerification,
    /// When the challenge stops being accepted.
    pub expires_at: SystemTime,
}

/// A verified assertion: what the caller writes back to the credential record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthentication {
    /// The credential used.
    pub credential_id: Vec<u8>,
    /// The user the credential belongs to.
    pub user_id: Vec<u8>,
    /// The new signature counter to store.
    pub sign_count: u32,
    /// The BS flag now (store it).
    pub backed_up: bool,
    /// True when BS differs from the stored value (§7.2 step 19: record it).
    pub backup_state_changed: bool,
    /// UV flag.
    pub user_verified: bool,
}

/// The credential ID an assertion claims, for looking the record up before verifying.
pub fn asserted_credential_id(response: &AuthenticationResponseJson) -> Result<Vec<u8>, Error> {
    crate::response::credential_id(&response.id, &response.raw_id, &response.credential_type)
}

impl RelyingParty {
    /// Request options with a fresh challenge: with `allow_credentials` for a known user,
    /// empty for username-less (discoverable / conditional mediation) sign-in.
    pub fn start_authentication(
        &self,
        allow_credentials: Vec<CredentialDescriptor>,
        now: SystemTime,
    ) -> (RequestOptionsJson, AuthenticationState) {
        let challenge = crate::challenge::random_challenge();
        let state = AuthenticationState {
            challenge: challenge.clone(),
            allow_credentials: allow_credentials
                .iter()
                .map(|descriptor| descriptor.id.clone())
                .collect(),
            user_verification: self.user_verification,
            expires_at: now + self.challenge_ttl,
        };
        let options = RequestOptionsJson {
            challenge,
            timeout: self.timeout_ms,
            rp_id: self.rp_id.clone(),
            allow_credentials,
            user_verification: self.user_verification,
        };
        (options, state)
    }

    /// Verifies an assertion made with `credential` (which the caller looked up by
    /// [`asserted_credential_id`]); steps of §7.2 numbered in comments.
    pub fn finish_authentication(
        &self,
        state: &AuthenticationState,
        response: &AuthenticationResponseJson,
        credential: &CredentialRecord,
        now: SystemTime,
    ) -> Result<VerifiedAuthentication, Error> {
        if now > state.expires_at {
            return Err(Error::ChallengeExpired);
        }
        let credential_id = asserted_credential_id(response)?;
        if credential_id != credential.credential_id {
            return Err(Error::UnknownCredential);
        }
        // 5. If allowCredentials was given, the credential is one of them.
        if !state.allow_credentials.is_empty() && !state.allow_credentials.contains(&credential_id)
        {
            return Err(Error::UnknownCredential);
        }
        // 6. The user handle, when given, is the credential's owner; discoverable sign-in needs it.
        match &response.response.user_handle {
            Some(handle)
                if !handle.is_empty()
                    && crate::b64::decode(handle, "userHandle")? != credential.user_id =>
            {
                return Err(Error::UserHandleMismatch);
            }
            Some(handle) if !handle.is_empty() => {}
            _ if state.allow_credentials.is_empty() => return Err(Error::UserHandleMismatch),
            _ => {}
        }
        let client_data_json =
            crate::b64::decode(&response.response.client_data_json, "clientDataJSON")?;
        let auth_data_bytes =
            crate::b64::decode(&response.response.authenticator_data, "authenticatorData")?;
        let signature = crate::b64::decode(&response.response.signature, "signature")?;
        // 9–15. clientDataJSON: type, challenge, origin, crossOrigin, topOrigin.
        let client_data = CollectedClientData::parse(&client_data_json)?;
        client_data.verify(Ceremony::Get, &state.challenge, self)?;
        // 16–18 and the BS-needs-BE rule of 19.
        let auth_data = AuthenticatorData::parse(&auth_data_bytes)?;
        crate::registration::check_flags(self, &auth_data, state.user_verification)?;
        // 19. BE must not change from what was registered.
        if auth_data.backup_eligible() != credential.backup_eligible {
            return Err(Error::BackupEligibilityChanged);
        }
        // 21–22. The signature over authenticatorData ‖ SHA-256(clientDataJSON).
        let public_key = PublicKey::from_cose(&credential.public_key_cose)?;
        let client_data_hash = sha2::Sha256::digest(&client_data_json);
        let mut signed = Vec::with_capacity(auth_data_bytes.len() + 32);
        signed.extend_from_slice(&auth_data_bytes);
        signed.extend_from_slice(&client_data_hash);
        public_key.verify(&signed, &signature)?;
        // 23. Signature counter: if either is non-zero, the new one must be greater.
        let received = auth_data.sign_count;
        if (received != 0 || credential.sign_count != 0) && received <= credential.sign_count {
            return Err(Error::CounterRegression {
                stored: credential.sign_count,
                received,
            });
        }
        Ok(VerifiedAuthentication {
            credential_id,
            user_id: credential.user_id.clone(),
            sign_count: received,
            backed_up: auth_data.backed_up(),
            backup_state_changed: auth_data.backed_up() != credential.backed_up,
            user_verified: auth_data.user_verified(),
        })
    }
}
