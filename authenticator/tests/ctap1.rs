//! CTAP1/U2F through `Authenticator::handle_ctap1`, and credentials crossing
//! between U2F and CTAP2 in both directions.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use p256::ecdsa::signature::Verifier as _;
use softkey_authenticator::Verdict;
use support::*;

#[test]
fn version_register_authenticate() {
    let mut h = Harness::new();
    let (version, status) = ctap1(&mut h, &[0, 0x03, 0, 0, 0, 0, 0], Verdict::Approved);
    assert_eq!((version.as_slice(), status), (&b"U2F_V2"[..], 0x9000));
    let app = sha256(b"https://example.com");
    let reg = u2f_register(&mut h, &app);
    // check-only: "conditions not satisfied" means "this key handle is mine".
    assert_eq!(
        u2f_authenticate(&mut h, &app, &reg.key_handle, 0x07).1,
        0x6985
    );
    assert_eq!(
        u2f_authenticate(&mut h, &sha256(b"other"), &reg.key_handle, 0x07).1,
        0x6A80
    );
    let (response, status) = u2f_authenticate(&mut h, &app, &reg.key_handle, 0x03);
    assert_eq!(status, 0x9000);
    assert_eq!(response[0], 1, "user present");
    let first = verify_u2f_signature(&reg.public_key, &app, &response);
    let (response, status) = u2f_authenticate(&mut h, &app, &reg.key_handle, 0x08);
    assert_eq!(status, 0x9000);
    assert_eq!(response[0], 0, "dont-enforce: no presence");
    assert!(verify_u2f_signature(&reg.public_key, &app, &response) > first);
    // A refused touch is "conditions not satisfied".
    let mut data = [0u8; 32].to_vec();
    data.extend_from_slice(&app);
    assert_eq!(
        ctap1(&mut h, &apdu(0x01, 0, &data), Verdict::Denied).1,
        0x6985
    );
}

#[test]
fn u2f_credential_signs_in_over_ctap2() {
    let mut h = Harness::new();
    let app = sha256(b"example.com");
    let reg = u2f_register(&mut h, &app);
    let ga = GetAssertion::allowing(&[&reg.key_handle]);
    let response = h.call(&ga.encode()).unwrap();
    let auth_data = field(&response, 2).unwrap().as_bytes().unwrap().clone();
    let signature = field(&response, 3).unwrap().as_bytes().unwrap().clone();
    let mut signed = auth_data;
    signed.extend_from_slice(&ga.client_data_hash);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&reg.public_key).unwrap();
    key.verify(
        &signed,
        &p256::ecdsa::Signature::from_der(&signature).unwrap(),
    )
    .unwrap();
}

#[test]
fn ctap2_credential_signs_in_over_u2f() {
    let mut h = Harness::new();
    let response = h.call(&MakeCredential::default().encode()).unwrap();
    let auth_data = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap());
    let key_handle = auth_data.credential_id.unwrap();
    let Value::Map(cose) = auth_data.public_key.unwrap() else {
        panic!()
    };
    let mut public_key = vec![4u8];
    public_key.extend_from_slice(cose[3].1.as_bytes().unwrap());
    public_key.extend_from_slice(cose[4].1.as_bytes().unwrap());
    let app = sha256(b"example.com");
    let (response, status) = u2f_authenticate(&mut h, &app, &key_handle, 0x03);
    assert_eq!(status, 0x9000);
    verify_u2f_signature(&public_key, &app, &response);
    // An EdDSA credential cannot be used over U2F.
    let response = h
        .call(&MakeCredential::default().algs(&[-8]).encode())
        .unwrap();
    let eddsa = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap())
        .credential_id
        .unwrap();
    assert_eq!(u2f_authenticate(&mut h, &app, &eddsa, 0x03).1, 0x6A80);
}

/// With device attestation chosen, U2F signs with the vault's identity,
/// which survives reset (it identifies the device, not its credentials).
#[test]
fn attestation_identity_survives_reset() {
    let mut h = Harness::with_config(softkey_authenticator::Config {
        attestation: softkey_authenticator::AttestationMode::Certificate,
        ..softkey_authenticator::Config::default()
    });
    let app = sha256(b"example.com");
    let challenge = [1u8; 32];
    let mut data = challenge.to_vec();
    data.extend_from_slice(&app);
    let cert = |response: &[u8]| {
        let kh_len = usize::from(response[66]);
        let rest = &response[67 + kh_len..];
        rest[..4 + usize::from(u16::from_be_bytes([rest[2], rest[3]]))].to_vec()
    };
    let (before, _) = ctap1(&mut h, &apdu(0x01, 0, &data), Verdict::Approved);
    h.call(&[0x07]).unwrap();
    let (after, _) = ctap1(&mut h, &apdu(0x01, 0, &data), Verdict::Approved);
    assert_eq!(cert(&before), cert(&after));
}

#[test]
fn get_info_lists_u2f_only_when_the_runtime_routes_it() {
    use softkey_authenticator::Config;
    let versions = |h: &mut Harness| -> Vec<String> {
        let info = h.call(&[0x04]).unwrap();
        field(&info, 1)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_text().unwrap().to_owned())
            .collect()
    };
    let mut plain = Harness::new();
    assert!(!versions(&mut plain).contains(&"U2F_V2".to_owned()));
    let mut routed = Harness::with_config(Config {
        ctap1: true,
        ..Config::default()
    });
    assert!(versions(&mut routed).contains(&"U2F_V2".to_owned()));
}
