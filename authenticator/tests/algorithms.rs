//! Every COSE algorithm through the whole core: getInfo, the choice among
//! pubKeyCredParams, discoverable and non-discoverable credentials, packed
//! self and x5c attestation, assertions, and what fits in one CTAPHID
//! message. Signatures are checked with the RustCrypto verifiers directly
//! from the COSE keys the authenticator returned.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::commands::message_size::{
    MAX_MSG_SIZE, Statement, make_credential_response_bound,
};
use softkey_authenticator::crypto::Algorithm;
use softkey_authenticator::extensions::MakeCredentialInputs;
use softkey_authenticator::pin::{KeyAgreementKey, Protocol, SharedSecret};
use softkey_authenticator::{AttestationMode, Config, Outcome, StatusCode};
use support::*;

fn all_algorithms() -> Config {
    Config {
        algorithms: Algorithm::ALL.to_vec(),
        ..Config::default()
    }
}

/// Every algorithm, and built-in user verification (which extension
/// requests ask for, as `"uv": true`).
fn all_algorithms_with_uv() -> Config {
    Config {
        built_in_uv: true,
        ..all_algorithms()
    }
}

/// The credential public key in attested authenticator data (extension
/// outputs may follow it).
fn attested_key(auth_data: &[u8]) -> Value {
    assert_ne!(auth_data[32] & 0x40, 0, "AT flag");
    let len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    ciborium::de::from_reader(&auth_data[55 + len..]).unwrap()
}

fn integer(value: &Value) -> i64 {
    i64::try_from(value.as_integer().unwrap()).unwrap()
}

fn param(key: &Value, label: i64) -> &[u8] {
    field(key, label).unwrap().as_bytes().unwrap()
}

fn sec1(key: &Value) -> Vec<u8> {
    let mut point = vec![4u8];
    point.extend_from_slice(param(key, -2));
    point.extend_from_slice(param(key, -3));
    point
}

/// Verifies `signature` over `message` with any COSE key softkey makes,
/// checking the key type and curve that go with its `alg`.
fn verify_any(key: &Value, message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    let alg = integer(field(key, 3).unwrap());
    let kty = integer(field(key, 1).unwrap());
    let crv = field(key, -1).and_then(Value::as_integer).map(i128::from);
    match alg {
        -7 | -9 => {
            assert_eq!((kty, crv), (2, Some(1)));
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(key)).unwrap();
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok())
        }
        -35 | -51 => {
            assert_eq!((kty, crv), (2, Some(2)));
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(key)).unwrap();
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok())
        }
        -36 | -52 => {
            assert_eq!((kty, crv), (2, Some(3)));
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(key)).unwrap();
            p521::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok())
        }
        -47 => {
            assert_eq!((kty, crv), (2, Some(8)));
            let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(key)).unwrap();
            k256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok())
        }
        -8 | -19 => {
            assert_eq!((kty, crv), (1, Some(6)));
            let key = ed25519_dalek::VerifyingKey::from_bytes(param(key, -2).try_into().unwrap())
                .unwrap();
            ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_strict(message, &s).is_ok())
        }
        -257 | -37 => {
            assert_eq!(kty, 3);
            let public = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(param(key, -1)),
                rsa::BoxedUint::from_be_slice_vartime(param(key, -2)),
            )
            .unwrap();
            if alg == -257 {
                let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
                rsa::pkcs1v15::Signature::try_from(signature)
                    .is_ok_and(|s| key.verify(message, &s).is_ok())
            } else {
                let key = rsa::pss::VerifyingKey::<sha2::Sha256>::new(public);
                rsa::pss::Signature::try_from(signature)
                    .is_ok_and(|s| key.verify(message, &s).is_ok())
            }
        }
        -48 => verify_ml_dsa::<ml_dsa::MlDsa44>(key, message, signature),
        -49 => verify_ml_dsa::<ml_dsa::MlDsa65>(key, message, signature),
        -50 => verify_ml_dsa::<ml_dsa::MlDsa87>(key, message, signature),
        other => panic!("unexpected alg {other}"),
    }
}

fn verify_ml_dsa<P: ml_dsa::MlDsaParams>(key: &Value, message: &[u8], signature: &[u8]) -> bool {
    assert_eq!(integer(field(key, 1).unwrap()), 7, "kty AKP");
    let encoded = ml_dsa::EncodedVerifyingKey::<P>::try_from(param(key, -1)).unwrap();
    let key = ml_dsa::VerifyingKey::<P>::decode(&encoded);
    ml_dsa::Signature::<P>::try_from(signature)
        .is_ok_and(|s| key.verify_with_context(message, &[], &s))
}

