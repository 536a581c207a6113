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
//! handle) replaced only with `"replace": true`. The passkeys, the large-blob
//! array they grow and the credential store state are stored in one store
//! operation (`Store::put_discoverable_batch`): if it fails midway, nothing
//! is stored and a duplicate it was to replace stays as it was.

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
    // Non-discoverable credentials have no row to replace: their IDs are
    // kept, never taken over.
    let fixed: Vec<Vec<u8>> = control
        .made
        .iter()
        .map(|m| m.id.clone())
        .chain(control.aliases.iter().map(|a| a.external.clone()))
        .collect();
    let store = device.authenticator_mut().store_mut();
    let plan = plan_and_store(store, decoded, &request, &fixed, large_blobs)?;
    if !request.dry_run {
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
    let stored = plan.stored();
    let items = serde_json::to_value(&plan.items)
        .map_err(|e| ApiError::unknown(format!("encoding the plan: {e}")))?;
    Ok(json!({
        "imported": if request.dry_run { 0 } else { stored },
        "wouldImport": stored,
        "dryRun": request.dry_run,
        "items": items,
    }))
}

/// Plans the import of `decoded` against `store`'s discoverable credentials
/// and the IDs of non-discoverable ones (`fixed`, never replaced) and,
/// unless it is a dry run, stores the plan: all of it or nothing.
fn plan_and_store(
    store: &mut dyn Store,
    decoded: Vec<cxf::DecodedItem>,
    request: &ImportRequest,
    fixed: &[Vec<u8>],
    large_blobs: bool,
) -> Result<ImportPlan, ApiError> {
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
    if !request.dry_run {
        store_all(store, &plan, new_array.as_deref())?;
    }
    Ok(plan)
}

