//! CTAP2 messages decoded to readable JSON for the control API's trace, with
//! secrets redacted.
//!
//! Byte strings become base64url; top-level parameters of the commands a
//! tester reads most are named after the spec (CTAP 2.1 §6); values that are
//! secret or would let an observer replay or decrypt something (PIN
//! material, pinUvAuthTokens, hmac-secret salts and outputs, largeBlobKeys,
//! large-blob contents) are replaced by `"<redacted N bytes>"`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use serde_json::{Map, Value as Json, json};
use softkey_authenticator::StatusCode;

use crate::runtime::command_name;

/// Names of the top-level request parameters of `command`, and which are secret.
fn request_names(command: u8) -> &'static [(i128, &'static str, bool)] {
    match command {
        0x01 => &[
            (1, "clientDataHash", false),
            (2, "rp", false),
            (3, "user", false),
            (4, "pubKeyCredParams", false),
            (5, "excludeList", false),
            (6, "extensions", false),
            (7, "options", false),
            (8, "pinUvAuthParam", true),
            (9, "pinUvAuthProtocol", false),
            (10, "enterpriseAttestation", false),
        ],
        0x02 => &[
            (1, "rpId", false),
            (2, "clientDataHash", false),
            (3, "allowList", false),
            (4, "extensions", false),
            (5, "options", false),
            (6, "pinUvAuthParam", true),
            (7, "pinUvAuthProtocol", false),
        ],
        0x06 => &[
            (1, "pinUvAuthProtocol", false),
            (2, "subCommand", false),
            (3, "keyAgreement", false),
            (4, "pinUvAuthParam", true),
            (5, "newPinEnc", true),
            (6, "pinHashEnc", true),
            (9, "permissions", false),
            (10, "rpId", false),
        ],
        0x0A | 0x41 => &[
            (1, "subCommand", false),
            (2, "subCommandParams", false),
            (3, "pinUvAuthProtocol", false),
            (4, "pinUvAuthParam", true),
        ],
        0x0C => &[
            (1, "get", false),
            (2, "set", true),
            (3, "offset", false),
            (4, "length", false),
            (5, "pinUvAuthParam", true),
            (6, "pinUvAuthProtocol", false),
        ],
        0x0D => &[
            (1, "subCommand", false),
            (2, "subCommandParams", false),
            (3, "pinUvAuthProtocol", false),
            (4, "pinUvAuthParam", true),
        ],
        _ => &[],
    }
}

/// Names of the top-level response members of `command`, and which are secret.
fn response_names(command: u8) -> &'static [(i128, &'static str, bool)] {
    match command {
        0x01 => &[
            (1, "fmt", false),
            (2, "authData", false),
            (3, "attStmt", false),
            (4, "epAtt", false),
            (5, "largeBlobKey", true),
        ],
        0x02 | 0x08 => &[
            (1, "credential", false),
            (2, "authData", false),
            (3, "signature", false),
            (4, "user", false),
            (5, "numberOfCredentials", false),
            (6, "userSelected", false),
            (7, "largeBlobKey", true),
        ],
        0x04 => &[
            (1, "versions", false),
            (2, "extensions", false),
            (3, "aaguid", false),
            (4, "options", false),
            (5, "maxMsgSize", false),
            (6, "pinUvAuthProtocols", false),
            (7, "maxCredentialCountInList", false),
            (8, "maxCredentialIdLength", false),
            (9, "transports", false),
            (10, "algorithms", false),
            (11, "maxSerializedLargeBlobArray", false),
            (12, "forcePINChange", false),
            (13, "minPINLength", false),
            (14, "firmwareVersion", false),
            (15, "maxCredBlobLength", false),
            (16, "maxRPIDsForSetMinPINLength", false),
            (17, "preferredPlatformUvAttempts", false),
            (18, "uvModality", false),
            (20, "remainingDiscoverableCredentials", false),
        ],
        0x06 => &[
            (1, "keyAgreement", false),
            (2, "pinUvAuthToken", true),
            (3, "pinRetries", false),
            (4, "powerCycleState", false),
            (5, "uvRetries", false),
        ],
        0x0A | 0x41 => &[(11, "largeBlobKey", true)],
        0x0C => &[(1, "config", true)],
        _ => &[],
    }
}

/// Extension inputs and outputs that are secret.
const SECRET_EXTENSIONS: [&str; 2] = ["hmac-secret", "hmac-secret-mc"];

/// The JSON event body of a request (command byte + CBOR).
pub fn decode_request(payload: &[u8]) -> Json {
    let command = payload.first().copied().unwrap_or(0);
    let parameters = payload
        .get(1..)
        .filter(|rest| !rest.is_empty())
        .map(|rest| decode_body(rest, request_names(command)));
    json!({
        "command": command_name(command),
        "commandCode": command,
        "parameters": parameters,
    })
}

/// The JSON event body of a response (status byte + CBOR) to `command`.
pub fn decode_response(command: u8, reply: &[u8]) -> Json {
    let status = reply.first().copied().unwrap_or(0);
    let body = reply
        .get(1..)
        .filter(|rest| !rest.is_empty())
        .map(|rest| decode_body(rest, response_names(command)));
    json!({
        "command": command_name(command),
        "status": status_name(status),
        "statusCode": status,
        "body": body,
    })
}

