//! The UHID device against a fake kernel: one end of a datagram socket pair,
//! which keeps event boundaries like `/dev/uhid` does.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::wire::{self, EVENT_LEN, event_type};
use super::*;
use crate::ctaphid::{self, BROADCAST_CID, Command};
use crate::{DeviceConfig, HidDevice};

struct FakeKernel {
    socket: UnixDatagram,
}

impl FakeKernel {
    fn read_event(&self) -> Vec<u8> {
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buffer = vec![0u8; EVENT_LEN + 100];
        let len = self.socket.recv(&mut buffer).expect("an event");
        buffer.truncate(len);
        buffer
    }

    fn event(&self, kind: u32, fill: impl FnOnce(&mut [u8])) {
        let mut event = vec![0u8; EVENT_LEN];
        event[..4].copy_from_slice(&kind.to_le_bytes());
        fill(&mut event);
        self.socket.send(&event).expect("send event");
    }

    /// What hidraw makes of a program's 65-byte write: report-ID 0 first.
    fn output(&self, report: &[u8; 64]) {
        self.event(event_type::OUTPUT, |event| {
            event[5..69].copy_from_slice(report);
            event[4100..4102].copy_from_slice(&65u16.to_le_bytes());
            event[4102] = 1; // UHID_OUTPUT_REPORT
        });
    }
}

fn pair(config: &UhidConfig) -> (UhidDevice, FakeKernel) {
    let (ours, theirs) = UnixDatagram::pair().expect("socket pair");
    let device = UhidDevice::create_on(OwnedFd::from(ours), config).expect("create");
    (device, FakeKernel { socket: theirs })
}

fn next(device: &mut UhidDevice) -> UhidIncoming {
    device
        .recv(Some(Duration::from_secs(5)))
        .expect("recv")
        .expect("an event before the timeout")
}

#[test]
fn create_writes_create2_with_the_configured_identity() {
    let config = UhidConfig {
        name: "softkey test".into(),
        uniq: "serial-1".into(),
        vendor: 0x1234,
        product: 0xabcd,
        ..UhidConfig::default()
    };
    let (_device, kernel) = pair(&config);
    let create = kernel.read_event();
    assert_eq!(create.len(), EVENT_LEN);
    assert_eq!(
        create,
        wire::encode_create2(&config.create2()).expect("fits")
    );
    assert_eq!(&create[4..16], b"softkey test");
    assert_eq!(create[264..268], 0x1234u32.to_le_bytes());
    assert_eq!(create[268..272], 0xabcdu32.to_le_bytes());
}

#[test]
fn too_long_a_name_is_refused_before_anything_is_written() {
    let (ours, theirs) = UnixDatagram::pair().expect("socket pair");
    let config = UhidConfig {
        name: "x".repeat(200),
        ..UhidConfig::default()
    };
    let error = UhidDevice::create_on(OwnedFd::from(ours), &config).expect_err("too long");
    assert!(matches!(error, UhidError::Config(_)), "{error}");
    theirs.set_nonblocking(true).expect("nonblocking");
    assert!(theirs.recv(&mut [0u8; 16]).is_err(), "nothing was written");
}

