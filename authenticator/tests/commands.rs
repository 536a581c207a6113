//! The CTAP2 commands end to end through `Authenticator::handle`, checking the
#![allow(missing_docs, clippy::unwrap_used)]
//! spec's status codes, authenticator data, signatures and canonical CBOR.

mod support;

use std::time::Duration;

use ciborium::Value;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::{AAGUID, Config, Outcome, PromptAction, StatusCode, Verdict};
use support::*;

#[test]
fn get_info_lists_what_is_built() {
    let mut h = Harness::new();
    let info = h.call(&[0x04]).unwrap();
    let versions: Vec<_> = field(&info, 1)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_text().unwrap())
        .collect();
    assert_eq!(versions, ["FIDO_2_0", "FIDO_2_1"]);
    assert_eq!(field(&info, 3).unwrap().as_bytes().unwrap(), &AAGUID);
    let options = field(&info, 4).unwrap();
    assert_eq!(text_field(options, "rk"), Some(&Value::Bool(true)));
    assert_eq!(text_field(options, "up"), Some(&Value::Bool(true)));
    // clientPIN is supported, no PIN is set yet; no built-in UV configured.
    assert_eq!(text_field(options, "clientPin"), Some(&Value::Bool(false)));
    assert_eq!(
        text_field(options, "pinUvAuthToken"),
        Some(&Value::Bool(true))
    );
    assert_eq!(text_field(options, "credMgmt"), Some(&Value::Bool(true)));
    assert_eq!(text_field(options, "authnrCfg"), Some(&Value::Bool(true)));
    assert_eq!(text_field(options, "alwaysUv"), Some(&Value::Bool(false)));
    assert_eq!(
        text_field(options, "makeCredUvNotRqd"),
        Some(&Value::Bool(true))
    );
    assert!(text_field(options, "uv").is_none());
    assert!(
        text_field(options, "ep").is_none(),
        "no enterprise attestation"
    );
    assert_eq!(
        field(&info, 2),
        Some(&Value::Array(vec![
            Value::Text("credProtect".into()),
            Value::Text("credBlob".into()),
            Value::Text("hmac-secret".into()),
            Value::Text("hmac-secret-mc".into()),
            Value::Text("largeBlobKey".into()),
            Value::Text("minPinLength".into()),
            Value::Text("pinComplexityPolicy".into()),
            Value::Text("thirdPartyPayment".into())
        ]))
    );
    assert_eq!(
        field(&info, 6),
        Some(&Value::Array(vec![Value::from(2), Value::from(1)]))
    );
    assert_eq!(
        field(&info, 0x0C),
        Some(&Value::Bool(false)),
        "forcePINChange"
    );
    assert_eq!(field(&info, 0x0D), Some(&Value::from(4)), "minPINLength");
    let algs: Vec<_> = field(&info, 10)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            text_field(a, "alg")
                .unwrap()
                .as_integer()
                .map(i128::from)
                .unwrap()
        })
        .collect();
    assert_eq!(algs, [-7, -8]);
}

#[test]
fn get_info_with_parameters_is_invalid_length() {
    let mut h = Harness::new();
    assert_eq!(h.call(&[0x04, 0xa0]), Err(StatusCode::InvalidLength));
}

#[test]
fn make_credential_es256_and_eddsa_then_sign_in_with_allow_list() {
    for alg in [-7, -8] {
        let mut h = Harness::new();
        let reg = register(&mut h, &MakeCredential::default().algs(&[alg]));
        assert_eq!(
            field(&reg.public_key, 3)
                .unwrap()
                .as_integer()
                .map(i128::from),
            Some(alg.into())
        );
        let ga = GetAssertion::allowing(&[b"other", &reg.credential_id]);
        let response = h.call(&ga.encode()).unwrap();
        assert_eq!(credential_id_of(&response), reg.credential_id);
        assert!(
            field(&response, 4).is_none(),
            "no user for a non-discoverable credential"
        );
        assert!(field(&response, 5).is_none());
        let first = check_assertion(&response, &reg.public_key, &ga.client_data_hash);
        let response = h.call(&ga.encode()).unwrap();
        let second = check_assertion(&response, &reg.public_key, &ga.client_data_hash);
        assert!(
            second > first,
            "signature counter increases: {first} then {second}"
        );
    }
}

