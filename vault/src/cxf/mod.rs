//! Passkeys in and out as FIDO CXF v1.0 (the Credential Exchange Format the
//! FIDO Alliance published in 2025), the JSON that Apple, Android,
//! Bitwarden, 1Password and others exchange passkeys in.
//!
//! ```text
//!  export: StoredCredential ─┬─ PKCS#8 key, CredRandoms, credBlob ──► passkey item ─┐
//!          large-blob array ─┴─ entry opened with largeBlobKey ────► largeBlob ────┴► JSON ─age─► file
//!  import: file ─age─► JSON ─► items ─┬─ passkey ─► StoredCredential (BE = BS = 1, counter 0)
//!                                     └─ anything else, or what softkey cannot sign with: reported
//! ```
//!
//! ## What a passkey item holds
//! `credentialId`, `rpId`, `username`, `userDisplayName`, `userHandle` and
//! `key` (PKCS#8 DER; P-256 or Ed25519 import, others are reported as an
//! unsupported algorithm, and a passkey of softkey's other algorithms is
//! left out of an export and reported as [`Refused`]); `fido2Extensions.hmacCredentials` (the
//! hmac-secret CredRandoms, so PRF outputs survive the move), `credBlob` and
//! `largeBlob` (the DEFLATE-compressed blob with its `uncompressedSize`),
//! and `payments` (made with CTAP 2.2's thirdPartyPayment).
//! softkey adds one item extension, `{"name": "softkey", "credProtect": N}`,
//! so a credential protected by credProtect keeps its level through a
//! round trip (another importer ignores it; a passkey from elsewhere comes in
//! at level 1, as CXF has no member for it). Signature counters are not
//! carried: CXF passkeys have none, and an imported one signs with 0 forever.
//!
//! ## What a file may not do
//! A file larger than [`MAX_FILE_LEN`], one that is not JSON, has another
//! major version, gives a member softkey uses the wrong type, an empty or
//! oversized identifier (credential ID 1–1023 bytes, user handle 1–64, rp id
//! 1–253, names up to 1 KiB), a key that is not valid PKCS#8 of its
//! algorithm, CredRandoms that are not 32 bytes, or the same credential ID
//! or the same relying party and user handle twice is refused as a whole,
//! with a [`CxfError`] naming the place; nothing is imported from it. Items
//! that are well formed but that softkey cannot hold are each reported with a
//! [`SkipReason`].

mod envelope;
mod format;
mod import;
mod keys;
mod large_blob;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::secret::Secret32;
use zeroize::Zeroizing;

pub use envelope::{
    FileKind, MAX_FILE_LEN, Protection, Unlock, check_recipients, kind_of, open, seal,
};
pub use import::{
    Candidate, DecodedItem, Existing, ImportPlan, ItemOutcome, PlannedItem, SkipReason, decode,
};
pub use large_blob::LargeBlob;

use format::{
    AccountOut, B64, Fido2ExtensionsOut, HeaderOut, HmacCredentialsOut, ItemOut, LargeBlobOut,
    PasskeyOut, SecretB64, SoftkeyExtensionOut, VersionOut,
};

