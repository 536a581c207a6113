//! The thirdPartyPayment extension (CTAP 2.2 §12.9) and its credential
//! management member (0x0C).
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::pin::Protocol;
use support::*;

/// An assertion's extension outputs: after rpIdHash, flags and counter (37
/// bytes) when the ED flag is set.
fn extension_outputs(auth_data: &[u8]) -> Option<Value> {
    let flags = auth_data[32];
    assert_eq!(flags & 0x40, 0, "an assertion has no attested data");
    (flags & 0x80 != 0).then(|| cbor::decode(&auth_data[37..]).unwrap())
}

fn make(h: &mut Harness, rk: bool, mark: Option<Value>) -> (Vec<u8>, Value) {
    let mut mc = MakeCredential::default().rk(rk);
    if let Some(value) = mark {
        mc = mc.ext("thirdPartyPayment", value);
    }
    let made = mc.call(h).unwrap();
    let auth_data = field(&made, 2).unwrap().as_bytes().unwrap().clone();
    let id = parse_auth_data(&auth_data).credential_id.unwrap();
    (id, made)
}

fn assert_reported(h: &mut Harness, id: &[u8], expected: bool) {
    let reply = GetAssertion::allowing(&[id])
        .ext("thirdPartyPayment", Value::Bool(true))
        .call(h)
        .unwrap();
    let outputs = extension_outputs(field(&reply, 2).unwrap().as_bytes().unwrap()).unwrap();
    assert_eq!(
        text_field(&outputs, "thirdPartyPayment"),
        Some(&Value::Bool(expected))
    );
}

#[test]
fn third_party_payment_marks_discoverable_and_sealed_credentials() {
    let mut h = Harness::new();
    for rk in [true, false] {
        let (marked, made) = make(&mut h, rk, Some(Value::Bool(true)));
        // No makeCredential output: the extension only marks.
        let auth_data = field(&made, 2).unwrap().as_bytes().unwrap();
        assert_eq!(parse_auth_data(auth_data).flags & 0x80, 0, "no ED flag");
        assert_reported(&mut h, &marked, true);
        let (plain, _) = make(&mut h, rk, None);
        assert_reported(&mut h, &plain, false);
        let (declined, _) = make(&mut h, rk, Some(Value::Bool(false)));
        assert_reported(&mut h, &declined, false);
    }
}

#[test]
fn third_party_payment_output_only_when_asked() {
    let mut h = Harness::new();
    let (marked, _) = make(&mut h, false, Some(Value::Bool(true)));
    let reply = GetAssertion::allowing(&[&marked]).call(&mut h).unwrap();
    assert!(extension_outputs(field(&reply, 2).unwrap().as_bytes().unwrap()).is_none());
}

#[test]
fn third_party_payment_inputs_must_be_booleans() {
    let mut h = Harness::new();
    for wrong in [int(1), text("true"), bytes(&[1])] {
        assert_eq!(
            MakeCredential::default()
                .ext("thirdPartyPayment", wrong.clone())
                .call(&mut h),
            Err(StatusCode::CborUnexpectedType)
        );
        assert_eq!(
            GetAssertion::default()
                .ext("thirdPartyPayment", wrong)
                .call(&mut h),
            Err(StatusCode::CborUnexpectedType)
        );
    }
}

#[test]
fn credential_management_reports_the_payment_mark() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    MakeCredential::default()
        .rk(true)
        .ext("thirdPartyPayment", Value::Bool(true))
        .token(p.protocol, &token)
        .call(&mut h)
        .unwrap();
    make_discoverable(&mut h, &mut p, PIN, "example.com", b"user-2");
    let cm = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let rp = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    let first = credman(&mut h, &p, &cm, 4, Some(rp)).unwrap();
    let next = h.call(&request(0x0A, vec![(int(1), int(5))])).unwrap();
    let mut marks: Vec<(Vec<u8>, Value)> = [first, next]
        .iter()
        .map(|c| {
            let user = text_field(field(c, 6).unwrap(), "id").unwrap();
            (
                user.as_bytes().unwrap().clone(),
                field(c, 0x0C).unwrap().clone(),
            )
        })
        .collect();
    marks.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        marks,
        vec![
            (b"user-1".to_vec(), Value::Bool(true)),
            (b"user-2".to_vec(), Value::Bool(false)),
        ]
    );
}
