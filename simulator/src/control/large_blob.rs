//! Large blobs of injected credentials (WebDriver Add Credential `largeBlob`,
//! listed back by Get Credentials), in the format CTAP 2.1 §6.10.3 gives the
//! platform: the authenticator's serialized large-blob array holds entries
//! `{1: ciphertext, 2: nonce, 3: origSize}`, where ciphertext is
//! AES-256-GCM under the credential's largeBlobKey of the raw-DEFLATE
//! compressed blob, with associated data `"blob" ‖ uint64LE(origSize)`.
//! The serialized array is the CBOR array followed by LEFT(SHA-256, 16).

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ciborium::Value;
use rand::RngExt as _;
use softkey_authenticator::cbor;
use softkey_authenticator::commands::large_blobs::{
    INITIAL_ARRAY, MAX_SERIALIZED_LARGE_BLOB_ARRAY, checked_array, serialize,
};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{SettingKey, Store, StoreError};

use crate::control::error::ApiError;

/// Largest blob accepted or inflated.
const MAX_BLOB: usize = 1 << 20;

/// The entries of the stored array (the initial empty one if none is
/// stored). A stored array that does not check out is reported, not
/// overwritten.
pub fn read_entries(store: &mut dyn Store) -> Result<Vec<Value>, ApiError> {
    let serialized = store
        .setting(SettingKey::LargeBlobArray)
        .map_err(ApiError::store)?
        .map_or_else(|| INITIAL_ARRAY.to_vec(), |b| b.expose_secret().to_vec());
    let corrupt = || ApiError::unknown("the stored large-blob array is corrupt");
    let array = checked_array(&serialized).ok_or_else(corrupt)?;
    match ciborium::de::from_reader::<Value, _>(array) {
        Ok(Value::Array(entries)) => Ok(entries),
        _ => Err(corrupt()),
    }
}

/// Stores `entries` as the serialized array.
pub fn write_entries(store: &mut dyn Store, entries: Vec<Value>) -> Result<(), ApiError> {
    let serialized = serialize(cbor::encode(Value::Array(entries)));
    if serialized.len() > MAX_SERIALIZED_LARGE_BLOB_ARRAY {
        return Err(ApiError::invalid(format!(
            "the large-blob array would be {} bytes; the authenticator holds at most {MAX_SERIALIZED_LARGE_BLOB_ARRAY}",
            serialized.len()
        )));
    }
    store
        .put_setting(SettingKey::LargeBlobArray, Some(&serialized))
        .map_err(|error: StoreError| ApiError::store(error))
}

pub(crate) fn associated_data(orig_size: u64) -> Vec<u8> {
    let mut aad = b"blob".to_vec();
    aad.extend_from_slice(&orig_size.to_le_bytes());
    aad
}

/// The array entry holding `blob` under `key`.
pub fn seal(key: &Secret32, blob: &[u8]) -> Result<Value, ApiError> {
    if blob.len() > MAX_BLOB {
        return Err(ApiError::invalid("largeBlob is larger than 1 MiB"));
    }
    let compressed = miniz_oxide::deflate::compress_to_vec(blob, 6);
    let nonce: [u8; 12] = rand::rng().random();
    let orig_size = blob.len() as u64;
    let cipher = Aes256Gcm::new(key.expose_secret().into());
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &compressed,
                aad: &associated_data(orig_size),
            },
        )
        .map_err(|_| ApiError::unknown("sealing the large blob failed"))?;
    Ok(Value::Map(vec![
        (cbor::int(1), Value::Bytes(ciphertext)),
        (cbor::int(2), Value::Bytes(nonce.to_vec())),
        (
            cbor::int(3),
            cbor::int(i64::try_from(orig_size).unwrap_or(i64::MAX)),
        ),
    ]))
}

pub(crate) use softkey_authenticator::commands::large_blobs::entry_fields;

/// The blob of `entry` if `key` opens it.
pub fn open(key: &Secret32, entry: &Value) -> Option<Vec<u8>> {
    let (ciphertext, nonce, orig_size) = entry_fields(entry)?;
    let cipher = Aes256Gcm::new(key.expose_secret().into());
    let compressed = cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: &associated_data(orig_size),
            },
        )
        .ok()?;
    let blob = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_BLOB).ok()?;
    (blob.len() as u64 == orig_size).then_some(blob)
}

#[cfg(test)]
mod tests {
    use softkey_authenticator::store::MemoryStore;

    use super::*;

    #[test]
    fn a_sealed_blob_opens_with_its_key_only() {
        let key = Secret32::new([7; 32]);
        let entry = seal(&key, b"hello large blob, hello large blob").unwrap();
        assert_eq!(
            open(&key, &entry).as_deref(),
            Some(&b"hello large blob, hello large blob"[..])
        );
        assert_eq!(open(&Secret32::new([8; 32]), &entry), None);
    }

    #[test]
    fn entries_round_trip_through_the_store_with_their_hash() {
        let mut store = MemoryStore::new(Secret32::new([1; 32]));
        assert!(read_entries(&mut store).unwrap().is_empty());
        let key = Secret32::new([2; 32]);
        write_entries(&mut store, vec![seal(&key, b"x").unwrap()]).unwrap();
        let entries = read_entries(&mut store).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(open(&key, &entries[0]).as_deref(), Some(&b"x"[..]));
        store
            .put_setting(SettingKey::LargeBlobArray, Some(&[0x80, 1, 2]))
            .unwrap();
        assert!(read_entries(&mut store).is_err(), "a bad hash is reported");
    }
}
