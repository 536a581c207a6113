//! The read-through cache of the sign-in path (`src/cache.rs`): what one
//! handle caches, another handle's change (the `softkey vault` CLI while the
//! daemon runs) or a raw edit of the file is seen by the very next read.

// Test code throughout: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use common::{Fixture, credential};
use softkey_authenticator::cbor::{self, Value, bytes, int, text};
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{SettingKey, Store, StoreError};
use softkey_authenticator::{Authenticator, Config, Outcome, Verdict};
use softkey_vault::Vault;

const ID_A: [u8; 4] = [0x81, 0, 0, 1];
const ID_B: [u8; 4] = [0x81, 0, 0, 2];

fn setting(vault: &mut impl Store, key: SettingKey) -> Option<Vec<u8>> {
    vault
        .setting(key)
        .unwrap()
        .map(|value| value.expose_secret().to_vec())
}

fn ids_for(vault: &mut impl Store, rp_id: &str) -> Vec<Vec<u8>> {
    vault
        .discoverable_for_rp(&sha256(rp_id.as_bytes()))
        .unwrap()
        .into_iter()
        .map(|c| c.credential_id.clone())
        .collect()
}

#[test]
fn another_handles_changes_are_seen_by_the_next_read() {
    let fixture = Fixture::new();
    let mut daemon = fixture.create();
    daemon
        .put_setting(SettingKey::PinState, Some(b"pin one"))
        .unwrap();
    daemon
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    // Read twice: the second read is served from the cache.
    for _ in 0..2 {
        assert_eq!(
            setting(&mut daemon, SettingKey::PinState).as_deref(),
            Some(&b"pin one"[..])
        );
        assert_eq!(setting(&mut daemon, SettingKey::Config), None);
        assert_eq!(ids_for(&mut daemon, "example.com"), [ID_A.to_vec()]);
    }
    let secret = daemon.device_secret().unwrap();

    // The CLI: another handle on the same file.
    let mut cli = fixture.open();
    cli.put_setting(SettingKey::PinState, Some(b"pin two"))
        .unwrap();
    cli.put_setting(SettingKey::Config, Some(b"always uv"))
        .unwrap();
    cli.put_discoverable(&credential(&ID_B, "example.com", b"bob", "bob", 2))
        .unwrap();
    assert_eq!(
        setting(&mut daemon, SettingKey::PinState).as_deref(),
        Some(&b"pin two"[..])
    );
    assert_eq!(
        setting(&mut daemon, SettingKey::Config).as_deref(),
        Some(&b"always uv"[..])
    );
    assert_eq!(
        ids_for(&mut daemon, "example.com"),
        [ID_A.to_vec(), ID_B.to_vec()]
    );

    assert!(cli.delete_discoverable(&ID_A).unwrap());
    cli.put_setting(SettingKey::PinState, None).unwrap();
    assert_eq!(ids_for(&mut daemon, "example.com"), [ID_B.to_vec()]);
    assert_eq!(setting(&mut daemon, SettingKey::PinState), None);

    // A reset by the other handle: a new device secret, no credentials.
    cli.wipe(Secret32::new([0x42; 32])).unwrap();
    let after = daemon.device_secret().unwrap();
    assert_ne!(after.expose_secret(), secret.expose_secret());
    assert_eq!(after.expose_secret(), &[0x42; 32]);
    assert!(ids_for(&mut daemon, "example.com").is_empty());
}

#[test]
fn own_writes_are_read_back_at_once() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    for round in 0..3u8 {
        vault
            .put_setting(SettingKey::PinState, Some(&[round]))
            .unwrap();
        assert_eq!(setting(&mut vault, SettingKey::PinState), Some(vec![round]));
        let id = [0x81, 9, 9, round];
        vault
            .put_discoverable(&credential(&id, "example.com", &[round], "u", round))
            .unwrap();
        assert_eq!(
            ids_for(&mut vault, "example.com").len(),
            usize::from(round) + 1
        );
    }
    vault.wipe(Secret32::new([7; 32])).unwrap();
    assert_eq!(setting(&mut vault, SettingKey::PinState), None);
    assert!(ids_for(&mut vault, "example.com").is_empty());
    assert_eq!(vault.device_secret().unwrap().expose_secret(), &[7; 32]);
}

