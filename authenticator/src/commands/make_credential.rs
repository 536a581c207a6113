//! authenticatorMakeCredential (CTAP 2.1 §6.1).

use ciborium::Value;

use crate::authdata::{AuthenticatorData, FLAG_UP};
use crate::authenticator::{Context, Pending, PromptAction, Step, UserPrompt};
use crate::cbor::{self, IntMap, int, text};
use crate::commands::Response;
use crate::commands::find_ours;
use crate::credential::{DISCOVERABLE_ID_LEN, DISCOVERABLE_ID_V1, StoredCredential, UserEntity};
use crate::crypto::{Algorithm, PrivateKey, sha256};
use crate::request::{
    self, CredentialDescriptor, CredentialParameter, Options, RpEntity, parse_user,
};
use crate::status::StatusCode;
use crate::store::Store;

/// The parameters of authenticatorMakeCredential (CTAP 2.1 §6.1.1).
#[derive(Debug)]
pub struct Request {
    /// 0x01 clientDataHash.
    pub client_data_hash: [u8; 32],
    /// 0x02 rp.
    pub rp: RpEntity,
    /// 0x03 user.
    pub user: UserEntity,
    /// 0x04 pubKeyCredParams.
    pub pub_key_cred_params: Vec<CredentialParameter>,
    /// 0x05 excludeList.
    pub exclude_list: Vec<CredentialDescriptor>,
    /// 0x06 extensions (none are supported yet; parsed for type only).
    pub extensions: Option<Vec<(String, Value)>>,
    /// 0x07 options.
    pub options: Options,
    /// 0x08 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x09 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x0A enterpriseAttestation.
    pub enterprise_attestation: Option<u64>,
}

impl Request {
    /// Parses the parameter map.
    pub fn parse(mut map: IntMap) -> Result<Self, StatusCode> {
        let client_data_hash = request::parse_client_data_hash(map.require(0x01)?)?;
        let rp = RpEntity::parse(map.require(0x02)?)?;
        let user = parse_user(map.require(0x03)?)?;
        let pub_key_cred_params = request::parse_credential_parameters(map.require(0x04)?)?;
        let exclude_list = map
            .take(0x05)
            .map(request::parse_descriptor_list)
            .transpose()?
            .unwrap_or_default();
        let extensions = map
            .take(0x06)
            .map(|v| cbor::TextMap::new(v).map(cbor::TextMap::into_remaining))
            .transpose()?;
        let options = map
            .take(0x07)
            .map(Options::parse)
            .transpose()?
            .unwrap_or_default();
        let pin_uv_auth_param = map.take(0x08).map(cbor::into_bytes).transpose()?;
        let pin_uv_auth_protocol = map.take(0x09).map(|v| cbor::as_u64(&v)).transpose()?;
        let enterprise_attestation = map.take(0x0A).map(|v| cbor::as_u64(&v)).transpose()?;
        if let Some(formats) = map.take(0x0B) {
            for format in cbor::into_array(formats)? {
                cbor::into_text(format)?;
            }
        }
        Ok(Self {
            client_data_hash,
            rp,
            user,
            pub_key_cred_params,
            exclude_list,
            extensions,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
            enterprise_attestation,
        })
    }
}

/// A validated request waiting for the user's touch.
pub(crate) struct Job {
    request: Request,
    algorithm: Algorithm,
    discoverable: bool,
}

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Step {
    match validate(ctx, request) {
        Ok(step) => step,
        Err(status) => Step::Done(Err(status)),
    }
}

