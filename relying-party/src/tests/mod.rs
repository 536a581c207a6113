//! Known-answer tests against the W3C WebAuthn Level 3 test vectors, and negative
//! tests, each expecting its named error (those of authentication in
//! `authentication.rs`).
//!
//! Vectors: `tests/vectors/w3c-webauthn-l3-vectors.json`, the test vectors of
//! WebAuthn Level 3 (<https://www.w3.org/TR/webauthn-3/#sctn-test-vectors>), in the
//! JSON form the project keeps in `shared/vectors/` (hex fields). RP ID `example.org`,
//! origin `https://example.org`, attestation root `attestation-root-cert`.

use std::time::{Duration, SystemTime};

use p256::ecdsa::signature::Signer as _;
use sha2::Digest as _;

use crate::response::{
    AssertionResponseJson, AttestationResponseJson, AuthenticationResponseJson,
    RegistrationResponseJson,
};
use crate::{
    AttestationType, AuthenticationState, CredentialRecord, CrossOriginPolicy, Error,
    RegistrationState, RelyingParty, TrustPath, UserVerification, b64,
};

mod authentication;

const VECTORS: &str = include_str!("../../tests/vectors/w3c-webauthn-l3-vectors.json");

/// Vectors whose attestation format and credential algorithm we implement.
const SUPPORTED: &[&str] = &[
    "none-es256",
    "packed-self-es256",
    "none-es256-crossOrigin",
    "none-es256-topOrigin",
    "none-es256-long-credential-id",
    "packed-es256",
    "packed-rs256",
    "packed-eddsa",
    "packed-es384",
    "packed-es512",
    "fido-u2f-es256",
];
/// Vectors we must refuse as unsupported (Ed448 keys; tpm, android-key, apple formats).
const UNSUPPORTED: &[&str] = &[
    "packed-ed448",
    "tpm-es256",
    "android-key-es256",
    "apple-es256",
];

fn vectors() -> serde_json::Value {
    serde_json::from_str(VECTORS).expect("vector file is JSON")
}

fn hex_field(value: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(
        value[name]
            .as_str()
            .unwrap_or_else(|| panic!("field {name}")),
    )
    .expect("hex")
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000) // 2026
}

fn rp() -> RelyingParty {
    let mut rp = RelyingParty::new("example.org", "Example", vec!["https://example.org".into()]);
    rp.cross_origin = CrossOriginPolicy::AllowTopOrigins(vec!["https://example.com".into()]);
    let root = &vectors()["attestation-root-cert"]["root"];
    rp.attestation.trust_anchors = vec![hex_field(root, "attestation_ca_cert")];
    rp
}

fn registration_state(challenge: Vec<u8>) -> RegistrationState {
    RegistrationState {
        challenge,
        user_id: b"user".to_vec(),
        user_verification: UserVerification::Preferred,
        algorithms: crate::cose::ALGORITHMS
            .iter()
            .map(|(alg, _)| *alg)
            .collect(),
        expires_at: now() + Duration::from_secs(60),
    }
}

