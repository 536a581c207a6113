//! authenticatorLargeBlobs (CTAP 2.1 §6.10): the serialized large-blob array,
//! read and written in fragments.
//!
//! The array lives in the store under [`SettingKey::LargeBlobArray`] as its
//! serialized form: CBOR array ‖ LEFT(SHA-256(CBOR array), 16). A store that
//! never held one answers with the initial empty array `0x80` and its hash.
//! A write arrives as fragments at increasing offsets; it is kept in memory
//! until the last one, checked against its trailing hash, and only then
//! written, so a broken write leaves the old array in place.
//!
//! ```text
//!  get:  {1: get, 3: offset}            ──► {1: array[offset .. offset+get]}
//!  set:  {2: fragment, 3: offset, 4: length (offset 0 only),
//!         5: pinUvAuthParam, 6: protocol} ──► buffer ──(complete, hash ok)──► store
//! ```

use std::time::Instant;

use ciborium::Value;

use crate::authenticator::Context;
use crate::cbor::{self, IntMap, int};
use crate::commands::{Response, check_pin_uv_auth, get_info::MAX_MSG_SIZE, is_protected};
use crate::crypto::sha256;
use crate::pin::{AuthenticatorSettings, Permissions};
use crate::status::StatusCode;
use crate::store::{SettingKey, Store};

/// maxSerializedLargeBlobArray (getInfo 0x0B): 64 KiB, the hash included.
pub const MAX_SERIALIZED_LARGE_BLOB_ARRAY: usize = 64 * 1024;

/// The largest fragment read or written at once: maxMsgSize − 64 (§6.10.2).
pub const MAX_FRAGMENT_LENGTH: usize = MAX_MSG_SIZE as usize - 64;

/// Length of the truncated SHA-256 that ends the serialized array.
const HASH_LEN: usize = 16;

/// The serialized array of a fresh authenticator: the empty CBOR array `0x80`
/// and LEFT(SHA-256(0x80), 16) (CTAP 2.1 §6.10.1).
pub const INITIAL_ARRAY: [u8; 17] = [
    0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d, 0x6f, 0xa5, 0x7a, 0x6d,
    0x3c,
];

