//! Relying-party configuration: who we are and what we accept.

use std::time::Duration;

use crate::cose::ALGORITHMS;

/// Whether a cross-origin iframe may run ceremonies for this relying party
/// ([§7.1 step 10](https://www.w3.org/TR/webauthn-3/#rp-op-registering-a-new-credential-step-cross-origin)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CrossOriginPolicy {
    /// `crossOrigin: true` is rejected (the default, and what most sites want).
    #[default]
    Deny,
    /// Allowed when the client names the `topOrigin` and it is one of these
    /// origins; `crossOrigin: true` without a `topOrigin` is refused
    /// ([`crate::Error::TopOriginMissing`]): the list could not be checked.
    AllowTopOrigins(Vec<String>),
    /// Allowed inside any top-level page, also when the client does not say
    /// which (clients before WebAuthn Level 3 send no `topOrigin`).
    AllowAnyTopOrigin,
}

/// The `userVerification` requirement ([§5.8.6](https://www.w3.org/TR/webauthn-3/#enumdef-userverificationrequirement)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    /// UV flag must be set.
    Required,
    /// Ask for UV, accept without.
    #[default]
    Preferred,
    /// Ask for no UV, accept either.
    Discouraged,
}

/// What attestation this relying party accepts and which roots it trusts.
#[derive(Debug, Clone)]
pub struct AttestationPolicy {
    /// DER certificates that `packed`/`fido-u2f` x5c chains must lead to. Empty: chains
    /// are checked for signatures between links but lead to no anchor (reported as
    /// [`crate::TrustPath::Unverified`]).
    pub trust_anchors: Vec<Vec<u8>>,
    /// Accept `none` attestation.
    pub allow_none: bool,
    /// Accept self attestation (`packed` without x5c).
    pub allow_self: bool,
}

impl Default for AttestationPolicy {
    fn default() -> Self {
        Self {
            trust_anchors: Vec::new(),
            allow_none: true,
            allow_self: true,
        }
    }
}

/// The relying party's identity and policies.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// RP ID: a registrable domain suffix of the origins, e.g. `example.org`.
    pub rp_id: String,
    /// Human-readable name shown by authenticators.
    pub rp_name: String,
    /// Exact origins allowed in clientDataJSON, e.g. `https://example.org`.
    pub origins: Vec<String>,
    /// Cross-origin iframe policy.
    pub cross_origin: CrossOriginPolicy,
    /// User-verification requirement put in options and enforced.
    pub user_verification: UserVerification,
    /// COSE algorithms offered in `pubKeyCredParams`, most preferred first.
    pub algorithms: Vec<i64>,
    /// Attestation acceptance.
    pub attestation: AttestationPolicy,
    /// How long an issued challenge stays valid.
    pub challenge_ttl: Duration,
    /// The `timeout` hint put into options (milliseconds).
    pub timeout_ms: u32,
}

impl RelyingParty {
    /// A relying party with the default policy: every algorithm it verifies
    /// ([`ALGORITHMS`], ES256 first); UV preferred; attestation
    /// `none`/self/untrusted chains accepted; 5-minute challenges.
    pub fn new(rp_id: impl Into<String>, rp_name: impl Into<String>, origins: Vec<String>) -> Self {
        Self {
            rp_id: rp_id.into(),
            rp_name: rp_name.into(),
            origins,
            cross_origin: CrossOriginPolicy::Deny,
            user_verification: UserVerification::Preferred,
            algorithms: ALGORITHMS.iter().map(|(alg, _)| *alg).collect(),
            attestation: AttestationPolicy::default(),
            challenge_ttl: Duration::from_secs(300),
            timeout_ms: 300_000,
        }
    }

    /// SHA-256 of the RP ID, the `rpIdHash` authenticator data must carry.
    pub fn rp_id_hash(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.rp_id.as_bytes()).into()
    }
}
