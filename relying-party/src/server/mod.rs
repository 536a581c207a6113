//! The demo relying party: an axum server with a real page (sign up with a passkey,
//! sign in with a username or username-less via autofill, list and delete passkeys,
//! sign out) and the JSON API behind it.
//!
//! ```text
//! GET  /                      page (index.html + app.js, embedded)
//! POST /api/register/options  {"username"}           → PublicKeyCredentialCreationOptionsJSON
//! POST /api/register/verify   RegistrationResponseJSON → {"username"} + session cookie
//! POST /api/login/options     {"username"} or {}     → PublicKeyCredentialRequestOptionsJSON
//! POST /api/login/verify      AuthenticationResponseJSON → {"username"} + session cookie
//! GET  /api/me                → {"username", "credentials": [...]}
//! DELETE /api/credentials/{id}, POST /api/logout
//! failures: 4xx {"error": name, "message": text}
//! ```
//!
//! Sessions are random tokens in an `HttpOnly; SameSite=Strict` cookie, kept in memory.

mod api;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::RelyingParty;
use crate::store::{Store, StoreError};

/// How to run the demo server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// RP ID (a registrable suffix of the origin's host).
    pub rp_id: String,
    /// RP display name.
    pub rp_name: String,
    /// The exact origin browsers will report, e.g. `http://localhost:8080`.
    pub origin: String,
    /// SQLite file; `None` keeps everything in memory.
    pub database: Option<PathBuf>,
    /// COSE algorithms offered at sign-up, most preferred first (each one
    /// [`crate::cose`] verifies). A sign-up that asks for a post-quantum
    /// passkey puts ML-DSA in front of these.
    pub algorithms: Vec<i64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            rp_id: "localhost".into(),
            rp_name: "softkey demo".into(),
            origin: "http://localhost:8080".into(),
            database: None,
            algorithms: crate::cose::ALGORITHMS
                .iter()
                .map(|(alg, _)| *alg)
                .collect(),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Could not listen on the configured address.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The credential store could not be opened.
    #[error("credential store: {0}")]
    Store(#[from] StoreError),
    /// The HTTP server failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// Runs the demo server until the process ends: binds `config.listen`, then serves.
/// This is what `softkey rp` calls.
pub async fn serve(config: ServerConfig) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            address: config.listen,
            source,
        })?;
    serve_on(listener, config).await
}

/// Serves on an already bound listener (tests bind port 0 and read the port back).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
) -> Result<(), ServerError> {
    serve_until(listener, config, std::future::pending()).await
}

/// Serves on `listener` until `shutdown` completes (e.g. `tokio::signal::ctrl_c()`),
/// then finishes the requests in flight and returns.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = router(&config)?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, origin = %config.origin, rp_id = %config.rp_id, "relying party listening");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

/// The axum router with its state, for embedding in another server.
pub fn router(config: &ServerConfig) -> Result<axum::Router, ServerError> {
    let store = match &config.database {
        Some(path) => Store::open(path)?,
        None => Store::open_in_memory()?,
    };
    let mut rp = RelyingParty::new(
        config.rp_id.clone(),
        config.rp_name.clone(),
        vec![config.origin.clone()],
    );
    rp.algorithms.clone_from(&config.algorithms);
    let state = Arc::new(api::AppState::new(
        rp,
        store,
        config.origin.starts_with("https://"),
    ));
    Ok(api::routes(state))
}
