//! authenticatorReset (CTAP 2.1 §6.6): erase everything, with a touch, soon
//! after power-up.

use std::time::Instant;

use crate::authenticator::{Context, Pending, PromptAction, Step, UserPrompt};
use crate::commands::Response;
use crate::status::StatusCode;
use crate::store::Store;

pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    now: Instant,
) -> Step {
    // "If the request comes after 10 seconds of powering up, the authenticator
    // returns CTAP2_ERR_NOT_ALLOWED."
    if let Some(window) = ctx.config.reset_window
        && now.saturating_duration_since(ctx.powered_up_at) > window
    {
        return Step::Done(Err(StatusCode::NotAllowed));
    }
    Step::AwaitUser(
        UserPrompt {
            action: PromptAction::Reset,
            rp_id: None,
            user_name: None,
        },
        Pending::Reset,
    )
}

pub(crate) fn finish<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let new_secret = ctx.random_secret();
    ctx.store.wipe(new_secret)?;
    // Sealed IDs of the old device secret no longer open.
    ctx.credential_id_key.clear();
    ctx.next_assertions = None;
    ctx.credential_management = None;
    // A large-blob write in progress must not complete into the wiped store.
    ctx.large_blob_write = None;
    // The PIN is gone: so are the pinUvAuthToken and the key-agreement key
    // issued under it, and the count of wrong PINs.
    ctx.pin = crate::pin::PinRuntime::new(&mut ctx.rng);
    tracing::info!("authenticator reset: credentials, PIN and settings erased, wrap key rotated");
    Ok(Response::empty())
}
