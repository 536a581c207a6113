//! authenticatorClientPIN (CTAP 2.1 §6.5, CTAP 2.2 §6.5): PIN retries, key
//! agreement, setting and changing the PIN, and pinUvAuthTokens with
//! permissions, by PIN or by built-in user verification — or, for the `pcmr`
//! permission alone, the [persistentPinUvAuthToken](crate::pin::persistent).

use ciborium::Value;

use crate::authenticator::{Context, Pending, PromptAction, Step, UserPrompt};
use crate::cbor::{self, IntMap, int};
use crate::commands::Response;
use crate::pin::persistent::PersistentState;
use crate::pin::state::{MAX_PIN_BYTES, MAX_PIN_RETRIES, MAX_UV_RETRIES};
use crate::pin::{AuthenticatorSettings, Permissions, PinState, Protocol, SharedSecret, pin_hash};
use crate::secret::SecretBytes;
use crate::status::StatusCode;
use crate::store::Store;

/// getPINRetries.
pub const GET_PIN_RETRIES: u64 = 0x01;
/// getKeyAgreement.
pub const GET_KEY_AGREEMENT: u64 = 0x02;
/// setPIN.
pub const SET_PIN: u64 = 0x03;
/// changePIN.
pub const CHANGE_PIN: u64 = 0x04;
/// getPinToken (superseded by the `…WithPermissions` subcommands).
pub const GET_PIN_TOKEN: u64 = 0x05;
/// getPinUvAuthTokenUsingUvWithPermissions.
pub const GET_TOKEN_USING_UV: u64 = 0x06;
/// getUVRetries.
pub const GET_UV_RETRIES: u64 = 0x07;
/// getPinUvAuthTokenUsingPinWithPermissions.
pub const GET_TOKEN_USING_PIN: u64 = 0x09;

/// Consecutive wrong PINs after which PIN_AUTH_BLOCKED holds until power-up.
pub const MAX_CONSECUTIVE_PIN_MISMATCHES: u8 = 3;

/// The parameters of authenticatorClientPIN (CTAP 2.1 §6.5.5.1).
#[derive(Debug)]
pub struct Request {
    /// 0x01 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x02 subCommand.
    pub sub_command: u64,
    /// 0x03 keyAgreement (the platform's COSE_Key).
    pub key_agreement: Option<Value>,
    /// 0x04 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x05 newPinEnc.
    pub new_pin_enc: Option<Vec<u8>>,
    /// 0x06 pinHashEnc.
    pub pin_hash_enc: Option<Vec<u8>>,
    /// 0x09 permissions.
    pub permissions: Option<u64>,
    /// 0x0A rpId (the permissions RP ID).
    pub rp_id: Option<String>,
}

impl Request {
    /// Parses the parameter map.
    pub fn parse(mut map: IntMap) -> Result<Self, StatusCode> {
        let pin_uv_auth_protocol = map.take(0x01).map(|v| cbor::as_u64(&v)).transpose()?;
        let sub_command = cbor::as_u64(&map.require(0x02)?)?;
        let key_agreement = map.take(0x03);
        if let Some(Value::Map(_)) | None = &key_agreement {
        } else {
            return Err(StatusCode::CborUnexpectedType);
        }
        Ok(Self {
            pin_uv_auth_protocol,
            sub_command,
            key_agreement,
            pin_uv_auth_param: map.take(0x04).map(cbor::into_bytes).transpose()?,
            new_pin_enc: map.take(0x05).map(cbor::into_bytes).transpose()?,
            pin_hash_enc: map.take(0x06).map(cbor::into_bytes).transpose()?,
            permissions: map.take(0x09).map(|v| cbor::as_u64(&v)).transpose()?,
            rp_id: map.take(0x0A).map(cbor::into_text).transpose()?,
        })
    }

    fn protocol(&self) -> Result<Protocol, StatusCode> {
        Protocol::from_number(
            self.pin_uv_auth_protocol
                .ok_or(StatusCode::MissingParameter)?,
        )
    }
}

fn required<T>(value: Option<T>) -> Result<T, StatusCode> {
    value.ok_or(StatusCode::MissingParameter)
}

