//! Reading a CXF file into passkeys softkey can hold ([`decode`]), and
//! deciding what each becomes next to the credentials already there
//! ([`ImportPlan`]).

use std::collections::HashMap;

use serde::Serialize;
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::extensions::cred_blob::MAX_CRED_BLOB_LENGTH;
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::secret::Secret32;

use super::format::{
    ExtensionIn, HMAC_SHA256, HeaderIn, IgnoredOrText, KindIn, MAJOR, PasskeyIn, SOFTKEY_EXTENSION,
    SoftkeyExtensionIn,
};
use super::keys::{self, KeyError};
use super::large_blob::LargeBlob;
use super::{CxfError, MAX_FILE_LEN, b64url};
use softkey_authenticator::commands::large_blobs::MAX_SERIALIZED_LARGE_BLOB_ARRAY;

const CREDENTIAL_ID: (usize, usize) = (1, 1023);
const USER_HANDLE: (usize, usize) = (1, 64);
const RP_ID: (usize, usize) = (1, 253);
const NAME: (usize, usize) = (0, 1024);
/// Largest title kept as the relying party's name.
const MAX_RP_NAME: usize = 256;
/// Largest `uncompressedSize` taken (CTAP's origSize of a blob that fits
/// a 64 KiB array compresses from far less than this).
const MAX_UNCOMPRESSED: u64 = 1 << 30;

/// Why a well-formed item is not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Another kind of credential (a password, a note, a TOTP secret…).
    #[error("not a passkey ({kind})")]
    NotAPasskey {
        /// Its `type`.
        kind: String,
    },
    /// A passkey without its private key.
    #[error("missing key: the passkey has no private key")]
    MissingKey,
    /// A key of an algorithm softkey does not sign with.
    #[error("unsupported algorithm: {algorithm} (softkey signs with P-256 and Ed25519)")]
    UnsupportedAlgorithm {
        /// Its name or OID.
        algorithm: String,
    },
    /// hmac-secret CredRandoms of another algorithm than hmac-sha256.
    #[error("unsupported hmacCredentials algorithm {algorithm:?}")]
    UnsupportedHmacAlgorithm {
        /// The algorithm named.
        algorithm: String,
    },
    /// A credBlob longer than softkey keeps.
    #[error("credBlob is {len} bytes; softkey keeps at most {max}")]
    CredBlobTooLong {
        /// Its length.
        len: usize,
        /// The most softkey keeps.
        max: usize,
    },
    /// A large blob for an authenticator without the largeBlob extension.
    #[error("it has a large blob, and the authenticator was made without the largeBlob extension")]
    LargeBlobUnsupported,
    /// A large blob that does not fit the authenticator's large-blob array.
    #[error("its large blob does not fit the authenticator's large-blob array ({max} bytes)")]
    LargeBlobDoesNotFit {
        /// The array's size limit.
        max: usize,
    },
}

/// A passkey ready to store (BE = BS = 1, counter 0).
pub struct Candidate {
    /// The credential.
    pub credential: StoredCredential,
    /// Its large blob, to seal under a new largeBlobKey when stored.
    pub large_blob: Option<LargeBlob>,
}

/// One credential of a file, as read.
pub struct DecodedItem {
    /// Where it is (`accounts[0].items[1].credentials[0]`).
    pub at: String,
    /// The passkey, or why it is not imported.
    pub passkey: Result<Candidate, SkipReason>,
}

