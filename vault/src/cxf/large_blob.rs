//! Large blobs as CXF moves them. The authenticator's serialized large-blob
//! array (CTAP 2.1 §6.10) holds entries `{1: ciphertext, 2: nonce, 3:
//! origSize}`, the ciphertext being AES-256-GCM under the credential's
//! largeBlobKey, with associated data `"blob" ‖ uint64LE(origSize)`, of the
//! DEFLATE-compressed blob the platform wrote. CXF's `largeBlob` is that
//! compressed blob and its `uncompressedSize`: exporting opens the entry,
//! importing seals it again under a new largeBlobKey. The blob is never
//! inflated here.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ciborium::Value;
use softkey_authenticator::cbor;
use softkey_authenticator::commands::large_blobs::{
    INITIAL_ARRAY, MAX_SERIALIZED_LARGE_BLOB_ARRAY, checked_array, entry_fields, serialize,
};
use softkey_authenticator::secret::Secret32;
use zeroize::Zeroizing;

use super::CxfError;

/// A credential's large blob, as CXF carries it.
pub struct LargeBlob {
    /// The DEFLATE-compressed blob.
    pub compressed: Zeroizing<Vec<u8>>,
    /// Its size once inflated (CTAP's origSize).
    pub uncompressed_size: u64,
}

impl std::fmt::Debug for LargeBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeBlob")
            .field("compressed_len", &self.compressed.len())
            .field("uncompressed_size", &self.uncompressed_size)
            .finish_non_exhaustive()
    }
}

fn associated_data(orig_size: u64) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..4].copy_from_slice(b"blob");
    aad[4..].copy_from_slice(&orig_size.to_le_bytes());
    aad
}

/// The entries of a serialized array (`None`: the initial empty one).
pub(crate) fn entries(serialized: Option<&[u8]>) -> Result<Vec<Value>, CxfError> {
    let serialized = serialized.unwrap_or(&INITIAL_ARRAY);
    let array = checked_array(serialized).ok_or(CxfError::CorruptLargeBlobArray)?;
    match cbor::decode(array) {
        Ok(Value::Array(entries)) => Ok(entries),
        _ => Err(CxfError::CorruptLargeBlobArray),
    }
}

/// The serialized array of `entries`, if it fits the authenticator's
/// maxSerializedLargeBlobArray.
pub(crate) fn serialized(entries: Vec<Value>) -> Option<Vec<u8>> {
    let serialized = serialize(cbor::encode(Value::Array(entries)));
    (serialized.len() <= MAX_SERIALIZED_LARGE_BLOB_ARRAY).then_some(serialized)
}

/// The entry `key` opens, as CXF carries it.
pub(crate) fn find(entries: &[Value], key: &Secret32) -> Option<LargeBlob> {
    entries.iter().find_map(|entry| open(entry, key))
}

fn open(entry: &Value, key: &Secret32) -> Option<LargeBlob> {
    let (ciphertext, nonce, uncompressed_size) = entry_fields(entry)?;
    let compressed = Aes256Gcm::new(key.expose_secret().into())
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: &associated_data(uncompressed_size),
            },
        )
        .ok()?;
    Some(LargeBlob {
        compressed: Zeroizing::new(compressed),
        uncompressed_size,
    })
}

/// The array entry holding `blob` under `key`.
pub(crate) fn seal(blob: &LargeBlob, key: &Secret32) -> Value {
    let nonce: [u8; 12] = rand::random();
    let ciphertext = Aes256Gcm::new(key.expose_secret().into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &blob.compressed,
                aad: &associated_data(blob.uncompressed_size),
            },
        )
        .expect("AES-GCM encrypts any message below 64 GiB");
    Value::Map(vec![
        (cbor::int(1), Value::Bytes(ciphertext)),
        (cbor::int(2), Value::Bytes(nonce.to_vec())),
        (
            cbor::int(3),
            cbor::int(i64::try_from(blob.uncompressed_size).unwrap_or(i64::MAX)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_entries_open_with_their_key_only_and_survive_serialization() {
        let key = Secret32::new([3; 32]);
        let blob = LargeBlob {
            compressed: Zeroizing::new(b"compressed bytes".to_vec()),
            uncompressed_size: 40,
        };
        let serialized = serialized(vec![seal(&blob, &key)]).unwrap();
        let list = entries(Some(&serialized)).unwrap();
        let found = find(&list, &key).unwrap();
        assert_eq!(&found.compressed[..], b"compressed bytes");
        assert_eq!(found.uncompressed_size, 40);
        assert!(find(&list, &Secret32::new([4; 32])).is_none());
        assert!(entries(None).unwrap().is_empty());
        let mut broken = serialized.clone();
        broken[0] ^= 1;
        assert!(matches!(
            entries(Some(&broken)),
            Err(CxfError::CorruptLargeBlobArray)
        ));
    }

    #[test]
    fn an_array_past_the_advertised_maximum_is_not_serialized() {
        let key = Secret32::new([5; 32]);
        let blob = LargeBlob {
            compressed: Zeroizing::new(vec![0; MAX_SERIALIZED_LARGE_BLOB_ARRAY]),
            uncompressed_size: 1,
        };
        assert!(serialized(vec![seal(&blob, &key)]).is_none());
    }
}
