//! The runtime around the sans-I/O cores: CTAPHID framing (transport) on one
//! side, the CTAP authenticator on the other, a presence provider for prompts.
//!
//! ```text
//!  reports ─► HidDevice ─► DeviceEvent::Request ─► Authenticator::handle ─► Reply ─► HidDevice ─► reports
//!                 ▲                                      │ AwaitUser
//!                 │ keepalive UPNEEDED             PresenceProvider::ask ─► poll ─► resume(verdict)
//!                 │ keepalive PROCESSING                                     (slow: on a worker thread)
//!                 └── DeviceEvent::Cancel ──────────► Authenticator::cancel (KEEPALIVE_CANCEL)
//! ```
//!
//! [`KeyDevice`] does no I/O and reads no clock: backends (UDP, UHID, the
//! in-memory pipe of the tests) feed it reports with the time and send what it
//! gives back. The framing layer sends a keepalive every 80 ms while a request
//! is in flight, but only while the backend's loop runs: a `resume` the core
//! says is slow ([`Authenticator::resume_is_slow`]: RSA key generation, a
//! fifth of a second on average and seconds in the tail) runs on a worker
//! thread, and the device polls for its outcome as it polls a prompt. Optional [`Hooks`] see (and may rewrite or short-circuit) each
//! CTAP2 request and response: the simulator's control API uses them for its
//! trace, fault injection and device profiles.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::store::Store;
use softkey_authenticator::{
    AttestationMode, Authenticator, Config, Outcome, PromptAction, StatusCode, Verdict,
};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_WINK, KeepaliveStatus, REPORT_LEN};
use softkey_transport::{DeviceConfig, DeviceEvent, HidDevice, RequestId, RequestKind};
use zeroize::Zeroizing;

use crate::presence::{PendingVerdict, PresenceProvider};
use crate::verify::UserVerifier;

/// How long a person has to answer a prompt before USER_ACTION_TIMEOUT.
pub const DEFAULT_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a pending prompt is polled.
pub const PRESENCE_POLL: Duration = Duration::from_millis(10);

/// Observes and steers the CTAP2 traffic of a [`KeyDevice`] (the
/// simulator's control API). Called with the device's own clock.
pub trait Hooks: Send {
    /// A CTAP2 request (command byte + CBOR) arrived. The hook may rewrite it
    /// in place, or answer it at once (status byte + CBOR) without the
    /// authenticator seeing it.
    fn on_request(&mut self, payload: &mut Vec<u8>, now: Instant) -> Option<Vec<u8>>;
    /// The response to a request with this command byte is about to be sent;
    /// the hook may rewrite it in place.
    fn on_response(&mut self, command: u8, reply: &mut Vec<u8>, now: Instant);
    /// The person (or the presence provider) answered a prompt.
    fn on_verdict(&mut self, _verdict: Verdict, _now: Instant) {}
    /// A CTAP1/U2F request (an APDU) arrived. As [`on_request`](Self::on_request):
    /// rewrite it in place or answer it at once (response data + status word).
    fn on_ctap1_request(&mut self, _apdu: &mut Vec<u8>, _now: Instant) -> Option<Vec<u8>> {
        None
    }
    /// The response to a CTAP1/U2F request is about to be sent.
    fn on_ctap1_response(&mut self, _reply: &mut Vec<u8>, _now: Instant) {}
}

/// How often a slow computation on the worker thread is polled.
pub const WORK_POLL: Duration = Duration::from_millis(5);

/// What a power cycle of a [`KeyDevice`] does to its CTAPHID channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PowerCycle {
    /// The device stays enumerated (loopback UDP, where there is nothing to
    /// unplug): allocated channel IDs stay valid, all other volatile state
    /// goes. The default, since the simulator's power cycles (the UDP
    /// datagram, the control API) are of this kind.
    #[default]
    KeepChannels,
    /// A real unplug (UHID): every channel is forgotten too, and a host must
    /// INIT again.
    Unplug,
}

