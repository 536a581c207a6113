//! Handlers of the demo server's page and JSON API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;

use crate::challenge::ChallengeStore;
use crate::client_data::CollectedClientData;
use crate::cose::ML_DSA_ALGORITHMS;
use crate::options::{CredentialDescriptor, UserEntity};
use crate::response::{AuthenticationResponseJson, RegistrationResponseJson};
use crate::store::{Store, StoreError, new_user_handle};
use crate::{AuthenticationState, Error, RegistrationState, RelyingParty, b64};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const SESSION_COOKIE: &str = "softkey_session";

/// A registration in flight: the ceremony state plus the account it will create or extend.
struct PendingRegistration {
    state: RegistrationState,
    username: String,
    display_name: String,
    new_user: bool,
}

/// How long a sign-in lasts.
const SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);

/// A signed-in browser.
struct Session {
    user_handle: Vec<u8>,
    expires_at: SystemTime,
}

/// Shared server state.
pub(super) struct AppState {
    rp: RelyingParty,
    store: Store,
    registrations: ChallengeStore<PendingRegistration>,
    logins: ChallengeStore<AuthenticationState>,
    sessions: Mutex<HashMap<String, Session>>,
    secure_cookies: bool,
}

impl AppState {
    pub(super) fn new(rp: RelyingParty, store: Store, secure_cookies: bool) -> Self {
        Self {
            rp,
            store,
            registrations: ChallengeStore::default(),
            logins: ChallengeStore::default(),
            sessions: Mutex::new(HashMap::new()),
            secure_cookies,
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Each operation is a single insert/remove/get: a poisoned map is still consistent.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The signed-in user's handle, from the session cookie.
    fn session_user(&self, headers: &HeaderMap) -> Option<Vec<u8>> {
        let token = session_token(headers)?;
        let mut sessions = self.sessions();
        let now = SystemTime::now();
        match sessions.get(&token) {
            Some(session) if now <= session.expires_at => Some(session.user_handle.clone()),
            Some(_) => {
                sessions.remove(&token);
                None
            }
            None => None,
        }
    }

    /// Starts a session for `user_handle`; returns the Set-Cookie value.
    fn start_session(&self, user_handle: Vec<u8>) -> String {
        let token = b64::encode(&crate::challenge::random_challenge());
        let now = SystemTime::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, session| now <= session.expires_at);
        sessions.insert(
            token.clone(),
            Session {
                user_handle,
                expires_at: now + SESSION_LIFETIME,
            },
        );
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let max_age = SESSION_LIFETIME.as_secs();
        format!(
            "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
        )
    }
}

pub(super) fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/api/register/options", post(register_options))
        .route("/api/register/verify", post(register_verify))
        .route("/api/login/options", post(login_options))
        .route("/api/login/verify", post(login_verify))
        .route("/api/me", get(me))
        .route("/api/logout", post(logout))
        .route("/api/credentials/{id}", delete(delete_credential))
        .with_state(state)
}

/// A failure answered as `{"error": name, "message": text}`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match error {
            Error::CredentialAlreadyRegistered => StatusCode::CONFLICT,
            Error::UnknownCredential => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, error.name(), error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UsernameTaken => {
                Self::new(StatusCode::CONFLICT, "username_taken", error.to_string())
            }
            StoreError::CredentialExists => Error::CredentialAlreadyRegistered.into(),
            other => {
                tracing::error!(error = %other, "credential store failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_error",
                    "credential store failure",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({ "error": self.name, "message": self.message })),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| Error::MalformedResponse(error.to_string()).into())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(SESSION_COOKIE)?
                .strip_prefix('=')
                .map(str::to_owned)
        })
}

