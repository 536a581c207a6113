//! authenticatorGetAssertion (CTAP 2.1 §6.2) and authenticatorGetNextAssertion (§6.3).

use std::time::Instant;

use ciborium::Value;

use crate::authdata::{AuthenticatorData, FLAG_UP};
use crate::authenticator::{
    Context, NEXT_ASSERTION_TIMEOUT, Pending, PromptAction, Step, UserPrompt,
};
use crate::cbor::{self, IntMap, int};
use crate::commands::Response;
use crate::commands::find_ours;
use crate::credential::StoredCredential;
use crate::crypto::sha256;
use crate::request::{self, CredentialDescriptor, Options, descriptor_to_value, user_to_value};
use crate::status::StatusCode;
use crate::store::Store;

/// The parameters of authenticatorGetAssertion (CTAP 2.1 §6.2.1).
#[derive(Debug)]
pub struct Request {
    /// 0x01 rpId.
    pub rp_id: String,
    /// 0x02 clientDataHash.
    pub client_data_hash: [u8; 32],
    /// 0x03 allowList.
    pub allow_list: Option<Vec<CredentialDescriptor>>,
    /// 0x04 extensions (none supported yet; parsed for type only).
    pub extensions: Option<Vec<(String, Value)>>,
    /// 0x05 options.
    pub options: Options,
    /// 0x06 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x07 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

impl Request {
    /// Parses the parameter map.
    pub fn parse(mut map: IntMap) -> Result<Self, StatusCode> {
        let rp_id = cbor::into_text(map.require(0x01)?)?;
        let client_data_hash = request::parse_client_data_hash(map.require(0x02)?)?;
        let allow_list = map
            .take(0x03)
            .map(request::parse_descriptor_list)
            .transpose()?;
        let extensions = map
            .take(0x04)
            .map(|v| cbor::TextMap::new(v).map(cbor::TextMap::into_remaining))
            .transpose()?;
        let options = map
            .take(0x05)
            .map(Options::parse)
            .transpose()?
            .unwrap_or_default();
        let pin_uv_auth_param = map.take(0x06).map(cbor::into_bytes).transpose()?;
        let pin_uv_auth_protocol = map.take(0x07).map(|v| cbor::as_u64(&v)).transpose()?;
        Ok(Self {
            rp_id,
            client_data_hash,
            allow_list,
            extensions,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        })
    }
}

/// A located set of credentials waiting for the touch.
pub(crate) struct Job {
    rp_id_hash: [u8; 32],
    client_data_hash: [u8; 32],
    credentials: Vec<StoredCredential>,
    flags: u8,
}

/// getNextAssertion state: the credentials still to return (CTAP 2.1 §6.3).
pub(crate) struct NextAssertions {
    rp_id_hash: [u8; 32],
    client_data_hash: [u8; 32],
    remaining: Vec<StoredCredential>,
    flags: u8,
    last_used: Instant,
}

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Step {
    match locate(ctx, request) {
        Ok(Located::Job(job, rp_id)) => {
            if job.flags & FLAG_UP == 0 {
                // "up": false — a silent assertion, no touch.
                return Step::Done(finish(ctx, job, now));
            }
            let user_name = job.credentials.first().and_then(|c| c.user.name.clone());
            Step::AwaitUser(
                UserPrompt {
                    action: PromptAction::SignIn,
                    rp_id: Some(rp_id),
                    user_name: if job.credentials.len() == 1 {
                        user_name
                    } else {
                        None
                    },
                },
                Pending::GetAssertion(Box::new(job)),
            )
        }
        Ok(Located::PinProbe(rp_id)) => Step::AwaitUser(
            UserPrompt {
                action: PromptAction::Acknowledge,
                rp_id: Some(rp_id),
                user_name: None,
            },
            Pending::FailAfterTouch(StatusCode::PinNotSet),
        ),
        Err(status) => Step::Done(Err(status)),
    }
}

enum Located {
    Job(Job, String),
    PinProbe(String),
}

fn locate<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Result<Located, StatusCode> {
    // 1. Zero-length pinUvAuthParam: touch, then "no PIN is set".
    if let Some(param) = &request.pin_uv_auth_param {
        if param.is_empty() {
            return Ok(Located::PinProbe(request.rp_id));
        }
        // 2. No PIN/UV auth protocol is supported.
        if request.pin_uv_auth_protocol.is_none() {
            return Err(StatusCode::MissingParameter);
        }
        return Err(StatusCode::InvalidParameter);
    }
    // 3. Options: "rk" is not valid for getAssertion; "uv" needs built-in UV.
    if request.options.rk.is_some() {
        return Err(StatusCode::UnsupportedOption);
    }
    if request.options.uv == Some(true) {
        return Err(StatusCode::InvalidOption);
    }
    let up = request.options.up.unwrap_or(true);
    let rp_id_hash = sha256(request.rp_id.as_bytes());
    // 7. Locate credentials.
    let credentials = match &request.allow_list {
        Some(list) if !list.is_empty() => from_allow_list(ctx, &rp_id_hash, list)?,
        _ => {
            let mut found = ctx.store.discoverable_for_rp(&rp_id_hash)?;
            // Most recently created first (CTAP 2.1 §6.2.2 step 7); the store
            // returns them oldest first.
            found.reverse();
            found
        }
    };
    if credentials.is_empty() {
        return Err(StatusCode::NoCredentials);
    }
    Ok(Located::Job(
        Job {
            rp_id_hash,
            client_data_hash: request.client_data_hash,
            credentials,
            flags: if up { FLAG_UP } else { 0 },
        },
        request.rp_id,
    ))
}

/// The first credential in the allowList that this authenticator made for this RP.
fn from_allow_list<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    list: &[CredentialDescriptor],
) -> Result<Vec<StoredCredential>, StatusCode> {
    let device_secret = ctx.store.device_secret()?;
    for descriptor in list {
        if let Some(credential) = find_ours(&mut ctx.store, &device_secret, rp_id_hash, descriptor)?
        {
            return Ok(vec![credential]);
        }
    }
    Ok(Vec::new())
}

