//! authenticatorClientPIN, makeCredential/getAssertion with pinUvAuthParam,
//! credential management and authenticatorConfig: every error path with its
//! exact status code, and the lockout rules.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use std::time::Duration;

use ciborium::Value;
use platform::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{self, bytes, int, text};
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
fn make_credential_with_a_pin() {
    for protocol in both() {
        let (mut h, mut p) = with_pin(protocol);
        let cdh = MakeCredential::default().client_data_hash;
        // makeCredUvNotRqd: non-discoverable without UV is fine, discoverable not.
        let made = make_credential(&mut h, false, None).unwrap();
        let auth_data = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap());
        assert_eq!(auth_data.flags & 0x05, 0x01);
        assert_eq!(
            make_credential(&mut h, true, None),
            Err(StatusCode::PuatRequired)
        );
        // Zero-length pinUvAuthParam with a PIN set: PIN_INVALID after a touch.
        assert_eq!(
            make_credential(&mut h, true, Some((vec![], p.number()))),
            Err(StatusCode::PinInvalid)
        );
        let token = p.token(&mut h, PIN, Some(MC), Some("example.com")).unwrap();
        let param = p.mac(&token, &cdh);
        // Protocol missing, unsupported.
        let mut req = MakeCredential::default().encode();
        let mut map = cbor::decode(&req[1..]).unwrap().into_map().unwrap();
        map.push((int(8), bytes(&param)));
        req = request(0x01, map.clone());
        assert_eq!(h.call(&req), Err(StatusCode::MissingParameter));
        map.push((int(9), int(7)));
        assert_eq!(
            h.call(&request(0x01, map)),
            Err(StatusCode::InvalidParameter)
        );
        // A wrong MAC.
        assert_eq!(
            make_credential(
                &mut h,
                true,
                Some((vec![1; protocol.param_len()], p.number()))
            ),
            Err(StatusCode::PinAuthInvalid)
        );
        let made = make_credential(&mut h, true, Some((param.clone(), p.number()))).unwrap();
        let auth_data = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap());
        assert_eq!(auth_data.flags & 0x05, 0x05, "UP and UV");
        // The token served once.
        assert_eq!(
            make_credential(&mut h, true, Some((param, p.number()))),
            Err(StatusCode::PinAuthInvalid)
        );
        // Another RP's token, or one without mc.
        let token = p
            .token(&mut h, PIN, Some(MC), Some("other.example"))
            .unwrap();
        assert_eq!(
            make_credential(&mut h, true, Some((p.mac(&token, &cdh), p.number()))),
            Err(StatusCode::PinAuthInvalid)
        );
        let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
        assert_eq!(
            make_credential(&mut h, true, Some((p.mac(&token, &cdh), p.number()))),
            Err(StatusCode::PinAuthInvalid)
        );
        // "uv": true without built-in UV.
        let req = MakeCredential {
            uv: Some(true),
            ..MakeCredential::default()
        };
        assert_eq!(h.call(&req.encode()), Err(StatusCode::InvalidOption));
    }
}

