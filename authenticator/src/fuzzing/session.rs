//! The PIN-session fuzz target (`ctap2_pin_session`): one in-memory
//! authenticator, configured by the input's first byte, driven through what a
//! PIN and its pinUvAuthTokens unlock — every clientPIN subcommand,
//! authenticatorCredentialManagement (also on its preview number 0x41),
//! authenticatorConfig, makeCredential and getAssertion signed with the held
//! token (extensions, enterprise attestation, attestation formats), reset,
//! power cycles and clock steps. The command-sequence target reaches none of
//! credentialManagement and authenticatorConfig, and only part of clientPIN.
//!
//! Input: the configuration byte ([`SessionConfig`] bits), then actions of
//! four bytes each, a tag (mod [`TAGS`]) and three argument bytes `a`, `b`,
//! `c`, as each tag's constant says. At most [`MAX_ACTIONS`] run; a
//! trailing partial action is ignored.
//!
//! What must hold, whatever came before (checked on every reply):
//! - a reply is a status byte; an error carries no body, success nothing or
//!   one canonical CBOR item;
//! - a token is issued only for the PIN that was set, a UV token only with
//!   built-in UV after an approved verification;
//! - credentialManagement never succeeds without the held token's MAC (its
//!   getNext subcommands aside), nor authenticatorConfig once a PIN is set;
//! - getCredsMetadata counts the discoverable credentials made since the last
//!   reset, less those deleted.

use std::collections::BTreeSet;

use super::*;
use crate::commands::{client_pin as cp, config as cfg, credential_management as cm};
use crate::enterprise::EnterpriseAttestation;
use crate::pin::{KeyAgreementKey, Protocol};
use crate::{AttestationMode, crypto::Algorithm};

mod seeds;
pub use seeds::pin_session_seeds;

/// Configuration bits (first input byte): built-in UV.
pub const CONFIG_BUILT_IN_UV: u8 = 0x01;
/// Configuration bit: device attestation (certificate) instead of self.
pub const CONFIG_CERTIFICATE: u8 = 0x02;
/// Configuration bit: enterprise-attestation capable, `example.com` listed.
pub const CONFIG_ENTERPRISE: u8 = 0x04;
/// Configuration bit: every algorithm, not just the defaults.
pub const CONFIG_ALL_ALGORITHMS: u8 = 0x08;
/// Configuration bit: no reset window.
pub const CONFIG_NO_RESET_WINDOW: u8 = 0x10;

/// setPIN: `a` PIN length − 2 (mod 8; below four is refused), `b` bit 0
/// protocol one.
pub const SET_PIN: u8 = 0;
/// changePIN: `a` new length − 2 (mod 8), `b` bit 0 protocol one, bit 1 a
/// wrong current PIN.
pub const CHANGE_PIN: u8 = 1;
/// A token: `a` permissions; `b` bit 0 protocol one, bit 1 with the RP ID
/// `example.com`, bit 2 a wrong PIN, bits 3–4 the subcommand (0
/// getPinUvAuthTokenUsingPinWithPermissions, 1 getPinToken, 2
/// getPinUvAuthTokenUsingUvWithPermissions, 3 getKeyAgreement alone); `c`
/// the verdict on a UV prompt.
pub const TOKEN: u8 = 2;
/// getPINRetries (`a` bit 0: getUVRetries).
pub const RETRIES: u8 = 3;
/// makeCredential: `a` rp (mod 3), bits 2–3 user, bit 4 rk, bit 5 uv
/// option, bits 6–7 algorithms (ES256; EdDSA; PS256, RS256; ML-DSA-44, -1,
/// ES256); `b` bits 0–1 auth ([`AUTH_NONE`]…), bits 2–3
/// enterpriseAttestation (absent, 1, 2, 3), bits 4–5
/// attestationFormatsPreference (absent, none, packed, [tpm, packed]); `c`
/// extensions: bits 0–1 credProtect, bit 2 hmac-secret, 3 credBlob, 4
/// largeBlobKey, 5 minPinLength, 6 pinComplexityPolicy, 7 thirdPartyPayment.
pub const MAKE_CREDENTIAL: u8 = 4;
/// getAssertion: `a` rp (mod 3), bit 2 an allowList of every credential
/// made for it, bit 3 up false; `b` bits 0–1 auth; `c` extensions bit 3
/// credBlob, 4 largeBlobKey, 7 thirdPartyPayment. Then getNextAssertion
/// while credentials remain.
pub const GET_ASSERTION: u8 = 5;
/// credentialManagement: `a` subCommand (mod 8), `b` which relying party /
/// credential, `c` bits 0–1 auth, bit 2 the preview command number, bit 3
/// updateUserInformation with another user's id.
pub const CREDENTIAL_MANAGEMENT: u8 = 6;
/// authenticatorConfig: `a` subCommand (mod 4; 0 is vendorPrototype), `b`
/// newMinPINLength (0: absent), `c` bits 0–1 auth, bit 2 minPinLengthRPIDs,
/// bit 3 forceChangePin, bit 4 pinComplexityPolicy.
pub const CONFIG: u8 = 7;
/// authenticatorReset: `a` the verdict.
pub const RESET: u8 = 8;
/// A power cycle.
pub const POWER_CYCLE: u8 = 9;
/// The clock moves on `a + 256 b` seconds.
pub const ADVANCE: u8 = 10;
/// getInfo (`a` bit 0: selection instead).
pub const GET_INFO: u8 = 11;
/// Tags are read mod this.
pub const TAGS: u8 = 12;

