//! CTAP 2.1 authenticator core.
#![forbid(unsafe_code)]
