//! Built-in user verification with a fingerprint, through fprintd's D-Bus
//! API (`net.reactivated.Fprint` on the system bus).
//!
//! ```text
//!  verify(prompt) ─► thread: Manager.GetDefaultDevice ─► Device.Claim("")
//!                      ─► VerifyStart("any") ◄── VerifyStatus(result, done) …
//!                      ─► VerifyStop ─► Release ─► Approved (verify-match)
//!                                                  Denied   (verify-no-match: uvRetries − 1)
//!  PendingVerdict dropped (CTAPHID CANCEL, user timeout, power cycle)
//!                      ─► VerifyStop ─► Release
//! ```
//!
//! Calls used, from fprintd's published interface (`net.reactivated.Fprint.Manager`
//! and `net.reactivated.Fprint.Device`): `GetDefaultDevice`, `Claim`,
//! `ListEnrolledFingers`, `VerifyStart`, the `VerifyStatus` signal,
//! `VerifyStop`, `Release`, and the device's `name` property. An empty user
//! name means the user softkey runs as.
//!
//! How outcomes reach CTAP: a match verifies; a no-match is a failed
//! verification, which the core counts against uvRetries (`UV_INVALID`, then
//! `UV_BLOCKED`); "scan again" statuses keep waiting. When verification
//! cannot run at all (fprintd absent, no reader, no enrolled finger, the
//! reader busy or failing), nobody was verified and nobody failed: the request
//! ends as a timeout (`CTAP2_ERR_USER_ACTION_TIMEOUT`) without touching
//! uvRetries, and the reason is logged. CTAPHID CANCEL ends it with
//! `CTAP2_ERR_KEEPALIVE_CANCEL` and the runtime's user timeout with
//! `CTAP2_ERR_USER_ACTION_TIMEOUT`; either way the reader is released.

use std::fmt;
use std::sync::mpsc;
use std::time::Instant;

use futures_util::StreamExt as _;
use softkey_authenticator::{UserPrompt, Verdict};
use tokio::sync::oneshot;
use zbus::{Connection, OwnedObjectPath, Proxy};

use super::UserVerifier;
use crate::presence::PendingVerdict;

/// fprintd's bus name.
pub const SERVICE: &str = "net.reactivated.Fprint";
const MANAGER_PATH: &str = "/net/reactivated/Fprint/Manager";
const MANAGER_INTERFACE: &str = "net.reactivated.Fprint.Manager";
const DEVICE_INTERFACE: &str = "net.reactivated.Fprint.Device";
/// Verify with any enrolled finger.
const ANY_FINGER: &str = "any";

/// Which D-Bus bus fprintd is on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FprintdBus {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
    #[default]
    System,
    /// A bus at this D-Bus address (`unix:path=…`), e.g. a private test bus.
    Address(String),
}

/// Why fingerprint verification cannot run. (A finger that does not match
/// is no error: it is a failed verification.)
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FprintdError {
    /// Nothing on the bus answers as fprintd.
    Absent {
        /// What the bus said.
        reason: String,
    },
    /// fprintd knows no fingerprint reader.
    NoDevice,
    /// No finger is enrolled for the user.
    NoEnrolledFinger,
    /// Another program has claimed the reader.
    Busy,
    /// fprintd (polkit) refused.
    PermissionDenied(String),
    /// The reader disconnected or failed while verifying.
    DeviceFailed(String),
    /// Any other D-Bus failure.
    Other {
        /// What softkey was doing.
        doing: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl fmt::Display for FprintdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent { reason } => write!(
                f,
                "fprintd is not reachable on the system bus ({reason}): install fprintd \
                 (Debian/Ubuntu: sudo apt install fprintd), or choose another --verify"
            ),
            Self::NoDevice => f.write_str(
                "fprintd found no fingerprint reader: plug one in (`fprintd-list $USER` \
                 shows what fprintd sees), or choose another --verify",
            ),
            Self::NoEnrolledFinger => {
                f.write_str("no finger is enrolled for this user: enroll one with `fprintd-enroll`")
            }
            Self::Busy => f.write_str(
                "the fingerprint reader is busy: another program (a login screen, \
                 another softkey) has claimed it",
            ),
            Self::PermissionDenied(message) => {
                write!(f, "fprintd refused to let this user verify: {message}")
            }
            Self::DeviceFailed(message) => {
                write!(
                    f,
                    "the fingerprint reader failed while verifying: {message}"
                )
            }
            Self::Other { doing, message } => write!(f, "fprintd: {doing}: {message}"),
        }
    }
}

impl std::error::Error for FprintdError {}

