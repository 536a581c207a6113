//! The host client against the real device state machine over the in-memory
//! pipe with simulated time, plus reassembler unit tests.

use std::time::Instant;

use super::*;
use crate::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, TYPE_INIT};
use crate::memory::{Application, MemoryPipe};
use crate::{DeviceConfig, DeviceEvent, HidDevice};

/// How the simulated application answers requests.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Answer at once with the request reversed.
    Reverse,
    /// Answer after a delay (keepalives meanwhile), with this status.
    Delayed(Duration, KeepaliveStatus),
}

/// The application behind the device in these tests.
#[derive(Debug)]
struct App {
    behaviour: Behaviour,
    pending: Option<(Instant, Vec<u8>)>,
    winks: usize,
}

impl Application for App {
    fn on_event(&mut self, device: &mut HidDevice, event: DeviceEvent, now: Instant) {
        match event {
            DeviceEvent::Request { payload, .. } => match self.behaviour {
                Behaviour::Reverse => {
                    device.respond(payload.into_iter().rev().collect(), now);
                }
                Behaviour::Delayed(delay, status) => {
                    device.set_keepalive(status);
                    self.pending = Some((now + delay, payload));
                }
            },
            DeviceEvent::Cancel { .. } => {
                self.pending = None;
                device.respond(vec![0x2d], now);
            }
            DeviceEvent::Wink { .. } => self.winks += 1,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(due, _)| *due)
    }

    fn on_timeout(&mut self, device: &mut HidDevice, now: Instant) {
        if let Some((_, payload)) = self.pending.take() {
            device.respond(payload, now);
        }
    }
}

type MemoryDevice = MemoryPipe<App>;

fn pipe(config: DeviceConfig, behaviour: Behaviour) -> MemoryDevice {
    MemoryPipe::new(
        config,
        App {
            behaviour,
            pending: None,
            winks: 0,
        },
    )
}

fn client(behaviour: Behaviour) -> HostClient<MemoryDevice> {
    let mut client = HostClient::new(pipe(DeviceConfig::default(), behaviour));
    client.init().expect("init");
    client
}

#[test]
fn init_ping_wink_lock() {
    let mut client = HostClient::new(pipe(DeviceConfig::default(), Behaviour::Reverse));
    assert_eq!(client.channel(), BROADCAST_CID);
    assert_eq!(client.capabilities(), 0);
    let info = client.init().expect("init");
    assert_eq!(client.channel(), info.cid);
    assert_eq!(client.capabilities(), DeviceConfig::default().capabilities);
    assert_eq!(client.device_info(), Some(&info));
    assert_eq!(client.ping(b"hello").expect("ping"), b"hello");
    assert_eq!(client.ping(&[]).expect("empty ping"), b"");
    client.wink().expect("wink");
    assert_eq!(client.io_mut().app().winks, 1);
    client.lock(3).expect("lock");
    client.lock(0).expect("unlock");
    let error = client.lock(11).expect_err("too long");
    assert_eq!(error.hid_error(), Some(HidError::InvalidPar));
}

#[test]
fn cbor_and_msg_carry_the_largest_messages() {
    let mut client = client(Behaviour::Reverse);
    let request: Vec<u8> = (0..MAX_MESSAGE_LEN).map(|i| (i % 251) as u8).collect();
    let expected: Vec<u8> = request.iter().rev().copied().collect();
    let response = client.cbor(&request, |_| {}).expect("cbor");
    assert_eq!(response, expected);
    assert_eq!(client.msg(&[1, 2, 3]).expect("msg"), [3, 2, 1]);
    let too_long = vec![0; MAX_MESSAGE_LEN + 1];
    assert!(matches!(
        client.cbor(&too_long, |_| {}),
        Err(HostError::MessageTooLong(_))
    ));
}

#[test]
fn keepalives_reach_the_callback() {
    let delay = Duration::from_secs(1);
    let mut client = client(Behaviour::Delayed(delay, KeepaliveStatus::UpNeeded));
    let mut statuses = Vec::new();
    let response = client
        .cbor(&[0x01, 0xa0], |status| statuses.push(status))
        .expect("cbor");
    assert_eq!(response, [0x01, 0xa0]);
    // One immediate status change, then one every 80 ms for a second.
    assert!(statuses.len() >= 12, "{} keepalives", statuses.len());
    assert!(statuses.iter().all(|&s| s == KeepaliveStatus::UpNeeded));
}

#[test]
fn cancel_is_answered_by_the_application() {
    let delay = Duration::from_secs(30);
    let mut client = client(Behaviour::Delayed(delay, KeepaliveStatus::UpNeeded));
    let mut seen = 0;
    let response = client
        .cbor_cancellable(&[0x01], |_| {
            seen += 1;
            seen == 3
        })
        .expect("cbor");
    assert_eq!(response, [0x2d], "CTAP2_ERR_KEEPALIVE_CANCEL");
    // The device is free again.
    assert_eq!(client.ping(b"next").expect("ping"), b"next");
    // A bare CANCEL with nothing in flight gets no answer.
    client.cancel().expect("cancel");
    assert_eq!(client.ping(b"still fine").expect("ping"), b"still fine");
}

