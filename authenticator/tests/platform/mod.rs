//! The platform's side of the PIN/UV auth protocols, shared by the tests
//! that need a PIN, tokens, credential management or authenticatorConfig
//! (`mod platform;` beside `mod support;`).
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use ciborium::Value;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::pin::{KeyAgreementKey, Protocol, SharedSecret};

use crate::support::*;

pub const PIN: &str = "1234";
pub const MC: u64 = 0x01;
pub const GA: u64 = 0x02;
pub const CM: u64 = 0x04;
pub const ACFG: u64 = 0x20;

/// The platform's side of a PIN/UV auth protocol.
pub struct Platform {
    pub protocol: Protocol,
    pub rng: StdRng,
}

impl Platform {
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            rng: StdRng::seed_from_u64(7),
        }
    }

    pub fn number(&self) -> Value {
        int(self.protocol.number() as i64)
    }

    /// getKeyAgreement, then our key and the shared secret.
    pub fn agree(&mut self, h: &mut Harness) -> (Value, SharedSecret) {
        let reply = h
            .call(&client_pin(vec![(int(1), self.number()), (int(2), int(2))]))
            .unwrap();
        let theirs = field(&reply, 1).unwrap().clone();
        let ours = KeyAgreementKey::generate(&mut self.rng);
        let shared = ours.shared_secret(self.protocol, theirs).unwrap();
        (ours.cose_public_key(), shared)
    }

    pub fn padded(pin: &[u8]) -> Vec<u8> {
        let mut padded = pin.to_vec();
        padded.resize(64, 0);
        padded
    }

    pub fn set_pin_request(&mut self, h: &mut Harness, pin: &[u8]) -> Vec<u8> {
        let (key, shared) = self.agree(h);
        let new_pin_enc = shared.encrypt(&mut self.rng, &Self::padded(pin));
        let param = shared.authenticate(&new_pin_enc);
        client_pin(vec![
            (int(1), self.number()),
            (int(2), int(3)),
            (int(3), key),
            (int(4), bytes(&param)),
            (int(5), bytes(&new_pin_enc)),
        ])
    }

    pub fn set_pin(&mut self, h: &mut Harness, pin: &str) -> Result<Value, StatusCode> {
        let request = self.set_pin_request(h, pin.as_bytes());
        h.call(&request)
    }

    pub fn change_pin(
        &mut self,
        h: &mut Harness,
        old: &str,
        new: &str,
    ) -> Result<Value, StatusCode> {
        let (key, shared) = self.agree(h);
        let pin_hash_enc = shared.encrypt(&mut self.rng, &sha256(old.as_bytes())[..16]);
        let new_pin_enc = shared.encrypt(&mut self.rng, &Self::padded(new.as_bytes()));
        let mut message = new_pin_enc.clone();
        message.extend_from_slice(&pin_hash_enc);
        let param = shared.authenticate(&message);
        h.call(&client_pin(vec![
            (int(1), self.number()),
            (int(2), int(4)),
            (int(3), key),
            (int(4), bytes(&param)),
            (int(5), bytes(&new_pin_enc)),
            (int(6), bytes(&pin_hash_enc)),
        ]))
    }

    /// getPinUvAuthTokenUsingPinWithPermissions (or getPinToken without
    /// permissions); returns the decrypted token.
    pub fn token(
        &mut self,
        h: &mut Harness,
        pin: &str,
        permissions: Option<u64>,
        rp_id: Option<&str>,
    ) -> Result<Vec<u8>, StatusCode> {
        let (key, shared) = self.agree(h);
        let pin_hash_enc = shared.encrypt(&mut self.rng, &sha256(pin.as_bytes())[..16]);
        let mut params = vec![
            (int(1), self.number()),
            (int(2), int(if permissions.is_some() { 9 } else { 5 })),
            (int(3), key),
            (int(6), bytes(&pin_hash_enc)),
        ];
        if let Some(permissions) = permissions {
            params.push((int(9), int(permissions as i64)));
        }
        if let Some(rp_id) = rp_id {
            params.push((int(10), text(rp_id)));
        }
        let reply = h.call(&client_pin(params))?;
        let encrypted = field(&reply, 2).unwrap().as_bytes().unwrap();
        Ok(shared.decrypt(encrypted).unwrap().to_vec())
    }

    pub fn mac(&self, token: &[u8], message: &[u8]) -> Vec<u8> {
        self.protocol.authenticate(token, message).to_vec()
    }
}

pub fn client_pin(params: Vec<(Value, Value)>) -> Vec<u8> {
    request(0x06, params)
}

pub fn retries(h: &mut Harness) -> Result<i128, StatusCode> {
    let reply = h.call(&client_pin(vec![(int(1), int(2)), (int(2), int(1))]))?;
    Ok(field(&reply, 3).unwrap().as_integer().unwrap().into())
}

