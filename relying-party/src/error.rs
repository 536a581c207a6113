//! Every way a ceremony can be rejected, by name.
//!
//! A site shows or logs [`Error::name`] (a stable snake_case identifier) and the
//! `Display` text; the demo server answers `{"error": name, "message": text}`.

/// Why a registration or authentication response was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A field was not valid base64url.
    #[error("{0} is not valid base64url")]
    Base64(&'static str),
    /// The response JSON did not have the shape of `PublicKeyCredential.toJSON()`.
    #[error("malformed credential response: {0}")]
    MalformedResponse(String),
    /// clientDataJSON was not valid JSON of the CollectedClientData shape.
    #[error("malformed clientDataJSON: {0}")]
    MalformedClientData(String),
    /// clientDataJSON `type` was not the one this ceremony expects.
    #[error("clientDataJSON type is {found:?}, expected {expected:?}")]
    WrongCeremonyType {
        /// The type the ceremony expects (`webauthn.create` or `webauthn.get`).
        expected: &'static str,
        /// The type the client sent.
        found: String,
    },
    /// The challenge in clientDataJSON is not the one issued for this ceremony.
    #[error("challenge does not match the one issued for this ceremony")]
    ChallengeMismatch,
    /// The challenge was never issued by this relying party (or was forgotten).
    #[error("challenge was not issued by this relying party")]
    ChallengeUnknown,
    /// The challenge was already used by an earlier response.
    #[error("challenge was already used")]
    ChallengeReused,
    /// The challenge's lifetime ran out before the response arrived.
    #[error("challenge expired")]
    ChallengeExpired,
    /// clientDataJSON `origin` is not one of the configured origins.
    #[error("origin {0:?} is not allowed")]
    OriginMismatch(String),
    /// The ceremony ran in a cross-origin iframe and this relying party does not allow that.
    #[error("cross-origin ceremony not allowed")]
    CrossOriginNotAllowed,
    /// clientDataJSON `topOrigin` is not one of the allowed top-level origins.
    #[error("top origin {0:?} is not allowed")]
    TopOriginNotAllowed(String),
    /// clientDataJSON says `crossOrigin: true` but names no `topOrigin`, and
    /// this relying party allows cross-origin ceremonies only under listed
    /// top origins.
    #[error("cross-origin ceremony without a top origin, under a top-origin allow list")]
    TopOriginMissing,
    /// Malformed authenticator data.
    #[error("malformed authenticator data: {0}")]
    MalformedAuthenticatorData(&'static str),
    /// authenticatorData's rpIdHash is not SHA-256 of the relying party ID.
    #[error("rpIdHash does not match the relying party ID")]
    RpIdHashMismatch,
    /// The user-present (UP) flag is not set.
    #[error("user presence flag not set")]
    UserNotPresent,
    /// User verification was required and the UV flag is not set.
    #[error("user verification required but not performed")]
    UserNotVerified,
    /// Backup state (BS) set without backup eligibility (BE), which the spec forbids.
    #[error("backup state set on a credential that is not backup eligible")]
    BackupStateWithoutEligibility,
    /// The backup-eligibility (BE) flag changed since registration.
    #[error("backup eligibility changed since registration")]
    BackupEligibilityChanged,
    /// Registration authenticator data had no attested credential data.
    #[error("attested credential data missing")]
    AttestedCredentialDataMissing,
    /// The credential ID in authenticator data differs from the response's `id`/`rawId`.
    #[error("credential ID in authenticator data does not match the response")]
    CredentialIdMismatch,
    /// A credential ID longer than 1023 bytes.
    #[error("credential ID longer than 1023 bytes")]
    CredentialIdTooLong,
    /// Malformed COSE public key.
    #[error("malformed COSE key: {0}")]
    MalformedPublicKey(&'static str),
    /// COSE algorithm this relying party does not implement (see [`crate::cose`] for those it does).
    #[error("unsupported COSE algorithm {0}")]
    UnsupportedAlgorithm(i64),
    /// COSE key type or curve this relying party does not implement.
    #[error("unsupported COSE key type or curve")]
    UnsupportedKeyType,
    /// An algorithm we implement but that this ceremony's options did not allow.
    #[error("COSE algorithm {0} was not in pubKeyCredParams")]
    AlgorithmNotAllowed(i64),
    /// Malformed attestationObject.
    #[error("malformed attestation object: {0}")]
    MalformedAttestation(String),
    /// Attestation statement format this relying party does not implement.
    #[error("unsupported attestation format {0:?}")]
    UnsupportedAttestationFormat(String),
    /// The attestation statement does not meet its format's rules.
    #[error("invalid attestation statement: {0}")]
    InvalidAttestation(&'static str),
    /// The attestation certificate chain does not lead to a configured trust anchor.
    #[error("attestation certificate chain not trusted: {0}")]
    UntrustedAttestation(&'static str),
    /// A certificate in the attestation chain (or the trust anchor) issues
    /// another but is not a CA: basicConstraints cA missing or false.
    #[error("attestation chain passes through a certificate that is not a CA")]
    IssuerNotCa,
    /// An issuer's keyUsage extension does not allow signing certificates
    /// (no keyCertSign).
    #[error("attestation chain issuer's keyUsage lacks keyCertSign")]
    IssuerWithoutKeyCertSign,
    /// More intermediate CAs below an issuer than its pathLenConstraint allows.
    #[error("attestation chain is longer than an issuer's pathLenConstraint allows")]
    PathLengthExceeded,
    /// The attestation was of a type this relying party's policy refuses.
    #[error("attestation type {0} refused by policy")]
    AttestationRefused(&'static str),
    /// A signature (assertion or attestation) did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The credential is not registered (or not one of allowCredentials).
    #[error("unknown credential")]
    UnknownCredential,
    /// The credential is already registered (to this or another user).
    #[error("credential already registered")]
    CredentialAlreadyRegistered,
    /// userHandle missing where required or not the credential's owner.
    #[error("user handle does not match the credential's owner")]
    UserHandleMismatch,
    /// The signature counter did not increase: a sign of a cloned authenticator.
    #[error("signature counter went from {stored} to {received}: possible cloned authenticator")]
    CounterRegression {
        /// Counter stored from the previous ceremony.
        stored: u32,
        /// Counter in this response.
        received: u32,
    },
}

impl Error {
    /// A stable snake_case name for logs and JSON error bodies.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Base64(_) => "base64",
            Error::MalformedResponse(_) => "malformed_response",
            Error::MalformedClientData(_) => "malformed_client_data",
            Error::WrongCeremonyType { .. } => "wrong_ceremony_type",
            Error::ChallengeMismatch => "challenge_mismatch",
            Error::ChallengeUnknown => "challenge_unknown",
            Error::ChallengeReused => "challenge_reused",
            Error::ChallengeExpired => "challenge_expired",
            Error::OriginMismatch(_) => "origin_mismatch",
            Error::CrossOriginNotAllowed => "cross_origin_not_allowed",
            Error::TopOriginNotAllowed(_) => "top_origin_not_allowed",
            Error::TopOriginMissing => "top_origin_missing",
            Error::MalformedAuthenticatorData(_) => "malformed_authenticator_data",
            Error::RpIdHashMismatch => "rp_id_hash_mismatch",
            Error::UserNotPresent => "user_not_present",
            Error::UserNotVerified => "user_not_verified",
            Error::BackupStateWithoutEligibility => "backup_state_without_eligibility",
            Error::BackupEligibilityChanged => "backup_eligibility_changed",
            Error::AttestedCredentialDataMissing => "attested_credential_data_missing",
            Error::CredentialIdMismatch => "credential_id_mismatch",
            Error::CredentialIdTooLong => "credential_id_too_long",
            Error::MalformedPublicKey(_) => "malformed_public_key",
            Error::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Error::UnsupportedKeyType => "unsupported_key_type",
            Error::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Error::MalformedAttestation(_) => "malformed_attestation",
            Error::UnsupportedAttestationFormat(_) => "unsupported_attestation_format",
            Error::InvalidAttestation(_) => "invalid_attestation",
            Error::UntrustedAttestation(_) => "untrusted_attestation",
            Error::IssuerNotCa => "issuer_not_ca",
            Error::IssuerWithoutKeyCertSign => "issuer_without_key_cert_sign",
            Error::PathLengthExceeded => "path_len_exceeded",
            Error::AttestationRefused(_) => "attestation_refused",
            Error::BadSignature => "bad_signature",
            Error::UnknownCredential => "unknown_credential",
            Error::CredentialAlreadyRegistered => "credential_already_registered",
            Error::UserHandleMismatch => "user_handle_mismatch",
            Error::CounterRegression { .. } => "counter_regression",
        }
    }

    /// True for the errors that mean "we do not implement this", as opposed to "this is wrong".
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Error::UnsupportedAlgorithm(_)
                | Error::UnsupportedKeyType
                | Error::UnsupportedAttestationFormat(_)
        )
    }
}
