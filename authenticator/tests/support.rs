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
use p256::ecdsa::signature::Verifier as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{self, bytes, int};
use softkey_authenticator::pin::{KeyAgreementKey, Protocol, SharedSecret};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{
    AAGUID, Authenticator, Config, Outcome, StatusCode, UserPrompt, Verdict,
};

// A path from tests/: this file is also a test target of its own.
#[path = "support/requests.rs"]
mod requests;

pub use requests::*;

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
        let reply = match self.auth.handle(request, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => match self.auth.resume(verdict, self.now) {
                Outcome::Reply(reply) => reply,
                Outcome::AwaitUser(prompt) => panic!("prompted twice: {prompt:?}"),
            },
        };
        check_encoding(&reply);
        reply
    }

    /// Sends a request that must wait for the person; returns the prompt.
    pub fn prompt_for(&mut self, request: &[u8]) -> UserPrompt {
        match self.auth.handle(request, self.now) {
            Outcome::AwaitUser(prompt) => prompt,
            Outcome::Reply(reply) => panic!("answered without a prompt: {reply:02x?}"),
        }
    }

    /// Answers the waiting prompt with `verdict`; returns the reply.
    pub fn answer(&mut self, verdict: Verdict) -> Vec<u8> {
        let reply = match self.auth.resume(verdict, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(prompt) => panic!("prompted twice: {prompt:?}"),
        };
        check_encoding(&reply);
        reply
    }

    /// Sends a request that must be answered without asking the person.
    pub fn reply_now(&mut self, request: &[u8]) -> Vec<u8> {
        let reply = match self.auth.handle(request, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(prompt) => panic!("asked the person: {prompt:?}"),
        };
        check_encoding(&reply);
        reply
    }

    /// Sends a CTAP1/U2F APDU that must be answered without asking the person.
    pub fn ctap1_now(&mut self, apdu: &[u8]) -> Vec<u8> {
        match self.auth.handle_ctap1(apdu, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(prompt) => panic!("asked the person: {prompt:?}"),
        }
    }

    /// Sends a request, approving any prompt; returns the status and decoded body.
    pub fn call(&mut self, request: &[u8]) -> Result<Value, StatusCode> {
        decode_reply(&self.call_with(request, Verdict::Approved))
    }
}

/// Splits a reply into status and CBOR body, checking the body is canonical.
/// Every successful CTAP2 reply the tests see is also encoded the way the
/// core encoded replies before its direct encoder (`cbor::encode`): the
/// decoded reply, canonicalized as a `Value` tree and serialized by
/// ciborium. The bytes must be identical, so the whole suite's replies
/// (extensions, user names, numberOfCredentials, largeBlobKey, attestation
/// statements, credential management, getInfo …) check the encoder.
pub fn check_encoding(reply: &[u8]) {
    let Some((0, body)) = reply.split_first() else {
        return;
    };
    if body.is_empty() {
        return;
    }
    let value = cbor::decode(body).expect("a successful reply's body is CBOR");
    let mut tree_path = Vec::new();
    ciborium::ser::into_writer(&cbor::canonicalize(value), &mut tree_path).unwrap();
    assert_eq!(
        tree_path, body,
        "the reply's encoding differs from the canonicalized Value tree's"
    );
}

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

