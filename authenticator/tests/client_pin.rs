//! authenticatorClientPIN (CTAP 2.1 §6.5): every error path of its
//! subcommands with its exact status code, the lockout rules, tokens by
//! built-in UV, and what a reset voids. makeCredential/getAssertion with a
//! token are in `pin_uv_auth_param.rs`; credential management and
//! authenticatorConfig have files of their own.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use std::time::Duration;

use ciborium::Value;
use platform::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::{Authenticator, Config, Outcome, StatusCode, Verdict};
use support::*;

#[test]
fn subcommand_and_parameter_errors() {
    let mut h = Harness::new();
    // No PIN yet: getPINRetries says so.
    assert_eq!(retries(&mut h), Err(StatusCode::PinNotSet));
    // getKeyAgreement needs a supported protocol.
    assert_eq!(
        h.call(&client_pin(vec![(int(2), int(2))])),
        Err(StatusCode::MissingParameter)
    );
    assert_eq!(
        h.call(&client_pin(vec![(int(1), int(3)), (int(2), int(2))])),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        h.call(&client_pin(vec![(int(1), int(1)), (int(2), int(0x42))])),
        Err(StatusCode::InvalidSubcommand)
    );
    assert_eq!(
        h.call(&client_pin(vec![(int(1), int(1))])),
        Err(StatusCode::MissingParameter)
    );
    assert_eq!(
        h.call(&client_pin(vec![(int(1), int(1)), (int(2), text("x"))])),
        Err(StatusCode::CborUnexpectedType)
    );
    // Built-in UV is not configured.
    let mut p = Platform::new(Protocol::Two);
    let (key, _) = p.agree(&mut h);
    assert_eq!(
        h.call(&client_pin(vec![
            (int(1), int(2)),
            (int(2), int(6)),
            (int(3), key),
            (int(9), int(1))
        ])),
        Err(StatusCode::NotAllowed)
    );
    assert_eq!(
        h.call(&client_pin(vec![(int(1), int(2)), (int(2), int(7))])),
        Err(StatusCode::NotAllowed)
    );
    // Tokens need a PIN.
    assert_eq!(
        p.token(&mut h, PIN, Some(MC), None),
        Err(StatusCode::PinNotSet)
    );
}

#[test]
fn set_pin_rules() {
    for protocol in both() {
        let mut h = Harness::new();
        let mut p = Platform::new(protocol);
        // Missing newPinEnc.
        let (key, _) = p.agree(&mut h);
        assert_eq!(
            h.call(&client_pin(vec![
                (int(1), p.number()),
                (int(2), int(3)),
                (int(3), key.clone()),
                (int(4), bytes(&[0; 16]))
            ])),
            Err(StatusCode::MissingParameter)
        );
        // A wrong pinUvAuthParam.
        let (key, shared) = p.agree(&mut h);
        let new_pin_enc = shared.encrypt(&mut p.rng, &Platform::padded(b"5678"));
        assert_eq!(
            h.call(&client_pin(vec![
                (int(1), p.number()),
                (int(2), int(3)),
                (int(3), key),
                (int(4), bytes(&vec![0; protocol.param_len()])),
                (int(5), bytes(&new_pin_enc)),
            ])),
            Err(StatusCode::PinAuthInvalid)
        );
        // Too short, too long (64 bytes, no terminator), not UTF-8.
        assert_eq!(
            p.set_pin(&mut h, "123"),
            Err(StatusCode::PinPolicyViolation)
        );
        let long = [b'1'; 64];
        let request = p.set_pin_request(&mut h, &long);
        assert_eq!(h.call(&request), Err(StatusCode::PinPolicyViolation));
        let request = p.set_pin_request(&mut h, &[0xff, 0xfe, 0xfd, 0xfc]);
        assert_eq!(h.call(&request), Err(StatusCode::PinPolicyViolation));
        // A padded PIN that is not 64 bytes.
        let (key, shared) = p.agree(&mut h);
        let new_pin_enc = shared.encrypt(&mut p.rng, &[b'1'; 32]);
        let param = shared.authenticate(&new_pin_enc);
        assert_eq!(
            h.call(&client_pin(vec![
                (int(1), p.number()),
                (int(2), int(3)),
                (int(3), key),
                (int(4), bytes(&param)),
                (int(5), bytes(&new_pin_enc)),
            ])),
            Err(StatusCode::InvalidParameter)
        );
        // Four code points of two bytes each are long enough.
        p.set_pin(&mut h, "éééé").unwrap();
        assert_eq!(retries(&mut h), Ok(8));
        // Set once; afterwards changePIN (CTAP 2.1/2.3 §6.5.5.5 step 3:
        // "If a PIN has already been set, … CTAP2_ERR_PIN_AUTH_INVALID").
        assert_eq!(p.set_pin(&mut h, "5678"), Err(StatusCode::PinAuthInvalid));
        assert!(p.token(&mut h, "éééé", Some(MC), None).is_ok());
    }
}

