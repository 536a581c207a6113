//! authenticatorSelection (CTAP 2.1 §6.9): a touch picks this authenticator.

use crate::authenticator::{Pending, PromptAction, Step, UserPrompt};

pub(crate) fn start() -> Step {
    Step::AwaitUser(
        UserPrompt {
            action: PromptAction::Select,
            rp_id: None,
            user_name: None,
        },
        Pending::Selection,
    )
}
