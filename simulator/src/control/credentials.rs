//! Credentials through the control API: injection under a tester-chosen ID
//! (WebDriver "Add Credential"), listing with the current signature counter,
//! removal.
//!
//! The core finds a credential by an ID it made: a discoverable credential's
//! random ID, or a non-discoverable credential sealed into its ID. An
//! injected credential gets such an ID, and an [`Alias`] maps the tester's ID
//! to it: the hooks translate allowList/excludeList entries on the way in and
//! the assertion's credential on the way out, so the relying party only ever
//! sees the tester's ID (authenticator data does not contain the ID of an
//! assertion's credential, so no signature changes).
//!
//! Non-discoverable credentials made over CTAP are noted from the traffic
//! (their ID, relying party and user); their keys are opened from the
//! sealed ID when listed.
//!
//! Signature counters: an injected discoverable credential starts at the
//! given `signCount`. A non-discoverable one (which has no row to keep a
//! counter in) signs with the device-wide counter of non-discoverable
//! credentials, as every credential of that kind does on this key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand::RngExt as _;
use serde_json::{Value, json};
use softkey_authenticator::credential::{
    DISCOVERABLE_ID_LEN, DISCOVERABLE_ID_V1, StoredCredential, UserEntity,
};
use softkey_authenticator::crypto::{Algorithm, PrivateKey, sha256};
use softkey_authenticator::secret::SecretBytes;
use softkey_authenticator::store::Store;
use zeroize::Zeroizing;

use crate::control::device::VirtualAuthenticator;
use crate::control::error::ApiError;
use crate::control::hooks::{Alias, NonResident};

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
    /// signCount.
    pub sign_count: u32,
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

