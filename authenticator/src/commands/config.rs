//! authenticatorConfig (CTAP 2.1 §6.11, CTAP 2.2 §6.11): enableEnterpriseAttestation
//! (when the runtime made the authenticator capable, [`crate::enterprise`]),
//! toggleAlwaysUv, and setMinPINLength with CTAP 2.2's pinComplexityPolicy.
//! getInfo's `authenticatorConfigCommands` lists [`subcommands`].

use std::time::Instant;

use crate::authenticator::Context;
use crate::cbor::{self, IntMap};
use crate::commands::{Response, SubcommandRequest, check_pin_uv_auth, is_protected};
use crate::pin::state::{MAX_MIN_PIN_LENGTH_RP_IDS, MAX_PIN_BYTES};
use crate::pin::{AuthenticatorSettings, Permissions, PinState};
use crate::status::StatusCode;
use crate::store::Store;

/// enableEnterpriseAttestation (when enterprise attestation is configured).
pub const ENABLE_ENTERPRISE_ATTESTATION: u64 = 0x01;
/// toggleAlwaysUv.
pub const TOGGLE_ALWAYS_UV: u64 = 0x02;
/// setMinPINLength.
pub const SET_MIN_PIN_LENGTH: u64 = 0x03;

/// The subcommands this authenticator answers (getInfo
/// `authenticatorConfigCommands`, 0x1F).
pub fn subcommands(enterprise_attestation: bool) -> Vec<u64> {
    let mut commands = Vec::with_capacity(3);
    if enterprise_attestation {
        commands.push(ENABLE_ENTERPRISE_ATTESTATION);
    }
    commands.extend([TOGGLE_ALWAYS_UV, SET_MIN_PIN_LENGTH]);
    commands
}

/// The parameters of setMinPINLength (CTAP 2.1 §6.11.4, CTAP 2.2 adds 0x04).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SetMinPinLength {
    /// 0x01 newMinPINLength.
    pub new_min_pin_length: Option<u64>,
    /// 0x02 minPinLengthRPIDs.
    pub rp_ids: Option<Vec<String>>,
    /// 0x03 forceChangePin.
    pub force_change_pin: bool,
    /// 0x04 pinComplexityPolicy.
    pub pin_complexity_policy: Option<bool>,
}

impl SetMinPinLength {
    /// Reads the subcommand parameters (absent: none of them).
    pub fn parse(params: Option<IntMap>) -> Result<Self, StatusCode> {
        let Some(mut params) = params else {
            return Ok(Self::default());
        };
        Ok(Self {
            new_min_pin_length: params.take(0x01).map(|v| cbor::as_u64(&v)).transpose()?,
            rp_ids: params
                .take(0x02)
                .map(|v| {
                    cbor::into_array(v)?
                        .into_iter()
                        .map(cbor::into_text)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            force_change_pin: params
                .take(0x03)
                .map(|v| cbor::as_bool(&v))
                .transpose()?
                .unwrap_or(false),
            pin_complexity_policy: params.take(0x04).map(|v| cbor::as_bool(&v)).transpose()?,
        })
    }
}

pub(crate) fn handle<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    mut request: SubcommandRequest,
    now: Instant,
) -> Result<Response, StatusCode> {
    // 1. Only the subcommands built here.
    if !subcommands(ctx.config.enterprise_attestation.is_some()).contains(&request.sub_command) {
        return Err(StatusCode::InvalidSubcommand);
    }
    // 2–3. An authenticator protected by a PIN or built-in UV requires a
    //      pinUvAuthToken with the acfg permission; the MAC covers
    //      32×0xFF ‖ 0x0D ‖ subCommand ‖ subCommandParams.
    match request.pin_uv_auth_param.as_deref() {
        None if is_protected(ctx)? => return Err(StatusCode::PuatRequired),
        None => {}
        Some(param) => {
            let mut prefix = vec![0xFF; 32];
            prefix.push(0x0D);
            let message = request.signed_message(&prefix);
            check_pin_uv_auth(
                ctx,
                request.pin_uv_auth_protocol,
                param,
                &message,
                Permissions::AUTHENTICATOR_CONFIG,
                None,
                now,
            )?;
        }
    }
    let params = request.params()?;
    if request.sub_command == ENABLE_ENTERPRISE_ATTESTATION {
        crate::enterprise::enable(ctx)?;
        return Ok(Response::empty());
    }
    if request.sub_command == TOGGLE_ALWAYS_UV {
        let mut settings = AuthenticatorSettings::load(&mut ctx.store)?;
        settings.always_uv = !settings.always_uv;
        settings.save(&mut ctx.store)?;
        tracing::info!(always_uv = settings.always_uv, "alwaysUv toggled");
        return Ok(Response::empty());
    }
    set_min_pin_length(ctx, SetMinPinLength::parse(params)?)
}

fn set_min_pin_length<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    params: SetMinPinLength,
) -> Result<Response, StatusCode> {
    let SetMinPinLength {
        new_min_pin_length: new_length,
        rp_ids,
        force_change_pin: force_change,
        pin_complexity_policy,
    } = params;
    let mut state = PinState::load(&mut ctx.store)?;
    let mut settings = AuthenticatorSettings::load(&mut ctx.store)?;
    // 1. The minimum PIN length only grows, and never past the longest PIN.
    let new_length = new_length.unwrap_or(u64::from(state.min_pin_length));
    if new_length < u64::from(state.min_pin_length) || new_length > MAX_PIN_BYTES as u64 {
        return Err(StatusCode::PinPolicyViolation);
    }
    // 2. At most maxRPIDsForSetMinPINLength relying parties.
    if rp_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > MAX_MIN_PIN_LENGTH_RP_IDS)
    {
        return Err(StatusCode::PinPolicyViolation);
    }
    // CTAP 2.2: the PIN complexity policy, like the minimum length, only
    // tightens; only authenticatorReset turns it off.
    if pin_complexity_policy == Some(false) && settings.pin_complexity_policy {
        return Err(StatusCode::PinPolicyViolation);
    }
    // 3. forceChangePin needs a PIN to change.
    if force_change && !state.is_set() {
        return Err(StatusCode::PinNotSet);
    }
    state.min_pin_length = u8::try_from(new_length).map_err(|_| StatusCode::PinPolicyViolation)?;
    // 4. A PIN shorter than the new minimum must be changed.
    if force_change || (state.is_set() && state.pin_code_points < state.min_pin_length) {
        state.force_change = true;
    }
    state.save(&mut ctx.store)?;
    let complexity_on = pin_complexity_policy == Some(true) && !settings.pin_complexity_policy;
    if rp_ids.is_some() || complexity_on {
        if let Some(rp_ids) = rp_ids {
            settings.min_pin_length_rp_ids = rp_ids;
        }
        settings.pin_complexity_policy |= complexity_on;
        settings.save(&mut ctx.store)?;
    }
    tracing::info!(
        min_pin_length = state.min_pin_length,
        force_change = state.force_change,
        pin_complexity_policy = settings.pin_complexity_policy,
        "minimum PIN length set"
    );
    Ok(Response::empty())
}
