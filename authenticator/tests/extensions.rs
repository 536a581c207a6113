//! Extensions through the whole core: credProtect, hmac-secret(-mc), credBlob,
//! largeBlobKey. Requests are built by hand; user verification comes from
//! built-in UV (`"uv": true`), which the harness approves.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::{Config, StatusCode};
use support::*;

fn uv_harness() -> Harness {
    Harness::with_config(Config {
        built_in_uv: true,
        ..Config::default()
    })
}

/// makeCredential for example.com with `extensions`; `rk`, `uv` as options.
fn make_credential(
    h: &mut Harness,
    user: &[u8],
    rk: bool,
    uv: bool,
    extensions: Vec<(Value, Value)>,
) -> Result<Value, StatusCode> {
    let mut params = vec![
        (int(1), bytes(&[0x11; 32])),
        (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
        (
            int(3),
            Value::Map(vec![
                (text("id"), bytes(user)),
                (text("name"), text("alice")),
            ]),
        ),
        (int(4), Value::Array(vec![alg(-7)])),
    ];
    if !extensions.is_empty() {
        params.push((int(6), Value::Map(extensions)));
    }
    params.push((
        int(7),
        Value::Map(vec![
            (text("rk"), Value::Bool(rk)),
            (text("uv"), Value::Bool(uv)),
        ]),
    ));
    h.call(&request(0x01, params))
}

/// getAssertion for example.com.
fn get_assertion(
    h: &mut Harness,
    allow: Option<&[&[u8]]>,
    uv: bool,
    extensions: Vec<(Value, Value)>,
) -> Result<Value, StatusCode> {
    let mut params = vec![(int(1), text("example.com")), (int(2), bytes(&[0x22; 32]))];
    if let Some(allow) = allow {
        params.push((
            int(3),
            Value::Array(allow.iter().map(|id| descriptor(id)).collect()),
        ));
    }
    if !extensions.is_empty() {
        params.push((int(4), Value::Map(extensions)));
    }
    if uv {
        params.push((int(5), Value::Map(vec![(text("uv"), Value::Bool(true))])));
    }
    h.call(&request(0x02, params))
}

fn credential_id(reply: &Value) -> Vec<u8> {
    let auth_data = field(reply, 2).unwrap().as_bytes().unwrap();
    let len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    auth_data[55..55 + len].to_vec()
}

/// The extensions map at the end of authData (ED flag set), if any.
fn extension_outputs(auth_data: &[u8]) -> Option<Value> {
    if auth_data[32] & 0x80 == 0 {
        return None;
    }
    // Skip the attested credential data if present, then decode the map.
    let mut offset = 37;
    if auth_data[32] & 0x40 != 0 {
        let len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        offset = 55 + len;
        let mut cursor = std::io::Cursor::new(&auth_data[offset..]);
        let _key: Value = ciborium::de::from_reader(&mut cursor).unwrap();
        offset += cursor.position() as usize;
    }
    let mut cursor = std::io::Cursor::new(&auth_data[offset..]);
    let value: Value = ciborium::de::from_reader(&mut cursor).unwrap();
    assert_eq!(offset + cursor.position() as usize, auth_data.len());
    Some(value)
}

fn outputs_of(reply: &Value, auth_data_key: i64) -> Option<Value> {
    extension_outputs(field(reply, auth_data_key).unwrap().as_bytes().unwrap())
}

fn extensions_in_info(h: &mut Harness) -> Vec<String> {
    let info = h.call(&[0x04]).unwrap();
    field(&info, 2)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_text().unwrap().to_owned())
        .collect()
}

#[test]
fn get_info_lists_the_extensions_built() {
    let mut h = Harness::new();
    let listed = extensions_in_info(&mut h);
    assert!(listed.contains(&"credProtect".to_owned()));
    assert!(listed.contains(&"minPinLength".to_owned()));
}

#[test]
fn cred_protect_is_reported_and_stored() {
    let mut h = uv_harness();
    for level in 1..=3 {
        let reply = make_credential(
            &mut h,
            format!("user-{level}").as_bytes(),
            true,
            true,
            vec![(text("credProtect"), int(level))],
        )
        .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credProtect"), int(level))]))
        );
    }
    // Not asked: no output, the default level 1.
    let reply = make_credential(&mut h, b"plain", false, false, vec![]).unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    // A number that is no level is ignored; a wrong type is an error.
    let reply = make_credential(
        &mut h,
        b"x",
        false,
        false,
        vec![(text("credProtect"), int(7))],
    )
    .unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    assert_eq!(
        make_credential(
            &mut h,
            b"x",
            false,
            false,
            vec![(text("credProtect"), text("3"))]
        ),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn cred_protect_levels_gate_get_assertion() {
    let mut h = uv_harness();
    let mut ids = Vec::new();
    for level in 1..=3 {
        let reply = make_credential(
            &mut h,
            format!("user-{level}").as_bytes(),
            true,
            true,
            vec![(text("credProtect"), int(level))],
        )
        .unwrap();
        ids.push(credential_id(&reply));
    }
    // Discovered without UV: only level 1.
    let reply = get_assertion(&mut h, None, false, vec![]).unwrap();
    assert_eq!(field(&reply, 5), None, "one credential");
    assert_eq!(credential_id_of(&reply), ids[0]);
    // Discovered with UV: all three.
    let reply = get_assertion(&mut h, None, true, vec![]).unwrap();
    assert_eq!(field(&reply, 5), Some(&int(3)));
    // Named in the allowList without UV: levels 1 and 2, never 3.
    for (index, expected) in [(0, true), (1, true), (2, false)] {
        let result = get_assertion(&mut h, Some(&[&ids[index]]), false, vec![]);
        assert_eq!(result.is_ok(), expected, "level {}", index + 1);
        if !expected {
            assert_eq!(result, Err(StatusCode::NoCredentials));
        }
    }
    // With UV, level 3 through the allowList too.
    assert!(get_assertion(&mut h, Some(&[&ids[2]]), true, vec![]).is_ok());
}

#[test]
fn cred_protect_survives_the_sealed_id() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        true,
        vec![(text("credProtect"), int(3))],
    )
    .unwrap();
    let id = credential_id(&reply);
    assert_eq!(
        get_assertion(&mut h, Some(&[&id]), false, vec![]),
        Err(StatusCode::NoCredentials)
    );
    assert!(get_assertion(&mut h, Some(&[&id]), true, vec![]).is_ok());
}

#[test]
fn exclude_list_skips_level_three_without_uv() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        true,
        vec![(text("credProtect"), int(3))],
    )
    .unwrap();
    let id = credential_id(&reply);
    let exclude = |uv: bool| {
        request(
            0x01,
            vec![
                (int(1), bytes(&[0x11; 32])),
                (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
                (int(3), Value::Map(vec![(text("id"), bytes(b"v"))])),
                (int(4), Value::Array(vec![alg(-7)])),
                (int(5), Value::Array(vec![descriptor(&id)])),
                (int(7), Value::Map(vec![(text("uv"), Value::Bool(uv))])),
            ],
        )
    };
    assert!(h.call(&exclude(false)).is_ok());
    assert_eq!(h.call(&exclude(true)), Err(StatusCode::CredentialExcluded));
}

fn credential_id_of(assertion: &Value) -> Vec<u8> {
    let descriptor = field(assertion, 1).unwrap();
    text_field(descriptor, "id")
        .unwrap()
        .as_bytes()
        .unwrap()
        .clone()
}