struct Waiting {
    request: RequestId,
    pending: Box<dyn PendingVerdict>,
    deadline: Instant,
    next_poll: Instant,
}

/// A slow `resume` running on its own thread; the authenticator comes back
/// with its outcome.
struct Working<S: Store, R: rand_core::CryptoRng> {
    request: RequestId,
    worker: std::thread::JoinHandle<(Authenticator<S, R>, Outcome)>,
    next_poll: Instant,
}

/// One security key: framing + authenticator + presence.
pub struct KeyDevice<S: Store, R: rand_core::CryptoRng> {
    hid: HidDevice,
    /// The authenticator; `None` while a worker thread has it ([`Working`]).
    auth: Option<Authenticator<S, R>>,
    working: Option<Working<S, R>>,
    presence: Box<dyn PresenceProvider>,
    user_timeout: Duration,
    waiting: Option<Waiting>,
    hooks: Option<Box<dyn Hooks>>,
    command: u8,
    /// Whether the request in flight is CTAP1 (MSG) rather than CTAP2 (CBOR).
    ctap1: bool,
    verifier: Option<Box<dyn UserVerifier>>,
    power_cycle: PowerCycle,
}

/// The name of a CTAP2 command byte, for logs.
pub fn command_name(command: u8) -> &'static str {
    match command {
        0x01 => "authenticatorMakeCredential",
        0x02 => "authenticatorGetAssertion",
        0x04 => "authenticatorGetInfo",
        0x06 => "authenticatorClientPIN",
        0x07 => "authenticatorReset",
        0x08 => "authenticatorGetNextAssertion",
        0x09 => "authenticatorBioEnrollment",
        0x0A => "authenticatorCredentialManagement",
        0x0B => "authenticatorSelection",
        0x0C => "authenticatorLargeBlobs",
        0x0D => "authenticatorConfig",
        0x40 => "authenticatorBioEnrollment (preview)",
        0x41 => "authenticatorCredentialManagement (preview)",
        _ => "unknown",
    }
}

/// The attestation mode a `--attestation-certificate` flag asks for.
pub fn attestation_mode(certificate: bool) -> AttestationMode {
    if certificate {
        AttestationMode::Certificate
    } else {
        AttestationMode::SelfAttestation
    }
}

impl<S: Store + Send + 'static> KeyDevice<S, StdRng> {
    /// A security key as `softkey run` and `softkey sim` serve it: CTAP2 and
    /// CTAP1 over CTAPHID (WINK, CBOR, MSG), fresh OS randomness for the core
    /// and for channel ids, powered up now.
    pub fn standard(
        config: Config,
        store: S,
        presence: Box<dyn PresenceProvider>,
        user_timeout: Duration,
        device_version: (u8, u8, u8),
    ) -> Self {
        let mut os_rng = rand::rng();
        let config = Config {
            ctap1: true,
            ..config
        };
        let auth = Authenticator::new(config, store, StdRng::from_rng(&mut os_rng), Instant::now());
        let hid = HidDevice::new(DeviceConfig {
            capabilities: CAPABILITY_WINK | CAPABILITY_CBOR,
            device_version,
            msg_enabled: true,
            cid_seed: rand::RngExt::random(&mut os_rng),
        });
        Self::new(hid, auth, presence, user_timeout)
    }
}

impl<S: Store + Send + 'static, R: rand_core::CryptoRng + Send + 'static> KeyDevice<S, R> {
    /// Wires the pieces together.
    pub fn new(
        hid: HidDevice,
        auth: Authenticator<S, R>,
        presence: Box<dyn PresenceProvider>,
        user_timeout: Duration,
    ) -> Self {
        Self {
            hid,
            auth: Some(auth),
            working: None,
            presence,
            user_timeout,
            waiting: None,
            hooks: None,
            command: 0,
            ctap1: false,
            verifier: None,
            power_cycle: PowerCycle::default(),
        }
    }

