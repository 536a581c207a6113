//! softkey-rp: a WebAuthn Level 3 relying party — verification library, SQLite
//! credential store and a demo web server — that verifies what *any* authenticator
//! sends. It knows nothing of softkey's authenticator; it is the other party.
//!
//! ```text
//!   start_registration / start_authentication ──► options JSON (base64url) ──► browser
//!          │ state (challenge, UV, algs)                                          │
//!          ▼                                                                      ▼
//!   ChallengeStore (single use, expiry)           PublicKeyCredential.toJSON() response
//!          │ take(challenge)                                                      │
//!          ▼                                                                      ▼
//!   finish_registration:   clientDataJSON ─► authenticatorData ─► COSE key ─► attestation
//!                          (type/challenge/   (rpIdHash, UP, UV,   (ECDSA,     (none, packed,
//!                           origin/topOrigin)  BE/BS, AT)           EdDSA, RSA, fido-u2f, x5c
//!                                                                   ML-DSA)     → trust anchors)
//!          │ CredentialRecord                                                     │
//!          ▼                                                                      │
//!   store::Store (SQLite: users, credentials) ◄── finish_authentication: signature over
//!                                                 authData ‖ SHA-256(clientDataJSON), counter
//! ```
//!
//! Specification: [WebAuthn Level 3](https://www.w3.org/TR/webauthn-3/) —
//! §5.1.8–5.1.9 options JSON forms, §5.8.1 client data, §6.1 authenticator data,
//! §6.5 attestation, §7.1 registration, §7.2 authentication, §8.2 `packed`,
//! §8.6 `fido-u2f`, §8.7 `none`; COSE keys per RFC 9052/9053.
//!
//! Every rejection is an [`Error`] with a stable [`Error::name`].
//! The demo server is [`server::serve`]; fuzz targets call the hidden `fuzzing` module
//! (feature `fuzzing`, off by default: product builds do not contain it).
#![forbid(unsafe_code)]

pub mod attestation;
pub mod auth_data;
mod authentication;
pub mod b64;
pub mod challenge;
pub mod client_data;
pub mod config;
pub mod cose;
mod error;
pub mod options;
mod registration;
pub mod response;
pub mod server;
pub mod store;

/// Entry points for the fuzz targets in `fuzz/` (one line each there): every parser
/// that sees bytes from the network. Not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing {
    /// attestationObject → authenticator data → COSE key → attestation statement checks.
    pub fn attestation_object(data: &[u8]) {
        if let Ok(object) = crate::attestation::AttestationObject::parse(data)
            && let Ok(auth_data) = crate::auth_data::AuthenticatorData::parse(&object.raw_auth_data)
        {
            let policy = crate::AttestationPolicy::default();
            let _ = object.verify(
                &auth_data,
                &[0; 32],
                &policy,
                std::time::SystemTime::UNIX_EPOCH,
            );
        }
    }

    /// Authenticator data (assertions).
    pub fn authenticator_data(data: &[u8]) {
        let _ = crate::auth_data::AuthenticatorData::parse(data);
    }

    /// clientDataJSON and its checks.
    pub fn client_data(data: &[u8]) {
        if let Ok(client_data) = crate::client_data::CollectedClientData::parse(data) {
            let rp = crate::RelyingParty::new("localhost", "fuzz", vec!["http://localhost".into()]);
            let _ = client_data.verify(crate::client_data::Ceremony::Get, b"challenge", &rp);
        }
    }

    /// A COSE_Key and a signature check with it.
    pub fn cose_key(data: &[u8]) {
        if let Ok(key) = crate::cose::PublicKey::from_cose(data) {
            let _ = key.verify(b"message", data);
        }
    }
}

pub use attestation::{AttestationOutcome, AttestationType, TrustPath};
pub use authentication::{AuthenticationState, VerifiedAuthentication, asserted_credential_id};
pub use config::{AttestationPolicy, CrossOriginPolicy, RelyingParty, UserVerification};
pub use error::Error;
pub use registration::{RegistrationState, VerifiedRegistration};

/// A registered credential as the relying party keeps it (§4 "credential record").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Credential ID.
    pub credential_id: Vec<u8>,
    /// User handle of the owner.
    pub user_id: Vec<u8>,
    /// The COSE_Key bytes.
    pub public_key_cose: Vec<u8>,
    /// COSE algorithm of the key.
    pub algorithm: i64,
    /// Last seen signature counter.
    pub sign_count: u32,
    /// BE flag at registration (must never change).
    pub backup_eligible: bool,
    /// BS flag last seen.
    pub backed_up: bool,
    /// UV flag at registration.
    pub user_verified: bool,
    /// The authenticator model's AAGUID.
    pub aaguid: [u8; 16],
    /// Transports reported at registration.
    pub transports: Vec<String>,
    /// Attestation statement format at registration.
    pub attestation_format: String,
}

#[cfg(test)]
mod tests;
