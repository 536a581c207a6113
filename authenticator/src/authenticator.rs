//! The authenticator state machine: requests in, replies or "ask the user" out.

use std::time::{Duration, Instant};

use crate::commands::{self, Command, Response};
use crate::crypto::Algorithm;
use crate::pin::PinRuntime;
use crate::policy::{CredentialPolicy, PlainKey};
use crate::secret::Secret32;
use crate::status::StatusCode;
use crate::store::Store;

/// softkey's AAGUID (one fixed value for every softkey authenticator):
/// 6fe254e0-9452-4e0f-aab0-6472b68f1804.
pub const AAGUID: [u8; 16] = [
    0x6f, 0xe2, 0x54, 0xe0, 0x94, 0x52, 0x4e, 0x0f, 0xaa, 0xb0, 0x64, 0x72, 0xb6, 0x8f, 0x18, 0x04,
];

/// How long getNextAssertion state lives (CTAP 2.1 §6.3: 30 seconds).
pub const NEXT_ASSERTION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after power-up authenticatorReset is allowed (CTAP 2.1 §6.6).
pub const RESET_WINDOW: Duration = Duration::from_secs(10);

/// Fixed properties of an authenticator.
#[derive(Clone, Debug)]
pub struct Config {
    /// The AAGUID reported in attested credential data and getInfo.
    pub aaguid: [u8; 16],
    /// Reset is only allowed this long after power-up; `None` lifts the limit
    /// (the simulator's choice, never the daily daemon's).
    pub reset_window: Option<Duration>,
    /// maxCredentialCountInList advertised in getInfo.
    pub max_credential_count_in_list: usize,
    /// firmwareVersion advertised in getInfo.
    pub firmware_version: u32,
    /// Whether the runtime offers built-in user verification (the OS's own
    /// authentication): then getInfo advertises `uv`, and the core asks for it
    /// with [`PromptAction::Verify`], answered `Approved` (verified) or `Denied`.
    pub built_in_uv: bool,
    /// How `packed` attestation statements and U2F registrations are
    /// signed. The default links nothing; [`AttestationMode::Certificate`]
    /// is the embedder's explicit choice of device attestation.
    pub attestation: AttestationMode,
    /// Whether the runtime routes CTAPHID MSG to [`Authenticator::handle_ctap1`]:
    /// then getInfo lists `U2F_V2` (unless alwaysUv is on).
    pub ctap1: bool,
    /// The algorithms new credentials may use; getInfo lists them in
    /// [`Algorithm::ALL`]'s order (ES256 first). Credentials made earlier with
    /// other algorithms keep working.
    pub algorithms: Vec<Algorithm>,
    /// Enterprise attestation capability, with the vendor-facilitated RP ID
    /// list (`None`: not capable, getInfo has no `ep`). Capable is not
    /// enabled: the platform enables it with authenticatorConfig.
    pub enterprise_attestation: Option<crate::enterprise::EnterpriseAttestation>,
}

/// How makeCredential attests new credentials (unless the platform's
/// attestationFormatsPreference asks for `none`) and how U2F registrations
/// are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttestationMode {
    /// `packed` self attestation: the credential key signs (WebAuthn §8.2).
    /// U2F, which has no self attestation, signs each registration with a
    /// fresh key under a self-signed certificate of its own. Nothing links
    /// one credential to another.
    #[default]
    SelfAttestation,
    /// Device attestation: `packed` with `x5c`, and every U2F registration,
    /// signed by the device's attestation key with its certificate (issued
    /// by the per-vault root, which relying parties may be given). Every
    /// relying party sees the same certificate, so registrations can be
    /// linked to one device, also across a reset (the identity survives
    /// it): the user's choice, never a default.
    Certificate,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            aaguid: AAGUID,
            reset_window: Some(RESET_WINDOW),
            max_credential_count_in_list: 16,
            firmware_version: 1,
            built_in_uv: false,
            attestation: AttestationMode::SelfAttestation,
            ctap1: false,
            algorithms: Algorithm::DEFAULT.to_vec(),
            enterprise_attestation: None,
        }
    }
}

/// What the runtime must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this CTAP2 response (status byte, then CBOR).
    Reply(Vec<u8>),
    /// Ask the person for presence; then call [`Authenticator::resume`].
    AwaitUser(UserPrompt),
}

/// What the person is asked to approve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPrompt {
    /// What approving does.
    pub action: PromptAction,
    /// The relying party concerned, if any.
    pub rp_id: Option<String>,
    /// The account concerned, if known.
    pub user_name: Option<String>,
}