    /// Says what [`power_cycle`](Self::power_cycle) does to the channels:
    /// the UHID backend sets [`PowerCycle::Unplug`].
    pub fn set_power_cycle(&mut self, kind: PowerCycle) {
        self.power_cycle = kind;
    }

    /// What a power cycle does to the channels.
    pub fn power_cycle_kind(&self) -> PowerCycle {
        self.power_cycle
    }

    /// Offers built-in user verification through `verifier`: prompts with
    /// [`PromptAction::Verify`] go to it instead of the presence provider.
    /// (Set `Config::built_in_uv` on the authenticator to match.)
    pub fn set_verifier(&mut self, verifier: Box<dyn UserVerifier>) {
        self.verifier = Some(verifier);
    }

    /// Installs hooks that see every CTAP2 request and response.
    pub fn set_hooks(&mut self, hooks: Box<dyn Hooks>) {
        self.hooks = Some(hooks);
    }

    /// One output report from the host.
    pub fn handle_report(&mut self, report: &[u8], now: Instant) {
        self.hid.handle_report(report, now);
        self.process(now);
    }

    /// A simulated (or real) power cycle: volatile state is lost (the
    /// request in flight, a pending prompt, the authenticator's volatile
    /// state such as pinUvAuthTokens and getNextAssertion; a slow computation
    /// in flight is finished first, and its answer dropped). The channels go
    /// too only under [`PowerCycle::Unplug`] (see [`set_power_cycle`](Self::set_power_cycle)).
    pub fn power_cycle(&mut self, now: Instant) {
        tracing::info!(kind = ?self.power_cycle, "power cycle");
        self.waiting = None;
        let _ = self.join_worker();
        match self.power_cycle {
            PowerCycle::KeepChannels => self.hid.power_cycle_keeping_channels(),
            PowerCycle::Unplug => self.hid.power_cycle(),
        }
        self.auth_mut().power_cycle(now);
    }

    /// Advances timers and pending prompts to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.hid.handle_timeout(now);
        self.process(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hid = self.hid.poll_timeout();
        let prompt = self.waiting.as_ref().map(|w| w.deadline.min(w.next_poll));
        let work = self.working.as_ref().map(|w| w.next_poll);
        [hid, prompt, work].into_iter().flatten().min()
    }

    /// Whether a slow computation is running on the worker thread (a
    /// simulated clock should follow the real one meanwhile).
    pub fn is_working(&self) -> bool {
        self.working.is_some()
    }

    /// The next input report for the host.
    pub fn poll_report(&mut self) -> Option<[u8; REPORT_LEN]> {
        self.hid.poll_report()
    }

    /// The authenticator (for the runtime's own needs, e.g. closing a vault).
    /// A slow computation in flight is waited for, and its answer sent.
    pub fn authenticator_mut(&mut self) -> &mut Authenticator<S, R> {
        if let Some((request, outcome)) = self.join_worker() {
            self.apply(request, outcome, Instant::now());
        }
        self.auth_mut()
    }

    fn auth_mut(&mut self) -> &mut Authenticator<S, R> {
        self.auth.as_mut().expect(
            "the authenticator is home unless a worker has it, and join_worker brings it back",
        )
    }

    /// Waits for the worker thread, if any, and takes the authenticator back;
    /// the request it was answering and its outcome.
    fn join_worker(&mut self) -> Option<(RequestId, Outcome)> {
        let working = self.working.take()?;
        let (auth, outcome) = working
            .worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.auth = Some(auth);
        Some((working.request, outcome))
    }

    /// Takes the worker's outcome once it is there (and polls again later).
    fn poll_worker(&mut self, now: Instant) {
        let Some(working) = self.working.as_mut() else {
            return;
        };
        if !working.worker.is_finished() {
            working.next_poll = now + WORK_POLL;
            return;
        }
        if let Some((request, outcome)) = self.join_worker() {
            self.apply(request, outcome, now);
        }
    }

