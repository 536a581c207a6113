//! The TPM 2.0 side of TPM slots, over tss-esapi (feature `tpm`).

use std::str::FromStr;

use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::constants::{PropertyTag, SessionType};
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Digest, EccPoint, KeyedHashScheme, PcrSelectionList, PcrSelectionListBuilder, PcrSlot, Private,
    Public, PublicBuilder, PublicEccParametersBuilder, PublicKeyedHashParameters, SensitiveData,
    SymmetricDefinition, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, TctiNameConf};
use zeroize::Zeroizing;

use super::{Sealed, TpmReport, pcr_list};
use crate::error::VaultError;

/// A TPM failure while `doing` something.
fn failed(doing: &'static str) -> impl Fn(tss_esapi::Error) -> VaultError {
    move |error| VaultError::Tpm {
        doing,
        message: error.to_string(),
    }
}

/// Whether `error` is the TPM response `kind`.
fn is_kind(error: &tss_esapi::Error, kind: Tss2ResponseCodeKind) -> bool {
    matches!(error, tss_esapi::Error::Tss2Error(code) if code.kind() == Some(kind))
}

/// Connects to the TPM through `tcti`.
fn connect(tcti: &str) -> Result<Context, VaultError> {
    let unavailable = |reason: String| VaultError::TpmUnavailable {
        tcti: tcti.to_owned(),
        reason,
    };
    let conf = TctiNameConf::from_str(tcti)
        .map_err(|e| unavailable(format!("not a TCTI configuration ({e})")))?;
    Context::new(conf).map_err(|e| unavailable(e.to_string()))
}

/// The storage key's template: an ECC P-256 restricted decryption key with
/// AES-128-CFB for its children, `fixedTPM | fixedParent | sensitiveDataOrigin
/// | userWithAuth | noDA`, an empty unique field. The same owner seed always
/// makes the same key from it.
fn storage_key_template() -> Result<Public, tss_esapi::Error> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_decrypt(true)
        .with_restricted(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

/// The sealed data object's template: with a policy, only the policy
/// authorizes it (`userWithAuth` clear).
fn sealed_template(policy: Option<Digest>) -> Result<Public, tss_esapi::Error> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_no_da(true)
        .with_admin_with_policy(true)
        .with_user_with_auth(policy.is_none())
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_auth_policy(policy.unwrap_or_default())
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
}

/// The PCR selection of `pcrs` in the SHA-256 bank.
fn selection(pcrs: &[u8]) -> Result<PcrSelectionList, tss_esapi::Error> {
    let slots = pcrs
        .iter()
        .map(|&pcr| PcrSlot::try_from(1u32 << pcr))
        .collect::<Result<Vec<_>, _>>()?;
    PcrSelectionListBuilder::new()
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
}

/// A context with the storage key loaded; flushes what it loaded when dropped.
struct Tpm {
    context: Context,
    storage_key: KeyHandle,
    /// The storage key's name.
    name: Vec<u8>,
    /// Transient objects and sessions to flush.
    loaded: Vec<ObjectHandle>,
}

impl Drop for Tpm {
    fn drop(&mut self) {
        for handle in self.loaded.drain(..).rev() {
            // Nothing to do about a failed flush: the TPM drops transient
            // objects when the connection closes through a resource manager.
            let _ = self.context.flush_context(handle);
        }
    }
}

impl Tpm {
    /// Connects and makes the storage key.
    fn open(tcti: &str) -> Result<Self, VaultError> {
        let mut context = connect(tcti)?;
        let template = storage_key_template().map_err(failed("building the storage key"))?;
        let storage_key = context
            .execute_with_nullauth_session(|ctx| {
                ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
            })
            .map_err(failed("creating the storage key (owner hierarchy)"))?
            .key_handle;
        let mut tpm = Self {
            context,
            storage_key,
            name: Vec::new(),
            loaded: vec![storage_key.into()],
        };
        tpm.name = tpm
            .context
            .tr_get_name(storage_key.into())
            .map_err(failed("reading the storage key's name"))?
            .value()
            .to_vec();
        Ok(tpm)
    }