fn with_cookie(body: serde_json::Value, cookie: &str) -> Response {
    let mut response = axum::Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The challenge a response's clientDataJSON carries: the key of its pending ceremony.
fn response_challenge(client_data_json_b64: &str) -> Result<Vec<u8>, Error> {
    let client_data_json = b64::decode(client_data_json_b64, "clientDataJSON")?;
    CollectedClientData::parse(&client_data_json)?.challenge_bytes()
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        APP_JS,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsernameRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    /// Sign-up only: offer ML-DSA before the configured algorithms.
    #[serde(default)]
    prefer_post_quantum: bool,
}

fn valid_username(username: &str) -> Result<&str, ApiError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_username",
            "username must be 1–64 printable characters",
        ));
    }
    Ok(username)
}

async fn register_options(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let request: UsernameRequest = parse_json(&body)?;
    let now = SystemTime::now();
    let signed_in = app
        .session_user(&headers)
        .map(|handle| app.store.user_by_handle(&handle))
        .transpose()?
        .flatten();
    let requested = request
        .username
        .as_deref()
        .map(valid_username)
        .transpose()?;
    // Signed in: add a passkey to this account. Otherwise: a new account.
    let (user_handle, username, display_name, new_user) = match (signed_in, requested) {
        (Some(user), None) => (user.user_handle, user.username, user.display_name, false),
        (Some(user), Some(name)) if name == user.username => {
            (user.user_handle, user.username, user.display_name, false)
        }
        (_, Some(name)) => {
            if app.store.user_by_name(name)?.is_some() {
                return Err(StoreError::UsernameTaken.into());
            }
            let display_name = request.display_name.unwrap_or_else(|| name.to_owned());
            (new_user_handle(), name.to_owned(), display_name, true)
        }
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_username",
                "username required",
            ));
        }
    };
    let exclude = app
        .store
        .credentials_for_user(&user_handle)?
        .into_iter()
        .map(|stored| {
            CredentialDescriptor::new(stored.record.credential_id, stored.record.transports)
        })
        .collect();
    let user = UserEntity {
        id: user_handle,
        name: username.clone(),
        display_name: display_name.clone(),
    };
    let (options, state) = if request.prefer_post_quantum {
        // ML-DSA first, then the configured order (without repeating it).
        let mut rp = app.rp.clone();
        rp.algorithms = ML_DSA_ALGORITHMS
            .iter()
            .chain(
                app.rp
                    .algorithms
                    .iter()
                    .filter(|alg| !ML_DSA_ALGORITHMS.contains(alg)),
            )
            .copied()
            .collect();
        rp.start_registration(user, exclude, now)
    } else {
        app.rp.start_registration(user, exclude, now)
    };
    let expires_at = state.expires_at;
    app.registrations.insert(
        state.challenge.clone(),
        PendingRegistration {
            state,
            username,
            display_name,
            new_user,
        },
        now,
        expires_at,
    );
    Ok(axum::Json(options).into_response())
}

async fn register_verify(State(app): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let response: RegistrationResponseJson = parse_json(&body)?;
    let now = SystemTime::now();
    let challenge = response_challenge(&response.response.client_data_json)?;
    let pending = app.registrations.take(&challenge, now)?;
    let verified = app.rp.finish_registration(&pending.state, &response, now)?;
    // §7.1 step 24: a credential ID already registered (to anyone) is refused.
    if app
        .store
        .credential(&verified.credential.credential_id)?
        .is_some()
    {
        return Err(Error::CredentialAlreadyRegistered.into());
    }
    if pending.new_user {
        app.store.create_user(
            &pending.state.user_id,
            &pending.username,
            &pending.display_name,
            now,
        )?;
    }
    app.store.add_credential(&verified.credential, now)?;
    tracing::info!(username = %pending.username, format = %verified.attestation.format, "passkey registered");
    let cookie = app.start_session(pending.state.user_id.clone());
    Ok(with_cookie(
        json!({ "username": pending.username }),
        &cookie,
    ))
}