/// What one subcommand's [`preamble`] checks, besides the platform's key and
/// the protocol, which every subcommand that calls it takes.
#[derive(Clone, Copy)]
struct Preamble {
    /// pinHashEnc is required, and checked against the stored PIN last.
    pin_hash_enc: bool,
    /// newPinEnc and pinUvAuthParam are required, and the param is verified
    /// over newPinEnc ‖ pinHashEnc (pinHashEnc when taken).
    new_pin_enc: bool,
    /// What the permissions and rpId parameters may be.
    permissions: PermissionsParam,
    /// The state the authenticator must be in.
    gate: Gate,
}

#[derive(Clone, Copy)]
enum PermissionsParam {
    /// Not looked at (setPIN, changePIN).
    Ignored,
    /// permissions or rpId present → `INVALID_PARAMETER` (getPinToken).
    Refused,
    /// Required, then checked by [`parse_permissions`] (the `…WithPermissions`
    /// subcommands).
    Required,
}

#[derive(Clone, Copy)]
enum Gate {
    /// No PIN yet; a PIN already set is changed with changePIN, so
    /// `PIN_AUTH_INVALID` (setPIN).
    NoPin,
    /// A PIN with retries left ([`usable_pin`]).
    UsablePin,
    /// Built-in UV configured (`NOT_ALLOWED`) with retries left (`UV_BLOCKED`).
    BuiltInUv,
}

const SET_PIN_PREAMBLE: Preamble = Preamble {
    pin_hash_enc: false,
    new_pin_enc: true,
    permissions: PermissionsParam::Ignored,
    gate: Gate::NoPin,
};
const CHANGE_PIN_PREAMBLE: Preamble = Preamble {
    pin_hash_enc: true,
    new_pin_enc: true,
    permissions: PermissionsParam::Ignored,
    gate: Gate::UsablePin,
};
const GET_PIN_TOKEN_PREAMBLE: Preamble = Preamble {
    pin_hash_enc: true,
    new_pin_enc: false,
    permissions: PermissionsParam::Refused,
    gate: Gate::UsablePin,
};
const GET_TOKEN_USING_PIN_PREAMBLE: Preamble = Preamble {
    pin_hash_enc: true,
    new_pin_enc: false,
    permissions: PermissionsParam::Required,
    gate: Gate::UsablePin,
};
const GET_TOKEN_USING_UV_PREAMBLE: Preamble = Preamble {
    pin_hash_enc: false,
    new_pin_enc: false,
    permissions: PermissionsParam::Required,
    gate: Gate::BuiltInUv,
};

/// What a subcommand gets from its [`preamble`].
struct Checked {
    /// The secret shared with the platform for this exchange.
    shared: SharedSecret,
    /// The PIN state, as the PIN check (if any) saved it.
    state: PinState,
    /// newPinEnc, authenticated; empty when the subcommand takes none.
    new_pin_enc: Vec<u8>,
    /// The checked permissions; none unless the subcommand takes them.
    permissions: Permissions,
    /// The permissions RP ID, if given.
    rp_id: Option<String>,
}