fn raw(fixture: &Fixture) -> rusqlite::Connection {
    rusqlite::Connection::open(&fixture.vault_path).unwrap()
}

#[test]
fn a_raw_edit_of_a_cached_row_fails_the_next_read() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_setting(SettingKey::PinState, Some(b"pin"))
        .unwrap();
    vault
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    // Warm the cache.
    assert_eq!(ids_for(&mut vault, "example.com").len(), 1);
    assert!(setting(&mut vault, SettingKey::PinState).is_some());
    vault.device_secret().unwrap();

    // A credential row's payload changed behind the open vault (the manifest
    // untouched): the next lookup reads the file and names the row.
    let conn = raw(&fixture);
    let payload: Vec<u8> = conn
        .query_row("SELECT payload FROM credentials", [], |r| r.get(0))
        .unwrap();
    let mut flipped = payload.clone();
    *flipped.last_mut().unwrap() ^= 1;
    conn.execute("UPDATE credentials SET payload = ?1", [&flipped])
        .unwrap();
    assert!(matches!(
        vault.discoverable_for_rp(&sha256(b"example.com")),
        Err(StoreError::Corrupt(_))
    ));
    conn.execute("UPDATE credentials SET payload = ?1", [&payload])
        .unwrap();
    assert_eq!(ids_for(&mut vault, "example.com").len(), 1);

    // The PIN state replaced by another sealed row: the next read fails too.
    assert!(setting(&mut vault, SettingKey::PinState).is_some());
    let pin: Vec<u8> = conn
        .query_row(
            "SELECT payload FROM secrets WHERE name = 'setting/pin_state'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE secrets SET payload = (SELECT payload FROM secrets WHERE name = 'device_secret')
         WHERE name = 'setting/pin_state'",
        [],
    )
    .unwrap();
    assert!(matches!(
        vault.setting(SettingKey::PinState),
        Err(StoreError::Corrupt(_))
    ));
    // And a deleted device secret is missing, not served from memory.
    conn.execute(
        "UPDATE secrets SET payload = ?1 WHERE name = 'setting/pin_state'",
        [&pin],
    )
    .unwrap();
    assert!(setting(&mut vault, SettingKey::PinState).is_some());
    conn.execute("DELETE FROM secrets WHERE name = 'device_secret'", [])
        .unwrap();
    assert!(matches!(vault.device_secret(), Err(StoreError::Corrupt(_))));
}

// Through the CTAP core, which checks the file once per request.

fn request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

/// The status byte of a request, the touch approved.
fn status(auth: &mut Authenticator<Vault, rand::rngs::ThreadRng>, request: &[u8]) -> u8 {
    let now = Instant::now();
    let reply = match auth.handle(request, now) {
        Outcome::Reply(reply) => reply,
        Outcome::AwaitUser(_) => match auth.resume(Verdict::Approved, now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => panic!("prompted twice"),
        },
    };
    reply[0]
}

