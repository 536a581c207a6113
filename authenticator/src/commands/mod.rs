//! CTAP2 commands: one module each (STYLE.md 3). `parse` turns bytes into a typed
//! [`Command`] once; handlers work on types and return `Result<Response, StatusCode>`.

use std::time::Instant;

use ciborium::Value;

use crate::authenticator::{Context, Pending, Step};
use crate::cbor;
use crate::credential::{CredentialIdKey, StoredCredential};
use crate::pin::{PinState, Protocol};
use crate::request::{CredentialDescriptor, Options};
use crate::status::StatusCode;
use crate::store::Store;

pub mod client_pin;
pub mod config;
pub mod credential_management;
pub mod get_assertion;
pub mod get_info;
pub mod large_blobs;
pub mod make_credential;
pub mod message_size;
pub mod reset;
pub mod selection;

/// authenticatorMakeCredential.
pub const MAKE_CREDENTIAL: u8 = 0x01;
/// authenticatorGetAssertion.
pub const GET_ASSERTION: u8 = 0x02;
/// authenticatorGetInfo.
pub const GET_INFO: u8 = 0x04;
/// authenticatorReset.
pub const RESET: u8 = 0x07;
/// authenticatorGetNextAssertion.
pub const GET_NEXT_ASSERTION: u8 = 0x08;
/// authenticatorSelection.
pub const SELECTION: u8 = 0x0B;
/// authenticatorClientPIN.
pub const CLIENT_PIN: u8 = 0x06;
/// authenticatorCredentialManagement.
pub const CREDENTIAL_MANAGEMENT: u8 = 0x0A;
/// authenticatorCredentialManagement, the CTAP 2.1 preview command number.
pub const CREDENTIAL_MANAGEMENT_PREVIEW: u8 = 0x41;
/// authenticatorConfig.
pub const CONFIG: u8 = 0x0D;
/// authenticatorLargeBlobs.
pub const LARGE_BLOBS: u8 = 0x0C;

/// The parameters shared by authenticatorCredentialManagement (§6.8) and
/// authenticatorConfig (§6.11): a subcommand, its parameters, and a
/// pinUvAuthParam over them.
#[derive(Debug)]
pub struct SubcommandRequest {
    /// 0x01 subCommand.
    pub sub_command: u64,
    /// 0x02 subCommandParams (a map; the MAC covers its encoding).
    pub sub_command_params: Option<Value>,
    /// 0x03 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x04 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
}

impl SubcommandRequest {
    /// Parses the parameter map.
    pub fn parse(mut map: cbor::IntMap) -> Result<Self, StatusCode> {
        let sub_command = cbor::as_u64(&map.require(0x01)?)?;
        let sub_command_params = map.take(0x02);
        if !matches!(sub_command_params, None | Some(Value::Map(_))) {
            return Err(StatusCode::CborUnexpectedType);
        }
        Ok(Self {
            sub_command,
            sub_command_params,
            pin_uv_auth_protocol: map.take(0x03).map(|v| cbor::as_u64(&v)).transpose()?,
            pin_uv_auth_param: map.take(0x04).map(cbor::into_bytes).transpose()?,
        })
    }

    /// `prefix ‖ subCommand ‖ subCommandParams`: what the pinUvAuthParam signs.
    pub fn signed_message(&self, prefix: &[u8]) -> Vec<u8> {
        let mut message = prefix.to_vec();
        message.push(u8::try_from(self.sub_command).unwrap_or(u8::MAX));
        if let Some(params) = &self.sub_command_params {
            message.extend_from_slice(&cbor::encode(params.clone()));
        }
        message
    }

    /// The subcommand parameters as an integer-keyed map, if given.
    pub fn params(&mut self) -> Result<Option<cbor::IntMap>, StatusCode> {
        self.sub_command_params
            .take()
            .map(cbor::IntMap::new)
            .transpose()
    }
}

/// A successful response: the CBOR map, if the command returns one.
pub struct Response(pub Option<Value>);