#[test]
fn get_assertion_with_a_pin_returns_names_with_uv() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let cdh = MakeCredential::default().client_data_hash;
    let token = p.token(&mut h, PIN, Some(MC | GA), None).unwrap();
    make_credential(&mut h, true, Some((p.mac(&token, &cdh), p.number()))).unwrap();
    // Without UV: the user handle only.
    let ga = GetAssertion::default();
    let plain = h.call(&ga.encode()).unwrap();
    assert!(text_field(field(&plain, 4).unwrap(), "name").is_none());
    let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
    let mut map = cbor::decode(&ga.encode()[1..]).unwrap().into_map().unwrap();
    map.push((int(6), bytes(&p.mac(&token, &ga.client_data_hash))));
    map.push((int(7), int(2)));
    let verified = h.call(&request(0x02, map.clone())).unwrap();
    let auth_data = parse_auth_data(field(&verified, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags & 0x05, 0x05);
    // One account for the RP: "id" alone even with UV (§6.2.2), so that a
    // platform has nothing to ask the user to choose.
    assert!(text_field(field(&verified, 4).unwrap(), "name").is_none());
    assert_eq!(h.call(&request(0x02, map)), Err(StatusCode::PinAuthInvalid));
    // Several accounts and UV: names, for the platform's account chooser.
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    let mut second = cbor::decode(
        &MakeCredential {
            rk: Some(true),
            user_id: b"user-2".to_vec(),
            user_name: "bob".into(),
            ..MakeCredential::default()
        }
        .encode()[1..],
    )
    .unwrap()
    .into_map()
    .unwrap();
    second.push((int(8), bytes(&p.mac(&token, &cdh))));
    second.push((int(9), p.number()));
    h.call(&request(0x01, second)).unwrap();
    let token = p.token(&mut h, PIN, Some(GA), None).unwrap();
    let mut map = cbor::decode(&ga.encode()[1..]).unwrap().into_map().unwrap();
    map.push((int(6), bytes(&p.mac(&token, &ga.client_data_hash))));
    map.push((int(7), int(2)));
    let first = h.call(&request(0x02, map)).unwrap();
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
    let mut map = cbor::decode(&ga.encode()[1..]).unwrap().into_map().unwrap();
    map.push((int(6), bytes(&[])));
    map.push((int(7), int(2)));
    assert_eq!(h.call(&request(0x02, map)), Err(StatusCode::PinInvalid));
}

#[test]
fn credential_management() {
    let (mut h, mut p) = with_pin(Protocol::One);
    let cdh = MakeCredential::default().client_data_hash;
    for (user, rp) in [
        (b"u1", "example.com"),
        (b"u2", "example.com"),
        (b"u3", "b.example"),
    ] {
        let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
        let req = MakeCredential {
            rk: Some(true),
            user_id: user.to_vec(),
            rp_id: rp.into(),
            ..MakeCredential::default()
        };
        let mut map = cbor::decode(&req.encode()[1..])
            .unwrap()
            .into_map()
            .unwrap();
        map.push((int(8), bytes(&p.mac(&token, &cdh))));
        map.push((int(9), int(1)));
        h.call(&request(0x01, map)).unwrap();
    }
    // No pinUvAuthParam; the wrong permission.
    assert_eq!(
        h.call(&request(0x0A, vec![(int(1), int(1))])),
        Err(StatusCode::PuatRequired)
    );
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &token),
        Err(StatusCode::PinAuthInvalid)
    );
    let token = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let meta = metadata(&mut h, &p, &token).unwrap();
    assert_eq!(field(&meta, 1), Some(&Value::from(3)));
    // Enumerate RPs.
    let first = credman(&mut h, &p, &token, 2, None).unwrap();
    assert_eq!(field(&first, 5), Some(&Value::from(2)));
    let second = h.call(&request(0x0A, vec![(int(1), int(3))])).unwrap();
    assert!(field(&second, 4).is_some());
    assert_eq!(
        h.call(&request(0x0A, vec![(int(1), int(3))])),
        Err(StatusCode::NotAllowed)
    );
    // The preview alias answers too.
    let mut message = vec![4u8];
    let params = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    message.extend_from_slice(&cbor::encode(params.clone()));
    let listed = h
        .call(&request(
            0x41,
            vec![
                (int(1), int(4)),
                (int(2), params),
                (int(3), int(1)),
                (int(4), bytes(&p.mac(&token, &message))),
            ],
        ))
        .unwrap();
    assert_eq!(field(&listed, 9), Some(&Value::from(2)));
    let next = h.call(&request(0x0A, vec![(int(1), int(5))])).unwrap();
    let id = text_field(field(&next, 7).unwrap(), "id").unwrap().clone();
    // Update, then delete.
    let user = Value::Map(vec![
        (text("id"), bytes(b"u2")),
        (text("name"), text("bob")),
    ]);
    let descriptor = Value::Map(vec![
        (text("id"), id.clone()),
        (text("type"), text("public-key")),
    ]);
    credman(
        &mut h,
        &p,
        &token,
        7,
        Some(Value::Map(vec![
            (int(2), descriptor.clone()),
            (int(3), user),
        ])),
    )
    .unwrap();
    let wrong_user = Value::Map(vec![(text("id"), bytes(b"zz"))]);
    assert_eq!(
        credman(
            &mut h,
            &p,
            &token,
            7,
            Some(Value::Map(vec![
                (int(2), descriptor.clone()),
                (int(3), wrong_user)
            ])),
        ),
        Err(StatusCode::InvalidParameter)
    );
    credman(
        &mut h,
        &p,
        &token,
        6,
        Some(Value::Map(vec![(int(2), descriptor.clone())])),
    )
    .unwrap();
    assert_eq!(
        credman(
            &mut h,
            &p,
            &token,
            6,
            Some(Value::Map(vec![(int(2), descriptor)]))
        ),
        Err(StatusCode::NoCredentials)
    );
    assert_eq!(
        credman(&mut h, &p, &token, 0x10, None),
        Err(StatusCode::InvalidSubcommand)
    );
    // An RP-scoped token: not for metadata, not for another RP.
    let scoped = p.token(&mut h, PIN, Some(CM), Some("b.example")).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &scoped),
        Err(StatusCode::PinAuthInvalid)
    );
    let other = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    assert_eq!(
        credman(&mut h, &p, &scoped, 4, Some(other)),
        Err(StatusCode::PinAuthInvalid)
    );
    let own = Value::Map(vec![(int(1), bytes(&sha256(b"b.example")))]);
    assert!(credman(&mut h, &p, &scoped, 4, Some(own)).is_ok());
}

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
        make_credential(&mut h, false, None),
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
        let req = MakeCredential {
            rp_id: rp.into(),
            ..MakeCredential::default()
        };
        let mut map = cbor::decode(&req.encode()[1..])
            .unwrap()
            .into_map()
            .unwrap();
        map.push((
            int(6),
            Value::Map(vec![(text("minPinLength"), Value::Bool(true))]),
        ));
        let made = h.call(&request(0x01, map)).unwrap();
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

