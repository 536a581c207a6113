//! Unit tests of the device state machine, one per spec situation
//! (CTAP 2.1 §11.2). Time is simulated: no test sleeps.

use super::*;
use crate::ctaphid::{BROADCAST_CID, CAPABILITY_NMSG, TYPE_INIT};
use crate::host::Reassembler;

const NONCE: [u8; 8] = *b"nonce-01";

struct Rig {
    device: HidDevice,
    now: Instant,
}

/// (channel, command code, payload) of one message the device sent.
type Sent = (u32, u8, Vec<u8>);

fn rig() -> Rig {
    rig_with(DeviceConfig::default())
}

fn rig_with(config: DeviceConfig) -> Rig {
    Rig {
        device: HidDevice::new(config),
        now: Instant::now(),
    }
}

fn init_packet(cid: u32, cmd: u8, bcnt: u16, data: &[u8]) -> [u8; REPORT_LEN] {
    let mut report = [0u8; REPORT_LEN];
    report[..4].copy_from_slice(&cid.to_be_bytes());
    report[4] = TYPE_INIT | cmd;
    report[5..7].copy_from_slice(&bcnt.to_be_bytes());
    report[7..7 + data.len()].copy_from_slice(data);
    report
}

fn cont_packet(cid: u32, seq: u8) -> [u8; REPORT_LEN] {
    let mut report = [0u8; REPORT_LEN];
    report[..4].copy_from_slice(&cid.to_be_bytes());
    report[4] = seq;
    report
}

fn error(cid: u32, error: HidError) -> Sent {
    (cid, Command::Error.code(), vec![error.code()])
}

impl Rig {
    fn send(&mut self, report: &[u8]) {
        self.device.handle_report(report, self.now);
    }

