//! Serving a [`KeyDevice`] on Linux UHID: a real hidraw security key.
//!
//! [`run`] creates the device on `/dev/uhid`, moves reports until `stop` is
//! set (the binary sets it on SIGINT/SIGTERM), and destroys the device, also
//! when serving fails. [`serve`] is the loop alone, the sibling of
//! [`crate::udp::serve`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use softkey_authenticator::store::Store;
use softkey_transport::uhid::UhidIncoming;
pub use softkey_transport::uhid::{DEFAULT_PATH, UhidConfig, UhidDevice, UhidError};

use crate::runtime::{KeyDevice, PowerCycle};

/// Longest sleep between checks of the stop flag.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Creates a UHID device at `path` with `config`, serves `device` on it
/// until `stop` is set, then removes it.
///
/// Errors say how to fix a missing or inaccessible `/dev/uhid`.
pub fn run<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static>(
    device: &mut KeyDevice<S, R>,
    path: &Path,
    config: &UhidConfig,
    stop: &AtomicBool,
) -> Result<(), UhidError> {
    let mut uhid = UhidDevice::create(path, config)?;
    tracing::info!(
        path = %path.display(),
        name = %config.name,
        vendor = format_args!("{:04x}", config.vendor),
        product = format_args!("{:04x}", config.product),
        "UHID security key created"
    );
    // On error the device is dropped, which destroys it as well.
    serve(device, &mut uhid, stop)?;
    uhid.destroy()?;
    tracing::info!("UHID security key removed");
    Ok(())
}

/// Moves reports between `uhid` and `device` until `stop` is set. A power
/// cycle of `device` is from now on an unplug ([`PowerCycle::Unplug`]).
pub fn serve<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static>(
    device: &mut KeyDevice<S, R>,
    uhid: &mut UhidDevice,
    stop: &AtomicBool,
) -> Result<(), UhidError> {
    // A power cycle of a hidraw device is an unplug: its channels go too.
    device.set_power_cycle(PowerCycle::Unplug);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = device
            .poll_timeout()
            .map_or(MAX_WAIT, |at| at.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), MAX_WAIT);
        match uhid.recv(Some(wait)) {
            Ok(Some(UhidIncoming::Report(report))) => {
                device.handle_report(&report, Instant::now());
            }
            Ok(Some(UhidIncoming::Start)) => tracing::info!("hidraw device ready (UHID_START)"),
            Ok(Some(UhidIncoming::Stop)) => tracing::info!("hidraw device stopped (UHID_STOP)"),
            Ok(Some(UhidIncoming::Open)) => tracing::debug!("a host program opened the key"),
            Ok(Some(UhidIncoming::Close)) => tracing::debug!("the last host program closed it"),
            Ok(Some(UhidIncoming::Other) | None) => {}
            Err(UhidError::Malformed(error)) => tracing::warn!(%error, "ignoring UHID event"),
            Err(error) => return Err(error),
        }
        device.handle_timeout(Instant::now());
        while let Some(report) = device.poll_report() {
            // The kernel refuses input before UHID_START; a host that is not
            // listening loses nothing it asked for.
            if let Err(error) = uhid.send(&report) {
                tracing::debug!(%error, "input report not delivered");
            }
        }
    }
    Ok(())
}

