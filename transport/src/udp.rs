//! Raw CTAPHID reports over loopback UDP.
//!
//! The convention of python-fido2-based test suites (and the SoloKeys and
//! OpenSK simulators): the device listens on `127.0.0.1:8111`; each datagram
//! is one raw 64-byte report without a report-ID byte; the device answers
//! each report to the address that last sent on its channel (test tools send
//! from `127.0.0.1:7112`), so several hosts on their own sockets and channels
//! each get their own answers, as hosts sharing a HID device do. A datagram equal to [`POWER_CYCLE_MAGIC`] asks the
//! device to simulate a power cycle and gets no reply. Nothing re-enumerates
//! over UDP, so clients go on using their channel afterwards: a device on
//! this backend keeps its allocated channel IDs across the power cycle
//! ([`HidDevice::power_cycle_keeping_channels`](crate::HidDevice::power_cycle_keeping_channels)).
//!
//! These backends only move reports; framing lives in [`crate::HidDevice`]
//! and [`crate::host`].

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::ctaphid::REPORT_LEN;
use crate::host::PacketIo;

/// Where the device listens by default.
pub const DEFAULT_DEVICE_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8111);

/// The datagram that means "simulate a power cycle".
pub const POWER_CYCLE_MAGIC: [u8; REPORT_LEN] = [
    0xac, 0x10, 0x52, 0xca, 0x95, 0xe5, 0x69, 0xde, 0x69, 0xe0, 0x2e, 0xbf, 0xf3, 0x33, 0x48, 0x5f,
    0x13, 0xf9, 0xb2, 0xda, 0x34, 0xc5, 0xa8, 0xa3, 0x40, 0x52, 0x66, 0x97, 0xa9, 0xab, 0x2e, 0x0b,
    0x39, 0x4d, 0x8d, 0x04, 0x97, 0x3c, 0x13, 0x40, 0x05, 0xbe, 0x1a, 0x01, 0x40, 0xbf, 0xf6, 0x04,
    0x5b, 0xb2, 0x6e, 0xb7, 0x7a, 0x73, 0xea, 0xa4, 0x78, 0x13, 0xf6, 0xb4, 0x9a, 0x72, 0x50, 0xdc,
];

/// What the device received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpIncoming {
    /// One output report from the host.
    Report([u8; REPORT_LEN]),
    /// The power-cycle magic.
    PowerCycle,
}

/// How many channels the device remembers a host address for; past this the
/// table starts afresh (CTAPHID itself keeps far fewer channels).
const MAX_ROUTES: usize = 1024;

/// Device side: a loopback UDP socket that receives and sends reports.
#[derive(Debug)]
pub struct UdpDevice {
    socket: ReportSocket,
    /// The last sender of any report: where a report on a channel nobody
    /// has sent on goes.
    peer: Option<SocketAddr>,
    /// Per channel ID, the address that last sent a report on it.
    routes: HashMap<u32, SocketAddr>,
}

