//! Known-answer tests for PIN/UV auth protocols one and two.
//!
//! Source: the W3C WebAuthn Level 3 test vectors for the PRF extension over
//! CTAP2 hmac-secret (w3c/webauthn index.bs, section "test-vectors-extensions-
//! prf-ctap"), as copied into `shared/vectors/w3c-webauthn-prf-hmac-secret-vectors.json`.
//! The platform's private key and the authenticator's public key are given, so
//! our ECDH runs from the platform's side: the shared secret is symmetric.
#![allow(clippy::unwrap_used)]

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const PLATFORM_PRIVATE: &str = "0971bc7fb1be48270adcd3d9a5fc15d5fb0f335b3071ff36a54c007fa6c76514";
const AUTHENTICATOR_X: &str = "a30522c2de402b561965c3cf949a1cab020c6f6ea36fcf7e911ac1a0f1515300";
const AUTHENTICATOR_Y: &str = "9961a929abdb2f42e6566771887d41484d889e735e3248518a53112d2b915f00";
const SHARED_V2: &str = "0c63083de8170101d38bcf8bd72309568ddb4550867e23404b35d85712f7c20d8bc911ee23c06034cbc14290b9669bec07739053c5a416e313ef905c79955876";
const SHARED_V1: &str = "23e5ed7157c25892b77732fb9c8a107e3518800db2af4142f9f4adfacb771d39";
const SALT1: &str = "527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3";
const SALT2: &str = "d68ac03329a10ee5e0ec834492bb9a96a0e547baf563bf78ccbe8789b22e776b";
const OUTPUT1: &str = "3c33e07d202c3b029cc21f1722767021bf27d595933b3d2b6a1b9d5dddc77fae";
const OUTPUT2: &str = "a62a8773b19cda90d7ed4ef72a80a804320dbd3997e2f663805ad1fd3293d50b";

fn authenticator_key() -> Value {
    Value::Map(vec![
        (cbor::int(1), cbor::int(2)),
        (cbor::int(3), cbor::int(-25)),
        (cbor::int(-1), cbor::int(1)),
        (cbor::int(-2), cbor::bytes(&unhex(AUTHENTICATOR_X))),
        (cbor::int(-3), cbor::bytes(&unhex(AUTHENTICATOR_Y))),
    ])
}

fn platform() -> KeyAgreementKey {
    KeyAgreementKey::from_scalar(&unhex(PLATFORM_PRIVATE)).unwrap()
}

#[test]
fn shared_secrets_match_the_vectors() {
    let v1 = platform()
        .shared_secret(Protocol::One, authenticator_key())
        .unwrap();
    assert_eq!(v1.expose_secret(), unhex(SHARED_V1).as_slice());
    let v2 = platform()
        .shared_secret(Protocol::Two, authenticator_key())
        .unwrap();
    assert_eq!(v2.expose_secret(), unhex(SHARED_V2).as_slice());
}

#[test]
fn protocol_one_encryption_matches_the_vectors() {
    use rand::SeedableRng;
    let secret = SharedSecret {
        protocol: Protocol::One,
        key: Zeroizing::new(unhex(SHARED_V1)),
    };
    let salt_enc = unhex("ab8c878bb05d04700f077ed91845ec9c503c925cb12b327ddbeb4243c397f913");
    let output_enc = unhex("15d4e4f3f04109b492b575c1b38c28585b6719cf8d61304215108d939f37ccfb");
    assert_eq!(
        secret.encrypt(&mut rand::rngs::StdRng::seed_from_u64(1), &unhex(SALT1)),
        salt_enc
    );
    assert_eq!(secret.decrypt(&salt_enc).unwrap().as_slice(), unhex(SALT1));
    assert_eq!(
        secret.encrypt_with_iv(&[0; 16], &unhex(OUTPUT1)),
        output_enc
    );
}