/// No pinUvAuthParam.
pub const AUTH_NONE: u8 = 0;
/// The held token's MAC (a key of zeros when none is held).
pub const AUTH_TOKEN: u8 = 1;
/// The held token's MAC with its first byte flipped.
pub const AUTH_CORRUPT: u8 = 2;
/// An empty pinUvAuthParam with protocol one (the "is a PIN set" probe) for
/// makeCredential/getAssertion; elsewhere the MAC with protocol number 3.
pub const AUTH_ODD: u8 = 3;

/// The relying parties (index `mod 3`); the first is on the enterprise list.
const RPS: [&str; 3] = ["example.com", "login.example.com", "other.example"];

/// One action: a tag and three argument bytes.
pub type SessionAction = (u8, u8, u8, u8);

/// Drives one authenticator through the actions `data` holds.
pub fn pin_session(data: &[u8]) {
    run(data);
}

fn run(data: &[u8]) -> Option<Session> {
    let (&config, actions) = data.split_first()?;
    let mut session = Session::new(config);
    for action in actions.chunks_exact(4).take(MAX_ACTIONS) {
        session.act((action[0], action[1], action[2], action[3]));
    }
    Some(session)
}

/// An input for [`pin_session`]: the configuration byte, then the actions.
pub fn encode_session(config: u8, actions: &[SessionAction]) -> Vec<u8> {
    let mut out = vec![config];
    for &(tag, a, b, c) in actions {
        out.extend_from_slice(&[tag, a, b, c]);
    }
    out
}

/// A token the platform holds.
struct Held {
    protocol: Protocol,
    token: Vec<u8>,
}

/// A credential makeCredential returned.
struct Made {
    rp: usize,
    user: u8,
    id: Vec<u8>,
    discoverable: bool,
}

struct Session {
    authenticator: Authenticator<MemoryStore, InsecureFuzzRng>,
    now: Instant,
    built_in_uv: bool,
    /// The PIN set, if any.
    pin: Option<Vec<u8>>,
    token: Option<Held>,
    made: Vec<Made>,
    platform_rng: InsecureFuzzRng,
    /// Distinguishes each new PIN from the last.
    pins_chosen: u8,
    /// makeCredential requests that offered only RSA.
    rsa_requests: u8,
    /// (command, subCommand) of every request that succeeded.
    reached: BTreeSet<(u8, u64)>,
}

