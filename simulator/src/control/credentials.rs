//! Credentials through the control API: injection under a tester-chosen ID
//! (WebDriver "Add Credential"), listing with the current signature counter,
//! backup flags and large blob, removal, and Set Credential Properties.
//!
//! An injected discoverable credential is stored as it is, under the
//! tester's ID (the core finds a stored credential under any ID). A
//! non-discoverable credential has no row: the core finds it by opening its
//! sealed ID, so an injected one gets a sealed ID and an [`Alias`] maps the
//! tester's ID to it — the hooks translate allowList/excludeList entries and
//! U2F key handles on the way in and the assertion's credential on the way
//! out, so the relying party only ever sees the tester's ID.
//!
//! Non-discoverable credentials made over CTAP2 or U2F are noted from the
//! traffic (their ID, relying party and user); their keys are opened from
//! the sealed ID when listed. These notes live in memory: a persistent
//! authenticator lists its discoverable credentials after a restart, and
//! its non-discoverable ones keep working but are not listed.
//!
//! Signature counters: a discoverable credential counts in its row; an
//! injected non-discoverable one from the given `signCount` (the control
//! API's [`CredentialPolicy`](softkey_authenticator::policy::CredentialPolicy)
//! keeps it); one made over CTAP with the device-wide counter of
//! non-discoverable credentials.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde_json::{Value, json};
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey, sha256};
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::Store;
use zeroize::Zeroizing;

use crate::control::device::VirtualAuthenticator;
use crate::control::error::ApiError;
use crate::control::hooks::{Alias, NonResident, Profile};
use crate::control::large_blob;

/// The WebDriver "Credential Parameters" of Add Credential, validated.
pub struct NewCredential {
    /// credentialId.
    pub credential_id: Vec<u8>,
    /// isResidentCredential.
    pub resident: bool,
    /// rpId.
    pub rp_id: String,
    /// privateKey (decoded from PKCS#8).
    pub private_key: PrivateKey,
    /// userHandle.
    pub user_handle: Option<Vec<u8>>,
    /// userName (WebAuthn Level 3), kept with a resident credential.
    pub user_name: Option<String>,
    /// userDisplayName (WebAuthn Level 3), kept with a resident credential.
    pub user_display_name: Option<String>,
    /// signCount.
    pub sign_count: u32,
    /// largeBlob.
    pub large_blob: Option<Vec<u8>>,
    /// backupEligibility (`None`: the authenticator's default).
    pub backup_eligibility: Option<bool>,
    /// backupState (`None`: the authenticator's default).
    pub backup_state: Option<bool>,
}

fn base64url(value: &Value, name: &str) -> Result<Vec<u8>, ApiError> {
    value
        .as_str()
        .and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
        .ok_or_else(|| ApiError::invalid(format!("{name} must be a base64url string")))
}

/// Decodes a PKCS#8 private key: P-256 (ES256) or Ed25519 (EdDSA).
pub fn import_private_key(der: &[u8]) -> Result<PrivateKey, ApiError> {
    if let Ok(key) = p256::SecretKey::from_pkcs8_der(der) {
        let bytes = Zeroizing::new(key.to_bytes().to_vec());
        return PrivateKey::from_bytes(Algorithm::Es256, SecretBytes::from_slice(&bytes))
            .ok_or_else(|| ApiError::invalid("privateKey is not a valid P-256 key"));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
        let bytes = Zeroizing::new(key.to_bytes());
        return PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(bytes.as_ref()))
            .ok_or_else(|| ApiError::invalid("privateKey is not a valid Ed25519 key"));
    }
    Err(ApiError::invalid(
        "privateKey must be a base64url PKCS#8 P-256 or Ed25519 private key",
    ))
}

/// Encodes a private key as PKCS#8 DER: P-256 and Ed25519 keys (under
/// either of their COSE names); `None` for the other algorithms.
fn export_private_key(key: &PrivateKey) -> Option<Vec<u8>> {
    let secret = key.secret_bytes().expose_secret();
    let document = match key.algorithm() {
        Algorithm::Es256 | Algorithm::Esp256 => p256::SecretKey::from_slice(secret)
            .ok()?
            .to_pkcs8_der()
            .ok()?,
        Algorithm::EdDsa | Algorithm::Ed25519 => {
            let seed: [u8; 32] = secret.try_into().ok()?;
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .to_pkcs8_der()
                .ok()?
        }
        _ => return None,
    };
    Some(document.as_bytes().to_vec())
}

