//! The HTTP routes of the control API: the W3C WebAuthn "Virtual
//! Authenticators" WebDriver extension (WebAuthn Level 3 §11), then
//! softkey's own endpoints beside them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, RawPathParams, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use softkey_authenticator::{StatusCode as CtapStatus, Verdict};

use crate::control::credentials::{self, NewCredential};
use crate::control::device::{Options, VirtualAuthenticator};
use crate::control::error::ApiError;
use crate::control::events::EventSink;
use crate::control::hooks::{Fault, FaultKind, Profile, ReportFault};
use crate::control::persistent::PersistentRules;
use crate::control::presence::ScriptStep;
use crate::control::{MAX_AUTHENTICATORS, options};
use crate::presence::danger;
use crate::runtime::{DEFAULT_USER_TIMEOUT, command_name};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Shared state of the control server.
pub struct AppState {
    /// Live authenticators by id.
    pub registry: Mutex<BTreeMap<String, Arc<VirtualAuthenticator>>>,
    /// The event stream.
    pub events: EventSink,
    /// The bearer token.
    pub token: String,
    /// Where persistent vaults live (`--control-vault-dir`), if allowed.
    pub vault_dir: Option<std::path::PathBuf>,
    /// What authenticators on persistent vaults may do.
    pub persistent: PersistentRules,
    /// The UHID device every new authenticator gets unless its options say
    /// otherwise (`softkey sim --control --transport uhid`).
    pub uhid_default: Option<crate::control::device::UhidSpec>,
    /// The algorithms every new authenticator offers unless its options say
    /// otherwise (`softkey sim --algorithms`).
    pub algorithms_default: Vec<softkey_authenticator::crypto::Algorithm>,
    /// Set when the simulator shuts down.
    pub shutdown: Arc<AtomicBool>,
}

type Shared = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    let webauthn = "/session/{session}/webauthn/authenticator";
    Router::new()
        .route(webauthn, post(add_authenticator))
        .route(&format!("{webauthn}/{{id}}"), delete(remove_authenticator))
        .route(
            &format!("{webauthn}/{{id}}/credential"),
            post(add_credential),
        )
        .route(
            &format!("{webauthn}/{{id}}/credentials"),
            get(get_credentials).delete(remove_all_credentials),
        )
        .route(
            &format!("{webauthn}/{{id}}/credentials/{{credential}}"),
            delete(remove_credential),
        )
        .route(
            &format!("{webauthn}/{{id}}/credentials/{{credential}}/props"),
            post(set_credential_properties),
        )
        .route(
            &format!("{webauthn}/{{id}}/cxf"),
            get(export_cxf).post(import_cxf),
        )
        .route(&format!("{webauthn}/{{id}}/uv"), post(set_user_verified))
        .route(&format!("{webauthn}/{{id}}/presence"), post(set_presence))
        .route(
            &format!("{webauthn}/{{id}}/faults"),
            post(add_fault).delete(clear_faults),
        )
        .route(&format!("{webauthn}/{{id}}/power-cycle"), post(power_cycle))
        .route(&format!("{webauthn}/{{id}}/events"), get(events))
        .route(&format!("{webauthn}/{{id}}/trace"), get(trace))
        .fallback(unknown_command)
        .method_not_allowed_fallback(unknown_command)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            authorize,
        ))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn unknown_command() -> ApiError {
    ApiError::unknown_command()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(state: Shared, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::unauthorized().into_response(),
    }
}

fn ok(value: Value) -> ApiResult {
    Ok(axum::Json(json!({ "value": value })).into_response())
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid("a JSON object body is required"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid(format!("the body is not JSON: {error}")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::invalid("the body must be a JSON object"))
    }
}

fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted
        .map(|Path(value)| value)
        .map_err(|error| ApiError::invalid(format!("bad path: {error}")))
}

fn lookup(state: &AppState, id: &str) -> Result<Arc<VirtualAuthenticator>, ApiError> {
    let registry = state.registry.lock().unwrap_or_else(|e| e.into_inner());
    registry
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::no_such_authenticator(id))
}

fn optional_bool(body: &Value, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(format!("{name} must be a boolean"))),
    }
}