    fn send_message(&mut self, cid: u32, command: Command, payload: &[u8]) {
        for report in ctaphid::fragment(cid, command, payload).expect("fits") {
            self.send(&report);
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.device.handle_timeout(self.now);
    }

    /// Drain and reassemble everything the device sent.
    fn sent(&mut self) -> Vec<Sent> {
        let mut reassemblers: Vec<Reassembler> = Vec::new();
        let mut out = Vec::new();
        while let Some(report) = self.device.poll_report() {
            let cid = u32::from_be_bytes(report[..4].try_into().expect("4"));
            let index = match reassemblers.iter().position(|r| r.cid() == cid) {
                Some(index) => index,
                None => {
                    reassemblers.push(Reassembler::new(cid));
                    reassemblers.len() - 1
                }
            };
            if let Some(message) = reassemblers[index].push(&report).expect("well-formed") {
                out.push((cid, message.cmd, message.payload));
            }
        }
        assert!(
            reassemblers.iter().all(|r| !r.is_partial()),
            "half a message"
        );
        out
    }

    fn events(&mut self) -> Vec<DeviceEvent> {
        std::iter::from_fn(|| self.device.poll_event()).collect()
    }

    fn allocate(&mut self) -> u32 {
        self.send(&init_packet(BROADCAST_CID, 0x06, 8, &NONCE));
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let (cid, cmd, payload) = &sent[0];
        assert_eq!((*cid, *cmd), (BROADCAST_CID, 0x06));
        let response = InitResponse::parse(payload).expect("INIT response");
        assert_eq!(response.nonce, NONCE);
        response.cid
    }

    /// Allocate a channel and put a CBOR request in flight on it.
    fn request_in_flight(&mut self) -> u32 {
        let cid = self.allocate();
        self.send_message(cid, Command::Cbor, &[0x04]);
        assert_eq!(
            self.events(),
            [DeviceEvent::Request {
                channel: cid,
                kind: RequestKind::Cbor,
                payload: vec![0x04]
            }]
        );
        cid
    }
}

#[test]
fn broadcast_init_allocates_a_channel() {
    let mut rig = rig();
    rig.send(&init_packet(BROADCAST_CID, 0x06, 8, &NONCE));
    let sent = rig.sent();
    assert_eq!(sent.len(), 1);
    let (cid, cmd, payload) = &sent[0];
    assert_eq!((*cid, *cmd), (BROADCAST_CID, 0x06), "answer on broadcast");
    let response = InitResponse::parse(payload).expect("17 bytes");
    assert_eq!(payload.len(), 17);
    assert_eq!(response.nonce, NONCE);
    assert_ne!(response.cid, 0);
    assert_ne!(response.cid, BROADCAST_CID);
    assert_eq!(response.protocol_version, 2);
    assert_eq!(response.device_version, (0, 1, 0));
    assert_eq!(response.capabilities, CAPABILITY_WINK | CAPABILITY_CBOR);
}

#[test]
fn channel_ids_are_distinct_and_follow_the_seed() {
    let ids = |seed| {
        let mut rig = rig_with(DeviceConfig {
            cid_seed: seed,
            ..DeviceConfig::default()
        });
        (0..20).map(|_| rig.allocate()).collect::<Vec<_>>()
    };
    let first = ids(1);
    let mut unique = first.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    assert_eq!(first, ids(1), "deterministic for a seed");
    assert_ne!(first, ids(2));
}

#[test]
fn init_with_wrong_length_is_invalid_len() {
    let mut rig = rig();
    rig.send(&init_packet(BROADCAST_CID, 0x06, 7, &NONCE));
    rig.send(&init_packet(BROADCAST_CID, 0x06, 9, &NONCE));
    assert_eq!(
        rig.sent(),
        [
            error(BROADCAST_CID, HidError::InvalidLen),
            error(BROADCAST_CID, HidError::InvalidLen)
        ]
    );
}

#[test]
fn init_on_unallocated_channel_is_invalid_channel() {
    let mut rig = rig();
    rig.send(&init_packet(0x1234_5678, 0x06, 8, &NONCE));
    assert_eq!(rig.sent(), [error(0x1234_5678, HidError::InvalidChannel)]);
}

#[test]
fn reinit_answers_on_the_same_channel_and_drops_partial_message() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x01, 100, b"partial"));
    rig.send(&init_packet(cid, 0x06, 8, b"resync!!"));
    let sent = rig.sent();
    assert_eq!(sent.len(), 1);
    let response = InitResponse::parse(&sent[0].2).expect("INIT response");
    assert_eq!((sent[0].0, response.cid), (cid, cid));
    assert_eq!(&response.nonce, b"resync!!");
    // The dropped message's continuation is now stray.
    rig.send(&cont_packet(cid, 0));
    assert_eq!(rig.sent(), []);
    rig.send_message(cid, Command::Ping, b"after");
    assert_eq!(rig.sent(), [(cid, 0x01, b"after".to_vec())]);
}

#[test]
fn reinit_aborts_the_request_in_flight() {
    let mut rig = rig();
    let cid = rig.request_in_flight();
    rig.send(&init_packet(cid, 0x06, 8, &NONCE));
    assert_eq!(rig.sent().len(), 1, "INIT answered");
    assert_eq!(rig.device.in_flight(), None);
    assert_eq!(rig.device.poll_timeout(), None, "no more keepalives");
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [], "superseded response dropped");
}

#[test]
fn late_answer_to_an_aborted_request_cannot_reach_a_newer_one() {
    let mut rig = rig();
    let first = rig.allocate();
    let second = rig.allocate();
    rig.send_message(first, Command::Cbor, &[0x01]);
    assert_eq!(rig.events().len(), 1);
    let stale = rig.device.in_flight_request().expect("in flight");
    rig.send(&init_packet(first, 0x06, 8, &NONCE));
    rig.send_message(second, Command::Cbor, &[0x02]);
    assert_eq!(rig.events().len(), 1);
    rig.sent();
    let current = rig.device.in_flight_request().expect("in flight");
    assert_ne!(stale, current);
    assert!(!rig.device.respond_to(stale, vec![0xaa], rig.now));
    assert_eq!(rig.sent(), []);
    assert!(rig.device.respond_to(current, vec![0x00], rig.now));
    assert_eq!(rig.sent(), [(second, 0x10, vec![0x00])]);
    assert!(
        !rig.device.respond_to(current, vec![0x00], rig.now),
        "answered once"
    );
}