impl Session {
    fn new(bits: u8) -> Self {
        let mut config = Config {
            built_in_uv: bits & CONFIG_BUILT_IN_UV != 0,
            ..Config::default()
        };
        if bits & CONFIG_CERTIFICATE != 0 {
            config.attestation = AttestationMode::Certificate;
        }
        if bits & CONFIG_ENTERPRISE != 0 {
            config.enterprise_attestation = Some(EnterpriseAttestation {
                rp_ids: vec![RPS[0].to_owned()],
            });
        }
        if bits & CONFIG_ALL_ALGORITHMS != 0 {
            config.algorithms = Algorithm::ALL.to_vec();
        }
        if bits & CONFIG_NO_RESET_WINDOW != 0 {
            config.reset_window = None;
        }
        let now = Instant::now();
        let store = MemoryStore::new(Secret32::new([0x3c; 32]));
        Self {
            built_in_uv: config.built_in_uv,
            authenticator: Authenticator::new(config, store, InsecureFuzzRng::new(11), now),
            now,
            pin: None,
            token: None,
            made: Vec::new(),
            platform_rng: InsecureFuzzRng::new(13),
            pins_chosen: 0,
            rsa_requests: 0,
            reached: BTreeSet::new(),
        }
    }

    fn act(&mut self, (tag, a, b, c): SessionAction) {
        match tag % TAGS {
            SET_PIN => self.new_pin_request(a, b, false),
            CHANGE_PIN => self.new_pin_request(a, b, true),
            TOKEN => self.get_token(a, b, c),
            RETRIES => {
                let sub = if a & 1 == 0 {
                    cp::GET_PIN_RETRIES
                } else {
                    cp::GET_UV_RETRIES
                };
                self.call(
                    &client_pin(Protocol::Two, sub, Vec::new()),
                    Verdict::Approved,
                );
            }
            MAKE_CREDENTIAL => self.make_credential(a, b, c),
            GET_ASSERTION => self.get_assertion(a, b, c),
            CREDENTIAL_MANAGEMENT => self.credential_management(a, b, c),
            CONFIG => self.config(a, b, c),
            RESET => {
                let (status, _) = self.call(&[commands::RESET], verdict(a));
                if status == StatusCode::Ok.code() {
                    self.pin = None;
                    self.token = None;
                    self.made.clear();
                }
            }
            POWER_CYCLE => {
                self.authenticator.power_cycle(self.now);
                self.token = None;
            }
            ADVANCE => self.now += Duration::from_secs(u64::from(u16::from_le_bytes([a, b]))),
            _ => {
                let command = if a & 1 == 0 {
                    commands::GET_INFO
                } else {
                    commands::SELECTION
                };
                self.call(&[command], Verdict::Approved);
            }
        }
    }

    /// Sends a request, answers every prompt with `verdict`, checks the reply:
    /// its status and decoded body.
    fn call(&mut self, request: &[u8], verdict: Verdict) -> (u8, Option<Value>) {
        let mut outcome = self.authenticator.handle(request, self.now);
        let mut prompts = 0;
        let reply = loop {
            match outcome {
                Outcome::Reply(reply) => break reply,
                Outcome::AwaitUser(_) => {
                    prompts += 1;
                    assert!(prompts <= 4, "command 0x{:02x} keeps prompting", request[0]);
                    outcome = self.authenticator.resume(verdict, self.now);
                }
            }
        };
        let (&status, body) = reply.split_first().expect("a reply has a status byte");
        if status != StatusCode::Ok.code() {
            assert!(body.is_empty(), "error 0x{status:02x} carries a body");
            return (status, None);
        }
        let sub_key = if request[0] == CLIENT_PIN { 2 } else { 1 };
        let sub = cbor::decode(&request[1..])
            .ok()
            .and_then(|params| field(&params, sub_key).and_then(Value::as_integer))
            .and_then(|n| u64::try_from(n).ok());
        self.reached.insert((request[0], sub.unwrap_or(0)));
        if body.is_empty() {
            return (status, None);
        }
        assert!(cbor::is_canonical(body), "reply is not canonical CBOR");
        (
            status,
            Some(cbor::decode(body).expect("a canonical reply decodes")),
        )
    }