/// Registers with `mc`, checks the packed attestation, returns (credential
/// ID, COSE key, reply length).
fn register(h: &mut Harness, mc: &MakeCredential) -> (Vec<u8>, Value, usize) {
    let reply = h.call_with(&mc.encode(), softkey_authenticator::Verdict::Approved);
    let response = decode_reply(&reply).unwrap_or_else(|s| panic!("makeCredential: {s:?}"));
    let auth_data_bytes = field(&response, 2).unwrap().as_bytes().unwrap().clone();
    let auth_data = parse_auth_data(&auth_data_bytes);
    let key = auth_data.public_key.unwrap();
    let statement = field(&response, 3).unwrap();
    let signature = text_field(statement, "sig").unwrap().as_bytes().unwrap();
    let mut signed = auth_data_bytes.clone();
    signed.extend_from_slice(&mc.client_data_hash);
    if text_field(statement, "x5c").is_none() {
        assert_eq!(
            integer(text_field(statement, "alg").unwrap()),
            integer(field(&key, 3).unwrap()),
            "self attestation under the credential's algorithm"
        );
        assert!(
            verify_any(&key, &signed, signature),
            "self attestation verifies"
        );
    }
    (auth_data.credential_id.unwrap(), key, reply.len())
}

fn assert_signs_in(h: &mut Harness, rp_id: &str, allow: Option<Vec<Vec<u8>>>, key: &Value) {
    let ga = GetAssertion {
        rp_id: rp_id.into(),
        allow,
        ..GetAssertion::default()
    };
    let response = h.call(&ga.encode()).unwrap();
    let auth_data = field(&response, 2).unwrap().as_bytes().unwrap();
    let signature = field(&response, 3).unwrap().as_bytes().unwrap();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&ga.client_data_hash);
    assert!(verify_any(key, &signed, signature), "assertion verifies");
    signed[0] ^= 1;
    assert!(!verify_any(key, &signed, signature), "and binds the data");
}

fn listed_algorithms(h: &mut Harness) -> Vec<i64> {
    let info = h.call(&[0x04]).unwrap();
    field(&info, 10)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(text_field(entry, "type"), Some(&text("public-key")));
            integer(text_field(entry, "alg").unwrap())
        })
        .collect()
}

#[test]
fn get_info_lists_the_configured_algorithms_es256_first() {
    assert_eq!(listed_algorithms(&mut Harness::new()), [-7, -8]);
    assert_eq!(
        listed_algorithms(&mut Harness::with_config(all_algorithms())),
        [
            -7, -8, -35, -36, -47, -37, -257, -48, -49, -50, -9, -51, -52, -19
        ]
    );
    // Listed in the canonical order whatever order the configuration has.
    let mut h = Harness::with_config(Config {
        algorithms: vec![Algorithm::MlDsa65, Algorithm::Es256],
        ..Config::default()
    });
    assert_eq!(listed_algorithms(&mut h), [-7, -49]);
}

#[test]
fn every_algorithm_registers_and_signs_in_discoverable_and_not() {
    let mut h = Harness::with_config(all_algorithms());
    for (n, algorithm) in Algorithm::ALL.into_iter().enumerate() {
        for rk in [false, true] {
            let mc = MakeCredential {
                algs: vec![algorithm.cose_id()],
                rk: Some(rk),
                // One RP per credential: a discoverable sign-in finds just it.
                rp_id: format!("rp{n}.example"),
                ..MakeCredential::default()
            };
            let (id, key, _) = register(&mut h, &mc);
            assert_eq!(integer(field(&key, 3).unwrap()), algorithm.cose_id());
            // A discoverable credential is found without an allowList.
            let allow = (!rk).then(|| vec![id]);
            assert_signs_in(&mut h, &mc.rp_id, allow, &key);
        }
    }
}