impl UdpDevice {
    /// Listen on `addr`, which must be a loopback address: the simulator
    /// accepts commands from anyone who can reach the socket.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to expose a CTAPHID device on non-loopback address {addr}"),
            ));
        }
        let socket = ReportSocket::new(UdpSocket::bind(addr)?);
        tracing::debug!(%addr, "UDP device listening");
        Ok(Self {
            socket,
            peer: None,
            routes: HashMap::new(),
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.socket.local_addr()
    }

    /// The address replies go to, once a report has arrived.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Wait for the next datagram: up to `timeout`, or forever with `None`.
    /// `Ok(None)` on timeout. Datagrams that are not 64 bytes are skipped.
    pub fn recv(&mut self, timeout: Option<Duration>) -> io::Result<Option<UdpIncoming>> {
        let Some((report, from)) = self.socket.recv_report(timeout)? else {
            return Ok(None);
        };
        Ok(Some(self.accept(report, from)))
    }

    /// The next datagram if one is waiting, without blocking (`Ok(None)`
    /// otherwise): one `recvfrom(2)` with `MSG_DONTWAIT`.
    pub fn try_recv(&mut self) -> io::Result<Option<UdpIncoming>> {
        let Some((report, from)) = self.socket.try_recv_report()? else {
            return Ok(None);
        };
        Ok(Some(self.accept(report, from)))
    }

    /// Notes where `report`'s channel is answered, and says what it is.
    fn accept(&mut self, report: [u8; REPORT_LEN], from: SocketAddr) -> UdpIncoming {
        self.peer = Some(from);
        if report == POWER_CYCLE_MAGIC {
            return UdpIncoming::PowerCycle;
        }
        if self.routes.len() >= MAX_ROUTES && !self.routes.contains_key(&channel_of(&report)) {
            self.routes.clear();
        }
        self.routes.insert(channel_of(&report), from);
        UdpIncoming::Report(report)
    }

    /// Send one input report to the host that last sent on its channel (or,
    /// for a channel nobody has sent on, to the last sender).
    pub fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
        let peer = self.destination(report)?;
        self.socket.socket.send_to(report, peer)?;
        Ok(())
    }

    /// Sends `reports` in order, each as [`send`](Self::send) would, with
    /// one `sendmmsg(2)` per run of reports to the same host (a reply of
    /// several reports is one system call, not one per report). When a run
    /// fails, the rest of that run is not sent, later runs are; the first
    /// error is returned.
    pub fn send_all(&mut self, reports: &[[u8; REPORT_LEN]]) -> io::Result<()> {
        let mut first_error = None;
        for (peer, batch) in self.runs(reports) {
            if let Err(error) = peer.and_then(|peer| send_batch(&self.socket.socket, peer, batch)) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `reports` cut into runs for one host each (at most [`MAX_BATCH`]
    /// long), with the host's address, in order.
    fn runs<'r>(
        &self,
        reports: &'r [[u8; REPORT_LEN]],
    ) -> impl Iterator<Item = (io::Result<SocketAddr>, &'r [[u8; REPORT_LEN]])> {
        let mut rest = reports;
        std::iter::from_fn(move || {
            let first = rest.first()?;
            let peer = self.destination(first);
            let run = rest
                .iter()
                .take(MAX_BATCH)
                .take_while(|report| same_peer(&self.destination(report), &peer))
                .count();
            let (batch, after) = rest.split_at(run);
            rest = after;
            Some((peer, batch))
        })
    }

    /// What [`send_all`](Self::send_all) would send, addressed now, for a
    /// [`UdpSender`] to send later (from another thread). Address before
    /// receiving anything more: a datagram received moves its channel's
    /// route (a broadcast INIT, the broadcast channel's). Reports whose
    /// host is unknown are dropped, as `send_all` would fail to send them.
    pub fn address(&self, reports: &[[u8; REPORT_LEN]]) -> Addressed {
        let mut addressed = Addressed::default();
        for (peer, batch) in self.runs(reports) {
            match peer {
                Ok(peer) => addressed.runs.push((peer, batch.len())),
                Err(error) => {
                    tracing::debug!(%error, "report not addressed");
                    continue;
                }
            }
            batch
                .iter()
                .for_each(|report| addressed.reports.push(*report));
        }
        addressed
    }

    /// Sends reports addressed by [`address`](Self::address), as
    /// [`UdpSender::send`] would.
    pub fn send_addressed(&self, addressed: &Addressed) -> io::Result<()> {
        send_addressed(&self.socket.socket, addressed)
    }

    /// A handle that sends on this device's socket from another thread.
    pub fn sender(&self) -> io::Result<UdpSender> {
        Ok(UdpSender {
            socket: self.socket.socket.try_clone()?,
        })
    }

    /// Where a report goes: the host of its channel, else the last sender.
    fn destination(&self, report: &[u8; REPORT_LEN]) -> io::Result<SocketAddr> {
        let routed = self.routes.get(&channel_of(report)).copied();
        routed.or(self.peer).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "no host has sent a report yet")
        })
    }
}