fn registration_response(
    credential_id: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> RegistrationResponseJson {
    RegistrationResponseJson {
        id: b64::encode(credential_id),
        raw_id: b64::encode(credential_id),
        credential_type: "public-key".into(),
        response: AttestationResponseJson {
            client_data_json: b64::encode(client_data_json),
            attestation_object: b64::encode(attestation_object),
            transports: vec!["usb".into()],
        },
        client_extension_results: serde_json::json!({}),
    }
}

fn assertion_response(
    credential_id: &[u8],
    client_data_json: &[u8],
    auth_data: &[u8],
    signature: &[u8],
) -> AuthenticationResponseJson {
    AuthenticationResponseJson {
        id: b64::encode(credential_id),
        raw_id: b64::encode(credential_id),
        credential_type: "public-key".into(),
        response: AssertionResponseJson {
            client_data_json: b64::encode(client_data_json),
            authenticator_data: b64::encode(auth_data),
            signature: b64::encode(signature),
            user_handle: None,
        },
    }
}

fn authentication_state(challenge: Vec<u8>, credential_id: &[u8]) -> AuthenticationState {
    AuthenticationState {
        challenge,
        allow_credentials: vec![credential_id.to_vec()],
        user_verification: UserVerification::Preferred,
        expires_at: now() + Duration::from_secs(60),
    }
}

/// Registers the vector's credential; returns the result.
fn register_vector(rp: &RelyingParty, name: &str) -> Result<crate::VerifiedRegistration, Error> {
    let vector = &vectors()[name]["registration"];
    let credential_id = hex_field(vector, "credential_id");
    let response = registration_response(
        &credential_id,
        &hex_field(vector, "clientDataJSON"),
        &hex_field(vector, "attestationObject"),
    );
    rp.finish_registration(
        &registration_state(hex_field(vector, "challenge")),
        &response,
        now(),
    )
}

fn authenticate_vector(
    rp: &RelyingParty,
    name: &str,
    record: &CredentialRecord,
) -> Result<crate::VerifiedAuthentication, Error> {
    let vector = &vectors()[name]["authentication"];
    let response = assertion_response(
        &record.credential_id,
        &hex_field(vector, "clientDataJSON"),
        &hex_field(vector, "authenticatorData"),
        &hex_field(vector, "signature"),
    );
    let state = authentication_state(hex_field(vector, "challenge"), &record.credential_id);
    rp.finish_authentication(&state, &response, record, now())
}

#[test]
fn every_supported_vector_registers_and_authenticates() {
    for name in SUPPORTED {
        let mut rp = rp();
        if *name == "none-es256-crossOrigin" {
            // Its client names no topOrigin: only a policy that allows any top
            // origin accepts it (see the test below).
            rp.cross_origin = CrossOriginPolicy::AllowAnyTopOrigin;
        }
        let registration = register_vector(&rp, name)
            .unwrap_or_else(|error| panic!("{name}: registration: {error:?}"));
        let expected_type = match *name {
            name if name.starts_with("none") => AttestationType::None,
            "packed-self-es256" => AttestationType::SelfAttestation,
            _ => AttestationType::Basic,
        };
        assert_eq!(
            registration.attestation.attestation_type, expected_type,
            "{name}"
        );
        if expected_type == AttestationType::Basic {
            assert_eq!(
                registration.attestation.trust_path,
                TrustPath::Anchor(0),
                "{name}"
            );
        }
        authenticate_vector(&rp, name, &registration.credential)
            .unwrap_or_else(|error| panic!("{name}: authentication: {error:?}"));
    }
}

#[test]
fn every_vector_is_classified() {
    let vectors = vectors();
    let names: Vec<&String> = vectors.as_object().expect("object").keys().collect();
    for name in names {
        assert!(
            name == "attestation-root-cert"
                || SUPPORTED.contains(&name.as_str())
                || UNSUPPORTED.contains(&name.as_str()),
            "vector {name} is neither claimed nor refused"
        );
    }
}

#[test]
fn unsupported_vectors_fail_as_unsupported() {
    let rp = rp();
    for name in UNSUPPORTED {
        let error = register_vector(&rp, name).expect_err(name);
        assert!(
            error.is_unsupported(),
            "{name}: {error:?} is not an 'unsupported' error"
        );
    }
}

#[test]
fn vector_algorithms_and_formats() {
    let rp = rp();
    let algorithm = |name| {
        register_vector(&rp, name)
            .expect("supported")
            .credential
            .algorithm
    };
    assert_eq!(algorithm("packed-rs256"), crate::cose::ALG_RS256);
    assert_eq!(algorithm("packed-eddsa"), crate::cose::ALG_EDDSA);
    assert_eq!(algorithm("packed-es256"), crate::cose::ALG_ES256);
    let u2f = register_vector(&rp, "fido-u2f-es256").expect("supported");
    assert_eq!(u2f.attestation.format, "fido-u2f");
    assert_eq!(algorithm("packed-es384"), crate::cose::ALG_ES384);
    assert_eq!(algorithm("packed-es512"), crate::cose::ALG_ES512);
    assert_eq!(
        register_vector(&rp, "packed-ed448").unwrap_err(),
        Error::UnsupportedAlgorithm(-53)
    ); // Ed448, fully specified
    assert_eq!(
        register_vector(&rp, "tpm-es256").unwrap_err(),
        Error::UnsupportedAttestationFormat("tpm".into())
    );
}

// ---- Negative tests: registration (none-es256 has no signature over clientDataJSON) ----

/// The none-es256 registration, with every input open to tampering.
struct RegistrationCase {
    rp: RelyingParty,
    state: RegistrationState,
    credential_id: Vec<u8>,
    client_data: Vec<u8>,
    attestation: Vec<u8>,
}

impl RegistrationCase {
    fn none_es256() -> Self {
        let vector = &vectors()["none-es256"]["registration"];
        Self {
            rp: rp(),
            state: registration_state(hex_field(vector, "challenge")),
            credential_id: hex_field(vector, "credential_id"),
            client_data: hex_field(vector, "clientDataJSON"),
            attestation: hex_field(vector, "attestationObject"),
        }
    }

    fn error(&self) -> Error {
        let response =
            registration_response(&self.credential_id, &self.client_data, &self.attestation);
        self.rp
            .finish_registration(&self.state, &response, now())
            .expect_err("tampered registration must fail")
    }

    /// Clears `flag` in authenticator data's flags byte (none attestation signs nothing).
    fn clear_flag(&mut self, flag: u8) {
        let rp_id_hash = sha2::Sha256::digest(b"example.org");
        let offset = self
            .attestation
            .windows(32)
            .position(|window| window == rp_id_hash.as_slice())
            .expect("rpIdHash present")
            + 32;
        self.attestation[offset] &= !flag;
    }
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("clientDataJSON is UTF-8");
    assert!(text.contains(from), "{from} not in {text}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn registration_wrong_origin() {
    let mut case = RegistrationCase::none_es256();
    case.client_data = replace(
        &case.client_data,
        "https://example.org",
        "https://evil.example",
    );
    let error = case.error();
    assert_eq!(error, Error::OriginMismatch("https://evil.example".into()));
    assert_eq!(error.name(), "origin_mismatch");
}

#[test]
fn registration_wrong_challenge() {
    let mut case = RegistrationCase::none_es256();
    case.state.challenge[0] ^= 1;
    assert_eq!(case.error(), Error::ChallengeMismatch);
}

#[test]
fn registration_wrong_type() {
    let mut case = RegistrationCase::none_es256();
    case.client_data = replace(&case.client_data, "webauthn.create", "webauthn.get");
    assert!(matches!(case.error(), Error::WrongCeremonyType { .. }));
}

#[test]
fn registration_expired_state() {
    let mut case = RegistrationCase::none_es256();
    case.state.expires_at = now() - Duration::from_secs(1);
    assert_eq!(case.error(), Error::ChallengeExpired);
}

#[test]
fn registration_wrong_rp_id_hash() {
    let mut case = RegistrationCase::none_es256();
    case.rp.rp_id = "example.com".into();
    assert_eq!(case.error(), Error::RpIdHashMismatch);
}

#[test]
fn registration_cross_origin_denied_by_default() {
    let mut rp = rp();
    rp.cross_origin = CrossOriginPolicy::Deny;
    assert_eq!(
        register_vector(&rp, "none-es256-crossOrigin").unwrap_err(),
        Error::CrossOriginNotAllowed
    );
    // And a top origin not on the list.
    rp.cross_origin = CrossOriginPolicy::AllowTopOrigins(vec!["https://other.example".into()]);
    assert_eq!(
        register_vector(&rp, "none-es256-topOrigin").unwrap_err(),
        Error::TopOriginNotAllowed("https://example.com".into())
    );
}

#[test]
fn cross_origin_without_top_origin_is_refused_under_top_origin_policy() {
    // The W3C vector's client says crossOrigin = true and names no topOrigin:
    // an allow list of top origins cannot be checked against it.
    let rp = rp();
    assert!(matches!(
        rp.cross_origin,
        CrossOriginPolicy::AllowTopOrigins(_)
    ));
    let error = register_vector(&rp, "none-es256-crossOrigin").unwrap_err();
    assert_eq!(error.name(), "top_origin_missing", "{error:?}");
    assert_eq!(error, Error::TopOriginMissing);
    // With a named top origin on the list, the same policy accepts.
    register_vector(&rp, "none-es256-topOrigin").unwrap();
    // A relying party that allows any embedding page accepts both.
    let mut rp = rp;
    rp.cross_origin = CrossOriginPolicy::AllowAnyTopOrigin;
    register_vector(&rp, "none-es256-crossOrigin").unwrap();
    register_vector(&rp, "none-es256-topOrigin").unwrap();
}

#[test]
fn registration_user_not_present() {
    let mut case = RegistrationCase::none_es256();
    case.clear_flag(crate::auth_data::FLAG_UP);
    assert_eq!(case.error(), Error::UserNotPresent);
}

#[test]
fn registration_uv_required_but_absent() {
    let mut case = RegistrationCase::none_es256();
    case.state.user_verification = UserVerification::Required;
    assert_eq!(case.error(), Error::UserNotVerified);
}

#[test]
fn registration_backup_state_without_eligibility() {
    let mut case = RegistrationCase::none_es256();
    case.clear_flag(crate::auth_data::FLAG_BE);
    assert_eq!(case.error(), Error::BackupStateWithoutEligibility);
}

#[test]
fn registration_algorithm_not_offered() {
    let mut case = RegistrationCase::none_es256();
    case.state.algorithms = vec![crate::cose::ALG_EDDSA];
    assert_eq!(
        case.error(),
        Error::AlgorithmNotAllowed(crate::cose::ALG_ES256)
    );
}

#[test]
fn registration_credential_id_mismatch() {
    let mut case = RegistrationCase::none_es256();
    case.credential_id[0] ^= 1;
    assert_eq!(case.error(), Error::CredentialIdMismatch);
}

#[test]
fn packed_attestation_bad_signature() {
    let vector = &vectors()["packed-es256"]["registration"];
    // clientDataJSON is covered by the attestation signature: tampering breaks it.
    let client_data = replace(
        &hex_field(vector, "clientDataJSON"),
        "such as this",
        "such as that",
    );
    let id = hex_field(vector, "credential_id");
    let response =
        registration_response(&id, &client_data, &hex_field(vector, "attestationObject"));
    let error = rp()
        .finish_registration(
            &registration_state(hex_field(vector, "challenge")),
            &response,
            now(),
        )
        .unwrap_err();
    assert_eq!(error, Error::BadSignature);
}

#[test]
fn packed_attestation_untrusted_root() {
    let mut rp = rp();
    // A trust anchor that is not the vectors' root: the chain must not be accepted.
    let u2f = &vectors()["fido-u2f-es256"]["registration"];
    let object = crate::attestation::AttestationObject::parse(&hex_field(u2f, "attestationObject"))
        .expect("parses");
    let Some(ciborium::Value::Array(x5c)) = object
        .statement
        .iter()
        .find(|(key, _)| key.as_text() == Some("x5c"))
        .map(|(_, value)| value.clone())
    else {
        panic!("u2f vector has x5c");
    };
    let ciborium::Value::Bytes(other_cert) = x5c[0].clone() else {
        panic!("der")
    };
    rp.attestation.trust_anchors = vec![other_cert];
    let error = register_vector(&rp, "packed-es256").unwrap_err();
    assert!(matches!(error, Error::UntrustedAttestation(_)), "{error:?}");
    // Without anchors the chain is checked but reported unverified.
    rp.attestation.trust_anchors.clear();
    let registration = register_vector(&rp, "packed-es256").expect("verifies");
    assert_eq!(registration.attestation.trust_path, TrustPath::Unverified);
}

#[test]
fn attestation_refused_by_policy() {
    let mut rp = rp();
    rp.attestation.allow_none = false;
    assert_eq!(
        register_vector(&rp, "none-es256").unwrap_err(),
        Error::AttestationRefused("none")
    );
    rp.attestation.allow_self = false;
    assert_eq!(
        register_vector(&rp, "packed-self-es256").unwrap_err(),
        Error::AttestationRefused("self")
    );
}

#[test]
fn options_are_the_spec_json_forms() {
    let rp = rp();
    let user = crate::options::UserEntity {
        id: vec![1, 2, 3],
        name: "alice".into(),
        display_name: "Alice".into(),
    };
    let (options, state) = rp.start_registration(user, vec![], now());
    let json = serde_json::to_value(&options).expect("serializes");
    assert_eq!(json["user"]["id"], "AQID");
    assert_eq!(json["challenge"], b64::encode(&state.challenge));
    assert_eq!(
        json["pubKeyCredParams"][0],
        serde_json::json!({"type": "public-key", "alg": -7})
    );
    assert_eq!(
        json["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    let (options, _) = rp.start_authentication(vec![], now());
    let json = serde_json::to_value(&options).expect("serializes");
    assert_eq!(json["rpId"], "example.org");
    assert_eq!(json["allowCredentials"], serde_json::json!([]));
}

#[test]
fn fuzzing_entry_points_survive_every_single_byte_corruption() {
    let vectors = vectors();
    for name in SUPPORTED.iter().chain(UNSUPPORTED) {
        let registration = &vectors[*name]["registration"];
        let authentication = &vectors[*name]["authentication"];
        let inputs = [
            (
                hex_field(registration, "attestationObject"),
                crate::fuzzing::attestation_object as fn(&[u8]),
            ),
            (
                hex_field(registration, "clientDataJSON"),
                crate::fuzzing::client_data,
            ),
            (
                hex_field(authentication, "authenticatorData"),
                crate::fuzzing::authenticator_data,
            ),
        ];
        for (input, target) in inputs {
            target(&input);
            // Truncations and one corrupted byte at a time (stride keeps this fast in debug builds).
            for position in (0..input.len()).step_by(7) {
                target(&input[..position]);
                let mut corrupted = input.clone();
                corrupted[position] ^= 0xa5;
                target(&corrupted);
            }
        }
    }
}
