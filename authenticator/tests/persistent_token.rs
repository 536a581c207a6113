//! CTAP 2.2's persistentPinUvAuthToken: the `pcmr` permission, read-only
//! credential management across power cycles, its revocation, and the
//! getInfo members it decrypts (`encIdentifier` 0x19, `encCredStoreState` 0x1E).
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::store::SettingKey;
use softkey_authenticator::{Outcome, StatusCode, Verdict};
use support::*;

const ENC_IDENTIFIER: i64 = 0x19;
const ENC_CRED_STORE_STATE: i64 = 0x1E;

fn identifier(h: &mut Harness, token: &[u8]) -> [u8; 16] {
    decrypt_info_member(token, b"encIdentifier", &info_bytes(h, ENC_IDENTIFIER))
}

fn store_state(h: &mut Harness, token: &[u8]) -> [u8; 16] {
    decrypt_info_member(
        token,
        b"encCredStoreState",
        &info_bytes(h, ENC_CRED_STORE_STATE),
    )
}

fn rp_params(rp_id: &str) -> Value {
    Value::Map(vec![(int(1), bytes(&sha256(rp_id.as_bytes())))])
}

fn credential_params(id: &[u8]) -> Value {
    Value::Map(vec![(int(2), descriptor(id))])
}

#[test]
fn pcmr_token_reads_credentials_but_never_changes_them() {
    for protocol in [Protocol::One, Protocol::Two] {
        let (mut h, mut p) = with_pin(protocol);
        assert_eq!(
            text_field(
                field(&h.call(&[0x04]).unwrap(), 4).unwrap(),
                "perCredMgmtRO"
            ),
            Some(&Value::Bool(true))
        );
        let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
        // Tokens issued afterwards (makeCredential's mc) leave it usable.
        let first = make_discoverable(&mut h, &mut p, PIN, "example.com", b"u1");
        make_discoverable(&mut h, &mut p, PIN, "example.com", b"u2");
        make_discoverable(&mut h, &mut p, PIN, "b.example", b"u3");
        let meta = metadata(&mut h, &p, &persistent).unwrap();
        assert_eq!(field(&meta, 1), Some(&Value::from(3)));
        let rps = credman(&mut h, &p, &persistent, 2, None).unwrap();
        assert_eq!(field(&rps, 5), Some(&Value::from(2)), "totalRPs");
        assert!(h.call(&request(0x0A, vec![(int(1), int(3))])).is_ok());
        let creds = credman(&mut h, &p, &persistent, 4, Some(rp_params("example.com"))).unwrap();
        assert_eq!(field(&creds, 9), Some(&Value::from(2)), "totalCredentials");
        assert!(h.call(&request(0x0A, vec![(int(1), int(5))])).is_ok());
        // deleteCredential and updateUserInformation: PIN_AUTH_INVALID.
        assert_eq!(
            credman(&mut h, &p, &persistent, 6, Some(credential_params(&first))),
            Err(StatusCode::PinAuthInvalid)
        );
        let update = Value::Map(vec![
            (int(2), descriptor(&first)),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(b"u1")),
                    (text("name"), text("renamed")),
                ]),
            ),
        ]);
        assert_eq!(
            credman(&mut h, &p, &persistent, 7, Some(update)),
            Err(StatusCode::PinAuthInvalid)
        );
        let meta = metadata(&mut h, &p, &persistent).unwrap();
        assert_eq!(field(&meta, 1), Some(&Value::from(3)), "nothing deleted");
        // A cm token still deletes.
        let cm = p.token(&mut h, PIN, Some(CM), None).unwrap();
        credman(&mut h, &p, &cm, 6, Some(credential_params(&first))).unwrap();
        let meta = metadata(&mut h, &p, &persistent).unwrap();
        assert_eq!(field(&meta, 1), Some(&Value::from(2)));
    }
}

#[test]
fn persistent_token_survives_a_power_cycle() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    make_discoverable(&mut h, &mut p, PIN, "example.com", b"u1");
    let before = identifier(&mut h, &persistent);
    let state = store_state(&mut h, &persistent);
    let now = h.now;
    h.auth.power_cycle(now);
    assert_eq!(
        field(&metadata(&mut h, &p, &persistent).unwrap(), 1),
        Some(&Value::from(1))
    );
    assert_eq!(identifier(&mut h, &persistent), before);
    assert_eq!(store_state(&mut h, &persistent), state);
    // Asking again returns the same token.
    assert_eq!(p.token(&mut h, PIN, Some(PCMR), None).unwrap(), persistent);
}

#[test]
fn pcmr_with_any_other_permission_is_unauthorized() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    for other in [MC, GA, CM, 0x10, ACFG] {
        assert_eq!(
            p.token(&mut h, PIN, Some(PCMR | other), None),
            Err(StatusCode::UnauthorizedPermission),
            "pcmr with 0x{other:02x}"
        );
    }
    // Undefined permission bits are ignored, not refused.
    assert!(p.token(&mut h, PIN, Some(0x80 | MC), None).is_ok());
}

#[test]
fn change_pin_revokes_the_persistent_token() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    assert!(metadata(&mut h, &p, &persistent).is_ok());
    p.change_pin(&mut h, PIN, "5678").unwrap();
    assert_eq!(
        metadata(&mut h, &p, &persistent),
        Err(StatusCode::PinAuthInvalid)
    );
    let renewed = p.token(&mut h, "5678", Some(PCMR), None).unwrap();
    assert_ne!(renewed, persistent);
    assert!(metadata(&mut h, &p, &renewed).is_ok());
}

