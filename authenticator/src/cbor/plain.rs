//! A direct decoder for the plain CBOR that CTAP requests and our own stored
//! records consist of: definite-length integers, byte and text strings,
//! arrays, maps and booleans, nested at most [`MAX_DEPTH`] deep.
//!
//! It never decides anything on its own: for every input it either returns
//! exactly the `Value` ciborium would (same integers, same strings, map
//! entries in their order, duplicates kept), or `None`, and then ciborium
//! decodes the input and gives the verdict (tags, floats, null, undefined,
//! indefinite lengths, malformed or truncated input, trailing bytes, deeper
//! nesting). What it built before giving up is wiped (a record may hold
//! secrets). ciborium's serde path costs several times more per item.

use ciborium::Value;

use super::zeroize_value;

/// Nesting accepted here (ciborium is given [`super::RECURSION_LIMIT`]).
const MAX_DEPTH: usize = 12;

/// `bytes` as one plain CBOR item spanning all of it, or `None` (see the
/// module docs).
pub(super) fn decode(bytes: &[u8]) -> Option<Value> {
    let mut input = bytes;
    let mut value = item(&mut input, 0)?;
    if !input.is_empty() {
        zeroize_value(&mut value);
        return None;
    }
    Some(value)
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if input.len() < len {
        return None;
    }
    let (head, rest) = input.split_at(len);
    *input = rest;
    Some(head)
}

/// The head's major type and argument (definite forms only).
fn head(input: &mut &[u8]) -> Option<(u8, u64)> {
    let (&first, _) = input.split_first()?;
    *input = &input[1..];
    let info = first & 0x1f;
    let argument = match info {
        0..=23 => u64::from(info),
        24 => u64::from(take(input, 1)?[0]),
        25 => u64::from(u16::from_be_bytes(take(input, 2)?.try_into().ok()?)),
        26 => u64::from(u32::from_be_bytes(take(input, 4)?.try_into().ok()?)),
        27 => u64::from_be_bytes(take(input, 8)?.try_into().ok()?),
        _ => return None,
    };
    Some((first >> 5, argument))
}

fn item(input: &mut &[u8], depth: usize) -> Option<Value> {
    // Of major type 7 only `false` and `true`, in their one-byte form.
    match input.first() {
        Some(0xf4) => {
            *input = &input[1..];
            return Some(Value::Bool(false));
        }
        Some(0xf5) => {
            *input = &input[1..];
            return Some(Value::Bool(true));
        }
        Some(0xe0..=0xff) => return None,
        _ => {}
    }
    let (major, argument) = head(input)?;
    match major {
        0 => Some(Value::Integer(argument.into())),
        1 => {
            // -1 - n, for n that keeps it an i64 (beyond, ciborium decides).
            let n = i64::try_from(argument).ok()?;
            Some(Value::Integer((-1 - n).into()))
        }
        2 => {
            let len = usize::try_from(argument).ok()?;
            Some(Value::Bytes(take(input, len)?.to_vec()))
        }
        3 => {
            let len = usize::try_from(argument).ok()?;
            let text = std::str::from_utf8(take(input, len)?).ok()?;
            Some(Value::Text(text.to_owned()))
        }
        4 | 5 if depth < MAX_DEPTH => {
            let count = usize::try_from(argument).ok()?;
            // Every item takes a byte at least: a longer count is truncated.
            let per_entry = if major == 4 { 1 } else { 2 };
            if count > input.len() / per_entry {
                return None;
            }
            if major == 4 {
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    match item(input, depth + 1) {
                        Some(value) => items.push(value),
                        None => return abandon(Value::Array(items)),
                    }
                }
                Some(Value::Array(items))
            } else {
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let Some(key) = item(input, depth + 1) else {
                        return abandon(Value::Map(entries));
                    };
                    match item(input, depth + 1) {
                        Some(value) => entries.push((key, value)),
                        None => {
                            entries.push((key, Value::Null));
                            return abandon(Value::Map(entries));
                        }
                    }
                }
                Some(Value::Map(entries))
            }
        }
        _ => None,
    }
}