    fn process(&mut self, now: Instant) {
        self.poll_worker(now);
        while let Some(event) = self.hid.poll_event() {
            if self.working.is_some() && !matches!(event, DeviceEvent::Wink { .. }) {
                // Only a request in flight can be working; a new one means
                // the host gave up on it: wait for the authenticator (its
                // answer goes nowhere), then serve the new one. A CANCEL
                // comes too late for a request past its touch.
                let _ = self.join_worker();
            }
            match event {
                DeviceEvent::Request {
                    kind: RequestKind::Cbor,
                    payload,
                    channel,
                } => {
                    let Some(request) = self.hid.in_flight_request() else {
                        continue;
                    };
                    // A new request abandons any prompt left over from an
                    // aborted one (its channel was re-INITed).
                    self.waiting = None;
                    // Requests carry PIN protocol values and blobs: wiped after use.
                    let mut payload = Zeroizing::new(payload);
                    let command = payload.first().copied().unwrap_or(0);
                    self.command = command;
                    self.ctap1 = false;
                    tracing::info!(
                        channel = format_args!("{channel:08x}"),
                        command = command_name(command),
                        len = payload.len(),
                        "CTAP request"
                    );
                    if let Some(hooks) = self.hooks.as_mut()
                        && let Some(reply) = hooks.on_request(&mut payload, now)
                    {
                        self.reply(request, reply, now);
                        continue;
                    }
                    let outcome = self.auth_mut().handle(&payload, now);
                    self.apply(request, outcome, now);
                }
                DeviceEvent::Request {
                    kind: RequestKind::Msg,
                    payload,
                    channel,
                } => {
                    // CTAP1/U2F (reached only when the framing layer was
                    // configured with MSG enabled).
                    let Some(request) = self.hid.in_flight_request() else {
                        continue;
                    };
                    self.waiting = None;
                    tracing::info!(
                        channel = format_args!("{channel:08x}"),
                        ins = payload.get(1).copied().unwrap_or(0),
                        len = payload.len(),
                        "CTAP1 request"
                    );
                    self.ctap1 = true;
                    let mut payload = Zeroizing::new(payload);
                    if let Some(hooks) = self.hooks.as_mut()
                        && let Some(reply) = hooks.on_ctap1_request(&mut payload, now)
                    {
                        self.reply(request, reply, now);
                        continue;
                    }
                    let outcome = self.auth_mut().handle_ctap1(&payload, now);
                    self.apply(request, outcome, now);
                }
                DeviceEvent::Cancel { channel } => {
                    if let Some(waiting) = self.waiting.take() {
                        tracing::info!(
                            channel = format_args!("{channel:08x}"),
                            "request cancelled by the host"
                        );
                        if let Some(reply) = self.auth_mut().cancel() {
                            self.reply(waiting.request, reply, now);
                        }
                    }
                }
                DeviceEvent::Wink { channel } => {
                    tracing::info!(channel = format_args!("{channel:08x}"), "wink");
                }
            }
        }
        self.poll_presence(now);
    }

    fn poll_presence(&mut self, now: Instant) {
        let Some(waiting) = self.waiting.as_mut() else {
            return;
        };
        if self.hid.in_flight_request() != Some(waiting.request) {
            // The request was aborted underneath us (re-INIT, power cycle).
            self.waiting = None;
            self.auth_mut().cancel();
            return;
        }
        let verdict = match waiting.pending.poll(now) {
            Some(verdict) => verdict,
            None if now >= waiting.deadline => Verdict::TimedOut,
            None => {
                waiting.next_poll = now + PRESENCE_POLL;
                return;
            }
        };
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        tracing::info!(?verdict, "user presence");
        if let Some(hooks) = self.hooks.as_mut() {
            hooks.on_verdict(verdict, now);
        }
        if verdict == Verdict::Approved && self.auth_mut().resume_is_slow() {
            self.resume_on_worker(waiting.request, now);
            return;
        }
        let outcome = self.auth_mut().resume(verdict, now);
        self.apply(waiting.request, outcome, now);
    }

