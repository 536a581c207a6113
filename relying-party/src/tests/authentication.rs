//! Negative tests of authentication, with assertions signed by the
//! `none-es256` vector's credential key, each expecting its named error.

use super::*;

struct Signer {
    key: p256::ecdsa::SigningKey,
    record: CredentialRecord,
}

fn es256_signer() -> Signer {
    let vector = &vectors()["none-es256"]["registration"];
    let key = p256::ecdsa::SigningKey::from_slice(&hex_field(vector, "credential_private_key"))
        .expect("P-256 scalar");
    let record = register_vector(&rp(), "none-es256")
        .expect("registers")
        .credential;
    Signer { key, record }
}

fn auth_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = sha2::Sha256::digest(rp_id.as_bytes()).to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

fn client_data(ceremony: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{ceremony}","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#,
        b64::encode(challenge)
    )
    .into_bytes()
}

impl Signer {
    /// An assertion for example.org over the usual challenge and origin.
    fn assert_flags(&self, flags: u8, counter: u32) -> AuthenticationResponseJson {
        self.assert(
            &auth_data("example.org", flags, counter),
            &client_data("webauthn.get", CHALLENGE, "https://example.org"),
        )
    }

    fn assert(&self, auth_data: &[u8], client_data: &[u8]) -> AuthenticationResponseJson {
        let mut message = auth_data.to_vec();
        message.extend_from_slice(&sha2::Sha256::digest(client_data));
        let signature: p256::ecdsa::Signature = self.key.sign(&message);
        assertion_response(
            &self.record.credential_id,
            client_data,
            auth_data,
            signature.to_der().as_bytes(),
        )
    }
}

const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const UP_BE_BS: u8 = 0x19;

fn authenticate(
    signer: &Signer,
    response: &AuthenticationResponseJson,
) -> Result<crate::VerifiedAuthentication, Error> {
    rp().finish_authentication(
        &authentication_state(CHALLENGE.to_vec(), &signer.record.credential_id),
        response,
        &signer.record,
        now(),
    )
}

#[test]
fn authentication_good_assertion_then_each_failure() {
    let signer = es256_signer();
    let good = signer.assert_flags(UP_BE_BS, 1);
    let verified = authenticate(&signer, &good).expect("our own assertion verifies");
    assert_eq!(verified.sign_count, 1);
    assert!(!verified.backup_state_changed);
}

#[test]
fn authentication_wrong_origin() {
    let signer = es256_signer();
    let response = signer.assert(
        &auth_data("example.org", UP_BE_BS, 1),
        &client_data("webauthn.get", CHALLENGE, "http://example.org"),
    );
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::OriginMismatch("http://example.org".into())
    );
}

#[test]
fn authentication_wrong_challenge() {
    let signer = es256_signer();
    let response = signer.assert(
        &auth_data("example.org", UP_BE_BS, 1),
        &client_data("webauthn.get", b"another challenge", "https://example.org"),
    );
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::ChallengeMismatch
    );
}

#[test]
fn authentication_bad_signature() {
    let signer = es256_signer();
    let mut response = signer.assert_flags(UP_BE_BS, 1);
    // Sign one counter, send another.
    response.response.authenticator_data = b64::encode(&auth_data("example.org", UP_BE_BS, 2));
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn authentication_wrong_rp_id_hash() {
    let signer = es256_signer();
    let response = signer.assert(
        &auth_data("example.com", UP_BE_BS, 1),
        &client_data("webauthn.get", CHALLENGE, "https://example.org"),
    );
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::RpIdHashMismatch
    );
}

#[test]
fn authentication_user_not_present() {
    let signer = es256_signer();
    let response = signer.assert_flags(UP_BE_BS & !crate::auth_data::FLAG_UP, 1);
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::UserNotPresent
    );
}

#[test]
fn authentication_uv_required_but_absent() {
    let signer = es256_signer();
    let response = signer.assert_flags(UP_BE_BS, 1);
    let mut state = authentication_state(CHALLENGE.to_vec(), &signer.record.credential_id);
    state.user_verification = UserVerification::Required;
    assert_eq!(
        rp().finish_authentication(&state, &response, &signer.record, now())
            .unwrap_err(),
        Error::UserNotVerified
    );
    // With UV it passes.
    let response = signer.assert_flags(UP_BE_BS | crate::auth_data::FLAG_UV, 1);
    assert!(
        rp().finish_authentication(&state, &response, &signer.record, now())
            .expect("UV set")
            .user_verified
    );
}