#[test]
fn the_daemon_sees_the_clis_change_at_the_next_request() {
    let fixture = Fixture::new();
    let mut auth = Authenticator::new(
        Config::default(),
        fixture.create(),
        rand::rng(),
        Instant::now(),
    );
    let get = request(
        0x02,
        vec![(int(1), text("example.com")), (int(2), bytes(&[0x22; 32]))],
    );
    const OK: u8 = 0x00;
    const NO_CREDENTIALS: u8 = 0x2e;
    assert_eq!(status(&mut auth, &get), NO_CREDENTIALS);

    // `softkey vault import` while the daemon runs: the next request finds it.
    let mut cli = fixture.open();
    cli.put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    for _ in 0..3 {
        assert_eq!(status(&mut auth, &get), OK);
    }
    // `softkey vault delete`: the next request no longer signs with it.
    assert!(cli.delete(&ID_A).unwrap());
    assert_eq!(status(&mut auth, &get), NO_CREDENTIALS);
    // A credential row edited behind the daemon fails the next request.
    cli.put_discoverable(&credential(&ID_B, "example.com", b"bob", "bob", 2))
        .unwrap();
    assert_eq!(status(&mut auth, &get), OK);
    let conn = raw(&fixture);
    let payload: Vec<u8> = conn
        .query_row("SELECT payload FROM credentials", [], |r| r.get(0))
        .unwrap();
    let mut flipped = payload.clone();
    *flipped.last_mut().unwrap() ^= 1;
    conn.execute("UPDATE credentials SET payload = ?1", [&flipped])
        .unwrap();
    assert_ne!(status(&mut auth, &get), OK);
    conn.execute("UPDATE credentials SET payload = ?1", [&payload])
        .unwrap();
    assert_eq!(status(&mut auth, &get), OK);
}

/// The user name and private key of the credentials a sign-in finds.
fn opened_for(vault: &mut impl Store, rp_id: &str) -> Vec<(String, Vec<u8>, u32)> {
    vault
        .discoverable_for_rp(&sha256(rp_id.as_bytes()))
        .unwrap()
        .into_iter()
        .map(|c| {
            let name = c.user.name.clone().unwrap_or_default();
            let key = c.private_key.secret_bytes().expose_secret().to_vec();
            (name, key, c.sign_count)
        })
        .collect()
}

#[test]
fn a_cached_opened_credential_is_never_served_stale() {
    let fixture = Fixture::new();
    let mut daemon = fixture.create();
    daemon
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice", 1))
        .unwrap();
    let key_one = opened_for(&mut daemon, "example.com")[0].1.clone();
    // Served from the cache the second time: the same credential.
    assert_eq!(
        opened_for(&mut daemon, "example.com"),
        [("alice".to_owned(), key_one.clone(), 0)]
    );

    // Another handle rewrites the same credential id (same rp, same user
    // handle) with another name and key: the next read shows them.
    let mut cli = fixture.open();
    cli.put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice2", 2))
        .unwrap();
    let [(name, key_two, _)] = &opened_for(&mut daemon, "example.com")[..] else {
        panic!("one credential expected");
    };
    assert_eq!(name, "alice2");
    assert_ne!(key_two, &key_one);

    // This handle's own rewrite and its counter: read back at once.
    daemon
        .put_discoverable(&credential(&ID_A, "example.com", b"alice", "alice3", 3))
        .unwrap();
    assert_eq!(opened_for(&mut daemon, "example.com")[0].0, "alice3");
    let mut found = daemon.discoverable_for_rp(&sha256(b"example.com")).unwrap();
    for expected in 1..=3 {
        assert_eq!(daemon.next_sign_count(&mut found[0]).unwrap(), expected);
        // The copy handed out next shows the value reached, not the bound.
        assert_eq!(opened_for(&mut daemon, "example.com")[0].2, expected);
    }

    // A raw edit that keeps the row valid for the file but not for the
    // state (another credential's sealed payload copied in): refused.
    cli.put_discoverable(&credential(&ID_B, "example.com", b"bob", "bob", 4))
        .unwrap();
    assert_eq!(opened_for(&mut daemon, "example.com").len(), 2);
    let conn = raw(&fixture);
    conn.execute(
        "UPDATE credentials SET payload = (SELECT payload FROM credentials ORDER BY id_mac DESC LIMIT 1)
         WHERE id_mac = (SELECT MIN(id_mac) FROM credentials)",
        [],
    )
    .unwrap();
    assert!(matches!(
        daemon.discoverable_for_rp(&sha256(b"example.com")),
        Err(StoreError::Corrupt(_))
    ));
}
