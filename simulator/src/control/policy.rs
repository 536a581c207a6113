//! The control API's backup flags and per-credential counters, which go
//! into what the core signs (see [`softkey_authenticator::policy`]).

use std::sync::{Arc, Mutex};

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
    fn new_credential(&mut self, credential_id: &[u8]) -> BackupFlags {
        let mut state = self.state();
        let flags = state.default_backup;
        state.backup.insert(credential_id.to_vec(), flags);
        flags
    }

    fn backup_flags(&mut self, credential_id: &[u8]) -> BackupFlags {
        self.state().flags_of(credential_id)
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
