//! credBlob (CTAP 2.1 §12.2): a small opaque blob kept with a credential and
//! returned by getAssertion when asked.
//!
//! makeCredential `"credBlob": bytes` stores the blob if it is at most
//! [`MAX_CRED_BLOB_LENGTH`] bytes and answers `"credBlob": true`; a longer one
//! is not stored and the answer is `false`. getAssertion `"credBlob": true`
//! answers with the blob, or an empty byte string when there is none. The
//! blob rides in the store (discoverable) or in the sealed ID.

use ciborium::Value;

use crate::cbor;
use crate::status::StatusCode;

/// The extension identifier.
pub const NAME: &str = "credBlob";

/// maxCredBlobLength (getInfo 0x0F): at least 32 by the spec.
pub const MAX_CRED_BLOB_LENGTH: usize = 32;

/// The makeCredential input: a byte string.
pub fn parse_blob(value: &Value) -> Result<Vec<u8>, StatusCode> {
    cbor::into_bytes(value.clone())
}

/// The getAssertion input: a boolean.
pub fn parse_request(value: &Value) -> Result<bool, StatusCode> {
    cbor::as_bool(value)
}

/// Whether a blob can be stored.
pub fn fits(blob: &[u8]) -> bool {
    blob.len() <= MAX_CRED_BLOB_LENGTH
}