fn validate<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
) -> Result<Step, StatusCode> {
    let prompt = |action| UserPrompt {
        action,
        rp_id: Some(request.rp.id.clone()),
        user_name: request.user.name.clone(),
    };
    // 1. A zero-length pinUvAuthParam asks "is a PIN set?" after a touch. No PIN
    //    can be set on this authenticator yet, so the answer is PIN_NOT_SET.
    if let Some(param) = &request.pin_uv_auth_param {
        if param.is_empty() {
            return Ok(Step::AwaitUser(
                prompt(PromptAction::Acknowledge),
                Pending::FailAfterTouch(StatusCode::PinNotSet),
            ));
        }
        // 2. pinUvAuthParam without a protocol is a missing parameter; with one,
        //    no PIN/UV auth protocol is supported (getInfo lists none).
        if request.pin_uv_auth_protocol.is_none() {
            return Err(StatusCode::MissingParameter);
        }
        return Err(StatusCode::InvalidParameter);
    }
    // 3. The first supported algorithm in the caller's order of preference.
    let algorithm = request
        .pub_key_cred_params
        .iter()
        .filter(|p| p.credential_type == "public-key")
        .find_map(|p| Algorithm::from_cose_id(p.alg))
        .ok_or(StatusCode::UnsupportedAlgorithm)?;
    // 5. Options: "up": false is invalid here; "uv": true needs built-in user
    //    verification, which this authenticator does not offer.
    if request.options.up == Some(false) {
        return Err(StatusCode::InvalidOption);
    }
    if request.options.uv == Some(true) {
        return Err(StatusCode::InvalidOption);
    }
    let discoverable = request.options.rk.unwrap_or(false);
    // 8. Enterprise attestation is not offered.
    if request.enterprise_attestation.is_some() {
        return Err(StatusCode::InvalidParameter);
    }
    if discoverable && ctx.store.remaining_capacity() == Some(0) {
        let replaces = ctx
            .store
            .discoverable_for_rp(&sha256(request.rp.id.as_bytes()))?
            .iter()
            .any(|c| c.user.id == request.user.id);
        if !replaces {
            return Err(StatusCode::KeyStoreFull);
        }
    }
    // 10. A credential of ours in the excludeList: a touch, then CREDENTIAL_EXCLUDED
    //     (the touch keeps a site from probing for credentials silently).
    let rp_id_hash = sha256(request.rp.id.as_bytes());
    if is_excluded(ctx, &rp_id_hash, &request.exclude_list)? {
        return Ok(Step::AwaitUser(
            prompt(PromptAction::Acknowledge),
            Pending::FailAfterTouch(StatusCode::CredentialExcluded),
        ));
    }
    // 12. Unknown extensions are ignored; none are supported yet.
    // 13. User presence ("up" is true by default for makeCredential).
    Ok(Step::AwaitUser(
        prompt(PromptAction::Register),
        Pending::MakeCredential(Box::new(Job {
            request,
            algorithm,
            discoverable,
        })),
    ))
}

fn is_excluded<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    exclude_list: &[CredentialDescriptor],
) -> Result<bool, StatusCode> {
    if exclude_list.is_empty() {
        return Ok(false);
    }
    let device_secret = ctx.store.device_secret()?;
    for descriptor in exclude_list {
        if find_ours(&mut ctx.store, &device_secret, rp_id_hash, descriptor)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates the credential after the touch.
pub(crate) fn finish<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    job: Job,
) -> Result<Response, StatusCode> {
    let Job {
        request,
        algorithm,
        discoverable,
    } = job;
    let rp_id_hash = sha256(request.rp.id.as_bytes());
    let private_key = PrivateKey::generate(algorithm, &mut ctx.rng);
    let mut credential = StoredCredential {
        credential_id: Vec::new(),
        rp_id: request.rp.id.clone(),
        rp_name: request.rp.name.clone(),
        user: request.user.clone(),
        private_key,
        sign_count: 0,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable,
    };
    let sign_count;
    if discoverable {
        let mut id = vec![0u8; DISCOVERABLE_ID_LEN];
        ctx.rng.fill_bytes(&mut id);
        id[0] = DISCOVERABLE_ID_V1;
        credential.credential_id = id;
        // 17. Stored durably (replacing this user's older credential for the
        //     RP) before the response leaves.
        ctx.store.put_discoverable(&credential)?;
        sign_count = 0;
    } else {
        // Non-discoverable credentials are not stored; the ID carries the key.
        credential.rp_id.clear();
        credential.rp_name = None;
        credential.user = UserEntity::default();
        let device_secret = ctx.store.device_secret()?;
        credential.credential_id = credential.seal_id(&device_secret, &rp_id_hash, &mut ctx.rng)?;
        sign_count = 0;
    }
    let public_key = credential.private_key.cose_public_key()?;
    let auth_data = AuthenticatorData {
        rp_id_hash,
        flags: FLAG_UP,
        sign_count,
        attested: Some((&ctx.config.aaguid, &credential.credential_id, public_key)),
        extensions: None,
    }
    .to_bytes();
    // Packed self attestation (WebAuthn §8.2): the credential key signs
    // authData ‖ clientDataHash.
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&request.client_data_hash);
    let signature = credential.private_key.sign(&signed)?;
    let att_stmt = Value::Map(vec![
        (text("alg"), int(algorithm.cose_id())),
        (text("sig"), Value::Bytes(signature)),
    ]);
    tracing::info!(
        rp = %request.rp.id,
        discoverable,
        algorithm = ?algorithm,
        "credential created"
    );
    Ok(Response(Some(Value::Map(vec![
        (int(0x01), text("packed")),
        (int(0x02), Value::Bytes(auth_data)),
        (int(0x03), att_stmt),
    ]))))
}