/// The kind of action the person approves with a touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptAction {
    /// Create a passkey.
    Register,
    /// Sign in.
    SignIn,
    /// Confirm a request that will fail anyway (exclude list hit, PIN probe),
    /// so that a site cannot probe silently.
    Acknowledge,
    /// Erase every credential.
    Reset,
    /// Pick this authenticator among several.
    Select,
    /// Verify the person with built-in user verification (the OS's own
    /// authentication). `Approved` means verified, `Denied` means the
    /// verification failed; the person's presence is implied.
    Verify,
}

/// The person's answer to a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Approved (touched, clicked Allow).
    Approved,
    /// Refused.
    Denied,
    /// Nobody answered in time.
    TimedOut,
}

/// A request waiting for the person.
pub(crate) enum Pending {
    /// makeCredential, resumed at its user-presence step.
    MakeCredential(Box<commands::make_credential::Job>),
    /// getAssertion, resumed at its user-presence step.
    GetAssertion(Box<commands::get_assertion::Job>),
    /// A request that ends with this status after the touch.
    FailAfterTouch(StatusCode),
    /// authenticatorReset.
    Reset,
    /// authenticatorSelection.
    Selection,
    /// getPinUvAuthTokenUsingUvWithPermissions, waiting for built-in UV.
    UvToken(Box<commands::client_pin::UvTokenJob>),
    /// A CTAP1/U2F request (its answers are APDUs, not CTAP2 statuses).
    Ctap1(Box<crate::ctap1::Job>),
}

/// Mutable state shared by the command handlers.
pub struct Context<S: Store, R: rand_core::CryptoRng> {
    pub(crate) config: Config,
    pub(crate) store: S,
    pub(crate) rng: R,
    pub(crate) powered_up_at: Instant,
    pub(crate) next_assertions: Option<commands::get_assertion::NextAssertions>,
    pub(crate) pin: PinRuntime,
    pub(crate) credential_management: Option<commands::credential_management::Enumeration>,
    /// An authenticatorLargeBlobs write waiting for its next fragment.
    pub(crate) large_blob_write: Option<commands::large_blobs::PendingWrite>,
    /// Backup flags and counters per credential (a plain key's by default).
    pub(crate) policy: Box<dyn CredentialPolicy>,
    /// The key sealing credential IDs, derived once per device secret.
    pub(crate) credential_id_key: crate::credential::CredentialIdKeyCache,
}

/// A CTAP 2.1 authenticator.
pub struct Authenticator<S: Store, R: rand_core::CryptoRng> {
    ctx: Context<S, R>,
    pending: Option<Pending>,
}

impl<S: Store, R: rand_core::CryptoRng> Authenticator<S, R> {
    /// A powered-up authenticator over `store`, drawing randomness from `rng`.
    pub fn new(config: Config, store: S, mut rng: R, now: Instant) -> Self {
        let pin = PinRuntime::new(&mut rng);
        Self {
            ctx: Context {
                config,
                store,
                rng,
                powered_up_at: now,
                next_assertions: None,
                pin,
                credential_management: None,
                large_blob_write: None,
                policy: Box::new(PlainKey),
                credential_id_key: Default::default(),
            },
            pending: None,
        }
    }

    /// Handles one CTAP2 request (command byte + CBOR parameters).
    pub fn handle(&mut self, request: &[u8], now: Instant) -> Outcome {
        if self.pending.take().is_some() {
            tracing::debug!("a new request replaces one that was waiting for the user");
        }
        let command = match commands::parse(request) {
            Ok(command) => command,
            Err(status) => {
                tracing::debug!(%status, "request rejected while parsing");
                self.ctx.next_assertions = None;
                return Outcome::Reply(vec![status.code()]);
            }
        };
        tracing::debug!(command = command.name(), "request");
        if !matches!(command, Command::GetNextAssertion) {
            self.ctx.next_assertions = None;
        }
        if !command.continues_credential_management() {
            self.ctx.credential_management = None;
        }
        self.ctx.store.begin_request();
        let step = commands::dispatch(&mut self.ctx, command, now);
        self.ctx.store.end_request();
        self.finish_step(step)
    }

    /// Handles one CTAP1/U2F request APDU (a CTAPHID MSG payload); replies are
    /// response APDUs.
    pub fn handle_ctap1(&mut self, apdu: &[u8], _now: Instant) -> Outcome {
        self.pending = None;
        self.ctx.next_assertions = None;
        self.ctx.credential_management = None;
        self.ctx.store.begin_request();
        let next = crate::ctap1::start(&mut self.ctx, apdu);
        self.ctx.store.end_request();
        match next {
            crate::ctap1::Next::Reply(reply) => Outcome::Reply(reply),
            crate::ctap1::Next::AwaitUser(prompt, job) => {
                self.pending = Some(Pending::Ctap1(Box::new(job)));
                Outcome::AwaitUser(prompt)
            }
        }
    }