    /// getKeyAgreement, then the platform's key and the shared secret.
    fn agree(&mut self, protocol: Protocol) -> Option<(Value, crate::pin::SharedSecret)> {
        let request = client_pin(protocol, cp::GET_KEY_AGREEMENT, Vec::new());
        let (_, reply) = self.call(&request, Verdict::Approved);
        let theirs = field(&reply?, 1)?.clone();
        let ours = KeyAgreementKey::generate(&mut self.platform_rng);
        let shared = ours
            .shared_secret(protocol, theirs)
            .expect("the authenticator's key-agreement key is a P-256 point");
        Some((ours.cose_public_key(), shared))
    }

    /// A new PIN of 2 + `len % 8` digits, different from the last.
    fn new_pin(&mut self, len: u8) -> Vec<u8> {
        self.pins_chosen = self.pins_chosen.wrapping_add(1);
        let start = self.pins_chosen;
        (0..2 + len % 8)
            .map(|i| b'0' + (start.wrapping_add(i) % 10))
            .collect()
    }

    /// setPIN, or changePIN from the current PIN (a wrong one with `b` bit
    /// 1).
    fn new_pin_request(&mut self, len: u8, b: u8, change: bool) {
        let protocol = protocol(b);
        let current = match (&self.pin, b & 0x02 != 0) {
            (Some(pin), false) => pin.clone(),
            _ => b"0000".to_vec(),
        };
        let new_pin = self.new_pin(len);
        let Some((key, shared)) = self.agree(protocol) else {
            return;
        };
        let mut padded = new_pin.clone();
        padded.resize(64, 0);
        let new_pin_enc = shared.encrypt(&mut self.platform_rng, &padded);
        let mut signed = new_pin_enc.clone();
        let mut params = vec![(int(3), key), (int(5), bytes(&new_pin_enc))];
        if change {
            let pin_hash_enc = shared.encrypt(&mut self.platform_rng, &sha256(&current)[..16]);
            signed.extend_from_slice(&pin_hash_enc);
            params.push((int(6), bytes(&pin_hash_enc)));
        }
        params.push((int(4), bytes(&shared.authenticate(&signed))));
        let sub = if change { cp::CHANGE_PIN } else { cp::SET_PIN };
        let request = client_pin(protocol, sub, params);
        if self.call(&request, Verdict::Approved).0 != StatusCode::Ok.code() {
            return;
        }
        if change {
            assert_eq!(
                self.pin.as_ref(),
                Some(&current),
                "changePIN without the PIN"
            );
            self.token = None;
        } else {
            assert!(self.pin.is_none(), "setPIN replaced a PIN that was set");
        }
        self.pin = Some(new_pin);
    }

    fn get_token(&mut self, permissions: u8, b: u8, c: u8) {
        let protocol = protocol(b);
        let wrong = b & 0x04 != 0;
        let presented = match (&self.pin, wrong) {
            (Some(pin), false) => pin.clone(),
            _ => b"0000".to_vec(),
        };
        let Some((key, shared)) = self.agree(protocol) else {
            return;
        };
        let sub = [
            cp::GET_TOKEN_USING_PIN,
            cp::GET_PIN_TOKEN,
            cp::GET_TOKEN_USING_UV,
            cp::GET_KEY_AGREEMENT,
        ][usize::from(b >> 3 & 0x03)];
        if sub == cp::GET_KEY_AGREEMENT {
            return;
        }
        let mut params = vec![(int(3), key)];
        if sub != cp::GET_TOKEN_USING_UV {
            let pin_hash_enc = shared.encrypt(&mut self.platform_rng, &sha256(&presented)[..16]);
            params.push((int(6), bytes(&pin_hash_enc)));
        }
        if sub != cp::GET_PIN_TOKEN {
            params.push((int(9), int(i64::from(permissions))));
            if b & 0x02 != 0 {
                params.push((int(10), text(RPS[0])));
            }
        }
        let verdict = verdict(c);
        let (status, reply) = self.call(&client_pin(protocol, sub, params), verdict);
        if status != StatusCode::Ok.code() {
            return;
        }
        if sub == cp::GET_TOKEN_USING_UV {
            assert!(self.built_in_uv, "a UV token without built-in UV");
            assert_eq!(
                verdict,
                Verdict::Approved,
                "a UV token without verification"
            );
        } else {
            assert!(self.pin.is_some(), "a token was issued with no PIN set");
            assert!(!wrong, "a token was issued for a wrong PIN");
        }
        let encrypted = reply
            .as_ref()
            .and_then(|r| field(r, 2))
            .and_then(Value::as_bytes)
            .expect("a token reply carries the encrypted token");
        let token = shared.decrypt(encrypted).expect("the token decrypts");
        self.token = Some(Held {
            protocol,
            token: token.to_vec(),
        });
    }

