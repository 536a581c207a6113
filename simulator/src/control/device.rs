//! One controlled authenticator: its own thread and UDP port, a
//! [`KeyDevice`] over an in-memory store that can be told to fail, scripted
//! presence, and the hooks of the control API.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{MemoryStore, SettingKey, Store, StoreError};
use softkey_authenticator::{Authenticator, Config};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK, REPORT_LEN};
use softkey_transport::udp::{UdpDevice, UdpIncoming};
use softkey_transport::uhid::UhidIncoming;
use softkey_transport::{DeviceConfig, HidDevice};
use softkey_vault::{KdfParams, Unlocker, Vault, VaultError};

use crate::control::events::EventSink;
use crate::control::hooks::{self, ControlHooks, ControlState, Profile, ReportFault};
use crate::control::policy::ControlPolicy;
use crate::control::presence::{ScriptedUser, UserState};
use crate::presence::PresenceProvider;
use crate::runtime::KeyDevice;
use crate::uhid::{UhidConfig, UhidDevice, UhidError};

/// Longest sleep between checks of the stop flags.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// A store whose writes fail while the control API's store fault is active:
/// over an in-memory store, or a vault for a persistent authenticator.
pub struct FaultStore {
    inner: Box<dyn Store + Send>,
    failing: Arc<AtomicBool>,
}

impl FaultStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Io("injected store failure".into()))
        } else {
            Ok(())
        }
    }
}

