//! The simulator's control API: JSON over HTTP on loopback, for testers.
//!
//! ```text
//!  tester ──HTTP (bearer token)──► api (axum, tokio) ──► registry of VirtualAuthenticator
//!                                                          │ each: own thread + UDP port
//!  CTAP client ──UDP reports──► device::serve ─► KeyDevice ─► hooks (trace, faults, profile)
//!                                                          └─► events ──SSE──► tester
//! ```
//!
//! Paths and JSON shapes follow the W3C WebAuthn Level 3 "Virtual
//! Authenticators" WebDriver extension
//! (<https://www.w3.org/TR/webauthn-3/#sctn-automation>), any session id
//! accepted; softkey's additions (scripted presence, faults, power cycle,
//! event stream, CXF export and import) live beside them. `/openapi.json` describes it all.

pub mod api;
pub(crate) mod cbor_fields;
pub mod credentials;
pub mod cxf;
pub mod device;
pub mod error;
pub mod events;
pub mod hooks;
pub mod large_blob;
pub mod options;
pub mod persistent;
pub mod policy;
pub mod presence;
pub mod token;
pub mod trace;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

use crate::control::api::AppState;
use crate::control::device::VirtualAuthenticator;
use crate::control::events::EventSink;

/// At most this many virtual authenticators run at once.
pub const MAX_AUTHENTICATORS: usize = 64;

/// A running control server. Dropping it stops the server and every
/// authenticator it holds.
pub struct ControlServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The file holding the bearer token (mode 0600).
    pub token_file: PathBuf,
    state: Arc<AppState>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("addr", &self.addr)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

impl ControlServer {
    /// Starts serving on `addr` (loopback only); the bearer token is written
    /// to a new file, `token_file` or by default
    /// `softkey-control-<port>.token` in a private directory (see [`token`]).
    /// Persistent vaults, if allowed, live in `vault_dir`, under
    /// `persistent`'s rules; `uhid_default` gives new authenticators a UHID
    /// device unless their options say `"softkey:uhid": false`;
    /// `algorithms_default` is what they offer unless their options say
    /// `softkey:algorithms`.
    pub fn start(
        addr: SocketAddr,
        token_file: Option<PathBuf>,
        vault_dir: Option<PathBuf>,
        persistent: persistent::PersistentRules,
        uhid_default: Option<device::UhidSpec>,
        algorithms_default: Vec<softkey_authenticator::crypto::Algorithm>,
        shutdown: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = &vault_dir {
            anyhow::ensure!(
                dir.is_dir(),
                "--control-vault-dir {} is not a directory",
                dir.display()
            );
        }
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the control API listens on loopback only, not {addr}"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("softkey-control")
            .enable_all()
            .build()
            .context("starting the control API runtime")?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let token_bytes: [u8; 32] = rand::RngExt::random(&mut rand::rng());
        let token: String = token_bytes.iter().map(|b| format!("{b:02x}")).collect();
        let token_file = match token_file {
            Some(path) => {
                token::write_new(&path, &token)?;
                path
            }
            None => token::write_in_private_dir(
                &token::default_dir(),
                &token::file_name(addr.port()),
                &token,
            )?,
        };
        let state = Arc::new(AppState {
            registry: Mutex::new(BTreeMap::new()),
            events: EventSink::default(),
            token,
            vault_dir,
            persistent,
            uhid_default,
            algorithms_default,
            shutdown: Arc::clone(&shutdown),
        });
        let router = api::router(Arc::clone(&state));
        runtime.spawn(async move {
            let stopped = async move {
                while !shutdown.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "control API stopped");
            }
        });
        Ok(Self {
            addr,
            token_file,
            state,
            runtime: Some(runtime),
        })
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The event stream (for authenticators started outside the API).
    pub fn events(&self) -> EventSink {
        self.state.events.clone()
    }

    /// Adds an authenticator started outside the API (the default one).
    pub fn register(&self, authenticator: VirtualAuthenticator) {
        api::register(&self.state, authenticator);
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        let authenticators = std::mem::take(
            &mut *self
                .state
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        drop(authenticators);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        let _ = std::fs::remove_file(&self.token_file);
    }
}