impl NewCredential {
    /// Validates the JSON body of Add Credential.
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("the body must be a JSON object"))?;
        let field = |name: &str| {
            object
                .get(name)
                .ok_or_else(|| ApiError::invalid(format!("{name} is missing")))
        };
        let credential_id = base64url(field("credentialId")?, "credentialId")?;
        if credential_id.is_empty() || credential_id.len() > 1023 {
            return Err(ApiError::invalid("credentialId must be 1 to 1023 bytes"));
        }
        let resident = field("isResidentCredential")?
            .as_bool()
            .ok_or_else(|| ApiError::invalid("isResidentCredential must be a boolean"))?;
        let rp_id = field("rpId")?
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::invalid("rpId must be a non-empty string"))?
            .to_owned();
        let der = Zeroizing::new(base64url(field("privateKey")?, "privateKey")?);
        let private_key = import_private_key(&der)?;
        let user_handle = match object.get("userHandle") {
            None | Some(Value::Null) => None,
            Some(value) => Some(base64url(value, "userHandle")?),
        };
        if user_handle.as_ref().is_some_and(|h| h.len() > 64) {
            return Err(ApiError::invalid("userHandle is longer than 64 bytes"));
        }
        if resident && user_handle.as_ref().is_none_or(Vec::is_empty) {
            return Err(ApiError::invalid(
                "a resident credential needs a non-empty userHandle",
            ));
        }
        let sign_count = field("signCount")?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid("signCount must be an integer 0..2^32"))?;
        let text = |name: &str| match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.len() <= 64 => Ok(Some(text.clone())),
            Some(_) => Err(ApiError::invalid(format!(
                "{name} must be a string of at most 64 bytes"
            ))),
        };
        let user_name = text("userName")?;
        let user_display_name = text("userDisplayName")?;
        let large_blob = match object.get("largeBlob") {
            None | Some(Value::Null) => None,
            Some(value) => Some(base64url(value, "largeBlob")?),
        };
        if large_blob.is_some() && !resident {
            return Err(ApiError::invalid(
                "largeBlob needs a resident credential (its key lives with the credential)",
            ));
        }
        let flag = |name: &str| match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!("{name} must be a boolean"))),
        };
        Ok(Self {
            credential_id,
            resident,
            rp_id,
            private_key,
            user_handle,
            user_name,
            user_display_name,
            sign_count,
            large_blob,
            backup_eligibility: flag("backupEligibility")?,
            backup_state: flag("backupState")?,
        })
    }
}