#[test]
fn ping_echoes_any_length() {
    let mut rig = rig();
    let cid = rig.allocate();
    for len in [0, 1, 57, 58, 116, 117, MAX_MESSAGE_LEN] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        rig.send_message(cid, Command::Ping, &payload);
        assert_eq!(rig.sent(), [(cid, 0x01, payload)], "length {len}");
    }
}

#[test]
fn largest_message_both_directions() {
    let mut rig = rig();
    let cid = rig.allocate();
    let request: Vec<u8> = (0..MAX_MESSAGE_LEN).map(|i| (i * 7) as u8).collect();
    rig.send_message(cid, Command::Cbor, &request);
    let events = rig.events();
    assert_eq!(
        events,
        [DeviceEvent::Request {
            channel: cid,
            kind: RequestKind::Cbor,
            payload: request.clone()
        }]
    );
    let response: Vec<u8> = request.iter().rev().copied().collect();
    rig.device.respond(response.clone(), rig.now);
    assert_eq!(rig.sent(), [(cid, 0x10, response)]);
}

#[test]
fn message_longer_than_7609_is_invalid_len() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x10, 7610, &[0x01]));
    assert_eq!(rig.sent(), [error(cid, HidError::InvalidLen)]);
    // Nothing is being assembled: a continuation is stray.
    rig.send(&cont_packet(cid, 0));
    assert_eq!(rig.sent(), []);
}

#[test]
fn unknown_and_device_only_commands_are_invalid_cmd() {
    let mut rig = rig();
    let cid = rig.allocate();
    for cmd in [0x00, 0x02, 0x55, 0x7f, 0x3b, 0x3f] {
        rig.send(&init_packet(cid, cmd, 1, &[0]));
        assert_eq!(rig.sent(), [error(cid, HidError::InvalidCmd)], "{cmd:#04x}");
    }
}

#[test]
fn msg_is_a_request_unless_disabled() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send_message(cid, Command::Msg, &[0x00, 0x03, 0x00, 0x00]);
    assert_eq!(
        rig.events(),
        [DeviceEvent::Request {
            channel: cid,
            kind: RequestKind::Msg,
            payload: vec![0x00, 0x03, 0x00, 0x00]
        }]
    );
    rig.device.respond(vec![0x90, 0x00], rig.now);
    assert_eq!(rig.sent(), [(cid, 0x03, vec![0x90, 0x00])]);

    let mut rig = rig_with(DeviceConfig {
        capabilities: CAPABILITY_CBOR | CAPABILITY_NMSG,
        msg_enabled: false,
        ..DeviceConfig::default()
    });
    let cid = rig.allocate();
    rig.send_message(cid, Command::Msg, &[0x00, 0x03, 0x00, 0x00]);
    assert_eq!(rig.sent(), [error(cid, HidError::InvalidCmd)]);
    assert_eq!(rig.events(), []);
}

#[test]
fn cbor_and_wink_need_their_capability() {
    let mut rig = rig_with(DeviceConfig {
        capabilities: 0,
        ..DeviceConfig::default()
    });
    let cid = rig.allocate();
    rig.send_message(cid, Command::Cbor, &[0x04]);
    rig.send_message(cid, Command::Wink, &[]);
    assert_eq!(
        rig.sent(),
        [
            error(cid, HidError::InvalidCmd),
            error(cid, HidError::InvalidCmd)
        ]
    );
}

#[test]
fn empty_cbor_or_msg_is_invalid_len() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send_message(cid, Command::Cbor, &[]);
    rig.send_message(cid, Command::Msg, &[]);
    assert_eq!(
        rig.sent(),
        [
            error(cid, HidError::InvalidLen),
            error(cid, HidError::InvalidLen)
        ]
    );
    assert_eq!(rig.events(), []);
}

