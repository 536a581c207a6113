//! getInfo's CTAP 2.2 members, each against what is built: attestationFormats,
//! uvCountSinceLastPinEntry, longTouchForReset (absent), encIdentifier,
//! transportsForReset, pinComplexityPolicy, maxPINLength, encCredStoreState,
//! authenticatorConfigCommands — and the behaviour each one promises.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::cbor::int;
use softkey_authenticator::enterprise::EnterpriseAttestation;
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::{Config, Outcome, StatusCode, Verdict};
use support::*;

fn info(h: &mut Harness) -> Value {
    h.call(&[0x04]).unwrap()
}

fn texts(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_text().unwrap())
        .collect()
}

fn integers(value: &Value) -> Vec<i128> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_integer().unwrap().into())
        .collect()
}

#[test]
fn get_info_ctap22_members_are_true_to_what_is_built() {
    let mut h = Harness::new();
    let info = info(&mut h);
    assert_eq!(texts(field(&info, 0x16).unwrap()), ["packed"]);
    assert!(field(&info, 0x15).is_none(), "no vendor prototype commands");
    assert!(field(&info, 0x17).is_none(), "no built-in UV to count");
    assert!(field(&info, 0x18).is_none(), "no long touch for reset");
    assert_eq!(field(&info, 0x19).unwrap().as_bytes().unwrap().len(), 32);
    assert_eq!(texts(field(&info, 0x1A).unwrap()), ["usb"]);
    assert_eq!(field(&info, 0x1B), Some(&Value::Bool(false)));
    assert!(field(&info, 0x1C).is_none(), "no policy URL");
    assert_eq!(field(&info, 0x1D), Some(&Value::from(63)));
    assert_eq!(field(&info, 0x1E).unwrap().as_bytes().unwrap().len(), 32);
    assert_eq!(integers(field(&info, 0x1F).unwrap()), [2, 3]);
    let options = field(&info, 4).unwrap();
    assert_eq!(
        text_field(options, "perCredMgmtRO"),
        Some(&Value::Bool(true))
    );
    assert!(text_field(options, "ep").is_none());
    // The reset transport works: authenticatorReset succeeds.
    assert_eq!(h.call(&[0x07]), Ok(Value::Null));
}

#[test]
fn config_commands_outside_the_advertised_list_are_invalid() {
    let mut h = Harness::new();
    let p = Platform::new(Protocol::Two);
    for sub in [0x01, 0x04, 0xFF] {
        assert_eq!(
            config(&mut h, &p, None, sub, None),
            Err(StatusCode::InvalidSubcommand),
            "subcommand 0x{sub:02x}"
        );
    }
    let mut capable = Harness::with_config(Config {
        enterprise_attestation: Some(EnterpriseAttestation::default()),
        ..Config::default()
    });
    assert_eq!(
        integers(field(&info(&mut capable), 0x1F).unwrap()),
        [1, 2, 3]
    );
    assert_eq!(config(&mut capable, &p, None, 0x01, None), Ok(Value::Null));
}

#[test]
fn max_pin_length_is_the_longest_pin_accepted() {
    let mut h = Harness::new();
    let mut p = Platform::new(Protocol::Two);
    let longest = "7".repeat(63);
    // 64 bytes fill the padded block with no terminator: too long.
    assert_eq!(
        p.set_pin(&mut h, &"7".repeat(64)),
        Err(StatusCode::PinPolicyViolation)
    );
    p.set_pin(&mut h, &longest).unwrap();
    let token = p.token(&mut h, &longest, Some(ACFG), None).unwrap();
    // The minimum may rise to maxPINLength, not past it.
    let min = |n: i64| Some(Value::Map(vec![(int(1), int(n))]));
    assert_eq!(
        config(&mut h, &p, Some(&token), 3, min(64)),
        Err(StatusCode::PinPolicyViolation)
    );
    config(&mut h, &p, Some(&token), 3, min(63)).unwrap();
    assert_eq!(field(&info(&mut h), 0x0D), Some(&Value::from(63)));
}

#[test]
fn uv_acfg_is_advertised_when_built_in_uv_grants_acfg() {
    // getPinUvAuthTokenUsingUvWithPermissions step 4: acfg needs uvAcfg
    // true. softkey grants acfg by built-in UV, so it must say so.
    let mut plain = Harness::new();
    let options = field(&info(&mut plain), 4).unwrap().clone();
    assert!(text_field(&options, "uvAcfg").is_none());
    let (mut h, mut p) = built_in_uv_with_pin(Protocol::Two);
    let options = field(&info(&mut h), 4).unwrap().clone();
    assert_eq!(text_field(&options, "uvAcfg"), Some(&Value::Bool(true)));
    let (request, shared) = p.uv_token_request(&mut h, ACFG);
    let reply = h.call(&request).unwrap();
    let token = shared
        .decrypt(field(&reply, 2).unwrap().as_bytes().unwrap())
        .unwrap();
    assert_eq!(config(&mut h, &p, Some(&token), 2, None), Ok(Value::Null));
}

fn uv_count(h: &mut Harness) -> Value {
    field(&info(h), 0x17).unwrap().clone()
}

#[test]
fn uv_count_since_last_pin_entry_counts_built_in_verifications() {
    let (mut h, mut p) = built_in_uv_with_pin(Protocol::Two);
    assert_eq!(uv_count(&mut h), Value::from(0));
    let (uv_token, _) = p.uv_token_request(&mut h, MC);
    assert!(h.call(&uv_token).is_ok());
    assert_eq!(uv_count(&mut h), Value::from(1));
    // makeCredential with "uv": true verifies too.
    let mc = MakeCredential::default().uv(true);
    h.call(&mc.encode()).unwrap();
    assert_eq!(uv_count(&mut h), Value::from(2));
    // A failed verification is not a verification.
    assert_eq!(
        decode_reply(&h.call_with(&uv_token, Verdict::Denied)),
        Err(StatusCode::UvInvalid)
    );
    assert_eq!(uv_count(&mut h), Value::from(2));
    // A correct PIN starts the count again.
    p.token(&mut h, PIN, Some(MC), None).unwrap();
    assert_eq!(uv_count(&mut h), Value::from(0));
    // It survives a power cycle.
    assert!(matches!(
        h.auth.handle(&uv_token, h.now),
        Outcome::AwaitUser(_)
    ));
    h.auth.resume(Verdict::Approved, h.now);
    let now = h.now;
    h.auth.power_cycle(now);
    assert_eq!(uv_count(&mut h), Value::from(1));
}
