//! Arbitrary bytes at the CTAP2 decoder and the whole authenticator: never a
//! panic, always a reply whose first byte is a CTAP status code from the spec.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use proptest::prelude::*;
use softkey_authenticator::cbor;
use softkey_authenticator::{Outcome, StatusCode, Verdict};
use support::Harness;

fn command_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0x01u8),
        Just(0x02),
        Just(0x04),
        Just(0x06),
        Just(0x07),
        Just(0x08),
        Just(0x0A),
        Just(0x0B),
        Just(0x0C),
        Just(0x0D),
        Just(0x41),
        any::<u8>(),
    ]
}

/// A CBOR value of bounded depth, for requests that are well-formed CBOR but
/// nonsense CTAP.
fn cbor_value() -> impl Strategy<Value = ciborium::Value> {
    use ciborium::Value;
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        "[a-zA-Z]{0,12}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        (1i64..12).prop_map(|i| Value::Integer(i.into())),
                        "[a-z]{1,8}".prop_map(Value::Text)
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(Value::Map),
        ]
    })
}

fn assert_valid_reply(reply: &[u8]) {
    let (&status, body) = reply.split_first().expect("a reply is never empty");
    assert!(
        StatusCode::from_code(status).is_some(),
        "unknown status 0x{status:02x}"
    );
    if status == 0 {
        assert!(
            body.is_empty() || cbor::is_canonical(body),
            "non-canonical body"
        );
    } else {
        assert!(body.is_empty(), "an error carries no body");
    }
}

fn drive(h: &mut Harness, request: &[u8], verdict: Verdict) {
    match h.auth.handle(request, h.now) {
        Outcome::Reply(reply) => assert_valid_reply(&reply),
        Outcome::AwaitUser(_) => match h.auth.resume(verdict, h.now) {
            Outcome::Reply(reply) => assert_valid_reply(&reply),
            Outcome::AwaitUser(_) => panic!("prompted twice"),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_get_a_status(command in command_byte(), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut request = vec![command];
        request.extend_from_slice(&body);
        let mut h = Harness::new();
        drive(&mut h, &request, Verdict::Approved);
    }

    #[test]
    fn well_formed_cbor_nonsense_gets_a_status(command in command_byte(), value in cbor_value(), approve in any::<bool>()) {
        let mut request = vec![command];
        request.extend_from_slice(&cbor::encode(value));
        let mut h = Harness::new();
        drive(&mut h, &request, if approve { Verdict::Approved } else { Verdict::Denied });
    }

    #[test]
    fn sequences_keep_the_authenticator_consistent(steps in proptest::collection::vec((command_byte(), cbor_value(), 0u8..4), 1..12)) {
        let mut h = Harness::new();
        for (command, value, action) in steps {
            let mut request = vec![command];
            request.extend_from_slice(&cbor::encode(value));
            match action {
                0 => drive(&mut h, &request, Verdict::Approved),
                1 => drive(&mut h, &request, Verdict::TimedOut),
                2 => {
                    if let Outcome::AwaitUser(_) = h.auth.handle(&request, h.now) {
                        prop_assert_eq!(h.auth.cancel(), Some(vec![StatusCode::KeepaliveCancel.code()]));
                    }
                }
                _ => h.auth.power_cycle(h.now),
            }
        }
        // Whatever happened, getInfo still answers.
        let reply = match h.auth.handle(&[0x04], h.now) { Outcome::Reply(r) => r, _ => panic!() };
        prop_assert_eq!(reply[0], 0);
    }
}
