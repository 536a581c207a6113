//! Sealing: the master key, the subkeys derived from it, and AES-256-GCM with each
//! row's identity as associated data.
//!
//! ```text
//! master key (256 bit, random) ──HKDF-SHA256──┬─ "softkey-vault/v1/seal"        → row sealing key
//!                                             ├─ "softkey-vault/v1/rp-index"    → HMAC key for rpIdHash
//!                                             ├─ "softkey-vault/v1/id-index"    → HMAC key for credential ids
//!                                             ├─ "softkey-vault/v1/user-index"  → HMAC key for (rp, user handle)
//!                                             └─ "softkey-vault/v2/state"       → HMAC key of the credential-set hash
//! ```
//!
//! A sealed payload is `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, where
//! `version` is the row format the row was sealed under (the schema version
//! that last changed the rows: [`ROW_FORMAT`]) and the associated data is
//! `"softkey-vault" ‖ len ‖ table ‖ len ‖ row identity ‖ version`. Rows open
//! only under the format this build writes; the migration from version 1
//! opens version-1 rows by name ([`VaultKeys::open_row_as`]).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{EagerHash, Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use softkey_authenticator::secret::Secret32;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::schema::ROW_FORMAT;

/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// Fresh randomness from the thread's CSPRNG (seeded by the OS).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh random 256-bit secret.
pub(crate) fn random_secret() -> Secret32 {
    Secret32::new(random_bytes::<32>())
}

/// HKDF-SHA256 expansion of `ikm` to a 256-bit key for `info`.
pub(crate) fn derive_key(ikm: &[u8], salt: Option<&[u8]>, info: &[u8]) -> Secret32 {
    let hkdf = Hkdf::<Sha256>::new(salt, ikm);
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand(info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Secret32::new(*key)
}

/// AES-256-GCM with a random nonce: `nonce ‖ ciphertext ‖ tag`. The
/// plaintext is copied only into a zeroizing buffer, encrypted in place there.
pub(crate) fn aead_seal(key: &Secret32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal_with(&Aes256Gcm::new(key.expose_secret().into()), aad, plaintext)
}

/// [`aead_seal`] with a keyed cipher.
fn seal_with(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = random_bytes::<NONCE_LEN>();
    let mut buffer = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN));
    buffer.extend_from_slice(&nonce);
    buffer.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), aad, (&mut buffer[NONCE_LEN..]).into())
        .expect("AES-GCM encryption cannot fail for in-memory payloads this small");
    buffer.extend_from_slice(&tag);
    std::mem::take(&mut *buffer)
}

/// Opens what [`aead_seal`] made; `None` when the key, data or AAD do not
/// match. The plaintext only ever exists in the zeroizing buffer returned.
pub(crate) fn aead_open(key: &Secret32, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    open_with(&Aes256Gcm::new(key.expose_secret().into()), aad, sealed)
}

/// [`aead_open`] with a keyed cipher.
fn open_with(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            aad,
            buffer.as_mut_slice().into(),
            &tag.into(),
        )
        .ok()?;
    Some(buffer)
}