#[test]
fn reset_revokes_the_persistent_token_and_renews_the_identifier() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    let old_identifier = identifier(&mut h, &persistent);
    let old_ciphertext = info_bytes(&mut h, ENC_IDENTIFIER);
    h.call(&[0x07]).unwrap();
    assert_ne!(
        info_bytes(&mut h, ENC_IDENTIFIER)[16..],
        old_ciphertext[16..]
    );
    p.set_pin(&mut h, PIN).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &persistent),
        Err(StatusCode::PinAuthInvalid)
    );
    let renewed = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    assert_ne!(renewed, persistent);
    assert_ne!(identifier(&mut h, &renewed), old_identifier);
}

#[test]
fn persistent_token_errors_have_exact_status_codes() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    // A wrong MAC.
    let mut wrong = persistent.clone();
    wrong[0] ^= 1;
    assert_eq!(
        metadata(&mut h, &p, &wrong),
        Err(StatusCode::PinAuthInvalid)
    );
    // No protocol with the MAC: MISSING_PARAMETER; an unknown one:
    // INVALID_PARAMETER; no MAC: PUAT_REQUIRED.
    let mac = p.mac(&persistent, &[0x01]);
    assert_eq!(
        h.call(&request(
            0x0A,
            vec![(int(1), int(1)), (int(4), bytes(&mac))]
        )),
        Err(StatusCode::MissingParameter)
    );
    assert_eq!(
        h.call(&request(
            0x0A,
            vec![(int(1), int(1)), (int(3), int(3)), (int(4), bytes(&mac))]
        )),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        h.call(&request(0x0A, vec![(int(1), int(1)), (int(3), int(2))])),
        Err(StatusCode::PuatRequired)
    );
}

#[test]
fn persistent_token_without_pcmr_is_refused() {
    // A stored persistent token whose pcmr grant is gone (the state a
    // changePIN leaves until pcmr is asked for again), with a known value.
    let (mut h, p) = with_pin(Protocol::Two);
    let token = [0x33u8; 32];
    let state = cbor::encode(Value::Map(vec![
        (int(0), int(1)),
        (int(1), bytes(&token)),
        (int(2), Value::Bool(false)),
        (int(3), bytes(&[1; 16])),
        (int(4), bytes(&[2; 16])),
    ]));
    softkey_authenticator::store::Store::put_setting(
        h.auth.store_mut(),
        SettingKey::PersistentState,
        Some(&state),
    )
    .unwrap();
    assert_eq!(
        metadata(&mut h, &p, &token),
        Err(StatusCode::PinAuthInvalid)
    );
    assert_eq!(
        credman(&mut h, &p, &token, 4, Some(rp_params("example.com"))),
        Err(StatusCode::PinAuthInvalid)
    );
}

#[test]
fn enc_identifier_takes_a_fresh_iv_each_call() {
    let (mut h, mut p) = with_pin(Protocol::One);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    let first = info_bytes(&mut h, ENC_IDENTIFIER);
    let second = info_bytes(&mut h, ENC_IDENTIFIER);
    assert_ne!(first[..16], second[..16], "a fresh IV");
    assert_ne!(first, second);
    assert_eq!(
        decrypt_info_member(&persistent, b"encIdentifier", &first),
        decrypt_info_member(&persistent, b"encIdentifier", &second)
    );
    let states = [
        info_bytes(&mut h, ENC_CRED_STORE_STATE),
        info_bytes(&mut h, ENC_CRED_STORE_STATE),
    ];
    assert_ne!(states[0][..16], states[1][..16]);
}

#[test]
fn cred_store_state_changes_with_discoverable_credentials_only() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let persistent = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    let initial = store_state(&mut h, &persistent);
    // A non-discoverable credential and an assertion change nothing stored.
    let made = h.call(&MakeCredential::default().encode()).unwrap();
    let id = parse_auth_data(field(&made, 2).unwrap().as_bytes().unwrap())
        .credential_id
        .unwrap();
    assert_eq!(store_state(&mut h, &persistent), initial);
    let discoverable = make_discoverable(&mut h, &mut p, PIN, "example.com", b"u1");
    let after_make = store_state(&mut h, &persistent);
    assert_ne!(after_make, initial);
    let ga = GetAssertion::allowing(&[&id]);
    h.call(&ga.encode()).unwrap();
    assert_eq!(store_state(&mut h, &persistent), after_make);
    let cm = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let update = Value::Map(vec![
        (int(2), descriptor(&discoverable)),
        (int(3), Value::Map(vec![(text("id"), bytes(b"u1"))])),
    ]);
    credman(&mut h, &p, &cm, 7, Some(update)).unwrap();
    let after_update = store_state(&mut h, &persistent);
    assert_ne!(after_update, after_make);
    credman(&mut h, &p, &cm, 6, Some(credential_params(&discoverable))).unwrap();
    assert_ne!(store_state(&mut h, &persistent), after_update);
}

#[test]
fn pcmr_token_by_built_in_user_verification() {
    let (mut h, mut p) = built_in_uv_with_pin(Protocol::Two);
    let by_pin = p.token(&mut h, PIN, Some(PCMR), None).unwrap();
    let (request, shared) = p.uv_token_request(&mut h, PCMR);
    assert!(matches!(
        h.auth.handle(&request, h.now),
        Outcome::AwaitUser(_)
    ));
    let reply = match h.auth.resume(Verdict::Approved, h.now) {
        Outcome::Reply(reply) => decode_reply(&reply).unwrap(),
        other => panic!("{other:?}"),
    };
    let by_uv = shared
        .decrypt(field(&reply, 2).unwrap().as_bytes().unwrap())
        .unwrap();
    assert_eq!(by_uv.as_slice(), by_pin.as_slice());
}