    /// Continues the request that was waiting for the person.
    pub fn resume(&mut self, verdict: Verdict, now: Instant) -> Outcome {
        let Some(pending) = self.pending.take() else {
            return Outcome::Reply(vec![StatusCode::NoOperations.code()]);
        };
        self.ctx.store.begin_request();
        if let Pending::Ctap1(job) = pending {
            let reply = match verdict {
                Verdict::Approved => crate::ctap1::finish(&mut self.ctx, *job),
                Verdict::Denied | Verdict::TimedOut => crate::ctap1::denied(),
            };
            self.ctx.store.end_request();
            return Outcome::Reply(reply);
        }
        let step = match verdict {
            Verdict::Approved => commands::resume(&mut self.ctx, pending, now),
            Verdict::Denied => Step::Done(Err(commands::denied(&mut self.ctx, pending))),
            Verdict::TimedOut => Step::Done(Err(StatusCode::UserActionTimeout)),
        };
        self.ctx.store.end_request();
        self.finish_step(step)
    }

    /// Cancels the request waiting for the person (CTAPHID CANCEL): its reply is
    /// `CTAP2_ERR_KEEPALIVE_CANCEL`. `None` when nothing was waiting.
    pub fn cancel(&mut self) -> Option<Vec<u8>> {
        self.pending.take().map(|pending| match pending {
            Pending::Ctap1(_) => crate::ctap1::denied(),
            _ => vec![StatusCode::KeepaliveCancel.code()],
        })
    }

    /// Whether a request is waiting for the person.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether [`resume`](Self::resume) with [`Verdict::Approved`] will take
    /// long: a makeCredential that generates an RSA key (a fifth of a second
    /// on average, seconds in the tail). The core still does not block on
    /// anything but computation; a runtime that must keep sending CTAPHID
    /// keepalives meanwhile runs that `resume` on another thread.
    pub fn resume_is_slow(&self) -> bool {
        matches!(&self.pending, Some(Pending::MakeCredential(job)) if job.slow())
    }

    /// A power cycle: volatile state is forgotten, persistent state kept.
    pub fn power_cycle(&mut self, now: Instant) {
        self.pending = None;
        self.ctx.next_assertions = None;
        self.ctx.credential_management = None;
        self.ctx.large_blob_write = None;
        self.ctx.powered_up_at = now;
        // A new key-agreement key and pinUvAuthToken; the consecutive-mismatch
        // count (PIN_AUTH_BLOCKED) starts again.
        self.ctx.pin = PinRuntime::new(&mut self.ctx.rng);
    }

    /// Hands backup flags and per-credential counters to `policy` (the
    /// simulator's control API); the default is a plain security key's.
    pub fn set_credential_policy(&mut self, policy: Box<dyn CredentialPolicy>) {
        self.ctx.policy = policy;
    }

    /// The store (for the runtime: listing credentials, closing a vault).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.ctx.store
    }

    /// Powers the authenticator off for good, giving back its store (a
    /// restart on the same vault builds a new authenticator over it).
    pub fn into_store(self) -> S {
        self.ctx.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    fn finish_step(&mut self, step: Step) -> Outcome {
        match step {
            Step::Done(result) => Outcome::Reply(encode_result(result)),
            Step::AwaitUser(prompt, pending) => {
                self.pending = Some(pending);
                Outcome::AwaitUser(prompt)
            }
        }
    }
}

/// Where a handler stopped.
pub(crate) enum Step {
    /// Finished.
    Done(Result<Response, StatusCode>),
    /// Needs the person.
    AwaitUser(UserPrompt, Pending),
}

/// The reply bytes. A response may carry a secret (a largeBlobKey): it is
/// encoded in zeroizing buffers, and the reply is allocated once, at its
/// final size, so that no partial copy is left behind. The reply itself
/// belongs to the runtime.
fn encode_result(result: Result<Response, StatusCode>) -> Vec<u8> {
    match result {
        Ok(response) => {
            let body = response.0.map(crate::cbor::encode_secret);
            let body: &[u8] = body.as_deref().map_or(&[], |body| body.as_slice());
            let mut out = Vec::with_capacity(1 + body.len());
            out.push(StatusCode::Ok.code());
            out.extend_from_slice(body);
            out
        }
        Err(status) => {
            tracing::debug!(%status, "request failed");
            vec![status.code()]
        }
    }
}

impl<S: Store, R: rand_core::CryptoRng> Context<S, R> {
    /// A fresh 256-bit secret from the RNG.
    pub(crate) fn random_secret(&mut self) -> Secret32 {
        Secret32::random(&mut self.rng)
    }
}