/// Why a CXF file cannot be exported or imported (nothing was written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CxfError {
    /// The file is larger than softkey reads.
    #[error("the file is {size} bytes; softkey reads CXF files of at most {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The file is not the JSON of a CXF header.
    #[error("not a CXF file: {0}")]
    NotCxf(String),
    /// Another major version of CXF.
    #[error("CXF version {major}.{minor} is not supported (softkey reads version 1)")]
    UnsupportedVersion {
        /// `version.major`.
        major: u64,
        /// `version.minor`.
        minor: u64,
    },
    /// A member softkey uses has the wrong JSON type or is missing.
    #[error("{at}: {reason}")]
    Malformed {
        /// Where (`accounts[0].items[2].credentials[0]`).
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// An identifier or name is empty or longer than softkey allows.
    #[error("{at}: {field} is {len} bytes; it must be {min} to {max}")]
    FieldLength {
        /// Where.
        at: String,
        /// Which member.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// Two passkeys with the same credential ID.
    #[error("{at}: credential ID {credential_id} is also the one at {first}")]
    DuplicateCredentialId {
        /// The second one.
        at: String,
        /// The first one.
        first: String,
        /// The ID, base64url.
        credential_id: String,
    },
    /// Two passkeys for the same relying party and user handle.
    #[error("{at}: a passkey for {rp_id} and the same user handle is also at {first}")]
    DuplicateUser {
        /// The second one.
        at: String,
        /// The first one.
        first: String,
        /// The relying party.
        rp_id: String,
    },
    /// A key that is not valid PKCS#8 DER of its algorithm.
    #[error("{at}: the key is not a usable private key: {reason}")]
    BadKey {
        /// Where.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// hmac-secret CredRandoms that are not 32 bytes, or a bad credProtect.
    #[error("{at}: {reason}")]
    BadExtension {
        /// Where.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The authenticator's stored large-blob array fails its hash.
    #[error("the stored large-blob array is corrupt (its hash does not match)")]
    CorruptLargeBlobArray,
    /// Encrypting the export failed, or a recipient is not valid.
    #[error("age encryption: {0}")]
    Encryption(String),
    /// The age file could not be opened (wrong key or passphrase, damaged).
    #[error("age decryption: {0}")]
    Decryption(String),
    /// A stored credential could not be written out.
    #[error("credential {credential_id}: {reason}")]
    Unexportable {
        /// Its ID, hex.
        credential_id: String,
        /// Why.
        reason: String,
    },
}

/// Who made an export (the CXF header and account).
#[derive(Clone, Debug)]
pub struct Exporter<'a> {
    /// `exporterRpId`.
    pub rp_id: &'a str,
    /// `exporterDisplayName`.
    pub display_name: &'a str,
    /// The account's `id` (at most 64 bytes).
    pub account_id: &'a [u8],
    /// `timestamp`, seconds since the Unix epoch.
    pub timestamp: u64,
}

/// One passkey to export.
pub struct ExportPasskey<'a> {
    /// The credential (discoverable).
    pub credential: &'a StoredCredential,
    /// When it was made, seconds since the Unix epoch.
    pub created: Option<i64>,
    /// Its large blob, if it has one.
    pub large_blob: Option<&'a LargeBlob>,
}

/// A credential an export left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Its ID.
    pub credential_id: Vec<u8>,
    /// Its relying party.
    pub rp_id: String,
    /// Why ("unexportable: ML-DSA-65 has no CXF key form in softkey").
    pub reason: String,
}

/// A CXF export's JSON and the passkeys left out of it.
pub struct Encoded {
    /// The JSON (holds the private keys).
    pub json: Zeroizing<Vec<u8>>,
    /// The passkeys whose keys have no CXF form, each with its reason (the
    /// JSON holds all the others).
    pub refused: Vec<Refused>,
}