/// The steps the subcommands that take the platform's key begin with, in the
/// spec's order, so that a request failing several checks always gets the
/// status of the first (CTAP 2.1 §6.5.5.4–§6.5.5.7, CTAP 2.2 §6.5.5.7):
/// - 1. the mandatory parameters (`MISSING_PARAMETER`);
/// - 2. a supported protocol (`MISSING_PARAMETER`, `INVALID_PARAMETER`);
/// - 3–4. the permissions ([`parse_permissions`]), or none for getPinToken;
/// - then the [`Gate`], decapsulate(keyAgreement), verify(pinUvAuthParam)
///   (`PIN_AUTH_INVALID`) and the PIN check with its lockout rules
///   ([`check_pin_hash`]).
fn preamble<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    mut request: Request,
    spec: Preamble,
) -> Result<Checked, StatusCode> {
    // 1. Mandatory parameters.
    let key_agreement = required(request.key_agreement.take())?;
    let pin_hash_enc = if spec.pin_hash_enc {
        Some(required(request.pin_hash_enc.take())?)
    } else {
        None
    };
    let (new_pin_enc, param) = if spec.new_pin_enc {
        (
            required(request.new_pin_enc.take())?,
            Some(required(request.pin_uv_auth_param.take())?),
        )
    } else {
        (Vec::new(), None)
    };
    if let PermissionsParam::Required = spec.permissions {
        required(request.permissions)?;
    }
    // 2. A supported protocol.
    let protocol = request.protocol()?;
    // 3–4. Permissions.
    let permissions = match spec.permissions {
        PermissionsParam::Ignored => Permissions::default(),
        PermissionsParam::Refused => {
            if request.permissions.is_some() || request.rp_id.is_some() {
                return Err(StatusCode::InvalidParameter);
            }
            Permissions::default()
        }
        PermissionsParam::Required => parse_permissions(&request)?,
    };
    let mut state = match spec.gate {
        Gate::NoPin => {
            let state = PinState::load(&mut ctx.store)?;
            if state.is_set() {
                return Err(StatusCode::PinAuthInvalid);
            }
            state
        }
        Gate::UsablePin => usable_pin(ctx)?,
        Gate::BuiltInUv => {
            if !ctx.config.built_in_uv {
                return Err(StatusCode::NotAllowed);
            }
            let state = PinState::load(&mut ctx.store)?;
            if state.uv_retries == 0 {
                return Err(StatusCode::UvBlocked);
            }
            state
        }
    };
    // decapsulate(keyAgreement).
    let shared = ctx
        .pin
        .key_agreement
        .shared_secret(protocol, key_agreement)?;
    // verify(shared secret, newPinEnc ‖ pinHashEnc, pinUvAuthParam).
    if let Some(param) = param {
        let mut message = new_pin_enc.clone();
        message.extend_from_slice(pin_hash_enc.as_deref().unwrap_or_default());
        if !shared.verify(&message, &param) {
            return Err(StatusCode::PinAuthInvalid);
        }
    }
    // The current PIN: pinRetries decremented, then compared.
    if let Some(pin_hash_enc) = &pin_hash_enc {
        check_pin_hash(ctx, &mut state, &shared, pin_hash_enc)?;
    }
    Ok(Checked {
        shared,
        state,
        new_pin_enc,
        permissions,
        rp_id: request.rp_id,
    })
}

/// A token request waiting for built-in user verification.
pub(crate) struct UvTokenJob {
    shared: SharedSecret,
    permissions: Permissions,
    rp_id: Option<String>,
}

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: std::time::Instant,
) -> Step {
    let result = match request.sub_command {
        GET_PIN_RETRIES => get_pin_retries(ctx),
        GET_KEY_AGREEMENT => get_key_agreement(ctx, &request),
        SET_PIN => set_pin(ctx, request),
        CHANGE_PIN => change_pin(ctx, request),
        GET_PIN_TOKEN => get_pin_token(ctx, request, now),
        GET_TOKEN_USING_PIN => get_token_using_pin(ctx, request, now),
        GET_TOKEN_USING_UV => return get_token_using_uv(ctx, request),
        GET_UV_RETRIES => get_uv_retries(ctx),
        _ => Err(StatusCode::InvalidSubcommand),
    };
    Step::Done(result)
}

fn get_pin_retries<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let state = PinState::load(&mut ctx.store)?;
    if !state.is_set() {
        return Err(StatusCode::PinNotSet);
    }
    Ok(Response(Some(Value::Map(vec![(
        int(0x03),
        int(i64::from(state.pin_retries)),
    )]))))
}

fn get_uv_retries<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    if !ctx.config.built_in_uv {
        return Err(StatusCode::NotAllowed);
    }
    let state = PinState::load(&mut ctx.store)?;
    Ok(Response(Some(Value::Map(vec![(
        int(0x05),
        int(i64::from(state.uv_retries)),
    )]))))
}

fn get_key_agreement<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: &Request,
) -> Result<Response, StatusCode> {
    // 1–2. The protocol is required and must be supported.
    request.protocol()?;
    Ok(Response(Some(Value::Map(vec![(
        int(0x01),
        ctx.pin.key_agreement.cose_public_key(),
    )]))))
}

fn set_pin<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Result<Response, StatusCode> {
    // 1–5. newPinEnc and pinUvAuthParam, the protocol, no PIN yet, the
    // platform's key, and the param over newPinEnc.
    let Checked {
        shared,
        mut state,
        new_pin_enc,
        ..
    } = preamble(ctx, request, SET_PIN_PREAMBLE)?;
    // 6–8. Decrypt the new PIN and check it against the policy.
    let complexity = AuthenticatorSettings::load(&mut ctx.store)?.pin_complexity_policy;
    let (hash, code_points) =
        decrypt_new_pin(&shared, &new_pin_enc, state.min_pin_length, complexity)?;
    // 9. Store LEFT(SHA-256(newPin), 16) and reset pinRetries to its maximum.
    state.pin_hash = Some(SecretBytes::from_slice(hash.as_slice()));
    state.pin_code_points = code_points;
    state.pin_retries = MAX_PIN_RETRIES;
    state.force_change = false;
    state.uv_count_since_pin = 0;
    state.save(&mut ctx.store)?;
    tracing::info!("PIN set");
    Ok(Response::empty())
}

