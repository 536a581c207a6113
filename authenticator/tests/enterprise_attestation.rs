//! Enterprise attestation (CTAP 2.1 §7.1, §6.1.2 step 9, §6.11.1): off by
//! default, enabled by authenticatorConfig, vendor-facilitated for the listed
//! RP IDs and platform-managed for any, disabled again by reset.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use p256::ecdsa::signature::Verifier as _;
use platform::*;
use rand::SeedableRng;
use softkey_authenticator::cbor::{int, text};
use softkey_authenticator::enterprise::EnterpriseAttestation;
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::{AAGUID, AttestationMode, Config, StatusCode};
use support::*;
use x509_cert::der::{Decode, Encode};

const LISTED: &str = "enterprise.example.com";

fn capable(mode: AttestationMode) -> Harness {
    Harness::with_config(Config {
        attestation: mode,
        enterprise_attestation: Some(EnterpriseAttestation {
            rp_ids: vec![LISTED.into()],
        }),
        ..Config::default()
    })
}

fn ep(h: &mut Harness) -> Option<Value> {
    let info = h.call(&[0x04]).unwrap();
    text_field(field(&info, 4).unwrap(), "ep").cloned()
}

fn make(rp_id: &str, enterprise: Value, formats: Option<&[&str]>) -> Vec<u8> {
    let mc = MakeCredential::default().rp(rp_id).member(0x0A, enterprise);
    match formats {
        Some(formats) => mc.formats(formats).encode(),
        None => mc.encode(),
    }
}

fn enable(h: &mut Harness) {
    let p = Platform::new(Protocol::Two);
    assert_eq!(config(h, &p, None, 0x01, None), Ok(Value::Null));
}

fn x5c_leaf(response: &Value) -> Option<x509_cert::Certificate> {
    let statement = field(response, 3).unwrap();
    let x5c = text_field(statement, "x5c")?.as_array().unwrap();
    assert_eq!(x5c.len(), 1, "the attestation certificate alone");
    Some(x509_cert::Certificate::from_der(x5c[0].as_bytes().unwrap()).unwrap())
}

fn public_key(certificate: &x509_cert::Certificate) -> p256::ecdsa::VerifyingKey {
    p256::ecdsa::VerifyingKey::from_sec1_bytes(
        certificate
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes(),
    )
    .unwrap()
}

/// The response is an enterprise attestation: packed, signed by the
/// enterprise certificate alone, epAtt true. Returns that certificate.
fn assert_enterprise(response: &Value) -> x509_cert::Certificate {
    assert_eq!(field(response, 1).unwrap().as_text(), Some("packed"));
    assert_eq!(field(response, 4), Some(&Value::Bool(true)), "epAtt");
    let leaf = x5c_leaf(response).expect("x5c");
    let mut signed = field(response, 2).unwrap().as_bytes().unwrap().clone();
    signed.extend_from_slice(&MakeCredential::default().client_data_hash);
    let sig = text_field(field(response, 3).unwrap(), "sig")
        .unwrap()
        .as_bytes()
        .unwrap();
    public_key(&leaf)
        .verify(&signed, &p256::ecdsa::Signature::from_der(sig).unwrap())
        .unwrap();
    let subject = leaf.tbs_certificate().subject().to_string();
    assert!(
        subject.contains("OU=Authenticator Attestation"),
        "{subject}"
    );
    leaf
}

#[test]
fn enterprise_attestation_is_off_unless_configured() {
    let mut h = Harness::new();
    assert_eq!(ep(&mut h), None);
    for mode in [1, 2, 3] {
        assert_eq!(
            h.call(&make(LISTED, int(mode), None)),
            Err(StatusCode::InvalidParameter)
        );
    }
    let p = Platform::new(Protocol::Two);
    assert_eq!(
        config(&mut h, &p, None, 0x01, None),
        Err(StatusCode::InvalidSubcommand)
    );
}

#[test]
fn capable_authenticator_refuses_enterprise_requests_until_enabled() {
    let mut h = capable(AttestationMode::SelfAttestation);
    assert_eq!(ep(&mut h), Some(Value::Bool(false)));
    for mode in [1, 2] {
        assert_eq!(
            h.call(&make(LISTED, int(mode), None)),
            Err(StatusCode::InvalidParameter)
        );
    }
    enable(&mut h);
    assert_eq!(ep(&mut h), Some(Value::Bool(true)));
    // Enabling twice changes nothing.
    enable(&mut h);
    assert_eq!(ep(&mut h), Some(Value::Bool(true)));
}

