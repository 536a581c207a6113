//! The platform's side of authenticatorClientPIN in a command sequence: it
//! sets a PIN and obtains pinUvAuthTokens (CTAP 2.1 §6.5.5), which the
//! large-blob writes then sign with.
//!
//! What must hold, whatever came before: a PIN is set once (then only
//! changed); a token is never issued for a wrong PIN, nor before a PIN exists.

use super::*;
use crate::pin::{KeyAgreementKey, Protocol, SharedSecret};

/// The PIN the sequence sets and then presents.
pub const PIN: &[u8] = b"1234";

/// The PIN presented for a deliberate mismatch.
const WRONG_PIN: &[u8] = b"4321";

/// A pinUvAuthToken the platform holds, with what it was granted.
#[derive(Debug)]
pub(super) struct HeldToken {
    /// The protocol it was obtained with (the MAC it is used with).
    pub(super) protocol: Protocol,
    /// The decrypted token.
    pub(super) token: Vec<u8>,
    /// The permissions asked for.
    pub(super) permissions: u8,
    /// False once a power cycle or a reset made the authenticator forget it.
    pub(super) current: bool,
}

impl HeldToken {
    /// Whether the authenticator may still accept it for `permission`.
    pub(super) fn may_grant(&self, permission: u8) -> bool {
        self.current && self.permissions & permission != 0
    }
}

impl SequenceModel {
    /// [`Action::ClientPin`]: `op` bits 0–1 select setPIN, a token for the
    /// right PIN, a token for a wrong PIN, getPINRetries; bit 2 protocol one
    /// (else two); bit 3 the permissions RP ID `example.com`.
    pub(super) fn client_pin(&mut self, op: u8, permissions: u8) {
        let protocol = if op & 0x04 != 0 {
            Protocol::One
        } else {
            Protocol::Two
        };
        let rp_id = (op & 0x08 != 0).then_some(RP_IDS[0]);
        match op % 4 {
            0 => self.set_pin(protocol),
            1 => self.get_token(protocol, PIN, permissions, rp_id),
            2 => self.get_token(protocol, WRONG_PIN, permissions, rp_id),
            _ => {
                let request = request(
                    CLIENT_PIN,
                    vec![(int(1), int(protocol.number() as i64)), (int(2), int(1))],
                );
                let (status, _) = self.call(&request);
                assert_eq!(
                    status == StatusCode::Ok.code(),
                    self.pin_set,
                    "getPINRetries answered 0x{status:02x}"
                );
            }
        }
    }

    /// getKeyAgreement, then the platform's key and the shared secret.
    pub(super) fn agree(&mut self, protocol: Protocol) -> (Value, SharedSecret) {
        let request = request(
            CLIENT_PIN,
            vec![(int(1), int(protocol.number() as i64)), (int(2), int(2))],
        );
        let (status, reply) = self.call(&request);
        assert_eq!(status, StatusCode::Ok.code(), "getKeyAgreement failed");
        let theirs = reply
            .as_ref()
            .and_then(|r| field(r, 1))
            .expect("getKeyAgreement returns a key")
            .clone();
        let ours = KeyAgreementKey::generate(&mut self.platform_rng);
        let shared = ours
            .shared_secret(protocol, theirs)
            .expect("the authenticator's key-agreement key is a P-256 point");
        (ours.cose_public_key(), shared)
    }

    fn set_pin(&mut self, protocol: Protocol) {
        let (key, shared) = self.agree(protocol);
        let mut padded = PIN.to_vec();
        padded.resize(64, 0);
        let new_pin_enc = shared.encrypt(&mut self.platform_rng, &padded);
        let param = shared.authenticate(&new_pin_enc);
        let request = request(
            CLIENT_PIN,
            vec![
                (int(1), int(protocol.number() as i64)),
                (int(2), int(3)),
                (int(3), key),
                (int(4), bytes(&param)),
                (int(5), bytes(&new_pin_enc)),
            ],
        );
        let (status, _) = self.call(&request);
        if status == StatusCode::Ok.code() {
            assert!(!self.pin_set, "setPIN replaced a PIN that was set");
            self.pin_set = true;
        } else if !self.pin_set {
            panic!("setPIN on a fresh authenticator answered 0x{status:02x}");
        }
    }

    fn get_token(&mut self, protocol: Protocol, pin: &[u8], permissions: u8, rp_id: Option<&str>) {
        let (key, shared) = self.agree(protocol);
        let pin_hash_enc = shared.encrypt(&mut self.platform_rng, &sha256(pin)[..16]);
        let mut params = vec![
            (int(1), int(protocol.number() as i64)),
            (int(2), int(9)),
            (int(3), key),
            (int(6), bytes(&pin_hash_enc)),
            (int(9), int(i64::from(permissions))),
        ];
        if let Some(rp_id) = rp_id {
            params.push((int(10), text(rp_id)));
        }
        let (status, reply) = self.call(&request(CLIENT_PIN, params));
        if status != StatusCode::Ok.code() {
            return;
        }
        assert!(self.pin_set, "a token was issued with no PIN set");
        assert_eq!(pin, PIN, "a token was issued for a wrong PIN");
        let encrypted = reply
            .as_ref()
            .and_then(|r| field(r, 2))
            .and_then(Value::as_bytes)
            .expect("a token reply carries the encrypted token");
        let token = shared
            .decrypt(encrypted)
            .expect("the token decrypts under the shared secret");
        assert_eq!(token.len(), 32, "a pinUvAuthToken is 32 bytes");
        self.token = Some(HeldToken {
            protocol,
            token: token.to_vec(),
            permissions,
            current: true,
        });
    }
}
