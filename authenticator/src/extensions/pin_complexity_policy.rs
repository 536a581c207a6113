//! pinComplexityPolicy (CTAP 2.2 §12.6): tells a relying party, at
//! registration, whether the authenticator enforces its PIN complexity
//! policy ([`crate::pin::complexity`]).
//!
//! makeCredential `"pinComplexityPolicy": true` answers
//! `"pinComplexityPolicy"` with the policy's state (getInfo 0x1B) — only for
//! the relying parties authenticatorConfig setMinPINLength put on the
//! minPinLengthRPIDs list, as the minPinLength extension does; any other
//! relying party gets no output. A non-boolean input is
//! `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.

use ciborium::Value;

use crate::cbor;
use crate::status::StatusCode;

/// The extension identifier.
pub const NAME: &str = "pinComplexityPolicy";

/// The makeCredential input: a boolean.
pub fn parse(value: &Value) -> Result<bool, StatusCode> {
    cbor::as_bool(value)
}