/// Adds `credential` to `authenticator`.
pub fn add(
    authenticator: &VirtualAuthenticator,
    credential: NewCredential,
) -> Result<(), ApiError> {
    if credential.resident && !authenticator.options.has_resident_key {
        return Err(ApiError::invalid(
            "the authenticator does not support resident credentials (hasResidentKey is false)",
        ));
    }
    let profile = authenticator.options.profile;
    if profile == Profile::Ctap1 && credential.private_key.algorithm() != Algorithm::Es256 {
        return Err(ApiError::invalid(
            "a ctap1/u2f authenticator signs with P-256 only: give a P-256 privateKey",
        ));
    }
    if credential.large_blob.is_some()
        && !authenticator
            .options
            .extensions
            .iter()
            .any(|e| e == "largeBlob")
    {
        return Err(ApiError::invalid(
            "largeBlob needs an authenticator made with the largeBlob extension",
        ));
    }
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    let taken = control
        .aliases
        .iter()
        .any(|a| a.external == credential.credential_id)
        || control
            .made
            .iter()
            .any(|m| m.id == credential.credential_id)
        || store
            .discoverable_by_id(&credential.credential_id)
            .map_err(ApiError::store)?
            .is_some();
    if taken {
        return Err(ApiError::invalid(
            "a credential with this credentialId exists",
        ));
    }
    let defaults = control.default_backup;
    let flags = BackupFlags {
        eligible: credential.backup_eligibility.unwrap_or(defaults.eligible),
        state: credential.backup_state.unwrap_or(defaults.state),
    };
    let stored = StoredCredential {
        credential_id: credential.credential_id.clone(),
        rp_id: credential.rp_id.clone(),
        rp_name: None,
        user: UserEntity {
            id: credential.user_handle.clone().unwrap_or_default(),
            name: credential.user_name,
            display_name: credential.user_display_name,
        },
        private_key: credential.private_key,
        sign_count: credential.sign_count,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: credential.resident,
        backup: BackupFlags::default(),
        third_party_payment: false,
    };
    if credential.resident {
        let mut stored = stored;
        if let Some(blob) = &credential.large_blob {
            let key = Secret32::random(&mut rand::rng());
            let mut entries = large_blob::read_entries(store)?;
            entries.push(large_blob::seal(&key, blob)?);
            large_blob::write_entries(store, entries)?;
            stored.large_blob_key = Some(key);
        }
        renew_cred_store_state(store)?;
        store.put_discoverable(&stored).map_err(ApiError::store)?;
        control.backup.insert(credential.credential_id, flags);
        return Ok(());
    }
    let secret = store.device_secret().map_err(ApiError::store)?;
    let internal = stored
        .seal_id(
            &secret,
            &sha256(credential.rp_id.as_bytes()),
            &mut rand::rng(),
        )
        .map_err(|status| ApiError::unknown(format!("sealing failed: {status}")))?;
    control.backup.insert(internal.clone(), flags);
    control.aliases.push(Alias {
        external: credential.credential_id,
        internal,
        non_resident: Some(NonResident {
            rp_id: credential.rp_id,
            private_key: stored.private_key,
            user_handle: credential.user_handle,
            sign_count: credential.sign_count,
        }),
    });
    Ok(())
}

/// Sets the backup flags of the credential the tester calls `id` (WebDriver
/// "Set Credential Properties"); a flag not given keeps its value.
pub fn set_backup_flags(
    authenticator: &VirtualAuthenticator,
    id: &[u8],
    eligible: Option<bool>,
    state: Option<bool>,
) -> Result<(), ApiError> {
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let internal = match control.internal_id(id) {
        Some(internal) => internal.to_vec(),
        None => {
            let stored = device
                .authenticator_mut()
                .store_mut()
                .discoverable_by_id(id)
                .map_err(ApiError::store)?
                .is_some();
            if !stored && !control.made.iter().any(|m| m.id == id) {
                return Err(ApiError::invalid("no credential with this credentialId"));
            }
            id.to_vec()
        }
    };
    let current = control.flags_of(&internal);
    let flags = BackupFlags {
        eligible: eligible.unwrap_or(current.eligible),
        state: state.unwrap_or(current.state),
    };
    control.backup.insert(internal, flags);
    Ok(())
}

/// One credential as WebDriver's Credential Parameters.
struct Listed<'a> {
    id: &'a [u8],
    resident: bool,
    rp_id: Option<&'a str>,
    key: &'a PrivateKey,
    user_handle: Option<&'a [u8]>,
    user: Option<&'a UserEntity>,
    sign_count: u32,
    flags: BackupFlags,
    large_blob: Option<Vec<u8>>,
}

impl Listed<'_> {
    fn to_json(&self) -> Value {
        let private_key = export_private_key(self.key).map(Zeroizing::new);
        let mut out = json!({
            "credentialId": URL_SAFE_NO_PAD.encode(self.id),
            "isResidentCredential": self.resident,
            "rpId": self.rp_id,
            "privateKey": private_key.map(|der| URL_SAFE_NO_PAD.encode(der.as_slice())),
            "userHandle": self.user_handle.map(|h| URL_SAFE_NO_PAD.encode(h)),
            "signCount": self.sign_count,
            "backupEligibility": self.flags.eligible,
            "backupState": self.flags.state,
        });
        if let Some(user) = self.user {
            out["userName"] = json!(user.name);
            out["userDisplayName"] = json!(user.display_name);
        }
        if let Some(blob) = &self.large_blob {
            out["largeBlob"] = json!(URL_SAFE_NO_PAD.encode(blob));
        }
        out
    }
}

