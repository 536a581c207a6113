//! authenticatorGetAssertion (CTAP 2.1 §6.2) and authenticatorGetNextAssertion (§6.3).

use std::time::Instant;

use ciborium::Value;

use crate::authdata::{AuthenticatorData, FLAG_UP, FLAG_UV};
use crate::authenticator::{
    Context, NEXT_ASSERTION_TIMEOUT, Pending, PromptAction, Step, UserPrompt,
};
use crate::cbor::{self, IntMap, int};
use crate::commands::{
    Response, authorize_with_token, built_in_uv_requested, client_pin, find_ours, pin_uv_auth_head,
};
use crate::credential::StoredCredential;
use crate::crypto::sha256;
use crate::extensions::{
    GetAssertionInputs, Outputs, cred_blob, cred_protect, hmac_secret, large_blob_key,
    third_party_payment,
};
use crate::pin::{AuthenticatorSettings, Permissions, PinState};
use crate::request::{
    self, CredentialDescriptor, Options, SharedParts, descriptor_to_value, user_to_value,
};
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
    /// 0x04 extensions (read by the [`crate::extensions`] modules; unknown
    /// ones are ignored).
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
        let SharedParts {
            extensions,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        } = SharedParts::take(&mut map, 0x04)?;
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
    /// The credentials to sign with (empty until built-in UV succeeded, when
    /// it was asked for).
    credentials: Vec<StoredCredential>,
    /// The allowList, kept to locate the credentials after built-in UV.
    allow_list: Option<Vec<CredentialDescriptor>>,
    flags: u8,
    /// The prompt is built-in user verification.
    built_in_uv: bool,
    /// A pinUvAuthToken was used and is consumed on success.
    used_token: bool,
    /// The extension inputs, validated.
    extensions: GetAssertionInputs,
}

impl Job {
    /// Whether the prompt asks for built-in user verification.
    pub(crate) fn built_in_uv(&self) -> bool {
        self.built_in_uv
    }
}