/// The name of a U2F instruction (U2F raw messages §4–6).
fn u2f_instruction(ins: u8) -> String {
    match ins {
        0x01 => "U2F_REGISTER".into(),
        0x02 => "U2F_AUTHENTICATE".into(),
        0x03 => "U2F_VERSION".into(),
        other => format!("0x{other:02X}"),
    }
}

/// The JSON event body of a CTAP1/U2F request (an APDU). Challenge,
/// application and key handle are public; nothing in a request is secret.
pub fn decode_ctap1_request(apdu: &[u8]) -> Json {
    let ins = apdu.get(1).copied().unwrap_or(0);
    json!({
        "command": "CTAP1/U2F",
        "instruction": u2f_instruction(ins),
        "p1": apdu.get(2).copied(),
        "length": apdu.len(),
    })
}

/// The JSON event body of a CTAP1/U2F response: its status word.
pub fn decode_ctap1_response(reply: &[u8]) -> Json {
    json!({
        "command": "CTAP1/U2F",
        "status": crate::runtime::status_word(reply),
        "length": reply.len(),
    })
}

/// The spec's name of a CTAP status byte.
pub fn status_name(code: u8) -> String {
    match StatusCode::from_code(code) {
        Some(status) => status.name().to_owned(),
        None => format!("0x{code:02X}"),
    }
}

fn decode_body(bytes: &[u8], names: &[(i128, &'static str, bool)]) -> Json {
    let Ok(value) = ciborium::de::from_reader::<Value, _>(bytes) else {
        return json!({ "undecodable": bytes.len() });
    };
    match value {
        Value::Map(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let number = match &key {
                    Value::Integer(i) => Some(i128::from(*i)),
                    _ => None,
                };
                let known = number.and_then(|n| names.iter().find(|(k, _, _)| *k == n));
                let name = match (known, &key) {
                    (Some((_, name, _)), _) => (*name).to_owned(),
                    (None, Value::Text(text)) => text.clone(),
                    (None, _) => number.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                };
                let secret = known.is_some_and(|(_, _, secret)| *secret);
                let json = if secret {
                    redacted(&value)
                } else {
                    to_json(&value)
                };
                out.insert(name, json);
            }
            Json::Object(out)
        }
        other => to_json(&other),
    }
}

fn redacted(value: &Value) -> Json {
    match value {
        Value::Bytes(bytes) => Json::String(format!("<redacted {} bytes>", bytes.len())),
        _ => Json::String("<redacted>".into()),
    }
}

/// Generic CBOR → JSON: byte strings as base64url, map keys as strings,
/// secret extensions redacted.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Integer(i) => {
            let n = i128::from(*i);
            i64::try_from(n).map_or_else(|_| Json::String(n.to_string()), Json::from)
        }
        Value::Bytes(bytes) => Json::String(URL_SAFE_NO_PAD.encode(bytes)),
        Value::Float(f) => Json::from(*f),
        Value::Text(text) => Json::String(text.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null => Json::Null,
        Value::Tag(_, inner) => to_json(inner),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let name = match key {
                    Value::Text(text) => text.clone(),
                    Value::Integer(i) => i128::from(*i).to_string(),
                    other => to_json(other).to_string(),
                };
                let json = if SECRET_EXTENSIONS.contains(&name.as_str()) {
                    redacted(value)
                } else {
                    to_json(value)
                };
                out.insert(name, json);
            }
            Json::Object(out)
        }
        _ => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(value: Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&value, &mut out).unwrap();
        out
    }

    #[test]
    fn client_pin_secrets_are_redacted() {
        let mut payload = vec![0x06];
        payload.extend(cbor(Value::Map(vec![
            (Value::from(1), Value::from(2)),
            (Value::from(2), Value::from(4)),
            (Value::from(6), Value::Bytes(vec![0xAA; 16])),
        ])));
        let json = decode_request(&payload);
        assert_eq!(json["command"], "authenticatorClientPIN");
        assert_eq!(json["parameters"]["subCommand"], 4);
        assert_eq!(json["parameters"]["pinHashEnc"], "<redacted 16 bytes>");
        assert!(!json.to_string().contains("qqqq"));
    }

    #[test]
    fn responses_name_status_and_redact_hmac_secret() {
        let mut reply = vec![0x00];
        reply.extend(cbor(Value::Map(vec![
            (Value::from(2), Value::Bytes(vec![1, 2, 3])),
            (
                Value::from(4),
                Value::Map(vec![(
                    Value::Text("hmac-secret".into()),
                    Value::Bytes(vec![9; 32]),
                )]),
            ),
        ])));
        let json = decode_response(0x02, &reply);
        assert_eq!(json["status"], "CTAP2_OK");
        assert_eq!(json["body"]["authData"], "AQID");
        assert_eq!(json["body"]["user"]["hmac-secret"], "<redacted 32 bytes>");
        assert_eq!(
            decode_response(0x02, &[0x27])["status"],
            "CTAP2_ERR_OPERATION_DENIED"
        );
    }
}
