//! Serving a [`KeyDevice`] on the loopback UDP convention of CTAP test tools.
//!
//! The caller's thread receives reports, drives the device (CTAPHID framing
//! and the authenticator, one request at a time) and sends what it answers.
//!
//! **Sending on a second thread under load** (issue 15): when a reply is
//! ready and the next datagram is already waiting, the reply goes to a
//! sender thread (`sendmmsg(2)`, which also wakes the host) while this
//! thread goes on with the next request, so that the send overlaps the next
//! signature. With nothing waiting (one host, the common case) the reply is
//! sent here, without a hand-off. While the sender has replies in hand,
//! later ones follow them there, so reports leave in the order the device
//! produced them. The device itself is untouched: it still sees one report
//! at a time, in arrival order, and answers other channels
//! `ERR_CHANNEL_BUSY` exactly as before.
//!
//! Not done, measured: a bounded spin (polling the socket for 50–200 µs after
//! a reply instead of blocking) made no difference to the minimum round trip
//! of `ctaphid_udp/get_assertion` on the shared 2-vCPU machine, and cost
//! `scripts/load.py` 10–15 % of its throughput (and tripled its median
//! latency): real hosts take milliseconds to ask again, so a spinning
//! thread only competes with them for the core. The loop blocks in
//! `recvfrom(2)` whenever it has nothing to do.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use softkey_authenticator::store::Store;
use softkey_transport::udp::{Addressed, UdpDevice, UdpIncoming, UdpSender};
use zeroize::Zeroize as _;

use crate::runtime::KeyDevice;

/// Longest sleep between checks of the stop flag.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Reports polled from the device per send: a whole reply of the longest
/// message (129 reports) and a few more. Allocated once, so that the buffer
/// never grows (which would free a copy of a reply unwiped).
const TURN_REPORTS: usize = 136;

/// The way to the sender thread.
struct Handoff<'a> {
    jobs: mpsc::Sender<Addressed>,
    /// Replies handed over and not yet sent.
    pending: &'a AtomicUsize,
}

/// Moves reports between `socket` and `device` until `stop` is set.
pub fn serve<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static>(
    device: &mut KeyDevice<S, R>,
    socket: &mut UdpDevice,
    stop: &AtomicBool,
) -> io::Result<()> {
    let sender = socket.sender()?;
    let (jobs, queue) = mpsc::channel();
    let pending = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, in_flight) = (&sender, &pending);
        let spawned = std::thread::Builder::new()
            .name("softkey-udp-send".into())
            .spawn_scoped(scope, move || send_loop(sender, &queue, in_flight))
            .map(drop);
        let handoff = match spawned {
            Ok(()) => Some(Handoff {
                jobs,
                pending: &pending,
            }),
            Err(error) => {
                tracing::warn!(%error, "no sender thread: sending on the serving thread");
                None
            }
        };
        let served = serve_loop(device, socket, stop, handoff.as_ref());
        // Closes the channel: the sender's loop ends and the scope joins it.
        drop(handoff);
        served
    })
}

/// The sender thread: sends each hand-off, until the channel closes.
fn send_loop(sender: &UdpSender, queue: &mpsc::Receiver<Addressed>, pending: &AtomicUsize) {
    // `recv` fails once the serving side is gone and everything is sent.
    while let Ok(addressed) = queue.recv() {
        if let Err(error) = sender.send(&addressed) {
            tracing::debug!(%error, "report not delivered");
        }
        drop(addressed);
        pending.fetch_sub(1, Ordering::Release);
    }
}

