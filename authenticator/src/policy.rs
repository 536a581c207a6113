//! Per-credential decisions an embedder may take over from the core.
//!
//! A security key on a desk answers these the same way for every credential:
//! it is not backed up (BE = BS = 0) and a non-discoverable credential, which
//! has no row of its own, signs with the device-wide counter. A simulator for
//! testers needs to choose: a credential that claims to be synced, a
//! credential injected with a signature counter of its own. The core asks a
//! [`CredentialPolicy`] at the two points where those answers enter what it
//! signs (authenticator data flags and signature counter), so nothing needs
//! to be rewritten afterwards (which would break the signatures).

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
    /// The backup flags a new credential is created with; the core then asks
    /// [`backup_flags`](Self::backup_flags) for it on every assertion.
    fn new_credential(&mut self, credential_id: &[u8]) -> BackupFlags {
        let _ = credential_id;
        BackupFlags::default()
    }

    /// The backup flags of an existing credential.
    fn backup_flags(&mut self, credential_id: &[u8]) -> BackupFlags {
        let _ = credential_id;
        BackupFlags::default()
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
