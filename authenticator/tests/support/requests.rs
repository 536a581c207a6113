//! Request builders: makeCredential and getAssertion with the fixture
//! builder ([`Build`]) and the CBOR pieces they are made of.

use ciborium::Value;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::pin::Protocol;

use super::{Harness, credential_id};

pub fn request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

pub fn descriptor(id: &[u8]) -> Value {
    Value::Map(vec![
        (text("id"), bytes(id)),
        (text("type"), text("public-key")),
    ])
}

pub fn alg(id: i64) -> Value {
    Value::Map(vec![
        (text("alg"), int(id)),
        (text("type"), text("public-key")),
    ])
}

#[derive(Clone)]
pub struct MakeCredential {
    pub rp_id: String,
    pub user_id: Vec<u8>,
    pub user_name: String,
    pub algs: Vec<i64>,
    pub rk: Option<bool>,
    pub up: Option<bool>,
    pub uv: Option<bool>,
    pub exclude: Vec<Vec<u8>>,
    pub client_data_hash: [u8; 32],
    /// Extension inputs (0x06), if any.
    pub extensions: Vec<(Value, Value)>,
    /// pinUvAuthParam (0x08) and pinUvAuthProtocol (0x09), each if any.
    pub auth: PinUvAuth,
    /// Members after those (enterpriseAttestation 0x0A,
    /// attestationFormatsPreference 0x0B).
    pub members: Vec<(Value, Value)>,
}

impl Default for MakeCredential {
    fn default() -> Self {
        Self {
            rp_id: "example.com".into(),
            user_id: b"user-1".to_vec(),
            user_name: "alice".into(),
            algs: vec![-7],
            rk: None,
            up: None,
            uv: None,
            exclude: vec![],
            client_data_hash: [0x11; 32],
            extensions: vec![],
            auth: PinUvAuth::default(),
            members: vec![],
        }
    }
}

impl MakeCredential {
    pub fn encode(&self) -> Vec<u8> {
        let mut params = vec![
            (int(1), bytes(&self.client_data_hash)),
            (
                int(2),
                Value::Map(vec![
                    (text("id"), text(&self.rp_id)),
                    (text("name"), text("Example")),
                ]),
            ),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(&self.user_id)),
                    (text("name"), text(&self.user_name)),
                    (text("displayName"), text("Alice")),
                ]),
            ),
            (
                int(4),
                Value::Array(self.algs.iter().map(|a| alg(*a)).collect()),
            ),
        ];
        if !self.exclude.is_empty() {
            params.push((
                int(5),
                Value::Array(self.exclude.iter().map(|id| descriptor(id)).collect()),
            ));
        }
        if !self.extensions.is_empty() {
            params.push((int(6), Value::Map(self.extensions.clone())));
        }
        let mut options = vec![];
        for (name, value) in [("rk", self.rk), ("up", self.up), ("uv", self.uv)] {
            if let Some(v) = value {
                options.push((text(name), Value::Bool(v)));
            }
        }
        if !options.is_empty() {
            params.push((int(7), Value::Map(options)));
        }
        self.auth.push(&mut params, 8);
        params.extend(self.members.iter().cloned());
        request(0x01, params)
    }
}

#[derive(Clone)]
pub struct GetAssertion {
    pub rp_id: String,
    pub allow: Option<Vec<Vec<u8>>>,
    pub up: Option<bool>,
    pub uv: Option<bool>,
    pub rk: Option<bool>,
    pub client_data_hash: [u8; 32],
    /// Extension inputs (0x04), if any.
    pub extensions: Vec<(Value, Value)>,
    /// pinUvAuthParam (0x06) and pinUvAuthProtocol (0x07), each if any.
    pub auth: PinUvAuth,
}

impl Default for GetAssertion {
    fn default() -> Self {
        Self {
            rp_id: "example.com".into(),
            allow: None,
            up: None,
            uv: None,
            rk: None,
            client_data_hash: [0x22; 32],
            extensions: vec![],
            auth: PinUvAuth::default(),
        }
    }
}

impl GetAssertion {
    pub fn encode(&self) -> Vec<u8> {
        let mut params = vec![
            (int(1), text(&self.rp_id)),
            (int(2), bytes(&self.client_data_hash)),
        ];
        if let Some(allow) = &self.allow {
            params.push((
                int(3),
                Value::Array(allow.iter().map(|id| descriptor(id)).collect()),
            ));
        }
        if !self.extensions.is_empty() {
            params.push((int(4), Value::Map(self.extensions.clone())));
        }
        let mut options = vec![];
        for (name, value) in [("rk", self.rk), ("up", self.up), ("uv", self.uv)] {
            if let Some(v) = value {
                options.push((text(name), Value::Bool(v)));
            }
        }
        if !options.is_empty() {
            params.push((int(5), Value::Map(options)));
        }
        self.auth.push(&mut params, 6);
        request(0x02, params)
    }
}

