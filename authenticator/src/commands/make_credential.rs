//! authenticatorMakeCredential (CTAP 2.1 §6.1; CTAP 2.2 adds the credential
//! store state, thirdPartyPayment and pinComplexityPolicy, and enterprise
//! attestation is built, [`crate::enterprise`]).

use ciborium::Value;

use std::time::Instant;

use crate::authdata::{AuthenticatorData, FLAG_UP, FLAG_UV};
use crate::authenticator::{AttestationMode, Context, Pending, PromptAction, Step, UserPrompt};
use crate::cbor::{self, IntMap, int, text};
use crate::commands::message_size::{MAX_MSG_SIZE, Statement, make_credential_response_bound};
use crate::commands::{
    Response, authorize_with_token, built_in_uv_requested, client_pin, find_ours, pin_uv_auth_head,
};
use crate::credential::{DISCOVERABLE_ID_LEN, DISCOVERABLE_ID_V1, StoredCredential, UserEntity};
use crate::crypto::{Algorithm, PrivateKey, sha256};
use crate::extensions::{
    MakeCredentialInputs, Outputs, cred_blob, cred_protect, hmac_secret, large_blob_key,
    pin_complexity_policy,
};
use crate::pin::persistent::put_discoverable_noting_change;
use crate::pin::{AuthenticatorSettings, Permissions, PinState};
use crate::policy::BackupFlags;
use crate::request::{
    self, CredentialDescriptor, CredentialParameter, Options, RpEntity, SharedParts, parse_user,
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
    /// 0x06 extensions (read by [`MakeCredentialInputs`]; unknown ones are ignored).
    pub extensions: Option<Vec<(String, Value)>>,
    /// 0x07 options.
    pub options: Options,
    /// 0x08 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x09 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x0A enterpriseAttestation.
    pub enterprise_attestation: Option<u64>,
    /// 0x0B attestationFormatsPreference (CTAP 2.2): formats in the
    /// platform's order of preference.
    pub attestation_formats_preference: Vec<String>,
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
        let SharedParts {
            extensions,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        } = SharedParts::take(&mut map, 0x06)?;
        let enterprise_attestation = map.take(0x0A).map(|v| cbor::as_u64(&v)).transpose()?;
        let attestation_formats_preference = map
            .take(0x0B)
            .map(|formats| {
                cbor::into_array(formats)?
                    .into_iter()
                    .map(cbor::into_text)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
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
            attestation_formats_preference,
        })
    }
}

/// A validated request waiting for the user's touch.
pub(crate) struct Job {
    request: Request,
    /// SHA-256 of the request's RP ID.
    rp_id_hash: [u8; 32],
    algorithm: Algorithm,
    discoverable: bool,
    /// User verified (by a pinUvAuthToken, or built-in UV at the prompt).
    uv: bool,
    /// The prompt is built-in user verification.
    built_in_uv: bool,
    /// A pinUvAuthToken was used and is consumed on success.
    used_token: bool,
    /// The minPinLength extension output, if requested and allowed for this RP.
    min_pin_length: Option<u8>,
    /// The pinComplexityPolicy extension output, likewise.
    pin_complexity_policy: Option<bool>,
    /// An enterprise attestation is returned (step 9).
    enterprise: bool,
    /// The extension inputs, validated.
    extensions: MakeCredentialInputs,
}

impl Job {
    /// Whether the prompt asks for built-in user verification.
    pub(crate) fn built_in_uv(&self) -> bool {
        self.built_in_uv
    }

    /// Whether finishing it generates a key that takes long to make.
    pub(crate) fn slow(&self) -> bool {
        self.algorithm.slow_keygen()
    }
}

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Step {
    match validate(ctx, request, now) {
        Ok(step) => step,
        Err(status) => Step::Done(Err(status)),
    }
}