/// Stores the plan's passkeys, the new large-blob array and the new
/// credential store state as one store operation
/// ([`Store::put_discoverable_batch`]): if it fails, nothing was stored and
/// nothing replaced.
fn store_all(
    store: &mut dyn Store,
    plan: &ImportPlan,
    new_array: Option<&[u8]>,
) -> Result<(), ApiError> {
    if plan.candidates.is_empty() && new_array.is_none() {
        return Ok(());
    }
    let state =
        softkey_authenticator::pin::persistent::credential_store_changed(store, &mut rand::rng())
            .map_err(|status| ApiError::unknown(format!("credential store state: {status}")))?;
    let credentials: Vec<&StoredCredential> = plan
        .candidates
        .iter()
        .map(|(_, candidate)| &candidate.credential)
        .collect();
    let mut settings = vec![(SettingKey::PersistentState, Some(&state[..]))];
    if let Some(array) = new_array {
        settings.push((SettingKey::LargeBlobArray, Some(array)));
    }
    store
        .put_discoverable_batch(&credentials, &settings)
        .map_err(ApiError::store)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use softkey_authenticator::credential::UserEntity;
    use softkey_authenticator::crypto::{Algorithm, PrivateKey};
    use softkey_authenticator::pin::persistent::PersistentState;
    use softkey_authenticator::secret::SecretBytes;
    use softkey_vault::{KdfParams, Unlocker, Vault};

    fn passkey(id: &[u8], rp_id: &str, user_id: &[u8], sign_count: u32) -> StoredCredential {
        StoredCredential {
            credential_id: id.to_vec(),
            rp_id: rp_id.to_owned(),
            rp_name: None,
            user: UserEntity {
                id: user_id.to_vec(),
                name: Some(format!("user of {rp_id}")),
                display_name: Some("User".into()),
            },
            private_key: PrivateKey::from_bytes(
                Algorithm::EdDsa,
                SecretBytes::from_slice(&[id[0]; 32]),
            )
            .unwrap(),
            sign_count,
            cred_protect: 1,
            cred_random_with_uv: None,
            cred_random_without_uv: None,
            cred_blob: None,
            large_blob_key: None,
            discoverable: true,
            backup: BackupFlags::default(),
            third_party_payment: false,
        }
    }

    /// A persistent authenticator's vault holding two passkeys (one for the
    /// user the document replaces) and a credential store state; from
    /// `fail_at` on, its `fail_at`-th credential write fails (a trigger placed
    /// in the file, as a full disk would midway; the count is rolled back
    /// with the transaction that failed).
    fn vault_failing_at(dir: &std::path::Path, fail_at: Option<usize>) -> Vault {
        let path = dir.join("vault.sqlite");
        let key = dir.join("vault.key");
        softkey_vault::generate_key_file(&key).unwrap();
        let mut vault = Vault::create(
            &path,
            &Unlocker::KeyFile(key),
            KdfParams::danger_fast_for_tests(),
        )
        .unwrap();
        vault
            .put_discoverable(&passkey(b"\x01kept-a", "a.example", b"ua", 7))
            .unwrap();
        vault
            .put_discoverable(&passkey(b"\x02kept-b", "b.example", b"ub", 3))
            .unwrap();
        PersistentState::load_or_create(&mut vault, &mut rand::rng()).unwrap();
        if let Some(fail_at) = fail_at {
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(&format!(
                    "CREATE TABLE fault (writes INTEGER NOT NULL);
                     INSERT INTO fault VALUES (0);
                     CREATE TRIGGER fault_at BEFORE INSERT ON credentials BEGIN
                         UPDATE fault SET writes = writes + 1;
                         SELECT RAISE(ABORT, 'injected fault')
                             WHERE (SELECT writes FROM fault) >= {fail_at};
                     END;"
                ))
                .unwrap();
        }
        vault
    }

    /// A document with a new passkey for a.example's user (a duplicate to
    /// replace) and passkeys for two new relying parties.
    fn document() -> ImportRequest {
        let credentials = [
            passkey(b"\x03new-a", "a.example", b"ua", 0),
            passkey(b"\x04new-c", "c.example", b"uc", 0),
            passkey(b"\x05new-d", "d.example", b"ud", 0),
        ];
        let passkeys: Vec<ExportPasskey<'_>> = credentials
            .iter()
            .map(|credential| ExportPasskey {
                credential,
                created: None,
                large_blob: None,
            })
            .collect();
        let exporter = Exporter {
            rp_id: "other.example",
            display_name: "Other",
            account_id: b"account",
            timestamp: 1,
        };
        let encoded = cxf::encode(&exporter, &passkeys).unwrap();
        ImportRequest {
            json: encoded.json.to_vec(),
            replace: true,
            dry_run: false,
        }
    }

    type Summary = Vec<(Vec<u8>, String, Vec<u8>, Option<String>, u32, Vec<u8>)>;

    /// What must come back exactly: IDs, user, counter, key; and the
    /// credential store state.
    fn summary(store: &mut dyn Store) -> (Summary, Option<Vec<u8>>) {
        let mut credentials: Summary = store
            .all_discoverable()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c.credential_id.clone(),
                    c.rp_id.clone(),
                    c.user.id.clone(),
                    c.user.name.clone(),
                    c.sign_count,
                    c.private_key.secret_bytes().expose_secret().to_vec(),
                )
            })
            .collect();
        credentials.sort();
        let state = store
            .setting(SettingKey::PersistentState)
            .unwrap()
            .map(|v| v.expose_secret().to_vec());
        (credentials, state)
    }

    fn import_into(store: &mut dyn Store) -> Result<ImportPlan, ApiError> {
        let request = document();
        let decoded = cxf::decode(&request.json).unwrap();
        plan_and_store(store, decoded, &request, &[], false)
    }

    #[test]
    fn an_import_that_fails_midway_stores_nothing_and_keeps_the_replaced_passkey() {
        for fail_at in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let mut vault = vault_failing_at(dir.path(), Some(fail_at));
            let before = summary(&mut vault);
            let error = import_into(&mut vault).unwrap_err();
            assert!(error.message.contains("injected fault"), "{error:?}");
            assert_eq!(summary(&mut vault), before, "write {fail_at} failed");
        }
        // The same import where no write fails: the duplicate is replaced,
        // the others added, the credential store state renewed.
        let dir = tempfile::tempdir().unwrap();
        let mut vault = vault_failing_at(dir.path(), None);
        let before = summary(&mut vault);
        assert_eq!(import_into(&mut vault).unwrap().stored(), 3);
        let after = summary(&mut vault);
        let ids: Vec<&[u8]> = after.0.iter().map(|c| c.0.as_slice()).collect();
        assert_eq!(
            ids,
            [&b"\x02kept-b"[..], b"\x03new-a", b"\x04new-c", b"\x05new-d"]
        );
        assert_ne!(after.1, before.1);
    }
}