fn abandon(mut partial: Value) -> Option<Value> {
    zeroize_value(&mut partial);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{decode_with_ciborium, encode, int, text};

    /// Whatever the direct decoder returns, ciborium returns too.
    fn agrees(bytes: &[u8]) {
        if let Some(value) = decode(bytes) {
            assert_eq!(decode_with_ciborium(bytes), Ok(value), "{bytes:02x?}");
        }
    }

    #[test]
    fn decodes_requests_as_ciborium_does() {
        // A getAssertion's parameters and a makeCredential's.
        let get = Value::Map(vec![
            (int(1), text("example.com")),
            (int(2), Value::Bytes(vec![0x22; 32])),
            (
                int(3),
                Value::Array(vec![Value::Map(vec![
                    (text("id"), Value::Bytes(vec![1; 100])),
                    (text("type"), text("public-key")),
                ])]),
            ),
            (int(5), Value::Map(vec![(text("up"), Value::Bool(false))])),
            (int(7), int(-1 - i64::MAX)),
        ]);
        let encoded = encode(get.clone());
        assert_eq!(decode(&encoded), Some(get));
        agrees(&encoded);
    }

    #[test]
    fn leaves_to_ciborium_what_is_not_plain() {
        for bytes in [
            &[0xf6][..],                                             // null
            &[0xf7],                                                 // undefined
            &[0xf8, 0x14],                                           // false in two bytes: invalid
            &[0xf9, 0x3c, 0x00],                                     // a float
            &[0xc2, 0x41, 0x01],                                     // a bignum tag
            &[0x5f, 0x41, 0x01, 0xff],                               // indefinite bytes
            &[0x9f, 0x01, 0xff],                                     // indefinite array
            &[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0],                      // -1 - 2^63
            &[0x62, 0xc3, 0x28],                                     // invalid UTF-8
            &[0x43, 0x01],                                           // truncated
            &[0x01, 0x01],                                           // trailing
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // absurd count
            &[0xa1, 0x01],                                           // a key without its value
            &[0xff],                                                 // a lone break
            &[0x1c],                                                 // reserved
        ] {
            assert_eq!(decode(bytes), None, "{bytes:02x?}");
        }
        // Nesting: 12 arrays directly, 13 through ciborium (which takes 16).
        let nested = |depth: usize| {
            let mut bytes = vec![0x81; depth - 1];
            bytes.push(0x80);
            bytes
        };
        assert!(decode(&nested(12)).is_some());
        assert_eq!(decode(&nested(13)), None);
        agrees(&nested(12));
    }

    #[test]
    fn accepts_what_ciborium_accepts_in_non_shortest_form() {
        // Integers and lengths in longer heads than needed.
        for bytes in [
            &[0x18, 0x01][..],
            &[0x19, 0x00, 0x01],
            &[0x38, 0x00],
            &[0x58, 0x01, 0xaa],
            &[0x79, 0x00, 0x01, 0x61],
            &[0x98, 0x01, 0x01],
            &[0xb8, 0x01, 0x01, 0x02],
            &[0xa2, 0x01, 0x00, 0x01, 0x00], // duplicate keys, both kept
        ] {
            assert!(decode(bytes).is_some(), "{bytes:02x?}");
            agrees(bytes);
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_ciborium_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            agrees(&bytes);
        }

        #[test]
        fn decodes_any_plain_tree_as_ciborium_does(value in crate::cbor::tests::arbitrary_value()) {
            let bytes = encode(value);
            agrees(&bytes);
        }

        #[test]
        fn agrees_with_ciborium_on_mutated_requests(
            flips in proptest::collection::vec((0usize..200, proptest::prelude::any::<u8>()), 0..4),
            cut in 0usize..200,
        ) {
            let mut bytes = encode(Value::Map(vec![
                (int(1), text("example.com")),
                (int(2), Value::Bytes(vec![0x22; 32])),
                (int(3), Value::Array(vec![Value::Map(vec![
                    (text("id"), Value::Bytes(vec![7; 40])),
                    (text("type"), text("public-key")),
                ])])),
                (int(4), Value::Map(vec![(text("hmac-secret"), Value::Bool(true))])),
                (int(5), Value::Map(vec![(text("uv"), Value::Bool(true))])),
                (int(7), int(2)),
            ]));
            for (at, byte) in flips {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            bytes.truncate(cut.max(1));
            agrees(&bytes);
        }
    }
}