#[test]
fn lifecycle_events_and_reports_in_order() {
    let (mut device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    assert!(!device.is_started());
    kernel.event(event_type::START, |_| {});
    kernel.event(event_type::OPEN, |_| {});
    let mut report = [0u8; 64];
    report[..4].copy_from_slice(&[1, 2, 3, 4]);
    kernel.output(&report);
    kernel.event(event_type::CLOSE, |_| {});
    kernel.event(event_type::STOP, |_| {});
    assert_eq!(next(&mut device), UhidIncoming::Start);
    assert!(device.is_started());
    assert_eq!(next(&mut device), UhidIncoming::Open);
    assert_eq!(next(&mut device), UhidIncoming::Report(report));
    assert_eq!(next(&mut device), UhidIncoming::Close);
    assert_eq!(next(&mut device), UhidIncoming::Stop);
    assert!(!device.is_started());
}

#[test]
fn recv_times_out_with_none() {
    let (mut device, _kernel) = pair(&UhidConfig::default());
    let start = Instant::now();
    assert_eq!(
        device.recv(Some(Duration::from_millis(30))).expect("recv"),
        None
    );
    assert!(start.elapsed() >= Duration::from_millis(25));
    assert_eq!(device.recv(Some(Duration::ZERO)).expect("recv"), None);
}

#[test]
fn send_writes_input2_with_64_bytes() {
    let (mut device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    let report = [0x5a; 64];
    device.send(&report).expect("send");
    let input = kernel.read_event();
    assert_eq!(input.len(), EVENT_LEN);
    assert_eq!(input[..4], event_type::INPUT2.to_le_bytes());
    assert_eq!(input[4..6], 64u16.to_le_bytes());
    assert_eq!(input[6..70], report);
}

#[test]
fn get_and_set_report_are_answered_eio() {
    let (mut device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    kernel.event(event_type::GET_REPORT, |event| {
        event[4..8].copy_from_slice(&41u32.to_le_bytes());
    });
    assert_eq!(next(&mut device), UhidIncoming::Other);
    let reply = kernel.read_event();
    assert_eq!(reply[..4], event_type::GET_REPORT_REPLY.to_le_bytes());
    assert_eq!(reply[4..10], [41, 0, 0, 0, 5, 0]);
    kernel.event(event_type::SET_REPORT, |event| {
        event[4..8].copy_from_slice(&42u32.to_le_bytes());
    });
    assert_eq!(next(&mut device), UhidIncoming::Other);
    let reply = kernel.read_event();
    assert_eq!(reply[..4], event_type::SET_REPORT_REPLY.to_le_bytes());
    assert_eq!(reply[4..10], [42, 0, 0, 0, 5, 0]);
}

#[test]
fn destroy_and_drop_write_uhid_destroy_once() {
    let (device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    device.destroy().expect("destroy");
    assert_eq!(kernel.read_event()[..4], event_type::DESTROY.to_le_bytes());
    kernel.socket.set_nonblocking(true).expect("nonblocking");
    assert!(
        kernel.socket.recv(&mut [0u8; 16]).is_err(),
        "only one DESTROY"
    );

    let (device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    drop(device);
    assert_eq!(kernel.read_event()[..4], event_type::DESTROY.to_le_bytes());
}

#[test]
fn missing_device_node_says_how_to_fix_it() {
    let error = UhidDevice::create(Path::new("/nonexistent/uhid"), &UhidConfig::default())
        .expect_err("missing");
    assert!(matches!(error, UhidError::Missing { .. }));
    assert!(error.to_string().contains("modprobe uhid"), "{error}");
}

#[test]
fn kernel_going_away_is_an_error_not_a_spin() {
    let (mut device, kernel) = pair(&UhidConfig::default());
    drop(kernel);
    // A datagram socket whose peer closed reads as EOF or an error; either
    // way recv must not report a quiet timeout forever.
    let outcome = device.recv(Some(Duration::from_millis(50)));
    assert!(!matches!(outcome, Ok(Some(_))), "{outcome:?}");
}

/// A host's INIT travels through the fake kernel into HidDevice, and the
/// answer back out as INPUT2: the backend only moves reports.
#[test]
fn ctaphid_init_round_trip_through_the_backend() {
    let (mut device, kernel) = pair(&UhidConfig::default());
    kernel.read_event();
    let mut hid = HidDevice::new(DeviceConfig::default());
    let init = ctaphid::fragment(BROADCAST_CID, Command::Init, b"nonce123").expect("frame");
    kernel.output(&init[0]);
    let UhidIncoming::Report(report) = next(&mut device) else {
        panic!("expected a report");
    };
    hid.handle_report(&report, Instant::now());
    while let Some(answer) = hid.poll_report() {
        device.send(&answer).expect("send");
    }
    let input = kernel.read_event();
    assert_eq!(input[6..10], BROADCAST_CID.to_be_bytes());
    assert_eq!(input[10], 0x80 | 0x06);
    assert_eq!(&input[13..21], b"nonce123");
}