impl Store for FaultStore {
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
    fn put_discoverable_with_setting(
        &mut self,
        credential: &StoredCredential,
        key: SettingKey,
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner
            .put_discoverable_with_setting(credential, key, value)
    }
    fn put_discoverable_batch(
        &mut self,
        credentials: &[&StoredCredential],
        settings: &[(SettingKey, Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_discoverable_batch(credentials, settings)
    }
    fn delete_discoverable(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_discoverable(id)
    }
    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        self.check()?;
        self.inner.next_global_counter()
    }
    // Forwarded, so that a persistent authenticator counts from the vault's
    // reserved ranges instead of storing its credential per assertion.
    fn next_sign_count(&mut self, credential: &mut StoredCredential) -> Result<u32, StoreError> {
        self.check()?;
        self.inner.next_sign_count(credential)
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
    // Forwarded, so that a persistent authenticator checks its vault for
    // other writers once per request.
    fn begin_request(&mut self) {
        self.inner.begin_request();
    }
    fn end_request(&mut self) {
        self.inner.end_request();
    }
}

/// The device type of a controlled authenticator.
pub type Device = KeyDevice<FaultStore, StdRng>;

/// A persistent authenticator's vault (softkey's `softkey:vault` option).
#[derive(Clone, Debug)]
pub struct VaultSpec {
    /// The vault file; made when missing.
    pub path: PathBuf,
    /// What opens it (and the slot a new vault gets).
    pub unlocker: Arc<Unlocker>,
}

impl VaultSpec {
    /// Opens the vault, or makes it (with self attestation, like
    /// `softkey vault init`'s store without the attestation CA) when the file
    /// does not exist. A key file that does not exist yet is generated.
    pub fn open_or_create(&self) -> Result<Vault, VaultError> {
        if self.path.exists() {
            return Vault::open(&self.path, &self.unlocker);
        }
        if let Unlocker::KeyFile(key_file) = &*self.unlocker
            && !key_file.exists()
        {
            softkey_vault::generate_key_file(key_file)?;
        }
        Vault::create(&self.path, &self.unlocker, KdfParams::recommended())
    }
}

/// Where a controlled authenticator's HID device is: a UHID device beside
/// its UDP port.
#[derive(Clone, Debug)]
pub struct UhidSpec {
    /// The UHID character device (`/dev/uhid`).
    pub uhid_path: PathBuf,
    /// Where hidraw devices show up in sysfs (`/sys/class/hidraw`).
    pub sys_class: PathBuf,
}

impl Default for UhidSpec {
    fn default() -> Self {
        Self {
            uhid_path: PathBuf::from(crate::uhid::DEFAULT_PATH),
            sys_class: PathBuf::from("/sys/class/hidraw"),
        }
    }
}

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
    /// WebDriver `defaultBackupEligibility` and `defaultBackupState`.
    pub default_backup: BackupFlags,
    /// A UHID device beside the UDP port (`softkey:uhid`).
    pub uhid: Option<UhidSpec>,
    /// A persistent vault (`softkey:vault`); in memory without.
    pub vault: Option<VaultSpec>,
    /// The COSE algorithms new credentials may use (`softkey:algorithms`).
    pub algorithms: Vec<softkey_authenticator::crypto::Algorithm>,
    /// Enterprise attestation capability (`softkey:enterpriseRpIds`, or
    /// `softkey sim --enterprise-rp-id` for the default authenticator).
    pub enterprise_attestation: Option<softkey_authenticator::enterprise::EnterpriseAttestation>,
}

/// A running controlled authenticator. Dropping it stops its thread.
pub struct VirtualAuthenticator {
    /// Its id in the control API.
    pub id: String,
    /// How it was built.
    pub options: Options,
    /// Where it listens.
    pub udp_addr: SocketAddr,
    /// Its hidraw node, when it has a UHID device.
    pub hidraw_path: Option<PathBuf>,
    /// Its vault, when it is persistent.
    pub vault_path: Option<PathBuf>,
    device: Arc<Mutex<Device>>,
    control: Arc<Mutex<ControlState>>,
    user: Arc<Mutex<UserState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualAuthenticator {
    /// Builds the authenticator over `store` (`None`: a fresh in-memory
    /// one) and starts serving it on `udp`, and on a UHID device when the
    /// options ask for one. `vault_path` names the store's file, if any.
    pub fn spawn(
        id: String,
        options: Options,
        store: Option<(Box<dyn Store + Send>, PathBuf)>,
        udp: SocketAddr,
        events: EventSink,
        fallback: Box<dyn PresenceProvider>,
        shutdown: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let mut socket = UdpDevice::bind(udp)?;
        let udp_addr = socket.local_addr()?;
        let mut uhid = match &options.uhid {
            None => None,
            Some(spec) => Some(create_uhid(&id, spec)?),
        };
        let hidraw_path = uhid.as_ref().map(|(_, path)| path.clone());
        let mut os_rng = rand::rng();
        let failing = Arc::new(AtomicBool::new(false));
        let (inner, vault_path) = match store {
            Some((store, path)) => (store, Some(path)),
            None => (
                Box::new(MemoryStore::new(Secret32::random(&mut os_rng))) as Box<dyn Store + Send>,
                None,
            ),
        };
        let store = FaultStore {
            inner,
            failing: Arc::clone(&failing),
        };
        let u2f = options.profile == Profile::Ctap1;
        let config = Config {
            reset_window: options
                .strict_reset
                .then_some(softkey_authenticator::RESET_WINDOW),
            built_in_uv: options.has_user_verification,
            ctap1: u2f,
            algorithms: options.algorithms.clone(),
            enterprise_attestation: options.enterprise_attestation.clone(),
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
        // A U2F key has no CBOR capability; a CTAP2 key here answers CTAP2
        // only (NMSG), as the WebDriver protocol names it.
        let hid = HidDevice::new(DeviceConfig {
            capabilities: if u2f {
                CAPABILITY_WINK
            } else {
                CAPABILITY_WINK | CAPABILITY_CBOR | CAPABILITY_NMSG
            },
            device_version: (0, 1, 0),
            msg_enabled: u2f,
            cid_seed: rand::RngExt::random(&mut os_rng),
        });
        let mut control = ControlState::new(
            id.clone(),
            options.profile,
            options.has_resident_key,
            options.transport.clone(),
            failing,
            events,
        );
        control.default_backup = options.default_backup;
        let control = Arc::new(Mutex::new(control));
        let mut auth = auth;
        auth.set_credential_policy(Box::new(ControlPolicy::new(Arc::clone(&control))));
        let mut key = KeyDevice::new(hid, auth, Box::new(presence), options.user_timeout);
        if uhid.is_some() {
            // A hidraw device's power cycle is an unplug; over UDP alone the
            // channels survive it.
            key.set_power_cycle(crate::runtime::PowerCycle::Unplug);
        }
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
                    let uhid_device = uhid.as_mut().map(|(device, _)| device);
                    let served = serve(&device, &control, &mut socket, uhid_device, &stop, &shutdown);
                    if let Err(error) = served {
                        tracing::error!(%error, "controlled authenticator stopped");
                    }
                    if let Some((uhid, path)) = uhid
                        && let Err(error) = uhid.destroy()
                    {
                        tracing::warn!(%error, hidraw = %path.display(), "UHID device not destroyed");
                    }
                })?
        };
        Ok(Self {
            id,
            options,
            udp_addr,
            hidraw_path,
            vault_path,
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

/// Creates the UHID device of authenticator `id` and finds its hidraw node.
fn create_uhid(id: &str, spec: &UhidSpec) -> io::Result<(UhidDevice, PathBuf)> {
    let uniq = format!("softkey-sim-{id}");
    let config = UhidConfig {
        name: format!("softkey sim {id}"),
        phys: format!("softkey/sim/{id}"),
        uniq: uniq.clone(),
        ..UhidConfig::default()
    };
    let mut device = UhidDevice::create(&spec.uhid_path, &config).map_err(io::Error::other)?;
    // The kernel starts the device and udev makes the node shortly after
    // UHID_CREATE2.
    let deadline = Instant::now() + HIDRAW_WAIT;
    loop {
        if let Some(path) = crate::uhid::find_hidraw(&spec.sys_class, &uniq) {
            return Ok((device, path));
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "the UHID device was created but no hidraw node with HID_UNIQ={uniq} \
                 appeared in {} within {HIDRAW_WAIT:?}",
                spec.sys_class.display()
            )));
        }
        // Answer UHID_START and friends meanwhile.
        let _ = device.recv(Some(Duration::from_millis(20)));
    }
}

/// How long a new UHID device may take to show its hidraw node.
const HIDRAW_WAIT: Duration = Duration::from_secs(3);

/// Waits up to `wait` until the socket or the UHID device is readable:
/// `(udp, uhid)`.
fn wait_readable(
    socket: &UdpDevice,
    uhid: Option<&UhidDevice>,
    wait: Duration,
) -> io::Result<(bool, bool)> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    use std::os::fd::AsFd as _;
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let ready = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
    let mut fds = vec![PollFd::from_borrowed_fd(socket.as_fd(), PollFlags::IN)];
    if let Some(uhid) = uhid {
        fds.push(PollFd::from_borrowed_fd(uhid.as_fd(), PollFlags::IN));
    }
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) => Ok((
            fds.first().is_some_and(|fd| fd.revents().intersects(ready)),
            fds.get(1).is_some_and(|fd| fd.revents().intersects(ready)),
        )),
        Err(rustix::io::Errno::INTR) => Ok((false, false)),
        Err(errno) => Err(errno.into()),
    }
}