fn validate<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Result<Step, StatusCode> {
    let prompt = |action| UserPrompt {
        action,
        rp_id: Some(request.rp.id.clone()),
        user_name: request.user.name.clone(),
    };
    let pin = PinState::load(&mut ctx.store)?;
    let settings = AuthenticatorSettings::load(&mut ctx.store)?;
    // 1–2. A zero-length pinUvAuthParam asks "is a PIN set?" after a touch.
    let param = request.pin_uv_auth_param.as_deref();
    if let Some(status) = pin_uv_auth_head(&pin, param, request.pin_uv_auth_protocol)? {
        return Ok(Step::AwaitUser(
            prompt(PromptAction::Acknowledge),
            Pending::FailAfterTouch(status),
        ));
    }
    // 3. The algorithms this authenticator offers, in the caller's order of
    //    preference (the first one whose response fits is chosen below).
    let candidates: Vec<Algorithm> = request
        .pub_key_cred_params
        .iter()
        .filter(|p| p.credential_type == "public-key")
        .filter_map(|p| Algorithm::from_cose_id(p.alg))
        .filter(|alg| ctx.config.algorithms.contains(alg))
        .collect();
    if candidates.is_empty() {
        return Err(StatusCode::UnsupportedAlgorithm);
    }
    // 5. Options: "up": false is invalid here. With a pinUvAuthParam, "uv" is
    //    ignored; otherwise "uv": true needs built-in user verification.
    if request.options.up == Some(false) {
        return Err(StatusCode::InvalidOption);
    }
    let uv_requested = built_in_uv_requested(ctx, &pin, param, &request.options)?;
    let discoverable = request.options.rk.unwrap_or(false);
    let protected = pin.is_set() || ctx.config.built_in_uv;
    if request.pin_uv_auth_param.is_none() && !uv_requested {
        // 6. alwaysUv: every credential needs user verification.
        if settings.always_uv {
            return Err(StatusCode::PuatRequired);
        }
        // 7. makeCredUvNotRqd: a protected authenticator makes
        //    non-discoverable credentials without UV, discoverable ones not.
        if protected && discoverable {
            return Err(StatusCode::PuatRequired);
        }
    }
    // 9. Enterprise attestation: only when capable and enabled; a
    //    vendor-facilitated request for an RP not on the list gets an
    //    ordinary attestation.
    let enterprise =
        crate::enterprise::requested(ctx, request.enterprise_attestation, &request.rp.id)?;
    // 9. The pinUvAuthParam: a MAC over clientDataHash with the current token,
    //    which must hold the mc permission for this RP and be user-verified.
    let mut uv = false;
    if let Some(param) = &request.pin_uv_auth_param {
        authorize_with_token(
            ctx,
            request.pin_uv_auth_protocol,
            param,
            &request.client_data_hash,
            Permissions::MAKE_CREDENTIAL,
            &request.rp.id,
            now,
        )?;
        uv = true;
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
    // Extension inputs are checked before any touch.
    let extensions =
        MakeCredentialInputs::parse(request.extensions.as_deref(), &ctx.pin.key_agreement)?;
    // largeBlobKey is for discoverable credentials only.
    if extensions.large_blob_key && !discoverable {
        return Err(StatusCode::InvalidOption);
    }
    // The response must fit one CTAPHID message (an ML-DSA attestation is
    // large): the first candidate whose response surely fits.
    let statement = attestation_statement(ctx, &request, enterprise);
    let algorithm = candidates
        .into_iter()
        .find(|&alg| {
            make_credential_response_bound(alg, discoverable, &extensions, statement)
                <= MAX_MSG_SIZE
        })
        .ok_or(StatusCode::RequestTooLarge)?;
    // 10. A credential of ours in the excludeList: a touch, then CREDENTIAL_EXCLUDED
    //     (the touch keeps a site from probing for credentials silently). A
    //     userVerificationRequired credential only counts for a verified user.
    //     Built-in user verification, when asked for, comes first (CTAP 2.1
    //     §6.1.2 collects UV before the excludeList decision): `finish` makes
    //     the decision after the Verify prompt, whose evidence of presence
    //     stands for the touch. Until then nothing tells whether a level-3
    //     credential is there.
    let rp_id_hash = sha256(request.rp.id.as_bytes());
    if !uv_requested && is_excluded(ctx, &rp_id_hash, &request.exclude_list, uv)? {
        return Ok(Step::AwaitUser(
            prompt(PromptAction::Acknowledge),
            Pending::FailAfterTouch(StatusCode::CredentialExcluded),
        ));
    }
    // 12. Extensions: minPinLength answers only the RPs configured for it;
    //     unknown extensions are ignored.
    let authorized_rp = settings.min_pin_length_rp_ids.contains(&request.rp.id);
    let min_pin_length = (extensions.min_pin_length && authorized_rp).then_some(pin.min_pin_length);
    let pin_complexity_policy = (extensions.pin_complexity_policy && authorized_rp)
        .then_some(settings.pin_complexity_policy);
    // 13. User presence ("up" is true by default for makeCredential), or
    //     built-in user verification, which implies it.
    let action = if uv_requested {
        PromptAction::Verify
    } else {
        PromptAction::Register
    };
    Ok(Step::AwaitUser(
        prompt(action),
        Pending::MakeCredential(Box::new(Job {
            rp_id_hash,
            used_token: uv,
            uv: uv || uv_requested,
            built_in_uv: uv_requested,
            request,
            algorithm,
            discoverable,
            min_pin_length,
            pin_complexity_policy,
            enterprise,
            extensions,
        })),
    ))
}

fn is_excluded<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    rp_id_hash: &[u8; 32],
    exclude_list: &[CredentialDescriptor],
    uv: bool,
) -> Result<bool, StatusCode> {
    if exclude_list.is_empty() {
        return Ok(false);
    }
    let device_secret = ctx.store.device_secret()?;
    let id_key = ctx.credential_id_key.key(&device_secret);
    for descriptor in exclude_list {
        if let Some(credential) = find_ours(&mut ctx.store, id_key, rp_id_hash, descriptor)?
            && (uv
                || cred_protect::Level::from_stored(credential.cred_protect)
                    != cred_protect::Level::Required)
        {
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
        rp_id_hash,
        algorithm,
        discoverable,
        uv,
        built_in_uv,
        used_token,
        min_pin_length,
        pin_complexity_policy,
        enterprise,
        extensions: inputs,
    } = job;
    if built_in_uv {
        client_pin::record_uv_success(ctx)?;
        // 10, after built-in UV: every credential of ours counts now.
        if is_excluded(ctx, &rp_id_hash, &request.exclude_list, true)? {
            return Err(StatusCode::CredentialExcluded);
        }
    }
    let private_key = PrivateKey::generate(algorithm, &mut ctx.rng);
    let mut credential = StoredCredential {
        credential_id: Vec::new(),
        rp_id: request.rp.id.clone(),
        rp_name: request.rp.name.clone(),
        user: request.user.clone(),
        private_key,
        sign_count: 0,
        cred_protect: inputs
            .cred_protect
            .unwrap_or(cred_protect::DEFAULT)
            .number(),
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable,
        backup: BackupFlags::default(),
        third_party_payment: inputs.third_party_payment,
    };
    let cred_blob_stored = inputs.cred_blob.as_deref().map(cred_blob::fits);
    if let Some(blob) = inputs.cred_blob.as_ref().filter(|b| cred_blob::fits(b)) {
        credential.cred_blob = Some(blob.clone());
    }
    if inputs.large_blob_key {
        credential.large_blob_key = Some(ctx.random_secret());
    }
    if inputs.hmac_secret {
        let (with_uv, without_uv) = hmac_secret::new_cred_randoms(&mut ctx.rng);
        credential.cred_random_with_uv = Some(with_uv);
        credential.cred_random_without_uv = Some(without_uv);
    }
    if discoverable {
        let mut id = vec![0u8; DISCOVERABLE_ID_LEN];
        ctx.rng.fill_bytes(&mut id);
        id[0] = DISCOVERABLE_ID_V1;
        credential.credential_id = id;
    } else {
        // Non-discoverable credentials are not stored; the ID carries the key.
        credential.rp_id.clear();
        credential.rp_name = None;
        credential.user = UserEntity::default();
        let device_secret = ctx.store.device_secret()?;
        let id_key = ctx.credential_id_key.key(&device_secret);
        credential.credential_id = credential.seal_id_with(id_key, &rp_id_hash, &mut ctx.rng)?;
    }
    // The backup flags are stored with a discoverable credential, so that
    // every assertion signs the BE it was created with.
    credential.backup = ctx.policy.new_credential(&credential);
    let public_key = credential.private_key.cose_public_key()?;
    let mut outputs = Outputs::default();
    if let Some(level) = inputs.cred_protect {
        outputs.push(cred_protect::NAME, int(i64::from(level.number())));
    }
    if let Some(stored) = cred_blob_stored {
        outputs.push(cred_blob::NAME, Value::Bool(stored));
    }
    if inputs.hmac_secret {
        outputs.push(hmac_secret::NAME, Value::Bool(true));
        if let Some(salts) = &inputs.hmac_secret_mc
            && let Some(cred_random) = hmac_secret::cred_random(&credential, uv)
        {
            let encrypted = salts.encrypted_outputs(cred_random, &mut ctx.rng);
            outputs.push(hmac_secret::MC_NAME, Value::Bytes(encrypted));
        }
    }
    if let Some(length) = min_pin_length {
        outputs.push("minPinLength", int(i64::from(length)));
    }
    if let Some(policy) = pin_complexity_policy {
        outputs.push(pin_complexity_policy::NAME, Value::Bool(policy));
    }
    let extensions = outputs.into_value();
    let auth_data = AuthenticatorData {
        rp_id_hash,
        flags: (if uv { FLAG_UP | FLAG_UV } else { FLAG_UP }) | credential.backup.bits(),
        sign_count: 0,
        attested: Some((&ctx.config.aaguid, &credential.credential_id, public_key)),
        extensions,
    }
    .to_bytes();
    // authData ‖ clientDataHash is signed; then authData goes into the reply.
    let auth_data_len = auth_data.len();
    let mut signed = auth_data;
    signed.extend_from_slice(&request.client_data_hash);
    let statement = attestation_statement(ctx, &request, enterprise);
    let (format, att_stmt) = match statement {
        Statement::None => ("none", Value::Map(Vec::new())),
        Statement::Enterprise => {
            // Enterprise attestation: the enterprise certificate alone in x5c.
            let identity = crate::attestation::enterprise_identity(ctx)?;
            let signature = identity.enterprise_sign(&signed)?;
            let leaf = identity.enterprise_leaf_der().ok_or(StatusCode::Other)?;
            (
                "packed",
                Value::Map(vec![
                    (text("alg"), int(Algorithm::Es256.cose_id())),
                    (text("sig"), Value::Bytes(signature)),
                    (text("x5c"), Value::Array(vec![Value::Bytes(leaf.to_vec())])),
                ]),
            )
        }
        Statement::Certificate => {
            // Packed with x5c: the device's attestation key signs (WebAuthn §8.2).
            let identity = crate::attestation::identity(ctx)?;
            let signature = identity.sign(&signed)?;
            let x5c = identity.x5c().into_iter().map(Value::Bytes).collect();
            (
                "packed",
                Value::Map(vec![
                    (text("alg"), int(Algorithm::Es256.cose_id())),
                    (text("sig"), Value::Bytes(signature)),
                    (text("x5c"), Value::Array(x5c)),
                ]),
            )
        }
        Statement::SelfAttestation => {
            // Packed self attestation: the credential key signs
            // authData ‖ clientDataHash, under the credential's algorithm.
            let signature = credential.private_key.sign(&signed, &mut ctx.rng)?;
            (
                "packed",
                Value::Map(vec![
                    (text("alg"), int(algorithm.cose_id())),
                    (text("sig"), Value::Bytes(signature)),
                ]),
            )
        }
    };
    signed.truncate(auth_data_len);
    let auth_data = signed;
    let mut response = vec![
        (int(0x01), text(format)),
        (int(0x02), Value::Bytes(auth_data)),
        (int(0x03), att_stmt),
    ];
    if statement == Statement::Enterprise {
        // epAtt: an enterprise attestation was returned.
        response.push((int(0x04), Value::Bool(true)));
    }
    if let Some(key) = &credential.large_blob_key {
        response.push((
            int(large_blob_key::MAKE_CREDENTIAL_RESPONSE_KEY),
            Value::Bytes(key.expose_secret().to_vec()),
        ));
    }
    let response = Value::Map(response);
    // The bound checked before the touch holds; should it ever not, fail
    // before anything is stored rather than send what cannot be framed.
    if 1 + cbor::encoded_len(&response) > MAX_MSG_SIZE {
        return Err(StatusCode::RequestTooLarge);
    }
    if discoverable {
        // 17.5 A new credential store state (CTAP 2.2) and the credential
        //      (replacing this user's older credential for the RP), stored
        //      durably in one write (one fsync on the vault) before the
        //      response leaves.
        put_discoverable_noting_change(&mut ctx.store, &mut ctx.rng, &credential)?;
    }
    // 19. A pinUvAuthToken serves one makeCredential: flags and permissions
    //     (but lbw) are cleared.
    if used_token {
        ctx.pin.token.consume();
    }
    tracing::info!(
        rp = %request.rp.id,
        discoverable,
        algorithm = %algorithm,
        "credential created"
    );
    Ok(Response(Some(response)))
}

/// How this request's credential is attested: `none` if the platform
/// prefers it to `packed` (CTAP 2.2 §6.1.2 step 20: its first preference
/// that is offered, else `packed`), else `packed` with the enterprise
/// certificate when step 9 granted it, else `packed` as configured.
fn attestation_statement<S: Store, R: rand_core::CryptoRng>(
    ctx: &Context<S, R>,
    request: &Request,
    enterprise: bool,
) -> Statement {
    let none_preferred = request
        .attestation_formats_preference
        .iter()
        .find(|f| matches!(f.as_str(), "packed" | "none"))
        .is_some_and(|f| f == "none");
    if none_preferred {
        Statement::None
    } else if enterprise {
        Statement::Enterprise
    } else if ctx.config.attestation == AttestationMode::Certificate {
        Statement::Certificate
    } else {
        Statement::SelfAttestation
    }
}
