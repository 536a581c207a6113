//! # softkey-authenticator: the CTAP 2.1 core
//!
//! A sans-I/O state machine that *is* the security key: it takes a CTAP2 request
//! (the CBOR payload of a CTAPHID CBOR message) and the current time, and gives
//! back either a response or "ask the user", then is resumed with the verdict.
//!
//! ```text
//!  request bytes ─► commands::parse ─► typed Command ─► handler ─► Result<Response, StatusCode>
//!                                                        │   ▲                     │
//!                                          Outcome::AwaitUser  resume(verdict)     ▼
//!                                                        ▼   │             canonical CBOR bytes
//!                                                      runtime (presence prompt, keepalives)
//! ```
//!
//! Capabilities come in through small traits: randomness (`rand_core::CryptoRng`),
//! storage ([`store::Store`]). Nothing here reads a clock, a file or a socket.
//!
//! Spec: [CTAP 2.1](https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html),
//! §6 (authenticator API), §8 (message encoding), §6.1–§6.9 and §6.11 for the
//! commands built here (clientPIN with PIN/UV auth protocols one and two in
//! [`pin`], credential management, authenticatorConfig).
//!
//! CTAP 2.2 additions built on top: the persistentPinUvAuthToken and the
//! `pcmr` permission with getInfo's encIdentifier/encCredStoreState
//! ([`pin::persistent`]), the PIN complexity policy ([`pin::complexity`]),
//! the thirdPartyPayment and pinComplexityPolicy extensions, enterprise
//! attestation ([`enterprise`]) and getInfo's new members. getInfo still
//! claims FIDO_2_1: `docs/ctap-conformance.md` lists each CTAP 2.2/2.3
//! requirement with where it is built and what keeps `FIDO_2_3` out.
#![forbid(unsafe_code)]

pub mod attestation;
pub mod authdata;
mod authenticator;
pub mod cbor;
pub mod commands;
pub mod credential;
pub mod crypto;
pub mod ctap1;
pub mod enterprise;
pub mod extensions;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod pin;
pub mod policy;
pub mod request;
pub mod secret;
pub mod status;
pub mod store;

pub use authenticator::{
    AAGUID, AttestationMode, Authenticator, Config, Context, NEXT_ASSERTION_TIMEOUT, Outcome,
    PromptAction, RESET_WINDOW, UserPrompt, Verdict,
};
pub use status::StatusCode;
