//! Helpers shared by the integration tests: an authenticator over a memory
//! store with a seeded RNG, request builders, response accessors.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::new_without_default
)]

use std::time::{Duration, Instant};

use ciborium::Value;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{Authenticator, Config, Outcome, StatusCode, Verdict};

pub type TestAuthenticator = Authenticator<MemoryStore, StdRng>;

pub struct Harness {
    pub auth: TestAuthenticator,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let now = Instant::now();
        let store = MemoryStore::new(Secret32::new([0x5a; 32]));
        Self {
            auth: Authenticator::new(config, store, StdRng::seed_from_u64(42), now),
            now,
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Sends a request and answers any prompt with `verdict`.
    pub fn call_with(&mut self, request: &[u8], verdict: Verdict) -> Vec<u8> {
        match self.auth.handle(request, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => match self.auth.resume(verdict, self.now) {
                Outcome::Reply(reply) => reply,
                Outcome::AwaitUser(prompt) => panic!("prompted twice: {prompt:?}"),
            },
        }
    }

    /// Sends a request, approving any prompt; returns the status and decoded body.
    pub fn call(&mut self, request: &[u8]) -> Result<Value, StatusCode> {
        decode_reply(&self.call_with(request, Verdict::Approved))
    }
}

/// Splits a reply into status and CBOR body, checking the body is canonical.
pub fn decode_reply(reply: &[u8]) -> Result<Value, StatusCode> {
    let (&status, body) = reply.split_first().expect("a reply has a status byte");
    if status != 0 {
        assert!(body.is_empty(), "an error reply carries no body");
        return Err(status_from_byte(status));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    assert!(
        cbor::is_canonical(body),
        "response is not canonical CBOR: {}",
        hex::encode(body)
    );
    Ok(cbor::decode(body).expect("response decodes"))
}

pub fn status_from_byte(byte: u8) -> StatusCode {
    StatusCode::from_code(byte).unwrap_or_else(|| panic!("unexpected status 0x{byte:02x}"))
}

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
        let mut options = vec![];
        for (name, value) in [("rk", self.rk), ("up", self.up), ("uv", self.uv)] {
            if let Some(v) = value {
                options.push((text(name), Value::Bool(v)));
            }
        }
        if !options.is_empty() {
            params.push((int(7), Value::Map(options)));
        }
        request(0x01, params)
    }
}

pub struct GetAssertion {
    pub rp_id: String,
    pub allow: Option<Vec<Vec<u8>>>,
    pub up: Option<bool>,
    pub uv: Option<bool>,
    pub rk: Option<bool>,
    pub client_data_hash: [u8; 32],
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
        let mut options = vec![];
        for (name, value) in [("rk", self.rk), ("up", self.up), ("uv", self.uv)] {
            if let Some(v) = value {
                options.push((text(name), Value::Bool(v)));
            }
        }
        if !options.is_empty() {
            params.push((int(5), Value::Map(options)));
        }
        request(0x02, params)
    }
}

/// Looks up an integer key in a decoded response map.
pub fn field(value: &Value, key: i64) -> Option<&Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(i128::from(key)))
        .map(|(_, v)| v)
}

pub fn text_field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

/// Parsed authenticator data.
pub struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub aaguid: Option<[u8; 16]>,
    pub credential_id: Option<Vec<u8>>,
    pub public_key: Option<Value>,
}

pub fn parse_auth_data(data: &[u8]) -> AuthData {
    let rp_id_hash = data[..32].try_into().unwrap();
    let flags = data[32];
    let sign_count = u32::from_be_bytes(data[33..37].try_into().unwrap());
    let (mut aaguid, mut credential_id, mut public_key) = (None, None, None);
    if flags & 0x40 != 0 {
        aaguid = Some(data[37..53].try_into().unwrap());
        let len = usize::from(u16::from_be_bytes(data[53..55].try_into().unwrap()));
        credential_id = Some(data[55..55 + len].to_vec());
        let mut cursor = std::io::Cursor::new(&data[55 + len..]);
        public_key = Some(ciborium::de::from_reader::<Value, _>(&mut cursor).unwrap());
        assert_eq!(
            55 + len + cursor.position() as usize,
            data.len(),
            "no trailing bytes"
        );
    } else {
        assert_eq!(data.len(), 37);
    }
    AuthData {
        rp_id_hash,
        flags,
        sign_count,
        aaguid,
        credential_id,
        public_key,
    }
}

/// Verifies `signature` over `message` with a COSE public key (ES256 or EdDSA).
pub fn verify(public_key: &Value, message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    let alg = field(public_key, 3)
        .and_then(|v| v.as_integer())
        .map(i128::from);
    match alg {
        Some(-7) => {
            let x = field(public_key, -2).unwrap().as_bytes().unwrap();
            let y = field(public_key, -3).unwrap().as_bytes().unwrap();
            let mut sec1 = vec![4u8];
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
            let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
                return false;
            };
            key.verify(message, &sig).is_ok()
        }
        Some(-8) => {
            let x: [u8; 32] = field(public_key, -2)
                .unwrap()
                .as_bytes()
                .unwrap()
                .as_slice()
                .try_into()
                .unwrap();
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return false;
            };
            key.verify_strict(message, &sig).is_ok()
        }
        other => panic!("unexpected alg {other:?}"),
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    softkey_authenticator::crypto::sha256(data)
}