/// Appends `bytes` with a 4-byte big-endian length prefix (unambiguous AAD/MAC input).
pub(crate) fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("framed fields are far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An HMAC-SHA256 key whose two key blocks (inner and outer pad) were
/// hashed once, when the vault was unlocked: each MAC starts from a copy of
/// these states, two SHA-256 compressions fewer than keying anew (a
/// sign-in computes several). The states are key material: they zeroize on
/// drop (sha2 and hmac with their `zeroize` features, checked below), and
/// the type has no `Debug`.
struct MacKey(Hmac<Sha256>);

/// The SHA-256 states inside [`MacKey`] (and its buffer) and the AES key
/// schedule in [`VaultKeys`] wipe themselves on drop.
const _: () = {
    fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    let _: fn() = zeroizes_on_drop::<<Sha256 as EagerHash>::Core>;
    let _: fn() = zeroizes_on_drop::<Sha256>;
    let _: fn() = zeroizes_on_drop::<Aes256Gcm>;
};

impl MacKey {
    fn new(key: &Secret32) -> Self {
        Self(
            <Hmac<Sha256>>::new_from_slice(key.expose_secret())
                .expect("HMAC-SHA256 accepts any key length"),
        )
    }

    /// HMAC of the length-framed `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            let len = u32::try_from(part.len()).expect("index inputs are far below 4 GiB");
            mac.update(&len.to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// The keys an unlocked vault works with, all derived from the master key.
pub(crate) struct VaultKeys {
    master: Secret32,
    /// The row sealing key, expanded once into the AES key schedule (which
    /// zeroizes on drop: aes-gcm's `zeroize` feature).
    seal: Aes256Gcm,
    rp_index: MacKey,
    id_index: MacKey,
    user_index: MacKey,
    state: MacKey,
}

impl std::fmt::Debug for VaultKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultKeys").finish_non_exhaustive()
    }
}

impl VaultKeys {
    /// Derives the subkeys of `master`.
    pub(crate) fn derive(master: Secret32) -> Self {
        let sub = |info: &[u8]| derive_key(master.expose_secret(), None, info);
        let mac_key = |info: &[u8]| MacKey::new(&sub(info));
        Self {
            seal: Aes256Gcm::new(sub(b"softkey-vault/v1/seal").expose_secret().into()),
            rp_index: mac_key(b"softkey-vault/v1/rp-index"),
            id_index: mac_key(b"softkey-vault/v1/id-index"),
            user_index: mac_key(b"softkey-vault/v1/user-index"),
            state: mac_key(b"softkey-vault/v2/state"),
            master,
        }
    }

    /// The master key (to wrap it into a new slot).
    pub(crate) fn master(&self) -> &Secret32 {
        &self.master
    }

    /// The rp index value: HMAC of the rpIdHash.
    pub(crate) fn rp_mac(&self, rp_id_hash: &[u8; 32]) -> [u8; 32] {
        self.rp_index.mac(&[rp_id_hash])
    }

    /// The credential-id index value.
    pub(crate) fn id_mac(&self, credential_id: &[u8]) -> [u8; 32] {
        self.id_index.mac(&[credential_id])
    }

    /// The (relying party, user handle) index value.
    pub(crate) fn user_mac(&self, rp_id_hash: &[u8; 32], user_handle: &[u8]) -> [u8; 32] {
        self.user_index.mac(&[rp_id_hash, user_handle])
    }

    /// The keyed hash of one credential row's digest, XORed into the
    /// credential-set hash the manifest seals (see `state.rs`).
    pub(crate) fn credential_set_element(&self, digest: &[u8; 32]) -> [u8; 32] {
        self.state.mac(&[b"credentials", digest])
    }

    /// Seals a row payload under the current schema version.
    pub(crate) fn seal_row(&self, table: &str, row_identity: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let aad = row_aad(table, row_identity, ROW_VERSION);
        let mut out = vec![ROW_VERSION];
        out.extend_from_slice(&seal_with(&self.seal, &aad, plaintext));
        out
    }

    /// Opens a row payload sealed under the current schema version; a failure
    /// names the table and row.
    pub(crate) fn open_row(
        &self,
        table: &'static str,
        row_identity: &[u8],
        row_label: &dyn Fn() -> String,
        payload: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.open_row_as(ROW_VERSION, table, row_identity, row_label, payload)
    }

    /// Opens a row payload that must have been sealed under schema `version`
    /// (a row of another version in its place was altered or moved between
    /// versions of the file).
    pub(crate) fn open_row_as(
        &self,
        version: u8,
        table: &'static str,
        row_identity: &[u8],
        row_label: &dyn Fn() -> String,
        payload: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let tampered = || VaultError::Tampered {
            table,
            row: row_label(),
        };
        let (&found, sealed) = payload.split_first().ok_or_else(tampered)?;
        if found != version {
            return Err(tampered());
        }
        let aad = row_aad(table, row_identity, version);
        open_with(&self.seal, &aad, sealed).ok_or_else(tampered)
    }
}

/// The version byte of rows this build seals.
const ROW_VERSION: u8 = ROW_FORMAT;

fn row_aad(table: &str, row_identity: &[u8], version: u8) -> Vec<u8> {
    let mut aad = b"softkey-vault".to_vec();
    push_framed(&mut aad, table.as_bytes());
    push_framed(&mut aad, row_identity);
    aad.push(version);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> VaultKeys {
        VaultKeys::derive(Secret32::new([7; 32]))
    }

    #[test]
    fn row_round_trips_and_binds_its_identity() {
        let keys = keys();
        let sealed = keys.seal_row("credentials", b"row-a", b"payload");
        let label = || "a".to_string();
        let opened = keys
            .open_row("credentials", b"row-a", &label, &sealed)
            .unwrap();
        assert_eq!(&opened[..], b"payload");
        for (table, identity) in [("credentials", &b"row-b"[..]), ("secrets", b"row-a")] {
            assert!(matches!(
                keys.open_row(table_static(table), identity, &label, &sealed),
                Err(VaultError::Tampered { .. })
            ));
        }
    }

    fn table_static(table: &str) -> &'static str {
        if table == "credentials" {
            "credentials"
        } else {
            "secrets"
        }
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let keys = keys();
        let sealed = keys.seal_row("secrets", b"x", b"some secret payload");
        for index in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[index] ^= 0x01;
            let result = keys.open_row("secrets", b"x", &|| "x".into(), &bad);
            assert!(
                matches!(result, Err(VaultError::Tampered { .. })),
                "byte {index}"
            );
        }
    }

    #[test]
    fn index_macs_are_domain_separated() {
        let keys = keys();
        let hash = [1u8; 32];
        assert_ne!(keys.rp_mac(&hash), keys.id_mac(&hash));
        assert_ne!(keys.user_mac(&hash, b""), keys.rp_mac(&hash));
        assert_ne!(keys.user_mac(&hash, b"a"), keys.user_mac(&hash, b"b"));
    }
}