async fn add_authenticator(
    State(state): Shared,
    _session: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let mut options = options::parse(&body, state.vault_dir.as_deref(), &state.algorithms_default)?;
    // Unscripted prompts go to the person for a persistent vault, to the
    // WebDriver options' auto-answer otherwise.
    let fallback: Box<dyn crate::presence::PresenceProvider> = if options.vault.is_some() {
        state.persistent.apply(&mut options)?;
        state.persistent.presence_provider()?
    } else {
        Box::new(danger::AutoApprove)
    };
    if body
        .get("softkey:uhid")
        .is_none_or(serde_json::Value::is_null)
    {
        options.uhid.clone_from(&state.uhid_default);
    }
    let id = {
        let registry = state.registry.lock().unwrap_or_else(|e| e.into_inner());
        if registry.len() >= MAX_AUTHENTICATORS {
            let mut error = ApiError::unsupported(format!(
                "at most {MAX_AUTHENTICATORS} virtual authenticators at once: remove one first"
            ));
            error.status = axum::http::StatusCode::TOO_MANY_REQUESTS;
            return Err(error);
        }
        let mut rng = rand::rng();
        let bytes: [u8; 8] = rand::RngExt::random(&mut rng);
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let events = state.events.clone();
    let shutdown = Arc::clone(&state.shutdown);
    let vault_in_use = options.vault.as_ref().is_some_and(|spec| {
        let registry = state.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry
            .values()
            .any(|a| a.vault_path.as_ref() == Some(&spec.path))
    });
    if vault_in_use {
        return Err(ApiError::invalid(
            "another authenticator has this vault open: remove it first",
        ));
    }
    // Opening a vault runs its KDF (Argon2id for a passphrase): off the
    // async workers.
    let uhid = options.uhid.is_some();
    let authenticator = tokio::task::spawn_blocking(move || {
        let store = match &options.vault {
            None => None,
            Some(spec) => {
                let vault = spec.open_or_create().map_err(|error| {
                    ApiError::invalid(format!(
                        "cannot open the vault {}: {error}",
                        spec.path.display()
                    ))
                })?;
                Some((
                    Box::new(vault) as Box<dyn softkey_authenticator::store::Store + Send>,
                    spec.path.clone(),
                ))
            }
        };
        VirtualAuthenticator::spawn(
            id,
            options,
            store,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            events,
            fallback,
            shutdown,
        )
        .map_err(|error| {
            if uhid {
                ApiError::unsupported(format!("cannot create the UHID device: {error}"))
            } else {
                ApiError::unknown(format!("cannot start the device: {error}"))
            }
        })
    })
    .await
    .map_err(|error| ApiError::unknown(format!("starting the device failed: {error}")))??;
    let id = authenticator.id.clone();
    let mut answer = json!({
        "value": id,
        "authenticatorId": id,
        "udpPort": authenticator.udp_addr.port(),
    });
    if let Some(path) = &authenticator.hidraw_path {
        answer["hidrawPath"] = json!(path.display().to_string());
    }
    if let Some(path) = &authenticator.vault_path {
        answer["vaultPath"] = json!(path.display().to_string());
    }
    tracing::info!(id, udp = %authenticator.udp_addr, hidraw = ?authenticator.hidraw_path, profile = authenticator.options.profile.protocol(), "virtual authenticator added");
    register(&state, authenticator);
    Ok(axum::Json(answer).into_response())
}

/// Adds a running authenticator to the registry.
pub fn register(state: &AppState, authenticator: VirtualAuthenticator) {
    let mut registry = state.registry.lock().unwrap_or_else(|e| e.into_inner());
    registry.insert(authenticator.id.clone(), Arc::new(authenticator));
}

async fn remove_authenticator(
    State(state): Shared,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (_, id) = path(ids)?;
    let removed = {
        let mut registry = state.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.remove(&id)
    };
    let Some(authenticator) = removed else {
        return Err(ApiError::no_such_authenticator(&id));
    };
    tracing::info!(id, "virtual authenticator removed");
    // Dropping joins the device thread.
    let _ = tokio::task::spawn_blocking(move || drop(authenticator)).await;
    ok(Value::Null)
}

async fn add_credential(Target(authenticator): Target, body: Bytes) -> ApiResult {
    let credential = NewCredential::from_json(&body_json(&body)?)?;
    credentials::add(&authenticator, credential)?;
    ok(Value::Null)
}

async fn get_credentials(Target(authenticator): Target) -> ApiResult {
    ok(Value::Array(credentials::list(&authenticator)?))
}

async fn export_cxf(Target(authenticator): Target) -> ApiResult {
    ok(crate::control::cxf::export(&authenticator)?)
}

async fn import_cxf(Target(authenticator): Target, body: Bytes) -> ApiResult {
    ok(crate::control::cxf::import(
        &authenticator,
        &body_json(&body)?,
    )?)
}

/// The path's `{id}`: an authenticator that exists.
struct Target(Arc<VirtualAuthenticator>);

/// The path's `{credential}`, decoded from base64url.
struct CredentialId(Vec<u8>);

async fn path_param(
    parts: &mut Parts,
    state: &Arc<AppState>,
    name: &str,
) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|error| ApiError::invalid(format!("bad path: {error}")))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::invalid(format!("the path has no {name}")))
}

