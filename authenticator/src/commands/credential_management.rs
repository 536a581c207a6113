//! authenticatorCredentialManagement (CTAP 2.1 §6.8, also answered on the
//! preview command number 0x41): metadata, enumerating relying parties and
//! their discoverable credentials, deleting one, updating its user.
//!
//! CTAP 2.2: getCredsMetadata, enumerateRPsBegin and enumerateCredentialsBegin
//! also accept the persistentPinUvAuthToken with the `pcmr` permission
//! (read-only, across power cycles); deleteCredential and
//! updateUserInformation never do. Every change to the credentials renews
//! the credential store state (getInfo `encCredStoreState`).

use std::time::Instant;

use ciborium::Value;

use crate::authenticator::Context;
use crate::cbor::{self, IntMap, int};
use crate::commands::{Response, SubcommandRequest, check_pin_uv_auth};
use crate::credential::StoredCredential;
use crate::crypto::sha256;
use crate::pin::Permissions;
use crate::pin::persistent::{PersistentState, note_credential_store_change};
use crate::request::{self, descriptor_to_value, user_to_value};
use crate::status::StatusCode;
use crate::store::Store;

/// getCredsMetadata.
pub const GET_CREDS_METADATA: u64 = 0x01;
/// enumerateRPsBegin.
pub const ENUMERATE_RPS_BEGIN: u64 = 0x02;
/// enumerateRPsGetNextRP.
pub const ENUMERATE_RPS_NEXT: u64 = 0x03;
/// enumerateCredentialsBegin.
pub const ENUMERATE_CREDENTIALS_BEGIN: u64 = 0x04;
/// enumerateCredentialsGetNextCredential.
pub const ENUMERATE_CREDENTIALS_NEXT: u64 = 0x05;
/// deleteCredential.
pub const DELETE_CREDENTIAL: u64 = 0x06;
/// updateUserInformation.
pub const UPDATE_USER_INFORMATION: u64 = 0x07;

/// What getCredsMetadata reports as the remaining room when the store has no
/// fixed limit (an SQLite vault or the in-memory store): this many minus the
/// credentials that exist.
pub const NOMINAL_CAPACITY: usize = 1000;

/// Enumeration state between a *Begin and its *GetNext subcommands.
pub(crate) enum Enumeration {
    /// Relying parties still to return: (rp id, rp name).
    Rps(Vec<(String, Option<String>)>),
    /// Credentials still to return.
    Credentials(Vec<StoredCredential>),
}

pub(crate) fn handle<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    mut request: SubcommandRequest,
    now: Instant,
) -> Result<Response, StatusCode> {
    match request.sub_command {
        ENUMERATE_RPS_NEXT => return next_rp(ctx),
        ENUMERATE_CREDENTIALS_NEXT => return next_credential(ctx),
        GET_CREDS_METADATA
        | ENUMERATE_RPS_BEGIN
        | ENUMERATE_CREDENTIALS_BEGIN
        | DELETE_CREDENTIAL
        | UPDATE_USER_INFORMATION => {}
        _ => return Err(StatusCode::InvalidSubcommand),
    }
    ctx.credential_management = None;
    // 1–3. Every other subcommand is authenticated with a pinUvAuthToken that
    //      has the cm permission: MAC over subCommand ‖ subCommandParams.
    let param = request
        .pin_uv_auth_param
        .as_deref()
        .ok_or(StatusCode::PuatRequired)?;
    let message = request.signed_message(&[]);
    let read_only = matches!(
        request.sub_command,
        GET_CREDS_METADATA | ENUMERATE_RPS_BEGIN | ENUMERATE_CREDENTIALS_BEGIN
    );
    let scope = if read_only && persistent_token_signed(ctx, &request, param, &message)? {
        Scope::Persistent
    } else {
        check_pin_uv_auth(
            ctx,
            request.pin_uv_auth_protocol,
            param,
            &message,
            Permissions::CREDENTIAL_MANAGEMENT,
            None,
            now,
        )?;
        Scope::Session
    };
    let params = request.params()?;
    match request.sub_command {
        GET_CREDS_METADATA => {
            unscoped(ctx, scope)?;
            metadata(ctx)
        }
        ENUMERATE_RPS_BEGIN => {
            unscoped(ctx, scope)?;
            begin_rps(ctx)
        }
        ENUMERATE_CREDENTIALS_BEGIN => begin_credentials(ctx, scope, params),
        DELETE_CREDENTIAL => delete(ctx, params),
        _ => update_user(ctx, params),
    }
}