/// Maps a D-Bus failure to a named reason.
fn fprintd_error(doing: &'static str, error: zbus::Error) -> FprintdError {
    match &error {
        zbus::Error::Connection(..)
        | zbus::Error::Address(_)
        | zbus::Error::InputOutput(_)
        | zbus::Error::Handshake(_) => FprintdError::Absent {
            reason: format!("cannot reach the bus: {error}"),
        },
        zbus::Error::FDO(fdo)
            if matches!(
                **fdo,
                zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
            ) =>
        {
            FprintdError::Absent {
                reason: format!("nothing on the bus provides {SERVICE}"),
            }
        }
        zbus::Error::MethodError(name, message, _) => {
            let message = message.clone().unwrap_or_default();
            match name.as_str().strip_prefix("net.reactivated.Fprint.Error.") {
                Some("NoSuchDevice") => FprintdError::NoDevice,
                Some("NoEnrolledPrints") => FprintdError::NoEnrolledFinger,
                Some("AlreadyInUse") => FprintdError::Busy,
                Some("PermissionDenied") => FprintdError::PermissionDenied(message),
                _ => FprintdError::Other {
                    doing,
                    message: format!("{name}: {message}"),
                },
            }
        }
        _ => FprintdError::Other {
            doing,
            message: error.to_string(),
        },
    }
}

/// What fprintd offers this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FprintdStatus {
    /// The default reader's name.
    pub device: String,
    /// The fingers enrolled for the user.
    pub fingers: Vec<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, FprintdError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| FprintdError::Other {
            doing: "starting the D-Bus client's runtime",
            message: error.to_string(),
        })
}

async fn connect(bus: &FprintdBus) -> Result<Connection, FprintdError> {
    let builder = match bus {
        FprintdBus::System => zbus::connection::Builder::system(),
        FprintdBus::Address(address) => zbus::connection::Builder::address(address.as_str()),
    };
    builder
        .build()
        .await
        .map_err(|e| fprintd_error("connecting to the bus", e))
}

/// The default reader, as a proxy.
async fn default_device(connection: &Connection) -> Result<Proxy<'static>, FprintdError> {
    let manager = Proxy::new(connection, SERVICE, MANAGER_PATH, MANAGER_INTERFACE)
        .await
        .map_err(|e| fprintd_error("reaching the manager", e))?;
    let path: OwnedObjectPath = manager
        .call("GetDefaultDevice", &())
        .await
        .map_err(|e| fprintd_error("finding the reader", e))?;
    Proxy::new(connection, SERVICE, path, DEVICE_INTERFACE)
        .await
        .map_err(|e| fprintd_error("reaching the reader", e))
}

/// Asks fprintd for the default reader and the user's enrolled fingers: the
/// check `--verify fprintd` makes before softkey advertises `uv`, and
/// `softkey doctor`'s.
pub fn probe(bus: &FprintdBus) -> Result<FprintdStatus, FprintdError> {
    runtime()?.block_on(async {
        let connection = connect(bus).await?;
        let device = default_device(&connection).await?;
        let name: String = device
            .get_property("name")
            .await
            .unwrap_or_else(|_| "fingerprint reader".into());
        let fingers: Vec<String> = device
            .call("ListEnrolledFingers", &("",))
            .await
            .map_err(|e| fprintd_error("listing enrolled fingers", e))?;
        if fingers.is_empty() {
            return Err(FprintdError::NoEnrolledFinger);
        }
        Ok(FprintdStatus {
            device: name,
            fingers,
        })
    })
}

/// How one verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `verify-match`.
    Match,
    /// `verify-no-match`.
    NoMatch,
    /// The request was abandoned (cancel, timeout, power cycle).
    Abandoned,
}

/// Claims the reader, verifies once, stops and releases (also when
/// abandoned through `cancel`, whose sender is dropped).
pub async fn verify_once(
    bus: &FprintdBus,
    mut cancel: oneshot::Receiver<()>,
) -> Result<Outcome, FprintdError> {
    let connection = connect(bus).await?;
    let device = default_device(&connection).await?;
    device
        .call::<_, _, ()>("Claim", &("",))
        .await
        .map_err(|e| fprintd_error("claiming the reader", e))?;
    let result = async {
        // Subscribe before VerifyStart: the first status may come at once.
        let mut statuses = device
            .receive_signal("VerifyStatus")
            .await
            .map_err(|e| fprintd_error("listening for VerifyStatus", e))?;
        device
            .call::<_, _, ()>("VerifyStart", &(ANY_FINGER,))
            .await
            .map_err(|e| fprintd_error("starting verification", e))?;
        tracing::info!("fingerprint verification started: touch the reader");
        let outcome = loop {
            tokio::select! {
                message = statuses.next() => {
                    let Some(message) = message else {
                        break Err(FprintdError::DeviceFailed("fprintd went away".into()));
                    };
                    let (result, done): (String, bool) = message
                        .body()
                        .deserialize()
                        .map_err(|e| fprintd_error("reading VerifyStatus", e))?;
                    match (result.as_str(), done) {
                        ("verify-match", _) => break Ok(Outcome::Match),
                        ("verify-no-match", _) => break Ok(Outcome::NoMatch),
                        ("verify-disconnected" | "verify-unknown-error", _) => {
                            break Err(FprintdError::DeviceFailed(result));
                        }
                        (_, false) => tracing::info!(status = %result, "fingerprint: scan again"),
                        (_, true) => break Err(FprintdError::DeviceFailed(result)),
                    }
                }
                _ = &mut cancel => break Ok(Outcome::Abandoned),
            }
        };
        // fprintd wants VerifyStop after every VerifyStart, finished or not.
        if let Err(error) = device.call::<_, _, ()>("VerifyStop", &()).await {
            tracing::debug!(%error, "VerifyStop");
        }
        outcome
    }
    .await;
    if let Err(error) = device.call::<_, _, ()>("Release", &()).await {
        tracing::warn!(%error, "fingerprint reader not released");
    }
    result
}

