//! Strict CBOR at the edge: decoding with the spec's error codes, canonical encoding.
//!
//! Decoding (CTAP 2.1 §8 "Message encoding"): malformed CBOR or bytes after the
//! top-level item → `CTAP2_ERR_INVALID_CBOR`; a member of the wrong type →
//! `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`; a missing required member →
//! `CTAP2_ERR_MISSING_PARAMETER`; duplicate map keys → `CTAP2_ERR_INVALID_CBOR`.
//!
//! Encoding: every map is sorted by the CTAP2 canonical rule (§8 "CTAP2 canonical
//! CBOR encoding form": lower major type first, then shorter encoding, then
//! bytewise), integers and lengths in their shortest form, no indefinite lengths.

use std::cmp::Ordering;

pub use ciborium::Value;
use zeroize::{Zeroize, Zeroizing};

use crate::status::StatusCode;

/// Deepest nesting accepted in a request (CTAP requests nest 4 levels at most;
/// extensions add a few more).
const RECURSION_LIMIT: usize = 16;

mod plain;

/// Decodes exactly one CBOR item that spans all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, StatusCode> {
    // Plain CBOR (all CTAP requests and our own records) directly; anything
    // else, and every error, as ciborium decides.
    if let Some(value) = plain::decode(bytes) {
        return Ok(value);
    }
    decode_with_ciborium(bytes)
}

/// ciborium's decoding, with the recursion limit, and the check that the
/// item spans all of `bytes`.
fn decode_with_ciborium(bytes: &[u8]) -> Result<Value, StatusCode> {
    let mut cursor = std::io::Cursor::new(bytes);
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut cursor, RECURSION_LIMIT)
        .map_err(|_| StatusCode::InvalidCbor)?;
    if usize::try_from(cursor.position()).ok() != Some(bytes.len()) {
        return Err(StatusCode::InvalidCbor);
    }
    Ok(value)
}

