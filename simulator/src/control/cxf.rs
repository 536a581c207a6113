//! Passkeys out of and into a virtual authenticator as FIDO CXF v1.0, so
//! that testers can move fixtures between runs and tools (softkey's own
//! extension of the control API, not a WebDriver command).
//!
//! ```text
//!  GET  …/{id}/cxf  ─► every discoverable credential ─ vault::cxf::encode ─► {"cxf": {…}, "refused": […]}
//!  POST …/{id}/cxf  ◄─ {"cxf": {…} or "…", "replace", "dryRun"} ─ vault::cxf::decode ─► plan ─► store
//! ```
//!
//! The CXF JSON travels in the clear, inside the API's JSON: the control API
//! is a loopback test tool that already hands out private keys (Get
//! Credentials), and a test fixture is no secret; `softkey vault export`
//! is the way to move real passkeys (age-encrypted). The encoding and the
//! checks are the vault's (`softkey_vault::cxf`): the same file imports here
//! and into a vault, and a malformed or hostile file is refused whole, with
//! the error named in `softkey:reason`, before anything is stored.
//!
//! Export takes every discoverable credential with a P-256 or Ed25519 key,
//! whatever its backup flags and counter (a test tool moves fixtures); the
//! others, and non-discoverable credentials (CXF holds passkeys only), are
//! listed in `refused`. The flags are not changed. Import stores each passkey
//! the file holds (backup eligible and backed up, counter 0, as the vault
//! does), a duplicate (same credential ID, or same relying party and user
//! handle) replaced only with `"replace": true`; if storing fails midway,
//! what was stored is taken back.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::cxf::{self, CxfError, Existing, ExportPasskey, Exporter, ImportPlan};

use crate::control::device::VirtualAuthenticator;
use crate::control::error::ApiError;

/// `exporterRpId` and `exporterDisplayName` of the simulator's exports.
const EXPORTER: &str = "softkey-sim";

/// The name a CXF refusal gets in `softkey:reason`.
pub fn reason_name(error: &CxfError) -> &'static str {
    match error {
        CxfError::TooLarge { .. } => "cxf-too-large",
        CxfError::NotCxf(_) => "cxf-not-cxf",
        CxfError::UnsupportedVersion { .. } => "cxf-unsupported-version",
        CxfError::Malformed { .. } => "cxf-malformed",
        CxfError::FieldLength { .. } => "cxf-field-length",
        CxfError::DuplicateCredentialId { .. } => "cxf-duplicate-credential-id",
        CxfError::DuplicateUser { .. } => "cxf-duplicate-user",
        CxfError::BadKey { .. } => "cxf-bad-key",
        CxfError::BadExtension { .. } => "cxf-bad-extension",
        CxfError::CorruptLargeBlobArray => "cxf-corrupt-large-blob-array",
        _ => "cxf-error",
    }
}

fn refused(error: CxfError) -> ApiError {
    let mut api = ApiError::invalid(format!("CXF: {error}"));
    api.reason = Some(reason_name(&error));
    api
}

fn large_blob_array(store: &mut dyn Store) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(store
        .setting(SettingKey::LargeBlobArray)
        .map_err(ApiError::store)?
        .map(|bytes| bytes.expose_secret().to_vec()))
}

/// The CXF export of `authenticator`'s discoverable credentials, and what it left out.
pub fn export(authenticator: &VirtualAuthenticator) -> Result<Value, ApiError> {
    let mut device = authenticator.device();
    let control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    let stored = store.all_discoverable().map_err(ApiError::store)?;
    let array = large_blob_array(store)?;
    let credentials: Vec<&StoredCredential> = stored.iter().collect();
    let blobs = cxf::large_blobs_of(array.as_deref(), &credentials).map_err(refused)?;
    let passkeys: Vec<ExportPasskey<'_>> = stored
        .iter()
        .zip(&blobs)
        .map(|(credential, blob)| ExportPasskey {
            credential,
            created: None,
            large_blob: blob.as_ref(),
        })
        .collect();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let encoded = cxf::encode(
        &Exporter {
            rp_id: EXPORTER,
            display_name: EXPORTER,
            account_id: authenticator.id.as_bytes(),
            timestamp,
        },
        &passkeys,
    )
    .map_err(refused)?;
    let document: Value = serde_json::from_slice(&encoded.json)
        .map_err(|e| ApiError::unknown(format!("the export is not JSON: {e}")))?;
    let mut left_out: Vec<Value> = encoded
        .refused
        .iter()
        .map(|r| {
            json!({
                "credentialId": URL_SAFE_NO_PAD.encode(&r.credential_id),
                "rpId": r.rp_id,
                "reason": r.reason,
            })
        })
        .collect();
    let non_discoverable = control
        .made
        .iter()
        .map(|m| (&m.id, m.rp_id.as_deref()))
        .chain(control.aliases.iter().filter_map(|a| {
            a.non_resident
                .as_ref()
                .map(|n| (&a.external, Some(n.rp_id.as_str())))
        }));
    for (id, rp_id) in non_discoverable {
        left_out.push(json!({
            "credentialId": URL_SAFE_NO_PAD.encode(id),
            "rpId": rp_id,
            "reason": "not discoverable: CXF holds passkeys (discoverable credentials) only",
        }));
    }
    Ok(json!({ "cxf": document, "refused": left_out }))
}

