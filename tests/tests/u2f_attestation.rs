//! U2F registrations made by the core, as a WebAuthn relying party receives
//! them (`fido-u2f`, WebAuthn §8.6), checked by softkey-rp's verifier: the
//! single-use attestation of the default and the device attestation an
//! embedder may choose both verify; a registration signed by another key
//! does not.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Instant, SystemTime};

use ciborium::Value;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{AttestationMode, Authenticator, Config, Outcome, Verdict};
use softkey_rp::attestation::AttestationObject;
use softkey_rp::auth_data::AuthenticatorData;
use softkey_rp::{AttestationPolicy, AttestationType};

const CHALLENGE: [u8; 32] = [0x3c; 32];

/// A U2F registration: (public key, key handle, certificate, signature).
struct Registration {
    public_key: Vec<u8>,
    key_handle: Vec<u8>,
    certificate: Vec<u8>,
    signature: Vec<u8>,
}

fn register(mode: AttestationMode, application: &[u8; 32], seed: u64) -> Registration {
    let now = Instant::now();
    let mut auth = Authenticator::new(
        Config {
            attestation: mode,
            ctap1: true,
            ..Config::default()
        },
        MemoryStore::new(Secret32::new([0x21; 32])),
        StdRng::seed_from_u64(seed),
        now,
    );
    let mut apdu = vec![0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x40];
    apdu.extend_from_slice(&CHALLENGE);
    apdu.extend_from_slice(application);
    apdu.extend_from_slice(&[0x00, 0x00]);
    let Outcome::AwaitUser(_) = auth.handle_ctap1(&apdu, now) else {
        panic!("U2F_REGISTER asks for presence");
    };
    let Outcome::Reply(reply) = auth.resume(Verdict::Approved, now) else {
        panic!("one prompt");
    };
    let (data, status) = reply.split_at(reply.len() - 2);
    assert_eq!(status, [0x90, 0x00]);
    let key_length = usize::from(data[66]);
    let rest = &data[67 + key_length..];
    let certificate_length = 4 + usize::from(u16::from_be_bytes([rest[2], rest[3]]));
    Registration {
        public_key: data[1..66].to_vec(),
        key_handle: data[67..67 + key_length].to_vec(),
        certificate: rest[..certificate_length].to_vec(),
        signature: rest[certificate_length..].to_vec(),
    }
}

/// The attestationObject a WebAuthn client makes of a U2F registration
/// (CTAP 2.1 §10.2.2: authData from the registration, fmt fido-u2f).
fn attestation_object(application: &[u8; 32], registration: &Registration) -> Vec<u8> {
    let cose_key = Value::Map(vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(&registration.public_key[1..33])),
        (int(-3), bytes(&registration.public_key[33..65])),
    ]);
    let mut auth_data = application.to_vec();
    auth_data.push(0x41); // UP, AT
    auth_data.extend_from_slice(&[0; 4]);
    auth_data.extend_from_slice(&[0; 16]); // AAGUID
    auth_data.extend_from_slice(&(registration.key_handle.len() as u16).to_be_bytes());
    auth_data.extend_from_slice(&registration.key_handle);
    auth_data.extend_from_slice(&cbor::encode(cose_key));
    cbor::encode(Value::Map(vec![
        (text("fmt"), text("fido-u2f")),
        (
            text("attStmt"),
            Value::Map(vec![
                (text("sig"), bytes(&registration.signature)),
                (
                    text("x5c"),
                    Value::Array(vec![bytes(&registration.certificate)]),
                ),
            ]),
        ),
        (text("authData"), bytes(&auth_data)),
    ]))
}

fn verify(object: &[u8]) -> Result<AttestationType, softkey_rp::Error> {
    let object = AttestationObject::parse(object)?;
    let auth_data = AuthenticatorData::parse(&object.raw_auth_data)?;
    object
        .verify(
            &auth_data,
            &CHALLENGE,
            &AttestationPolicy::default(),
            SystemTime::now(),
        )
        .map(|outcome| {
            assert_eq!(outcome.format, "fido-u2f");
            outcome.attestation_type
        })
}

#[test]
fn relying_party_accepts_single_use_and_device_u2f_attestation() {
    let application = softkey_authenticator::crypto::sha256(b"example.com");
    for mode in [
        AttestationMode::SelfAttestation,
        AttestationMode::Certificate,
    ] {
        let registration = register(mode, &application, 21);
        assert_eq!(
            verify(&attestation_object(&application, &registration)).unwrap(),
            AttestationType::Basic,
            "{mode:?}"
        );
        // The same registration under another device's certificate (another
        // key) is refused: the check above could fail.
        let other = register(mode, &application, 22);
        let forged = Registration {
            certificate: other.certificate,
            ..registration
        };
        assert!(verify(&attestation_object(&application, &forged)).is_err());
    }
}
