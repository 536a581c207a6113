//! One controlled authenticator: its own thread and UDP port, a
//! [`KeyDevice`] over an in-memory store that can be told to fail, scripted
//! presence, and the hooks of the control API.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{MemoryStore, SettingKey, Store, StoreError};
use softkey_authenticator::{Authenticator, Config};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK, REPORT_LEN};
use softkey_transport::udp::{UdpDevice, UdpIncoming};
use softkey_transport::{DeviceConfig, HidDevice};

use crate::control::events::EventSink;
use crate::control::hooks::{self, ControlHooks, ControlState, Profile, ReportFault};
use crate::control::presence::{ScriptedUser, UserState};
use crate::presence::PresenceProvider;
use crate::runtime::KeyDevice;

/// Longest sleep between checks of the stop flags.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// A store whose writes fail while the control API's store fault is active.
pub struct FaultStore<S: Store> {
    inner: S,
    failing: Arc<AtomicBool>,
}

impl<S: Store> FaultStore<S> {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Io("injected store failure".into()))
        } else {
            Ok(())
        }
    }
}

impl<S: Store> Store for FaultStore<S> {
    fn device_secret(&mut self) -> Result<Secret32, StoreError> {
        self.inner.device_secret()
    }
    fn discoverable_for_rp(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        self.inner.discoverable_for_rp(hash)
    }
    fn discoverable_by_id(&mut self, id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        self.inner.discoverable_by_id(id)
    }
    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
        self.inner.all_discoverable()
    }
    fn discoverable_count(&mut self) -> Result<usize, StoreError> {
        self.inner.discoverable_count()
    }
    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_discoverable(credential)
    }
    fn delete_discoverable(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_discoverable(id)
    }
    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        self.check()?;
        self.inner.next_global_counter()
    }
    fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError> {
        self.inner.setting(key)
    }
    fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_setting(key, value)
    }
    fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError> {
        self.check()?;
        self.inner.wipe(new_device_secret)
    }
    fn remaining_capacity(&mut self) -> Option<usize> {
        self.inner.remaining_capacity()
    }
}

/// The device type of a controlled authenticator.
pub type Device = KeyDevice<FaultStore<MemoryStore>, StdRng>;

/// How to build an authenticator (the WebDriver options).
#[derive(Clone, Debug)]
pub struct Options {
    /// Personality.
    pub profile: Profile,
    /// WebDriver `transport`.
    pub transport: String,
    /// WebDriver `hasResidentKey`.
    pub has_resident_key: bool,
    /// WebDriver `hasUserVerification` (built-in UV).
    pub has_user_verification: bool,
    /// WebDriver `isUserConsenting`; `None` defers to the fallback provider.
    pub is_user_consenting: Option<bool>,
    /// WebDriver `isUserVerified`.
    pub is_user_verified: bool,
    /// WebDriver `extensions`.
    pub extensions: Vec<String>,
    /// Reset only within 10 s of power-up.
    pub strict_reset: bool,
    /// How long an unanswered prompt waits.
    pub user_timeout: Duration,
}

