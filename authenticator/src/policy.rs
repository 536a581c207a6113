//! Per-credential decisions an embedder may take over from the core.
//!
//! A security key on a desk answers these the same way for every credential:
//! it is not backed up (BE = BS = 0) and a non-discoverable credential, which
//! has no row of its own, signs with the device-wide counter. A simulator for
//! testers needs to choose: a credential that claims to be synced, a
//! credential injected with a signature counter of its own; a vault whose
//! passkeys may be exported makes them backup eligible. The core asks a
//! [`CredentialPolicy`] at the two points where those answers enter what it
//! signs (authenticator data flags and signature counter), so nothing needs
//! to be rewritten afterwards (which would break the signatures).
//!
//! The flags a discoverable credential is created with are stored with it
//! ([`StoredCredential::backup`]), so that a later assertion signs the same
//! BE, whichever process serves it. A discoverable credential stored as
//! backup eligible signs with signature counter 0 and is not rewritten per
//! assertion: its copies elsewhere (an export, another provider) cannot share
//! a counter, so it has none (CXF v1.0: importers set passkey counters to 0
//! and never increment them).

use crate::credential::StoredCredential;

/// The backup flags of a credential (WebAuthn §6.1: BE = 0x08, BS = 0x10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackupFlags {
    /// Backup eligible: the credential may be synced (fixed at creation).
    pub eligible: bool,
    /// Backed up: the credential is currently synced.
    pub state: bool,
}

impl BackupFlags {
    /// The authenticator-data flag bits.
    pub fn bits(self) -> u8 {
        (if self.eligible {
            crate::authdata::FLAG_BE
        } else {
            0
        }) | (if self.state {
            crate::authdata::FLAG_BS
        } else {
            0
        })
    }
}

/// Decisions per credential; every method defaults to a plain security key's
/// answer. Credential IDs are the core's own (what it put in the response).
pub trait CredentialPolicy: Send {
    /// The backup flags a new credential (its ID already made) is created
    /// with; the core stores them with a discoverable credential and then asks
    /// [`backup_flags`](Self::backup_flags) for it on every assertion.
    fn new_credential(&mut self, credential: &StoredCredential) -> BackupFlags {
        let _ = credential;
        BackupFlags::default()
    }

    /// The backup flags of an existing credential: by default those stored
    /// with it (none for a non-discoverable credential).
    fn backup_flags(&mut self, credential: &StoredCredential) -> BackupFlags {
        credential.backup
    }

    /// The signature counter a non-discoverable credential signs with next,
    /// if the embedder keeps one for it (then it must also advance it); `None`
    /// uses the device-wide counter of non-discoverable credentials.
    fn next_sign_count(&mut self, credential_id: &[u8]) -> Option<u32> {
        let _ = credential_id;
        None
    }
}

/// A plain security key's policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainKey;

impl CredentialPolicy for PlainKey {}
