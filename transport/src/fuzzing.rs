//! Entry points for the fuzz targets (`fuzz/`) and the property tests.
//!
//! Not a stable API. Each fuzz target is one line calling into here, so a
//! target cannot drift from the code it tests.
//! Compiled only with the crate's `fuzzing` feature (which `fuzz/` enables) and
//! in its own unit tests: product builds do not contain it.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::ctaphid::{
    BROADCAST_CID, Command, HidError, InitResponse, KeepaliveStatus, PROTOCOL_VERSION, REPORT_LEN,
    RESERVED_CID,
};
use crate::host::{Message, Reassembler};
use crate::{DeviceConfig, HidDevice};

/// Bytes per step in [`ctaphid_packets`]: one control byte, one report.
pub const STEP_LEN: usize = 1 + REPORT_LEN;

/// Drive a [`HidDevice`] with raw bytes and check every report it sends.
///
/// `data` is split into steps of 65 bytes (the last may be short): a control
/// byte, then one output report. Control byte: `0xff` power-cycles the device
/// (the report is skipped); otherwise bits 0–5 advance the clock by that many
/// 50 ms ticks (up to 3.15 s, past the message timeout), bit 6 answers the
/// request in flight after the report, bit 7 switches keepalives to UPNEEDED.
pub fn ctaphid_packets(data: &[u8]) {
    let mut harness = Harness::new(fuzz_config());
    for step in data.chunks(STEP_LEN) {
        let (&control, report) = step.split_first().expect("chunks are never empty");
        harness.step(control, report);
    }
}

/// The device [`ctaphid_packets`] drives: fixed seed, so seeds can name
/// channels.
fn fuzz_config() -> DeviceConfig {
    DeviceConfig {
        cid_seed: 0x5eed,
        ..DeviceConfig::default()
    }
}

/// Inputs for [`ctaphid_packets`] that reach the interesting states, named
/// after them: a starting corpus for the fuzzer.
pub fn ctaphid_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let init = single(BROADCAST_CID, Command::Init, b"fuzzseed");
    // The channels the fuzz device hands out to the first two INITs.
    let mut device = HidDevice::new(fuzz_config());
    let mut allocate = || {
        device.handle_report(&init, Instant::now());
        let report = device.poll_report().expect("INIT is answered");
        InitResponse::parse(&report[7..])
            .expect("INIT response")
            .cid
    };
    let (first, second) = (allocate(), allocate());
    let cbor_200 = crate::ctaphid::fragment(first, Command::Cbor, &[0x5a; 200]).expect("fits");

    let mut cbor_answered = vec![
        (0, init),
        (0, cbor_200[0]),
        (0, cbor_200[1]),
        (0, cbor_200[2]),
    ];
    cbor_answered.push((0x40, cbor_200[3]));
    vec![
        (
            "init_ping",
            steps(&[(0, init), (0, single(first, Command::Ping, b"hi"))]),
        ),
        ("cbor_multi_packet_answered", steps(&cbor_answered)),
        (
            "keepalive_upneeded_then_cancel",
            steps(&[
                (0, init),
                (0, single(first, Command::Cbor, &[0x01])),
                (0x80 | 4, single(first, Command::Cancel, &[])),
                (0x40 | 1, single(second, Command::Ping, b"busy?")),
            ]),
        ),
        (
            "continuation_timeout",
            steps(&[(0, init), (0, cbor_200[0]), (63, cbor_200[1])]),
        ),
        (
            "lock_then_busy",
            steps(&[
                (0, init),
                (0, init),
                (0, single(first, Command::Lock, &[5])),
                (0, single(second, Command::Ping, b"locked out")),
            ]),
        ),
        (
            "power_cycle_forgets_channel",
            steps(&[
                (0, init),
                (0xff, init),
                (0, single(first, Command::Ping, b"x")),
            ]),
        ),
    ]
}

/// A one-packet message as a report.
fn single(cid: u32, command: Command, payload: &[u8]) -> [u8; REPORT_LEN] {
    let reports = crate::ctaphid::fragment(cid, command, payload).expect("fits");
    assert_eq!(reports.len(), 1, "seed messages fit one packet");
    reports[0]
}

fn steps(list: &[(u8, [u8; REPORT_LEN])]) -> Vec<u8> {
    list.iter()
        .flat_map(|(control, report)| std::iter::once(*control).chain(report.iter().copied()))
        .collect()
}

/// A device, a simulated clock and an [`OutputChecker`].
#[derive(Debug)]
pub struct Harness {
    device: HidDevice,
    now: Instant,
    checker: OutputChecker,
}

impl Harness {
    /// A fresh device at an arbitrary starting time.
    pub fn new(config: DeviceConfig) -> Self {
        Self {
            device: HidDevice::new(config),
            now: Instant::now(),
            checker: OutputChecker::default(),
        }
    }