#[test]
fn commands_need_an_allocated_channel() {
    let mut rig = rig();
    let cid = rig.allocate();
    for other in [cid ^ 1, BROADCAST_CID, 0] {
        rig.send_message(other, Command::Ping, b"x");
        assert_eq!(rig.sent(), [error(other, HidError::InvalidChannel)]);
    }
}

#[test]
fn wink_answers_empty_and_tells_the_application() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send_message(cid, Command::Wink, &[]);
    assert_eq!(rig.sent(), [(cid, 0x08, vec![])]);
    assert_eq!(rig.events(), [DeviceEvent::Wink { channel: cid }]);
}

#[test]
fn continuation_out_of_sequence_is_invalid_seq() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x01, 200, &[1; 57]));
    rig.send(&cont_packet(cid, 0));
    rig.send(&cont_packet(cid, 2));
    assert_eq!(rig.sent(), [error(cid, HidError::InvalidSeq)]);
    // The message is dropped; the channel is usable again.
    rig.send_message(cid, Command::Ping, b"again");
    assert_eq!(rig.sent(), [(cid, 0x01, b"again".to_vec())]);
}

#[test]
fn init_packet_where_continuation_expected_is_invalid_seq() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x01, 200, &[1; 57]));
    rig.send(&init_packet(cid, 0x01, 3, b"new"));
    assert_eq!(rig.sent(), [error(cid, HidError::InvalidSeq)]);
    assert_eq!(rig.device.poll_timeout(), None, "assembly dropped");
}

#[test]
fn stray_continuation_is_ignored() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&cont_packet(cid, 0));
    rig.send(&cont_packet(0x4242_4242, 5));
    assert_eq!(rig.sent(), []);
}

#[test]
fn incomplete_message_times_out_after_three_seconds() {
    let mut rig = rig();
    let cid = rig.allocate();
    let start = rig.now;
    rig.send(&init_packet(cid, 0x01, 200, &[1; 57]));
    assert_eq!(rig.device.poll_timeout(), Some(start + MESSAGE_TIMEOUT));
    rig.advance(Duration::from_millis(2999));
    rig.send(&cont_packet(cid, 0));
    assert_eq!(rig.sent(), [], "continuations do not extend the deadline");
    rig.advance(Duration::from_millis(1));
    assert_eq!(rig.sent(), [error(cid, HidError::MsgTimeout)]);
    assert_eq!(rig.device.poll_timeout(), None);
    rig.send(&cont_packet(cid, 1));
    assert_eq!(rig.sent(), [], "late continuation is stray");
}

#[test]
fn late_continuation_sees_the_timeout_first() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x01, 100, &[1; 57]));
    // The runtime missed the deadline; the report arriving after it is late.
    rig.now += MESSAGE_TIMEOUT + Duration::from_millis(5);
    rig.send(&cont_packet(cid, 0));
    assert_eq!(rig.sent(), [error(cid, HidError::MsgTimeout)]);
}

#[test]
fn other_channel_during_assembly_is_busy() {
    let mut rig = rig();
    let first = rig.allocate();
    let second = rig.allocate();
    rig.send(&init_packet(first, 0x01, 100, &[7; 57]));
    rig.send_message(second, Command::Ping, b"me too");
    assert_eq!(rig.sent(), [error(second, HidError::ChannelBusy)]);
    let mut cont = cont_packet(first, 0);
    cont[5..5 + 43].fill(7);
    rig.send(&cont);
    assert_eq!(rig.sent(), [(first, 0x01, vec![7; 100])]);
}

#[test]
fn other_channel_during_processing_is_busy() {
    let mut rig = rig();
    let other = rig.allocate();
    let cid = rig.request_in_flight();
    rig.send_message(other, Command::Cbor, &[0x04]);
    rig.send_message(cid, Command::Ping, b"same channel");
    assert_eq!(
        rig.sent(),
        [
            error(other, HidError::ChannelBusy),
            error(cid, HidError::ChannelBusy)
        ]
    );
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [(cid, 0x10, vec![0x00])]);
    rig.send_message(other, Command::Ping, b"now");
    assert_eq!(rig.sent(), [(other, 0x01, b"now".to_vec())]);
}