fn serve_loop<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static>(
    device: &mut KeyDevice<S, R>,
    socket: &mut UdpDevice,
    stop: &AtomicBool,
    handoff: Option<&Handoff<'_>>,
) -> io::Result<()> {
    // The reports of one turn; kept across turns, wiped after each.
    let mut outgoing = Vec::with_capacity(TURN_REPORTS);
    // A datagram taken off the socket while looking for more work.
    let mut next = None;
    while !stop.load(Ordering::Relaxed) {
        let received = if let Some(incoming) = next.take() {
            Ok(Some(incoming))
        } else {
            let now = Instant::now();
            let wait = device
                .poll_timeout()
                .map_or(MAX_WAIT, |at| at.saturating_duration_since(now))
                .clamp(Duration::from_millis(1), MAX_WAIT);
            socket.recv(Some(wait))
        };
        match received {
            Ok(Some(UdpIncoming::Report(report))) => device.handle_report(&report, Instant::now()),
            Ok(Some(UdpIncoming::PowerCycle)) => device.power_cycle(Instant::now()),
            Ok(None) => {}
            Err(error) => tolerate(error)?,
        }
        device.handle_timeout(Instant::now());
        loop {
            outgoing.extend(std::iter::from_fn(|| device.poll_report()).take(TURN_REPORTS));
            if outgoing.is_empty() {
                break;
            }
            // Addressed before anything more is received: a datagram moves
            // its channel's route (two hosts' broadcast INITs, for one).
            let addressed = socket.address(&outgoing);
            match handoff {
                Some(handoff) if handoff.pending.load(Ordering::Acquire) > 0 => {
                    hand_off(handoff, socket, addressed);
                }
                Some(handoff) if next.is_none() => match socket.try_recv() {
                    Ok(Some(incoming)) => {
                        // More work is waiting: it goes on while the sender sends.
                        next = Some(incoming);
                        hand_off(handoff, socket, addressed);
                    }
                    polled => {
                        if let Err(error) = polled {
                            tolerate(error)?;
                        }
                        send_here(socket, &addressed);
                    }
                },
                _ => send_here(socket, &addressed),
            }
            // Zeroes the reports (and the spare room), keeps the allocation.
            outgoing.zeroize();
        }
    }
    Ok(())
}

/// Errors of `recvfrom` that end nothing.
fn tolerate(error: io::Error) -> io::Result<()> {
    match error.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::ConnectionRefused => {
            // A previous reply went to a host that has gone: not our problem.
            tracing::debug!(%error, "host port closed");
            Ok(())
        }
        _ => Err(error),
    }
}

fn send_here(socket: &UdpDevice, addressed: &Addressed) {
    if let Err(error) = socket.send_addressed(addressed) {
        tracing::debug!(%error, "report not delivered");
    }
}