#[test]
fn enabling_enterprise_attestation_needs_an_acfg_token() {
    let mut h = capable(AttestationMode::SelfAttestation);
    let mut p = Platform::new(Protocol::Two);
    p.set_pin(&mut h, PIN).unwrap();
    assert_eq!(
        config(&mut h, &p, None, 0x01, None),
        Err(StatusCode::PuatRequired)
    );
    let cm = p.token(&mut h, PIN, Some(CM), None).unwrap();
    assert_eq!(
        config(&mut h, &p, Some(&cm), 0x01, None),
        Err(StatusCode::PinAuthInvalid)
    );
    assert_eq!(ep(&mut h), Some(Value::Bool(false)));
    let token = p.token(&mut h, PIN, Some(ACFG), None).unwrap();
    assert_eq!(
        config(&mut h, &p, Some(&token), 0x01, None),
        Ok(Value::Null)
    );
    assert_eq!(ep(&mut h), Some(Value::Bool(true)));
}

#[test]
fn vendor_facilitated_attestation_only_for_listed_rps() {
    let mut h = capable(AttestationMode::Certificate);
    enable(&mut h);
    let regular = h.call(&make("other.example", int(1), None)).unwrap();
    assert!(field(&regular, 4).is_none(), "no epAtt");
    let regular_leaf = x5c_leaf(&regular).unwrap();
    let enterprise = h.call(&make(LISTED, int(1), None)).unwrap();
    let enterprise_leaf = assert_enterprise(&enterprise);
    assert_ne!(
        enterprise_leaf.to_der().unwrap(),
        regular_leaf.to_der().unwrap()
    );
    assert_ne!(public_key(&enterprise_leaf), public_key(&regular_leaf));
    // Both are issued by the vault's attestation root.
    let identity = softkey_authenticator::attestation::load_or_create(
        h.auth.store_mut(),
        AAGUID,
        &mut rand::rngs::StdRng::seed_from_u64(0),
    )
    .unwrap();
    let root = x509_cert::Certificate::from_der(identity.root_der()).unwrap();
    assert_eq!(
        enterprise_leaf.tbs_certificate().issuer(),
        root.tbs_certificate().subject()
    );
    assert_eq!(identity.enterprise_root_der(), Some(identity.root_der()));
    let root_key = public_key(&root);
    let tbs = enterprise_leaf.tbs_certificate().to_der().unwrap();
    let signature =
        p256::ecdsa::Signature::from_der(enterprise_leaf.signature().raw_bytes()).unwrap();
    root_key.verify(&tbs, &signature).unwrap();
}

#[test]
fn platform_managed_attestation_for_any_rp() {
    let mut h = capable(AttestationMode::SelfAttestation);
    enable(&mut h);
    for rp in [LISTED, "other.example"] {
        let response = h.call(&make(rp, int(2), None)).unwrap();
        assert_enterprise(&response);
    }
    // Self attestation stays the ordinary kind: no x5c, no epAtt.
    let ordinary = h.call(&MakeCredential::default().encode()).unwrap();
    assert!(x5c_leaf(&ordinary).is_none());
    assert!(field(&ordinary, 4).is_none());
}

#[test]
fn enterprise_attestation_values_other_than_one_or_two_are_invalid() {
    let mut h = capable(AttestationMode::SelfAttestation);
    enable(&mut h);
    for mode in [0, 3, 255] {
        assert_eq!(
            h.call(&make(LISTED, int(mode), None)),
            Err(StatusCode::InvalidOption),
            "enterpriseAttestation {mode}"
        );
    }
    for wrong in [text("1"), Value::Bool(true), int(-1)] {
        assert_eq!(
            h.call(&make(LISTED, wrong, None)),
            Err(StatusCode::CborUnexpectedType)
        );
    }
}

#[test]
fn none_preference_wins_over_enterprise_attestation() {
    let mut h = capable(AttestationMode::SelfAttestation);
    enable(&mut h);
    let response = h.call(&make(LISTED, int(2), Some(&["none"]))).unwrap();
    assert_eq!(field(&response, 1).unwrap().as_text(), Some("none"));
    assert!(field(&response, 4).is_none());
}

#[test]
fn reset_disables_enterprise_attestation_but_keeps_its_certificate() {
    let mut h = capable(AttestationMode::SelfAttestation);
    enable(&mut h);
    let before = assert_enterprise(&h.call(&make(LISTED, int(2), None)).unwrap());
    h.call(&[0x07]).unwrap();
    assert_eq!(ep(&mut h), Some(Value::Bool(false)));
    assert_eq!(
        h.call(&make(LISTED, int(2), None)),
        Err(StatusCode::InvalidParameter)
    );
    enable(&mut h);
    let after = assert_enterprise(&h.call(&make(LISTED, int(2), None)).unwrap());
    assert_eq!(before.to_der().unwrap(), after.to_der().unwrap());
}
