//! The vault's kind and its passkeys' way out and in.
//!
//! A vault is **device-bound** (the default: its credentials are created
//! with BE = 0 and never leave it) or **backup-eligible** (discoverable
//! credentials are created with BE = 1, sign with counter 0, and export as
//! CXF). The kind is a sealed `secrets` row ([`BACKUP_ELIGIBLE`], part of the
//! authenticated state, kept by an authenticator reset); it applies to
//! credentials made after it is set, since BE is signed into each credential
//! at creation and stored with it. [`VaultPolicy`] is what the daemon hands
//! the authenticator core.
//!
//! Export takes the discoverable credentials stored with BE = 1 (and counter
//! 0, as CXF requires) with their large blobs, leaving out (and reporting)
//! those whose algorithm has no CXF key form; once the caller has written
//! the file, [`Vault::mark_backed_up`] sets their BS. Import stores a whole
//! [`ImportPlan`] and the large-blob array it grows in one transaction.

use rusqlite::params;
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::policy::{BackupFlags, CredentialPolicy};
use softkey_authenticator::store::SettingKey;
use zeroize::Zeroizing;

use crate::cxf::{self, Existing, ExportPasskey, Exporter, ImportPlan, ItemOutcome};
use crate::error::VaultError;
use crate::rows::{now, select_credentials};
use crate::state::{self, Lookup};
use crate::store::{put_in, setting_row};
use crate::vault::Vault;

/// `secrets` row holding the vault's kind: one byte, 1 = backup-eligible
/// (absent or 0: device-bound).
pub(crate) const BACKUP_ELIGIBLE: &str = "vault/backup-eligible";

/// `exporterRpId` and `exporterDisplayName` of softkey's exports.
const EXPORTER: &str = "softkey";

/// The credential policy of a vault's kind: in a backup-eligible vault a
/// new discoverable credential is BE = 1 (a non-discoverable one, sealed
/// under this vault's device secret, cannot be exported and stays BE = 0).
/// Stored flags are signed as stored (the core's default).
#[derive(Clone, Copy, Debug)]
pub struct VaultPolicy {
    backup_eligible: bool,
}

impl VaultPolicy {
    /// Whether new discoverable credentials are backup eligible.
    pub fn backup_eligible(&self) -> bool {
        self.backup_eligible
    }
}

impl CredentialPolicy for VaultPolicy {
    fn new_credential(&mut self, credential: &StoredCredential) -> BackupFlags {
        BackupFlags {
            eligible: self.backup_eligible && credential.discoverable,
            state: false,
        }
    }
}

/// An export's JSON and the credentials in it.
pub struct CxfExport {
    /// The CXF JSON (holds the private keys).
    pub json: Zeroizing<Vec<u8>>,
    /// The IDs of the credentials exported.
    pub credential_ids: Vec<Vec<u8>>,
    /// The eligible credentials left out (their algorithm has no CXF key
    /// form), each with its reason.
    pub refused: Vec<cxf::Refused>,
}