impl Response {
    /// A response with no CBOR body.
    pub fn empty() -> Self {
        Self(None)
    }
}

/// A parsed CTAP2 request.
#[derive(Debug)]
pub enum Command {
    /// authenticatorMakeCredential.
    MakeCredential(Box<make_credential::Request>),
    /// authenticatorGetAssertion.
    GetAssertion(Box<get_assertion::Request>),
    /// authenticatorGetInfo.
    GetInfo,
    /// authenticatorReset.
    Reset,
    /// authenticatorGetNextAssertion.
    GetNextAssertion,
    /// authenticatorSelection.
    Selection,
    /// authenticatorClientPIN.
    ClientPin(Box<client_pin::Request>),
    /// authenticatorCredentialManagement (or its preview alias 0x41).
    CredentialManagement(Box<SubcommandRequest>),
    /// authenticatorConfig.
    Config(Box<SubcommandRequest>),
    /// authenticatorLargeBlobs.
    LargeBlobs(Box<large_blobs::Request>),
}

impl Command {
    /// The spec's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MakeCredential(_) => "authenticatorMakeCredential",
            Self::GetAssertion(_) => "authenticatorGetAssertion",
            Self::GetInfo => "authenticatorGetInfo",
            Self::Reset => "authenticatorReset",
            Self::GetNextAssertion => "authenticatorGetNextAssertion",
            Self::Selection => "authenticatorSelection",
            Self::ClientPin(_) => "authenticatorClientPIN",
            Self::CredentialManagement(_) => "authenticatorCredentialManagement",
            Self::Config(_) => "authenticatorConfig",
            Self::LargeBlobs(_) => "authenticatorLargeBlobs",
        }
    }

    /// Whether this command keeps credential-management enumeration state
    /// (every other command ends an enumeration).
    pub(crate) fn continues_credential_management(&self) -> bool {
        matches!(self, Self::CredentialManagement(_))
    }
}

/// Parses a request: command byte, then (for commands that take them) a CBOR map.
pub fn parse(request: &[u8]) -> Result<Command, StatusCode> {
    let (&command, params) = request.split_first().ok_or(StatusCode::InvalidLength)?;
    match command {
        MAKE_CREDENTIAL => Ok(Command::MakeCredential(Box::new(
            make_credential::Request::parse(params_map(params)?)?,
        ))),
        GET_ASSERTION => Ok(Command::GetAssertion(Box::new(
            get_assertion::Request::parse(params_map(params)?)?,
        ))),
        GET_INFO => no_params(params, Command::GetInfo),
        RESET => no_params(params, Command::Reset),
        GET_NEXT_ASSERTION => no_params(params, Command::GetNextAssertion),
        SELECTION => no_params(params, Command::Selection),
        CLIENT_PIN => Ok(Command::ClientPin(Box::new(client_pin::Request::parse(
            params_map(params)?,
        )?))),
        CREDENTIAL_MANAGEMENT | CREDENTIAL_MANAGEMENT_PREVIEW => Ok(Command::CredentialManagement(
            Box::new(SubcommandRequest::parse(params_map(params)?)?),
        )),
        CONFIG => Ok(Command::Config(Box::new(SubcommandRequest::parse(
            params_map(params)?,
        )?))),
        LARGE_BLOBS => Ok(Command::LargeBlobs(Box::new(large_blobs::Request::parse(
            params_map(params)?,
        )?))),
        _ => Err(StatusCode::InvalidCommand),
    }
}

fn params_map(params: &[u8]) -> Result<cbor::IntMap, StatusCode> {
    if params.is_empty() {
        return Err(StatusCode::MissingParameter);
    }
    cbor::IntMap::new(cbor::decode(params)?)
}

fn no_params(params: &[u8], command: Command) -> Result<Command, StatusCode> {
    // These commands take no parameters; anything after the command byte is an
    // invalid length (CTAP 2.1 §6: "no parameters").
    if params.is_empty() {
        Ok(command)
    } else {
        Err(StatusCode::InvalidLength)
    }
}