fn change_pin<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Result<Response, StatusCode> {
    // 1–7. pinHashEnc, newPinEnc and pinUvAuthParam, the protocol, a usable
    // PIN, the platform's key, the param over newPinEnc ‖ pinHashEnc, then
    // the current PIN (pinRetries decremented first).
    let Checked {
        shared,
        mut state,
        new_pin_enc,
        ..
    } = preamble(ctx, request, CHANGE_PIN_PREAMBLE)?;
    // 8–9. Decrypt and check the new PIN; a forced change must change it.
    let complexity = AuthenticatorSettings::load(&mut ctx.store)?.pin_complexity_policy;
    let (hash, code_points) =
        decrypt_new_pin(&shared, &new_pin_enc, state.min_pin_length, complexity)?;
    if state.force_change
        && state
            .pin_hash
            .as_ref()
            .is_some_and(|current| current.ct_eq(hash.as_slice()))
    {
        return Err(StatusCode::PinPolicyViolation);
    }
    // CTAP 2.2 changePIN: resetPersistentPinUvAuthToken() — every persistent
    // permission goes with the old PIN. Revoked before the new PIN is stored,
    // so that no interruption leaves the old holder's grant alive.
    let mut persistent = PersistentState::load_or_create(&mut ctx.store, &mut ctx.rng)?;
    persistent.reset_token(&mut ctx.rng);
    persistent.save(&mut ctx.store)?;
    // 10. Store the new PIN hash; every token issued before is void.
    state.pin_hash = Some(SecretBytes::from_slice(hash.as_slice()));
    state.pin_code_points = code_points;
    state.force_change = false;
    state.save(&mut ctx.store)?;
    ctx.pin.token.reset(&mut ctx.rng);
    tracing::info!("PIN changed");
    Ok(Response::empty())
}

/// getPinToken: a token with the mc and ga permissions, no RP ID.
fn get_pin_token<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: std::time::Instant,
) -> Result<Response, StatusCode> {
    // 1–2. pinHashEnc and the protocol; 3. no permissions or rpId (they
    // belong to the newer subcommand); then the PIN.
    let Checked { shared, state, .. } = preamble(ctx, request, GET_PIN_TOKEN_PREAMBLE)?;
    // A forced PIN change: no token until the PIN is changed.
    if state.force_change {
        return Err(StatusCode::PinInvalid);
    }
    issue_token(
        ctx,
        &shared,
        Permissions(Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION),
        None,
        false,
        now,
    )
}

/// Every permission this authenticator defines (CTAP 2.2 §6.5.5.7: "undefined
/// permissions present in the permissions parameter are ignored").
const DEFINED_PERMISSIONS: u64 = 0x7F;

pub(crate) fn parse_permissions(request: &Request) -> Result<Permissions, StatusCode> {
    let permissions = required(request.permissions)?;
    // 3. Zero permissions are invalid.
    if permissions == 0 {
        return Err(StatusCode::InvalidParameter);
    }
    let permissions = u8::try_from(permissions & DEFINED_PERMISSIONS)
        .map_err(|_| StatusCode::InvalidParameter)?;
    // 4. Permissions for features this authenticator lacks (bio enrollment),
    //    and pcmr with any other permission.
    let pcmr = Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY;
    if permissions & Permissions::BIO_ENROLLMENT != 0
        || (permissions & pcmr != 0 && permissions != pcmr)
    {
        return Err(StatusCode::UnauthorizedPermission);
    }
    Ok(Permissions(permissions))
}