    /// The pinUvAuthParam (key `param_key`) and pinUvAuthProtocol (key
    /// `protocol_key`) members `auth` asks for.
    fn auth(
        &self,
        auth: u8,
        message: &[u8],
        param_key: i64,
        protocol_key: i64,
    ) -> Vec<(Value, Value)> {
        let (protocol, key) = match &self.token {
            Some(held) => (held.protocol, held.token.clone()),
            None => (Protocol::Two, vec![0; 32]),
        };
        let mut mac = protocol.authenticate(&key, message).to_vec();
        let mut number = protocol.number() as i64;
        match auth % 4 {
            AUTH_NONE => return Vec::new(),
            AUTH_TOKEN => {}
            AUTH_CORRUPT => mac[0] ^= 0x01,
            _ => number = 3,
        }
        vec![
            (int(param_key), bytes(&mac)),
            (int(protocol_key), int(number)),
        ]
    }

    fn make_credential(&mut self, a: u8, b: u8, c: u8) {
        let rp = usize::from(a % 4) % RPS.len();
        let user = a >> 2 & 0x03;
        let user_id = format!("user-{user}");
        // RSA key generation takes about 0.2 s: two a run keep an input
        // well inside libFuzzer's timeout.
        let rsa = a >> 6 == 2 && self.rsa_requests < 2;
        self.rsa_requests += u8::from(rsa);
        let algs: &[i64] = match a >> 6 {
            0 | 2 if !rsa => &[-7],
            1 => &[-8],
            2 => &[-37, -257],
            _ => &[-48, -1, -7],
        };
        let client_data_hash = [0x21; 32];
        let mut params = vec![
            (int(1), bytes(&client_data_hash)),
            (int(2), Value::Map(vec![(text("id"), text(RPS[rp]))])),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(user_id.as_bytes())),
                    (text("name"), text(&user_id)),
                ]),
            ),
            (int(4), credential_parameters(algs)),
        ];
        let mut extensions = Vec::new();
        if c & 0x03 != 0 {
            extensions.push((text("credProtect"), int(i64::from(c & 0x03))));
        }
        for (bit, name) in [
            (0x04, "hmac-secret"),
            (0x10, "largeBlobKey"),
            (0x20, "minPinLength"),
            (0x40, "pinComplexityPolicy"),
            (0x80, "thirdPartyPayment"),
        ] {
            if c & bit != 0 {
                extensions.push((text(name), Value::Bool(true)));
            }
        }
        if c & 0x08 != 0 {
            extensions.push((text("credBlob"), bytes(b"blob")));
        }
        if !extensions.is_empty() {
            params.push((int(6), Value::Map(extensions)));
        }
        let discoverable = a & 0x10 != 0;
        let mut opts = Vec::new();
        if discoverable {
            opts.push((text("rk"), Value::Bool(true)));
        }
        if a & 0x20 != 0 {
            opts.push((text("uv"), Value::Bool(true)));
        }
        if !opts.is_empty() {
            params.push((int(7), Value::Map(opts)));
        }
        params.extend(self.auth_or_probe(b, &client_data_hash));
        if b >> 2 & 0x03 != 0 {
            params.push((int(0x0A), int(i64::from(b >> 2 & 0x03))));
        }
        let formats: &[&str] = match b >> 4 & 0x03 {
            0 => &[],
            1 => &["none"],
            2 => &["packed"],
            _ => &["tpm", "packed"],
        };
        if !formats.is_empty() {
            params.push((
                int(0x0B),
                Value::Array(formats.iter().map(|f| text(f)).collect()),
            ));
        }
        let (status, reply) = self.call(
            &request(commands::MAKE_CREDENTIAL, params),
            Verdict::Approved,
        );
        if status != StatusCode::Ok.code() {
            return;
        }
        let auth_data = reply
            .as_ref()
            .and_then(|r| field(r, 2))
            .and_then(Value::as_bytes)
            .expect("makeCredential returns authData");
        let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        let id = auth_data[55..55 + id_len].to_vec();
        if discoverable {
            self.made
                .retain(|m| !(m.discoverable && m.rp == rp && m.user == user));
        }
        self.made.push(Made {
            rp,
            user,
            id,
            discoverable,
        });
    }

    /// makeCredential/getAssertion's pinUvAuthParam (0x08) and protocol.
    fn auth_or_probe(&self, b: u8, client_data_hash: &[u8]) -> Vec<(Value, Value)> {
        if b & 0x03 == AUTH_ODD {
            return vec![(int(8), bytes(&[])), (int(9), int(1))];
        }
        self.auth(b, client_data_hash, 8, 9)
    }

    fn get_assertion(&mut self, a: u8, b: u8, c: u8) {
        let rp = usize::from(a % 4) % RPS.len();
        let client_data_hash = [0x42; 32];
        let mut params = vec![(int(1), text(RPS[rp])), (int(2), bytes(&client_data_hash))];
        if a & 0x04 != 0 {
            let ids = self
                .made
                .iter()
                .filter(|m| m.rp == rp)
                .map(|m| m.id.clone());
            params.push((int(3), descriptors(ids.collect())));
        }
        let mut extensions = Vec::new();
        for (bit, name) in [
            (0x08, "credBlob"),
            (0x10, "largeBlobKey"),
            (0x80, "thirdPartyPayment"),
        ] {
            if c & bit != 0 {
                extensions.push((text(name), Value::Bool(true)));
            }
        }
        if !extensions.is_empty() {
            params.push((int(4), Value::Map(extensions)));
        }
        if a & 0x08 != 0 {
            params.push((int(5), Value::Map(vec![(text("up"), Value::Bool(false))])));
        }
        params.extend(self.auth_or_probe(b, &client_data_hash));
        let (status, reply) =
            self.call(&request(commands::GET_ASSERTION, params), Verdict::Approved);
        if status != StatusCode::Ok.code() {
            return;
        }
        let count = reply
            .as_ref()
            .and_then(|r| field(r, 5))
            .and_then(|v| v.as_integer())
            .map_or(1, |n| u64::try_from(n).unwrap_or(1));
        for _ in 1..count.min(8) {
            let (status, _) = self.call(&[commands::GET_NEXT_ASSERTION], Verdict::Approved);
            assert_eq!(
                status,
                StatusCode::Ok.code(),
                "getNextAssertion ran out early"
            );
        }
    }

    fn credential_management(&mut self, a: u8, b: u8, c: u8) {
        let sub = u64::from(a % 8);
        let rp_id_hash = sha256(RPS[usize::from(b) % RPS.len()].as_bytes());
        let chosen = (!self.made.is_empty()).then(|| &self.made[usize::from(b) % self.made.len()]);
        let id = chosen.map_or_else(|| vec![0xee; 16], |m| m.id.clone());
        let descriptor = Value::Map(vec![
            (text("id"), bytes(&id)),
            (text("type"), text("public-key")),
        ]);
        let params = match sub {
            cm::ENUMERATE_CREDENTIALS_BEGIN => Some(vec![(int(1), bytes(&rp_id_hash))]),
            cm::DELETE_CREDENTIAL => Some(vec![(int(2), descriptor)]),
            cm::UPDATE_USER_INFORMATION => {
                let user = chosen.map_or(0, |m| m.user) ^ (c >> 3 & 1);
                let user_id = format!("user-{user}");
                let entity = Value::Map(vec![
                    (text("id"), bytes(user_id.as_bytes())),
                    (text("name"), text("renamed")),
                    (text("displayName"), text("Renamed User")),
                ]);
                Some(vec![(int(2), descriptor), (int(3), entity)])
            }
            _ => None,
        };
        let mut message = vec![a % 8];
        let mut members = vec![(int(1), int(sub as i64))];
        if let Some(params) = params {
            let params = Value::Map(params);
            message.extend_from_slice(&cbor::encode(params.clone()));
            members.push((int(2), params));
        }
        let auth = c & 0x03;
        members.extend(self.auth(auth, &message, 4, 3));
        let command = if c & 0x04 != 0 {
            commands::CREDENTIAL_MANAGEMENT_PREVIEW
        } else {
            commands::CREDENTIAL_MANAGEMENT
        };
        let (status, reply) = self.call(&request(command, members), Verdict::Approved);
        if status != StatusCode::Ok.code() {
            return;
        }
        if !matches!(sub, cm::ENUMERATE_RPS_NEXT | cm::ENUMERATE_CREDENTIALS_NEXT) {
            assert_eq!(
                auth, AUTH_TOKEN,
                "credentialManagement without the token's MAC"
            );
        }
        if sub == cm::GET_CREDS_METADATA {
            let existing = reply
                .as_ref()
                .and_then(|r| field(r, 1))
                .and_then(Value::as_integer);
            let expected = self.made.iter().filter(|m| m.discoverable).count();
            assert_eq!(existing, Some(expected.into()), "getCredsMetadata's count");
        }
        if sub == cm::DELETE_CREDENTIAL {
            self.made.retain(|m| m.id != id);
        }
    }

    fn config(&mut self, a: u8, b: u8, c: u8) {
        let sub = [
            0xff,
            cfg::ENABLE_ENTERPRISE_ATTESTATION,
            cfg::TOGGLE_ALWAYS_UV,
            cfg::SET_MIN_PIN_LENGTH,
        ][usize::from(a % 4)];
        let mut params = Vec::new();
        if sub == cfg::SET_MIN_PIN_LENGTH {
            if b != 0 {
                params.push((int(1), int(i64::from(b))));
            }
            if c & 0x04 != 0 {
                params.push((int(2), Value::Array(vec![text(RPS[0])])));
            }
            if c & 0x08 != 0 {
                params.push((int(3), Value::Bool(true)));
            }
            if c & 0x10 != 0 {
                params.push((int(4), Value::Bool(true)));
            }
        }
        let mut message = vec![0xff; 32];
        message.push(commands::CONFIG);
        message.push(sub as u8);
        let mut members = vec![(int(1), int(sub as i64))];
        if !params.is_empty() {
            let params = Value::Map(params);
            message.extend_from_slice(&cbor::encode(params.clone()));
            members.push((int(2), params));
        }
        let auth = c & 0x03;
        members.extend(self.auth(auth, &message, 4, 3));
        let (status, _) = self.call(&request(commands::CONFIG, members), Verdict::Approved);
        if status == StatusCode::Ok.code() && self.pin.is_some() {
            assert_eq!(
                auth, AUTH_TOKEN,
                "authenticatorConfig without the token's MAC"
            );
        }
    }
}

fn protocol(b: u8) -> Protocol {
    if b & 0x01 != 0 {
        Protocol::One
    } else {
        Protocol::Two
    }
}

fn verdict(byte: u8) -> Verdict {
    match byte % 3 {
        0 => Verdict::Approved,
        1 => Verdict::Denied,
        _ => Verdict::TimedOut,
    }
}

fn client_pin(protocol: Protocol, sub: u64, more: Vec<(Value, Value)>) -> Vec<u8> {
    let mut params = vec![
        (int(1), int(protocol.number() as i64)),
        (int(2), int(sub as i64)),
    ];
    params.extend(more);
    request(CLIENT_PIN, params)
}