/// The pinUvAuthParam and pinUvAuthProtocol members of a makeCredential or
/// getAssertion request.
#[derive(Clone, Default)]
pub struct PinUvAuth {
    pub param: Option<Vec<u8>>,
    pub protocol: Option<Value>,
}

impl PinUvAuth {
    /// Appends the members at `key` (param) and `key + 1` (protocol).
    fn push(&self, params: &mut Vec<(Value, Value)>, key: i64) {
        if let Some(param) = &self.param {
            params.push((int(key), bytes(param)));
        }
        if let Some(protocol) = &self.protocol {
            params.push((int(key + 1), protocol.clone()));
        }
    }
}

/// The members the fixture builder sets, borrowed from a makeCredential or
/// getAssertion request.
pub struct Parts<'a> {
    pub rp_id: &'a mut String,
    pub rk: &'a mut Option<bool>,
    pub up: &'a mut Option<bool>,
    pub uv: &'a mut Option<bool>,
    pub extensions: &'a mut Vec<(Value, Value)>,
    pub auth: &'a mut PinUvAuth,
    pub client_data_hash: [u8; 32],
}

/// The fixture builder shared by makeCredential and getAssertion requests:
/// `MakeCredential::default().rk(true).ext("credBlob", bytes(b"…"))
/// .token(Protocol::Two, &token).call(&mut h)`.
pub trait Build: Sized {
    fn parts(&mut self) -> Parts<'_>;
    fn encode(&self) -> Vec<u8>;

    fn rk(mut self, rk: bool) -> Self {
        *self.parts().rk = Some(rk);
        self
    }

    fn up(mut self, up: bool) -> Self {
        *self.parts().up = Some(up);
        self
    }

    fn uv(mut self, uv: bool) -> Self {
        *self.parts().uv = Some(uv);
        self
    }

    fn rp(mut self, rp_id: &str) -> Self {
        *self.parts().rp_id = rp_id.into();
        self
    }

    /// Adds the extension input `name: value`.
    fn ext(mut self, name: &str, value: Value) -> Self {
        self.parts().extensions.push((text(name), value));
        self
    }

    /// pinUvAuthParam and pinUvAuthProtocol as given (for the error paths).
    fn auth(mut self, param: &[u8], protocol: Value) -> Self {
        *self.parts().auth = PinUvAuth {
            param: Some(param.to_vec()),
            protocol: Some(protocol),
        };
        self
    }

    /// pinUvAuthParam = authenticate(token, clientDataHash) under `protocol`.
    fn token(mut self, protocol: Protocol, token: &[u8]) -> Self {
        let parts = self.parts();
        *parts.auth = PinUvAuth {
            param: Some(
                protocol
                    .authenticate(token, &parts.client_data_hash)
                    .to_vec(),
            ),
            protocol: Some(int(protocol.number() as i64)),
        };
        self
    }

    /// Sends the request, approving any prompt.
    fn call(&self, h: &mut Harness) -> Result<Value, StatusCode> {
        h.call(&self.encode())
    }
}

/// `Build` for a request type with the members [`Parts`] names.
macro_rules! build_for {
    ($request:ident) => {
        impl Build for $request {
            fn parts(&mut self) -> Parts<'_> {
                Parts {
                    rp_id: &mut self.rp_id,
                    rk: &mut self.rk,
                    up: &mut self.up,
                    uv: &mut self.uv,
                    extensions: &mut self.extensions,
                    auth: &mut self.auth,
                    client_data_hash: self.client_data_hash,
                }
            }
            fn encode(&self) -> Vec<u8> {
                $request::encode(self)
            }
        }
    };
}

build_for!(MakeCredential);
build_for!(GetAssertion);

impl MakeCredential {
    /// A makeCredential for example.com and the user `user_id`.
    pub fn for_user(user_id: &[u8]) -> Self {
        Self {
            user_id: user_id.to_vec(),
            ..Self::default()
        }
    }

    pub fn algs(mut self, algs: &[i64]) -> Self {
        self.algs = algs.to_vec();
        self
    }

    pub fn exclude(mut self, ids: &[&[u8]]) -> Self {
        self.exclude = ids.iter().map(|id| id.to_vec()).collect();
        self
    }

    /// Adds the top-level member `key: value`.
    pub fn member(mut self, key: i64, value: Value) -> Self {
        self.members.push((int(key), value));
        self
    }

    /// attestationFormatsPreference (0x0B).
    pub fn formats(self, formats: &[&str]) -> Self {
        let formats = formats.iter().map(|f| text(f)).collect();
        self.member(0x0B, Value::Array(formats))
    }

    /// Makes the credential and returns its ID.
    pub fn make(&self, h: &mut Harness) -> Vec<u8> {
        credential_id(&self.call(h).expect("makeCredential succeeds"))
    }
}

impl GetAssertion {
    /// A getAssertion for example.com naming `ids` in its allowList.
    pub fn allowing(ids: &[&[u8]]) -> Self {
        Self {
            allow: Some(ids.iter().map(|id| id.to_vec()).collect()),
            ..Self::default()
        }
    }
}