/// "If the value of the requested permissions is pcmr": assign pcmr to the
/// persistentPinUvAuthToken and return it encrypted; the pinUvAuthToken in
/// use stays as it was.
fn issue_persistent_token<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    shared: &SharedSecret,
) -> Result<Response, StatusCode> {
    let mut persistent = PersistentState::load_or_create(&mut ctx.store, &mut ctx.rng)?;
    if !persistent.grants_pcmr() {
        persistent.grant_pcmr();
        persistent.save(&mut ctx.store)?;
    }
    let encrypted = shared.encrypt(&mut ctx.rng, persistent.expose_secret());
    tracing::debug!("persistentPinUvAuthToken issued (pcmr)");
    Ok(Response(Some(Value::Map(vec![(
        int(0x02),
        Value::Bytes(encrypted),
    )]))))
}

fn is_pcmr(permissions: Permissions) -> bool {
    permissions.0 == Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY
}

fn get_token_using_pin<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: std::time::Instant,
) -> Result<Response, StatusCode> {
    // 1–10. pinHashEnc and permissions, the protocol, the permissions, a
    // usable PIN, the platform's key, the PIN.
    let Checked {
        shared,
        state,
        permissions,
        rp_id,
        ..
    } = preamble(ctx, request, GET_TOKEN_USING_PIN_PREAMBLE)?;
    // 11. A forced PIN change comes first.
    if state.force_change {
        return Err(StatusCode::PinPolicyViolation);
    }
    // 12. pcmr alone: the persistent token.
    if is_pcmr(permissions) {
        return issue_persistent_token(ctx, &shared);
    }
    // 13–17. A new token with these permissions.
    issue_token(ctx, &shared, permissions, rp_id, false, now)
}

fn get_token_using_uv<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Step {
    // 1–5. Permissions, the protocol, the permissions, built-in UV present
    // and not blocked, the platform's key.
    match preamble(ctx, request, GET_TOKEN_USING_UV_PREAMBLE) {
        // 6. performBuiltInUv(): the runtime asks the person.
        Ok(Checked {
            shared,
            permissions,
            rp_id,
            ..
        }) => Step::AwaitUser(
            UserPrompt {
                action: PromptAction::Verify,
                rp_id: rp_id.clone(),
                user_name: None,
            },
            Pending::UvToken(Box::new(UvTokenJob {
                shared,
                permissions,
                rp_id,
            })),
        ),
        Err(status) => Step::Done(Err(status)),
    }
}

/// After built-in UV succeeded: reset uvRetries and issue the token.
pub(crate) fn finish_uv_token<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    job: UvTokenJob,
    now: std::time::Instant,
) -> Result<Response, StatusCode> {
    record_uv_success(ctx)?;
    if is_pcmr(job.permissions) {
        return issue_persistent_token(ctx, &job.shared);
    }
    // User verification by the person implies their presence.
    issue_token(ctx, &job.shared, job.permissions, job.rp_id, true, now)
}

/// Built-in UV succeeded: uvRetries back to its maximum, one more for
/// uvCountSinceLastPinEntry.
pub(crate) fn record_uv_success<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<(), StatusCode> {
    let mut state = PinState::load(&mut ctx.store)?;
    ctx.pin.consecutive_uv_failures = 0;
    state.uv_retries = MAX_UV_RETRIES;
    state.uv_count_since_pin = state.uv_count_since_pin.saturating_add(1);
    state.save(&mut ctx.store)
}

/// Built-in UV failed: one retry fewer; `UV_BLOCKED` once none is left, else
/// `UV_INVALID`.
pub(crate) fn record_uv_failure<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> StatusCode {
    let Ok(mut state) = PinState::load(&mut ctx.store) else {
        return StatusCode::Other;
    };
    state.uv_retries = state.uv_retries.saturating_sub(1);
    ctx.pin.consecutive_uv_failures = ctx.pin.consecutive_uv_failures.saturating_add(1);
    if let Err(status) = state.save(&mut ctx.store) {
        return status;
    }
    if state.uv_retries == 0 {
        StatusCode::UvBlocked
    } else {
        StatusCode::UvInvalid
    }
}

/// The PIN state, when a PIN is set (`PIN_NOT_SET`) with retries left
/// (`PIN_BLOCKED`: only a reset helps).
fn usable_pin<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<PinState, StatusCode> {
    let state = PinState::load(&mut ctx.store)?;
    if !state.is_set() {
        return Err(StatusCode::PinNotSet);
    }
    if state.pin_retries == 0 {
        return Err(StatusCode::PinBlocked);
    }
    Ok(state)
}

