//! Secrets the core encodes never reach a freed heap buffer unzeroized.
//!
//! This test binary runs on an inspecting global allocator: while a thread
//! watches, every block it frees is searched for the secret markers the test
//! put into a credential, the PIN state, the attestation identity or a
//! large-blob key. A plain `Vec` growing during CBOR encoding, or a copy of a
//! key dropped without zeroizing, is such a block; a `Zeroizing` buffer is
//! wiped before it is freed and is not.
//!
//! The allocator is `softkey_freed_memory::Scanner` (shared with the
//! vault's test); this file itself forbids `unsafe`.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use rand::SeedableRng;
use softkey_authenticator::attestation::AttestationIdentity;
use softkey_authenticator::cbor::{self, Value, bytes, int, text};
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::pin::PinState;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{MemoryStore, Store};
use support::*;

/// Secret material: 32 bytes that are a valid P-256 scalar and occur nowhere
/// else (each byte differs from the tag's own pattern by its position).
const fn marker(tag: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = tag ^ (i as u8).wrapping_mul(29);
        i += 1;
    }
    out
}

const KEY: [u8; 32] = marker(0x3a);
const CRED_RANDOM_UV: [u8; 32] = marker(0x4b);
const CRED_RANDOM: [u8; 32] = marker(0x5c);
const LARGE_BLOB_KEY: [u8; 32] = marker(0x6d);
const PIN_HASH: [u8; 32] = marker(0x7e);
const ATTESTATION_KEY: [u8; 32] = marker(0x1f);
static MARKERS: [&[u8]; 6] = [
    &KEY,
    &CRED_RANDOM_UV,
    &CRED_RANDOM,
    &LARGE_BLOB_KEY,
    &PIN_HASH,
    &ATTESTATION_KEY,
];
/// Any 8 consecutive bytes of a marker count: a buffer that grew in the
/// middle of a secret holds only part of it.
const WINDOW: usize = 8;

fn holds_secret(block: &[u8]) -> bool {
    softkey_freed_memory::holds_any(block, &MARKERS, WINDOW)
}

#[global_allocator]
static ALLOCATOR: softkey_freed_memory::Scanner = softkey_freed_memory::Scanner;

/// Runs `f` watching this thread's frees: its result, and how many freed
/// blocks held secret material.
fn watch<T>(f: impl FnOnce() -> T) -> (T, usize) {
    scrub_stack();
    let (out, found) =
        softkey_freed_memory::scan(&MARKERS, WINDOW, softkey_freed_memory::Scope::ThisThread, f);
    (out, found.len())
}

/// Overwrites the stack below the caller with zeros. The fixtures pass the
/// markers by value (`Secret32::new(MARKER)`), leaving copies in stack slots
/// that later frames reuse; a `Value` moved into a heap block carries its
/// padding bytes along, and those would be counted against the code under
/// test. Seen after the merge of main: `to_bytes`' map entries picked up a
/// fixture's marker through the padding of an integer `Value`.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; 64 * 1024];
    std::hint::black_box(&mut area);
}

fn credential(discoverable: bool) -> StoredCredential {
    StoredCredential {
        credential_id: if discoverable {
            vec![0x81; 32]
        } else {
            Vec::new()
        },
        rp_id: if discoverable {
            "example.com".into()
        } else {
            String::new()
        },
        rp_name: None,
        user: UserEntity {
            id: if discoverable {
                b"user-1".to_vec()
            } else {
                Vec::new()
            },
            name: None,
            display_name: None,
        },
        private_key: PrivateKey::from_bytes(Algorithm::Es256, SecretBytes::from_slice(&KEY))
            .unwrap(),
        sign_count: 0,
        cred_protect: 1,
        cred_random_with_uv: Some(Secret32::new(CRED_RANDOM_UV)),
        cred_random_without_uv: Some(Secret32::new(CRED_RANDOM)),
        cred_blob: None,
        large_blob_key: discoverable.then(|| Secret32::new(LARGE_BLOB_KEY)),
        third_party_payment: false,
        backup: softkey_authenticator::policy::BackupFlags::default(),
        discoverable,
    }
}

/// The detector works: a secret copied into a plain `Vec` and dropped is
/// seen, the same in a `Zeroizing` one is not.
#[test]
fn the_inspecting_allocator_sees_a_secret_in_a_plain_vec() {
    let ((), seen) = watch(|| drop(std::hint::black_box(KEY.to_vec())));
    assert_eq!(seen, 1);
    let ((), seen) = watch(|| drop(zeroize::Zeroizing::new(KEY.to_vec())));
    assert_eq!(seen, 0);
}

/// The stored form (what the vault seals into a credential row) is encoded
/// into zeroizing buffers only, and its result wipes itself.
#[test]
fn stored_credential_encoding_frees_no_buffer_holding_its_secrets() {
    let credential = credential(true);
    let (encoded, seen) = watch(|| credential.to_bytes());
    assert_eq!(seen, 0, "freed while encoding");
    assert!(holds_secret(&encoded), "the encoding holds the secrets");
    let ((), seen) = watch(|| drop(encoded));
    assert_eq!(seen, 0, "the encoding was freed unwiped");
}

