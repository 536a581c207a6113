//! thirdPartyPayment (CTAP 2.2 §12.9): marks a credential as usable for
//! payments made on behalf of its relying party by a third party (the
//! WebAuthn `payment` extension of Secure Payment Confirmation).
//!
//! - makeCredential `"thirdPartyPayment": true` marks the credential; there is
//!   no makeCredential output. The mark rides in the store (discoverable) or
//!   in the sealed ID.
//! - getAssertion `"thirdPartyPayment": true` answers `"thirdPartyPayment"`
//!   with the credential's mark (`true` or `false`).
//! - credential management reports the mark as member 0x0C.
//!
//! Any input that is not a boolean is `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`;
//! `false` asks for nothing.

use ciborium::Value;

use crate::cbor;
use crate::status::StatusCode;

/// The extension identifier.
pub const NAME: &str = "thirdPartyPayment";

/// The input of either command: a boolean.
pub fn parse(value: &Value) -> Result<bool, StatusCode> {
    cbor::as_bool(value)
}