#[test]
fn change_pin_rules() {
    for protocol in both() {
        let mut h = Harness::new();
        let mut p = Platform::new(protocol);
        assert_eq!(
            p.change_pin(&mut h, PIN, "5678"),
            Err(StatusCode::PinNotSet)
        );
        p.set_pin(&mut h, PIN).unwrap();
        assert_eq!(
            p.change_pin(&mut h, "0000", "5678"),
            Err(StatusCode::PinInvalid)
        );
        assert_eq!(retries(&mut h), Ok(7));
        assert_eq!(
            p.change_pin(&mut h, PIN, "56"),
            Err(StatusCode::PinPolicyViolation)
        );
        // The old PIN matched: retries are back to 8.
        assert_eq!(retries(&mut h), Ok(8));
        let token = p.token(&mut h, PIN, Some(CM), None).unwrap();
        p.change_pin(&mut h, PIN, "5678").unwrap();
        assert_eq!(
            p.token(&mut h, PIN, Some(MC), None),
            Err(StatusCode::PinInvalid)
        );
        // Tokens issued before the change are void.
        assert_eq!(
            metadata(&mut h, &p, &token),
            Err(StatusCode::PinAuthInvalid)
        );
        assert!(p.token(&mut h, "5678", Some(MC), None).is_ok());
    }
}

#[test]
fn lockout_three_in_a_row_then_power_cycle_then_eight_in_all() {
    for protocol in both() {
        let (mut h, mut p) = with_pin(protocol);
        assert_eq!(
            p.token(&mut h, "0000", Some(MC), None),
            Err(StatusCode::PinInvalid)
        );
        assert_eq!(
            p.token(&mut h, "0000", None, None),
            Err(StatusCode::PinInvalid)
        );
        assert_eq!(
            p.token(&mut h, "0000", Some(MC), None),
            Err(StatusCode::PinAuthBlocked)
        );
        assert_eq!(retries(&mut h), Ok(5));
        // Blocked until a power cycle, even for the right PIN, without a retry spent.
        assert_eq!(
            p.token(&mut h, PIN, Some(MC), None),
            Err(StatusCode::PinAuthBlocked)
        );
        assert_eq!(retries(&mut h), Ok(5));
        h.auth.power_cycle(h.now);
        for expected in [4, 3] {
            assert_eq!(
                p.token(&mut h, "0000", Some(GA), None),
                Err(StatusCode::PinInvalid)
            );
            assert_eq!(retries(&mut h), Ok(expected));
        }
        assert_eq!(
            p.token(&mut h, "0000", Some(GA), None),
            Err(StatusCode::PinAuthBlocked)
        );
        h.auth.power_cycle(h.now);
        assert_eq!(
            p.token(&mut h, "0000", Some(GA), None),
            Err(StatusCode::PinInvalid)
        );
        // The eighth wrong PIN in all blocks the PIN itself.
        assert_eq!(
            p.token(&mut h, "0000", Some(GA), None),
            Err(StatusCode::PinBlocked)
        );
        assert_eq!(retries(&mut h), Ok(0));
        // PIN_BLOCKED survives a restart of the process on the same store.
        let store = std::mem::replace(
            &mut h.auth,
            Authenticator::new(
                Config::default(),
                softkey_authenticator::store::MemoryStore::new(
                    softkey_authenticator::secret::Secret32::new([0; 32]),
                ),
                StdRng::seed_from_u64(1),
                h.now,
            ),
        )
        .into_store();
        h.auth = Authenticator::new(Config::default(), store, StdRng::seed_from_u64(2), h.now);
        assert_eq!(
            p.token(&mut h, PIN, Some(GA), None),
            Err(StatusCode::PinBlocked)
        );
        assert_eq!(
            p.change_pin(&mut h, PIN, "5678"),
            Err(StatusCode::PinBlocked)
        );
        // Only a reset helps.
        h.call(&[0x07]).unwrap();
        assert_eq!(retries(&mut h), Err(StatusCode::PinNotSet));
    }
}

#[test]
fn a_correct_pin_restores_the_retries() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    p.token(&mut h, "0000", Some(MC), None).unwrap_err();
    p.token(&mut h, "0000", Some(MC), None).unwrap_err();
    assert_eq!(retries(&mut h), Ok(6));
    p.token(&mut h, PIN, Some(MC), None).unwrap();
    assert_eq!(retries(&mut h), Ok(8));
    // …and the consecutive count starts again.
    p.token(&mut h, "0000", Some(MC), None).unwrap_err();
    p.token(&mut h, "0000", Some(MC), None).unwrap_err();
    assert_eq!(p.token(&mut h, PIN, Some(MC), None).map(|_| ()), Ok(()));
}

