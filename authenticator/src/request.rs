//! Typed pieces of CTAP2 requests shared by several commands, parsed strictly.

use ciborium::Value;

use crate::cbor::{self, IntMap, TextMap};
use crate::credential::UserEntity;
use crate::status::StatusCode;

/// Maximum length of a user handle (WebAuthn §5.4.3).
pub const MAX_USER_ID_LEN: usize = 64;

/// A relying party entity: its id and optional name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpEntity {
    /// The RP ID.
    pub id: String,
    /// The human-palatable name.
    pub name: Option<String>,
}

impl RpEntity {
    /// Parses `{"id": text, "name"?: text, …}`.
    pub fn parse(value: Value) -> Result<Self, StatusCode> {
        let mut map = TextMap::new(value)?;
        let id = cbor::into_text(map.require("id")?)?;
        let name = map.take("name").map(cbor::into_text).transpose()?;
        if let Some(icon) = map.take("icon") {
            cbor::into_text(icon)?;
        }
        Ok(Self { id, name })
    }
}

/// The request parts makeCredential and getAssertion share, at four
/// consecutive keys: extensions, options, pinUvAuthParam, pinUvAuthProtocol
/// (CTAP 2.1 §6.1.1 keys 0x06–0x09, §6.2.1 keys 0x04–0x07).
pub(crate) struct SharedParts {
    /// Extension inputs by name (read by the [`crate::extensions`] modules).
    pub extensions: Option<Vec<(String, Value)>>,
    /// Options; absent ones are `None`.
    pub options: Options,
    /// pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

impl SharedParts {
    /// Takes the four parts from `map`, extensions at key `first`.
    pub(crate) fn take(map: &mut IntMap, first: i64) -> Result<Self, StatusCode> {
        let extensions = map
            .take(first)
            .map(|v| TextMap::new(v).map(TextMap::into_remaining))
            .transpose()?;
        let options = map
            .take(first + 1)
            .map(Options::parse)
            .transpose()?
            .unwrap_or_default();
        let pin_uv_auth_param = map.take(first + 2).map(cbor::into_bytes).transpose()?;
        let pin_uv_auth_protocol = map.take(first + 3).map(|v| cbor::as_u64(&v)).transpose()?;
        Ok(Self {
            extensions,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        })
    }
}

/// Parses a user entity `{"id": bytes, "name"?, "displayName"?, "icon"?}`.
pub fn parse_user(value: Value) -> Result<UserEntity, StatusCode> {
    let mut map = TextMap::new(value)?;
    let id = cbor::into_bytes(map.require("id")?)?;
    if id.len() > MAX_USER_ID_LEN {
        return Err(StatusCode::InvalidLength);
    }
    let name = map.take("name").map(cbor::into_text).transpose()?;
    let display_name = map.take("displayName").map(cbor::into_text).transpose()?;
    if let Some(icon) = map.take("icon") {
        cbor::into_text(icon)?;
    }
    Ok(UserEntity {
        id,
        name,
        display_name,
    })
}

/// One entry of pubKeyCredParams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialParameter {
    /// The credential type ("public-key" is the only one defined).
    pub credential_type: String,
    /// The COSE algorithm identifier.
    pub alg: i64,
}

/// Parses pubKeyCredParams: an array of `{"type": text, "alg": int}`.
pub fn parse_credential_parameters(value: Value) -> Result<Vec<CredentialParameter>, StatusCode> {
    cbor::into_array(value)?
        .into_iter()
        .map(|item| {
            let mut map = TextMap::new(item)?;
            let alg = cbor::as_i64(&map.require("alg")?)?;
            let credential_type = cbor::into_text(map.require("type")?)?;
            Ok(CredentialParameter {
                credential_type,
                alg,
            })
        })
        .collect()
}

/// A PublicKeyCredentialDescriptor from an allow or exclude list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialDescriptor {
    /// The credential type; entries other than "public-key" are ignored.
    pub credential_type: String,
    /// The credential ID.
    pub id: Vec<u8>,
}

/// Parses an allow or exclude list.
pub fn parse_descriptor_list(value: Value) -> Result<Vec<CredentialDescriptor>, StatusCode> {
    cbor::into_array(value)?
        .into_iter()
        .map(|item| {
            let mut map = TextMap::new(item)?;
            let credential_type = cbor::into_text(map.require("type")?)?;
            let id = cbor::into_bytes(map.require("id")?)?;
            if let Some(transports) = map.take("transports") {
                for transport in cbor::into_array(transports)? {
                    cbor::into_text(transport)?;
                }
            }
            Ok(CredentialDescriptor {
                credential_type,
                id,
            })
        })
        .collect()
}

/// The options map: known keys parsed, unknown keys ignored (CTAP 2.1 §6.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// "rk", if present.
    pub rk: Option<bool>,
    /// "up", if present.
    pub up: Option<bool>,
    /// "uv", if present.
    pub uv: Option<bool>,
}

impl Options {
    /// Parses `{"rk"?: bool, "up"?: bool, "uv"?: bool, …}`.
    pub fn parse(value: Value) -> Result<Self, StatusCode> {
        let mut map = TextMap::new(value)?;
        let mut flag = |key: &str| map.take(key).map(|v| cbor::as_bool(&v)).transpose();
        Ok(Self {
            rk: flag("rk")?,
            up: flag("up")?,
            uv: flag("uv")?,
        })
    }
}

/// A 32-byte clientDataHash.
pub fn parse_client_data_hash(value: Value) -> Result<[u8; 32], StatusCode> {
    let bytes = cbor::into_bytes(value)?;
    bytes.try_into().map_err(|_| StatusCode::InvalidLength)
}

/// A user entity as returned in responses (CTAP 2.1 §6.2.2: identifying fields
/// only with user verification).
pub fn user_to_value(user: &UserEntity, identifying: bool) -> Value {
    let mut entries = vec![(cbor::text("id"), cbor::bytes(&user.id))];
    if identifying {
        if let Some(name) = &user.name {
            entries.push((cbor::text("name"), cbor::text(name)));
        }
        if let Some(name) = &user.display_name {
            entries.push((cbor::text("displayName"), cbor::text(name)));
        }
    }
    Value::Map(entries)
}

/// A credential descriptor as returned in responses.
pub fn descriptor_to_value(id: &[u8]) -> Value {
    Value::Map(vec![
        (cbor::text("id"), cbor::bytes(id)),
        (cbor::text("type"), cbor::text("public-key")),
    ])
}