/// Encodes the JSON of a CXF export holding `passkeys`, into a zeroizing
/// buffer of its final size (the JSON holds the private keys). A passkey
/// whose algorithm has no CXF key form is left out and reported in
/// [`Encoded::refused`]; a stored key that does not encode is an error.
pub fn encode(
    exporter: &Exporter<'_>,
    passkeys: &[ExportPasskey<'_>],
) -> Result<Encoded, CxfError> {
    let mut refused = Vec::new();
    let mut written = Vec::with_capacity(passkeys.len());
    let mut keys = Vec::with_capacity(passkeys.len());
    for passkey in passkeys {
        let credential = passkey.credential;
        match keys::encode(&credential.private_key) {
            Ok(key) => {
                keys.push(key);
                written.push(passkey);
            }
            Err(keys::KeyError::Unsupported(algorithm)) => refused.push(Refused {
                credential_id: credential.credential_id.clone(),
                rp_id: credential.rp_id.clone(),
                reason: format!("unexportable: {algorithm} has no CXF key form in softkey"),
            }),
            Err(keys::KeyError::Invalid(reason)) => {
                return Err(CxfError::Unexportable {
                    credential_id: hex::encode(&credential.credential_id),
                    reason,
                });
            }
        }
    }
    let passkeys = written;
    let item_ids: Vec<[u8; 16]> = passkeys
        .iter()
        .map(|p| item_id(&p.credential.credential_id))
        .collect();
    let items = passkeys
        .iter()
        .zip(&keys)
        .zip(&item_ids)
        .map(|((passkey, key), id)| item(passkey, key, id))
        .collect();
    let header = HeaderOut {
        version: VersionOut {
            major: format::MAJOR,
            minor: format::MINOR,
        },
        exporter_rp_id: exporter.rp_id,
        exporter_display_name: exporter.display_name,
        timestamp: exporter.timestamp,
        accounts: [AccountOut {
            id: B64(exporter.account_id),
            username: "",
            email: "",
            collections: [],
            items,
        }],
    };
    // Measured first, then written into a buffer of exactly that size: a
    // growing buffer would free copies of the keys unzeroized.
    let mut counter = CountingWriter(0);
    serde_json::to_writer_pretty(&mut counter, &header)
        .map_err(|e| CxfError::Encryption(format!("encoding the JSON: {e}")))?;
    let mut json = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer_pretty(&mut *json, &header)
        .map_err(|e| CxfError::Encryption(format!("encoding the JSON: {e}")))?;
    debug_assert_eq!(json.len(), counter.0);
    Ok(Encoded { json, refused })
}

/// The CXF item ID of a credential: the first 16 bytes of SHA-256 of its ID
/// (stable across exports, at most 64 bytes as CXF requires).
fn item_id(credential_id: &[u8]) -> [u8; 16] {
    let digest = sha256(credential_id);
    digest[..16].try_into().expect("16 of 32 bytes")
}

fn item<'a>(
    passkey: &'a ExportPasskey<'a>,
    key: &'a Zeroizing<Vec<u8>>,
    id: &'a [u8; 16],
) -> ItemOut<'a> {
    let credential = passkey.credential;
    let hmac_credentials = match (
        &credential.cred_random_with_uv,
        &credential.cred_random_without_uv,
    ) {
        (Some(with_uv), Some(without_uv)) => Some(HmacCredentialsOut {
            algorithm: format::HMAC_SHA256,
            cred_with_uv: SecretB64(with_uv.expose_secret()),
            cred_without_uv: SecretB64(without_uv.expose_secret()),
        }),
        _ => None,
    };
    ItemOut {
        id: B64(id),
        creation_at: passkey.created.and_then(|t| u64::try_from(t).ok()),
        title: credential.rp_name.as_deref().unwrap_or(&credential.rp_id),
        credentials: [PasskeyOut {
            kind: "passkey",
            credential_id: B64(&credential.credential_id),
            rp_id: &credential.rp_id,
            username: credential.user.name.as_deref().unwrap_or(""),
            user_display_name: credential.user.display_name.as_deref().unwrap_or(""),
            user_handle: B64(&credential.user.id),
            key: SecretB64(key),
            fido2_extensions: Fido2ExtensionsOut {
                hmac_credentials,
                cred_blob: credential.cred_blob.as_deref().map(SecretB64),
                large_blob: passkey.large_blob.map(|blob| LargeBlobOut {
                    uncompressed_size: blob.uncompressed_size,
                    data: SecretB64(&blob.compressed),
                }),
                payments: credential.third_party_payment.then_some(true),
            },
        }],
        extensions: [SoftkeyExtensionOut {
            name: format::SOFTKEY_EXTENSION,
            cred_protect: credential.cred_protect,
        }],
    }
}

/// Counts the bytes written to it.
struct CountingWriter(usize);

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A credential ID as CXF writes it (base64url), for messages.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Gives each candidate of `plan` that has a large blob a new largeBlobKey
/// and its blob sealed under it, appended to the serialized large-blob array
/// `array` (`None`: the initial empty one). A blob that would make the array
/// larger than the authenticator holds is skipped with its passkey. Returns
/// the new serialized array, if any blob was added.
pub fn attach_large_blobs(
    plan: &mut ImportPlan,
    array: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, CxfError> {
    if plan.candidates.iter().all(|(_, c)| c.large_blob.is_none()) {
        return Ok(None);
    }
    let mut entries = large_blob::entries(array)?;
    let mut serialized = None;
    let mut index = 0;
    while index < plan.candidates.len() {
        let (_, candidate) = &mut plan.candidates[index];
        let Some(blob) = &candidate.large_blob else {
            index += 1;
            continue;
        };
        let key = Secret32::random(&mut rand::rng());
        entries.push(large_blob::seal(blob, &key));
        match large_blob::serialized(entries.clone()) {
            Some(bytes) => {
                candidate.credential.large_blob_key = Some(key);
                serialized = Some(bytes);
                index += 1;
            }
            None => {
                entries.pop();
                plan.skip(
                    index,
                    SkipReason::LargeBlobDoesNotFit {
                        max: softkey_authenticator::commands::large_blobs::MAX_SERIALIZED_LARGE_BLOB_ARRAY,
                    },
                );
            }
        }
    }
    Ok(serialized)
}

/// The large blobs of `credentials` in the serialized large-blob array
/// `array` (`None` for a credential without one, or whose entry is gone).
pub fn large_blobs_of(
    array: Option<&[u8]>,
    credentials: &[&StoredCredential],
) -> Result<Vec<Option<LargeBlob>>, CxfError> {
    if credentials.iter().all(|c| c.large_blob_key.is_none()) {
        return Ok(credentials.iter().map(|_| None).collect());
    }
    let entries = large_blob::entries(array)?;
    Ok(credentials
        .iter()
        .map(|c| {
            c.large_blob_key
                .as_ref()
                .and_then(|key| large_blob::find(&entries, key))
        })
        .collect())
}
