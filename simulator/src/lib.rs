//! # softkey: the program
//!
//! Wires the vault, the CTAP core and the transports into a running security
//! key, with the presence and verification providers around them.
//!
//! ```text
//!   UDP / UHID backend ─► runtime::KeyDevice ─► softkey-authenticator ─► Store (memory / vault)
//!                                  │
//!                         presence::PresenceProvider (danger auto-approve, command, …)
//! ```
//!
//! The binary (`src/main.rs`) is the command-line front end whose definition
//! is [`cli`]: `softkey sim` ([`sim_cmd`]), `softkey run` ([`run_cmd`]),
//! `softkey doctor` ([`doctor`]), `softkey client` ([`client`]), `softkey
//! vault` and `softkey rp`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod control;
#[cfg(target_os = "linux")]
pub mod doctor;
pub mod enterprise_args;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod presence;
#[cfg(target_os = "linux")]
pub mod run_cmd;
pub mod runtime;
pub mod sim_cmd;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod uhid;
pub mod verify;
