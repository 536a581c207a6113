//! Scripted presence and verification for controlled authenticators.
//!
//! A [`ScriptedUser`] answers prompts from a script the control API sets
//! (approve, deny, time out, each after a delay; "approve the next K then
//! deny"), then falls back to the WebDriver options `isUserConsenting` (for
//! presence) and `isUserVerified` (for built-in user verification).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use softkey_authenticator::{PromptAction, UserPrompt, Verdict};

use crate::presence::{PendingVerdict, PresenceProvider};

/// One scripted answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptStep {
    /// The answer.
    pub verdict: Verdict,
    /// How long the person takes to give it.
    pub delay: Duration,
}

/// What the scripted person does, shared with the control API.
#[derive(Debug, Default)]
pub struct UserState {
    /// Answers to give first, in order (to presence and verification prompts).
    pub script: VecDeque<ScriptStep>,
    /// Presence answer once the script is empty (`isUserConsenting`:
    /// approved or denied; or timed out); `None` asks the fallback provider.
    pub presence: Option<Verdict>,
    /// Built-in user verification answer once the script is empty.
    pub verified: bool,
    /// Delay before an unscripted answer.
    pub default_delay: Duration,
}

/// A presence provider driven by [`UserState`].
pub struct ScriptedUser {
    state: Arc<Mutex<UserState>>,
    fallback: Box<dyn PresenceProvider>,
}

impl ScriptedUser {
    /// A scripted user over shared `state`; unscripted presence prompts with
    /// `consenting == None` go to `fallback`.
    pub fn new(state: Arc<Mutex<UserState>>, fallback: Box<dyn PresenceProvider>) -> Self {
        Self { state, fallback }
    }
}

struct Delayed {
    verdict: Verdict,
    delay: Duration,
    asked_at: Option<Instant>,
}

impl PendingVerdict for Delayed {
    fn poll(&mut self, now: Instant) -> Option<Verdict> {
        let asked_at = *self.asked_at.get_or_insert(now);
        (now.saturating_duration_since(asked_at) >= self.delay).then_some(self.verdict)
    }
}

impl PresenceProvider for ScriptedUser {
    fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let step = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match state.script.pop_front() {
                Some(step) => Some(step),
                None if prompt.action == PromptAction::Verify => Some(ScriptStep {
                    verdict: if state.verified {
                        Verdict::Approved
                    } else {
                        Verdict::Denied
                    },
                    delay: state.default_delay,
                }),
                None => state.presence.map(|verdict| ScriptStep {
                    verdict,
                    delay: state.default_delay,
                }),
            }
        };
        match step {
            Some(step) => Box::new(Delayed {
                verdict: step.verdict,
                delay: step.delay,
                asked_at: None,
            }),
            None => self.fallback.ask(prompt),
        }
    }

    fn name(&self) -> &'static str {
        "control-api-script"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::danger::AutoApprove;

    fn prompt(action: PromptAction) -> UserPrompt {
        UserPrompt {
            action,
            rp_id: Some("example.com".into()),
            user_name: None,
        }
    }

    #[test]
    fn script_then_consent_then_verification() {
        let state = Arc::new(Mutex::new(UserState {
            presence: Some(Verdict::Denied),
            ..UserState::default()
        }));
        state.lock().unwrap().script.extend([
            ScriptStep {
                verdict: Verdict::Approved,
                delay: Duration::ZERO,
            },
            ScriptStep {
                verdict: Verdict::TimedOut,
                delay: Duration::from_millis(50),
            },
        ]);
        let mut user = ScriptedUser::new(state.clone(), Box::new(AutoApprove));
        let now = Instant::now();
        let sign_in = prompt(PromptAction::SignIn);
        assert_eq!(user.ask(&sign_in).poll(now), Some(Verdict::Approved));
        let mut slow = user.ask(&sign_in);
        assert_eq!(slow.poll(now), None);
        assert_eq!(
            slow.poll(now + Duration::from_millis(50)),
            Some(Verdict::TimedOut)
        );
        assert_eq!(user.ask(&sign_in).poll(now), Some(Verdict::Denied));
        assert_eq!(
            user.ask(&prompt(PromptAction::Verify)).poll(now),
            Some(Verdict::Denied)
        );
        state.lock().unwrap().presence = None;
        assert_eq!(user.ask(&sign_in).poll(now), Some(Verdict::Approved));
    }
}