/// The body of an import, validated.
struct ImportRequest {
    json: Vec<u8>,
    replace: bool,
    dry_run: bool,
}

impl ImportRequest {
    fn from_json(body: &Value) -> Result<Self, ApiError> {
        let json = match body.get("cxf") {
            Some(Value::String(text)) => text.as_bytes().to_vec(),
            Some(document @ Value::Object(_)) => serde_json::to_vec(document)
                .map_err(|e| ApiError::unknown(format!("re-encoding the CXF JSON: {e}")))?,
            Some(_) => {
                return Err(ApiError::invalid(
                    "cxf must be the CXF document: a JSON object, or its text",
                ));
            }
            None => return Err(ApiError::invalid("cxf is missing")),
        };
        let flag = |name: &str| match body.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::invalid(format!("{name} must be a boolean"))),
        };
        Ok(Self {
            json,
            replace: flag("replace")?,
            dry_run: flag("dryRun")?,
        })
    }
}

/// Imports the CXF document of `body` into `authenticator`: what happened
/// to each item, and how many passkeys were stored.
pub fn import(authenticator: &VirtualAuthenticator, body: &Value) -> Result<Value, ApiError> {
    let request = ImportRequest::from_json(body)?;
    if !authenticator.options.has_resident_key {
        return Err(ApiError::unsupported(
            "the authenticator does not support resident credentials (hasResidentKey is \
             false): CXF passkeys are discoverable",
        ));
    }
    let decoded = cxf::decode(&request.json).map_err(refused)?;
    let large_blobs = authenticator
        .options
        .extensions
        .iter()
        .any(|e| e == "largeBlob");
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    let mut existing: Vec<Existing> = store
        .all_discoverable()
        .map_err(ApiError::store)?
        .iter()
        .map(|c| Existing {
            credential_id: c.credential_id.clone(),
            rp_id: c.rp_id.clone(),
            user_id: c.user.id.clone(),
        })
        .collect();
    // Non-discoverable credentials have no row to replace: their IDs are
    // kept, never taken over.
    let fixed: Vec<Vec<u8>> = control
        .made
        .iter()
        .map(|m| m.id.clone())
        .chain(control.aliases.iter().map(|a| a.external.clone()))
        .collect();
    existing.extend(fixed.iter().map(|id| Existing {
        credential_id: id.clone(),
        rp_id: String::new(),
        user_id: Vec::new(),
    }));
    let mut plan = ImportPlan::new(decoded, &existing, |item| {
        request.replace
            && item
                .duplicate_of
                .as_ref()
                .is_none_or(|d| !fixed.contains(d))
    });
    if !large_blobs {
        let mut index = 0;
        while index < plan.candidates.len() {
            if plan.candidates[index].1.large_blob.is_some() {
                plan.skip(index, cxf::SkipReason::LargeBlobUnsupported);
            } else {
                index += 1;
            }
        }
    }
    let array = large_blob_array(store)?;
    let new_array = cxf::attach_large_blobs(&mut plan, array.as_deref()).map_err(refused)?;
    let stored = plan.stored();
    if !request.dry_run {
        store_all(store, &plan, array.as_deref(), new_array.as_deref())?;
        for (_, candidate) in &plan.candidates {
            control.backup.insert(
                candidate.credential.credential_id.clone(),
                BackupFlags {
                    eligible: true,
                    state: true,
                },
            );
        }
    }
    let items = serde_json::to_value(&plan.items)
        .map_err(|e| ApiError::unknown(format!("encoding the plan: {e}")))?;
    Ok(json!({
        "imported": if request.dry_run { 0 } else { stored },
        "wouldImport": stored,
        "dryRun": request.dry_run,
        "items": items,
    }))
}

/// Stores the plan's passkeys and the new large-blob array; on a failure,
/// takes back what was stored and puts back what was replaced.
fn store_all(
    store: &mut dyn Store,
    plan: &ImportPlan,
    old_array: Option<&[u8]>,
    new_array: Option<&[u8]>,
) -> Result<(), ApiError> {
    let before = store.all_discoverable().map_err(ApiError::store)?;
    let mut written = Vec::new();
    let mut result = Ok(());
    for (_, candidate) in &plan.candidates {
        let credential = &candidate.credential;
        if let Err(error) = store.put_discoverable(credential) {
            result = Err(ApiError::store(error));
            break;
        }
        written.push(credential.credential_id.clone());
    }
    if result.is_ok()
        && let Some(array) = new_array
    {
        result = store
            .put_setting(SettingKey::LargeBlobArray, Some(array))
            .map_err(ApiError::store);
    }
    if result.is_ok() {
        return softkey_authenticator::pin::persistent::note_credential_store_change(
            store,
            &mut rand::rng(),
        )
        .map_err(|status| ApiError::unknown(format!("credential store state: {status}")));
    }
    // Best effort: the store failed already; put back what it held.
    for id in &written {
        let _ = store.delete_discoverable(id);
    }
    for credential in before {
        let replaced = written.contains(&credential.credential_id)
            || plan.candidates.iter().any(|(_, c)| {
                c.credential.rp_id == credential.rp_id && c.credential.user.id == credential.user.id
            });
        if replaced {
            let _ = store.put_discoverable(&credential);
        }
    }
    let _ = store.put_setting(SettingKey::LargeBlobArray, old_array);
    result
}