/// Which token authorised the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The pinUvAuthToken (cm), perhaps bound to one RP.
    Session,
    /// The persistentPinUvAuthToken (pcmr), never bound to an RP.
    Persistent,
}

/// Whether the persistentPinUvAuthToken signed this read-only request:
/// `Ok(true)` it did and holds pcmr, `Ok(false)` it did not sign it (the
/// pinUvAuthToken is tried next), `PIN_AUTH_INVALID` it signed it but does
/// not hold pcmr.
fn persistent_token_signed<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: &SubcommandRequest,
    param: &[u8],
    message: &[u8],
) -> Result<bool, StatusCode> {
    let protocol = crate::pin::Protocol::from_number(
        request
            .pin_uv_auth_protocol
            .ok_or(StatusCode::MissingParameter)?,
    )?;
    let persistent = PersistentState::load_or_create(&mut ctx.store, &mut ctx.rng)?;
    match persistent.check_pcmr(protocol, message, param) {
        Some(true) => Ok(true),
        Some(false) => Err(StatusCode::PinAuthInvalid),
        None => Ok(false),
    }
}

/// Metadata and RP enumeration concern every RP: an RP-scoped token may not.
fn unscoped<S: Store, R: rand_core::CryptoRng>(
    ctx: &Context<S, R>,
    scope: Scope,
) -> Result<(), StatusCode> {
    if scope == Scope::Session && ctx.pin.token.rp_id().is_some() {
        return Err(StatusCode::PinAuthInvalid);
    }
    Ok(())
}

/// An RP-scoped token only manages credentials of its RP.
fn check_scope<S: Store, R: rand_core::CryptoRng>(
    ctx: &Context<S, R>,
    scope: Scope,
    rp_id_hash: &[u8; 32],
) -> Result<(), StatusCode> {
    match ctx.pin.token.rp_id() {
        Some(rp_id) if scope == Scope::Session && &sha256(rp_id.as_bytes()) != rp_id_hash => {
            Err(StatusCode::PinAuthInvalid)
        }
        _ => Ok(()),
    }
}

fn count(n: usize) -> Value {
    int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn metadata<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let existing = ctx.store.discoverable_count()?;
    let remaining = ctx
        .store
        .remaining_capacity()
        .unwrap_or_else(|| NOMINAL_CAPACITY.saturating_sub(existing));
    Ok(Response(Some(Value::Map(vec![
        (int(0x01), count(existing)),
        (int(0x02), count(remaining)),
    ]))))
}

fn rp_value(rp_id: &str, rp_name: Option<&str>) -> Value {
    let mut entries = vec![(cbor::text("id"), cbor::text(rp_id))];
    if let Some(name) = rp_name {
        entries.push((cbor::text("name"), cbor::text(name)));
    }
    Value::Map(entries)
}

fn rp_entry(rp_id: &str, rp_name: Option<&str>, total: Option<usize>) -> Response {
    let mut entries = vec![
        (int(0x03), rp_value(rp_id, rp_name)),
        (int(0x04), cbor::bytes(&sha256(rp_id.as_bytes()))),
    ];
    if let Some(total) = total {
        entries.push((int(0x05), count(total)));
    }
    Response(Some(Value::Map(entries)))
}

/// The first of `items`; the rest wait in `slot` for the *GetNext subcommand.
fn first_keep_rest<T>(
    slot: &mut Option<Enumeration>,
    mut items: Vec<T>,
    wrap: fn(Vec<T>) -> Enumeration,
) -> Result<T, StatusCode> {
    if items.is_empty() {
        return Err(StatusCode::NotAllowed);
    }
    let first = items.remove(0);
    if !items.is_empty() {
        *slot = Some(wrap(items));
    }
    Ok(first)
}

fn begin_rps<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let mut rps: Vec<(String, Option<String>)> = Vec::new();
    for credential in ctx.store.all_discoverable()? {
        if !rps.iter().any(|(id, _)| *id == credential.rp_id) {
            rps.push((credential.rp_id.clone(), credential.rp_name.clone()));
        }
    }
    if rps.is_empty() {
        return Err(StatusCode::NoCredentials);
    }
    let total = rps.len();
    let (rp_id, rp_name) = first_keep_rest(&mut ctx.credential_management, rps, Enumeration::Rps)?;
    Ok(rp_entry(&rp_id, rp_name.as_deref(), Some(total)))
}