/// A running controlled authenticator. Dropping it stops its thread.
pub struct VirtualAuthenticator {
    /// Its id in the control API.
    pub id: String,
    /// How it was built.
    pub options: Options,
    /// Where it listens.
    pub udp_addr: SocketAddr,
    device: Arc<Mutex<Device>>,
    control: Arc<Mutex<ControlState>>,
    user: Arc<Mutex<UserState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualAuthenticator {
    /// Builds the authenticator and starts serving it on `udp`.
    pub fn spawn(
        id: String,
        options: Options,
        udp: SocketAddr,
        events: EventSink,
        fallback: Box<dyn PresenceProvider>,
        shutdown: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let mut socket = UdpDevice::bind(udp)?;
        let udp_addr = socket.local_addr()?;
        let mut os_rng = rand::rng();
        let failing = Arc::new(AtomicBool::new(false));
        let store = FaultStore {
            inner: MemoryStore::new(Secret32::random(&mut os_rng)),
            failing: Arc::clone(&failing),
        };
        let config = Config {
            reset_window: options
                .strict_reset
                .then_some(softkey_authenticator::RESET_WINDOW),
            built_in_uv: options.has_user_verification,
            ..Config::default()
        };
        let auth = Authenticator::new(config, store, StdRng::from_rng(&mut os_rng), Instant::now());
        let user = Arc::new(Mutex::new(UserState {
            presence: options.is_user_consenting.map(|consenting| {
                if consenting {
                    softkey_authenticator::Verdict::Approved
                } else {
                    softkey_authenticator::Verdict::Denied
                }
            }),
            verified: options.is_user_verified,
            ..UserState::default()
        }));
        let presence = ScriptedUser::new(Arc::clone(&user), fallback);
        let hid = HidDevice::new(DeviceConfig {
            capabilities: CAPABILITY_WINK | CAPABILITY_CBOR | CAPABILITY_NMSG,
            device_version: (0, 1, 0),
            msg_enabled: false,
            cid_seed: rand::RngExt::random(&mut os_rng),
        });
        let control = Arc::new(Mutex::new(ControlState::new(
            id.clone(),
            options.profile,
            options.has_resident_key,
            options.transport.clone(),
            failing,
            events,
        )));
        let mut key = KeyDevice::new(hid, auth, Box::new(presence), options.user_timeout);
        key.set_hooks(Box::new(ControlHooks::new(Arc::clone(&control))));
        let device = Arc::new(Mutex::new(key));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let device = Arc::clone(&device);
            let control = Arc::clone(&control);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("softkey-sim-{id}"))
                .spawn(move || {
                    if let Err(error) = serve(&device, &control, &mut socket, &stop, &shutdown) {
                        tracing::error!(%error, "controlled authenticator stopped");
                    }
                })?
        };
        Ok(Self {
            id,
            options,
            udp_addr,
            device,
            control,
            user,
            stop,
            thread: Some(thread),
        })
    }

    /// The device (locked). Lock order: device, then control state.
    pub fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The control state (locked).
    pub fn control(&self) -> MutexGuard<'_, ControlState> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scripted user (locked).
    pub fn user(&self) -> MutexGuard<'_, UserState> {
        self.user.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Power-cycles the device, as the UDP power-cycle datagram does.
    pub fn power_cycle(&self) {
        let mut device = self.device();
        device.power_cycle(Instant::now());
        self.control().emit("powerCycle", serde_json::Value::Null);
    }
}

impl Drop for VirtualAuthenticator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reports held back by a delay fault.
#[derive(Default)]
struct Outbox {
    held_until: Option<Instant>,
    queue: VecDeque<[u8; REPORT_LEN]>,
}

/// Moves reports between the socket and the device, applying report faults.
fn serve(
    device: &Mutex<Device>,
    control: &Mutex<ControlState>,
    socket: &mut UdpDevice,
    stop: &AtomicBool,
    shutdown: &AtomicBool,
) -> io::Result<()> {
    let mut outbox = Outbox::default();
    while !stop.load(Ordering::Relaxed) && !shutdown.load(Ordering::Relaxed) {
        let now = Instant::now();
        let next = {
            let device = device.lock().unwrap_or_else(|e| e.into_inner());
            [device.poll_timeout(), outbox.held_until]
                .into_iter()
                .flatten()
                .min()
        };
        let wait = next
            .map_or(MAX_WAIT, |at| at.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), MAX_WAIT);
        let incoming = match socket.recv(Some(wait)) {
            Ok(incoming) => incoming,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
                ) =>
            {
                None
            }
            Err(error) => return Err(error),
        };
        let mut reports = Vec::new();
        {
            let mut device = device.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match incoming {
                Some(UdpIncoming::Report(report)) => device.handle_report(&report, now),
                Some(UdpIncoming::PowerCycle) => {
                    device.power_cycle(now);
                    let control = control.lock().unwrap_or_else(|e| e.into_inner());
                    control.emit("powerCycle", serde_json::Value::Null);
                }
                None => {}
            }
            device.handle_timeout(now);
            while let Some(report) = device.poll_report() {
                reports.push(report);
            }
        }
        if !reports.is_empty() {
            let mut control = control.lock().unwrap_or_else(|e| e.into_inner());
            for mut report in reports {
                if hooks::is_response_start(&report)
                    && let Some(fault) = control.report_fault.take()
                {
                    match fault {
                        ReportFault::Drop => continue,
                        ReportFault::Duplicate => outbox.queue.push_back(report),
                        ReportFault::Corrupt => hooks::corrupt(&mut report),
                        ReportFault::Delay(delay) => {
                            outbox.held_until = Some(Instant::now() + delay);
                        }
                    }
                }
                outbox.queue.push_back(report);
            }
        }
        if outbox.held_until.is_some_and(|at| Instant::now() < at) {
            continue;
        }
        outbox.held_until = None;
        while let Some(report) = outbox.queue.pop_front() {
            if let Err(error) = socket.send(&report) {
                tracing::debug!(%error, "report not delivered");
            }
        }
    }
    Ok(())
}
