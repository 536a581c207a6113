//! Reading fields out of decoded CTAP2 CBOR (requests and responses the
//! hooks look into): integer and text keys, text fields of maps.

use ciborium::Value;
use softkey_authenticator::cbor;

/// The entries of a CBOR map, if `bytes` is one.
pub(crate) fn decode_map(bytes: &[u8]) -> Option<Vec<(Value, Value)>> {
    match cbor::decode(bytes).ok()? {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

/// Whether a map key is the integer `wanted`.
pub(crate) fn int_key(key: &Value, wanted: i128) -> bool {
    matches!(key, Value::Integer(i) if i128::from(*i) == wanted)
}

/// Whether a map key is the text `wanted`.
pub(crate) fn text_key(key: &Value, wanted: &str) -> bool {
    matches!(key, Value::Text(t) if t == wanted)
}

/// The integer value under integer key `wanted`.
pub(crate) fn int_value(entries: &[(Value, Value)], wanted: i128) -> Option<i128> {
    entries.iter().find_map(|(k, v)| match v {
        Value::Integer(i) if int_key(k, wanted) => Some(i128::from(*i)),
        _ => None,
    })
}

/// The text value under text key `name` of a map.
pub(crate) fn text_field(value: &Value, name: &str) -> Option<String> {
    match value {
        Value::Map(fields) => fields.iter().find_map(|(k, v)| match v {
            Value::Text(t) if text_key(k, name) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    }
}