/// Reads the CXF JSON of an import. A file that is malformed anywhere a
/// passkey is concerned is refused whole.
pub fn decode(json: &[u8]) -> Result<Vec<DecodedItem>, CxfError> {
    if json.len() > MAX_FILE_LEN {
        return Err(CxfError::TooLarge {
            size: json.len(),
            max: MAX_FILE_LEN,
        });
    }
    let header: HeaderIn<'_> =
        serde_json::from_slice(json).map_err(|e| CxfError::NotCxf(e.to_string()))?;
    if header.version.major != u64::from(MAJOR) {
        return Err(CxfError::UnsupportedVersion {
            major: header.version.major,
            minor: header.version.minor,
        });
    }
    let mut decoded = Vec::new();
    let mut ids: HashMap<Vec<u8>, String> = HashMap::new();
    let mut users: HashMap<(String, Vec<u8>), String> = HashMap::new();
    for (a, account) in header.accounts.iter().enumerate() {
        for (i, item) in account.items.iter().enumerate() {
            let cred_protect = cred_protect(item, &format!("accounts[{a}].items[{i}]"))?;
            for (c, raw) in item.credentials.iter().enumerate() {
                let at = format!("accounts[{a}].items[{i}].credentials[{c}]");
                let malformed = |e: serde_json::Error| CxfError::Malformed {
                    at: at.clone(),
                    reason: e.to_string(),
                };
                let kind: KindIn = serde_json::from_str(raw.get()).map_err(malformed)?;
                if kind.kind != "passkey" {
                    decoded.push(DecodedItem {
                        at,
                        passkey: Err(SkipReason::NotAPasskey { kind: kind.kind }),
                    });
                    continue;
                }
                let passkey: PasskeyIn = serde_json::from_str(raw.get()).map_err(malformed)?;
                let candidate = candidate(passkey, item.title.as_deref(), cred_protect, &at)?;
                if let Ok(found) = &candidate {
                    let credential = &found.credential;
                    if let Some(first) = ids.insert(credential.credential_id.clone(), at.clone()) {
                        return Err(CxfError::DuplicateCredentialId {
                            at,
                            first,
                            credential_id: b64url(&credential.credential_id),
                        });
                    }
                    let user = (credential.rp_id.clone(), credential.user.id.clone());
                    if let Some(first) = users.insert(user, at.clone()) {
                        return Err(CxfError::DuplicateUser {
                            at,
                            first,
                            rp_id: credential.rp_id.clone(),
                        });
                    }
                }
                decoded.push(DecodedItem {
                    at,
                    passkey: candidate,
                });
            }
        }
    }
    Ok(decoded)
}

/// The credProtect level softkey's item extension gives (1 if none).
fn cred_protect(item: &super::format::ItemIn<'_>, at: &str) -> Result<u8, CxfError> {
    for raw in &item.extensions {
        let Ok(extension) = serde_json::from_str::<ExtensionIn>(raw.get()) else {
            continue; // Not an object: not softkey's.
        };
        if !matches!(&extension.name, Some(IgnoredOrText::Text(name)) if name == SOFTKEY_EXTENSION)
        {
            continue;
        }
        let ours: SoftkeyExtensionIn =
            serde_json::from_str(raw.get()).map_err(|e| CxfError::Malformed {
                at: format!("{at}.extensions"),
                reason: e.to_string(),
            })?;
        return match ours.cred_protect {
            None => Ok(1),
            Some(level @ 1..=3) => Ok(level),
            Some(other) => Err(CxfError::BadExtension {
                at: format!("{at}.extensions"),
                reason: format!("credProtect level {other} is not 1, 2 or 3"),
            }),
        };
    }
    Ok(1)
}

fn check_length(
    at: &str,
    field: &'static str,
    len: usize,
    (min, max): (usize, usize),
) -> Result<(), CxfError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(CxfError::FieldLength {
            at: at.to_owned(),
            field,
            len,
            min,
            max,
        })
    }
}

fn cred_random(at: &str, field: &str, bytes: &[u8]) -> Result<Secret32, CxfError> {
    Secret32::from_slice(bytes).ok_or_else(|| CxfError::BadExtension {
        at: format!("{at}.fido2Extensions.hmacCredentials"),
        reason: format!("{field} is {} bytes, not 32", bytes.len()),
    })
}

