//! Authentication verification (the whole of WebAuthn §7.2: JSON, base64url,
//! clientDataJSON checks, authenticator data, COSE key parse, signature, counter)
//! against one bare P-256 ECDSA verification of the same signature, so the figure
//! that matters is their ratio (goal ≤ 1.3×). Inputs: the `none-es256` W3C L3
//! test vector (<https://www.w3.org/TR/webauthn-3/#sctn-test-vectors>).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use p256::ecdsa::signature::Verifier as _;
use sha2::Digest as _;
use softkey_rp::response::{
    AssertionResponseJson, AuthenticationResponseJson, RegistrationResponseJson,
};
use softkey_rp::{AuthenticationState, RegistrationState, RelyingParty, UserVerification, b64};

const VECTORS: &str = include_str!("../tests/vectors/w3c-webauthn-l3-vectors.json");

struct Fixture {
    rp: RelyingParty,
    state: AuthenticationState,
    response: AuthenticationResponseJson,
    record: softkey_rp::CredentialRecord,
    key: p256::ecdsa::VerifyingKey,
    message: Vec<u8>,
    signature: p256::ecdsa::Signature,
}

fn field(value: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(value[name].as_str().expect("field present")).expect("hex")
}

fn fixture() -> Fixture {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).expect("JSON");
    let registration = &vectors["none-es256"]["registration"];
    let authentication = &vectors["none-es256"]["authentication"];
    let rp = RelyingParty::new("example.org", "Example", vec!["https://example.org".into()]);
    let now = SystemTime::now();
    let credential_id = field(registration, "credential_id");
    let response: RegistrationResponseJson = serde_json::from_value(serde_json::json!({
        "id": b64::encode(&credential_id), "rawId": b64::encode(&credential_id), "type": "public-key",
        "response": {
            "clientDataJSON": b64::encode(&field(registration, "clientDataJSON")),
            "attestationObject": b64::encode(&field(registration, "attestationObject")),
        },
    }))
    .expect("registration JSON");
    let state = RegistrationState {
        challenge: field(registration, "challenge"),
        user_id: b"user".to_vec(),
        user_verification: UserVerification::Preferred,
        algorithms: rp.algorithms.clone(),
        expires_at: now + Duration::from_secs(3600),
    };
    let record = rp
        .finish_registration(&state, &response, now)
        .expect("vector registers")
        .credential;
    let client_data = field(authentication, "clientDataJSON");
    let auth_data = field(authentication, "authenticatorData");
    let signature = field(authentication, "signature");
    let response = AuthenticationResponseJson {
        id: b64::encode(&credential_id),
        raw_id: b64::encode(&credential_id),
        credential_type: "public-key".into(),
        response: AssertionResponseJson {
            client_data_json: b64::encode(&client_data),
            authenticator_data: b64::encode(&auth_data),
            signature: b64::encode(&signature),
            user_handle: None,
        },
    };
    let state = AuthenticationState {
        challenge: field(authentication, "challenge"),
        allow_credentials: vec![credential_id],
        user_verification: UserVerification::Preferred,
        expires_at: now + Duration::from_secs(3600),
    };
    let public_key =
        softkey_rp::cose::PublicKey::from_cose(&record.public_key_cose).expect("COSE key");
    let softkey_rp::cose::Key::P256(key) = public_key.key().clone() else {
        panic!("none-es256 is ES256");
    };
    let mut message = auth_data.clone();
    message.extend_from_slice(&sha2::Sha256::digest(&client_data));
    let signature = p256::ecdsa::Signature::from_der(&signature)
        .expect("DER")
        .normalize_s();
    Fixture {
        rp,
        state,
        response,
        record,
        key,
        message,
        signature,
    }
}

fn webauthn_verify(fixture: &Fixture) {
    let verified = fixture
        .rp
        .finish_authentication(
            &fixture.state,
            black_box(&fixture.response),
            &fixture.record,
            SystemTime::now(),
        )
        .expect("vector verifies");
    black_box(verified);
}

fn bare_verify(fixture: &Fixture) {
    fixture
        .key
        .verify(black_box(&fixture.message), &fixture.signature)
        .expect("signature verifies");
}

fn main() {
    let fixture = fixture();
    let mut criterion = Criterion::default().configure_from_args();
    criterion.bench_function("webauthn_authentication_verify_es256", |bencher| {
        bencher.iter(|| webauthn_verify(&fixture))
    });
    criterion.bench_function("bare_p256_verify", |bencher| {
        bencher.iter(|| bare_verify(&fixture))
    });
    criterion.final_summary();

    // One figure: the ratio, measured interleaved in the same run.
    let rounds = 5;
    let per_round = 300;
    let (mut full, mut bare) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let start = Instant::now();
        (0..per_round).for_each(|_| webauthn_verify(&fixture));
        full += start.elapsed();
        let start = Instant::now();
        (0..per_round).for_each(|_| bare_verify(&fixture));
        bare += start.elapsed();
    }
    println!(
        "ratio: authentication verification / bare P-256 verify = {:.3} ({:?} vs {:?} per verify)",
        full.as_secs_f64() / bare.as_secs_f64(),
        full / (rounds * per_round),
        bare / (rounds * per_round)
    );
}