#[test]
fn protocol_two_encryption_matches_the_vectors() {
    let secret = platform()
        .shared_secret(Protocol::Two, authenticator_key())
        .unwrap();
    let salt_enc = unhex(concat!(
        "d9f4236403e0fe843a8e4e5be764d120904c198ad6e77b089876a3391961f183",
        "b0008b4ca66b91cd72aa35b6151ff981f6e5649f3c040e6615ad7dd8ae96ef23",
        "b229a5c97c3f0dcd8605eee166ce163a"
    ));
    let mut salts = unhex(SALT1);
    salts.extend_from_slice(&unhex(SALT2));
    assert_eq!(secret.decrypt(&salt_enc).unwrap().as_slice(), salts);
    let iv: [u8; 16] = salt_enc[..16].try_into().unwrap();
    assert_eq!(secret.encrypt_with_iv(&iv, &salts), salt_enc);
    let output_enc = unhex(concat!(
        "90ee52f739043bc17b3488a74306d7801debb5b61f18662c648a25b5b5678ede",
        "482cdaff99a537a44f064fcb10ce6e04dfd27619dc96a0daff8507e499296b1e",
        "ecf0981f7c8518b277a7a3018f5ec6fb"
    ));
    let mut outputs = unhex(OUTPUT1);
    outputs.extend_from_slice(&unhex(OUTPUT2));
    assert_eq!(secret.decrypt(&output_enc).unwrap().as_slice(), outputs);
    // Single-input case: same secret, another IV.
    let single = unhex(concat!(
        "23dde5e3462daf36559b85c4ac5f9656aa9bfd81c1dc2bf8533c8b9f38828547",
        "86b4f500e25b4e3d81f7fc7c74236229"
    ));
    assert_eq!(secret.decrypt(&single).unwrap().as_slice(), unhex(SALT1));
}

#[test]
fn protocol_two_encrypt_draws_a_fresh_iv_and_round_trips() {
    use rand::SeedableRng;
    let secret = SharedSecret::derive(Protocol::Two, &[7; 32]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let a = secret.encrypt(&mut rng, &[1; 32]);
    let b = secret.encrypt(&mut rng, &[1; 32]);
    assert_eq!(a.len(), 48);
    assert_ne!(a, b);
    assert_eq!(secret.decrypt(&a).unwrap().as_slice(), &[1; 32]);
    assert!(secret.decrypt(&a[..40]).is_none());
    assert!(secret.decrypt(&a[..16]).is_none());
}

#[test]
fn authenticate_lengths_and_verify() {
    let secret = SharedSecret::derive(Protocol::One, &[7; 32]);
    let mac = secret.authenticate(b"message");
    assert_eq!(mac.len(), 16);
    assert!(secret.verify(b"message", &mac));
    assert!(!secret.verify(b"messagE", &mac));
    assert!(!secret.verify(b"message", &mac[..15]));
    let secret = SharedSecret::derive(Protocol::Two, &[7; 32]);
    let mac = secret.authenticate(b"message");
    assert_eq!(mac.len(), 32);
    assert!(secret.verify(b"message", &mac));
    // Protocol two's HMAC key is the first half of the shared secret only.
    let direct = Protocol::Two.authenticate(&secret.expose_secret()[..32], b"message");
    assert_eq!(direct.as_slice(), mac.as_slice());
}

#[test]
fn off_curve_platform_key_is_invalid_parameter() {
    let mut bad = unhex(AUTHENTICATOR_Y);
    bad[31] ^= 1;
    let key = Value::Map(vec![
        (cbor::int(1), cbor::int(2)),
        (cbor::int(3), cbor::int(-25)),
        (cbor::int(-1), cbor::int(1)),
        (cbor::int(-2), cbor::bytes(&unhex(AUTHENTICATOR_X))),
        (cbor::int(-3), cbor::bytes(&bad)),
    ]);
    assert_eq!(
        platform().shared_secret(Protocol::Two, key).unwrap_err(),
        StatusCode::InvalidParameter
    );
    let missing_y = Value::Map(vec![
        (cbor::int(1), cbor::int(2)),
        (cbor::int(-2), cbor::bytes(&unhex(AUTHENTICATOR_X))),
    ]);
    assert_eq!(
        platform()
            .shared_secret(Protocol::One, missing_y)
            .unwrap_err(),
        StatusCode::MissingParameter
    );
}

#[test]
fn pin_hash_is_left_16_of_sha256() {
    // SHA-256("1234") = 03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4
    assert_eq!(
        pin_hash(b"1234").as_slice(),
        unhex("03ac674216f3e15c761ee1a5e255f067")
    );
}