impl std::fmt::Debug for CxfExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxfExport")
            .field("credentials", &self.credential_ids.len())
            .field("refused", &self.refused.len())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Whether the vault is backup-eligible (new discoverable credentials
    /// BE = 1, exportable).
    pub fn backup_eligible(&mut self) -> Result<bool, VaultError> {
        Ok(self
            .secret(BACKUP_ELIGIBLE)?
            .is_some_and(|value| value.first() == Some(&1)))
    }

    /// Makes the vault backup-eligible or device-bound for credentials made
    /// from now on (existing ones keep the BE they were created with).
    pub fn set_backup_eligible(&mut self, eligible: bool) -> Result<(), VaultError> {
        self.write(|w| w.put_secret(BACKUP_ELIGIBLE, Some(&[u8::from(eligible)])))
    }

    /// The credential policy for an authenticator over this vault.
    pub fn credential_policy(&mut self) -> Result<VaultPolicy, VaultError> {
        Ok(VaultPolicy {
            backup_eligible: self.backup_eligible()?,
        })
    }

    /// The CXF JSON of every backup-eligible discoverable credential (with
    /// its large blob). A device-bound vault without any is
    /// [`VaultError::DeviceBound`]. Nothing is changed: call
    /// [`Vault::mark_backed_up`] once the export is safely written.
    pub fn export_cxf(&mut self) -> Result<CxfExport, VaultError> {
        let eligible = self.backup_eligible()?;
        let stored =
            self.read_credentials(Lookup::All, |credential, created| (credential, created))?;
        // CXF: passkeys with a non-zero counter are never exported.
        let exported: Vec<&(StoredCredential, i64)> = stored
            .iter()
            .filter(|(c, _)| c.backup.eligible && c.sign_count == 0)
            .collect();
        if exported.is_empty() && !eligible {
            return Err(VaultError::DeviceBound);
        }
        let array = self.secret(&setting_row(SettingKey::LargeBlobArray))?;
        let credentials: Vec<&StoredCredential> = exported.iter().map(|(c, _)| c).collect();
        let blobs = cxf::large_blobs_of(array.as_deref().map(|a| &a[..]), &credentials)?;
        let passkeys: Vec<ExportPasskey<'_>> = exported
            .iter()
            .zip(&blobs)
            .map(|((credential, created), blob)| ExportPasskey {
                credential,
                created: Some(*created),
                large_blob: blob.as_ref(),
            })
            .collect();
        let encoded = cxf::encode(
            &Exporter {
                rp_id: EXPORTER,
                display_name: EXPORTER,
                account_id: &self.vault_id,
                timestamp: u64::try_from(now()).unwrap_or(0),
            },
            &passkeys,
        )?;
        let credential_ids = credentials
            .iter()
            .map(|c| c.credential_id.clone())
            .filter(|id| !encoded.refused.iter().any(|r| r.credential_id == *id))
            .collect();
        Ok(CxfExport {
            json: encoded.json,
            credential_ids,
            refused: encoded.refused,
        })
    }

    /// Sets BS (backed up) on these credentials, in one transaction; returns
    /// how many were found.
    pub fn mark_backed_up(&mut self, credential_ids: &[Vec<u8>]) -> Result<usize, VaultError> {
        self.write(|w| {
            let mut marked = 0;
            for id in credential_ids {
                let id_mac = w.keys.id_mac(id);
                for row in w.select_checked(&id_mac)? {
                    let (mut credential, _) = crate::rows::open_credential(w.keys, &row)?;
                    if !credential.backup.state {
                        credential.backup.state = true;
                        put_in(w, &credential)?;
                    }
                    marked += 1;
                }
            }
            Ok(marked)
        })
    }

    /// The credentials an import is compared with.
    pub fn existing_for_import(&mut self) -> Result<Vec<Existing>, VaultError> {
        self.read_credentials(Lookup::All, |credential, _| Existing {
            credential_id: credential.credential_id.clone(),
            rp_id: credential.rp_id.clone(),
            user_id: credential.user.id.clone(),
        })
    }

    /// Stores what `plan` imports, with the large blobs it brings, in one
    /// transaction: all of it or nothing. The duplicates are checked again
    /// inside the transaction; if the vault changed since the plan was made
    /// (a credential the plan did not know of), nothing is written and the
    /// import is [`VaultError::ImportRaced`].
    pub fn import_cxf(&mut self, plan: &mut ImportPlan) -> Result<usize, VaultError> {
        let array_row = setting_row(SettingKey::LargeBlobArray);
        self.write(|w| {
            let array = w.secret(&array_row)?;
            let new_array = cxf::attach_large_blobs(plan, array.as_deref().map(|a| &a[..]))?;
            for (index, candidate) in &plan.candidates {
                let credential = &candidate.credential;
                let rp_id_hash = credential.rp_id_hash();
                let id_mac = w.keys.id_mac(&credential.credential_id);
                let user_mac = w.keys.user_mac(&rp_id_hash, &credential.user.id);
                let found = select_credentials(
                    w.conn,
                    "id_mac = ?1 OR user_mac = ?2",
                    params![&id_mac[..], &user_mac[..]],
                )?;
                for row in &found {
                    state::check_credential(w.keys, w.staged.listed_credential(&row.id_mac), row)?;
                }
                let planned_replace =
                    matches!(plan.items[*index].outcome, ItemOutcome::Replace { .. });
                if !found.is_empty() && !planned_replace {
                    return Err(VaultError::ImportRaced);
                }
                // Same ID: updated in place; same rp and user: replaced.
                put_in(w, credential)?;
            }
            if let Some(array) = new_array {
                w.put_secret(&array_row, Some(&array))?;
            }
            Ok(plan.stored())
        })
    }
}
