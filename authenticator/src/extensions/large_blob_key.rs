//! largeBlobKey (CTAP 2.1 §12.3): a per-credential 32-byte key that the
//! platform uses to find and decrypt this credential's entry in the large-blob
//! array ([`crate::commands::large_blobs`]).
//!
//! Only discoverable credentials get one: makeCredential with
//! `"largeBlobKey": true` and `"rk": true` makes the key and returns it as
//! response member 0x05; getAssertion with `"largeBlobKey": true` returns it
//! as member 0x07. Any value but `true`, or the extension on a
//! non-discoverable credential, is `CTAP2_ERR_INVALID_OPTION`. The key never
//! enters authData.

use ciborium::Value;

use crate::cbor;
use crate::status::StatusCode;

/// The extension identifier.
pub const NAME: &str = "largeBlobKey";

/// makeCredential response member carrying the key.
pub const MAKE_CREDENTIAL_RESPONSE_KEY: i64 = 0x05;

/// getAssertion response member carrying the key.
pub const GET_ASSERTION_RESPONSE_KEY: i64 = 0x07;

/// The input: `true`; `false` is an invalid option.
pub fn parse(value: &Value) -> Result<bool, StatusCode> {
    if cbor::as_bool(value)? {
        Ok(true)
    } else {
        Err(StatusCode::InvalidOption)
    }
}
