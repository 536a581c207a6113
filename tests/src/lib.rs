//! # softkey-tests: the whole stack, end to end
//!
//! [`Pipe`] connects a host-side CTAPHID client to a complete key — framing,
//! runtime, authenticator, presence — in one process, on a simulated clock
//! (quinn's `Pair` idea): waiting for a report advances time to the device's
//! next timer instead of sleeping.
//!
//! ```text
//!  HostClient ─► Pipe (PacketIo) ─► KeyDevice ─► HidDevice + Authenticator + PresenceProvider
//!       ▲                               │
//!       └──────── input reports ────────┘        time: Pipe::now, advanced on recv
//! ```
//!
//! The python-fido2 tests (tests/python) drive the same stack over UDP with an
//! independent client.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey::presence::PresenceProvider;
use softkey::runtime::KeyDevice;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{Authenticator, Config};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK, REPORT_LEN};
use softkey_transport::host::PacketIo;
use softkey_transport::{DeviceConfig, HidDevice};

/// The key under test, as the pipe builds it.
pub type TestKey = KeyDevice<MemoryStore, StdRng>;

/// A whole key behind [`PacketIo`], on a simulated clock.
pub struct Pipe {
    key: TestKey,
    now: Instant,
    inbox: VecDeque<[u8; REPORT_LEN]>,
    sent: Vec<(Instant, [u8; REPORT_LEN])>,
}

impl Pipe {
    /// A fresh key (empty memory store, fixed seeds) with this presence
    /// provider and prompt timeout.
    pub fn new(presence: Box<dyn PresenceProvider>, user_timeout: Duration) -> Self {
        Self::with_config(
            Config {
                reset_window: None,
                ..Config::default()
            },
            presence,
            user_timeout,
        )
    }

    /// As [`new`](Self::new), with this authenticator configuration.
    pub fn with_config(
        config: Config,
        presence: Box<dyn PresenceProvider>,
        user_timeout: Duration,
    ) -> Self {
        let now = Instant::now();
        let auth = Authenticator::new(
            config,
            MemoryStore::new(Secret32::new([7; 32])),
            StdRng::seed_from_u64(7),
            now,
        );
        let hid = HidDevice::new(DeviceConfig {
            capabilities: CAPABILITY_WINK | CAPABILITY_CBOR | CAPABILITY_NMSG,
            device_version: (0, 1, 0),
            msg_enabled: false,
            cid_seed: 7,
        });
        Self {
            key: KeyDevice::new(hid, auth, presence, user_timeout),
            now,
            inbox: VecDeque::new(),
            sent: Vec::new(),
        }
    }

    /// The simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Every input report the key sent, with the simulated time it was sent.
    pub fn sent(&self) -> &[(Instant, [u8; REPORT_LEN])] {
        &self.sent
    }

    /// Says what a power cycle does to the channels (default: they stay,
    /// as over UDP).
    pub fn set_power_cycle(&mut self, kind: softkey::runtime::PowerCycle) {
        self.key.set_power_cycle(kind);
    }

    /// A power cycle of the key.
    pub fn power_cycle(&mut self) {
        self.key.power_cycle(self.now);
        self.drain();
    }

    /// Lets simulated time pass.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(at) = self.key.poll_timeout().filter(|at| *at <= until) {
            self.now = self.now.max(at);
            self.key.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
        self.key.handle_timeout(self.now);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(report) = self.key.poll_report() {
            self.sent.push((self.now, report));
            self.inbox.push_back(report);
        }
    }
}

impl PacketIo for Pipe {
    fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
        self.key.handle_report(report, self.now);
        self.drain();
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
        let deadline = self.now + timeout;
        loop {
            if let Some(report) = self.inbox.pop_front() {
                return Ok(Some(report));
            }
            if self.key.is_working() {
                // A slow computation runs on a real thread: the simulated
                // clock follows the real one until it is done.
                let slept = std::time::Instant::now();
                std::thread::sleep(softkey::runtime::WORK_POLL);
                self.now += slept.elapsed();
                if self.now > deadline {
                    return Ok(None);
                }
                self.key.handle_timeout(self.now);
                self.drain();
                continue;
            }
            match self.key.poll_timeout() {
                Some(at) if at <= deadline => {
                    self.now = self.now.max(at);
                    self.key.handle_timeout(self.now);
                    self.drain();
                }
                _ => {
                    self.now = deadline;
                    return Ok(None);
                }
            }
        }
    }
}