    /// A session salted with the storage key that encrypts the first
    /// parameter both ways (the secret on its way in and out).
    fn salted_session(&mut self, kind: SessionType) -> Result<AuthSession, VaultError> {
        let session = self
            .context
            .start_auth_session(
                Some(self.storage_key),
                None,
                None,
                kind,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(failed("starting a session"))?
            .ok_or_else(|| VaultError::Tpm {
                doing: "starting a session",
                message: "the TPM returned no session".into(),
            })?;
        self.loaded
            .push(tss_esapi::handles::SessionHandle::from(session).into());
        let (attributes, mask) = SessionAttributesBuilder::new()
            .with_decrypt(true)
            .with_encrypt(true)
            .build();
        self.context
            .tr_sess_set_attributes(session, attributes, mask)
            .map_err(failed("setting the session's attributes"))?;
        Ok(session)
    }

    /// The PolicyPCR digest of `pcrs` at their current values.
    fn pcr_policy(&mut self, pcrs: &[u8]) -> Result<Digest, VaultError> {
        let trial = self.salted_session(SessionType::Trial)?;
        let trial = PolicySession::try_from(trial).map_err(failed("starting a trial policy"))?;
        let selection = selection(pcrs).map_err(failed("selecting PCRs"))?;
        self.context
            .policy_pcr(trial, Digest::default(), selection)
            .map_err(failed("reading the PCR policy"))?;
        self.context
            .policy_get_digest(trial)
            .map_err(failed("reading the PCR policy"))
    }
}

/// Seals `secret` under the storage key of the TPM at `tcti`, bound to `pcrs`.
pub(super) fn seal(tcti: &str, pcrs: &[u8], secret: &[u8]) -> Result<Sealed, VaultError> {
    let mut tpm = Tpm::open(tcti)?;
    let policy = if pcrs.is_empty() {
        None
    } else {
        Some(tpm.pcr_policy(pcrs)?)
    };
    let template = sealed_template(policy).map_err(failed("building the sealed object"))?;
    let data = SensitiveData::try_from(secret.to_vec()).map_err(failed("sealing"))?;
    let session = tpm.salted_session(SessionType::Hmac)?;
    let storage_key = tpm.storage_key;
    let created = tpm
        .context
        .execute_with_session(Some(session), |ctx| {
            ctx.create(storage_key, template, None, Some(data), None, None)
        })
        .map_err(failed("sealing the slot secret"))?;
    Ok(Sealed {
        pcrs: pcrs.to_vec(),
        parent_name: tpm.name.clone(),
        public: created
            .out_public
            .marshall()
            .map_err(failed("encoding the sealed object"))?,
        private: created.out_private.value().to_vec(),
    })
}

/// Unseals slot `slot`'s secret with the TPM at `tcti`.
pub(super) fn unseal(
    tcti: &str,
    slot: i64,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let mut tpm = Tpm::open(tcti)?;
    let foreign = || VaultError::TpmForeign {
        slot,
        tcti: tcti.to_owned(),
    };
    if tpm.name != sealed.parent_name {
        return Err(foreign());
    }
    let undecodable = |e: tss_esapi::Error| VaultError::Undecodable {
        table: "slots",
        row: slot.to_string(),
        reason: format!("TPM sealed object: {e}"),
    };
    let public = Public::unmarshall(&sealed.public).map_err(undecodable)?;
    let private = Private::try_from(sealed.private.clone()).map_err(undecodable)?;
    let storage_key = tpm.storage_key;
    let object = tpm
        .context
        .execute_with_nullauth_session(|ctx| ctx.load(storage_key, private, public))
        .map_err(|e| {
            // The private area's integrity key comes from the storage key:
            // an object sealed elsewhere does not load here.
            if is_kind(&e, Tss2ResponseCodeKind::Integrity) {
                foreign()
            } else {
                failed("loading the sealed object")(e)
            }
        })?;
    tpm.loaded.push(object.into());
    let session = if sealed.pcrs.is_empty() {
        tpm.salted_session(SessionType::Hmac)?
    } else {
        let session = tpm.salted_session(SessionType::Policy)?;
        let policy = PolicySession::try_from(session).map_err(failed("starting a policy"))?;
        let selection = selection(&sealed.pcrs).map_err(undecodable)?;
        tpm.context
            .policy_pcr(policy, Digest::default(), selection)
            .map_err(failed("evaluating the PCR policy"))?;
        session
    };
    let data = tpm
        .context
        .execute_with_session(Some(session), |ctx| ctx.unseal(object.into()))
        .map_err(|e| {
            if is_kind(&e, Tss2ResponseCodeKind::PolicyFail) {
                VaultError::TpmPolicyMismatch {
                    slot,
                    pcrs: pcr_list(&sealed.pcrs),
                }
            } else {
                failed("unsealing the slot secret")(e)
            }
        })?;
    Ok(Zeroizing::new(data.value().to_vec()))
}

/// Connects to the TPM at `tcti`, reads its manufacturer and tries to make
/// the storage key.
pub(super) fn probe(tcti: &str) -> Result<TpmReport, VaultError> {
    let mut context = connect(tcti)?;
    let manufacturer = context
        .get_tpm_property(PropertyTag::Manufacturer)
        .map_err(failed("reading the manufacturer"))?
        .map(|code| {
            String::from_utf8_lossy(&code.to_be_bytes())
                .trim_end_matches(['\0', ' '])
                .to_owned()
        })
        .unwrap_or_default();
    drop(context);
    let storage_key = Tpm::open(tcti).is_ok();
    Ok(TpmReport {
        tcti: tcti.to_owned(),
        manufacturer,
        storage_key,
    })
}