/// An authenticator with a PIN set ([`PIN`]), and the platform that set it.
pub fn with_pin(protocol: Protocol) -> (Harness, Platform) {
    with_pin_and(softkey_authenticator::Config::default(), protocol)
}

/// [`with_pin`] for an authenticator with `config`.
pub fn with_pin_and(
    config: softkey_authenticator::Config,
    protocol: Protocol,
) -> (Harness, Platform) {
    let mut h = Harness::with_config(config);
    let mut p = Platform::new(protocol);
    p.set_pin(&mut h, PIN).unwrap();
    (h, p)
}

pub fn both() -> [Protocol; 2] {
    [Protocol::One, Protocol::Two]
}

pub fn credman(
    h: &mut Harness,
    p: &Platform,
    token: &[u8],
    sub: u64,
    params: Option<Value>,
) -> Result<Value, StatusCode> {
    let mut message = vec![sub as u8];
    if let Some(params) = &params {
        message.extend_from_slice(&cbor::encode(params.clone()));
    }
    let mut map = vec![
        (int(1), int(sub as i64)),
        (int(3), p.number()),
        (int(4), bytes(&p.mac(token, &message))),
    ];
    if let Some(params) = params {
        map.push((int(2), params));
    }
    h.call(&request(0x0A, map))
}

pub fn metadata(h: &mut Harness, p: &Platform, token: &[u8]) -> Result<Value, StatusCode> {
    credman(h, p, token, 1, None)
}

pub fn config(
    h: &mut Harness,
    p: &Platform,
    token: Option<&[u8]>,
    sub: u64,
    params: Option<Value>,
) -> Result<Value, StatusCode> {
    let mut message = vec![0xff; 32];
    message.push(0x0d);
    message.push(sub as u8);
    if let Some(params) = &params {
        message.extend_from_slice(&cbor::encode(params.clone()));
    }
    let mut map = vec![(int(1), int(sub as i64))];
    if let Some(token) = token {
        map.push((int(3), p.number()));
        map.push((int(4), bytes(&p.mac(token, &message))));
    }
    if let Some(params) = params {
        map.push((int(2), params));
    }
    h.call(&request(0x0D, map))
}

pub fn info_option(h: &mut Harness, name: &str) -> Option<Value> {
    let info = h.call(&[0x04]).unwrap();
    text_field(field(&info, 4).unwrap(), name).cloned()
}

/// pcmr: persistent credential management, read-only (CTAP 2.2).
pub const PCMR: u64 = 0x40;

/// Decrypts `encIdentifier` / `encCredStoreState` the way python-fido2's
/// `Info._decrypt` does: HKDF-SHA-256 (salt 0³², `info`) to 16 bytes, then
/// AES-128-CBC with the first 16 bytes as IV.
pub fn decrypt_info_member(token: &[u8], info: &[u8], encrypted: &[u8]) -> [u8; 16] {
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};
    assert_eq!(encrypted.len(), 32, "IV ‖ one block");
    let mut key = [0u8; 16];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&[0u8; 32]), token)
        .expand(info, &mut key)
        .unwrap();
    let iv: [u8; 16] = encrypted[..16].try_into().unwrap();
    let mut block: [u8; 16] = encrypted[16..].try_into().unwrap();
    cbc::Decryptor::<aes::Aes128>::new((&key).into(), (&iv).into())
        .decrypt_block((&mut block).into());
    block
}

/// getInfo member `key` as bytes.
pub fn info_bytes(h: &mut Harness, key: i64) -> Vec<u8> {
    let info = h.call(&[0x04]).unwrap();
    field(&info, key).unwrap().as_bytes().unwrap().clone()
}

/// A discoverable credential made with a fresh mc token; its ID.
pub fn make_discoverable(
    h: &mut Harness,
    p: &mut Platform,
    pin: &str,
    rp_id: &str,
    user_id: &[u8],
) -> Vec<u8> {
    let token = p.token(h, pin, Some(MC), None).unwrap();
    MakeCredential::for_user(user_id)
        .rp(rp_id)
        .rk(true)
        .token(p.protocol, &token)
        .make(h)
}

/// An authenticator with built-in user verification and a PIN, and the
/// platform that set it.
pub fn built_in_uv_with_pin(protocol: Protocol) -> (Harness, Platform) {
    with_pin_and(
        softkey_authenticator::Config {
            built_in_uv: true,
            ..softkey_authenticator::Config::default()
        },
        protocol,
    )
}

impl Platform {
    /// getPinUvAuthTokenUsingUvWithPermissions for `permissions`, and the
    /// shared secret its answer is encrypted under.
    pub fn uv_token_request(
        &mut self,
        h: &mut Harness,
        permissions: u64,
    ) -> (Vec<u8>, SharedSecret) {
        let (key, shared) = self.agree(h);
        let request = client_pin(vec![
            (int(1), self.number()),
            (int(2), int(6)),
            (int(3), key),
            (int(9), int(permissions as i64)),
        ]);
        (request, shared)
    }
}
