//! Attestation choices of makeCredential: packed self (default), packed with
//! x5c from the device's attestation identity, and `none` on request.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use p256::ecdsa::signature::Verifier as _;
use softkey_authenticator::{AttestationMode, Config};
use support::*;

#[test]
fn none_when_the_platform_prefers_it() {
    let mut h = Harness::new();
    let mc = MakeCredential::default();
    let response = mc
        .clone()
        .formats(&["none", "packed"])
        .call(&mut h)
        .unwrap();
    assert_eq!(field(&response, 1).unwrap().as_text(), Some("none"));
    assert_eq!(field(&response, 3), Some(&Value::Map(vec![])));
    // Unknown formats are skipped; "packed" after them is honoured.
    let response = mc
        .clone()
        .formats(&["tpm", "packed", "none"])
        .call(&mut h)
        .unwrap();
    assert_eq!(field(&response, 1).unwrap().as_text(), Some("packed"));
    // Only unknown formats: the default.
    let response = mc.clone().formats(&["apple"]).call(&mut h).unwrap();
    assert_eq!(field(&response, 1).unwrap().as_text(), Some("packed"));
    let info = h.call(&[0x04]).unwrap();
    let formats: Vec<_> = field(&info, 0x16)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_text().unwrap())
        .collect();
    // "none" is not listed: every authenticator supports it, and CTAP 2.2
    // §6.4 says attestationFormats must not name it.
    assert_eq!(formats, ["packed"]);
}

#[test]
fn packed_with_x5c_is_signed_by_the_attestation_certificate() {
    let mut h = Harness::with_config(Config {
        attestation: AttestationMode::Certificate,
        ..Config::default()
    });
    for alg in [-7, -8] {
        let mc = MakeCredential::default().algs(&[alg]);
        let response = h.call(&mc.encode()).unwrap();
        assert_eq!(field(&response, 1).unwrap().as_text(), Some("packed"));
        let att_stmt = field(&response, 3).unwrap();
        assert_eq!(
            text_field(att_stmt, "alg")
                .unwrap()
                .as_integer()
                .map(i128::from),
            Some(-7)
        );
        let x5c = text_field(att_stmt, "x5c").unwrap().as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        let leaf = <x509_cert::Certificate as x509_cert::der::Decode>::from_der(
            x5c[0].as_bytes().unwrap(),
        )
        .unwrap();
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
            leaf.tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        )
        .unwrap();
        let mut signed = field(&response, 2).unwrap().as_bytes().unwrap().clone();
        signed.extend_from_slice(&mc.client_data_hash);
        let sig = text_field(att_stmt, "sig").unwrap().as_bytes().unwrap();
        key.verify(&signed, &p256::ecdsa::Signature::from_der(sig).unwrap())
            .unwrap();
    }
}