/// The credential a descriptor names, if this authenticator made it for this
/// relying party: a sealed ID that opens under `rp_id_hash`, or a discoverable
/// credential of that relying party in the store (under whatever ID it was
/// stored: the core makes `0x81 ‖ random`, the simulator stores injected ones
/// under the tester's ID).
pub(crate) fn find_ours<S: Store>(
    store: &mut S,
    id_key: &CredentialIdKey,
    rp_id_hash: &[u8; 32],
    descriptor: &CredentialDescriptor,
) -> Result<Option<StoredCredential>, StatusCode> {
    if descriptor.credential_type != "public-key" {
        return Ok(None);
    }
    if let Some(credential) = StoredCredential::open_id_with(&descriptor.id, id_key, rp_id_hash) {
        return Ok(Some(credential));
    }
    if let Some(credential) = store.discoverable_by_id(&descriptor.id)?
        && &credential.rp_id_hash() == rp_id_hash
    {
        return Ok(Some(credential));
    }
    Ok(None)
}

/// Runs a parsed command.
pub(crate) fn dispatch<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    command: Command,
    now: Instant,
) -> Step {
    match command {
        Command::GetInfo => Step::Done(get_info::handle(ctx)),
        Command::MakeCredential(request) => make_credential::start(ctx, *request, now),
        Command::GetAssertion(request) => get_assertion::start(ctx, *request, now),
        Command::GetNextAssertion => Step::Done(get_assertion::next(ctx, now)),
        Command::Reset => reset::start(ctx, now),
        Command::Selection => selection::start(),
        Command::ClientPin(request) => client_pin::start(ctx, *request, now),
        Command::CredentialManagement(request) => {
            Step::Done(credential_management::handle(ctx, *request, now))
        }
        Command::Config(request) => Step::Done(config::handle(ctx, *request, now)),
        Command::LargeBlobs(request) => Step::Done(large_blobs::handle(ctx, *request, now)),
    }
}

/// The person refused (or built-in user verification failed).
pub(crate) fn denied<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    pending: Pending,
) -> StatusCode {
    match pending {
        Pending::UvToken(_) => client_pin::record_uv_failure(ctx),
        Pending::MakeCredential(job) if job.built_in_uv() => {
            client_pin::record_uv_failure(ctx);
            StatusCode::OperationDenied
        }
        Pending::GetAssertion(job) if job.built_in_uv() => {
            client_pin::record_uv_failure(ctx);
            StatusCode::OperationDenied
        }
        _ => StatusCode::OperationDenied,
    }
}

/// Checks a pinUvAuthParam against the current pinUvAuthToken: protocol given
/// (`MISSING_PARAMETER`) and supported (`INVALID_PARAMETER`), then the MAC over
/// `message`, the permission and the permissions RP ID (`PIN_AUTH_INVALID`).
pub(crate) fn check_pin_uv_auth<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    protocol: Option<u64>,
    param: &[u8],
    message: &[u8],
    permission: u8,
    rp_id: Option<&str>,
    now: Instant,
) -> Result<(), StatusCode> {
    let protocol =
        crate::pin::Protocol::from_number(protocol.ok_or(StatusCode::MissingParameter)?)?;
    ctx.pin
        .token
        .verify(protocol, message, param, permission, rp_id, now)
}

/// makeCredential/getAssertion step "pinUvAuthParam present": the token
/// must sign clientDataHash, hold `permission` for `rp_id` and be
/// user-verified; an unscoped token is then bound to `rp_id`.
pub(crate) fn authorize_with_token<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    protocol: Option<u64>,
    param: &[u8],
    client_data_hash: &[u8; 32],
    permission: u8,
    rp_id: &str,
    now: Instant,
) -> Result<(), StatusCode> {
    check_pin_uv_auth(
        ctx,
        protocol,
        param,
        client_data_hash,
        permission,
        Some(rp_id),
        now,
    )?;
    if !ctx.pin.token.user_verified() {
        return Err(StatusCode::PinAuthInvalid);
    }
    ctx.pin.token.bind_rp_id(rp_id);
    Ok(())
}