/// getNextAssertion state: the credentials still to return (CTAP 2.1 §6.3).
pub(crate) struct NextAssertions {
    rp_id_hash: [u8; 32],
    client_data_hash: [u8; 32],
    remaining: Vec<StoredCredential>,
    flags: u8,
    extensions: GetAssertionInputs,
    last_used: Instant,
}

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Step {
    match locate(ctx, request, now) {
        Ok(Located::Job(job, rp_id)) => {
            if job.flags & FLAG_UP == 0 && !job.built_in_uv {
                // "up": false — a silent assertion, no touch.
                return Step::Done(finish(ctx, job, now));
            }
            let user_name = job.credentials.first().and_then(|c| c.user.name.clone());
            Step::AwaitUser(
                UserPrompt {
                    action: if job.built_in_uv {
                        PromptAction::Verify
                    } else {
                        PromptAction::SignIn
                    },
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
        Ok(Located::PinProbe(rp_id, status)) => Step::AwaitUser(
            UserPrompt {
                action: PromptAction::Acknowledge,
                rp_id: Some(rp_id),
                user_name: None,
            },
            Pending::FailAfterTouch(status),
        ),
        Err(status) => Step::Done(Err(status)),
    }
}

enum Located {
    Job(Job, String),
    PinProbe(String, StatusCode),
}

fn locate<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Result<Located, StatusCode> {
    let pin = PinState::load(&mut ctx.store)?;
    // 1–2. A zero-length pinUvAuthParam asks "is a PIN set?" after a touch.
    let param = request.pin_uv_auth_param.as_deref();
    if let Some(status) = pin_uv_auth_head(&pin, param, request.pin_uv_auth_protocol)? {
        return Ok(Located::PinProbe(request.rp_id, status));
    }
    // 3. Options: "rk" is not valid for getAssertion. With a pinUvAuthParam,
    //    "uv" is ignored; otherwise "uv": true needs built-in UV.
    if request.options.rk.is_some() {
        return Err(StatusCode::UnsupportedOption);
    }
    let uv_requested = built_in_uv_requested(ctx, &pin, param, &request.options)?;
    let up = request.options.up.unwrap_or(true);
    // 4. alwaysUv: an assertion with presence needs user verification.
    if up
        && request.pin_uv_auth_param.is_none()
        && !uv_requested
        && AuthenticatorSettings::load(&mut ctx.store)?.always_uv
    {
        return Err(StatusCode::PuatRequired);
    }
    // 5. The pinUvAuthParam: a MAC over clientDataHash with the current token,
    //    which must hold the ga permission for this RP and be user-verified.
    let mut uv = false;
    if let Some(param) = &request.pin_uv_auth_param {
        authorize_with_token(
            ctx,
            request.pin_uv_auth_protocol,
            param,
            &request.client_data_hash,
            Permissions::GET_ASSERTION,
            &request.rp_id,
            now,
        )?;
        uv = true;
    }
    // Extension inputs are checked before any touch (hmac-secret needs "up").
    let extensions =
        GetAssertionInputs::parse(request.extensions.as_deref(), &ctx.pin.key_agreement, up)?;
    let rp_id_hash = sha256(request.rp_id.as_bytes());
    // 6–8. Built-in user verification, when asked for, comes before the
    //      credentials are located (CTAP 2.1 §6.2.2): `finish` locates them
    //      after the Verify prompt, so that neither the prompt nor an early
    //      NO_CREDENTIALS tells an unverified caller which credentials exist.
    //      Otherwise they are located now.
    let credentials = if uv_requested {
        Vec::new()
    } else {
        let found = eligible(ctx, &rp_id_hash, request.allow_list.as_deref(), uv)?;
        if found.is_empty() {
            return Err(StatusCode::NoCredentials);
        }
        found
    };
    Ok(Located::Job(
        Job {
            rp_id_hash,
            client_data_hash: request.client_data_hash,
            credentials,
            allow_list: request.allow_list,
            flags: if up { FLAG_UP } else { 0 } | if uv || uv_requested { FLAG_UV } else { 0 },
            built_in_uv: uv_requested,
            used_token: uv,
            extensions,
        },
        request.rp_id,
    ))
}

/// Step 7: the credentials the request may use, leaving out those whose
/// credProtect level it does not meet (`verified`: the user was verified;
/// without UV level 3 never, level 2 only when named in the allowList).
fn eligible<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    allow_list: Option<&[CredentialDescriptor]>,
    verified: bool,
) -> Result<Vec<StoredCredential>, StatusCode> {
    match allow_list {
        Some(list) if !list.is_empty() => from_allow_list(ctx, rp_id_hash, list, verified),
        _ => {
            let mut found = ctx.store.discoverable_for_rp(rp_id_hash)?;
            found.retain(|c| {
                cred_protect::Level::from_stored(c.cred_protect).permits(verified, false)
            });
            // Most recently created first (CTAP 2.1 §6.2.2 step 7); the store
            // returns them oldest first.
            found.reverse();
            Ok(found)
        }
    }
}

/// The first credential in the allowList that this authenticator made for this
/// RP and whose credProtect level allows it (`verified`: the user was verified).
fn from_allow_list<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    list: &[CredentialDescriptor],
    verified: bool,
) -> Result<Vec<StoredCredential>, StatusCode> {
    let device_secret = ctx.store.device_secret()?;
    let id_key = ctx.credential_id_key.key(&device_secret);
    for descriptor in list {
        if let Some(credential) = find_ours(&mut ctx.store, id_key, rp_id_hash, descriptor)?
            && cred_protect::Level::from_stored(credential.cred_protect).permits(verified, true)
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
        allow_list,
        flags,
        built_in_uv,
        used_token,
        extensions,
    } = job;
    if built_in_uv {
        client_pin::record_uv_success(ctx)?;
        // 7–8, after built-in UV.
        credentials = eligible(ctx, &rp_id_hash, allow_list.as_deref(), true)?;
        if credentials.is_empty() {
            return Err(StatusCode::NoCredentials);
        }
    }
    // 9. After collecting presence, a pinUvAuthToken's flags and permissions
    //    (but lbw) are cleared: it serves one assertion with a touch. A silent
    //    probe ("up": false, as platforms filter exclude lists) keeps it.
    if used_token && flags & FLAG_UP != 0 {
        ctx.pin.token.consume();
    }
    let total = credentials.len();
    let first = credentials.remove(0);
    let mut response = assertion(
        ctx,
        &rp_id_hash,
        &client_data_hash,
        first,
        flags,
        &extensions,
        total > 1,
    )?;
    if total > 1 {
        if let Value::Map(entries) = &mut response {
            entries.push((int(0x05), int(i64::try_from(total).unwrap_or(i64::MAX))));
        }
        ctx.next_assertions = Some(NextAssertions {
            rp_id_hash,
            client_data_hash,
            remaining: credentials,
            flags,
            extensions,
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
        &state.extensions,
        true,
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
    extensions: &GetAssertionInputs,
    several_accounts: bool,
) -> Result<Value, StatusCode> {
    let mut outputs = Outputs::default();
    if extensions.cred_blob {
        let blob = credential.cred_blob.clone().unwrap_or_default();
        outputs.push(cred_blob::NAME, Value::Bytes(blob));
    }
    // Never without presence: GetAssertionInputs refuses hmac-secret on a
    // silent request, and this keeps it so.
    if let Some(salts) = &extensions.hmac_secret
        && flags & FLAG_UP != 0
        && let Some(cred_random) = hmac_secret::cred_random(&credential, flags & FLAG_UV != 0)
    {
        let encrypted = salts.encrypted_outputs(cred_random, &mut ctx.rng);
        outputs.push(hmac_secret::NAME, Value::Bytes(encrypted));
    }
    if extensions.third_party_payment {
        outputs.push(
            third_party_payment::NAME,
            Value::Bool(credential.third_party_payment),
        );
    }
    // The counter is advanced and stored before the signature leaves; a
    // backup-eligible discoverable credential has none (policy.rs).
    let sign_count = if credential.discoverable && credential.backup.eligible {
        0
    } else if credential.discoverable {
        ctx.store.next_sign_count(&mut credential)?
    } else if let Some(count) = ctx.policy.next_sign_count(&credential.credential_id) {
        count
    } else {
        ctx.store.next_global_counter()?
    };
    let flags = flags | ctx.policy.backup_flags(&credential).bits();
    let auth_data = AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags,
        sign_count,
        attested: None,
        extensions: outputs.into_value(),
    }
    .to_bytes();
    // authData ‖ clientDataHash is signed; then authData goes into the reply.
    let auth_data_len = auth_data.len();
    let mut signed = auth_data;
    signed.extend_from_slice(client_data_hash);
    let signature = credential.private_key.sign(&signed, &mut ctx.rng)?;
    signed.truncate(auth_data_len);
    let auth_data = signed;
    let mut entries = vec![
        (int(0x01), descriptor_to_value(&credential.credential_id)),
        (int(0x02), Value::Bytes(auth_data)),
        (int(0x03), Value::Bytes(signature)),
    ];
    if credential.discoverable {
        // The user handle always (the relying party needs it for a
        // discoverable credential). Names only when the platform must let a
        // verified user choose among several accounts (§6.2.2): for a single
        // account "id" alone, and never without user verification.
        entries.push((
            int(0x04),
            user_to_value(&credential.user, several_accounts && flags & FLAG_UV != 0),
        ));
    }
    if extensions.large_blob_key
        && let Some(key) = &credential.large_blob_key
    {
        entries.push((
            int(large_blob_key::GET_ASSERTION_RESPONSE_KEY),
            Value::Bytes(key.expose_secret().to_vec()),
        ));
    }
    Ok(Value::Map(entries))
}
