//! A CTAPHID device on loopback UDP whose "application" echoes requests:
//! the smallest complete runtime around [`HidDevice`], and a target for
//! checking the framing with independent clients: `python_fido2_udp.py`
//! beside this file drives it with python-fido2.
//!
//! CBOR and MSG requests are answered with `0x00` followed by the request.
//! A CBOR request starting with `0xff` is answered after 500 ms with
//! UPNEEDED keepalives meanwhile, so keepalives and CANCEL can be observed.
//!
//! ```text
//! cargo run -p softkey-transport --example udp_echo_device [127.0.0.1:8111]
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use softkey_transport::udp::{DEFAULT_DEVICE_ADDR, UdpDevice, UdpIncoming};
use softkey_transport::{DeviceConfig, DeviceEvent, HidDevice, KeepaliveStatus, RequestId};

/// How long a request starting with `0xff` waits for its simulated touch.
const SLOW_REQUEST: Duration = Duration::from_millis(500);

fn main() -> io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?,
        None => DEFAULT_DEVICE_ADDR,
    };
    let mut udp = UdpDevice::bind(addr)?;
    eprintln!("CTAPHID echo device on {}", udp.local_addr()?);
    let mut device = HidDevice::new(DeviceConfig {
        cid_seed: rand::random(),
        ..DeviceConfig::default()
    });
    // The slow request and when its answer is due.
    let mut pending: Option<(RequestId, Instant, Vec<u8>)> = None;

    loop {
        let next = [device.poll_timeout(), pending.as_ref().map(|p| p.1)]
            .into_iter()
            .flatten()
            .min();
        let wait = next.map(|due| due.saturating_duration_since(Instant::now()));
        match udp.recv(wait)? {
            Some(UdpIncoming::Report(report)) => device.handle_report(&report, Instant::now()),
            Some(UdpIncoming::PowerCycle) => {
                device.power_cycle();
                pending = None;
            }
            None => {}
        }
        let now = Instant::now();
        device.handle_timeout(now);
        while let Some(event) = device.poll_event() {
            match event {
                DeviceEvent::Request { payload, kind, .. } => {
                    let id = device
                        .in_flight_request()
                        .expect("events are drained after every call, so it is in flight");
                    let answer = [&[0x00][..], &payload].concat();
                    if payload.first() == Some(&0xff) {
                        device.set_keepalive(KeepaliveStatus::UpNeeded);
                        pending = Some((id, now + SLOW_REQUEST, answer));
                    } else {
                        eprintln!("{kind:?} request of {} bytes", payload.len());
                        device.respond_to(id, answer, now);
                    }
                }
                DeviceEvent::Cancel { channel } => {
                    eprintln!("cancel on {channel:08x}");
                    if let Some((id, _, _)) = pending.take() {
                        // CTAP2_ERR_KEEPALIVE_CANCEL
                        device.respond_to(id, vec![0x2d], now);
                    }
                }
                DeviceEvent::Wink { channel } => eprintln!("wink on {channel:08x}"),
            }
        }
        if let Some((id, _, answer)) = pending.take_if(|p| p.1 <= now) {
            device.respond_to(id, answer, now);
        }
        while let Some(report) = device.poll_report() {
            udp.send(&report)?;
        }
    }
}