fn next_rp<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let Some(Enumeration::Rps(rps)) = ctx.credential_management.take() else {
        return Err(StatusCode::NotAllowed);
    };
    let (rp_id, rp_name) = first_keep_rest(&mut ctx.credential_management, rps, Enumeration::Rps)?;
    Ok(rp_entry(&rp_id, rp_name.as_deref(), None))
}

fn credential_value(
    credential: &StoredCredential,
    total: Option<usize>,
) -> Result<Value, StatusCode> {
    let mut entries = vec![
        (int(0x06), user_to_value(&credential.user, true)),
        (int(0x07), descriptor_to_value(&credential.credential_id)),
        (int(0x08), credential.private_key.cose_public_key()?),
        (int(0x0A), int(i64::from(credential.cred_protect))),
    ];
    if let Some(total) = total {
        entries.push((int(0x09), count(total)));
    }
    if let Some(key) = &credential.large_blob_key {
        entries.push((int(0x0B), cbor::bytes(key.expose_secret())));
    }
    // thirdPartyPayment (CTAP 2.2): whether the credential was made for
    // third-party payment; present because the extension is supported.
    entries.push((int(0x0C), Value::Bool(credential.third_party_payment)));
    Ok(Value::Map(entries))
}

fn require_param(params: &mut Option<IntMap>, key: i64) -> Result<Value, StatusCode> {
    params
        .as_mut()
        .ok_or(StatusCode::MissingParameter)?
        .require(key)
}

fn begin_credentials<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    scope: Scope,
    mut params: Option<IntMap>,
) -> Result<Response, StatusCode> {
    let rp_id_hash: [u8; 32] = cbor::into_bytes(require_param(&mut params, 0x01)?)?
        .try_into()
        .map_err(|_| StatusCode::InvalidLength)?;
    check_scope(ctx, scope, &rp_id_hash)?;
    let credentials = ctx.store.discoverable_for_rp(&rp_id_hash)?;
    if credentials.is_empty() {
        return Err(StatusCode::NoCredentials);
    }
    let total = credentials.len();
    let first = first_keep_rest(
        &mut ctx.credential_management,
        credentials,
        Enumeration::Credentials,
    )?;
    Ok(Response(Some(credential_value(&first, Some(total))?)))
}

fn next_credential<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let Some(Enumeration::Credentials(credentials)) = ctx.credential_management.take() else {
        return Err(StatusCode::NotAllowed);
    };
    let credential = first_keep_rest(
        &mut ctx.credential_management,
        credentials,
        Enumeration::Credentials,
    )?;
    Ok(Response(Some(credential_value(&credential, None)?)))
}

fn named_credential<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    params: &mut Option<IntMap>,
) -> Result<StoredCredential, StatusCode> {
    let descriptor =
        request::parse_descriptor_list(Value::Array(vec![require_param(params, 0x02)?]))?
            .pop()
            .ok_or(StatusCode::MissingParameter)?;
    let credential = ctx
        .store
        .discoverable_by_id(&descriptor.id)?
        .ok_or(StatusCode::NoCredentials)?;
    check_scope(ctx, Scope::Session, &credential.rp_id_hash())?;
    Ok(credential)
}

fn delete<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    mut params: Option<IntMap>,
) -> Result<Response, StatusCode> {
    let credential = named_credential(ctx, &mut params)?;
    note_credential_store_change(&mut ctx.store, &mut ctx.rng)?;
    if !ctx.store.delete_discoverable(&credential.credential_id)? {
        return Err(StatusCode::NoCredentials);
    }
    tracing::info!(rp = %credential.rp_id, "credential deleted");
    Ok(Response::empty())
}

fn update_user<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    mut params: Option<IntMap>,
) -> Result<Response, StatusCode> {
    let mut credential = named_credential(ctx, &mut params)?;
    let user = request::parse_user(require_param(&mut params, 0x03)?)?;
    // The user handle cannot change; names are replaced, absent ones removed.
    if user.id != credential.user.id {
        return Err(StatusCode::InvalidParameter);
    }
    credential.user = user;
    note_credential_store_change(&mut ctx.store, &mut ctx.rng)?;
    ctx.store.put_discoverable(&credential)?;
    Ok(Response::empty())
}