/// Every credential of `authenticator` (WebDriver "Get Credentials"):
/// discoverable ones from the store, non-discoverable ones injected or noted.
pub fn list(authenticator: &VirtualAuthenticator) -> Result<Vec<Value>, ApiError> {
    let mut device = authenticator.device();
    let control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    let stored = store.all_discoverable().map_err(ApiError::store)?;
    let blobs = if stored.iter().any(|c| c.large_blob_key.is_some()) {
        large_blob::read_entries(store)?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for credential in &stored {
        let large_blob = credential
            .large_blob_key
            .as_ref()
            .and_then(|key| blobs.iter().find_map(|entry| large_blob::open(key, entry)));
        out.push(
            Listed {
                id: &credential.credential_id,
                resident: true,
                rp_id: Some(&credential.rp_id),
                key: &credential.private_key,
                user_handle: Some(&credential.user.id),
                user: Some(&credential.user),
                sign_count: credential.sign_count,
                flags: control.flags_of(&credential.credential_id),
                large_blob,
            }
            .to_json(),
        );
    }
    let secret = store.device_secret().map_err(ApiError::store)?;
    for made in &control.made {
        if let Some(credential) = StoredCredential::open_id(&made.id, &secret, &made.rp_id_hash) {
            out.push(
                Listed {
                    id: &made.id,
                    resident: false,
                    rp_id: made.rp_id.as_deref(),
                    key: &credential.private_key,
                    user_handle: Some(&made.user_handle),
                    user: None,
                    sign_count: made.sign_count,
                    flags: control.flags_of(&made.id),
                    large_blob: None,
                }
                .to_json(),
            );
        }
    }
    for alias in &control.aliases {
        if let Some(n) = &alias.non_resident {
            out.push(
                Listed {
                    id: &alias.external,
                    resident: false,
                    rp_id: Some(&n.rp_id),
                    key: &n.private_key,
                    user_handle: n.user_handle.as_deref(),
                    user: None,
                    sign_count: n.sign_count,
                    flags: control.flags_of(&alias.internal),
                    large_blob: None,
                }
                .to_json(),
            );
        }
    }
    Ok(out)
}

/// Deletes a discoverable credential with its large blob.
fn delete_stored(store: &mut dyn Store, id: &[u8]) -> Result<bool, ApiError> {
    let Some(credential) = store.discoverable_by_id(id).map_err(ApiError::store)? else {
        return Ok(false);
    };
    if let Some(key) = &credential.large_blob_key {
        let mut entries = large_blob::read_entries(store)?;
        let before = entries.len();
        entries.retain(|entry| large_blob::open(key, entry).is_none());
        if entries.len() != before {
            large_blob::write_entries(store, entries)?;
        }
    }
    renew_cred_store_state(store)?;
    store.delete_discoverable(id).map_err(ApiError::store)
}

/// Injected or removed discoverable credentials change the credential store
/// state (getInfo `encCredStoreState`) as the core's own changes do.
fn renew_cred_store_state(store: &mut dyn Store) -> Result<(), ApiError> {
    softkey_authenticator::pin::persistent::note_credential_store_change(store, &mut rand::rng())
        .map_err(|status| ApiError::unknown(format!("credential store state: {status}")))
}

/// Removes one credential by its (tester-visible) ID; `false` if unknown.
pub fn remove(authenticator: &VirtualAuthenticator, id: &[u8]) -> Result<bool, ApiError> {
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    if let Some(index) = control.aliases.iter().position(|a| a.external == id) {
        let alias = control.aliases.remove(index);
        control.backup.remove(&alias.internal);
        return Ok(true);
    }
    if let Some(index) = control.made.iter().position(|m| m.id == id) {
        let made = control.made.remove(index);
        control.backup.remove(&made.id);
        control.revoked.push(made.id);
        return Ok(true);
    }
    let deleted = delete_stored(device.authenticator_mut().store_mut(), id)?;
    if deleted {
        control.backup.remove(id);
    }
    Ok(deleted)
}

/// Removes every credential.
pub fn remove_all(authenticator: &VirtualAuthenticator) -> Result<(), ApiError> {
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    for credential in store.all_discoverable().map_err(ApiError::store)? {
        delete_stored(store, &credential.credential_id)?;
    }
    control.aliases.clear();
    control.backup.clear();
    let made = std::mem::take(&mut control.made);
    control.revoked.extend(made.into_iter().map(|m| m.id));
    Ok(())
}