#[test]
fn authentication_unknown_credential() {
    let signer = es256_signer();
    let response = signer.assert_flags(UP_BE_BS, 1);
    let state = authentication_state(CHALLENGE.to_vec(), b"some other credential");
    assert_eq!(
        rp().finish_authentication(&state, &response, &signer.record, now())
            .unwrap_err(),
        Error::UnknownCredential
    );
}

#[test]
fn authentication_counter_regression() {
    let mut signer = es256_signer();
    signer.record.sign_count = 5;
    for counter in [5, 4, 0] {
        let response = signer.assert_flags(UP_BE_BS, counter);
        assert_eq!(
            authenticate(&signer, &response).unwrap_err(),
            Error::CounterRegression {
                stored: 5,
                received: counter
            }
        );
    }
    let response = signer.assert_flags(UP_BE_BS, 6);
    assert_eq!(
        authenticate(&signer, &response)
            .expect("counter increased")
            .sign_count,
        6
    );
}

#[test]
fn authentication_backup_flags() {
    let signer = es256_signer();
    // BE flipped off since registration.
    let response = signer.assert_flags(crate::auth_data::FLAG_UP, 1);
    assert_eq!(
        authenticate(&signer, &response).unwrap_err(),
        Error::BackupEligibilityChanged
    );
    // BS cleared: recorded as a change.
    let response = signer.assert(
        &auth_data(
            "example.org",
            crate::auth_data::FLAG_UP | crate::auth_data::FLAG_BE,
            1,
        ),
        &client_data("webauthn.get", CHALLENGE, "https://example.org"),
    );
    let verified = authenticate(&signer, &response).expect("BS may change");
    assert!(verified.backup_state_changed && !verified.backed_up);
}

#[test]
fn authentication_discoverable_user_handle() {
    let signer = es256_signer();
    let mut response = signer.assert_flags(UP_BE_BS, 1);
    let mut state = authentication_state(CHALLENGE.to_vec(), &signer.record.credential_id);
    state.allow_credentials.clear();
    // Discoverable sign-in without userHandle is refused.
    assert_eq!(
        rp().finish_authentication(&state, &response, &signer.record, now())
            .unwrap_err(),
        Error::UserHandleMismatch
    );
    response.response.user_handle = Some(b64::encode(b"someone else"));
    assert_eq!(
        rp().finish_authentication(&state, &response, &signer.record, now())
            .unwrap_err(),
        Error::UserHandleMismatch
    );
    response.response.user_handle = Some(b64::encode(&signer.record.user_id));
    rp().finish_authentication(&state, &response, &signer.record, now())
        .expect("owner's handle");
}

#[test]
fn authentication_reused_and_expired_challenge_through_the_store() {
    let signer = es256_signer();
    let store = crate::challenge::ChallengeStore::default();
    let state = authentication_state(CHALLENGE.to_vec(), &signer.record.credential_id);
    store.insert(CHALLENGE.to_vec(), state.clone(), now(), state.expires_at);
    let response = signer.assert_flags(UP_BE_BS, 1);
    let taken = store.take(CHALLENGE, now()).expect("first use");
    rp().finish_authentication(&taken, &response, &signer.record, now())
        .expect("verifies");
    assert_eq!(
        store.take(CHALLENGE, now()).unwrap_err(),
        Error::ChallengeReused
    );
    // Expired: both the store and the ceremony say so.
    store.insert(b"late".to_vec(), state.clone(), now(), state.expires_at);
    assert_eq!(
        store
            .take(b"late", now() + Duration::from_secs(61))
            .unwrap_err(),
        Error::ChallengeExpired
    );
    assert_eq!(
        rp().finish_authentication(
            &state,
            &response,
            &signer.record,
            now() + Duration::from_secs(61)
        )
        .unwrap_err(),
        Error::ChallengeExpired
    );
}