/// Whether two destinations are the same host (two failures count as one
/// run: neither can be sent).
fn same_peer(a: &io::Result<SocketAddr>, b: &io::Result<SocketAddr>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// Most reports handed to one `sendmmsg(2)` (a getAssertion reply is 3–5).
const MAX_BATCH: usize = 16;

/// Sends `batch` (at most [`MAX_BATCH`] reports) to `peer`, one datagram
/// per report, in as few `sendmmsg(2)` calls as the kernel allows.
fn send_batch(socket: &UdpSocket, peer: SocketAddr, batch: &[[u8; REPORT_LEN]]) -> io::Result<()> {
    use rustix::net::addr::SocketAddrArg as _;
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};
    let address = peer.as_any();
    let iovs: [[io::IoSlice<'_>; 1]; MAX_BATCH] =
        std::array::from_fn(|i| [io::IoSlice::new(batch.get(i).map_or(&[][..], |r| &r[..]))]);
    let mut controls: [SendAncillaryBuffer<'_, '_, '_>; MAX_BATCH] = Default::default();
    let mut control = controls.iter_mut();
    let mut messages: [MMsgHdr<'_>; MAX_BATCH] = std::array::from_fn(|i| {
        let control = control.next().expect("as many controls as messages");
        MMsgHdr::new_with_addr(&address, &iovs[i], control)
    });
    let mut sent = 0;
    while sent < batch.len() {
        // Fewer sent than asked: the next one failed; trying it again
        // reports the error.
        let count =
            rustix::net::sendmmsg(socket, &mut messages[sent..batch.len()], SendFlags::empty())?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "sendmmsg sent nothing",
            ));
        }
        sent += count;
    }
    Ok(())
}

/// Reports addressed by [`UdpDevice::address`], in order: wiped when
/// dropped (a reply may carry secrets).
#[derive(Default)]
pub struct Addressed {
    /// (host, how many of the next reports go there)
    runs: Vec<(SocketAddr, usize)>,
    reports: zeroize::Zeroizing<Vec<[u8; REPORT_LEN]>>,
}

impl Addressed {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }
}

impl std::fmt::Debug for Addressed {
    /// The counts only: the reports may carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addressed")
            .field("runs", &self.runs.len())
            .field("reports", &self.reports.len())
            .finish()
    }
}

/// Sends [`Addressed`] reports on a [`UdpDevice`]'s socket (a clone of it),
/// so that a thread other than the one receiving can send.
#[derive(Debug)]
pub struct UdpSender {
    socket: UdpSocket,
}

impl UdpSender {
    /// Sends each run with `sendmmsg(2)`; a failed run is skipped (and the
    /// first error returned), as in [`UdpDevice::send_all`].
    pub fn send(&self, addressed: &Addressed) -> io::Result<()> {
        send_addressed(&self.socket, addressed)
    }
}