fn hand_off(handoff: &Handoff<'_>, socket: &UdpDevice, addressed: Addressed) {
    handoff.pending.fetch_add(1, Ordering::Release);
    if let Err(mpsc::SendError(addressed)) = handoff.jobs.send(addressed) {
        // The sender thread is gone (it panicked): send here.
        handoff.pending.fetch_sub(1, Ordering::Release);
        tracing::warn!("sender thread gone: sending on the serving thread");
        send_here(socket, &addressed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use softkey_authenticator::secret::Secret32;
    use softkey_authenticator::store::MemoryStore;
    use softkey_authenticator::{Authenticator, Config};
    use softkey_transport::ctaphid::{self, BROADCAST_CID, Command, REPORT_LEN};
    use softkey_transport::host::{HostClient, HostError, PacketIo};
    use softkey_transport::udp::UdpHost;
    use softkey_transport::{DeviceConfig, HidDevice};

    use super::*;
    use crate::presence::danger;

    /// A host socket that records the channel of every report it receives.
    struct Watched {
        host: UdpHost,
        channels: HashSet<u32>,
    }

    impl PacketIo for Watched {
        fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
            self.host.send(report)
        }

        fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
            let report = self.host.recv(timeout)?;
            if let Some(report) = &report {
                let channel = u32::from_be_bytes([report[0], report[1], report[2], report[3]]);
                self.channels.insert(channel);
            }
            Ok(report)
        }
    }

    fn start() -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let mut socket = UdpDevice::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let address = socket.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let serving = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let mut rng = StdRng::seed_from_u64(7);
                let store = MemoryStore::new(Secret32::random(&mut rng));
                let auth = Authenticator::new(Config::default(), store, rng, Instant::now());
                let mut device = KeyDevice::new(
                    HidDevice::new(DeviceConfig::default()),
                    auth,
                    Box::new(danger::AutoApprove),
                    Duration::from_secs(5),
                );
                serve(&mut device, &mut socket, &stop).expect("serve");
            }
        });
        (address, stop, serving)
    }

    #[test]
    fn concurrent_hosts_get_their_own_answers_in_order() {
        const HOSTS: usize = 6;
        const ROUNDS: usize = 40;
        let (address, stop, serving) = start();
        // Channels allocated one host at a time (broadcast INIT answers go
        // to the last broadcast sender).
        let clients: Vec<_> = (0..HOSTS)
            .map(|_| {
                let io = Watched {
                    host: UdpHost::connect(address).expect("connect"),
                    channels: HashSet::new(),
                };
                let mut client = HostClient::new(io);
                client.set_timeout(Duration::from_secs(10));
                client.init().expect("init");
                client.io_mut().channels.clear();
                client
            })
            .collect();
        let results: Vec<_> = std::thread::scope(|scope| {
            let running: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(index, mut client)| {
                    scope.spawn(move || {
                        let mut busy = 0;
                        let mut done = 0;
                        while done < ROUNDS {
                            // A PING of several reports, unique to this host
                            // and round, then a getInfo through the core.
                            let echo = vec![index as u8 ^ done as u8; 150 + index];
                            let answered = client.ping(&echo).and_then(|answer| {
                                assert_eq!(answer, echo, "the echo of this host's PING");
                                client.cbor(&[0x04], |_| {})
                            });
                            match answered {
                                Ok(info) => {
                                    assert_eq!(info[0], 0, "getInfo succeeds");
                                    done += 1;
                                }
                                Err(HostError::Device(0x06)) => busy += 1,
                                Err(error) => panic!("host {index}: {error}"),
                            }
                        }
                        (client.channel(), client.into_inner().channels, busy)
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|host| host.join().expect("host thread"))
                .collect()
        });
        stop.store(true, Ordering::Relaxed);
        serving.join().expect("serving thread");
        for (channel, seen, _busy) in results {
            assert_eq!(
                seen,
                HashSet::from([channel]),
                "a host received reports of its own channel only"
            );
        }
    }

    #[test]
    fn simultaneous_broadcast_inits_are_each_answered_to_their_host() {
        // Answers on the broadcast channel go to its last sender: a reply
        // must be addressed before the next host's INIT is taken in (the
        // hand-off once addressed it after, and sent one host's channel to
        // another).
        const HOSTS: u8 = 8;
        let (address, stop, serving) = start();
        let mut hosts: Vec<_> = (0..HOSTS)
            .map(|_| UdpHost::connect(address).expect("connect"))
            .collect();
        for round in 0..20u8 {
            for (index, host) in (0..HOSTS).zip(hosts.iter_mut()) {
                let nonce = [index, round, 1, 2, 3, 4, 5, 6];
                let init = ctaphid::fragment(BROADCAST_CID, Command::Init, &nonce).expect("frame");
                host.send(&init[0]).expect("send");
            }
            for (index, host) in (0..HOSTS).zip(hosts.iter_mut()) {
                let answer = host
                    .recv(Duration::from_secs(10))
                    .expect("recv")
                    .expect("an answer");
                assert_eq!(answer[4], 0x80 | Command::Init.code());
                assert_eq!(
                    answer[7..15],
                    [index, round, 1, 2, 3, 4, 5, 6],
                    "host {index} got its own INIT answer in round {round}"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
        serving.join().expect("serving thread");
    }

    #[test]
    fn an_idle_loop_uses_no_cpu() {
        // With nothing to do the loop blocks in recvfrom (and the sender
        // thread in its channel): a second of idling after an exchange
        // takes (almost) no CPU time.
        let (address, stop, serving) = start();
        let mut client = HostClient::new(UdpHost::connect(address).expect("connect"));
        client.set_timeout(Duration::from_secs(10));
        client.init().expect("init");
        assert_eq!(client.ping(b"wake").expect("ping"), b"wake");
        let before = process_cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let idle = process_cpu_time().saturating_sub(before);
        stop.store(true, Ordering::Relaxed);
        serving.join().expect("serving thread");
        assert!(
            idle < Duration::from_millis(50),
            "idle loop used {idle:?} of CPU"
        );
    }

    /// CPU time of this process (all threads), from /proc/self/stat.
    fn process_cpu_time() -> Duration {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
        // Fields after the command name (which may hold spaces): utime is
        // the 12th, stime the 13th, in clock ticks (100 per second).
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        Duration::from_millis(ticks * 10)
    }
}
