//! Signature counters without a durable write per sign-in (issue 15 point 1):
//! ranges reserved durably, counted in memory, given back on a clean close,
//! skipped after a crash (a vault leaked with `mem::forget` never closes,
//! as after kill -9; `tests/crash.rs` kills real processes).

// Test code throughout (helpers included): a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use common::{Fixture, credential};
use softkey_authenticator::cbor::{self, Value, bytes, int, text};
use softkey_authenticator::store::Store;
use softkey_authenticator::{Authenticator, Config, Outcome, Verdict};
use softkey_vault::Vault;

const ID: [u8; 4] = [0x81, 1, 2, 3];

/// The manifest's generation: one more per write transaction.
fn generation(fixture: &Fixture) -> i64 {
    let conn = rusqlite::Connection::open(&fixture.vault_path).unwrap();
    conn.query_row("SELECT generation FROM manifest", [], |r| r.get(0))
        .unwrap()
}

/// A vault with one discoverable credential.
fn with_credential(fixture: &Fixture) -> Vault {
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&ID, "example.com", b"alice", "alice", 1))
        .unwrap();
    vault
}

fn sign(vault: &mut Vault) -> u32 {
    let mut credential = vault.discoverable_by_id(&ID).unwrap().unwrap();
    vault.next_sign_count(&mut credential).unwrap()
}

#[test]
fn a_thousand_sign_ins_take_a_few_durable_writes() {
    let fixture = Fixture::new();
    let mut vault = with_credential(&fixture);
    let before = generation(&fixture);
    let counts: Vec<u32> = (0..1000).map(|_| sign(&mut vault)).collect();
    assert_eq!(counts, (1..=1000).collect::<Vec<_>>());
    let globals: Vec<u32> = (0..1000)
        .map(|_| vault.next_global_counter().unwrap())
        .collect();
    assert_eq!(globals, (1..=1000).collect::<Vec<_>>());
    // Ranges of 32, 64, … 512: six reservations per counter for 1000 values.
    let writes = generation(&fixture) - before;
    assert!(writes <= 12, "{writes} durable writes for 2000 values");
    // Reads show the value reached, not the bound stored.
    assert_eq!(
        vault.discoverable_by_id(&ID).unwrap().unwrap().sign_count,
        1000
    );
    assert_eq!(vault.list().unwrap()[0].sign_count, 1000);
}

#[test]
fn a_clean_close_gives_unspent_values_back() {
    let fixture = Fixture::new();
    let mut vault = with_credential(&fixture);
    for expected in 1..=3 {
        assert_eq!(sign(&mut vault), expected);
        assert_eq!(vault.next_global_counter().unwrap(), expected);
    }
    drop(vault);
    let mut vault = fixture.open();
    assert_eq!(
        vault.discoverable_by_id(&ID).unwrap().unwrap().sign_count,
        3
    );
    assert_eq!(sign(&mut vault), 4);
    assert_eq!(vault.next_global_counter().unwrap(), 4);
}

#[test]
fn after_a_crash_counting_resumes_above_the_reserved_bound() {
    let fixture = Fixture::new();
    let mut vault = with_credential(&fixture);
    for _ in 0..3 {
        sign(&mut vault);
        vault.next_global_counter().unwrap();
    }
    // No close: the reserved ranges stay reserved, as after kill -9.
    std::mem::forget(vault);
    let mut vault = fixture.open();
    // The file holds the bound, at least every value handed out.
    let stored = vault.discoverable_by_id(&ID).unwrap().unwrap().sign_count;
    assert!(stored >= 3, "{stored}");
    assert_eq!(sign(&mut vault), stored + 1);
    assert!(vault.next_global_counter().unwrap() > 3);
}

#[test]
fn an_update_of_the_credential_keeps_the_counter_reached() {
    // Credential management rewrites the credential it read: the counter it
    // read is the one reached, and counting goes on from there.
    let fixture = Fixture::new();
    let mut vault = with_credential(&fixture);
    for _ in 0..5 {
        sign(&mut vault);
    }
    let mut updated = vault.discoverable_by_id(&ID).unwrap().unwrap();
    updated.user.display_name = Some("Alice, renamed".into());
    vault.put_discoverable(&updated).unwrap();
    assert_eq!(sign(&mut vault), 6);
    std::mem::forget(vault);
    let mut vault = fixture.open();
    assert!(sign(&mut vault) > 6);
}

// Through the CTAP core: what a relying party sees in authenticator data.

fn request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

fn call<S: Store>(auth: &mut Authenticator<S, rand::rngs::ThreadRng>, request: &[u8]) -> Value {
    let now = Instant::now();
    let reply = match auth.handle(request, now) {
        Outcome::Reply(reply) => reply,
        Outcome::AwaitUser(_) => match auth.resume(Verdict::Approved, now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => panic!("prompted twice"),
        },
    };
    assert_eq!(reply[0], 0, "request failed with 0x{:02x}", reply[0]);
    cbor::decode(&reply[1..]).unwrap()
}

fn authenticator(vault: Vault) -> Authenticator<Vault, rand::rngs::ThreadRng> {
    Authenticator::new(Config::default(), vault, rand::rng(), Instant::now())
}

/// The signature counter in a getAssertion response's authenticator data.
fn assertion_counter(auth: &mut Authenticator<Vault, rand::rngs::ThreadRng>) -> u32 {
    let get = request(
        0x02,
        vec![(int(1), text("example.com")), (int(2), bytes(&[0x22; 32]))],
    );
    let Value::Map(entries) = call(auth, &get) else {
        panic!("not a map")
    };
    let auth_data = entries
        .into_iter()
        .find(|(key, _)| *key == int(2))
        .map(|(_, value)| cbor::into_bytes(value).unwrap())
        .unwrap();
    u32::from_be_bytes(auth_data[33..37].try_into().unwrap())
}

#[test]
fn get_assertion_on_a_vault_signs_increasing_counters_across_restarts_and_crashes() {
    let fixture = Fixture::new();
    let mut auth = authenticator(fixture.create());
    let make = request(
        0x01,
        vec![
            (int(1), bytes(&[0x11; 32])),
            (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(b"user-1")),
                    (text("name"), text("alice")),
                ]),
            ),
            (
                int(4),
                Value::Array(vec![Value::Map(vec![
                    (text("alg"), int(-7)),
                    (text("type"), text("public-key")),
                ])]),
            ),
            (int(7), Value::Map(vec![(text("rk"), Value::Bool(true))])),
        ],
    );
    call(&mut auth, &make);
    assert_eq!(assertion_counter(&mut auth), 1);
    // The first assertion reserved a range; the next ones write nothing.
    let before = generation(&fixture);
    let counts: Vec<u32> = (0..2).map(|_| assertion_counter(&mut auth)).collect();
    assert_eq!(counts, [2, 3]);
    assert_eq!(generation(&fixture), before);

    // A clean close and restart: no value skipped.
    drop(auth.into_store());
    let mut auth = authenticator(fixture.open());
    assert_eq!(assertion_counter(&mut auth), 4);

    // A crash: the rest of the reserved range skipped, never a value repeated.
    std::mem::forget(auth.into_store());
    let mut auth = authenticator(fixture.open());
    let after_crash = assertion_counter(&mut auth);
    assert!(after_crash > 4, "{after_crash}");
    assert_eq!(assertion_counter(&mut auth), after_crash + 1);
}