/// An authenticator with built-in user verification (`"uv": true` is
/// approved by the harness).
pub fn uv_harness() -> Harness {
    Harness::with_config(Config {
        built_in_uv: true,
        ..Config::default()
    })
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

/// A credential made by [`register`].
pub struct Registered {
    pub credential_id: Vec<u8>,
    pub public_key: Value,
}

/// Makes a credential, checking its packed self attestation.
pub fn register(h: &mut Harness, mc: &MakeCredential) -> Registered {
    let response = h.call(&mc.encode()).expect("makeCredential succeeds");
    assert_eq!(field(&response, 1).unwrap().as_text(), Some("packed"));
    let auth_data_bytes = field(&response, 2).unwrap().as_bytes().unwrap().clone();
    let auth_data = parse_auth_data(&auth_data_bytes);
    assert_eq!(auth_data.rp_id_hash, sha256(mc.rp_id.as_bytes()));
    assert_eq!(auth_data.flags, 0x41, "UP and AT");
    assert_eq!(auth_data.aaguid, Some(AAGUID));
    let public_key = auth_data.public_key.unwrap();
    let att_stmt = field(&response, 3).unwrap();
    let sig = text_field(att_stmt, "sig").unwrap().as_bytes().unwrap();
    let alg = text_field(att_stmt, "alg")
        .unwrap()
        .as_integer()
        .map(i128::from);
    assert_eq!(
        alg,
        field(&public_key, 3).unwrap().as_integer().map(i128::from)
    );
    let mut signed = auth_data_bytes.clone();
    signed.extend_from_slice(&mc.client_data_hash);
    assert!(
        verify(&public_key, &signed, sig),
        "packed self attestation verifies"
    );
    Registered {
        credential_id: auth_data.credential_id.unwrap(),
        public_key,
    }
}

/// Checks an assertion's signature; its signature counter.
pub fn check_assertion(response: &Value, public_key: &Value, client_data_hash: &[u8; 32]) -> u32 {
    let auth_data = field(response, 2).unwrap().as_bytes().unwrap();
    let signature = field(response, 3).unwrap().as_bytes().unwrap();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(client_data_hash);
    assert!(
        verify(public_key, &signed, signature),
        "assertion signature verifies"
    );
    parse_auth_data(auth_data).sign_count
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    softkey_authenticator::crypto::sha256(data)
}

// --- Extension outputs and the platform's side of hmac-secret. ---

pub fn credential_id(reply: &Value) -> Vec<u8> {
    let auth_data = field(reply, 2).unwrap().as_bytes().unwrap();
    let len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    auth_data[55..55 + len].to_vec()
}

/// The extensions map at the end of authData (ED flag set), if any.
pub fn extension_outputs(auth_data: &[u8]) -> Option<Value> {
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

pub fn outputs_of(reply: &Value, auth_data_key: i64) -> Option<Value> {
    extension_outputs(field(reply, auth_data_key).unwrap().as_bytes().unwrap())
}

pub fn credential_id_of(assertion: &Value) -> Vec<u8> {
    let descriptor = field(assertion, 1).unwrap();
    text_field(descriptor, "id")
        .unwrap()
        .as_bytes()
        .unwrap()
        .clone()
}

/// The platform's half of an hmac-secret exchange.
pub struct SaltSender {
    pub protocol: Protocol,
    pub shared: SharedSecret,
    pub key: Value,
    pub rng: StdRng,
}

impl SaltSender {
    pub fn new(h: &mut Harness, protocol: Protocol) -> Self {
        let number = int(protocol.number() as i64);
        let reply = h
            .call(&request(0x06, vec![(int(1), number), (int(2), int(2))]))
            .unwrap();
        let theirs = field(&reply, 1).unwrap().clone();
        let mut rng = StdRng::seed_from_u64(3);
        let ours = KeyAgreementKey::generate(&mut rng);
        let shared = ours.shared_secret(protocol, theirs).unwrap();
        Self {
            protocol,
            shared,
            key: ours.cose_public_key(),
            rng,
        }
    }

    /// The input map for salts (32 or 64 bytes).
    pub fn input(&mut self, salts: &[u8]) -> Value {
        let salt_enc = self.shared.encrypt(&mut self.rng, salts);
        let salt_auth = self.shared.authenticate(&salt_enc).to_vec();
        Value::Map(vec![
            (int(1), self.key.clone()),
            (int(2), bytes(&salt_enc)),
            (int(3), bytes(&salt_auth)),
            (int(4), int(self.protocol.number() as i64)),
        ])
    }

    pub fn open(&self, outputs: &Value) -> Vec<u8> {
        // getAssertion answers under "hmac-secret"; makeCredential under
        // "hmac-secret-mc" (its "hmac-secret" is `true`).
        let encrypted = text_field(outputs, "hmac-secret-mc")
            .or_else(|| text_field(outputs, "hmac-secret"))
            .and_then(Value::as_bytes)
            .unwrap();
        self.shared.decrypt(encrypted).unwrap().to_vec()
    }
}

// --- CTAP1/U2F. ---

pub fn apdu(ins: u8, p1: u8, data: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0, ins, p1, 0, 0];
    apdu.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    apdu.extend_from_slice(data);
    apdu.extend_from_slice(&[0, 0]);
    apdu
}

pub fn ctap1(h: &mut Harness, apdu: &[u8], verdict: Verdict) -> (Vec<u8>, u16) {
    let reply = match h.auth.handle_ctap1(apdu, h.now) {
        Outcome::Reply(reply) => reply,
        Outcome::AwaitUser(_) => match h.auth.resume(verdict, h.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => panic!("prompted twice"),
        },
    };
    let (data, status) = reply.split_at(reply.len() - 2);
    (data.to_vec(), u16::from_be_bytes([status[0], status[1]]))
}

pub struct U2fRegistration {
    pub public_key: Vec<u8>,
    pub key_handle: Vec<u8>,
    /// The attestation certificate (DER).
    pub certificate: Vec<u8>,
}

pub fn u2f_register(h: &mut Harness, application: &[u8; 32]) -> U2fRegistration {
    let challenge = [0x5c; 32];
    let mut data = challenge.to_vec();
    data.extend_from_slice(application);
    let (response, status) = ctap1(h, &apdu(0x01, 0, &data), Verdict::Approved);
    assert_eq!(status, 0x9000);
    assert_eq!(response[0], 0x05);
    let public_key = response[1..66].to_vec();
    let kh_len = usize::from(response[66]);
    let key_handle = response[67..67 + kh_len].to_vec();
    let rest = &response[67 + kh_len..];
    // The attestation certificate is one DER SEQUENCE with a two-byte length.
    assert_eq!(rest[0], 0x30);
    let cert_len = 4 + usize::from(u16::from_be_bytes([rest[2], rest[3]]));
    let certificate =
        <x509_cert::Certificate as x509_cert::der::Decode>::from_der(&rest[..cert_len]).unwrap();
    let signature = &rest[cert_len..];
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let attestation_key =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).unwrap();
    let mut signed = vec![0u8];
    signed.extend_from_slice(application);
    signed.extend_from_slice(&challenge);
    signed.extend_from_slice(&key_handle);
    signed.extend_from_slice(&public_key);
    attestation_key
        .verify(
            &signed,
            &p256::ecdsa::Signature::from_der(signature).unwrap(),
        )
        .unwrap();
    U2fRegistration {
        public_key,
        key_handle,
        certificate: rest[..cert_len].to_vec(),
    }
}