/// Sealing a non-discoverable credential into its ID encodes the private key
/// and CredRandoms in zeroizing buffers only.
#[test]
fn sealing_a_credential_id_frees_no_buffer_holding_its_secrets() {
    let credential = credential(false);
    let device_secret = Secret32::new([0x5a; 32]);
    let mut rng = rand::rngs::StdRng::from_seed([1; 32]);
    let (id, seen) = watch(|| {
        credential
            .seal_id(&device_secret, &sha256(b"example.com"), &mut rng)
            .unwrap()
    });
    assert_eq!(seen, 0);
    assert!(!holds_secret(&id), "the ID is encrypted");
}

/// Decoding the stored form (every assertion of a discoverable credential
/// opens one) moves the secrets into their zeroizing owners.
#[test]
fn stored_credential_decoding_frees_no_buffer_holding_its_secrets() {
    let encoded = credential(true).to_bytes();
    let (decoded, seen) = watch(|| StoredCredential::from_bytes(&encoded).unwrap());
    assert_eq!(seen, 0);
    assert_eq!(
        decoded.large_blob_key.unwrap().expose_secret(),
        &LARGE_BLOB_KEY
    );
}

/// A damaged record that fails half-way (a CredRandom of 31 bytes) leaves
/// the fields not yet taken wiped too.
#[test]
fn rejected_stored_credential_frees_no_buffer_holding_its_secrets() {
    let mut record = cbor::decode(&credential(true).to_bytes()).unwrap();
    if let Value::Map(entries) = &mut record {
        for (key, value) in entries.iter_mut() {
            if *key == int(11) {
                *value = bytes(&[0; 31]);
            }
        }
    }
    let damaged = zeroize::Zeroizing::new(cbor::encode(record));
    let (result, seen) = watch(|| StoredCredential::from_bytes(&damaged).is_err());
    assert!(result);
    assert_eq!(seen, 0);
}

/// Opening a sealed credential ID decrypts into zeroizing buffers only.
#[test]
fn opening_a_credential_id_frees_no_buffer_holding_its_secrets() {
    let device_secret = Secret32::new([0x5a; 32]);
    let rp_id_hash = sha256(b"example.com");
    let mut rng = rand::rngs::StdRng::from_seed([2; 32]);
    let id = credential(false)
        .seal_id(&device_secret, &rp_id_hash, &mut rng)
        .unwrap();
    let (opened, seen) = watch(|| StoredCredential::open_id(&id, &device_secret, &rp_id_hash));
    assert_eq!(seen, 0);
    assert!(opened.is_some());
}

/// Saving the PIN state encodes LEFT(SHA-256(PIN), 16) in zeroizing buffers.
#[test]
fn saving_pin_state_frees_no_buffer_holding_the_pin_hash() {
    let mut store = MemoryStore::new(Secret32::new([0x5a; 32]));
    let state = PinState {
        pin_hash: Some(SecretBytes::from_slice(&PIN_HASH[..16])),
        ..PinState::default()
    };
    let (saved, seen) = watch(|| state.save(&mut store));
    saved.unwrap();
    assert_eq!(seen, 0);
    let stored = store
        .setting(softkey_authenticator::store::SettingKey::PinState)
        .unwrap()
        .unwrap();
    assert!(holds_secret(stored.expose_secret()), "the hash was saved");
}

/// The attestation identity's stored form holds its private key.
#[test]
fn attestation_identity_encoding_frees_no_buffer_holding_its_key() {
    let stored = cbor::encode(Value::Map(vec![
        (int(1), bytes(&ATTESTATION_KEY)),
        (int(2), Value::Array(vec![bytes(b"a certificate")])),
    ]));
    let identity = AttestationIdentity::from_bytes(&stored).unwrap();
    let (encoded, seen) = watch(|| identity.to_bytes());
    assert_eq!(seen, 0);
    assert!(holds_secret(&encoded));
    let ((), seen) = watch(|| drop(encoded));
    assert_eq!(seen, 0);
}

/// A getAssertion response carrying the largeBlobKey: the core's own
/// buffers (the response being built and encoded, the credentials it looked
/// at) are wiped; the reply itself goes to the runtime.
#[test]
fn assertion_with_large_blob_key_frees_no_buffer_holding_the_key() {
    let mut h = Harness::new();
    h.auth
        .store_mut()
        .put_discoverable(&credential(true))
        .unwrap();
    let request = GetAssertion {
        extensions: vec![(text("largeBlobKey"), Value::Bool(true))],
        ..Default::default()
    }
    .encode();
    // The core alone is watched: `Harness::answer` would also check the
    // reply's encoding, in plain buffers of the test's own.
    let (reply, seen) = watch(|| {
        h.prompt_for(&request);
        match h
            .auth
            .resume(softkey_authenticator::Verdict::Approved, h.now)
        {
            softkey_authenticator::Outcome::Reply(reply) => reply,
            softkey_authenticator::Outcome::AwaitUser(prompt) => {
                panic!("prompted twice: {prompt:?}")
            }
        }
    });
    assert_eq!(seen, 0);
    check_encoding(&reply);
    let reply = decode_reply(&reply).unwrap();
    assert_eq!(field(&reply, 7), Some(&bytes(&LARGE_BLOB_KEY)));
}
