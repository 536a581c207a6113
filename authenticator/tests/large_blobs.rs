//! authenticatorLargeBlobs (CTAP 2.1 §6.10): the serialized array read and
//! written in fragments, its parameter errors, and the largeBlobWrite
//! permission once a PIN protects it.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{bytes, int};
use softkey_authenticator::pin::Protocol;
use support::*;

/// The largeBlobWrite permission.
const LBW: u64 = 0x10;

const INITIAL_ARRAY: &str = "8076be8b528d0075f7aae98d6fa57a6d3c";
const FRAGMENT: usize = 7609 - 64;

fn large_blobs(h: &mut Harness, params: Vec<(Value, Value)>) -> Result<Value, StatusCode> {
    h.call(&request(0x0C, params))
}

fn read_all(h: &mut Harness) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let reply = large_blobs(
            h,
            vec![
                (int(1), int(FRAGMENT as i64)),
                (int(3), int(out.len() as i64)),
            ],
        )
        .unwrap();
        let chunk = field(&reply, 1).unwrap().as_bytes().unwrap().clone();
        let done = chunk.len() < FRAGMENT;
        out.extend_from_slice(&chunk);
        if done {
            return out;
        }
    }
}

/// The serialized form of a CBOR array: the array and its truncated hash.
fn serialized(array: &Value) -> Vec<u8> {
    let mut out = softkey_authenticator::cbor::encode(array.clone());
    let hash = sha256(&out);
    out.extend_from_slice(&hash[..16]);
    out
}

/// Makes the pinUvAuthParam and protocol members for a fragment at an offset.
type FragmentAuth<'a> = &'a dyn Fn(usize, &[u8]) -> Vec<(Value, Value)>;

/// Writes `data` in fragments of `fragment` bytes; `auth` makes the
/// pinUvAuthParam and protocol for a fragment at an offset.
fn write_all(
    h: &mut Harness,
    data: &[u8],
    fragment: usize,
    auth: FragmentAuth<'_>,
) -> Result<(), StatusCode> {
    for (index, chunk) in data.chunks(fragment).enumerate() {
        let offset = index * fragment;
        let mut params = vec![(int(2), bytes(chunk)), (int(3), int(offset as i64))];
        if offset == 0 {
            params.push((int(4), int(data.len() as i64)));
        }
        params.extend(auth(offset, chunk));
        large_blobs(h, params)?;
    }
    Ok(())
}

fn no_auth(_: usize, _: &[u8]) -> Vec<(Value, Value)> {
    vec![]
}

#[test]
fn large_blob_array_starts_empty_and_round_trips() {
    let mut h = Harness::new();
    assert_eq!(hex::encode(read_all(&mut h)), INITIAL_ARRAY);
    // A 20 000-byte array in three fragments, and back in three reads.
    let array = Value::Array(vec![Value::Map(vec![
        (int(1), bytes(&vec![0xab; 20_000])),
        (int(2), bytes(&[1; 12])),
        (int(3), int(20_000)),
    ])]);
    let data = serialized(&array);
    write_all(&mut h, &data, FRAGMENT, &no_auth).unwrap();
    assert_eq!(read_all(&mut h), data);
    // Reads at an offset; past the end is an error, at the end is empty.
    let reply = large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(5))]).unwrap();
    assert_eq!(field(&reply, 1), Some(&bytes(&data[5..15])));
    let end = data.len() as i64;
    let reply = large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(end))]).unwrap();
    assert_eq!(field(&reply, 1), Some(&bytes(&[])));
    assert_eq!(
        large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(end + 1))]),
        Err(StatusCode::InvalidParameter)
    );
    // Survives a power cycle (it is in the store).
    h.auth.power_cycle(h.now);
    assert_eq!(read_all(&mut h), data);
}

#[test]
fn large_blob_parameter_errors() {
    let mut h = Harness::new();
    let get = |n: i64| (int(1), int(n));
    let set = |b: &[u8]| (int(2), bytes(b));
    let offset = |n: i64| (int(3), int(n));
    let length = |n: i64| (int(4), int(n));
    // Offset is required; exactly one of get and set.
    assert_eq!(
        large_blobs(&mut h, vec![get(1)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![offset(0)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(1), set(&[0]), offset(0), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    // get: no length or auth, at most one fragment.
    assert_eq!(
        large_blobs(&mut h, vec![get(1), offset(0), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(1), offset(0), (int(6), int(2))]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(FRAGMENT as i64 + 1), offset(0)]),
        Err(StatusCode::InvalidLength)
    );
    // set: the first fragment announces a length of 17 to 64 KiB.
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(16)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(65537)]),
        Err(StatusCode::LargeBlobStorageFull)
    );
    assert_eq!(
        large_blobs(
            &mut h,
            vec![set(&vec![0; FRAGMENT + 1]), offset(0), length(65536)]
        ),
        Err(StatusCode::InvalidLength)
    );
    // Fragments come in order; later ones announce no length; no overrun.
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(5)]),
        Err(StatusCode::InvalidSeq)
    );
    large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(17)]).unwrap();
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(1), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(2)]),
        Err(StatusCode::InvalidSeq)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0; 17]), offset(1)]),
        Err(StatusCode::InvalidParameter)
    );
    // A wrong trailing hash: INTEGRITY_FAILURE, the old array stays.
    let mut bad = serialized(&Value::Array(vec![int(1)]));
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(
        write_all(&mut h, &bad, FRAGMENT, &no_auth),
        Err(StatusCode::IntegrityFailure)
    );
    assert_eq!(hex::encode(read_all(&mut h)), INITIAL_ARRAY);
}

#[test]
fn large_blob_writes_need_lbw_once_protected() {
    let (mut h, mut p) = with_pin(Protocol::Two);
    let cm_token = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let data = serialized(&Value::Array(vec![int(7)]));
    assert_eq!(
        write_all(&mut h, &data, FRAGMENT, &no_auth),
        Err(StatusCode::PuatRequired)
    );
    let auth_with = |token: Vec<u8>| {
        move |offset: usize, chunk: &[u8]| {
            let mut message = vec![0xff; 32];
            message.extend_from_slice(&[0x0c, 0x00]);
            message.extend_from_slice(&(offset as u32).to_le_bytes());
            message.extend_from_slice(&sha256(chunk));
            let param = Protocol::Two.authenticate(&token, &message).to_vec();
            vec![(int(5), bytes(&param)), (int(6), int(2))]
        }
    };
    assert_eq!(
        write_all(&mut h, &data, FRAGMENT, &auth_with(cm_token)),
        Err(StatusCode::PinAuthInvalid)
    );
    let lbw_token = p.token(&mut h, PIN, Some(LBW), None).unwrap();
    // A protocol is required with the param.
    let param = Protocol::Two.authenticate(&lbw_token, b"x").to_vec();
    assert_eq!(
        large_blobs(
            &mut h,
            vec![
                (int(2), bytes(&data)),
                (int(3), int(0)),
                (int(4), int(data.len() as i64)),
                (int(5), bytes(&param)),
            ]
        ),
        Err(StatusCode::MissingParameter)
    );
    write_all(&mut h, &data, 4, &auth_with(lbw_token)).unwrap();
    assert_eq!(read_all(&mut h), data);
}