#[test]
fn permission_errors() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    assert_eq!(
        p.token(&mut h, PIN, Some(0), None),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        p.token(&mut h, PIN, Some(0x08), None),
        Err(StatusCode::UnauthorizedPermission)
    );
    // getPinToken takes no permissions or rpId.
    let (key, shared) = p.agree(&mut h);
    let pin_hash_enc = shared.encrypt(&mut p.rng, &sha256(PIN.as_bytes())[..16]);
    assert_eq!(
        h.call(&client_pin(vec![
            (int(1), int(2)),
            (int(2), int(5)),
            (int(3), key.clone()),
            (int(6), bytes(&pin_hash_enc)),
            (int(10), text("example.com")),
        ])),
        Err(StatusCode::InvalidParameter)
    );
    // getPinUvAuthTokenUsingPinWithPermissions needs its permissions.
    assert_eq!(
        h.call(&client_pin(vec![
            (int(1), int(2)),
            (int(2), int(9)),
            (int(3), key),
            (int(6), bytes(&pin_hash_enc)),
        ])),
        Err(StatusCode::MissingParameter)
    );
    // An off-curve key.
    let bad_key = Value::Map(vec![
        (int(1), int(2)),
        (int(3), int(-25)),
        (int(-1), int(1)),
        (int(-2), bytes(&[1; 32])),
        (int(-3), bytes(&[2; 32])),
    ]);
    assert_eq!(
        h.call(&client_pin(vec![
            (int(1), int(2)),
            (int(2), int(9)),
            (int(3), bad_key),
            (int(6), bytes(&pin_hash_enc)),
            (int(9), int(1)),
        ])),
        Err(StatusCode::InvalidParameter)
    );
}

#[test]
fn built_in_uv_issues_tokens_and_counts_failures() {
    let mut h = uv_harness();
    let mut p = Platform::new(Protocol::Two);
    assert_eq!(info_option(&mut h, "uv"), Some(Value::Bool(true)));
    let uv_retries = |h: &mut Harness| -> i128 {
        let reply = h
            .call(&client_pin(vec![(int(1), int(2)), (int(2), int(7))]))
            .unwrap();
        field(&reply, 5).unwrap().as_integer().unwrap().into()
    };
    assert_eq!(uv_retries(&mut h), 8);
    let (key, shared) = p.agree(&mut h);
    let uv_token = client_pin(vec![
        (int(1), int(2)),
        (int(2), int(6)),
        (int(3), key),
        (int(9), int(3)),
    ]);
    // The core asks the runtime to verify the person.
    match h.auth.handle(&uv_token, h.now) {
        Outcome::AwaitUser(prompt) => {
            assert_eq!(prompt.action, softkey_authenticator::PromptAction::Verify)
        }
        other => panic!("{other:?}"),
    }
    let reply = match h.auth.resume(Verdict::Approved, h.now) {
        Outcome::Reply(reply) => decode_reply(&reply).unwrap(),
        other => panic!("{other:?}"),
    };
    let token = shared
        .decrypt(field(&reply, 2).unwrap().as_bytes().unwrap())
        .unwrap();
    // A discoverable credential with the UV token.
    MakeCredential::default()
        .rk(true)
        .token(p.protocol, &token)
        .call(&mut h)
        .unwrap();
    // Failed verification: UV_INVALID, one retry fewer; at zero UV_BLOCKED.
    for left in (1..8).rev() {
        assert_eq!(
            decode_reply(&h.call_with(&uv_token, Verdict::Denied)),
            Err(StatusCode::UvInvalid)
        );
        assert_eq!(uv_retries(&mut h), left);
    }
    assert_eq!(
        decode_reply(&h.call_with(&uv_token, Verdict::Denied)),
        Err(StatusCode::UvBlocked)
    );
    assert_eq!(
        decode_reply(&h.call_with(&uv_token, Verdict::Approved)),
        Err(StatusCode::UvBlocked)
    );
    // "uv": true in makeCredential uses built-in UV too, once it is unblocked.
    h.call(&[0x07]).unwrap();
    let made = MakeCredential::default()
        .uv(true)
        .rk(true)
        .call(&mut h)
        .unwrap();
    let auth_data = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags & 0x05, 0x05);
    h.advance(Duration::from_secs(1));
}

#[test]
fn reset_voids_tokens_pin_and_configuration() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let token = p.token(&mut h, PIN, Some(CM | ACFG), None).unwrap();
    config(&mut h, &p, Some(&token), 2, None).unwrap();
    assert_eq!(info_option(&mut h, "alwaysUv"), Some(Value::Bool(true)));
    h.call(&[0x07]).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &token),
        Err(StatusCode::PinAuthInvalid)
    );
    assert_eq!(info_option(&mut h, "clientPin"), Some(Value::Bool(false)));
    assert_eq!(info_option(&mut h, "alwaysUv"), Some(Value::Bool(false)));
    assert_eq!(retries(&mut h), Err(StatusCode::PinNotSet));
}