#[test]
fn pub_key_cred_params_order_is_honoured() {
    let mut h = Harness::new();
    let reg = register(&mut h, &MakeCredential::default().algs(&[-257, -8, -7]));
    assert_eq!(
        field(&reg.public_key, 3)
            .unwrap()
            .as_integer()
            .map(i128::from),
        Some(-8)
    );
    let reg = register(&mut h, &MakeCredential::default().algs(&[-7, -8]));
    assert_eq!(
        field(&reg.public_key, 3)
            .unwrap()
            .as_integer()
            .map(i128::from),
        Some(-7)
    );
}

#[test]
fn unsupported_algorithms_only_is_unsupported_algorithm() {
    let mut h = Harness::new();
    let mc = MakeCredential::default().algs(&[-257, -35]);
    assert_eq!(h.call(&mc.encode()), Err(StatusCode::UnsupportedAlgorithm));
}

#[test]
fn strict_decoding_errors() {
    let mut h = Harness::new();
    // Missing clientDataHash.
    let mut mc = MakeCredential::default().encode();
    let full = softkey_authenticator::cbor::decode(&mc[1..]).unwrap();
    let Value::Map(entries) = full.clone() else {
        panic!()
    };
    let without: Vec<_> = entries
        .iter()
        .filter(|(k, _)| k != &int(1))
        .cloned()
        .collect();
    assert_eq!(
        h.call(&request(0x01, without)),
        Err(StatusCode::MissingParameter)
    );
    // rp of the wrong type.
    let wrong: Vec<_> = entries
        .iter()
        .map(|(k, v)| {
            if k == &int(2) {
                (k.clone(), text("example.com"))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(
        h.call(&request(0x01, wrong)),
        Err(StatusCode::CborUnexpectedType)
    );
    // rp without id.
    let no_id: Vec<_> = entries
        .iter()
        .map(|(k, v)| {
            if k == &int(2) {
                (k.clone(), Value::Map(vec![(text("name"), text("x"))]))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(
        h.call(&request(0x01, no_id)),
        Err(StatusCode::MissingParameter)
    );
    // clientDataHash of the wrong length.
    let short: Vec<_> = entries
        .iter()
        .map(|(k, v)| {
            if k == &int(1) {
                (k.clone(), bytes(&[0; 31]))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(
        h.call(&request(0x01, short)),
        Err(StatusCode::InvalidLength)
    );
    // Trailing bytes.
    mc.push(0x00);
    assert_eq!(h.call(&mc), Err(StatusCode::InvalidCbor));
    // Truncated CBOR.
    let truncated = &MakeCredential::default().encode()[..20];
    assert_eq!(h.call(truncated), Err(StatusCode::InvalidCbor));
    // Unknown command.
    assert_eq!(h.call(&[0x42]), Err(StatusCode::InvalidCommand));
    // A non-boolean option.
    let ga = request(
        0x02,
        vec![
            (int(1), text("example.com")),
            (int(2), bytes(&[0; 32])),
            (int(5), Value::Map(vec![(text("up"), int(1))])),
        ],
    );
    assert_eq!(h.call(&ga), Err(StatusCode::CborUnexpectedType));
    // A non-integer key at the top level.
    let ga = request(0x02, vec![(text("rpId"), text("example.com"))]);
    assert_eq!(h.call(&ga), Err(StatusCode::CborUnexpectedType));
}

#[test]
fn option_rules() {
    let mut h = Harness::new();
    let mc = MakeCredential::default().up(false);
    assert_eq!(h.call(&mc.encode()), Err(StatusCode::InvalidOption));
    let mc = MakeCredential::default().uv(true);
    assert_eq!(h.call(&mc.encode()), Err(StatusCode::InvalidOption));
    let mc = MakeCredential::default().uv(false).up(true);
    assert!(h.call(&mc.encode()).is_ok());
    let ga = GetAssertion::default().rk(true);
    assert_eq!(h.call(&ga.encode()), Err(StatusCode::UnsupportedOption));
    let ga = GetAssertion::default().uv(true);
    assert_eq!(h.call(&ga.encode()), Err(StatusCode::InvalidOption));
}

#[test]
fn exclude_list_hit_asks_for_a_touch_then_is_excluded() {
    let mut h = Harness::new();
    let reg = register(&mut h, &MakeCredential::default());
    let mc = MakeCredential::default().exclude(&[&[1, 2, 3], &reg.credential_id]);
    match h.auth.handle(&mc.encode(), h.now) {
        Outcome::AwaitUser(prompt) => assert_eq!(prompt.action, PromptAction::Acknowledge),
        other => panic!("expected a prompt, got {other:?}"),
    }
    assert_eq!(
        decode_reply(&match h.auth.resume(Verdict::Approved, h.now) {
            Outcome::Reply(r) => r,
            _ => panic!(),
        }),
        Err(StatusCode::CredentialExcluded)
    );
    // A credential of another RP does not exclude.
    let mc = MakeCredential::default()
        .rp("other.example")
        .exclude(&[&reg.credential_id]);
    assert!(h.call(&mc.encode()).is_ok());
    // Discoverable credentials exclude too.
    let rk = register(&mut h, &MakeCredential::default().rk(true));
    let mc = MakeCredential::default().exclude(&[&rk.credential_id]);
    assert_eq!(h.call(&mc.encode()), Err(StatusCode::CredentialExcluded));
}

#[test]
fn presence_denied_timed_out_and_cancelled() {
    let mut h = Harness::new();
    let mc = MakeCredential::default().encode();
    assert_eq!(
        decode_reply(&h.call_with(&mc, Verdict::Denied)),
        Err(StatusCode::OperationDenied)
    );
    assert_eq!(
        decode_reply(&h.call_with(&mc, Verdict::TimedOut)),
        Err(StatusCode::UserActionTimeout)
    );
    assert!(matches!(h.auth.handle(&mc, h.now), Outcome::AwaitUser(_)));
    assert!(h.auth.is_waiting());
    assert_eq!(
        h.auth.cancel(),
        Some(vec![StatusCode::KeepaliveCancel.code()])
    );
    assert!(!h.auth.is_waiting());
    assert_eq!(h.auth.cancel(), None);
    assert_eq!(
        decode_reply(&match h.auth.resume(Verdict::Approved, h.now) {
            Outcome::Reply(r) => r,
            _ => panic!(),
        }),
        Err(StatusCode::NoOperations)
    );
    // Nothing was stored by the denied or cancelled requests.
    assert_eq!(h.auth.store_mut().all_discoverable_len(), 0);
}

trait CountExt {
    fn all_discoverable_len(&mut self) -> usize;
}
impl CountExt for softkey_authenticator::store::MemoryStore {
    fn all_discoverable_len(&mut self) -> usize {
        use softkey_authenticator::store::Store;
        self.discoverable_count().unwrap()
    }
}

#[test]
fn discoverable_credentials_three_accounts_with_get_next_assertion() {
    let mut h = Harness::new();
    let mut regs = Vec::new();
    for (i, alg) in [(1u8, -7), (2, -8), (3, -7)] {
        regs.push(register(
            &mut h,
            &MakeCredential {
                user_name: format!("user{i}"),
                ..MakeCredential::for_user(&[i; 8]).rk(true).algs(&[alg])
            },
        ));
    }
    register(
        &mut h,
        &MakeCredential::default().rk(true).rp("other.example"),
    );
    let ga = GetAssertion::default();
    let first = h.call(&ga.encode()).unwrap();
    assert_eq!(
        field(&first, 5).unwrap().as_integer().map(i128::from),
        Some(3)
    );
    let mut seen = vec![(credential_id_of(&first), first.clone())];
    for _ in 0..2 {
        let next = h.call(&[0x08]).unwrap();
        assert!(
            field(&next, 5).is_none(),
            "numberOfCredentials only in the first response"
        );
        seen.push((credential_id_of(&next), next));
    }
    assert_eq!(h.call(&[0x08]), Err(StatusCode::NotAllowed));
    // Newest first.
    let expected: Vec<_> = regs.iter().rev().map(|r| r.credential_id.clone()).collect();
    let got: Vec<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, expected);
    for ((_, response), reg) in seen.iter().zip(regs.iter().rev()) {
        check_assertion(response, &reg.public_key, &ga.client_data_hash);
        let user = field(response, 4).unwrap();
        assert!(text_field(user, "id").is_some());
        assert!(
            text_field(user, "name").is_none(),
            "no identifying info without UV"
        );
    }
}

#[test]
fn get_next_assertion_state_expires_after_30_seconds_and_on_other_commands() {
    let mut h = Harness::new();
    for i in 0..3u8 {
        register(&mut h, &MakeCredential::for_user(&[i; 4]).rk(true));
    }
    assert_eq!(
        h.call(&[0x08]),
        Err(StatusCode::NotAllowed),
        "nothing to continue"
    );
    h.call(&GetAssertion::default().encode()).unwrap();
    h.advance(Duration::from_secs(29));
    assert!(h.call(&[0x08]).is_ok());
    h.advance(Duration::from_secs(31));
    assert_eq!(h.call(&[0x08]), Err(StatusCode::NotAllowed));
    h.call(&GetAssertion::default().encode()).unwrap();
    h.call(&[0x04]).unwrap();
    assert_eq!(
        h.call(&[0x08]),
        Err(StatusCode::NotAllowed),
        "another command discards the state"
    );
}

#[test]
fn re_registration_replaces_the_same_user_and_counts_per_credential() {
    let mut h = Harness::new();
    let old = register(&mut h, &MakeCredential::default().rk(true));
    let new = register(&mut h, &MakeCredential::default().rk(true));
    assert_ne!(old.credential_id, new.credential_id);
    let response = h.call(&GetAssertion::default().encode()).unwrap();
    assert!(field(&response, 5).is_none(), "one credential left");
    assert_eq!(credential_id_of(&response), new.credential_id);
    assert_eq!(check_assertion(&response, &new.public_key, &[0x22; 32]), 1);
    let response = h.call(&GetAssertion::default().encode()).unwrap();
    assert_eq!(check_assertion(&response, &new.public_key, &[0x22; 32]), 2);
    let ga = GetAssertion::allowing(&[&old.credential_id]);
    assert_eq!(h.call(&ga.encode()), Err(StatusCode::NoCredentials));
    // A second user gets a fresh counter.
    let other = register(&mut h, &MakeCredential::for_user(b"user-2").rk(true));
    let ga = GetAssertion::allowing(&[&other.credential_id]);
    let response = h.call(&ga.encode()).unwrap();
    assert_eq!(
        check_assertion(&response, &other.public_key, &[0x22; 32]),
        1
    );
    assert_eq!(
        field(&response, 4).map(|u| text_field(u, "id").unwrap().as_bytes().unwrap().clone()),
        Some(b"user-2".to_vec())
    );
}

#[test]
fn no_credentials_for_the_rp() {
    let mut h = Harness::new();
    assert_eq!(
        h.call(&GetAssertion::default().encode()),
        Err(StatusCode::NoCredentials)
    );
    let reg = register(&mut h, &MakeCredential::default());
    let ga = GetAssertion::allowing(&[&reg.credential_id]).rp("evil.example");
    assert_eq!(h.call(&ga.encode()), Err(StatusCode::NoCredentials));
}

#[test]
fn silent_assertion_with_up_false_has_no_up_flag() {
    let mut h = Harness::new();
    let reg = register(&mut h, &MakeCredential::default());
    let ga = GetAssertion::allowing(&[&reg.credential_id]).up(false);
    let outcome = h.auth.handle(&ga.encode(), h.now);
    let Outcome::Reply(reply) = outcome else {
        panic!("no prompt for up=false")
    };
    let response = decode_reply(&reply).unwrap();
    let auth_data = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags & 0x05, 0);
}

#[test]
fn zero_length_pin_uv_auth_param_is_pin_not_set_after_a_touch() {
    let mut h = Harness::new();
    let Value::Map(mut entries) =
        softkey_authenticator::cbor::decode(&MakeCredential::default().encode()[1..]).unwrap()
    else {
        panic!()
    };
    entries.push((int(8), bytes(&[])));
    entries.push((int(9), int(1)));
    let request = request(0x01, entries);
    assert!(matches!(
        h.auth.handle(&request, h.now),
        Outcome::AwaitUser(_)
    ));
    assert_eq!(
        decode_reply(&h.call_with(&request, Verdict::Approved)),
        Err(StatusCode::PinNotSet)
    );
    assert_eq!(
        decode_reply(&h.call_with(&request, Verdict::Denied)),
        Err(StatusCode::OperationDenied)
    );
}

#[test]
fn reset_wipes_everything_and_rotates_the_wrap_key() {
    let mut h = Harness::with_config(Config {
        reset_window: Some(Duration::from_secs(10)),
        ..Config::default()
    });
    let reg = register(&mut h, &MakeCredential::default());
    register(&mut h, &MakeCredential::default().rk(true));
    assert_eq!(
        decode_reply(&h.call_with(&[0x07], Verdict::Denied)),
        Err(StatusCode::OperationDenied)
    );
    h.advance(Duration::from_secs(11));
    assert_eq!(
        h.call(&[0x07]),
        Err(StatusCode::NotAllowed),
        "more than 10 s after power-up"
    );
    h.auth.power_cycle(h.now);
    assert_eq!(h.call(&[0x07]), Ok(Value::Null));
    assert_eq!(
        h.call(&GetAssertion::default().encode()),
        Err(StatusCode::NoCredentials)
    );
    let ga = GetAssertion::allowing(&[&reg.credential_id]);
    assert_eq!(
        h.call(&ga.encode()),
        Err(StatusCode::NoCredentials),
        "old credential IDs no longer open"
    );
}

#[test]
fn reset_without_window_in_the_simulator() {
    let mut h = Harness::with_config(Config {
        reset_window: None,
        ..Config::default()
    });
    h.advance(Duration::from_secs(3600));
    assert_eq!(h.call(&[0x07]), Ok(Value::Null));
}

#[test]
fn selection_needs_a_touch() {
    let mut h = Harness::new();
    assert!(
        matches!(h.auth.handle(&[0x0B], h.now), Outcome::AwaitUser(p) if p.action == PromptAction::Select)
    );
    assert_eq!(h.call(&[0x0B]), Ok(Value::Null));
    assert_eq!(
        decode_reply(&h.call_with(&[0x0B], Verdict::Denied)),
        Err(StatusCode::OperationDenied)
    );
}

#[test]
fn full_store_is_key_store_full_and_replacement_still_works() {
    let now = std::time::Instant::now();
    use rand::SeedableRng;
    let store = softkey_authenticator::store::MemoryStore::new(
        softkey_authenticator::secret::Secret32::new([1; 32]),
    )
    .with_capacity(1);
    let mut h = Harness {
        auth: softkey_authenticator::Authenticator::new(
            Config::default(),
            store,
            rand::rngs::StdRng::seed_from_u64(1),
            now,
        ),
        now,
    };
    register(&mut h, &MakeCredential::default().rk(true));
    let mc = MakeCredential::for_user(b"second").rk(true);
    assert_eq!(h.call(&mc.encode()), Err(StatusCode::KeyStoreFull));
    register(&mut h, &MakeCredential::default().rk(true));
    let info = h.call(&[0x04]).unwrap();
    assert_eq!(
        field(&info, 0x14).unwrap().as_integer().map(i128::from),
        Some(0)
    );
}