fn send_addressed(socket: &UdpSocket, addressed: &Addressed) -> io::Result<()> {
    let mut first_error = None;
    let mut rest = &addressed.reports[..];
    for &(peer, len) in &addressed.runs {
        let (batch, after) = rest.split_at(len);
        rest = after;
        if let Err(error) = send_batch(socket, peer, batch) {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

impl std::os::fd::AsFd for UdpDevice {
    /// For waiting on the socket beside other sources (it is readable when
    /// [`UdpDevice::recv`] has a datagram).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.socket.as_fd()
    }
}

/// Host side: a UDP socket connected to a device.
#[derive(Debug)]
pub struct UdpHost {
    socket: ReportSocket,
}

impl UdpHost {
    /// Bind an ephemeral loopback port and talk to `device`.
    pub fn connect(device: SocketAddr) -> io::Result<Self> {
        Self::connect_from(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0), device)
    }

    /// Bind `local` (e.g. `127.0.0.1:7112`) and talk to `device`.
    pub fn connect_from(local: SocketAddr, device: SocketAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(local)?;
        socket.connect(device)?;
        Ok(Self {
            socket: ReportSocket::new(socket),
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.socket.local_addr()
    }

    /// Ask the device to simulate a power cycle (no reply).
    pub fn power_cycle(&mut self) -> io::Result<()> {
        self.socket.socket.send(&POWER_CYCLE_MAGIC)?;
        Ok(())
    }
}

impl PacketIo for UdpHost {
    fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
        self.socket.socket.send(report)?;
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
        Ok(self
            .socket
            .recv_report(Some(timeout))?
            .map(|(report, _)| report))
    }
}

/// The channel ID a report belongs to (its first four bytes).
fn channel_of(report: &[u8; REPORT_LEN]) -> u32 {
    u32::from_be_bytes([report[0], report[1], report[2], report[3]])
}

/// A UDP socket that receives whole reports, remembering the read timeout
/// it last set: the timeout is usually the same from one report to the next,
/// and setting it again would cost a system call per report.
#[derive(Debug)]
struct ReportSocket {
    socket: UdpSocket,
    /// What `SO_RCVTIMEO` is set to (`None`: blocking forever).
    read_timeout: Option<Duration>,
}

impl ReportSocket {
    fn new(socket: UdpSocket) -> Self {
        Self {
            socket,
            read_timeout: None,
        }
    }

    /// The next 64-byte datagram and its sender if one is waiting, without
    /// blocking; datagrams of other lengths are skipped.
    fn try_recv_report(&self) -> io::Result<Option<([u8; REPORT_LEN], SocketAddr)>> {
        use rustix::net::RecvFlags;
        let mut buffer = [0u8; REPORT_LEN + 1];
        loop {
            let (_, len, from) =
                match rustix::net::recvfrom(&self.socket, &mut buffer[..], RecvFlags::DONTWAIT) {
                    Ok(received) => received,
                    Err(rustix::io::Errno::AGAIN) => return Ok(None),
                    Err(errno) => return Err(errno.into()),
                };
            let from = from
                .and_then(|from| SocketAddr::try_from(from).ok())
                .ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
            if len == REPORT_LEN {
                let mut report = [0u8; REPORT_LEN];
                report.copy_from_slice(&buffer[..REPORT_LEN]);
                return Ok(Some((report, from)));
            }
            tracing::debug!(len, %from, "ignoring datagram that is not one report");
        }
    }

    /// The next 64-byte datagram and its sender, waiting up to `timeout` in
    /// all (`None`: forever). Datagrams of other lengths are skipped.
    fn recv_report(
        &mut self,
        timeout: Option<Duration>,
    ) -> io::Result<Option<([u8; REPORT_LEN], SocketAddr)>> {
        // A zero timeout means "block forever" to the OS: poll briefly.
        let floor = |wait: Duration| wait.max(Duration::from_millis(1));
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        // The first wait is the whole timeout (the value set last time, as a
        // rule); only a skipped datagram makes a later wait shorter.
        let mut wait = timeout.map(floor);
        // One byte more than a report, to notice longer datagrams.
        let mut buffer = [0u8; REPORT_LEN + 1];
        loop {
            if self.read_timeout != wait {
                self.socket.set_read_timeout(wait)?;
                self.read_timeout = wait;
            }
            let (len, from) = match self.socket.recv_from(&mut buffer) {
                Ok(received) => received,
                Err(error) if is_timeout(&error) => return Ok(None),
                Err(error) => return Err(error),
            };
            if len == REPORT_LEN {
                let mut report = [0u8; REPORT_LEN];
                report.copy_from_slice(&buffer[..REPORT_LEN]);
                return Ok(Some((report, from)));
            }
            tracing::debug!(len, %from, "ignoring datagram that is not one report");
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                wait = Some(floor(left));
            }
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceConfig, HidDevice, HostClient};

    #[test]
    fn magic_matches_the_published_hex() {
        let hex = "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b\
                   394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(bytes, POWER_CYCLE_MAGIC);
    }

    #[test]
    fn refuses_non_loopback_bind() {
        let error = UdpDevice::bind("0.0.0.0:0".parse().expect("addr")).expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn host_skips_odd_datagrams_and_times_out() {
        let fake_device = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut host = UdpHost::connect(fake_device.local_addr().expect("addr")).expect("connect");
        let host_addr = host.local_addr().expect("addr");
        fake_device.send_to(&[1; 100], host_addr).expect("send");
        fake_device.send_to(&[2; 63], host_addr).expect("send");
        fake_device.send_to(&[3; 64], host_addr).expect("send");
        let received = host.recv(Duration::from_secs(2)).expect("recv");
        assert_eq!(received, Some([3; 64]));
        assert_eq!(host.recv(Duration::ZERO).expect("recv"), None);
        assert_eq!(host.recv(Duration::from_millis(10)).expect("recv"), None);
    }

    #[test]
    fn init_ping_and_power_cycle_over_loopback() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        let mut device = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let device_addr = device.local_addr().expect("addr");
        let done = Arc::new(AtomicBool::new(false));
        let serve = std::thread::spawn({
            let done = Arc::clone(&done);
            move || {
                let mut hid = HidDevice::new(DeviceConfig::default());
                let mut power_cycles = 0;
                while !done.load(Ordering::Relaxed) {
                    let incoming = device
                        .recv(Some(Duration::from_millis(20)))
                        .expect("device recv");
                    match incoming {
                        None => continue,
                        Some(UdpIncoming::PowerCycle) => {
                            power_cycles += 1;
                            hid.power_cycle_keeping_channels();
                        }
                        Some(UdpIncoming::Report(report)) => {
                            hid.handle_report(&report, Instant::now());
                        }
                    }
                    while let Some(report) = hid.poll_report() {
                        device.send(&report).expect("device send");
                    }
                }
                power_cycles
            }
        });

        let host = UdpHost::connect(device_addr).expect("connect");
        // A datagram that is not one report is ignored by the device.
        host.socket
            .socket
            .send(&[0x01; 10])
            .expect("send short datagram");
        let mut client = HostClient::new(host);
        client.set_timeout(Duration::from_secs(2));
        let first = client.init().expect("init");
        assert_eq!(client.ping(b"over udp").expect("ping"), b"over udp");

        client.io_mut().power_cycle().expect("power cycle");
        // The client goes on using its channel after the power cycle.
        assert_eq!(client.ping(b"same channel").expect("ping"), b"same channel");
        assert_eq!(client.channel(), first.cid);
        let second = client.init().expect("re-init");
        assert_ne!(first.cid, second.cid);
        assert_eq!(client.ping(&[0x55; 200]).expect("ping"), vec![0x55; 200]);

        done.store(true, Ordering::Relaxed);
        assert_eq!(serve.join().expect("device thread"), 1);
    }

    #[test]
    fn replies_go_to_the_host_of_their_channel_not_the_last_sender() {
        // Two hosts on their own sockets and channels. Host A asks; before the
        // device answers, host B sends on its channel. A's answer must reach A.
        let mut device = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let device_addr = device.local_addr().expect("addr");
        let mut a = UdpHost::connect(device_addr).expect("connect a");
        let mut b = UdpHost::connect(device_addr).expect("connect b");
        a.send(&on_channel(0x0a0a_0a0a, 1)).expect("a sends");
        assert!(
            device
                .recv(Some(Duration::from_secs(2)))
                .expect("recv")
                .is_some()
        );
        b.send(&on_channel(0x0b0b_0b0b, 2)).expect("b sends");
        assert!(
            device
                .recv(Some(Duration::from_secs(2)))
                .expect("recv")
                .is_some()
        );

        device.send(&on_channel(0x0a0a_0a0a, 3)).expect("answer a");
        device.send(&on_channel(0x0b0b_0b0b, 4)).expect("answer b");
        assert_eq!(
            a.recv(Duration::from_secs(2)).expect("a recv"),
            Some(on_channel(0x0a0a_0a0a, 3))
        );
        assert_eq!(
            b.recv(Duration::from_secs(2)).expect("b recv"),
            Some(on_channel(0x0b0b_0b0b, 4))
        );
        assert_eq!(a.recv(Duration::from_millis(20)).expect("a recv"), None);
        assert_eq!(b.recv(Duration::from_millis(20)).expect("b recv"), None);

        // A channel nobody has sent on is answered to the last sender.
        device
            .send(&on_channel(0x0c0c_0c0c, 5))
            .expect("answer unknown");
        assert_eq!(
            b.recv(Duration::from_secs(2)).expect("b recv"),
            Some(on_channel(0x0c0c_0c0c, 5))
        );
    }

    #[test]
    fn send_all_sends_each_report_to_its_channels_host_in_order() {
        let mut device = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        // Before any host has sent: nowhere to send, and it says so.
        let error = device
            .send_all(&[on_channel(1, 1)])
            .expect_err("no host yet");
        assert_eq!(error.kind(), io::ErrorKind::NotConnected);
        runs_reach_their_hosts(device, |device, reports| {
            device.send_all(reports).expect("send all");
        });
    }

    /// A report of 64 `fill` bytes on channel `cid`.
    fn on_channel(cid: u32, fill: u8) -> [u8; REPORT_LEN] {
        let mut report = [fill; REPORT_LEN];
        report[..4].copy_from_slice(&cid.to_be_bytes());
        report
    }

    /// Hosts A and B send on their channels; `send` sends runs of reports
    /// for A, then B, then A again (more than one batch), and each host
    /// must receive exactly its own, in order.
    fn runs_reach_their_hosts(
        mut device: UdpDevice,
        send: impl FnOnce(&mut UdpDevice, &[[u8; REPORT_LEN]]),
    ) {
        let device_addr = device.local_addr().expect("addr");
        let mut a = UdpHost::connect(device_addr).expect("connect a");
        let mut b = UdpHost::connect(device_addr).expect("connect b");
        for (host, cid) in [(&mut a, 0x0a0a_0a0a), (&mut b, 0x0b0b_0b0b)] {
            host.send(&on_channel(cid, 0)).expect("send");
            let received = device.recv(Some(Duration::from_secs(2))).expect("recv");
            assert!(received.is_some());
        }
        let mut reports = Vec::new();
        reports.extend((1..=20).map(|i| on_channel(0x0a0a_0a0a, i)));
        reports.push(on_channel(0x0b0b_0b0b, 100));
        reports.push(on_channel(0x0a0a_0a0a, 21));
        send(&mut device, &reports);
        for expected in (1..=21).map(|i| on_channel(0x0a0a_0a0a, i)) {
            assert_eq!(
                a.recv(Duration::from_secs(2)).expect("a recv"),
                Some(expected)
            );
        }
        assert_eq!(
            b.recv(Duration::from_secs(2)).expect("b recv"),
            Some(on_channel(0x0b0b_0b0b, 100))
        );
        assert_eq!(a.recv(Duration::from_millis(20)).expect("a recv"), None);
        assert_eq!(b.recv(Duration::from_millis(20)).expect("b recv"), None);
    }

    #[test]
    fn try_recv_returns_at_once_and_skips_odd_datagrams() {
        let mut device = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let started = Instant::now();
        assert_eq!(device.try_recv().expect("nothing waiting"), None);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "did not block"
        );
        let mut host = UdpHost::connect(device.local_addr().expect("addr")).expect("connect");
        host.socket.socket.send(&[9; 10]).expect("odd datagram");
        host.send(&[7; REPORT_LEN]).expect("report");
        host.power_cycle().expect("magic");
        // Datagrams sent to loopback are queued by the time send returns.
        assert_eq!(
            device.try_recv().expect("report"),
            Some(UdpIncoming::Report([7; REPORT_LEN]))
        );
        assert_eq!(
            device.try_recv().expect("magic"),
            Some(UdpIncoming::PowerCycle)
        );
        assert_eq!(device.try_recv().expect("drained"), None);
        assert_eq!(device.peer_addr(), Some(host.local_addr().expect("addr")));
    }

    #[test]
    fn addressed_reports_sent_from_another_thread_reach_their_hosts_in_order() {
        let device = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        // Nobody has sent yet: nothing can be addressed.
        assert!(device.address(&[on_channel(1, 1)]).is_empty());
        runs_reach_their_hosts(device, |device, reports| {
            let addressed = device.address(reports);
            let sender = device.sender().expect("sender");
            std::thread::spawn(move || sender.send(&addressed))
                .join()
                .expect("sender thread")
                .expect("sent");
        });
    }
}