/// The parameters of authenticatorLargeBlobs (CTAP 2.1 §6.10).
#[derive(Debug)]
pub struct Request {
    /// 0x01 get: how many bytes to read.
    pub get: Option<u64>,
    /// 0x02 set: a fragment to write.
    pub set: Option<Vec<u8>>,
    /// 0x03 offset.
    pub offset: u64,
    /// 0x04 length: the whole serialized array's length (first fragment only).
    pub length: Option<u64>,
    /// 0x05 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x06 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

impl Request {
    /// Parses the parameter map. 1. A missing offset is
    /// `CTAP1_ERR_INVALID_PARAMETER`, as the spec says.
    pub fn parse(mut map: IntMap) -> Result<Self, StatusCode> {
        let uint = |v: Option<Value>| v.map(|v| cbor::as_u64(&v)).transpose();
        let get = uint(map.take(0x01))?;
        let set = map.take(0x02).map(cbor::into_bytes).transpose()?;
        let offset = uint(map.take(0x03))?.ok_or(StatusCode::InvalidParameter)?;
        let length = uint(map.take(0x04))?;
        let pin_uv_auth_param = map.take(0x05).map(cbor::into_bytes).transpose()?;
        let pin_uv_auth_protocol = uint(map.take(0x06))?;
        Ok(Self {
            get,
            set,
            offset,
            length,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        })
    }
}

/// A write in progress (volatile: a power cycle forgets it).
#[derive(Debug, Default)]
pub(crate) struct PendingWrite {
    /// The length announced with the first fragment.
    expected_length: usize,
    /// The fragments so far; its length is the next expected offset.
    buffer: Vec<u8>,
}

/// The CBOR array of a serialized large-blob array, if its trailing
/// LEFT(SHA-256, 16) matches.
pub fn checked_array(serialized: &[u8]) -> Option<&[u8]> {
    let split = serialized.len().checked_sub(HASH_LEN)?;
    let (array, hash) = serialized.split_at(split);
    (sha256(array).get(..HASH_LEN) == Some(hash)).then_some(array)
}

/// A large-blob array entry's ciphertext (key 1), nonce (key 2) and
/// origSize (key 3), if it has them with their types: what every reader of
/// an entry (the simulator's control API, the vault's CXF export) opens.
pub fn entry_fields(entry: &Value) -> Option<(&[u8], [u8; 12], u64)> {
    let Value::Map(fields) = entry else {
        return None;
    };
    let field = |wanted: i128| {
        fields.iter().find_map(|(k, v)| match k {
            Value::Integer(i) if i128::from(*i) == wanted => Some(v),
            _ => None,
        })
    };
    let (Some(Value::Bytes(ciphertext)), Some(Value::Bytes(nonce)), Some(Value::Integer(size))) =
        (field(1), field(2), field(3))
    else {
        return None;
    };
    let orig_size = u64::try_from(i128::from(*size)).ok()?;
    Some((ciphertext, nonce.as_slice().try_into().ok()?, orig_size))
}

/// Serializes an encoded CBOR array: array ‖ LEFT(SHA-256(array), 16).
pub fn serialize(mut array: Vec<u8>) -> Vec<u8> {
    let hash = sha256(&array);
    array.extend_from_slice(&hash[..HASH_LEN]);
    array
}

/// The serialized array as stored, or the initial one.
fn serialized_array<S: Store>(store: &mut S) -> Result<Vec<u8>, StatusCode> {
    Ok(store
        .setting(SettingKey::LargeBlobArray)?
        .map(|bytes| bytes.expose_secret().to_vec())
        .unwrap_or_else(|| INITIAL_ARRAY.to_vec()))
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

pub(crate) fn handle<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Result<Response, StatusCode> {
    // 2. Exactly one of get and set.
    match (request.get, request.set.is_some()) {
        (Some(get), false) => read(ctx, &request, get),
        (None, true) => write(ctx, request, now),
        _ => Err(StatusCode::InvalidParameter),
    }
}

/// 3. get.
fn read<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: &Request,
    get: u64,
) -> Result<Response, StatusCode> {
    if request.length.is_some()
        || request.pin_uv_auth_param.is_some()
        || request.pin_uv_auth_protocol.is_some()
    {
        return Err(StatusCode::InvalidParameter);
    }
    let get = to_usize(get);
    if get > MAX_FRAGMENT_LENGTH {
        return Err(StatusCode::InvalidLength);
    }
    let array = serialized_array(&mut ctx.store)?;
    let offset = to_usize(request.offset);
    if offset > array.len() {
        return Err(StatusCode::InvalidParameter);
    }
    let end = offset.saturating_add(get).min(array.len());
    Ok(Response(Some(Value::Map(vec![(
        int(0x01),
        Value::Bytes(array[offset..end].to_vec()),
    )]))))
}

/// 4. set.
fn write<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    request: Request,
    now: Instant,
) -> Result<Response, StatusCode> {
    let fragment = request.set.unwrap_or_default();
    if fragment.len() > MAX_FRAGMENT_LENGTH {
        return Err(StatusCode::InvalidLength);
    }
    let offset = to_usize(request.offset);
    // The first fragment announces the length; later ones must not.
    let announced = if offset == 0 {
        let length = to_usize(request.length.ok_or(StatusCode::InvalidParameter)?);
        if length > MAX_SERIALIZED_LARGE_BLOB_ARRAY {
            return Err(StatusCode::LargeBlobStorageFull);
        }
        if length < INITIAL_ARRAY.len() {
            return Err(StatusCode::InvalidParameter);
        }
        Some(length)
    } else {
        if request.length.is_some() {
            return Err(StatusCode::InvalidParameter);
        }
        None
    };
    let expected_next_offset = match (announced, &ctx.large_blob_write) {
        (Some(_), _) => 0,
        (None, Some(pending)) => pending.buffer.len(),
        (None, None) => 0,
    };
    if offset != expected_next_offset {
        return Err(StatusCode::InvalidSeq);
    }
    // Writes need the lbw permission when user verification is configured:
    // the MAC covers 32×0xff ‖ 0x0c 0x00 ‖ uint32LE(offset) ‖ SHA-256(fragment).
    if is_protected(ctx)? || AuthenticatorSettings::load(&mut ctx.store)?.always_uv {
        let param = request
            .pin_uv_auth_param
            .as_deref()
            .ok_or(StatusCode::PuatRequired)?;
        let mut message = vec![0xff; 32];
        message.extend_from_slice(&[0x0c, 0x00]);
        message.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        message.extend_from_slice(&sha256(&fragment));
        check_pin_uv_auth(
            ctx,
            request.pin_uv_auth_protocol,
            param,
            &message,
            Permissions::LARGE_BLOB_WRITE,
            None,
            now,
        )?;
    }
    if let Some(length) = announced {
        ctx.large_blob_write = Some(PendingWrite {
            expected_length: length,
            buffer: Vec::with_capacity(length),
        });
    }
    let pending = ctx
        .large_blob_write
        .as_mut()
        .ok_or(StatusCode::InvalidSeq)?;
    if offset.saturating_add(fragment.len()) > pending.expected_length {
        return Err(StatusCode::InvalidParameter);
    }
    pending.buffer.extend_from_slice(&fragment);
    if pending.buffer.len() < pending.expected_length {
        return Ok(Response::empty());
    }
    // The last fragment: the trailing hash must match, then the array is stored.
    let complete = ctx
        .large_blob_write
        .take()
        .map(|p| p.buffer)
        .unwrap_or_default();
    if checked_array(&complete).is_none() {
        return Err(StatusCode::IntegrityFailure);
    }
    ctx.store
        .put_setting(SettingKey::LargeBlobArray, Some(&complete))?;
    tracing::info!(bytes = complete.len(), "large-blob array written");
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_array_is_the_empty_array_and_its_hash() {
        // CTAP 2.1 §6.10.1: h'80' ‖ h'76be8b528d0075f7aae98d6fa57a6d3c'.
        assert_eq!(INITIAL_ARRAY[0], 0x80);
        assert_eq!(INITIAL_ARRAY[1..], sha256(&[0x80])[..HASH_LEN]);
        assert_eq!(serialize(vec![0x80]), INITIAL_ARRAY);
        assert_eq!(checked_array(&INITIAL_ARRAY), Some(&[0x80][..]));
        let mut tampered = INITIAL_ARRAY;
        tampered[16] ^= 1;
        assert_eq!(checked_array(&tampered), None);
        assert_eq!(checked_array(&INITIAL_ARRAY[..15]), None);
    }

    #[test]
    fn limits() {
        assert_eq!(MAX_FRAGMENT_LENGTH, 7545);
        const { assert!(MAX_SERIALIZED_LARGE_BLOB_ARRAY >= 65536) };
    }
}
