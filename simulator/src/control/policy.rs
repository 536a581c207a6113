//! The control API's backup flags and per-credential counters, which go
//! into what the core signs (see [`softkey_authenticator::policy`]).

use std::sync::{Arc, Mutex};

use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::policy::{BackupFlags, CredentialPolicy};

use crate::control::hooks::ControlState;

/// The control API's [`CredentialPolicy`]: backup flags from the WebDriver
/// options and Set Credential Properties; injected non-discoverable
/// credentials count their own signatures from the `signCount` they were
/// given.
pub struct ControlPolicy {
    state: Arc<Mutex<ControlState>>,
}

impl ControlPolicy {
    /// The policy over shared `state`.
    pub fn new(state: Arc<Mutex<ControlState>>) -> Self {
        Self { state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CredentialPolicy for ControlPolicy {
    fn new_credential(&mut self, credential: &StoredCredential) -> BackupFlags {
        let mut state = self.state();
        let flags = state.default_backup;
        state.backup.insert(credential.credential_id.clone(), flags);
        flags
    }

    /// The flags the control API holds for it; a discoverable credential it
    /// has not seen (a persistent vault's, from an earlier run or an import)
    /// has those stored with it.
    fn backup_flags(&mut self, credential: &StoredCredential) -> BackupFlags {
        let state = self.state();
        match state.backup.get(&credential.credential_id) {
            Some(flags) => *flags,
            None if credential.discoverable => credential.backup,
            None => state.default_backup,
        }
    }

    fn next_sign_count(&mut self, credential_id: &[u8]) -> Option<u32> {
        let mut state = self.state();
        let injected = state
            .aliases
            .iter_mut()
            .find(|a| a.internal == credential_id)?
            .non_resident
            .as_mut()?;
        injected.sign_count = injected.sign_count.wrapping_add(1);
        Some(injected.sign_count)
    }
}
