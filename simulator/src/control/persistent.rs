//! What an authenticator on a persistent vault (`softkey:vault`) may do.
//!
//! A persistent vault holds passkeys that outlive the test, and its UDP port
//! is open to every local process: so it follows the daily daemon's rules
//! unless whoever started the simulator wrote the `danger` choice on its
//! command line.
//!
//! | without a danger choice | unless the simulator was started with |
//! |---|---|
//! | unscripted presence prompts go to the simulator's presence provider (`--presence`; a desktop notification by default); `isUserConsenting: true` and Set Presence `then: "approve"` are refused | `--presence danger-auto-approve` |
//! | `isUserVerified: true` (at creation or through Set User Verified) is refused | `--verify danger-always-verified` |
//! | reset only within 10 s of power-up | `--danger-reset-anytime` |
//!
//! Scripted answers (Set Presence `script`) stay: whoever holds the API
//! token answers those prompts one by one, as a person would.

use std::sync::Arc;

use softkey_authenticator::Verdict;

use crate::control::device::Options;
use crate::control::error::ApiError;
use crate::presence::PresenceProvider;

/// Builds a presence provider for a new authenticator.
pub type PresenceFactory = Arc<dyn Fn() -> anyhow::Result<Box<dyn PresenceProvider>> + Send + Sync>;

/// The simulator's rules for persistent-vault authenticators.
#[derive(Clone)]
pub struct PersistentRules {
    /// Asks the person for an unscripted presence prompt.
    pub presence: PresenceFactory,
    /// `--presence danger-auto-approve` was written: standing approvals allowed.
    pub auto_approve: bool,
    /// `--verify danger-always-verified` was written: `isUserVerified: true` allowed.
    pub always_verified: bool,
    /// `--danger-reset-anytime` was written: no reset window.
    pub reset_anytime: bool,
}

impl std::fmt::Debug for PersistentRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentRules")
            .field("auto_approve", &self.auto_approve)
            .field("always_verified", &self.always_verified)
            .field("reset_anytime", &self.reset_anytime)
            .finish_non_exhaustive()
    }
}

impl PersistentRules {
    /// The daily daemon's rules: presence from `presence`, no danger choice.
    pub fn strict(presence: PresenceFactory) -> Self {
        Self {
            presence,
            auto_approve: false,
            always_verified: false,
            reset_anytime: false,
        }
    }

    /// Applies the rules to a new persistent authenticator's options:
    /// refuses standing approvals nobody chose, enforces the reset window.
    pub fn apply(&self, options: &mut Options) -> Result<(), ApiError> {
        if options.is_user_consenting == Some(true) {
            self.check_presence(Verdict::Approved)?;
        }
        self.check_verified(options.is_user_verified)?;
        options.strict_reset = !self.reset_anytime;
        Ok(())
    }

    /// A standing presence answer for a persistent authenticator.
    pub fn check_presence(&self, verdict: Verdict) -> Result<(), ApiError> {
        if verdict == Verdict::Approved && !self.auto_approve {
            return Err(ApiError::invalid(
                "a persistent vault's authenticator asks the simulator's presence provider: \
                 approving every prompt needs the simulator started with --presence \
                 danger-auto-approve (or script the answers one by one)",
            ));
        }
        Ok(())
    }

    /// A standing verification answer for a persistent authenticator.
    pub fn check_verified(&self, verified: bool) -> Result<(), ApiError> {
        if verified && !self.always_verified {
            return Err(ApiError::invalid(
                "a persistent vault's authenticator verifies nobody by default: \
                 isUserVerified true needs the simulator started with --verify \
                 danger-always-verified (or script the answers one by one)",
            ));
        }
        Ok(())
    }

    /// The provider unscripted presence prompts go to.
    pub fn presence_provider(&self) -> Result<Box<dyn PresenceProvider>, ApiError> {
        (self.presence)()
            .map_err(|error| ApiError::unknown(format!("cannot ask for presence: {error:#}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::control::api::default_options;
    use crate::presence::danger::AutoApprove;

    fn rules() -> PersistentRules {
        PersistentRules::strict(Arc::new(|| Ok(Box::new(AutoApprove) as Box<_>)))
    }

    #[test]
    fn persistent_rules_refuse_standing_approvals_nobody_chose() {
        let strict = rules();
        let mut options = default_options(false, std::time::Duration::ZERO);
        strict.apply(&mut options).unwrap();
        assert!(options.strict_reset, "the reset window is enforced");
        options.is_user_consenting = Some(true);
        assert!(strict.apply(&mut options).is_err());
        options.is_user_consenting = Some(false);
        options.is_user_verified = true;
        assert!(strict.apply(&mut options).is_err());
        assert!(strict.check_presence(Verdict::Approved).is_err());
        assert!(strict.check_presence(Verdict::Denied).is_ok());
        assert!(strict.check_verified(false).is_ok());
    }

    #[test]
    fn persistent_rules_allow_what_the_danger_flags_say() {
        let danger = PersistentRules {
            auto_approve: true,
            always_verified: true,
            reset_anytime: true,
            ..rules()
        };
        let mut options = default_options(true, std::time::Duration::ZERO);
        options.is_user_consenting = Some(true);
        options.is_user_verified = true;
        danger.apply(&mut options).unwrap();
        assert!(!options.strict_reset);
    }
}
