//! CTAP2 commands: one module each (STYLE.md 3). `parse` turns bytes into a typed
//! [`Command`] once; handlers work on types and return `Result<Response, StatusCode>`.

use std::time::Instant;

use ciborium::Value;

use crate::authenticator::{Context, Pending, Step};
use crate::cbor;
use crate::credential::{DISCOVERABLE_ID_V1, StoredCredential};
use crate::request::CredentialDescriptor;
use crate::secret::Secret32;
use crate::status::StatusCode;
use crate::store::Store;

pub mod get_assertion;
pub mod get_info;
pub mod make_credential;
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
        }
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
/// credential of that relying party in the store.
pub(crate) fn find_ours<S: Store>(
    store: &mut S,
    device_secret: &Secret32,
    rp_id_hash: &[u8; 32],
    descriptor: &CredentialDescriptor,
) -> Result<Option<StoredCredential>, StatusCode> {
    if descriptor.credential_type != "public-key" {
        return Ok(None);
    }
    if let Some(credential) = StoredCredential::open_id(&descriptor.id, device_secret, rp_id_hash) {
        return Ok(Some(credential));
    }
    if descriptor.id.first() == Some(&DISCOVERABLE_ID_V1)
        && let Some(credential) = store.discoverable_by_id(&descriptor.id)?
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
        Command::GetInfo => Step::Done(Ok(get_info::handle(ctx))),
        Command::MakeCredential(request) => make_credential::start(ctx, *request),
        Command::GetAssertion(request) => get_assertion::start(ctx, *request, now),
        Command::GetNextAssertion => Step::Done(get_assertion::next(ctx, now)),
        Command::Reset => reset::start(ctx, now),
        Command::Selection => selection::start(),
    }
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
