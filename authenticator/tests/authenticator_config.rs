//! authenticatorConfig (CTAP 2.1 §6.11): alwaysUv, setMinPINLength with the
//! forced PIN change it can bring, forceChangePin, and the minPinLength
//! extension for the RPs it names.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{int, text};
use softkey_authenticator::pin::Protocol;
use support::*;

#[test]
fn authenticator_config() {
    let mut h = Harness::new();
    let mut p = Platform::new(Protocol::Two);
    // Unprotected: alwaysUv toggles without a token, and then even a
    // non-discoverable credential needs one.
    config(&mut h, &p, None, 2, None).unwrap();
    assert_eq!(info_option(&mut h, "alwaysUv"), Some(Value::Bool(true)));
    assert_eq!(
        info_option(&mut h, "makeCredUvNotRqd"),
        Some(Value::Bool(false))
    );
    assert_eq!(
        MakeCredential::default().rk(false).call(&mut h),
        Err(StatusCode::PuatRequired)
    );
    config(&mut h, &p, None, 2, None).unwrap();
    assert_eq!(
        config(&mut h, &p, None, 1, None),
        Err(StatusCode::InvalidSubcommand)
    );
    // forceChangePin without a PIN.
    let force = Value::Map(vec![(int(3), Value::Bool(true))]);
    assert_eq!(
        config(&mut h, &p, None, 3, Some(force.clone())),
        Err(StatusCode::PinNotSet)
    );
    p.set_pin(&mut h, PIN).unwrap();
    assert_eq!(
        config(&mut h, &p, None, 2, None),
        Err(StatusCode::PuatRequired)
    );
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    assert_eq!(
        config(&mut h, &p, Some(&token), 2, None),
        Err(StatusCode::PinAuthInvalid)
    );
    let token = p.token(&mut h, PIN, Some(ACFG), None).unwrap();
    // setMinPINLength: grows only; a PIN shorter than the minimum must change.
    let six = Value::Map(vec![(int(1), int(6))]);
    config(&mut h, &p, Some(&token), 3, Some(six)).unwrap();
    let info = h.call(&[0x04]).unwrap();
    assert_eq!(field(&info, 0x0D), Some(&Value::from(6)));
    assert_eq!(field(&info, 0x0C), Some(&Value::Bool(true)));
    let four = Value::Map(vec![(int(1), int(4))]);
    assert_eq!(
        config(&mut h, &p, Some(&token), 3, Some(four)),
        Err(StatusCode::PinPolicyViolation)
    );
    let too_long = Value::Map(vec![(int(1), int(64))]);
    assert_eq!(
        config(&mut h, &p, Some(&token), 3, Some(too_long)),
        Err(StatusCode::PinPolicyViolation)
    );
    // Forced change: no token (PIN_POLICY_VIOLATION; getPinToken says PIN_INVALID).
    assert_eq!(
        p.token(&mut h, PIN, Some(MC), None),
        Err(StatusCode::PinPolicyViolation)
    );
    assert_eq!(
        p.token(&mut h, PIN, None, None),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(
        p.change_pin(&mut h, PIN, "12345"),
        Err(StatusCode::PinPolicyViolation)
    );
    p.change_pin(&mut h, PIN, "123456").unwrap();
    let info = h.call(&[0x04]).unwrap();
    assert_eq!(field(&info, 0x0C), Some(&Value::Bool(false)));
    // forceChangePin: the same PIN again is refused.
    let token = p.token(&mut h, "123456", Some(ACFG), None).unwrap();
    config(&mut h, &p, Some(&token), 3, Some(force)).unwrap();
    assert_eq!(
        p.change_pin(&mut h, "123456", "123456"),
        Err(StatusCode::PinPolicyViolation)
    );
    p.change_pin(&mut h, "123456", "654321").unwrap();
}

#[test]
fn min_pin_length_extension_answers_configured_rps_only() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let token = p.token(&mut h, PIN, Some(ACFG), None).unwrap();
    let rps = Value::Map(vec![(int(2), Value::Array(vec![text("example.com")]))]);
    config(&mut h, &p, Some(&token), 3, Some(rps)).unwrap();
    for (rp, expected) in [("example.com", true), ("other.example", false)] {
        let made = MakeCredential::default()
            .rp(rp)
            .ext("minPinLength", Value::Bool(true))
            .call(&mut h)
            .unwrap();
        let auth_data = field(&made, 2).unwrap().as_bytes().unwrap().clone();
        assert_eq!(auth_data[32] & 0x80 != 0, expected, "{rp}");
        if expected {
            // The extension outputs end authData: {"minPinLength": 4}.
            let mut expected = vec![0xa1, 0x6c];
            expected.extend_from_slice(b"minPinLength");
            expected.push(0x04);
            assert!(auth_data.ends_with(&expected));
        }
    }
}