/// Moves reports between the transports (the UDP socket, and the UHID
/// device if there is one) and the device, applying report faults. Replies
/// go to both, as a USB key's input reports reach every program that has
/// it open: a client ignores reports of channels it did not allocate.
fn serve(
    device: &Mutex<Device>,
    control: &Mutex<ControlState>,
    socket: &mut UdpDevice,
    mut uhid: Option<&mut UhidDevice>,
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
        let (udp_ready, uhid_ready) = wait_readable(socket, uhid.as_deref(), wait)?;
        let mut incoming = Vec::new();
        if udp_ready {
            match socket.recv(Some(Duration::ZERO)) {
                Ok(Some(UdpIncoming::Report(report))) => incoming.push(Some(report)),
                Ok(Some(UdpIncoming::PowerCycle)) => incoming.push(None),
                Ok(None) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(error) => return Err(error),
            }
        }
        if uhid_ready && let Some(uhid) = uhid.as_deref_mut() {
            match uhid.recv(Some(Duration::ZERO)) {
                Ok(Some(UhidIncoming::Report(report))) => incoming.push(Some(report)),
                Ok(_) => {}
                Err(UhidError::Malformed(error)) => tracing::warn!(%error, "ignoring UHID event"),
                Err(error) => return Err(io::Error::other(error)),
            }
        }
        let mut reports = Vec::new();
        {
            let mut device = device.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            for report in incoming {
                match report {
                    Some(report) => device.handle_report(&report, now),
                    None => {
                        device.power_cycle(now);
                        let control = control.lock().unwrap_or_else(|e| e.into_inner());
                        control.emit("powerCycle", serde_json::Value::Null);
                    }
                }
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
        let queued = outbox.queue.make_contiguous();
        // One system call for a reply's reports (per host).
        if !queued.is_empty()
            && socket.peer_addr().is_some()
            && let Err(error) = socket.send_all(queued)
        {
            tracing::debug!(%error, "report not delivered over UDP");
        }
        if let Some(uhid) = uhid.as_deref_mut() {
            for report in queued.iter() {
                if let Err(error) = uhid.send(report) {
                    tracing::debug!(%error, "report not delivered over UHID");
                }
            }
        }
        outbox.queue.clear();
    }
    Ok(())
}