/// Verifies the person with a fingerprint through fprintd.
#[derive(Debug, Clone, Default)]
pub struct FprintdVerifier {
    bus: FprintdBus,
}

impl FprintdVerifier {
    /// A verifier that asks the fprintd on `bus`.
    pub fn new(bus: FprintdBus) -> Self {
        Self { bus }
    }

    /// A verifier, once fprintd has shown a reader and an enrolled finger:
    /// softkey advertises `uv` only when a finger can verify.
    pub fn checked(bus: FprintdBus) -> Result<Self, FprintdError> {
        let status = probe(&bus)?;
        tracing::info!(
            device = %status.device,
            fingers = status.fingers.len(),
            "fingerprint verification through fprintd"
        );
        Ok(Self::new(bus))
    }
}

struct FingerprintVerdict {
    answer: mpsc::Receiver<Verdict>,
    result: Option<Verdict>,
    /// Dropped with the verdict: abandons the verification.
    _cancel: oneshot::Sender<()>,
}

impl PendingVerdict for FingerprintVerdict {
    fn poll(&mut self, _now: Instant) -> Option<Verdict> {
        if self.result.is_none() {
            self.result = self.answer.try_recv().ok();
        }
        self.result
    }
}

impl UserVerifier for FprintdVerifier {
    fn verify(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let (sender, answer) = mpsc::channel();
        let (cancel_sender, cancel) = oneshot::channel();
        let bus = self.bus.clone();
        tracing::debug!(rp = ?prompt.rp_id, "fingerprint verification requested");
        let spawned = std::thread::Builder::new()
            .name("softkey-fprintd".into())
            .spawn(move || {
                let outcome = runtime().and_then(|rt| rt.block_on(verify_once(&bus, cancel)));
                let verdict = match outcome {
                    Ok(Outcome::Match) => Verdict::Approved,
                    Ok(Outcome::NoMatch) => Verdict::Denied,
                    Ok(Outcome::Abandoned) => return,
                    Err(error) => {
                        tracing::error!(%error, "fingerprint verification could not run");
                        Verdict::TimedOut
                    }
                };
                let _ = sender.send(verdict);
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "fingerprint verification thread not started");
            return crate::presence::answered(Verdict::TimedOut);
        }
        Box::new(FingerprintVerdict {
            answer,
            result: None,
            _cancel: cancel_sender,
        })
    }

    fn name(&self) -> &'static str {
        "fprintd"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fprintd_errors_name_the_fix() {
        let absent = FprintdError::Absent {
            reason: "nothing on the bus provides net.reactivated.Fprint".into(),
        };
        assert!(absent.to_string().contains("install fprintd"), "{absent}");
        assert!(
            FprintdError::NoEnrolledFinger
                .to_string()
                .contains("fprintd-enroll")
        );
        assert!(
            FprintdError::NoDevice
                .to_string()
                .contains("no fingerprint reader")
        );
        assert!(FprintdError::Busy.to_string().contains("busy"));
    }

    #[test]
    fn fprintd_method_errors_map_to_named_reasons() {
        let method_error = |name: &str| {
            zbus::Error::MethodError(
                zbus::names::OwnedErrorName::try_from(name).expect("error name"),
                Some("detail".into()),
                zbus::message::Message::method_call("/", "Ping")
                    .build(&())
                    .expect("message"),
            )
        };
        let cases = [
            (
                "net.reactivated.Fprint.Error.NoSuchDevice",
                FprintdError::NoDevice,
            ),
            (
                "net.reactivated.Fprint.Error.NoEnrolledPrints",
                FprintdError::NoEnrolledFinger,
            ),
            (
                "net.reactivated.Fprint.Error.AlreadyInUse",
                FprintdError::Busy,
            ),
            (
                "net.reactivated.Fprint.Error.PermissionDenied",
                FprintdError::PermissionDenied("detail".into()),
            ),
        ];
        for (name, expected) in cases {
            assert_eq!(fprintd_error("testing", method_error(name)), expected);
        }
    }
}