impl FromRequestParts<Arc<AppState>> for Target {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let id = path_param(parts, state, "id").await?;
        lookup(state, &id).map(Self)
    }
}

impl FromRequestParts<Arc<AppState>> for CredentialId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let text = path_param(parts, state, "credential").await?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(Self)
            .map_err(|_| ApiError::invalid("credentialId must be base64url"))
    }
}

async fn remove_credential(
    Target(authenticator): Target,
    CredentialId(credential): CredentialId,
) -> ApiResult {
    if !credentials::remove(&authenticator, &credential)? {
        return Err(ApiError::invalid("no credential with this credentialId"));
    }
    ok(Value::Null)
}

async fn remove_all_credentials(Target(authenticator): Target) -> ApiResult {
    credentials::remove_all(&authenticator)?;
    ok(Value::Null)
}

async fn set_credential_properties(
    Target(authenticator): Target,
    CredentialId(credential): CredentialId,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let eligible = optional_bool(&body, "backupEligibility")?;
    let backed_up = optional_bool(&body, "backupState")?;
    credentials::set_backup_flags(&authenticator, &credential, eligible, backed_up)?;
    ok(Value::Null)
}

async fn set_user_verified(
    State(state): Shared,
    Target(authenticator): Target,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let verified = optional_bool(&body, "isUserVerified")?
        .ok_or_else(|| ApiError::invalid("isUserVerified is missing"))?;
    if authenticator.vault_path.is_some() {
        state.persistent.check_verified(verified)?;
    }
    authenticator.user().verified = verified;
    ok(Value::Null)
}

fn verdict(name: &str) -> Result<Verdict, ApiError> {
    match name {
        "approve" => Ok(Verdict::Approved),
        "deny" => Ok(Verdict::Denied),
        "timeout" => Ok(Verdict::TimedOut),
        _ => Err(ApiError::invalid(
            "an action must be \"approve\", \"deny\" or \"timeout\"",
        )),
    }
}

fn delay_ms(value: &Value, name: &str) -> Result<Duration, ApiError> {
    match value.get(name) {
        None => Ok(Duration::ZERO),
        Some(v) => v
            .as_u64()
            .filter(|ms| *ms <= 600_000)
            .map(Duration::from_millis)
            .ok_or_else(|| ApiError::invalid(format!("{name} must be 0..600000"))),
    }
}

async fn set_presence(
    State(state): Shared,
    Target(authenticator): Target,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let mut script = Vec::new();
    match body.get("script") {
        None => {}
        Some(Value::Array(steps)) => {
            for step in steps {
                let action = step
                    .get("action")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid("each script step needs an action"))?;
                let verdict = verdict(action)?;
                let delay = delay_ms(step, "delayMs")?;
                let repeat = match step.get("repeat") {
                    None => 1,
                    Some(v) => v
                        .as_u64()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| ApiError::invalid("repeat must be 1..1000"))?,
                };
                for _ in 0..repeat {
                    script.push(ScriptStep { verdict, delay });
                }
            }
        }
        Some(_) => return Err(ApiError::invalid("script must be an array")),
    }
    let then = match body.get("then") {
        None => None,
        Some(v) => {
            Some(verdict(v.as_str().ok_or_else(|| {
                ApiError::invalid("then must be a string")
            })?)?)
        }
    };
    let then_delay = delay_ms(&body, "thenDelayMs")?;
    if let Some(then) = then
        && authenticator.vault_path.is_some()
    {
        state.persistent.check_presence(then)?;
    }
    let mut user = authenticator.user();
    user.script = script.into();
    if let Some(then) = then {
        user.presence = Some(then);
    }
    user.default_delay = then_delay;
    ok(Value::Null)
}