    /// Runs an approved, slow `resume` on a worker thread; keepalives say
    /// PROCESSING (the user has answered) until it is done.
    fn resume_on_worker(&mut self, request: RequestId, now: Instant) {
        let Some(auth) = self.auth.take() else {
            return;
        };
        self.hid.set_keepalive(KeepaliveStatus::Processing);
        // Handed over through a slot, so that it comes back if no thread
        // can be started (the closure is then dropped without running).
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(auth)));
        let handed = std::sync::Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("softkey-keygen".into())
            .spawn(move || {
                let mut auth = handed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                    .expect("the slot holds the authenticator until the worker takes it");
                let outcome = auth.resume(Verdict::Approved, now);
                (auth, outcome)
            });
        match spawned {
            Ok(worker) => {
                self.working = Some(Working {
                    request,
                    worker,
                    next_poll: now + WORK_POLL,
                });
            }
            Err(error) => {
                tracing::warn!(%error, "no worker thread: generating the key here, without keepalives");
                self.auth = slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                let outcome = self.auth_mut().resume(Verdict::Approved, now);
                self.apply(request, outcome, now);
            }
        }
    }

    fn apply(&mut self, request: RequestId, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Reply(reply) => self.reply(request, reply, now),
            Outcome::AwaitUser(prompt) => {
                // Names from the platform reach no provider (nor the log) raw.
                let prompt = crate::presence::sanitize_prompt(&prompt);
                self.hid.set_keepalive(KeepaliveStatus::UpNeeded);
                let verifier = self
                    .verifier
                    .as_mut()
                    .filter(|_| prompt.action == PromptAction::Verify);
                let (provider, pending) = match verifier {
                    Some(verifier) => (verifier.name(), verifier.verify(&prompt)),
                    None => (self.presence.name(), self.presence.ask(&prompt)),
                };
                tracing::info!(
                    action = crate::presence::action_name(prompt.action),
                    rp = prompt.rp_id.as_deref().unwrap_or("-"),
                    provider,
                    "waiting for the user"
                );
                self.waiting = Some(Waiting {
                    request,
                    pending,
                    deadline: now + self.user_timeout,
                    next_poll: now + PRESENCE_POLL,
                });
                // An immediate answer (auto-approve) is taken at once.
                self.poll_presence(now);
            }
        }
    }

    fn reply(&mut self, request: RequestId, mut reply: Vec<u8>, now: Instant) {
        if self.ctap1 {
            if let Some(hooks) = self.hooks.as_mut() {
                hooks.on_ctap1_response(&mut reply, now);
            }
            tracing::info!(
                sw = status_word(&reply),
                len = reply.len(),
                "CTAP1 response"
            );
            self.hid.respond_to(request, reply, now);
            return;
        }
        if let Some(hooks) = self.hooks.as_mut() {
            hooks.on_response(self.command, &mut reply, now);
        }
        let status = reply.first().copied().unwrap_or(0);
        tracing::info!(
            status = status_name(status),
            len = reply.len(),
            "CTAP response"
        );
        self.hid.respond_to(request, reply, now);
    }
}

/// The status word ending a CTAP1/U2F response, in hex ("9000").
pub fn status_word(reply: &[u8]) -> Option<String> {
    let at = reply.len().checked_sub(2)?;
    reply
        .get(at..)
        .map(|sw| sw.iter().map(|b| format!("{b:02X}")).collect())
}

fn status_name(code: u8) -> String {
    match StatusCode::from_code(code) {
        Some(status) => status.name().to_owned(),
        None => format!("0x{code:02X}"),
    }
}