#[test]
fn init_is_answered_while_another_channel_is_busy() {
    let mut rig = rig();
    let other = rig.allocate();
    let cid = rig.request_in_flight();
    let fresh = rig.allocate();
    assert_ne!(fresh, cid);
    rig.send(&init_packet(other, 0x06, 8, &NONCE));
    assert_eq!(rig.sent().len(), 1, "resync of an idle channel answered");
    assert_eq!(rig.device.in_flight(), Some((cid, RequestKind::Cbor)));

    rig.device.respond(vec![0x00], rig.now);
    rig.sent();
    rig.send(&init_packet(cid, 0x01, 100, &[1; 57]));
    rig.allocate();
    assert!(rig.device.poll_timeout().is_some(), "assembly untouched");
}

#[test]
fn keepalives_every_80ms_while_in_flight() {
    let mut rig = rig();
    let start = rig.now;
    let cid = rig.request_in_flight();
    let mut last = start;
    let mut count = 0;
    while let Some(due) = rig.device.poll_timeout() {
        if due > start + Duration::from_secs(1) {
            break;
        }
        rig.now = due;
        rig.device.handle_timeout(due);
        assert!(
            due - last <= Duration::from_millis(100),
            "gap {:?}",
            due - last
        );
        assert_eq!(rig.sent(), [(cid, 0x3b, vec![1])]);
        last = due;
        count += 1;
    }
    assert_eq!(count, 12, "1000 ms / 80 ms");
    rig.device.set_keepalive(KeepaliveStatus::UpNeeded);
    assert_eq!(
        rig.sent(),
        [(cid, 0x3b, vec![2])],
        "status change sent at once"
    );
    rig.device.set_keepalive(KeepaliveStatus::UpNeeded);
    assert_eq!(rig.sent(), [], "no change, nothing extra");
    rig.advance(KEEPALIVE_INTERVAL);
    assert_eq!(rig.sent(), [(cid, 0x3b, vec![2])]);
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [(cid, 0x10, vec![0x00])]);
    assert_eq!(
        rig.device.poll_timeout(),
        None,
        "no keepalive after the answer"
    );
}

#[test]
fn no_keepalive_when_idle_and_status_resets_per_request() {
    let mut rig = rig();
    assert_eq!(rig.device.poll_timeout(), None);
    rig.device.set_keepalive(KeepaliveStatus::UpNeeded);
    assert_eq!(rig.sent(), []);
    let cid = rig.request_in_flight();
    rig.advance(KEEPALIVE_INTERVAL);
    assert_eq!(rig.sent(), [(cid, 0x3b, vec![1])]);
}

#[test]
fn cancel_reaches_the_application_once_and_is_never_answered() {
    let mut rig = rig();
    let cid = rig.request_in_flight();
    rig.send_message(cid, Command::Cancel, &[]);
    rig.send_message(cid, Command::Cancel, &[]);
    assert_eq!(rig.sent(), []);
    assert_eq!(rig.events(), [DeviceEvent::Cancel { channel: cid }]);
    rig.device.respond(vec![0x2d], rig.now);
    assert_eq!(rig.sent(), [(cid, 0x10, vec![0x2d])]);
}

#[test]
fn cancel_elsewhere_is_ignored() {
    let mut rig = rig();
    let other = rig.allocate();
    rig.send_message(other, Command::Cancel, &[]);
    let cid = rig.request_in_flight();
    rig.send_message(other, Command::Cancel, &[]);
    rig.send_message(0x0bad_cafe, Command::Cancel, &[]);
    assert_eq!(rig.sent(), []);
    assert_eq!(rig.events(), []);
    assert_eq!(rig.device.in_flight(), Some((cid, RequestKind::Cbor)));
}