/// U2F_AUTHENTICATE with challenge 0x77…, control byte `p1`.
pub fn u2f_authenticate_apdu(application: &[u8; 32], key_handle: &[u8], p1: u8) -> Vec<u8> {
    let mut data = [0x77u8; 32].to_vec();
    data.extend_from_slice(application);
    data.push(u8::try_from(key_handle.len()).unwrap());
    data.extend_from_slice(key_handle);
    apdu(0x02, p1, &data)
}

pub fn u2f_authenticate(
    h: &mut Harness,
    application: &[u8; 32],
    key_handle: &[u8],
    p1: u8,
) -> (Vec<u8>, u16) {
    ctap1(
        h,
        &u2f_authenticate_apdu(application, key_handle, p1),
        Verdict::Approved,
    )
}

pub fn verify_u2f_signature(public_key: &[u8], application: &[u8; 32], response: &[u8]) -> u32 {
    let counter = u32::from_be_bytes(response[1..5].try_into().unwrap());
    let mut signed = application.to_vec();
    signed.push(response[0]);
    signed.extend_from_slice(&response[1..5]);
    signed.extend_from_slice(&[0x77; 32]);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).unwrap();
    key.verify(
        &signed,
        &p256::ecdsa::Signature::from_der(&response[5..]).unwrap(),
    )
    .unwrap();
    counter
}