/// Checks a passkey and makes its credential; `Ok(Err(_))` for one softkey
/// cannot hold.
fn candidate(
    passkey: PasskeyIn,
    title: Option<&str>,
    cred_protect: u8,
    at: &str,
) -> Result<Result<Candidate, SkipReason>, CxfError> {
    check_length(
        at,
        "credentialId",
        passkey.credential_id.0.len(),
        CREDENTIAL_ID,
    )?;
    check_length(at, "userHandle", passkey.user_handle.0.len(), USER_HANDLE)?;
    check_length(at, "rpId", passkey.rp_id.len(), RP_ID)?;
    let username = passkey.username.unwrap_or_default();
    let display_name = passkey.user_display_name.unwrap_or_default();
    check_length(at, "username", username.len(), NAME)?;
    check_length(at, "userDisplayName", display_name.len(), NAME)?;
    let extensions = passkey.fido2_extensions;
    let mut randoms = None;
    let mut cred_blob = None;
    let mut large_blob = None;
    let mut payments = false;
    if let Some(extensions) = extensions {
        payments = extensions.payments.unwrap_or(false);
        if let Some(hmac) = extensions.hmac_credentials {
            if hmac.algorithm != HMAC_SHA256 {
                return Ok(Err(SkipReason::UnsupportedHmacAlgorithm {
                    algorithm: hmac.algorithm,
                }));
            }
            randoms = Some((
                cred_random(at, "credWithUV", &hmac.cred_with_uv.0)?,
                cred_random(at, "credWithoutUV", &hmac.cred_without_uv.0)?,
            ));
        }
        if let Some(blob) = extensions.cred_blob {
            if blob.0.len() > MAX_CRED_BLOB_LENGTH {
                return Ok(Err(SkipReason::CredBlobTooLong {
                    len: blob.0.len(),
                    max: MAX_CRED_BLOB_LENGTH,
                }));
            }
            cred_blob = Some(blob.0.to_vec());
        }
        if let Some(blob) = extensions.large_blob {
            if blob.data.0.len() > MAX_SERIALIZED_LARGE_BLOB_ARRAY
                || blob.uncompressed_size > MAX_UNCOMPRESSED
            {
                return Ok(Err(SkipReason::LargeBlobDoesNotFit {
                    max: MAX_SERIALIZED_LARGE_BLOB_ARRAY,
                }));
            }
            large_blob = Some(LargeBlob {
                compressed: blob.data.0,
                uncompressed_size: blob.uncompressed_size,
            });
        }
    }
    let Some(key) = passkey.key else {
        return Ok(Err(SkipReason::MissingKey));
    };
    let private_key = match keys::decode(&key.0) {
        Ok(key) => key,
        Err(KeyError::Unsupported(algorithm)) => {
            return Ok(Err(SkipReason::UnsupportedAlgorithm { algorithm }));
        }
        Err(KeyError::Invalid(reason)) => {
            return Err(CxfError::BadKey {
                at: at.to_owned(),
                reason,
            });
        }
    };
    let rp_name = title
        .filter(|t| !t.is_empty() && *t != passkey.rp_id && t.len() <= MAX_RP_NAME)
        .map(str::to_owned);
    let non_empty = |text: String| (!text.is_empty()).then_some(text);
    let (cred_random_with_uv, cred_random_without_uv) = match randoms {
        Some((with_uv, without_uv)) => (Some(with_uv), Some(without_uv)),
        None => (None, None),
    };
    Ok(Ok(Candidate {
        credential: StoredCredential {
            credential_id: passkey.credential_id.0,
            rp_id: passkey.rp_id,
            rp_name,
            user: UserEntity {
                id: passkey.user_handle.0,
                name: non_empty(username),
                display_name: non_empty(display_name),
            },
            private_key,
            sign_count: 0,
            cred_protect,
            cred_random_with_uv,
            cred_random_without_uv,
            cred_blob,
            large_blob_key: None,
            discoverable: true,
            backup: BackupFlags {
                eligible: true,
                state: true,
            },
            third_party_payment: payments,
        },
        large_blob,
    }))
}

/// A credential already in the authenticator, as the plan compares it.
#[derive(Clone, Debug)]
pub struct Existing {
    /// Its ID.
    pub credential_id: Vec<u8>,
    /// Its relying party.
    pub rp_id: String,
    /// Its user handle.
    pub user_id: Vec<u8>,
}