#[test]
fn cancel_during_assembly_or_for_msg_is_ignored() {
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, 0x01, 100, &[1; 57]));
    rig.send_message(cid, Command::Cancel, &[]);
    assert_eq!(rig.sent(), [], "neither answered nor INVALID_SEQ");
    let mut cont = cont_packet(cid, 0);
    cont[5..5 + 43].fill(1);
    rig.send(&cont);
    assert_eq!(rig.sent(), [(cid, 0x01, vec![1; 100])], "assembly went on");

    rig.send_message(cid, Command::Msg, &[0x00, 0x02, 0x03, 0x00]);
    assert_eq!(rig.events().len(), 1);
    rig.send_message(cid, Command::Cancel, &[]);
    assert_eq!(rig.sent(), []);
    assert_eq!(rig.events(), [], "U2F requests cannot be cancelled");
}

#[test]
fn lock_gives_one_channel_exclusive_access() {
    let mut rig = rig();
    let holder = rig.allocate();
    let other = rig.allocate();
    rig.send_message(holder, Command::Lock, &[5]);
    assert_eq!(rig.sent(), [(holder, 0x04, vec![])]);

    rig.send_message(other, Command::Ping, b"x");
    rig.send(&init_packet(BROADCAST_CID, 0x06, 8, &NONCE));
    rig.send(&init_packet(other, 0x06, 8, &NONCE));
    rig.send_message(other, Command::Lock, &[1]);
    rig.send_message(other, Command::Cancel, &[]);
    assert_eq!(
        rig.sent(),
        [
            error(other, HidError::ChannelBusy),
            error(BROADCAST_CID, HidError::ChannelBusy),
            error(other, HidError::ChannelBusy),
            error(other, HidError::ChannelBusy),
        ],
        "CANCEL is never answered, not even while locked"
    );
    rig.send_message(holder, Command::Ping, b"mine");
    assert_eq!(rig.sent(), [(holder, 0x01, b"mine".to_vec())]);

    rig.advance(Duration::from_secs(5));
    rig.send_message(other, Command::Ping, b"free");
    assert_eq!(rig.sent(), [(other, 0x01, b"free".to_vec())]);
}

#[test]
fn lock_zero_releases_and_parameters_are_checked() {
    let mut rig = rig();
    let holder = rig.allocate();
    let other = rig.allocate();
    rig.send_message(holder, Command::Lock, &[10]);
    rig.send_message(holder, Command::Lock, &[0]);
    assert_eq!(rig.sent(), [(holder, 0x04, vec![]), (holder, 0x04, vec![])]);
    rig.send_message(other, Command::Ping, b"free");
    assert_eq!(rig.sent(), [(other, 0x01, b"free".to_vec())]);

    rig.send_message(holder, Command::Lock, &[11]);
    rig.send_message(holder, Command::Lock, &[]);
    rig.send_message(holder, Command::Lock, &[1, 1]);
    assert_eq!(
        rig.sent(),
        [
            error(holder, HidError::InvalidPar),
            error(holder, HidError::InvalidLen),
            error(holder, HidError::InvalidLen),
        ]
    );
}

#[test]
fn power_cycle_forgets_everything() {
    let mut rig = rig();
    let holder = rig.allocate();
    rig.send_message(holder, Command::Lock, &[10]);
    let cid = rig.request_in_flight_on_existing(holder);
    rig.advance(KEEPALIVE_INTERVAL);
    rig.device.power_cycle();
    assert_eq!(rig.sent(), [], "undelivered reports are gone");
    assert_eq!(rig.device.poll_timeout(), None);
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [], "response after power cycle dropped");
    rig.send_message(cid, Command::Ping, b"x");
    assert_eq!(rig.sent(), [error(cid, HidError::InvalidChannel)]);
    let fresh = rig.allocate();
    assert_ne!(fresh, cid, "lock gone, new channel differs");
    rig.send_message(fresh, Command::Ping, b"y");
    assert_eq!(rig.sent(), [(fresh, 0x01, b"y".to_vec())]);
}