/// The hidraw node (`/dev/hidrawN`) of the HID device whose `HID_UNIQ` is
/// `uniq`, found through `sys_class` (`/sys/class/hidraw`).
pub fn find_hidraw(sys_class: &Path, uniq: &str) -> Option<std::path::PathBuf> {
    let wanted = format!("HID_UNIQ={uniq}");
    let entries = std::fs::read_dir(sys_class).ok()?;
    entries.flatten().find_map(|entry| {
        let uevent = std::fs::read_to_string(entry.path().join("device/uevent")).ok()?;
        uevent
            .lines()
            .any(|line| line == wanted)
            .then(|| Path::new("/dev").join(entry.file_name()))
    })
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Arc;

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use softkey_authenticator::secret::Secret32;
    use softkey_authenticator::store::MemoryStore;
    use softkey_authenticator::{Authenticator, Config};
    use softkey_transport::ctaphid::{self, BROADCAST_CID, Command};
    use softkey_transport::uhid::wire::{EVENT_LEN, event_type};
    use softkey_transport::{DeviceConfig, HidDevice};

    use super::*;
    use crate::presence::danger;

    #[test]
    fn hidraw_nodes_are_found_by_their_uniq() {
        let dir = tempfile::tempdir().unwrap();
        for (node, uniq) in [("hidraw0", "other"), ("hidraw3", "softkey-sim-ab12")] {
            let device = dir.path().join(node).join("device");
            std::fs::create_dir_all(&device).unwrap();
            std::fs::write(
                device.join("uevent"),
                format!("HID_ID=0003:00001209:00005EED\nHID_NAME=softkey\nHID_UNIQ={uniq}\n"),
            )
            .unwrap();
        }
        assert_eq!(
            find_hidraw(dir.path(), "softkey-sim-ab12"),
            Some(std::path::PathBuf::from("/dev/hidraw3"))
        );
        assert_eq!(find_hidraw(dir.path(), "softkey-sim-ab"), None);
        assert_eq!(find_hidraw(&dir.path().join("missing"), "x"), None);
    }

    /// Stands in for the kernel: hidraw writes become UHID_OUTPUT events,
    /// UHID_INPUT2 events become what hidraw reads.
    struct FakeKernel(UnixDatagram);

    impl FakeKernel {
        fn event(&self) -> Vec<u8> {
            let mut buffer = vec![0u8; EVENT_LEN];
            let len = self.0.recv(&mut buffer).expect("event from the device");
            buffer.truncate(len);
            buffer
        }

        fn write_report(&self, report: &[u8; 64]) {
            let mut event = vec![0u8; EVENT_LEN];
            event[..4].copy_from_slice(&event_type::OUTPUT.to_le_bytes());
            event[5..69].copy_from_slice(report);
            event[4100..4102].copy_from_slice(&65u16.to_le_bytes());
            self.0.send(&event).expect("output event");
        }

        /// Next input report, skipping keepalives.
        fn read_report(&self) -> [u8; 64] {
            loop {
                let event = self.event();
                assert_eq!(event[..4], event_type::INPUT2.to_le_bytes());
                let report: [u8; 64] = event[6..70].try_into().expect("64 bytes");
                if report[4] != 0x80 | 0x3b {
                    return report;
                }
            }
        }

        fn message(&self, cid: u32, command: Command, payload: &[u8]) -> Vec<u8> {
            for report in ctaphid::fragment(cid, command, payload).expect("frame") {
                self.write_report(&report);
            }
            let first = self.read_report();
            assert_eq!(first[..4], cid.to_be_bytes());
            assert_eq!(first[4], 0x80 | command.code(), "reply command");
            let len = usize::from(u16::from_be_bytes([first[5], first[6]]));
            let mut message = first[7..].to_vec();
            while message.len() < len {
                message.extend_from_slice(&self.read_report()[5..]);
            }
            message.truncate(len);
            message
        }
    }

    fn key_device() -> KeyDevice<MemoryStore, StdRng> {
        let mut rng = StdRng::seed_from_u64(7);
        let store = MemoryStore::new(Secret32::random(&mut rng));
        let auth = Authenticator::new(Config::default(), store, rng, Instant::now());
        KeyDevice::new(
            HidDevice::new(DeviceConfig::default()),
            auth,
            Box::new(danger::AutoApprove),
            Duration::from_secs(5),
        )
    }

    #[test]
    fn get_info_over_a_fake_kernel_then_clean_destroy() {
        let (ours, theirs) = UnixDatagram::pair().expect("socket pair");
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut uhid =
            UhidDevice::create_on(OwnedFd::from(ours), &UhidConfig::default()).expect("create");
        let mut device = key_device();
        let stop = Arc::new(AtomicBool::new(false));
        let host = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let kernel = FakeKernel(theirs);
                assert_eq!(kernel.event()[..4], event_type::CREATE2.to_le_bytes());
                let init = kernel.message(BROADCAST_CID, Command::Init, b"12345678");
                assert_eq!(&init[..8], b"12345678");
                let cid = u32::from_be_bytes(init[8..12].try_into().expect("cid"));
                let info = kernel.message(cid, Command::Cbor, &[0x04]);
                assert_eq!(info[0], 0x00, "getInfo status OK");
                stop.store(true, Ordering::Relaxed);
                kernel
            }
        });
        assert_eq!(device.power_cycle_kind(), PowerCycle::KeepChannels);
        serve(&mut device, &mut uhid, &stop).expect("serve");
        assert_eq!(
            device.power_cycle_kind(),
            PowerCycle::Unplug,
            "on UHID a power cycle is an unplug"
        );
        uhid.destroy().expect("destroy");
        let kernel = host.join().expect("host thread");
        assert_eq!(kernel.event()[..4], event_type::DESTROY.to_le_bytes());
    }

    #[test]
    fn missing_uhid_is_a_clear_error() {
        let mut device = key_device();
        let error = run(
            &mut device,
            Path::new("/nonexistent/uhid"),
            &UhidConfig::default(),
            &AtomicBool::new(false),
        )
        .expect_err("no such device");
        assert!(error.to_string().contains("modprobe uhid"), "{error}");
    }
}
