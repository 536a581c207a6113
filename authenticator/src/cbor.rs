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

/// Decodes exactly one CBOR item that spans all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, StatusCode> {
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
    let value = canonicalize(value);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// Encodes `value` in CTAP2 canonical form for what holds secrets (stored
/// credentials, sealed credential IDs, the PIN state, the attestation key,
/// responses carrying a largeBlobKey), then overwrites every byte and text
/// string of `value`.
///
/// No plain `Vec` holds any part of the encoding on the way: the output
/// grows by moving into a larger zeroizing buffer, whose predecessor is
/// wiped before it is freed, and canonicalizing moves the byte strings
/// instead of copying them.
pub fn encode_secret(value: Value) -> Zeroizing<Vec<u8>> {
    let mut value = canonicalize(value);
    let mut out = ZeroizingWriter(Zeroizing::new(Vec::new()));
    ciborium::ser::into_writer(&value, &mut out).expect("writing CBOR to memory cannot fail");
    zeroize_value(&mut value);
    out.0
}

/// A `Write` into a zeroizing buffer that never reallocates in place.
struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl std::io::Write for ZeroizingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let needed = self.0.len().saturating_add(data.len());
        if needed > self.0.capacity() {
            let capacity = needed.max(self.0.capacity().saturating_mul(2)).max(64);
            let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
            grown.extend_from_slice(&self.0);
            // The old buffer is zeroized (its whole capacity) as it drops.
            self.0 = grown;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

    #[test]
    fn checker_rejects_non_canonical_forms() {
        assert!(!is_canonical(&[0x18, 0x01])); // 1 in two bytes
        assert!(!is_canonical(&[0xa2, 0x02, 0x00, 0x01, 0x00])); // unsorted
        assert!(!is_canonical(&[0x5f, 0xff])); // indefinite
        assert!(!is_canonical(&[0x01, 0x01])); // trailing
        assert!(is_canonical(&[0xa2, 0x01, 0x00, 0x02, 0x00]));
    }
}
