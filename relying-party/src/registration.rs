//! The registration ceremony
//! ([WebAuthn L3 §7.1](https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential)).

use std::time::SystemTime;

use sha2::Digest as _;

use crate::attestation::{AttestationObject, AttestationOutcome};
use crate::auth_data::AuthenticatorData;
use crate::client_data::{Ceremony, CollectedClientData};
use crate::config::{RelyingParty, UserVerification};
use crate::options::{
    AuthenticatorSelection, CreationOptionsJson, CredentialDescriptor, CredentialParameters,
    RpEntity, UserEntity,
};
use crate::response::RegistrationResponseJson;
use crate::{CredentialRecord, Error};

/// What the relying party remembers between issuing creation options and verifying the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationState {
    /// The issued challenge.
    pub challenge: Vec<u8>,
    /// The user handle the credential is for.
    pub user_id: Vec<u8>,
    /// UV requirement in force.
    pub user_verification: UserVerification,
    /// Algorithms offered in `pubKeyCredParams`.
    pub algorithms: Vec<i64>,
    /// When the challenge stops being accepted.
    pub expires_at: SystemTime,
}

/// A verified registration: the record to store and what attestation showed.
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    /// The new credential, ready for the store.
    pub credential: CredentialRecord,
    /// Attestation format, type and trust path.
    pub attestation: AttestationOutcome,
    /// Whether the user was verified (UV flag).
    pub user_verified: bool,
}

impl RelyingParty {
    /// Creation options for `user` with a fresh challenge, and the state to keep.
    pub fn start_registration(
        &self,
        user: UserEntity,
        exclude_credentials: Vec<CredentialDescriptor>,
        now: SystemTime,
    ) -> (CreationOptionsJson, RegistrationState) {
        let challenge = crate::challenge::random_challenge();
        let state = RegistrationState {
            challenge: challenge.clone(),
            user_id: user.id.clone(),
            user_verification: self.user_verification,
            algorithms: self.algorithms.clone(),
            expires_at: now + self.challenge_ttl,
        };
        let options = CreationOptionsJson {
            rp: RpEntity {
                id: self.rp_id.clone(),
                name: self.rp_name.clone(),
            },
            user,
            challenge,
            pub_key_cred_params: self
                .algorithms
                .iter()
                .map(|&alg| CredentialParameters {
                    credential_type: "public-key".into(),
                    alg,
                })
                .collect(),
            timeout: self.timeout_ms,
            exclude_credentials,
            authenticator_selection: AuthenticatorSelection {
                resident_key: "required".into(),
                require_resident_key: true,
                user_verification: self.user_verification,
            },
            attestation: if self.attestation.trust_anchors.is_empty() {
                "none"
            } else {
                "direct"
            }
            .into(),
            extensions: serde_json::json!({ "credProps": true }),
        };
        (options, state)
    }

    /// Verifies a registration response against `state`
    /// (steps of §7.1 numbered in comments). The caller still checks that the credential ID
    /// is not registered yet (step 24) and stores the record.
    pub fn finish_registration(
        &self,
        state: &RegistrationState,
        response: &RegistrationResponseJson,
        now: SystemTime,
    ) -> Result<VerifiedRegistration, Error> {
        if now > state.expires_at {
            return Err(Error::ChallengeExpired);
        }
        let credential_id = crate::response::credential_id(
            &response.id,
            &response.raw_id,
            &response.credential_type,
        )?;
        // 5–6. Decode and parse clientDataJSON.
        let client_data_json =
            crate::b64::decode(&response.response.client_data_json, "clientDataJSON")?;
        let client_data = CollectedClientData::parse(&client_data_json)?;
        // 7–11. type, challenge, origin, crossOrigin, topOrigin.
        client_data.verify(Ceremony::Create, &state.challenge, self)?;
        // 12. hash = SHA-256(clientDataJSON).
        let client_data_hash: [u8; 32] = sha2::Sha256::digest(&client_data_json).into();
        // 13. Decode the attestationObject.
        let attestation_object_bytes =
            crate::b64::decode(&response.response.attestation_object, "attestationObject")?;
        let attestation_object = AttestationObject::parse(&attestation_object_bytes)?;
        let auth_data = AuthenticatorData::parse(&attestation_object.raw_auth_data)?;
        check_flags(self, &auth_data, state.user_verification)?;
        // 19. The credential's algorithm is one we offered.
        let credential = auth_data
            .attested_credential_data
            .as_ref()
            .ok_or(Error::AttestedCredentialDataMissing)?;
        let algorithm = credential.public_key.algorithm();
        if !state.algorithms.contains(&algorithm) {
            return Err(Error::AlgorithmNotAllowed(algorithm));
        }
        // 23. (and §5.1) rawId is the credential ID in authenticator data.
        if credential.credential_id != credential_id {
            return Err(Error::CredentialIdMismatch);
        }
        // 20–22. Attestation statement per format, and the trust policy.
        let attestation =
            attestation_object.verify(&auth_data, &client_data_hash, &self.attestation, now)?;
        Ok(VerifiedRegistration {
            credential: CredentialRecord {
                credential_id,
                user_id: state.user_id.clone(),
                public_key_cose: credential.public_key_cose.clone(),
                algorithm,
                sign_count: auth_data.sign_count,
                backup_eligible: auth_data.backup_eligible(),
                backed_up: auth_data.backed_up(),
                user_verified: auth_data.user_verified(),
                aaguid: credential.aaguid,
                transports: response.response.transports.clone(),
                attestation_format: attestation.format.clone(),
            },
            user_verified: auth_data.user_verified(),
            attestation,
        })
    }
}

/// rpIdHash, UP, UV and BE/BS checks common to both ceremonies
/// (§7.1 steps 14–18, §7.2 steps 16–19).
pub(crate) fn check_flags(
    rp: &RelyingParty,
    auth_data: &AuthenticatorData<'_>,
    user_verification: UserVerification,
) -> Result<(), Error> {
    // rpIdHash is SHA-256 of our RP ID.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &auth_data.rp_id_hash[..],
        &rp.rp_id_hash()[..],
    )) {
        return Err(Error::RpIdHashMismatch);
    }
    // UP is set.
    if !auth_data.user_present() {
        return Err(Error::UserNotPresent);
    }
    // UV is set when required.
    if user_verification == UserVerification::Required && !auth_data.user_verified() {
        return Err(Error::UserNotVerified);
    }
    // BS without BE is invalid (§6.1 flags, §7.1 step 17).
    if auth_data.backed_up() && !auth_data.backup_eligible() {
        return Err(Error::BackupStateWithoutEligibility);
    }
    Ok(())
}