async fn login_options(State(app): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let request: UsernameRequest = if body.is_empty() {
        UsernameRequest {
            username: None,
            display_name: None,
            prefer_post_quantum: false,
        }
    } else {
        parse_json(&body)?
    };
    let allow = match request.username.as_deref() {
        None | Some("") => Vec::new(),
        Some(name) => {
            let user = app.store.user_by_name(name.trim())?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_user",
                    "no account with this username",
                )
            })?;
            let allow: Vec<CredentialDescriptor> = app
                .store
                .credentials_for_user(&user.user_handle)?
                .into_iter()
                .map(|stored| {
                    CredentialDescriptor::new(stored.record.credential_id, stored.record.transports)
                })
                .collect();
            // An empty list would turn this into a username-less sign-in as anyone.
            if allow.is_empty() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_passkeys",
                    "this account has no passkeys left",
                ));
            }
            allow
        }
    };
    let now = SystemTime::now();
    let (options, state) = app.rp.start_authentication(allow, now);
    let expires_at = state.expires_at;
    app.logins
        .insert(state.challenge.clone(), state, now, expires_at);
    Ok(axum::Json(options).into_response())
}

async fn login_verify(State(app): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let response: AuthenticationResponseJson = parse_json(&body)?;
    let now = SystemTime::now();
    let challenge = response_challenge(&response.response.client_data_json)?;
    let state = app.logins.take(&challenge, now)?;
    let credential_id = crate::asserted_credential_id(&response)?;
    let stored = app
        .store
        .credential(&credential_id)?
        .ok_or(Error::UnknownCredential)?;
    let verified = match app
        .rp
        .finish_authentication(&state, &response, &stored.record, now)
    {
        Err(error @ Error::CounterRegression { .. }) => {
            tracing::warn!(%error, credential = %b64::encode(&credential_id), "possible cloned authenticator");
            return Err(error.into());
        }
        other => other?,
    };
    app.store
        .record_use(&credential_id, verified.sign_count, verified.backed_up, now)?;
    if verified.backup_state_changed {
        tracing::info!(credential = %b64::encode(&credential_id), backed_up = verified.backed_up, "backup state changed");
    }
    let user = app
        .store
        .user_by_handle(&verified.user_id)?
        .ok_or(Error::UnknownCredential)?;
    let cookie = app.start_session(verified.user_id);
    Ok(with_cookie(json!({ "username": user.username }), &cookie))
}

fn not_signed_in() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")
}

async fn me(State(app): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult {
    let handle = app.session_user(&headers).ok_or_else(not_signed_in)?;
    let user = app
        .store
        .user_by_handle(&handle)?
        .ok_or_else(not_signed_in)?;
    let credentials: Vec<serde_json::Value> = app
        .store
        .credentials_for_user(&handle)?
        .into_iter()
        .map(|stored| {
            json!({
                "id": b64::encode(&stored.record.credential_id),
                "algorithm": stored.record.algorithm,
                "algorithmName": crate::cose::algorithm_name(stored.record.algorithm),
                "aaguid": stored.record.aaguid.iter().map(|byte| format!("{byte:02x}")).collect::<String>(),
                "transports": stored.record.transports,
                "backupEligible": stored.record.backup_eligible,
                "backedUp": stored.record.backed_up,
                "signCount": stored.record.sign_count,
                "attestationFormat": stored.record.attestation_format,
                "createdAt": stored.created_at,
                "lastUsedAt": stored.last_used_at,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "username": user.username, "displayName": user.display_name, "credentials": credentials })).into_response())
}

async fn logout(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        app.sessions().remove(&token);
    }
    with_cookie(
        json!({}),
        &format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    )
}

async fn delete_credential(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let handle = app.session_user(&headers).ok_or_else(not_signed_in)?;
    let credential_id = b64::decode(&id, "credential id")?;
    if !app.store.delete_credential(&handle, &credential_id)? {
        return Err(Error::UnknownCredential.into());
    }
    Ok(axum::Json(json!({ "deleted": id })).into_response())
}
