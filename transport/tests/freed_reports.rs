//! Message bytes never reach a freed heap block through CTAPHID framing.
//!
//! A CTAP reply can carry secrets (a largeBlobKey, credential management's
//! user data, hmac-secret output) and a request too (PIN protocol values):
//! the framing layer copies them into reports on both sides. This binary runs
//! on the inspecting allocator of the authenticator's and the vault's
//! freed-memory tests: while the test thread watches, every block it frees
//! is searched for a marker that only the message carries. A plain `Vec` of
//! reports dropped after sending, or a reply buffer dropped after framing,
//! is such a block; the zeroized buffers are wiped before they are freed.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use softkey_transport::ctaphid::{self, Command};
use softkey_transport::host::Reassembler;
use softkey_transport::memory::{Application, MemoryPipe};
use softkey_transport::{DeviceConfig, DeviceEvent, HidDevice, HostClient};
use zeroize::Zeroizing;

#[global_allocator]
static ALLOCATOR: softkey_freed_memory::Scanner = softkey_freed_memory::Scanner;

/// Stand in for secret material in a request and in its reply.
const IN_REQUEST: [u8; 32] = softkey_freed_memory::marker(0x3c);
const IN_REPLY: [u8; 32] = softkey_freed_memory::marker(0x6d);
static MARKERS: [&[u8]; 2] = [&IN_REQUEST, &IN_REPLY];
/// Any 8 consecutive bytes of a marker count (a report holds part of one).
const WINDOW: usize = 8;

/// The scanner's findings are global: one scan at a time in this binary.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` watching this thread's frees: its result and the backtraces of
/// the freed blocks that held a marker.
fn watch<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    scrub_stack();
    softkey_freed_memory::scan(&MARKERS, WINDOW, softkey_freed_memory::Scope::ThisThread, f)
}

/// Zeroes the stack below the caller: the fixtures leave copies of the
/// markers in stack slots that a heap block's construction could pick up.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; 64 * 1024];
    std::hint::black_box(&mut area);
}

fn assert_nothing_found(found: &[String]) {
    assert!(
        found.is_empty(),
        "{} freed blocks held a marker; first freed at:\n{}",
        found.len(),
        found[0]
    );
}

/// `prefix` then the marker `times` times, in a buffer of exactly that size
/// (built before the scan: growing it would free copies).
fn message(prefix: u8, marker: &[u8; 32], times: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 32 * times);
    out.push(prefix);
    for _ in 0..times {
        out.extend_from_slice(marker);
    }
    out
}

/// Answers each CTAP2 request with the reply it was given, once; wipes
/// the request it receives (the application's part of the bargain).
struct Replier {
    reply: Option<Vec<u8>>,
}

impl Application for Replier {
    fn on_event(&mut self, device: &mut HidDevice, event: DeviceEvent, now: Instant) {
        if let DeviceEvent::Request { payload, .. } = event {
            let payload = Zeroizing::new(payload);
            assert_eq!(payload[1..33], IN_REQUEST, "the request arrived whole");
            let id = device.in_flight_request().unwrap();
            assert!(device.respond_to(id, self.reply.take().unwrap(), now));
        }
    }
}

#[test]
fn a_request_and_its_reply_leave_no_copy_in_freed_memory() {
    let request = message(0x02, &IN_REQUEST, 3);
    let reply = message(0x00, &IN_REPLY, 4);
    let pipe = MemoryPipe::new(
        DeviceConfig::default(),
        Replier {
            reply: Some(reply.clone()),
        },
    );
    let mut client = HostClient::new(pipe);
    client.set_timeout(Duration::from_secs(1));
    client.init().unwrap();

    let (answer, found) = watch(|| {
        let answer = Zeroizing::new(client.cbor(&request, |_| {}).unwrap());
        // The device side's reports are freed with it.
        drop(client);
        answer
    });
    assert_eq!(*answer, reply, "the reply arrived whole");
    assert_nothing_found(&found);
}

#[test]
fn reports_not_yet_sent_are_wiped_with_the_device() {
    let now = Instant::now();
    let mut device = HidDevice::new(DeviceConfig::default());
    let init = ctaphid::fragment(ctaphid::BROADCAST_CID, Command::Init, b"8 bytes!").unwrap();
    device.handle_report(&init[0], now);
    let answer = device.poll_report().unwrap();
    let cid = u32::from_be_bytes(answer[15..19].try_into().unwrap());
    device.handle_report(
        &ctaphid::fragment(cid, Command::Cbor, &[0x04]).unwrap()[0],
        now,
    );
    assert!(matches!(
        device.poll_event(),
        Some(DeviceEvent::Request { .. })
    ));
    let id = device.in_flight_request().unwrap();
    let reply = message(0x00, &IN_REPLY, 4);

    let ((), found) = watch(|| {
        assert!(device.respond_to(id, reply, now));
        // One report taken (as a backend would), the rest left queued.
        let first = Zeroizing::new(device.poll_report().unwrap());
        assert_eq!(first[4], 0x80 | Command::Cbor.code());
        drop(device);
    });
    assert_nothing_found(&found);
}

#[test]
fn a_reply_cut_short_is_wiped_by_the_host() {
    let reports = ctaphid::fragment(0x0102_0304, Command::Cbor, &message(0x00, &IN_REPLY, 4))
        .map(Zeroizing::new)
        .unwrap();
    let interrupting = ctaphid::fragment(0x0102_0304, Command::Cbor, &[0x00]).unwrap();
    let mut reassembler = Reassembler::new(0x0102_0304);

    let (outcome, found) = watch(|| {
        assert_eq!(reassembler.push(&reports[0]).unwrap(), None);
        assert_eq!(reassembler.push(&reports[1]).unwrap(), None);
        // A new message before the end: the partial one is dropped.
        reassembler.push(&interrupting[0]).map(drop)
    });
    assert!(outcome.is_err(), "an interrupted message is an error");
    assert_nothing_found(&found);
}

#[test]
fn the_scanner_sees_a_plain_copy() {
    // The check above could pass by seeing nothing: a plain Vec holding the
    // marker, dropped while watching, must be found.
    let copy = message(0x00, &IN_REPLY, 1);
    let ((), found) = watch(|| drop(copy));
    assert_eq!(found.len(), 1);
}