#[test]
fn make_credential_takes_the_platforms_first_offered_algorithm() {
    let mut h = Harness::with_config(Config {
        algorithms: vec![Algorithm::Es256, Algorithm::MlDsa65, Algorithm::Esp256],
        ..Config::default()
    });
    for (asked, made) in [
        (vec![-50, -49, -7], -49),
        (vec![-7, -49], -7),
        (vec![-9, -7], -9),
        (vec![-8, -257, -9], -9),
    ] {
        let mc = MakeCredential {
            algs: asked.clone(),
            ..MakeCredential::default()
        };
        let (id, key, _) = register(&mut h, &mc);
        assert_eq!(integer(field(&key, 3).unwrap()), made, "asked {asked:?}");
        assert_signs_in(&mut h, "example.com", Some(vec![id]), &key);
    }
}

#[test]
fn algorithms_not_configured_are_refused_before_the_touch() {
    // The daily default offers ES256 and EdDSA only.
    let mut h = Harness::new();
    for alg in [-49, -257, -35, -9, -19] {
        let mc = MakeCredential::default().algs(&[alg]).rk(true);
        match h.auth.handle(&mc.encode(), h.now) {
            Outcome::Reply(reply) => {
                assert_eq!(reply, [StatusCode::UnsupportedAlgorithm.code()], "{alg}")
            }
            Outcome::AwaitUser(_) => panic!("asked the user for {alg}"),
        }
    }
    assert_eq!(
        h.call(&GetAssertion::default().encode()),
        Err(StatusCode::NoCredentials)
    );
}

#[test]
fn x5c_attestation_signs_for_every_algorithm_with_the_attestation_key() {
    let mut h = Harness::with_config(Config {
        attestation: AttestationMode::Certificate,
        ..all_algorithms()
    });
    for algorithm in [Algorithm::MlDsa87, Algorithm::Rs256, Algorithm::Es512] {
        let mc = MakeCredential::default().algs(&[algorithm.cose_id()]);
        let response = h.call(&mc.encode()).unwrap();
        let statement = field(&response, 3).unwrap();
        assert_eq!(integer(text_field(statement, "alg").unwrap()), -7);
        let x5c = text_field(statement, "x5c").unwrap().as_array().unwrap();
        let leaf: x509_cert::Certificate =
            x509_cert::der::Decode::from_der(x5c[0].as_bytes().unwrap()).unwrap();
        let attestation_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
            leaf.tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        )
        .unwrap();
        let mut signed = field(&response, 2).unwrap().as_bytes().unwrap().clone();
        signed.extend_from_slice(&mc.client_data_hash);
        let signature = text_field(statement, "sig").unwrap().as_bytes().unwrap();
        use p256::ecdsa::signature::Verifier as _;
        attestation_key
            .verify(
                &signed,
                &p256::ecdsa::Signature::from_der(signature).unwrap(),
            )
            .unwrap();
        let key = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap())
            .public_key
            .unwrap();
        assert_eq!(integer(field(&key, 3).unwrap()), algorithm.cose_id());
    }
}

/// The platform's half of an hmac-secret(-mc) exchange (protocol two).
fn hmac_secret_mc_input(h: &mut Harness) -> Value {
    let reply = h
        .call(&request(0x06, vec![(int(1), int(2)), (int(2), int(2))]))
        .unwrap();
    let theirs = field(&reply, 1).unwrap().clone();
    let mut rng = StdRng::seed_from_u64(3);
    let ours = KeyAgreementKey::generate(&mut rng);
    let shared: SharedSecret = ours.shared_secret(Protocol::Two, theirs).unwrap();
    let salt_enc = shared.encrypt(&mut rng, &[0x33; 64]);
    let salt_auth = shared.authenticate(&salt_enc).to_vec();
    Value::Map(vec![
        (int(1), ours.cose_public_key()),
        (int(2), bytes(&salt_enc)),
        (int(3), bytes(&salt_auth)),
        (int(4), int(2)),
    ])
}

/// A makeCredential request asking for every extension with an output.
fn with_every_extension(h: &mut Harness, algs: &[i64], rk: bool) -> Vec<u8> {
    let salts = hmac_secret_mc_input(h);
    let mut mc = MakeCredential::default()
        .algs(algs)
        .rk(rk)
        .uv(true)
        .ext("credProtect", int(2))
        .ext("credBlob", bytes(&[7; 32]))
        .ext("hmac-secret", Value::Bool(true))
        .ext("hmac-secret-mc", salts)
        .ext("minPinLength", Value::Bool(true))
        .ext("pinComplexityPolicy", Value::Bool(true))
        .ext("thirdPartyPayment", Value::Bool(true));
    if rk {
        mc = mc.ext("largeBlobKey", Value::Bool(true));
    }
    mc.encode()
}