/// What happens to one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ItemOutcome {
    /// Imported as a new credential.
    Import,
    /// Imported in place of an existing credential (same credential ID, or
    /// same relying party and user handle).
    Replace {
        /// The existing credential's ID, hex.
        existing: String,
    },
    /// Not imported: the existing credential stays.
    KeepExisting {
        /// The existing credential's ID, hex.
        existing: String,
    },
    /// Not imported.
    Skip {
        /// Why.
        #[serde(flatten)]
        reason: SkipReason,
    },
}

/// One item of a plan.
#[derive(Debug, Serialize)]
pub struct PlannedItem {
    /// Where it is in the file.
    pub at: String,
    /// Its relying party, for a passkey.
    pub rp_id: Option<String>,
    /// Its account name, for a passkey.
    pub user_name: Option<String>,
    /// Its credential ID, hex, for a passkey.
    pub credential_id: Option<String>,
    /// What happens to it.
    #[serde(flatten)]
    pub outcome: ItemOutcome,
    /// The existing credential it duplicates, whatever was decided.
    #[serde(skip)]
    pub duplicate_of: Option<Vec<u8>>,
}

/// What an import does, item by item; the candidates it stores.
pub struct ImportPlan {
    /// Every item of the file, in order.
    pub items: Vec<PlannedItem>,
    /// The passkeys to store (index into `items`, candidate).
    pub candidates: Vec<(usize, Candidate)>,
}

impl std::fmt::Debug for ImportPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportPlan")
            .field("items", &self.items)
            .field("stored", &self.candidates.len())
            .finish_non_exhaustive()
    }
}

impl ImportPlan {
    /// The plan for `decoded` next to `existing`: a duplicate (same
    /// credential ID, or same relying party and user handle) is replaced if
    /// `replace` says so for it, else kept.
    pub fn new(
        decoded: Vec<DecodedItem>,
        existing: &[Existing],
        mut replace: impl FnMut(&PlannedItem) -> bool,
    ) -> Self {
        let mut items = Vec::with_capacity(decoded.len());
        let mut candidates = Vec::new();
        for item in decoded {
            let candidate = match item.passkey {
                Err(reason) => {
                    items.push(PlannedItem {
                        at: item.at,
                        rp_id: None,
                        user_name: None,
                        credential_id: None,
                        outcome: ItemOutcome::Skip { reason },
                        duplicate_of: None,
                    });
                    continue;
                }
                Ok(candidate) => candidate,
            };
            let credential = &candidate.credential;
            let duplicate = existing.iter().find(|e| {
                e.credential_id == credential.credential_id
                    || (e.rp_id == credential.rp_id && e.user_id == credential.user.id)
            });
            let mut planned = PlannedItem {
                at: item.at,
                rp_id: Some(credential.rp_id.clone()),
                user_name: credential.user.name.clone(),
                credential_id: Some(hex::encode(&credential.credential_id)),
                outcome: ItemOutcome::Import,
                duplicate_of: duplicate.map(|d| d.credential_id.clone()),
            };
            if let Some(existing) = duplicate {
                let existing = hex::encode(&existing.credential_id);
                planned.outcome = ItemOutcome::KeepExisting {
                    existing: existing.clone(),
                };
                if replace(&planned) {
                    planned.outcome = ItemOutcome::Replace { existing };
                }
            }
            if matches!(
                planned.outcome,
                ItemOutcome::Import | ItemOutcome::Replace { .. }
            ) {
                candidates.push((items.len(), candidate));
            }
            items.push(planned);
        }
        Self { items, candidates }
    }

    /// Marks candidate `index` (into `candidates`) as skipped for `reason`
    /// and drops it.
    pub fn skip(&mut self, index: usize, reason: SkipReason) {
        let (item, _) = self.candidates.remove(index);
        self.items[item].outcome = ItemOutcome::Skip { reason };
    }

    /// How many passkeys the plan stores.
    pub fn stored(&self) -> usize {
        self.candidates.len()
    }
}