    /// One step as described on [`ctaphid_packets`].
    pub fn step(&mut self, control: u8, report: &[u8]) {
        if control == 0xff {
            self.power_cycle();
            return;
        }
        self.advance(Duration::from_millis(50 * u64::from(control & 0x3f)));
        self.send(report);
        if control & 0x80 != 0 {
            self.device.set_keepalive(KeepaliveStatus::UpNeeded);
        }
        if control & 0x40 != 0 {
            // Up to 120 copies of the report: also too long to frame (7680).
            let copies = usize::from(report.first().copied().unwrap_or(0) % 121);
            self.respond(report.repeat(copies));
        }
        self.drain();
    }

    /// Let time pass, handling the timeouts that fall due.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(due) = self.device.poll_timeout().filter(|&due| due <= until) {
            self.now = self.now.max(due);
            self.device.handle_timeout(self.now);
            let next = self.device.poll_timeout();
            assert!(
                next.is_none_or(|next| next > self.now),
                "handle_timeout left a timeout due at {next:?}"
            );
            self.drain();
        }
        self.now = until;
    }

    /// Hand the device one output report.
    pub fn send(&mut self, report: &[u8]) {
        if let Some(cid) = report.get(..4) {
            let cid = u32::from_be_bytes(cid.try_into().expect("4 bytes"));
            self.checker.known.insert(cid);
        } else {
            // Zero-padded: the CID starts with the bytes given, then zeros.
            let mut cid = [0u8; 4];
            cid[..report.len()].copy_from_slice(report);
            self.checker.known.insert(u32::from_be_bytes(cid));
        }
        self.device.handle_report(report, self.now);
        self.drain();
    }

    /// Answer the request in flight (if any) and check the output.
    pub fn respond(&mut self, payload: Vec<u8>) {
        self.device.respond(payload, self.now);
        self.drain();
    }

    /// Power-cycle the device.
    pub fn power_cycle(&mut self) {
        self.device.power_cycle();
        self.checker.reassemblers.clear();
    }

    /// The `index`-th channel the checker has seen (wrapping), for
    /// structured generators; broadcast if none yet.
    pub fn known_channel(&self, index: usize) -> u32 {
        let count = self.checker.known.len();
        if count == 0 {
            return BROADCAST_CID;
        }
        self.checker
            .known
            .iter()
            .nth(index % count)
            .copied()
            .unwrap_or(BROADCAST_CID)
    }

    /// Every message the device sent, in order.
    pub fn messages(&self) -> &[(u32, Message)] {
        &self.checker.messages
    }

    /// The device under test.
    pub fn device(&mut self) -> &mut HidDevice {
        &mut self.device
    }

    fn drain(&mut self) {
        while let Some(report) = self.device.poll_report() {
            self.checker.check(&report);
        }
        // Events are the application's business; drop them.
        while self.device.poll_event().is_some() {}
        self.checker.assert_no_partial_message();
    }
}

/// Checks that a stream of device output reports is well-formed CTAPHID.
#[derive(Debug, Default)]
pub struct OutputChecker {
    /// Channels the host used or the device allocated.
    known: BTreeSet<u32>,
    reassemblers: HashMap<u32, Reassembler>,
    messages: Vec<(u32, Message)>,
}

impl OutputChecker {
    /// Check one report; panics on a violation.
    pub fn check(&mut self, report: &[u8; REPORT_LEN]) {
        let cid = u32::from_be_bytes(report[..4].try_into().expect("4 bytes"));
        assert!(
            self.known.contains(&cid) || cid == BROADCAST_CID,
            "report on channel {cid:08x} nobody used or allocated"
        );
        let message = self
            .reassemblers
            .entry(cid)
            .or_insert_with(|| Reassembler::new(cid))
            .push(report)
            .unwrap_or_else(|error| panic!("device framing broken on {cid:08x}: {error}"));
        let Some(message) = message else { return };
        self.check_message(cid, &message);
        self.messages.push((cid, message));
    }

    fn check_message(&mut self, cid: u32, message: &Message) {
        let command = Command::from_code(message.cmd)
            .unwrap_or_else(|| panic!("device sent unknown command {:#04x}", message.cmd));
        let payload = &message.payload[..];
        match command {
            Command::Error => {
                assert_eq!(payload.len(), 1, "ERROR payload is one byte");
                assert!(
                    HidError::from_code(payload[0]).is_some(),
                    "ERROR code {:#04x} is not a spec code",
                    payload[0]
                );
            }
            Command::Keepalive => {
                assert_eq!(payload.len(), 1, "KEEPALIVE payload is one byte");
                assert!(KeepaliveStatus::from_code(payload[0]).is_some());
            }
            Command::Init => {
                assert_eq!(payload.len(), InitResponse::LEN, "INIT response length");
                let response = InitResponse::parse(payload).expect("17 bytes parse");
                assert_eq!(response.protocol_version, PROTOCOL_VERSION);
                assert_ne!(response.cid, RESERVED_CID);
                assert_ne!(response.cid, BROADCAST_CID);
                if cid != BROADCAST_CID {
                    assert_eq!(response.cid, cid, "resync answers with the same CID");
                }
                self.known.insert(response.cid);
            }
            Command::Lock | Command::Wink => assert!(payload.is_empty()),
            Command::Ping | Command::Msg | Command::Cbor => {}
            Command::Cancel => panic!("device sent CANCEL"),
        }
        if cid == BROADCAST_CID {
            assert!(
                matches!(command, Command::Init | Command::Error),
                "only INIT and ERROR go out on the broadcast channel, not {command:?}"
            );
        }
    }

