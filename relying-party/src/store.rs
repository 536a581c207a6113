//! Credential store.