/// Signs with the first credential after the touch; keeps the rest for
/// getNextAssertion.
pub(crate) fn finish<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    job: Job,
    now: Instant,
) -> Result<Response, StatusCode> {
    let Job {
        rp_id_hash,
        client_data_hash,
        mut credentials,
        flags,
    } = job;
    let total = credentials.len();
    let first = credentials.remove(0);
    let mut response = assertion(ctx, &rp_id_hash, &client_data_hash, first, flags)?;
    if total > 1 {
        if let Value::Map(entries) = &mut response {
            entries.push((int(0x05), int(i64::try_from(total).unwrap_or(i64::MAX))));
        }
        ctx.next_assertions = Some(NextAssertions {
            rp_id_hash,
            client_data_hash,
            remaining: credentials,
            flags,
            last_used: now,
        });
    }
    Ok(Response(Some(response)))
}

/// authenticatorGetNextAssertion.
pub(crate) fn next<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    now: Instant,
) -> Result<Response, StatusCode> {
    let Some(mut state) = ctx.next_assertions.take() else {
        return Err(StatusCode::NotAllowed);
    };
    // 2–3. The state lives 30 seconds from the last assertion.
    if now.saturating_duration_since(state.last_used) > NEXT_ASSERTION_TIMEOUT
        || state.remaining.is_empty()
    {
        return Err(StatusCode::NotAllowed);
    }
    let credential = state.remaining.remove(0);
    let response = assertion(
        ctx,
        &state.rp_id_hash,
        &state.client_data_hash,
        credential,
        state.flags,
    )?;
    if !state.remaining.is_empty() {
        state.last_used = now;
        ctx.next_assertions = Some(state);
    }
    Ok(Response(Some(response)))
}

fn assertion<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    client_data_hash: &[u8; 32],
    mut credential: StoredCredential,
    flags: u8,
) -> Result<Value, StatusCode> {
    // The counter is advanced and stored before the signature leaves.
    let sign_count = if credential.discoverable {
        credential.sign_count = credential.sign_count.wrapping_add(1);
        ctx.store.put_discoverable(&credential)?;
        credential.sign_count
    } else {
        ctx.store.next_global_counter()?
    };
    let auth_data = AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags,
        sign_count,
        attested: None,
        extensions: None,
    }
    .to_bytes();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(client_data_hash);
    let signature = credential.private_key.sign(&signed)?;
    let mut entries = vec![
        (int(0x01), descriptor_to_value(&credential.credential_id)),
        (int(0x02), Value::Bytes(auth_data)),
        (int(0x03), Value::Bytes(signature)),
    ];
    if credential.discoverable {
        // Without user verification only the user handle is returned (§6.2.2);
        // names are identifying. Found through the allowList, the handle is
        // returned as well: the relying party needs it for a discoverable one.
        entries.push((int(0x04), user_to_value(&credential.user, false)));
    }
    Ok(Value::Map(entries))
}
