//! makeCredential and getAssertion with a PIN set: pinUvAuthParam and its
//! protocol, every error path with its exact status code, tokens scoped by
//! permission and RP ID and used once, and what user verification reveals.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use platform::*;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{int, text};
use softkey_authenticator::pin::Protocol;
use support::*;

#[test]
fn make_credential_with_a_pin() {
    for protocol in both() {
        let (mut h, mut p) = with_pin(protocol);
        let discoverable = || MakeCredential::default().rk(true);
        // makeCredUvNotRqd: non-discoverable without UV is fine, discoverable not.
        let made = MakeCredential::default().rk(false).call(&mut h).unwrap();
        let auth_data = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap());
        assert_eq!(auth_data.flags & 0x05, 0x01);
        assert_eq!(discoverable().call(&mut h), Err(StatusCode::PuatRequired));
        // Zero-length pinUvAuthParam with a PIN set: PIN_INVALID after a touch.
        assert_eq!(
            discoverable().auth(&[], p.number()).call(&mut h),
            Err(StatusCode::PinInvalid)
        );
        let token = p.token(&mut h, PIN, Some(MC), Some("example.com")).unwrap();
        let param = p.mac(&token, &MakeCredential::default().client_data_hash);
        // Protocol missing, unsupported.
        let mut unsigned = MakeCredential::default();
        unsigned.auth.param = Some(param.clone());
        assert_eq!(unsigned.call(&mut h), Err(StatusCode::MissingParameter));
        assert_eq!(
            MakeCredential::default().auth(&param, int(7)).call(&mut h),
            Err(StatusCode::InvalidParameter)
        );
        // A wrong MAC.
        let wrong = vec![1; protocol.param_len()];
        assert_eq!(
            discoverable().auth(&wrong, p.number()).call(&mut h),
            Err(StatusCode::PinAuthInvalid)
        );
        let made = discoverable().token(protocol, &token).call(&mut h).unwrap();
        let auth_data = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap());
        assert_eq!(auth_data.flags & 0x05, 0x05, "UP and UV");
        // The token served once.
        assert_eq!(
            discoverable().token(protocol, &token).call(&mut h),
            Err(StatusCode::PinAuthInvalid)
        );
        // Another RP's token, or one without mc.
        let token = p
            .token(&mut h, PIN, Some(MC), Some("other.example"))
            .unwrap();
        assert_eq!(
            discoverable().token(protocol, &token).call(&mut h),
            Err(StatusCode::PinAuthInvalid)
        );
        let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
        assert_eq!(
            discoverable().token(protocol, &token).call(&mut h),
            Err(StatusCode::PinAuthInvalid)
        );
        // "uv": true without built-in UV.
        assert_eq!(
            MakeCredential::default().uv(true).call(&mut h),
            Err(StatusCode::InvalidOption)
        );
    }
}

#[test]
fn get_assertion_with_a_pin_returns_names_with_uv() {
    let protocol = Protocol::Two;
    let (mut h, mut p) = with_pin(protocol);
    let token = p.token(&mut h, PIN, Some(MC | GA), None).unwrap();
    MakeCredential::default()
        .rk(true)
        .token(protocol, &token)
        .call(&mut h)
        .unwrap();
    // Without UV: the user handle only.
    let plain = GetAssertion::default().call(&mut h).unwrap();
    assert!(text_field(field(&plain, 4).unwrap(), "name").is_none());
    let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
    let verified_request = GetAssertion::default().token(protocol, &token);
    let verified = verified_request.call(&mut h).unwrap();
    let auth_data = parse_auth_data(field(&verified, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags & 0x05, 0x05);
    // One account for the RP: "id" alone even with UV (§6.2.2), so that a
    // platform has nothing to ask the user to choose.
    assert!(text_field(field(&verified, 4).unwrap(), "name").is_none());
    assert_eq!(
        verified_request.call(&mut h),
        Err(StatusCode::PinAuthInvalid)
    );
    // Several accounts and UV: names, for the platform's account chooser.
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    MakeCredential {
        user_name: "bob".into(),
        ..MakeCredential::for_user(b"user-2").rk(true)
    }
    .token(protocol, &token)
    .call(&mut h)
    .unwrap();
    let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
    let first = GetAssertion::default()
        .token(protocol, &token)
        .call(&mut h)
        .unwrap();
    assert_eq!(
        field(&first, 5)
            .and_then(|v| v.as_integer())
            .map(i128::from),
        Some(2)
    );
    let mut names = vec![text_field(field(&first, 4).unwrap(), "name").cloned()];
    let next = h.call(&[0x08]).unwrap();
    names.push(text_field(field(&next, 4).unwrap(), "name").cloned());
    assert_eq!(names, [Some(text("bob")), Some(text("alice"))]);
    // Zero-length pinUvAuthParam: PIN_INVALID, as a PIN is set.
    assert_eq!(
        GetAssertion::default().auth(&[], int(2)).call(&mut h),
        Err(StatusCode::PinInvalid)
    );
}
