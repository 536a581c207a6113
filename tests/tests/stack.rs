//! The whole stack in one process: host CTAPHID client → framing → runtime →
//! authenticator → presence, on simulated time.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use ciborium::Value;
use softkey::presence::{Scripted, danger};
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::{StatusCode, Verdict};
use softkey_tests::Pipe;
use softkey_transport::ctaphid::{BROADCAST_CID, Command, HidError, KeepaliveStatus, TYPE_INIT};
use softkey_transport::host::{HostClient, PacketIo};

fn make_credential(rk: bool) -> Vec<u8> {
    make_credential_with(-7, rk)
}

fn make_credential_with(alg: i64, rk: bool) -> Vec<u8> {
    let mut params = vec![
        (int(1), bytes(&[0x33; 32])),
        (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
        (int(3), Value::Map(vec![(text("id"), bytes(b"user"))])),
        (
            int(4),
            Value::Array(vec![Value::Map(vec![
                (text("alg"), int(alg)),
                (text("type"), text("public-key")),
            ])]),
        ),
    ];
    if rk {
        params.push((int(7), Value::Map(vec![(text("rk"), Value::Bool(true))])));
    }
    let mut request = vec![0x01];
    request.extend_from_slice(&cbor::encode(Value::Map(params)));
    request
}

fn get_assertion() -> Vec<u8> {
    let mut request = vec![0x02];
    request.extend_from_slice(&cbor::encode(Value::Map(vec![
        (int(1), text("example.com")),
        (int(2), bytes(&[0x44; 32])),
    ])));
    request
}

fn client(pipe: Pipe) -> HostClient<Pipe> {
    let mut client = HostClient::new(pipe);
    client.set_timeout(Duration::from_secs(60));
    client.init().unwrap();
    client
}

fn body(reply: &[u8]) -> Value {
    assert_eq!(reply[0], 0, "status {:#04x}", reply[0]);
    assert!(cbor::is_canonical(&reply[1..]));
    cbor::decode(&reply[1..]).unwrap()
}

#[test]
fn register_and_sign_in_through_ctaphid() {
    let mut client = client(Pipe::new(
        Box::new(danger::AutoApprove),
        Duration::from_secs(30),
    ));
    let info = body(&client.cbor(&[0x04], |_| {}).unwrap());
    assert!(info.as_map().unwrap().len() >= 5);
    let created = body(&client.cbor(&make_credential(true), |_| {}).unwrap());
    let auth_data = created.as_map().unwrap()[1].1.as_bytes().unwrap();
    assert_eq!(auth_data[32] & 0x41, 0x41, "UP and AT flags");
    let assertion = body(&client.cbor(&get_assertion(), |_| {}).unwrap());
    let auth_data = assertion.as_map().unwrap()[1].1.as_bytes().unwrap();
    assert_eq!(u32::from_be_bytes(auth_data[33..37].try_into().unwrap()), 1);
}

#[test]
fn keepalives_say_upneeded_at_least_every_100ms_while_waiting_for_a_touch() {
    let script = Scripted::new([(Verdict::Approved, Duration::from_millis(1500))]);
    let mut client = client(Pipe::new(Box::new(script), Duration::from_secs(30)));
    let start = client.io_mut().now();
    let mut statuses = Vec::new();
    let reply = client
        .cbor(&make_credential(false), |status| statuses.push(status))
        .unwrap();
    body(&reply);
    let waited = client.io_mut().now() - start;
    assert!(
        waited >= Duration::from_millis(1500),
        "answered after the touch: {waited:?}"
    );
    assert!(
        statuses.len() >= 15,
        "{} keepalives in {waited:?}",
        statuses.len()
    );
    assert!(statuses.iter().all(|s| *s == KeepaliveStatus::UpNeeded));
    // Gaps between keepalives, measured on the simulated clock.
    let keepalive_times: Vec<_> = client
        .io_mut()
        .sent()
        .iter()
        .filter(|(_, report)| report[4] == TYPE_INIT | Command::Keepalive.code())
        .map(|(at, _)| *at)
        .collect();
    for pair in keepalive_times.windows(2) {
        assert!(
            pair[1] - pair[0] <= Duration::from_millis(100),
            "gap {:?}",
            pair[1] - pair[0]
        );
    }
}

#[test]
fn keepalives_keep_coming_while_an_rsa_key_is_generated() {
    // RSA-2048 key generation takes a fifth of a second and more: after the
    // touch the runtime must keep answering with PROCESSING keepalives (at
    // least one per 100 ms of real time) instead of falling silent.
    let config = softkey_authenticator::Config {
        reset_window: None,
        algorithms: vec![softkey_authenticator::crypto::Algorithm::Rs256],
        ..softkey_authenticator::Config::default()
    };
    let mut client = client(Pipe::with_config(
        config,
        Box::new(danger::AutoApprove),
        Duration::from_secs(30),
    ));
    // Several keys: each generation takes its own, uneven time.
    let mut total_processing = 0;
    for _ in 0..4 {
        let started = std::time::Instant::now();
        let mut processing = 0u32;
        let request = make_credential_with(-257, true);
        let reply = client
            .cbor(&request, |status| {
                if status == KeepaliveStatus::Processing {
                    processing += 1;
                }
            })
            .unwrap();
        let took = started.elapsed();
        let created = body(&reply);
        let auth_data = created.as_map().unwrap()[1].1.as_bytes().unwrap();
        let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        let key: Value = ciborium::de::from_reader(&auth_data[55 + id_len..]).unwrap();
        assert_eq!(key.as_map().unwrap()[1].1, int(-257), "an RS256 key");
        // The runtime sends one every 80 ms; the bound allows 250 ms per
        // keepalive because on a loaded machine the test's own threads are
        // not scheduled on time (a blocked runtime sends none at all).
        assert!(
            Duration::from_millis(250) * (processing + 1) >= took,
            "{processing} PROCESSING keepalives while the key took {took:?}"
        );
        total_processing += processing;
    }
    assert!(
        total_processing > 0,
        "no PROCESSING keepalive in four RSA key generations"
    );
    // The key signs in afterwards, and other requests are served again.
    body(&client.cbor(&get_assertion(), |_| {}).unwrap());
}

#[test]
fn cancel_ends_the_wait_with_keepalive_cancel_and_stores_nothing() {
    let mut script = Scripted::new([]);
    script.fallback = None; // nobody ever touches the key
    let mut client = client(Pipe::new(Box::new(script), Duration::from_secs(30)));
    let reply = client
        .cbor_cancellable(&make_credential(true), |_| true)
        .unwrap();
    assert_eq!(reply, vec![StatusCode::KeepaliveCancel.code()]);
    // The cancelled credential was not stored.
    let mut auto = HostClient::new(client.into_inner());
    auto.init().unwrap();
    let reply = auto.cbor(&get_assertion(), |_| {}).unwrap();
    assert_eq!(reply, vec![StatusCode::NoCredentials.code()]);
}

#[test]
fn nobody_answering_is_user_action_timeout() {
    let mut client = client(Pipe::new(
        Box::new(Scripted::new([])),
        Duration::from_secs(30),
    ));
    let start = client.io_mut().now();
    let reply = client.cbor(&make_credential(false), |_| {}).unwrap();
    assert_eq!(reply, vec![StatusCode::UserActionTimeout.code()]);
    assert!(client.io_mut().now() - start >= Duration::from_secs(30));
}

#[test]
fn denied_presence_is_operation_denied() {
    let script = Scripted::new([(Verdict::Denied, Duration::from_millis(200))]);
    let mut client = client(Pipe::new(Box::new(script), Duration::from_secs(30)));
    let reply = client.cbor(&make_credential(false), |_| {}).unwrap();
    assert_eq!(reply, vec![StatusCode::OperationDenied.code()]);
}

#[test]
fn another_channel_is_busy_while_a_touch_is_awaited() {
    let script = Scripted::new([(Verdict::Approved, Duration::from_secs(2))]);
    let mut pipe = Pipe::new(Box::new(script), Duration::from_secs(30));
    // Channel A: INIT, then a makeCredential that waits for the touch.
    let mut a = HostClient::new(pipe);
    a.init().unwrap();
    let channel_a = a.channel();
    pipe = a.into_inner();
    let request = make_credential(false);
    let reports = softkey_transport::ctaphid::fragment(channel_a, Command::Cbor, &request).unwrap();
    for report in &reports {
        pipe.send(report).unwrap();
    }
    // Channel B (allocated while A waits: broadcast INIT still works).
    let mut init = [0u8; 64];
    init[..4].copy_from_slice(&BROADCAST_CID.to_be_bytes());
    init[4] = TYPE_INIT | Command::Init.code();
    init[6] = 8;
    init[7..15].copy_from_slice(b"nonce-b!");
    pipe.send(&init).unwrap();
    let channel_b = loop {
        let report = pipe.recv(Duration::from_secs(1)).unwrap().unwrap();
        if report[..4] == BROADCAST_CID.to_be_bytes() && &report[7..15] == b"nonce-b!" {
            break u32::from_be_bytes(report[15..19].try_into().unwrap());
        }
    };
    let mut ping = [0u8; 64];
    ping[..4].copy_from_slice(&channel_b.to_be_bytes());
    ping[4] = TYPE_INIT | Command::Ping.code();
    ping[6] = 1;
    pipe.send(&ping).unwrap();
    let busy = loop {
        let report = pipe.recv(Duration::from_secs(1)).unwrap().unwrap();
        if report[..4] == channel_b.to_be_bytes() {
            break report;
        }
    };
    assert_eq!(busy[4], TYPE_INIT | Command::Error.code());
    assert_eq!(busy[7], HidError::ChannelBusy.code());
}

#[test]
fn power_cycle_during_a_prompt_drops_the_request() {
    let script = Scripted::new([(Verdict::Approved, Duration::from_secs(5))]);
    let mut pipe = Pipe::new(Box::new(script), Duration::from_secs(30));
    let mut a = HostClient::new(pipe);
    a.init().unwrap();
    let channel = a.channel();
    pipe = a.into_inner();
    for report in
        softkey_transport::ctaphid::fragment(channel, Command::Cbor, &make_credential(true))
            .unwrap()
    {
        pipe.send(&report).unwrap();
    }
    pipe.advance(Duration::from_millis(300));
    pipe.power_cycle();
    let before = pipe.sent().len();
    pipe.advance(Duration::from_secs(10));
    assert_eq!(
        pipe.sent().len(),
        before,
        "nothing is sent after the power cycle"
    );
    let mut fresh = HostClient::new(pipe);
    fresh.init().unwrap();
    assert_eq!(
        fresh.cbor(&get_assertion(), |_| {}).unwrap(),
        vec![StatusCode::NoCredentials.code()]
    );
}

#[test]
fn largest_message_round_trips() {
    let mut client = client(Pipe::new(
        Box::new(danger::AutoApprove),
        Duration::from_secs(30),
    ));
    let data: Vec<u8> = (0..7609u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(client.ping(&data).unwrap(), data);
    // A CBOR request as large as CTAPHID allows: a makeCredential with a huge
    // exclude list of unknown IDs still succeeds.
    let mut params = cbor::decode(&make_credential(false)[1..]).unwrap();
    if let Value::Map(entries) = &mut params {
        let list: Vec<Value> = (0..27u8)
            .map(|i| {
                Value::Map(vec![
                    (text("id"), bytes(&[i; 255])),
                    (text("type"), text("public-key")),
                ])
            })
            .collect();
        entries.push((int(5), Value::Array(list)));
    }
    let mut request = vec![0x01];
    request.extend_from_slice(&cbor::encode(params));
    assert!(
        request.len() > 7000 && request.len() <= 7609,
        "{}",
        request.len()
    );
    body(&client.cbor(&request, |_| {}).unwrap());
}

/// A discoverable credential for example.com of user `id`.
fn make_discoverable_for(id: &[u8]) -> Vec<u8> {
    let mut request = vec![0x01];
    request.extend_from_slice(&cbor::encode(Value::Map(vec![
        (int(1), bytes(&[0x33; 32])),
        (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
        (int(3), Value::Map(vec![(text("id"), bytes(id))])),
        (
            int(4),
            Value::Array(vec![Value::Map(vec![
                (text("alg"), int(-7)),
                (text("type"), text("public-key")),
            ])]),
        ),
        (int(7), Value::Map(vec![(text("rk"), Value::Bool(true))])),
    ])));
    request
}

/// Two discoverable credentials, then a getAssertion that leaves one for
/// getNextAssertion; then a power cycle of `kind`. Returns the client on
/// its pre-cycle channel.
fn power_cycle_after_get_assertion(kind: softkey::runtime::PowerCycle) -> HostClient<Pipe> {
    let mut pipe = Pipe::new(Box::new(danger::AutoApprove), Duration::from_secs(30));
    pipe.set_power_cycle(kind);
    let mut client = client(pipe);
    for user in [b"alice".as_slice(), b"bob"] {
        body(&client.cbor(&make_discoverable_for(user), |_| {}).unwrap());
    }
    let first = body(&client.cbor(&get_assertion(), |_| {}).unwrap());
    let count = first.as_map().unwrap().iter().find(|(k, _)| *k == int(5));
    assert_eq!(count.map(|(_, v)| v.clone()), Some(int(2)));
    client.io_mut().power_cycle();
    client
}

#[test]
fn udp_style_power_cycle_keeps_the_channel_and_clears_volatile_state() {
    let mut client = power_cycle_after_get_assertion(softkey::runtime::PowerCycle::KeepChannels);
    // The same channel still works (no ERR_INVALID_CHANNEL, no new INIT) …
    assert_eq!(client.ping(b"after").unwrap(), b"after");
    // … but the getNextAssertion state is gone with the power cycle.
    assert_eq!(
        client.cbor(&[0x08], |_| {}).unwrap(),
        vec![StatusCode::NotAllowed.code()]
    );
}

#[test]
fn unplug_power_cycle_forgets_the_channel() {
    let mut client = power_cycle_after_get_assertion(softkey::runtime::PowerCycle::Unplug);
    let error = client.ping(b"after").unwrap_err();
    assert_eq!(error.hid_error(), Some(HidError::InvalidChannel), "{error}");
    client.init().unwrap();
    assert_eq!(
        client.cbor(&[0x08], |_| {}).unwrap(),
        vec![StatusCode::NotAllowed.code()]
    );
}