fn command_byte(value: &Value) -> Result<u8, ApiError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid("command must be 0..255")),
        Value::String(name) => (0..=u8::MAX)
            .find(|&c| command_name(c) == name)
            .ok_or_else(|| ApiError::invalid(format!("unknown command {name:?}"))),
        _ => Err(ApiError::invalid("command must be a name or a number")),
    }
}

fn status_byte(value: Option<&Value>) -> Result<u8, ApiError> {
    match value {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid("status must be 0..255")),
        Some(Value::String(name)) => (0..=u8::MAX)
            .find(|&c| CtapStatus::from_code(c).is_some_and(|s| s.name() == name))
            .ok_or_else(|| ApiError::invalid(format!("unknown CTAP status {name:?}"))),
        _ => Err(ApiError::invalid("a status fault needs a status")),
    }
}

async fn add_fault(Target(authenticator): Target, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let command = body.get("command").map(command_byte).transpose()?;
    let kind = match body.get("kind").and_then(Value::as_str) {
        Some("status") => FaultKind::Status(status_byte(body.get("status"))?),
        Some("storeFailure") => FaultKind::StoreFailure,
        Some("drop") => FaultKind::Report(ReportFault::Drop),
        Some("duplicate") => FaultKind::Report(ReportFault::Duplicate),
        Some("corrupt") => FaultKind::Report(ReportFault::Corrupt),
        Some("delay") => FaultKind::Report(ReportFault::Delay(delay_ms(&body, "delayMs")?)),
        _ => {
            return Err(ApiError::invalid(
                "kind must be status, storeFailure, drop, duplicate, corrupt or delay",
            ));
        }
    };
    let remaining = match body.get("count") {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| ApiError::invalid("count must be 1..1000000"))?,
    };
    authenticator.control().faults.push(Fault {
        command,
        kind,
        remaining,
    });
    ok(Value::Null)
}

async fn clear_faults(Target(authenticator): Target) -> ApiResult {
    let mut control = authenticator.control();
    control.faults.clear();
    control.report_fault = None;
    ok(Value::Null)
}

async fn power_cycle(Target(authenticator): Target) -> ApiResult {
    authenticator.power_cycle();
    ok(Value::Null)
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    history: Option<bool>,
}

async fn events(
    State(state): Shared,
    Target(authenticator): Target,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let id = authenticator.id.clone();
    drop(authenticator);
    let history = query
        .map_err(|error| ApiError::invalid(format!("bad query: {error}")))?
        .0
        .history
        .unwrap_or(false);
    let receiver = state.events.subscribe();
    let past = if history {
        state.events.history(Some(&id))
    } else {
        Vec::new()
    };
    let past = futures_util::stream::iter(
        past.into_iter()
            .map(|e| Ok::<_, Infallible>(SseEvent::default().data(&*e.json))),
    );
    let live = futures_util::stream::unfold((receiver, id), |(mut receiver, id)| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if event.authenticator_id == id => {
                    let sse = SseEvent::default().data(&*event.json);
                    return Some((Ok(sse), (receiver, id)));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(past.chain(live))
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn trace(State(state): Shared, Target(authenticator): Target) -> ApiResult {
    let id = &authenticator.id;
    let events: Vec<Value> = state
        .events
        .history(Some(id))
        .iter()
        .filter_map(|e| serde_json::from_str(&e.json).ok())
        .collect();
    ok(Value::Array(events))
}

/// Options for the simulator's default authenticator.
pub fn default_options(strict_reset: bool, user_timeout: Duration) -> Options {
    Options {
        profile: Profile::Ctap2_2,
        transport: "usb".into(),
        has_resident_key: true,
        has_user_verification: false,
        is_user_consenting: None,
        is_user_verified: false,
        extensions: Vec::new(),
        strict_reset,
        user_timeout: if user_timeout.is_zero() {
            DEFAULT_USER_TIMEOUT
        } else {
            user_timeout
        },
        default_backup: softkey_authenticator::policy::BackupFlags::default(),
        uhid: None,
        vault: None,
        algorithms: softkey_authenticator::crypto::Algorithm::ALL.to_vec(),
        enterprise_attestation: None,
    }
}