    fn assert_no_partial_message(&self) {
        for reassembler in self.reassemblers.values() {
            assert!(
                !reassembler.is_partial(),
                "device left a message half sent on {:08x}",
                reassembler.cid()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ctaphid::TYPE_INIT;

    /// One structured step: packets that are mostly plausible, so the
    /// interesting states (assembly, in flight, locked) are reached.
    #[derive(Debug, Clone)]
    enum Op {
        Init {
            channel: usize,
            cmd: u8,
            bcnt: u16,
            fill: u8,
        },
        Cont {
            channel: usize,
            seq: u8,
            fill: u8,
        },
        Advance(u16),
        Respond(u16),
        UpNeeded,
        PowerCycle,
    }

    fn op() -> impl Strategy<Value = Op> {
        let cmd = prop_oneof![
            Just(0x01u8),
            Just(0x03),
            Just(0x04),
            Just(0x06),
            Just(0x08),
            Just(0x10),
            Just(0x11),
            Just(0x3b),
            any::<u8>(),
        ];
        let bcnt = prop_oneof![0u16..=8, 0u16..=300, Just(7609), Just(7610), any::<u16>()];
        prop_oneof![
            4 => (any::<usize>(), cmd, bcnt, any::<u8>())
                .prop_map(|(channel, cmd, bcnt, fill)| Op::Init { channel, cmd, bcnt, fill }),
            4 => (any::<usize>(), 0u8..6, any::<u8>())
                .prop_map(|(channel, seq, fill)| Op::Cont { channel, seq, fill }),
            2 => (0u16..4000).prop_map(Op::Advance),
            1 => (0u16..8000).prop_map(Op::Respond),
            1 => Just(Op::UpNeeded),
            1 => Just(Op::PowerCycle),
        ]
    }

    fn run(harness: &mut Harness, op: Op) {
        match op {
            Op::Init {
                channel,
                cmd,
                bcnt,
                fill,
            } => {
                let mut report = [fill; REPORT_LEN];
                report[..4].copy_from_slice(&harness.known_channel(channel).to_be_bytes());
                report[4] = TYPE_INIT | cmd;
                report[5..7].copy_from_slice(&bcnt.to_be_bytes());
                harness.send(&report);
            }
            Op::Cont { channel, seq, fill } => {
                let mut report = [fill; REPORT_LEN];
                report[..4].copy_from_slice(&harness.known_channel(channel).to_be_bytes());
                report[4] = seq;
                harness.send(&report);
            }
            Op::Advance(ms) => harness.advance(Duration::from_millis(u64::from(ms))),
            Op::Respond(len) => harness.respond(vec![0xa5; usize::from(len)]),
            Op::UpNeeded => harness.device().set_keepalive(KeepaliveStatus::UpNeeded),
            Op::PowerCycle => harness.power_cycle(),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_break_the_device(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            ctaphid_packets(&data);
        }

        #[test]
        fn arbitrary_packet_sequences_keep_framing_well_formed(
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let mut harness = Harness::new(DeviceConfig::default());
            // Start with one allocated channel so the sequence has something to use.
            let mut init = [0u8; REPORT_LEN];
            init[..4].copy_from_slice(&BROADCAST_CID.to_be_bytes());
            init[4] = TYPE_INIT | Command::Init.code();
            init[6] = 8;
            harness.send(&init);
            for op in ops {
                run(&mut harness, op);
            }
        }
    }

    #[test]
    fn seeds_reach_the_states_they_are_named_after() {
        let expected: [(&str, u8, &[u8]); 6] = [
            ("init_ping", 0x01, b"hi"),
            ("cbor_multi_packet_answered", 0x10, &[]),
            ("keepalive_upneeded_then_cancel", 0x3b, &[2]),
            ("continuation_timeout", 0x3f, &[0x05]),
            ("lock_then_busy", 0x3f, &[0x06]),
            ("power_cycle_forgets_channel", 0x3f, &[0x0b]),
        ];
        let seeds = ctaphid_seeds();
        assert_eq!(seeds.len(), expected.len());
        for ((name, data), (expected_name, cmd, payload)) in seeds.iter().zip(expected) {
            assert_eq!(*name, expected_name);
            ctaphid_packets(data);
            let mut harness = Harness::new(fuzz_config());
            for step in data.chunks(STEP_LEN) {
                harness.step(step[0], &step[1..]);
            }
            let found = harness.messages().iter().any(|(_, message)| {
                message.cmd == cmd && (payload.is_empty() || message.payload == payload)
            });
            assert!(found, "{name}: {:?}", harness.messages());
        }
    }

    #[test]
    fn short_and_empty_inputs_are_fine() {
        ctaphid_packets(&[]);
        ctaphid_packets(&[0xff]);
        ctaphid_packets(&[0x00, 0xff, 0xff]);
    }
}