/// The PIN check with its lockout rules (CTAP 2.1 §6.5.5.5–§6.5.5.7):
/// - three consecutive mismatches since power-up: `PIN_AUTH_BLOCKED`, without
///   touching the retry counter, until the next power cycle;
/// - otherwise pinRetries is decremented (durably) before the comparison;
/// - a mismatch regenerates the key-agreement key and answers `PIN_INVALID`,
///   `PIN_AUTH_BLOCKED` on the third in a row, `PIN_BLOCKED` on the last retry;
/// - a match restores pinRetries to 8.
fn check_pin_hash<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    state: &mut PinState,
    shared: &SharedSecret,
    pin_hash_enc: &[u8],
) -> Result<(), StatusCode> {
    if ctx.pin.consecutive_pin_mismatches >= MAX_CONSECUTIVE_PIN_MISMATCHES {
        return Err(StatusCode::PinAuthBlocked);
    }
    state.pin_retries = state.pin_retries.saturating_sub(1);
    state.save(&mut ctx.store)?;
    let matches = match (shared.decrypt(pin_hash_enc), &state.pin_hash) {
        (Some(decrypted), Some(stored)) => decrypted.len() == 16 && stored.ct_eq(&decrypted),
        _ => false,
    };
    if !matches {
        ctx.pin.regenerate_key_agreement(&mut ctx.rng);
        ctx.pin.consecutive_pin_mismatches += 1;
        tracing::info!(retries = state.pin_retries, "wrong PIN");
        if state.pin_retries == 0 {
            return Err(StatusCode::PinBlocked);
        }
        if ctx.pin.consecutive_pin_mismatches >= MAX_CONSECUTIVE_PIN_MISMATCHES {
            return Err(StatusCode::PinAuthBlocked);
        }
        return Err(StatusCode::PinInvalid);
    }
    ctx.pin.consecutive_pin_mismatches = 0;
    state.pin_retries = MAX_PIN_RETRIES;
    state.uv_count_since_pin = 0;
    state.save(&mut ctx.store)?;
    Ok(())
}

/// Decrypts newPinEnc to the 64-byte padded PIN and applies the PIN policy
/// (minimum length; the [complexity policy](crate::pin::complexity) when
/// `complexity` is on). Returns LEFT(SHA-256(newPin), 16) and the PIN's
/// length in code points.
fn decrypt_new_pin(
    shared: &SharedSecret,
    new_pin_enc: &[u8],
    min_pin_length: u8,
    complexity: bool,
) -> Result<(zeroize::Zeroizing<[u8; 16]>, u8), StatusCode> {
    let padded = shared
        .decrypt(new_pin_enc)
        .ok_or(StatusCode::PinAuthInvalid)?;
    if padded.len() != 64 {
        return Err(StatusCode::InvalidParameter);
    }
    let end = padded.iter().position(|b| *b == 0).unwrap_or(padded.len());
    let pin = &padded[..end];
    if pin.len() > MAX_PIN_BYTES {
        return Err(StatusCode::PinPolicyViolation);
    }
    let text = std::str::from_utf8(pin).map_err(|_| StatusCode::PinPolicyViolation)?;
    let code_points = text.chars().count();
    if code_points < usize::from(min_pin_length) {
        return Err(StatusCode::PinPolicyViolation);
    }
    if complexity && !crate::pin::complexity::acceptable(text) {
        return Err(StatusCode::PinPolicyViolation);
    }
    let code_points = u8::try_from(code_points).map_err(|_| StatusCode::PinPolicyViolation)?;
    Ok((pin_hash(pin), code_points))
}

/// resetPinUvAuthToken(), beginUsingPinUvAuthToken(), then the token encrypted
/// for the platform.
fn issue_token<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    shared: &SharedSecret,
    permissions: Permissions,
    rp_id: Option<String>,
    user_present: bool,
    now: std::time::Instant,
) -> Result<Response, StatusCode> {
    ctx.pin.token.reset(&mut ctx.rng);
    ctx.pin
        .token
        .begin_using(permissions, rp_id, true, user_present, now);
    let encrypted = shared.encrypt(&mut ctx.rng, ctx.pin.token.expose_secret());
    tracing::debug!(permissions = permissions.0, "pinUvAuthToken issued");
    Ok(Response(Some(Value::Map(vec![(
        int(0x02),
        Value::Bytes(encrypted),
    )]))))
}