/// Encodes a private key as PKCS#8 DER.
fn export_private_key(key: &PrivateKey) -> Option<Vec<u8>> {
    let secret = key.secret_bytes().expose_secret();
    let document = match key.algorithm() {
        Algorithm::Es256 => p256::SecretKey::from_slice(secret)
            .ok()?
            .to_pkcs8_der()
            .ok()?,
        Algorithm::EdDsa => {
            let seed: [u8; 32] = secret.try_into().ok()?;
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .to_pkcs8_der()
                .ok()?
        }
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
        if object.get("largeBlob").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::unsupported(
                "injecting a largeBlob is not supported by softkey's simulator yet",
            ));
        }
        Ok(Self {
            credential_id,
            resident,
            rp_id,
            private_key,
            user_handle,
            sign_count,
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
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    if control
        .aliases
        .iter()
        .any(|a| a.external == credential.credential_id)
    {
        return Err(ApiError::invalid(
            "a credential with this credentialId exists",
        ));
    }
    let store = device.authenticator_mut().store_mut();
    let stored = StoredCredential {
        credential_id: Vec::new(),
        rp_id: credential.rp_id.clone(),
        rp_name: None,
        user: UserEntity {
            id: credential.user_handle.clone().unwrap_or_default(),
            name: None,
            display_name: None,
        },
        private_key: credential.private_key,
        sign_count: credential.sign_count,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: credential.resident,
    };
    let mut rng = rand::rng();
    let (internal, non_resident) = if credential.resident {
        let mut internal = vec![0u8; DISCOVERABLE_ID_LEN];
        rng.fill(&mut internal[1..]);
        internal[0] = DISCOVERABLE_ID_V1;
        let stored = StoredCredential {
            credential_id: internal.clone(),
            ..stored
        };
        store.put_discoverable(&stored).map_err(ApiError::store)?;
        (internal, None)
    } else {
        let secret = store.device_secret().map_err(ApiError::store)?;
        let internal = stored
            .seal_id(&secret, &sha256(credential.rp_id.as_bytes()), &mut rng)
            .map_err(|status| ApiError::unknown(format!("sealing failed: {status}")))?;
        let non_resident = NonResident {
            rp_id: credential.rp_id,
            private_key: stored.private_key,
            user_handle: credential.user_handle,
            sign_count: credential.sign_count,
        };
        (internal, Some(non_resident))
    };
    control.aliases.push(Alias {
        external: credential.credential_id,
        internal,
        non_resident,
    });
    Ok(())
}

fn credential_json(
    id: &[u8],
    resident: bool,
    rp_id: &str,
    key: &PrivateKey,
    user_handle: Option<&[u8]>,
    sign_count: u32,
) -> Value {
    let private_key = export_private_key(key).map(Zeroizing::new);
    json!({
        "credentialId": URL_SAFE_NO_PAD.encode(id),
        "isResidentCredential": resident,
        "rpId": rp_id,
        "privateKey": private_key.map(|der| URL_SAFE_NO_PAD.encode(der.as_slice())),
        "userHandle": user_handle.map(|h| URL_SAFE_NO_PAD.encode(h)),
        "signCount": sign_count,
    })
}

/// Every credential of `authenticator` (WebDriver "Get Credentials"):
/// discoverable ones from the store, injected non-discoverable ones.
pub fn list(authenticator: &VirtualAuthenticator) -> Result<Vec<Value>, ApiError> {
    let mut device = authenticator.device();
    let control = authenticator.control();
    let stored = device
        .authenticator_mut()
        .store_mut()
        .all_discoverable()
        .map_err(ApiError::store)?;
    let mut out = Vec::new();
    for credential in &stored {
        let id = control
            .aliases
            .iter()
            .find(|a| a.internal == credential.credential_id)
            .map_or(credential.credential_id.as_slice(), |a| {
                a.external.as_slice()
            });
        out.push(credential_json(
            id,
            true,
            &credential.rp_id,
            &credential.private_key,
            Some(&credential.user.id),
            credential.sign_count,
        ));
    }
    let secret = device
        .authenticator_mut()
        .store_mut()
        .device_secret()
        .map_err(ApiError::store)?;
    for made in &control.made {
        let rp_id_hash = sha256(made.rp_id.as_bytes());
        if let Some(credential) = StoredCredential::open_id(&made.id, &secret, &rp_id_hash) {
            out.push(credential_json(
                &made.id,
                false,
                &made.rp_id,
                &credential.private_key,
                Some(&made.user_handle),
                made.sign_count,
            ));
        }
    }
    for alias in &control.aliases {
        if let Some(n) = &alias.non_resident {
            out.push(credential_json(
                &alias.external,
                false,
                &n.rp_id,
                &n.private_key,
                n.user_handle.as_deref(),
                n.sign_count,
            ));
        }
    }
    Ok(out)
}

/// Removes one credential by its (tester-visible) ID; `false` if unknown.
pub fn remove(authenticator: &VirtualAuthenticator, id: &[u8]) -> Result<bool, ApiError> {
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let alias = control.aliases.iter().position(|a| a.external == id);
    let internal = alias
        .and_then(|index| control.aliases.get(index))
        .map_or_else(|| id.to_vec(), |a| a.internal.clone());
    let store = device.authenticator_mut().store_mut();
    let deleted = store
        .delete_discoverable(&internal)
        .map_err(ApiError::store)?;
    if let Some(index) = alias {
        control.aliases.remove(index);
        return Ok(true);
    }
    if let Some(index) = control.made.iter().position(|m| m.id == id) {
        let made = control.made.remove(index);
        control.revoked.push(made.id);
        return Ok(true);
    }
    Ok(deleted)
}

/// Removes every credential.
pub fn remove_all(authenticator: &VirtualAuthenticator) -> Result<(), ApiError> {
    let mut device = authenticator.device();
    let mut control = authenticator.control();
    let store = device.authenticator_mut().store_mut();
    for credential in store.all_discoverable().map_err(ApiError::store)? {
        store
            .delete_discoverable(&credential.credential_id)
            .map_err(ApiError::store)?;
    }
    control.aliases.clear();
    let made = std::mem::take(&mut control.made);
    control.revoked.extend(made.into_iter().map(|m| m.id));
    Ok(())
}
