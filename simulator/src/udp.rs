//! Serving a [`KeyDevice`] on the loopback UDP convention of CTAP test tools.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use softkey_authenticator::store::Store;
use softkey_transport::udp::{UdpDevice, UdpIncoming};

use crate::runtime::KeyDevice;

/// Longest sleep between checks of the stop flag.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Moves reports between `socket` and `device` until `stop` is set.
pub fn serve<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static>(
    device: &mut KeyDevice<S, R>,
    socket: &mut UdpDevice,
    stop: &AtomicBool,
) -> io::Result<()> {
    // The reports of one turn, sent together (one system call per host);
    // kept across turns so that a reply allocates nothing here.
    let mut outgoing = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = device
            .poll_timeout()
            .map_or(MAX_WAIT, |at| at.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), MAX_WAIT);
        match socket.recv(Some(wait)) {
            Ok(Some(UdpIncoming::Report(report))) => device.handle_report(&report, Instant::now()),
            Ok(Some(UdpIncoming::PowerCycle)) => device.power_cycle(Instant::now()),
            Ok(None) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                // A previous reply went to a host that has gone: not our problem.
                tracing::debug!(%error, "host port closed");
            }
            Err(error) => return Err(error),
        }
        device.handle_timeout(Instant::now());
        outgoing.clear();
        outgoing.extend(std::iter::from_fn(|| device.poll_report()));
        if let Err(error) = socket.send_all(&outgoing) {
            tracing::debug!(%error, "report not delivered");
        }
    }
    Ok(())
}