/// Encodes `value` in CTAP2 canonical form.
pub fn encode(value: Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(&value));
    write_canonical(&value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out` (for what is not
/// secret: `out` may grow).
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    out.reserve(encoded_len(value));
    write_canonical(value, out);
}

/// Encodes `value` in CTAP2 canonical form for what holds secrets (stored
/// credentials, sealed credential IDs, the PIN state, the attestation key,
/// responses carrying a largeBlobKey), then overwrites every byte and text
/// string of `value`.
///
/// No plain `Vec` holds any part of the encoding on the way: the output is
/// one zeroizing buffer allocated at its final size (the length is computed
/// first), so it never grows and leaves no copy behind, and the map entries
/// are written from `value` in canonical order without building a sorted
/// copy of the tree.
pub fn encode_secret(mut value: Value) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(encoded_len(&value)));
    write_canonical(&value, &mut out);
    zeroize_value(&mut value);
    out
}

/// The length of `value`'s canonical encoding (what [`encode`] returns),
/// without encoding it.
pub fn encoded_len(value: &Value) -> usize {
    match value {
        Value::Integer(_) => {
            let (_, argument) = integer_head(value).unwrap_or((0, 0));
            head_len(argument)
        }
        Value::Bytes(bytes) => head_len(bytes.len() as u64) + bytes.len(),
        Value::Text(text) => head_len(text.len() as u64) + text.len(),
        Value::Bool(_) | Value::Null => 1,
        Value::Tag(tag, inner) => head_len(*tag) + encoded_len(inner),
        Value::Array(items) => {
            head_len(items.len() as u64) + items.iter().map(encoded_len).sum::<usize>()
        }
        Value::Map(entries) => {
            head_len(entries.len() as u64)
                + entries
                    .iter()
                    .map(|(k, v)| encoded_len(k) + encoded_len(v))
                    .sum::<usize>()
        }
        // Floats do not occur in CTAP messages; ciborium picks their width.
        other => float_encoding(other).len(),
    }
}

/// Writes `value` in canonical form: shortest heads, definite lengths, map
/// entries in the CTAP2 key order. The bytes are exactly those of
/// [`canonicalize`] followed by ciborium's serializer (tested), without the
/// sorted copy of the tree and the encoded keys that path allocates.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Integer(_) => {
            let (major, argument) = integer_head(value).unwrap_or((0, 0));
            write_head(major, argument, out);
        }
        Value::Bytes(bytes) => {
            write_head(2, bytes.len() as u64, out);
            out.extend_from_slice(bytes);
        }
        Value::Text(text) => {
            write_head(3, text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Tag(tag, inner) => {
            write_head(6, *tag, out);
            write_canonical(inner, out);
        }
        Value::Array(items) => {
            write_head(4, items.len() as u64, out);
            items.iter().for_each(|item| write_canonical(item, out));
        }
        Value::Map(entries) => {
            write_head(5, entries.len() as u64, out);
            // Responses are built in canonical order already: check, and
            // sort (stably, as canonicalize does) only when they are not.
            let sorted = entries
                .windows(2)
                .all(|pair| key_order(&pair[0].0, &pair[1].0) != Ordering::Greater);
            if sorted {
                for (key, value) in entries {
                    write_canonical(key, out);
                    write_canonical(value, out);
                }
            } else {
                let mut order: Vec<&(Value, Value)> = entries.iter().collect();
                order.sort_by(|a, b| key_order(&a.0, &b.0));
                for (key, value) in order {
                    write_canonical(key, out);
                    write_canonical(value, out);
                }
            }
        }
        other => out.extend_from_slice(&float_encoding(other)),
    }
}

/// A float as ciborium encodes it (not canonical-checked: CTAP has none).
fn float_encoding(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// Major type and argument of an integer's head (`None` if not an integer).
fn integer_head(value: &Value) -> Option<(u8, u64)> {
    let Value::Integer(integer) = value else {
        return None;
    };
    // ciborium's integers lie in -2^64 ..= 2^64 - 1: both arguments fit u64.
    let n = i128::from(*integer);
    let (major, argument) = if n < 0 { (1, -1 - n) } else { (0, n) };
    Some((major, u64::try_from(argument).unwrap_or(u64::MAX)))
}

/// Length of a head with this argument, in its shortest form.
fn head_len(argument: u64) -> usize {
    match argument {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Writes a head (major type, argument) in its shortest form.
fn write_head(major: u8, argument: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

/// The CTAP2 canonical order of two map keys, as [`canonical_key_order`] of
/// their encodings. Integer, text, byte-string, boolean and null keys (all
/// CTAP uses) are compared without encoding them: their encodings differ
/// first in major type, then in length (a longer payload always makes a
/// longer encoding, and equal lengths mean equal heads), then in the
/// argument or the payload bytes. Other keys are encoded.
fn key_order(a: &Value, b: &Value) -> Ordering {
    match (simple_key(a), simple_key(b)) {
        (Some((major_a, arg_a, payload_a)), Some((major_b, arg_b, payload_b))) => major_a
            .cmp(&major_b)
            .then((head_len(arg_a) + payload_a.len()).cmp(&(head_len(arg_b) + payload_b.len())))
            .then(arg_a.cmp(&arg_b))
            .then(payload_a.cmp(payload_b)),
        _ => {
            let encoded = |key: &Value| {
                let mut out = Vec::with_capacity(encoded_len(key));
                write_canonical(key, &mut out);
                out
            };
            canonical_key_order(&encoded(a), &encoded(b))
        }
    }
}

/// A key's major type, head argument and payload, for the keys
/// [`key_order`] compares directly.
fn simple_key(key: &Value) -> Option<(u8, u64, &[u8])> {
    match key {
        Value::Integer(_) => integer_head(key).map(|(major, argument)| (major, argument, &[][..])),
        Value::Bytes(bytes) => Some((2, bytes.len() as u64, bytes.as_slice())),
        Value::Text(text) => Some((3, text.len() as u64, text.as_bytes())),
        // Simple values 20, 21, 22 in one byte (0xf4, 0xf5, 0xf6).
        Value::Bool(false) => Some((7, 20, &[])),
        Value::Bool(true) => Some((7, 21, &[])),
        Value::Null => Some((7, 22, &[])),
        _ => None,
    }
}

/// Overwrites every byte and text string in `value` (the decoded or
/// to-be-encoded form of something secret).
pub fn zeroize_value(value: &mut Value) {
    match value {
        Value::Bytes(bytes) => bytes.zeroize(),
        Value::Text(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(zeroize_value),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            zeroize_value(k);
            zeroize_value(v);
        }),
        Value::Tag(_, inner) => zeroize_value(inner),
        _ => {}
    }
}

/// Sorts every map in `value` by the CTAP2 canonical key order.
pub fn canonicalize(value: Value) -> Value {
    match value {
        Value::Map(entries) => {
            let mut entries: Vec<(Vec<u8>, Value, Value)> = entries
                .into_iter()
                .map(|(k, v)| {
                    let k = canonicalize(k);
                    let mut encoded = Vec::new();
                    ciborium::ser::into_writer(&k, &mut encoded)
                        .expect("writing CBOR to a Vec cannot fail");
                    (encoded, k, canonicalize(v))
                })
                .collect();
            entries.sort_by(|a, b| canonical_key_order(&a.0, &b.0));
            Value::Map(entries.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        Value::Tag(tag, inner) => Value::Tag(tag, Box::new(canonicalize(*inner))),
        other => other,
    }
}

/// CTAP2 canonical ordering of two encoded map keys.
pub fn canonical_key_order(a: &[u8], b: &[u8]) -> Ordering {
    let major = |k: &[u8]| k.first().map(|b| b >> 5).unwrap_or(0);
    major(a)
        .cmp(&major(b))
        .then(a.len().cmp(&b.len()))
        .then(a.cmp(b))
}

/// An integer-keyed CBOR map being taken apart, as CTAP command parameters
/// and stored records are. Members nobody took are wiped when it drops (a
/// record that fails half-way may still hold secrets).
pub struct IntMap {
    entries: Vec<(i64, Value)>,
}

impl Drop for IntMap {
    fn drop(&mut self) {
        self.entries.iter_mut().for_each(|(_, v)| zeroize_value(v));
    }
}

impl IntMap {
    /// Takes a map whose keys are all integers; other values or keys are the
    /// wrong type (and what was given is wiped).
    pub fn new(mut value: Value) -> Result<Self, StatusCode> {
        let Value::Map(raw) = &mut value else {
            zeroize_value(&mut value);
            return Err(StatusCode::CborUnexpectedType);
        };
        let mut map = Self {
            entries: Vec::with_capacity(raw.len()),
        };
        let mut raw = std::mem::take(raw).into_iter();
        while let Some((key, value)) = raw.next() {
            let key = as_i64(&key).and_then(|key| {
                if map.entries.iter().any(|(k, _)| *k == key) {
                    Err(StatusCode::InvalidCbor)
                } else {
                    Ok(key)
                }
            });
            map.entries.push((key.unwrap_or(i64::MIN), value));
            if let Err(status) = key {
                raw.for_each(|(_, mut rest)| zeroize_value(&mut rest));
                return Err(status);
            }
        }
        Ok(map)
    }

    /// Removes and returns the member `key`, if present.
    pub fn take(&mut self, key: i64) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| *k == key)?;
        Some(self.entries.swap_remove(index).1)
    }

    /// Removes and returns the member `key`, or `CTAP2_ERR_MISSING_PARAMETER`.
    pub fn require(&mut self, key: i64) -> Result<Value, StatusCode> {
        self.take(key).ok_or(StatusCode::MissingParameter)
    }
}

/// A text-keyed CBOR map (entities, options, extensions).
pub struct TextMap {
    entries: Vec<(String, Value)>,
}

impl TextMap {
    /// Takes a map whose keys are all text strings.
    pub fn new(value: Value) -> Result<Self, StatusCode> {
        let Value::Map(raw) = value else {
            return Err(StatusCode::CborUnexpectedType);
        };
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let Value::Text(key) = key else {
                return Err(StatusCode::CborUnexpectedType);
            };
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(StatusCode::InvalidCbor);
            }
            entries.push((key, value));
        }
        Ok(Self { entries })
    }

    /// Removes and returns the member `key`, if present.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(index).1)
    }

    /// Removes and returns the member `key`, or `CTAP2_ERR_MISSING_PARAMETER`.
    pub fn require(&mut self, key: &str) -> Result<Value, StatusCode> {
        self.take(key).ok_or(StatusCode::MissingParameter)
    }

    /// The members not taken yet.
    pub fn into_remaining(self) -> Vec<(String, Value)> {
        self.entries
    }
}

/// An integer that fits `i64`.
pub fn as_i64(value: &Value) -> Result<i64, StatusCode> {
    match value {
        Value::Integer(i) => i64::try_from(i128::from(*i)).map_err(|_| StatusCode::InvalidCbor),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// An unsigned integer that fits `u64`.
pub fn as_u64(value: &Value) -> Result<u64, StatusCode> {
    match value {
        Value::Integer(i) => {
            u64::try_from(i128::from(*i)).map_err(|_| StatusCode::CborUnexpectedType)
        }
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// A byte string.
pub fn into_bytes(value: Value) -> Result<Vec<u8>, StatusCode> {
    match value {
        Value::Bytes(bytes) => Ok(bytes),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// A text string.
pub fn into_text(value: Value) -> Result<String, StatusCode> {
    match value {
        Value::Text(text) => Ok(text),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// A boolean.
pub fn as_bool(value: &Value) -> Result<bool, StatusCode> {
    match value {
        Value::Bool(b) => Ok(*b),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// An array.
pub fn into_array(value: Value) -> Result<Vec<Value>, StatusCode> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

/// Shorthand for an integer CBOR value.
pub fn int(value: i64) -> Value {
    Value::Integer(value.into())
}

/// Shorthand for a text CBOR value.
pub fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// Shorthand for a byte-string CBOR value.
pub fn bytes(value: &[u8]) -> Value {
    Value::Bytes(value.to_vec())
}

/// Checks that `bytes` is one CBOR item in CTAP2 canonical form: shortest
/// integer and length encodings, definite lengths, sorted map keys, no trailing
/// bytes. Independent of [`encode`], so tests can hold responses to it.
pub fn is_canonical(bytes: &[u8]) -> bool {
    fn item(input: &[u8], depth: usize) -> Option<&[u8]> {
        if depth > 32 {
            return None;
        }
        let (&first, rest) = input.split_first()?;
        let major = first >> 5;
        let info = first & 0x1f;
        let (arg, rest) = match info {
            0..=23 => (u64::from(info), rest),
            24 => {
                let (&b, rest) = rest.split_first()?;
                (u64::from(b), rest)
            }
            25..=27 => {
                let n = 1usize << (info - 24);
                if rest.len() < n {
                    return None;
                }
                let mut v = 0u64;
                for &b in &rest[..n] {
                    v = (v << 8) | u64::from(b);
                }
                (v, &rest[n..])
            }
            _ => return None, // reserved or indefinite
        };
        if major != 7 {
            // Shortest form: the argument must need the width it was given.
            let minimal = match info {
                24 => arg >= 24,
                25 => arg > 0xff,
                26 => arg > 0xffff,
                27 => arg > 0xffff_ffff,
                _ => true,
            };
            if !minimal {
                return None;
            }
        }
        match major {
            0 | 1 => Some(rest),
            2 | 3 => {
                let len = usize::try_from(arg).ok()?;
                if rest.len() < len {
                    return None;
                }
                if major == 3 && std::str::from_utf8(&rest[..len]).is_err() {
                    return None;
                }
                Some(&rest[len..])
            }
            4 => {
                let mut rest = rest;
                for _ in 0..arg {
                    rest = item(rest, depth + 1)?;
                }
                Some(rest)
            }
            5 => {
                let mut rest = rest;
                let mut previous: Option<&[u8]> = None;
                for _ in 0..arg {
                    let after_key = item(rest, depth + 1)?;
                    let key = &rest[..rest.len() - after_key.len()];
                    if let Some(prev) = previous
                        && canonical_key_order(prev, key) != Ordering::Less
                    {
                        return None;
                    }
                    previous = Some(key);
                    rest = item(after_key, depth + 1)?;
                }
                Some(rest)
            }
            6 => item(rest, depth + 1),
            _ => match info {
                20..=23 => Some(rest),
                25..=27 => Some(rest),
                _ => None,
            },
        }
    }
    matches!(item(bytes, 0), Some(rest) if rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_invalid_cbor() {
        assert_eq!(decode(&[0xa0, 0x00]), Err(StatusCode::InvalidCbor));
        assert!(decode(&[0xa0]).is_ok());
    }

    #[test]
    fn truncated_input_is_invalid_cbor() {
        assert_eq!(decode(&[0xa1, 0x01]), Err(StatusCode::InvalidCbor));
        assert_eq!(decode(&[]), Err(StatusCode::InvalidCbor));
        assert_eq!(
            decode(&[0x5a, 0xff, 0xff, 0xff, 0xff]),
            Err(StatusCode::InvalidCbor)
        );
    }

    #[test]
    fn duplicate_keys_are_invalid_cbor() {
        // {1: 0, 1: 0}
        let value = decode(&[0xa2, 0x01, 0x00, 0x01, 0x00]).unwrap();
        assert!(matches!(IntMap::new(value), Err(StatusCode::InvalidCbor)));
    }

    #[test]
    fn canonical_order_puts_positive_before_negative_keys() {
        // COSE key order as CTAP 2.1 §8 lists it: 1, 3, -1, -2, -3.
        let map = Value::Map(vec![
            (int(-3), int(0)),
            (int(1), int(0)),
            (int(-1), int(0)),
            (int(3), int(0)),
            (int(-2), int(0)),
        ]);
        let encoded = encode(map);
        assert_eq!(
            encoded,
            [
                0xa5, 0x01, 0x00, 0x03, 0x00, 0x20, 0x00, 0x21, 0x00, 0x22, 0x00
            ]
        );
        assert!(is_canonical(&encoded));
    }

    #[test]
    fn canonical_order_sorts_text_keys_shorter_first() {
        let map = Value::Map(vec![
            (text("up"), int(0)),
            (text("rk"), int(0)),
            (text("plat"), int(0)),
        ]);
        let encoded = encode(map);
        let decoded = decode(&encoded).unwrap();
        let Value::Map(entries) = decoded else {
            panic!()
        };
        let keys: Vec<_> = entries
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["rk", "up", "plat"]);
    }

    /// The encoding before the direct encoder: a canonicalized copy of the
    /// tree, then ciborium's serializer. The oracle [`encode`] must match.
    fn tree_path_encode(value: Value) -> Vec<u8> {
        let value = canonicalize(value);
        let mut out = Vec::new();
        ciborium::ser::into_writer(&value, &mut out).unwrap();
        out
    }

    fn assert_same_as_tree_path(value: &Value) {
        let expected = tree_path_encode(value.clone());
        assert_eq!(encode(value.clone()), expected, "{value:?}");
        assert_eq!(
            encode_secret(value.clone()).as_slice(),
            expected,
            "{value:?}"
        );
        assert_eq!(encoded_len(value), expected.len(), "{value:?}");
    }

    #[test]
    fn direct_encoder_matches_the_tree_path_at_every_head_width() {
        // Arguments at each boundary of the head widths, both signs, and the
        // extremes ciborium's integers hold (2^64 - 1 and -2^64).
        let mut values = vec![
            Value::Integer(u64::MAX.into()),
            Value::Integer(ciborium::value::Integer::try_from(-(1i128 << 64)).unwrap()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::Float(1.5),
            Value::Float(0.1),
            Value::Tag(24, Box::new(bytes(&[1, 2]))),
            Value::Tag(1 << 40, Box::new(Value::Null)),
        ];
        for n in [
            0i64,
            1,
            23,
            24,
            255,
            256,
            65535,
            65536,
            0xffff_ffff,
            0x1_0000_0000,
            i64::MAX,
        ] {
            values.push(int(n));
            values.push(int(-1 - n));
        }
        for len in [0usize, 1, 23, 24, 255, 256, 65535, 65536] {
            values.push(Value::Bytes(vec![0xa5; len]));
            values.push(Value::Text("é".repeat(len / 2) + &"x".repeat(len % 2)));
            values.push(Value::Array(vec![int(1); len.min(300)]));
        }
        for value in &values {
            assert_same_as_tree_path(value);
        }
    }

    #[test]
    fn direct_encoder_matches_the_tree_path_for_replies() {
        // Shapes of the replies that carry every optional member: a
        // getAssertion with extensions in its authData, user names,
        // numberOfCredentials and a largeBlobKey; a makeCredential with a
        // packed x5c statement; a COSE key, whose labels sort 1, 3, -1, -2, -3.
        let user = Value::Map(vec![
            (text("id"), bytes(b"user-1")),
            (text("name"), text("alice")),
            (text("displayName"), text("Alice")),
        ]);
        let credential = Value::Map(vec![
            (text("id"), bytes(&[0x81; 32])),
            (text("type"), text("public-key")),
        ]);
        let get_assertion = Value::Map(vec![
            (int(1), credential),
            (int(2), bytes(&[0x37; 120])),
            (int(3), bytes(&[0x30; 71])),
            (int(4), user),
            (int(7), bytes(&[0x6d; 32])),
            (int(5), int(3)),
        ]);
        let cose_key = Value::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), bytes(&[1; 32])),
            (int(-3), bytes(&[2; 32])),
        ]);
        let make_credential = Value::Map(vec![
            (int(1), text("packed")),
            (int(2), bytes(&[0x11; 300])),
            (
                int(3),
                Value::Map(vec![
                    (text("alg"), int(-7)),
                    (text("sig"), bytes(&[0x30; 72])),
                    (text("x5c"), Value::Array(vec![bytes(&[0x30; 500])])),
                ]),
            ),
            (int(4), Value::Bool(true)),
            (int(5), bytes(&[0x6d; 32])),
        ]);
        let extensions = Value::Map(vec![
            (text("hmac-secret"), bytes(&[9; 48])),
            (text("credBlob"), bytes(b"blob")),
            (text("credProtect"), int(3)),
            (text("thirdPartyPayment"), Value::Bool(false)),
        ]);
        for value in [get_assertion, cose_key, make_credential, extensions] {
            assert_same_as_tree_path(&value);
        }
    }

    #[test]
    fn direct_encoder_sorts_like_the_tree_path() {
        // Unsorted maps with mixed key types, duplicate keys (kept, in their
        // order), nested maps as keys and values, and floats as keys (the
        // encoded-key fallback).
        let nested = Value::Map(vec![(int(2), int(0)), (int(1), int(0))]);
        let map = Value::Map(vec![
            (text("b"), int(1)),
            (int(-1), nested.clone()),
            (Value::Float(2.5), int(2)),
            (bytes(b"zz"), int(3)),
            (int(500), int(4)),
            (int(1), int(5)),
            (int(1), int(6)),
            (Value::Bool(true), int(7)),
            (Value::Null, int(8)),
            (nested.clone(), Value::Array(vec![nested.clone()])),
            (text("aa"), Value::Tag(2, Box::new(nested))),
            (Value::Bool(false), int(9)),
            (int(-500), int(10)),
            (bytes(b"a"), int(11)),
        ]);
        assert_same_as_tree_path(&map);
    }

    pub(super) fn arbitrary_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<i64>().prop_map(int),
            any::<u64>().prop_map(|n| Value::Integer(n.into())),
            (0u64..300).prop_map(|n| int(n as i64 - 150)),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
            "[a-zé]{0,30}".prop_map(Value::Text),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..8)
                    .prop_map(Value::Map),
                (0u64..100_000, inner).prop_map(|(tag, v)| Value::Tag(tag, Box::new(v))),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn direct_encoder_matches_the_tree_path_on_any_tree(value in arbitrary_value()) {
            assert_same_as_tree_path(&value);
        }
    }

    #[test]
    fn checker_rejects_non_canonical_forms() {
        assert!(!is_canonical(&[0x18, 0x01])); // 1 in two bytes
        assert!(!is_canonical(&[0xa2, 0x02, 0x00, 0x01, 0x00])); // unsorted
        assert!(!is_canonical(&[0x5f, 0xff])); // indefinite
        assert!(!is_canonical(&[0x01, 0x01])); // trailing
        assert!(is_canonical(&[0xa2, 0x01, 0x00, 0x02, 0x00]));
    }
}