#[test]
fn device_errors_and_timeouts() {
    let mut fresh = HostClient::new(pipe(DeviceConfig::default(), Behaviour::Reverse));
    assert!(matches!(fresh.ping(b"x"), Err(HostError::Protocol(_))));

    let config = DeviceConfig {
        capabilities: CAPABILITY_CBOR | CAPABILITY_NMSG,
        msg_enabled: false,
        ..DeviceConfig::default()
    };
    let mut client = HostClient::new(pipe(config, Behaviour::Reverse));
    client.init().expect("init");
    let error = client.msg(&[0x00, 0x03, 0, 0]).expect_err("MSG disabled");
    assert_eq!(error.hid_error(), Some(HidError::InvalidCmd));
    assert!(matches!(error, HostError::Device(0x01)));

    let mut silent = HostClient::new(Silent);
    silent.set_timeout(Duration::from_millis(1));
    assert!(matches!(silent.init(), Err(HostError::Timeout)));
}

/// A device that never answers.
struct Silent;

impl PacketIo for Silent {
    fn send(&mut self, _: &[u8; REPORT_LEN]) -> io::Result<()> {
        Ok(())
    }

    fn recv(&mut self, _: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
        Ok(None)
    }
}

/// Answers to another host's INIT arrive first on the broadcast channel.
struct CrowdedBroadcast {
    inner: MemoryDevice,
    foreign_sent: bool,
}

impl PacketIo for CrowdedBroadcast {
    fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
        self.inner.send(report)
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
        if !self.foreign_sent {
            self.foreign_sent = true;
            let foreign = InitResponse {
                nonce: *b"someone!",
                cid: 0x0bad_0bad,
                protocol_version: 2,
                device_version: (0, 0, 0),
                capabilities: 0,
            };
            let reports =
                ctaphid::fragment(BROADCAST_CID, Command::Init, &foreign.to_bytes()).expect("fits");
            return Ok(Some(reports[0]));
        }
        self.inner.recv(timeout)
    }
}

#[test]
fn init_skips_answers_with_another_nonce() {
    let mut client = HostClient::new(CrowdedBroadcast {
        inner: pipe(DeviceConfig::default(), Behaviour::Reverse),
        foreign_sent: false,
    });
    let info = client.init().expect("init");
    assert_ne!(info.cid, 0x0bad_0bad);
    assert_eq!(client.ping(b"mine").expect("ping"), b"mine");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_payload_round_trips_through_fragment_and_reassembly(
        cid in proptest::prelude::any::<u32>(),
        payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=MAX_MESSAGE_LEN),
    ) {
        let mut reassembler = Reassembler::new(cid);
        let reports = ctaphid::fragment(cid, Command::Cbor, &payload).expect("fits");
        let (last, rest) = reports.split_last().expect("at least one report");
        for report in rest {
            proptest::prop_assert_eq!(reassembler.push(report), Ok(None));
        }
        let message = reassembler.push(last).expect("well-formed").expect("complete");
        proptest::prop_assert_eq!(message.cmd, Command::Cbor.code());
        proptest::prop_assert_eq!(message.payload, payload);
    }

    #[test]
    fn any_cbor_request_reaches_the_application_intact(
        payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..=MAX_MESSAGE_LEN),
    ) {
        let mut client = client(Behaviour::Reverse);
        let expected: Vec<u8> = payload.iter().rev().copied().collect();
        proptest::prop_assert_eq!(client.cbor(&payload, |_| {}).expect("cbor"), expected);
    }
}

fn report(cid: u32, kind: u8, rest: &[u8]) -> [u8; REPORT_LEN] {
    let mut report = [0u8; REPORT_LEN];
    report[..4].copy_from_slice(&cid.to_be_bytes());
    report[4] = kind;
    report[5..5 + rest.len()].copy_from_slice(rest);
    report
}

#[test]
fn reassembler_skips_other_channels_and_stray_continuations() {
    let mut reassembler = Reassembler::new(7);
    assert_eq!(
        reassembler.push(&report(8, TYPE_INIT | 1, &[0, 1, 9])),
        Ok(None)
    );
    assert_eq!(reassembler.push(&report(7, 0, &[1])), Ok(None));
    assert_eq!(
        reassembler.push(&report(7, TYPE_INIT | 1, &[0, 1, 9])),
        Ok(Some(Message {
            cmd: 1,
            payload: vec![9]
        }))
    );
}

#[test]
fn reassembler_rejects_broken_framing() {
    let mut reassembler = Reassembler::new(7);
    assert_eq!(
        reassembler.push(&report(7, TYPE_INIT | 1, &[0x1d, 0xba])),
        Err(ReassemblyError::TooLong(7610))
    );
    reassembler
        .push(&report(7, TYPE_INIT | 1, &[0, 100]))
        .expect("start");
    assert_eq!(
        reassembler.push(&report(7, 1, &[])),
        Err(ReassemblyError::InvalidSeq {
            expected: 0,
            got: 1
        })
    );
    reassembler
        .push(&report(7, TYPE_INIT | 1, &[0, 100]))
        .expect("start");
    assert_eq!(
        reassembler.push(&report(7, TYPE_INIT | 1, &[0, 1])),
        Err(ReassemblyError::Interrupted)
    );
    assert!(!reassembler.is_partial());
}
