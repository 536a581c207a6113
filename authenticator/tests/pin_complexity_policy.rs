//! The PIN complexity policy (CTAP 2.2 §7.5): authenticatorConfig
//! setMinPINLength's pinComplexityPolicy (0x04), getInfo
//! `pinComplexityPolicy` (0x1B), setPIN/changePIN under the policy, and the
//! pinComplexityPolicy extension.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{self, int, text};
use softkey_authenticator::pin::Protocol;
use support::*;

const SET_MIN_PIN_LENGTH: u64 = 3;

fn policy_in_info(h: &mut Harness) -> Value {
    field(&h.call(&[0x04]).unwrap(), 0x1B).unwrap().clone()
}

/// setMinPINLength with only pinComplexityPolicy (0x04).
fn set_policy(
    h: &mut Harness,
    p: &Platform,
    token: Option<&[u8]>,
    value: Value,
) -> Result<Value, StatusCode> {
    let params = Value::Map(vec![(int(4), value)]);
    config(h, p, token, SET_MIN_PIN_LENGTH, Some(params))
}

fn acfg(h: &mut Harness, p: &mut Platform, pin: &str) -> Vec<u8> {
    p.token(h, pin, Some(ACFG), None).unwrap()
}

#[test]
fn complexity_policy_is_off_until_the_owner_turns_it_on() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    assert_eq!(policy_in_info(&mut h), Value::Bool(false));
    // Off: a trivial PIN is fine.
    p.change_pin(&mut h, PIN, "1111").unwrap();
    let token = acfg(&mut h, &mut p, "1111");
    set_policy(&mut h, &p, Some(&token), Value::Bool(true)).unwrap();
    assert_eq!(policy_in_info(&mut h), Value::Bool(true));
    // On: repeated, sequential and common PINs are refused.
    for trivial in ["2222", "1234", "9876", "abcdef", "password", "12341234"] {
        assert_eq!(
            p.change_pin(&mut h, "1111", trivial),
            Err(StatusCode::PinPolicyViolation),
            "{trivial}"
        );
    }
    p.change_pin(&mut h, "1111", "a1b2c3d4").unwrap();
}

#[test]
fn complexity_policy_applies_to_set_pin() {
    let mut h = Harness::new();
    let mut p = Platform::new(Protocol::One);
    // No PIN yet: authenticatorConfig needs no token.
    set_policy(&mut h, &p, None, Value::Bool(true)).unwrap();
    assert_eq!(
        p.set_pin(&mut h, "123456"),
        Err(StatusCode::PinPolicyViolation)
    );
    assert_eq!(
        p.set_pin(&mut h, "0000"),
        Err(StatusCode::PinPolicyViolation)
    );
    p.set_pin(&mut h, "4719").unwrap();
}

#[test]
fn complexity_policy_cannot_be_turned_off_but_by_reset() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let token = acfg(&mut h, &mut p, PIN);
    // false while off: nothing to do.
    set_policy(&mut h, &p, Some(&token), Value::Bool(false)).unwrap();
    assert_eq!(policy_in_info(&mut h), Value::Bool(false));
    set_policy(&mut h, &p, Some(&token), Value::Bool(true)).unwrap();
    assert_eq!(
        set_policy(&mut h, &p, Some(&token), Value::Bool(false)),
        Err(StatusCode::PinPolicyViolation)
    );
    assert_eq!(policy_in_info(&mut h), Value::Bool(true));
    h.call(&[0x07]).unwrap();
    assert_eq!(policy_in_info(&mut h), Value::Bool(false));
}

#[test]
fn complexity_policy_parameter_must_be_boolean() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let token = acfg(&mut h, &mut p, PIN);
    assert_eq!(
        set_policy(&mut h, &p, Some(&token), int(1)),
        Err(StatusCode::CborUnexpectedType)
    );
    assert_eq!(policy_in_info(&mut h), Value::Bool(false));
}

/// makeCredential for `rp_id` with the extension input `value`: its output.
fn extension_output(h: &mut Harness, value: Value, rp_id: &str) -> Option<Value> {
    let response = MakeCredential::default()
        .rp(rp_id)
        .ext("pinComplexityPolicy", value)
        .call(h)
        .unwrap();
    let auth_data = field(&response, 2).unwrap().as_bytes().unwrap();
    if auth_data[32] & 0x80 == 0 {
        return None;
    }
    // The extensions map is the last CBOR item: after the attested
    // credential data, whose COSE key parse_auth_data would refuse to
    // leave trailing bytes after.
    let len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    let mut cursor = std::io::Cursor::new(&auth_data[55 + len..]);
    let _key: Value = ciborium::de::from_reader(&mut cursor).unwrap();
    let rest = &auth_data[55 + len + cursor.position() as usize..];
    text_field(&cbor::decode(rest).unwrap(), "pinComplexityPolicy").cloned()
}

#[test]
fn complexity_policy_extension_answers_configured_rps_only() {
    let mut h = Harness::new();
    let p = Platform::new(Protocol::Two);
    let rp_ids = Value::Array(vec![text("example.com")]);
    config(
        &mut h,
        &p,
        None,
        SET_MIN_PIN_LENGTH,
        Some(Value::Map(vec![(int(2), rp_ids)])),
    )
    .unwrap();
    assert_eq!(
        extension_output(&mut h, Value::Bool(true), "example.com"),
        Some(Value::Bool(false))
    );
    assert_eq!(
        extension_output(&mut h, Value::Bool(true), "other.example"),
        None
    );
    set_policy(&mut h, &p, None, Value::Bool(true)).unwrap();
    assert_eq!(
        extension_output(&mut h, Value::Bool(true), "example.com"),
        Some(Value::Bool(true))
    );
    assert_eq!(
        extension_output(&mut h, Value::Bool(false), "example.com"),
        None
    );
    assert_eq!(
        MakeCredential::default()
            .ext("pinComplexityPolicy", text("yes"))
            .call(&mut h),
        Err(StatusCode::CborUnexpectedType)
    );
}