#[test]
fn built_in_uv_issues_tokens_and_counts_failures() {
    let mut h = Harness::with_config(Config {
        built_in_uv: true,
        ..Config::default()
    });
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
    let cdh = MakeCredential::default().client_data_hash;
    make_credential(&mut h, true, Some((p.mac(&token, &cdh), p.number()))).unwrap();
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
    let req = MakeCredential {
        uv: Some(true),
        rk: Some(true),
        ..MakeCredential::default()
    };
    let made = h.call(&req.encode()).unwrap();
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

#[test]
fn credential_management_lists_every_algorithms_public_key() {
    use softkey_authenticator::crypto::Algorithm;
    let mut h = Harness::with_config(Config {
        algorithms: Algorithm::ALL.to_vec(),
        ..Config::default()
    });
    let mut p = Platform::new(Protocol::Two);
    p.set_pin(&mut h, PIN).unwrap();
    let cdh = MakeCredential::default().client_data_hash;
    let mut made = Vec::new();
    for (n, algorithm) in (1u8..).zip(Algorithm::ALL) {
        let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
        let req = MakeCredential {
            rk: Some(true),
            user_id: vec![n],
            algs: vec![algorithm.cose_id()],
            ..MakeCredential::default()
        };
        let mut map = cbor::decode(&req.encode()[1..])
            .unwrap()
            .into_map()
            .unwrap();
        map.push((int(8), bytes(&p.mac(&token, &cdh))));
        map.push((int(9), p.number()));
        let reply = h.call(&request(0x01, map)).unwrap();
        made.push(
            parse_auth_data(field(&reply, 2).unwrap().as_bytes().unwrap())
                .public_key
                .unwrap(),
        );
    }
    let token = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let params = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    let first = credman(&mut h, &p, &token, 4, Some(params)).unwrap();
    assert_eq!(
        field(&first, 9),
        Some(&Value::from(Algorithm::ALL.len() as u64))
    );
    let mut listed = vec![field(&first, 8).unwrap().clone()];
    for _ in 1..Algorithm::ALL.len() {
        let next = h.call(&request(0x0A, vec![(int(1), int(5))])).unwrap();
        listed.push(field(&next, 8).unwrap().clone());
    }
    // Oldest first: the order they were made in, each key as makeCredential gave it.
    assert_eq!(listed, made);
}