/// makeCredential/getAssertion steps 1–2: a zero-length pinUvAuthParam asks
/// "is a PIN set?" and is answered, after a touch, with the status returned
/// here (`PIN_INVALID` if one is, `PIN_NOT_SET` if not); any other needs a
/// protocol (`MISSING_PARAMETER`) that is supported (`INVALID_PARAMETER`).
pub(crate) fn pin_uv_auth_head(
    pin: &PinState,
    param: Option<&[u8]>,
    protocol: Option<u64>,
) -> Result<Option<StatusCode>, StatusCode> {
    match param {
        Some([]) if pin.is_set() => Ok(Some(StatusCode::PinInvalid)),
        Some([]) => Ok(Some(StatusCode::PinNotSet)),
        Some(_) => {
            Protocol::from_number(protocol.ok_or(StatusCode::MissingParameter)?)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// makeCredential/getAssertion option "uv": with a pinUvAuthParam it is
/// ignored; otherwise `true` asks for built-in user verification, which must
/// be offered (`INVALID_OPTION`) and not blocked (`UV_BLOCKED`).
pub(crate) fn built_in_uv_requested<S: Store, R: rand_core::CryptoRng>(
    ctx: &Context<S, R>,
    pin: &PinState,
    param: Option<&[u8]>,
    options: &Options,
) -> Result<bool, StatusCode> {
    let requested = param.is_none() && options.uv == Some(true);
    if requested && !ctx.config.built_in_uv {
        return Err(StatusCode::InvalidOption);
    }
    if requested && pin.uv_retries == 0 {
        return Err(StatusCode::UvBlocked);
    }
    Ok(requested)
}

/// Whether some form of user verification protects this authenticator (a PIN
/// is set, or built-in UV is offered).
pub(crate) fn is_protected<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<bool, StatusCode> {
    Ok(ctx.config.built_in_uv || crate::pin::PinState::load(&mut ctx.store)?.is_set())
}

/// Continues a request after the person approved.
pub(crate) fn resume<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    pending: Pending,
    now: Instant,
) -> Step {
    match pending {
        Pending::MakeCredential(job) => Step::Done(make_credential::finish(ctx, *job)),
        Pending::GetAssertion(job) => Step::Done(get_assertion::finish(ctx, *job, now)),
        Pending::FailAfterTouch(status) => Step::Done(Err(status)),
        Pending::Reset => Step::Done(reset::finish(ctx)),
        Pending::Selection => Step::Done(Ok(Response::empty())),
        Pending::UvToken(job) => Step::Done(client_pin::finish_uv_token(ctx, *job, now)),
        // CTAP1 jobs answer with APDUs; Authenticator::resume finishes them
        // before CTAP2 jobs get here.
        Pending::Ctap1(_) => Step::Done(Err(StatusCode::Other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_is_invalid_command() {
        assert!(matches!(parse(&[0x55]), Err(StatusCode::InvalidCommand)));
        assert!(matches!(
            parse(&[0x40, 0xa0]),
            Err(StatusCode::InvalidCommand)
        ));
    }

    #[test]
    fn empty_request_is_invalid_length() {
        assert!(matches!(parse(&[]), Err(StatusCode::InvalidLength)));
    }

    #[test]
    fn parameters_must_be_a_map() {
        assert!(matches!(
            parse(&[MAKE_CREDENTIAL, 0x80]),
            Err(StatusCode::CborUnexpectedType)
        ));
        assert!(matches!(
            parse(&[GET_ASSERTION, 0xa0, 0x00]),
            Err(StatusCode::InvalidCbor)
        ));
        assert!(matches!(
            parse(&[MAKE_CREDENTIAL]),
            Err(StatusCode::MissingParameter)
        ));
    }
}
