//! What a security key must hold whatever the platform sends (issue 13):
//! credProtect on every path that opens a credential, no PRF secret without
//! the person's presence, user verification before an excludeList answer,
//! and U2F attestation that does not link one registration to another.
//! `docs/threat-model.md` cites these tests by name.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use softkey_authenticator::cbor::{int, text};
use support::*;

/// A credential for example.com made over CTAP2 with these extensions:
/// its ID, and the makeCredential reply.
fn made(h: &mut Harness, mc: MakeCredential) -> (Vec<u8>, Value) {
    let reply = h.call(&mc.encode()).unwrap();
    (credential_id(&reply), reply)
}

/// A non-discoverable ES256 credential with credProtect `level`: a U2F key
/// handle for the application SHA-256("example.com").
fn ctap2_key_handle(h: &mut Harness, level: i64) -> Vec<u8> {
    made(
        h,
        MakeCredential {
            extensions: vec![(text("credProtect"), int(level))],
            ..Default::default()
        },
    )
    .0
}

fn flipped(id: &[u8]) -> Vec<u8> {
    let mut other = id.to_vec();
    *other.last_mut().unwrap() ^= 0x01;
    other
}

// --- 1. U2F and credProtect ---------------------------------------------

/// CTAP 2.1 §12.1: a userVerificationRequired credential is never used
/// without UV, and U2F has none. Its key handle gets the answer a key handle
/// of another device gets, for every control byte, without a prompt.
#[test]
fn u2f_refuses_cred_protect_level_three_handle_like_a_foreign_one() {
    let mut h = Harness::new();
    let handle = ctap2_key_handle(&mut h, 3);
    let foreign = flipped(&handle);
    let application = sha256(b"example.com");
    for control in [0x07, 0x03, 0x08] {
        let ours = h.ctap1_now(&u2f_authenticate_apdu(&application, &handle, control));
        let theirs = h.ctap1_now(&u2f_authenticate_apdu(&application, &foreign, control));
        assert_eq!(ours, [0x6a, 0x80], "P1 {control:02x}: SW_WRONG_DATA");
        assert_eq!(ours, theirs, "P1 {control:02x}: as a foreign handle");
    }
}

/// Levels 1 and 2 stay usable over U2F: a U2F key handle is always named by
/// the relying party, as an allowList entry is.
#[test]
fn u2f_still_accepts_cred_protect_level_one_and_two_handles() {
    let mut h = Harness::new();
    let application = sha256(b"example.com");
    for level in [1, 2] {
        let handle = ctap2_key_handle(&mut h, level);
        assert_eq!(
            u2f_authenticate(&mut h, &application, &handle, 0x07).1,
            0x6985,
            "level {level}: check-only knows the handle"
        );
        assert_eq!(
            u2f_authenticate(&mut h, &application, &handle, 0x03).1,
            0x9000,
            "level {level}: signs after the touch"
        );
    }
}