#[test]
fn power_cycle_keeping_channels_forgets_all_but_channel_ids() {
    let mut rig = rig();
    let holder = rig.allocate();
    let other = rig.allocate();
    rig.send_message(holder, Command::Lock, &[10]);
    let cid = rig.request_in_flight_on_existing(holder);
    rig.advance(KEEPALIVE_INTERVAL);
    rig.device.power_cycle_keeping_channels();
    assert_eq!(rig.sent(), [], "undelivered reports are gone");
    assert_eq!(rig.events(), [], "undelivered events are gone");
    assert_eq!(rig.device.poll_timeout(), None, "no keepalive is due");
    assert_eq!(rig.device.in_flight_request(), None);
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [], "response after power cycle dropped");
    // Both channels still work, and the lock is gone: the other channel is
    // not told it is busy.
    rig.send_message(cid, Command::Ping, b"x");
    assert_eq!(rig.sent(), [(cid, 0x01, b"x".to_vec())]);
    rig.send_message(other, Command::Ping, b"y");
    assert_eq!(rig.sent(), [(other, 0x01, b"y".to_vec())]);
    let fresh = rig.allocate();
    assert!(fresh != cid && fresh != other, "a new channel is a new ID");
}

impl Rig {
    fn request_in_flight_on_existing(&mut self, cid: u32) -> u32 {
        self.sent();
        self.send_message(cid, Command::Cbor, &[0x01]);
        assert_eq!(self.events().len(), 1);
        cid
    }
}

#[test]
fn reports_are_padded_or_truncated_to_64_bytes() {
    let mut rig = rig();
    // 15 bytes: header + nonce; the rest is zero padding.
    let short = init_packet(BROADCAST_CID, 0x06, 8, &NONCE);
    rig.send(&short[..15]);
    assert_eq!(rig.sent().len(), 1);
    let cid = rig.allocate();
    let mut long = init_packet(cid, 0x01, 2, b"ok").to_vec();
    long.extend_from_slice(&[0xee; 36]);
    rig.send(&long);
    assert_eq!(rig.sent(), [(cid, 0x01, b"ok".to_vec())]);
    rig.send(&[]);
    assert_eq!(rig.sent(), [], "an all-zero report is a stray continuation");
}

#[test]
fn oversized_or_unrequested_responses() {
    let mut rig = rig();
    rig.device.respond(vec![0x00], rig.now);
    assert_eq!(rig.sent(), [], "nothing in flight");
    let cid = rig.request_in_flight();
    rig.device.respond(vec![0; MAX_MESSAGE_LEN + 1], rig.now);
    assert_eq!(rig.sent(), [error(cid, HidError::Other)]);
    assert_eq!(rig.device.in_flight(), None);
}

#[test]
fn least_recently_used_channel_is_evicted() {
    let mut rig = rig();
    let oldest = rig.allocate();
    let busy = rig.request_in_flight();
    for _ in 0..MAX_CHANNELS {
        rig.allocate();
    }
    assert_eq!(rig.device.channels.entries.len(), MAX_CHANNELS);
    assert!(!rig.device.channels.contains(oldest));
    assert!(rig.device.channels.contains(busy), "busy channel kept");
}

#[test]
fn debug_output_shows_no_message_bytes() {
    // A request half assembled, and a reply waiting to be sent: Debug says
    // how long they are, never what they hold (either may carry secrets).
    let mut rig = rig();
    let cid = rig.allocate();
    rig.send(&init_packet(cid, Command::Cbor.code(), 100, &[0xab; 57]));
    let shown = format!("{:?}", rig.device);
    assert!(shown.contains("received: 57"), "{shown}");
    assert!(!shown.contains("171, 171"), "no request bytes: {shown}");
    let mut reassembler = Reassembler::new(cid);
    let reply = ctaphid::fragment(cid, Command::Cbor, &[0xcd; 100]).expect("fits");
    assert_eq!(reassembler.push(&reply[0]).expect("first"), None);
    let shown = format!("{reassembler:?}");
    assert!(shown.contains("received: 57"), "{shown}");
    assert!(!shown.contains("205, 205"), "no reply bytes: {shown}");
}