#[test]
fn ml_dsa_87_self_attestation_fits_one_ctaphid_message() {
    let mut h = Harness::with_config(all_algorithms());
    let mc = MakeCredential::default().algs(&[-50]);
    let (_, _, len) = register(&mut h, &mc);
    // 2592-byte public key in authData, 4627-byte signature in attStmt.
    assert_eq!(len, 7383);
    assert!(len <= MAX_MSG_SIZE);
}

#[test]
fn oversized_ml_dsa_87_response_takes_the_next_algorithm_or_is_refused() {
    let mut h = Harness::with_config(all_algorithms_with_uv());
    // Every extension output beside an ML-DSA-87 self attestation cannot be
    // framed: the next algorithm the platform accepts is taken instead.
    let request = with_every_extension(&mut h, &[-50, -49], false);
    let response = h.call(&request).unwrap();
    let key = attested_key(field(&response, 2).unwrap().as_bytes().unwrap());
    assert_eq!(integer(field(&key, 3).unwrap()), -49);
    // ML-DSA-87 alone: CTAP2_ERR_REQUEST_TOO_LARGE before the touch.
    let request = with_every_extension(&mut h, &[-50], false);
    match h.auth.handle(&request, h.now) {
        Outcome::Reply(reply) => assert_eq!(reply, [StatusCode::RequestTooLarge.code()]),
        Outcome::AwaitUser(_) => panic!("asked the user for a response that cannot be sent"),
    }
    // A discoverable credential's short ID leaves room for all of it.
    let request = with_every_extension(&mut h, &[-50], true);
    let reply = h.call_with(&request, softkey_authenticator::Verdict::Approved);
    assert_eq!(reply[0], 0);
    assert!(reply.len() <= MAX_MSG_SIZE);
    // Attested with x5c, the same request fits (an ES256 signature and a
    // certificate instead of 4627 bytes).
    let mut h = Harness::with_config(Config {
        attestation: AttestationMode::Certificate,
        ..all_algorithms_with_uv()
    });
    let request = with_every_extension(&mut h, &[-50], false);
    let reply = h.call_with(&request, softkey_authenticator::Verdict::Approved);
    assert_eq!(reply[0], 0);
    assert!(reply.len() <= MAX_MSG_SIZE);
}

#[test]
fn response_size_bound_holds_for_every_algorithm_and_extension() {
    for mode in [
        AttestationMode::SelfAttestation,
        AttestationMode::Certificate,
    ] {
        let mut h = Harness::with_config(Config {
            attestation: mode,
            ..all_algorithms_with_uv()
        });
        let statement = match mode {
            AttestationMode::SelfAttestation => Statement::SelfAttestation,
            AttestationMode::Certificate => Statement::Certificate,
        };
        for algorithm in Algorithm::ALL {
            for rk in [false, true] {
                for every_extension in [false, true] {
                    let request = if every_extension {
                        with_every_extension(&mut h, &[algorithm.cose_id()], rk)
                    } else {
                        MakeCredential::default()
                            .algs(&[algorithm.cose_id()])
                            .rk(rk)
                            .uv(true)
                            .encode()
                    };
                    let inputs = MakeCredentialInputs {
                        cred_protect: every_extension.then_some(
                            softkey_authenticator::extensions::cred_protect::Level::Optional,
                        ),
                        hmac_secret: every_extension,
                        hmac_secret_mc: None,
                        cred_blob: every_extension.then(|| vec![7; 32]),
                        large_blob_key: every_extension && rk,
                        min_pin_length: every_extension,
                        pin_complexity_policy: every_extension,
                        third_party_payment: every_extension,
                    };
                    let bound = make_credential_response_bound(algorithm, rk, &inputs, statement);
                    let reply = h.call_with(&request, softkey_authenticator::Verdict::Approved);
                    if bound > MAX_MSG_SIZE {
                        assert_eq!(reply, [StatusCode::RequestTooLarge.code()]);
                        continue;
                    }
                    assert_eq!(reply[0], 0, "{algorithm} rk={rk} ext={every_extension}");
                    assert!(
                        reply.len() <= bound,
                        "{algorithm} rk={rk} ext={every_extension}: {} > {bound}",
                        reply.len()
                    );
                }
            }
        }
    }
}
