//! Secret byte strings with one recipe (STYLE.md 5): zeroized on drop, redacted
//! `Debug`, no `Clone`/`PartialEq`, constant-time comparison, `expose_secret()`.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A variable-length secret (a private key, a wrap key, PIN material).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the caller's copy should itself be zeroizing.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies from a slice.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret bytes. Keep the borrow short.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.ct_eq(other).into()
    }

    /// An explicit copy (secrets are not `Clone` so that copies are deliberate).
    pub fn duplicate(&self) -> Self {
        Self(self.0.clone())
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes.to_vec())
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBytes")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// A 256-bit secret key.
///
/// The bytes live on the heap, in a box of their own: moving a `Secret32`
/// (into a `Vec` that then grows, out of one by `remove`) copies only the
/// pointer, and the one copy of the bytes is wiped when it drops. Kept
/// inline, every such move would leave a copy behind in memory that is
/// freed unwiped.
pub struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    /// Wraps 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Box::new(bytes))
    }

    fn zeroed() -> Self {
        Self(Box::new([0u8; 32]))
    }

    /// Draws a fresh key from `rng`.
    pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut secret = Self::zeroed();
        rng.fill_bytes(secret.0.as_mut_slice());
        secret
    }

    /// Copies from a slice, which must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let mut secret = Self::zeroed();
        secret.0.copy_from_slice(bytes);
        Some(secret)
    }

    /// The key bytes. Keep the borrow short.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// An explicit copy.
    pub fn duplicate(&self) -> Self {
        let mut copy = Self::zeroed();
        copy.0.copy_from_slice(self.0.as_slice());
        copy
    }
}

impl Zeroize for Secret32 {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret32 {}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret32").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_bytes() {
        let secret = SecretBytes::from_slice(&[0xAB; 16]);
        let printed = format!("{secret:?}");
        assert!(!printed.to_lowercase().contains("ab"), "{printed}");
        assert!(!printed.contains("171"), "{printed}");
        let key = Secret32::new([0xCD; 32]);
        assert!(!format!("{key:?}").contains("205"));
    }

    #[test]
    fn constant_time_comparison_matches_equality() {
        let secret = SecretBytes::from_slice(b"pin-hash");
        assert!(secret.ct_eq(b"pin-hash"));
        assert!(!secret.ct_eq(b"pin-hasH"));
        assert!(!secret.ct_eq(b"pin"));
    }
}
