//! What a security key must hold whatever the platform sends (issue 13):
//! credProtect on every path that opens a credential, no PRF secret without
//! the person's presence, user verification before an excludeList answer,
//! and U2F attestation that does not link one registration to another.
//! `docs/threat-model.md` cites these tests by name.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use rand::SeedableRng;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::store::Store;
use softkey_authenticator::{AttestationMode, Config, PromptAction, StatusCode, Verdict};
use support::*;

/// A credential for example.com made over CTAP2 with these extensions:
/// its ID, and the makeCredential reply.
fn made(h: &mut Harness, mc: MakeCredential) -> (Vec<u8>, Value) {
    let reply = h.call(&mc.encode()).unwrap();
    (credential_id(&reply), reply)
}

/// A non-discoverable ES256 credential with credProtect `level`: a U2F key
/// handle for the application SHA-256("example.com").
fn ctap2_key_handle(h: &mut Harness, level: i64) -> Vec<u8> {
    made(
        h,
        MakeCredential {
            extensions: vec![(text("credProtect"), int(level))],
            ..Default::default()
        },
    )
    .0
}

fn flipped(id: &[u8]) -> Vec<u8> {
    let mut other = id.to_vec();
    *other.last_mut().unwrap() ^= 0x01;
    other
}

// --- 1. U2F and credProtect ---------------------------------------------

/// CTAP 2.1 §12.1: a userVerificationRequired credential is never used
/// without UV, and U2F has none. Its key handle gets the answer a key handle
/// of another device gets, for every control byte, without a prompt.
#[test]
fn u2f_refuses_cred_protect_level_three_handle_like_a_foreign_one() {
    let mut h = Harness::new();
    let handle = ctap2_key_handle(&mut h, 3);
    let foreign = flipped(&handle);
    let application = sha256(b"example.com");
    for control in [0x07, 0x03, 0x08] {
        let ours = h.ctap1_now(&u2f_authenticate_apdu(&application, &handle, control));
        let theirs = h.ctap1_now(&u2f_authenticate_apdu(&application, &foreign, control));
        assert_eq!(ours, [0x6a, 0x80], "P1 {control:02x}: SW_WRONG_DATA");
        assert_eq!(ours, theirs, "P1 {control:02x}: as a foreign handle");
    }
}

/// Levels 1 and 2 stay usable over U2F: a U2F key handle is always named by
/// the relying party, as an allowList entry is.
#[test]
fn u2f_still_accepts_cred_protect_level_one_and_two_handles() {
    let mut h = Harness::new();
    let application = sha256(b"example.com");
    for level in [1, 2] {
        let handle = ctap2_key_handle(&mut h, level);
        assert_eq!(
            u2f_authenticate(&mut h, &application, &handle, 0x07).1,
            0x6985,
            "level {level}: check-only knows the handle"
        );
        assert_eq!(
            u2f_authenticate(&mut h, &application, &handle, 0x03).1,
            0x9000,
            "level {level}: signs after the touch"
        );
    }
}

// --- 2. Silent assertions and extensions ---------------------------------

fn uv_harness() -> Harness {
    Harness::with_config(Config {
        built_in_uv: true,
        ..Config::default()
    })
}

/// On a built-in-UV authenticator: a non-discoverable credential with
/// credProtect 3, made with UV.
fn verified_level_three(h: &mut Harness) -> Vec<u8> {
    made(
        h,
        MakeCredential {
            uv: Some(true),
            extensions: vec![(text("credProtect"), int(3))],
            ..Default::default()
        },
    )
    .0
}

fn auth_data_flags(assertion: &Value) -> u8 {
    field(assertion, 2).unwrap().as_bytes().unwrap()[32]
}

fn hmac_secret_credential(h: &mut Harness, rk: bool) -> Vec<u8> {
    made(
        h,
        MakeCredential {
            rk: Some(rk),
            extensions: vec![(text("hmac-secret"), Value::Bool(true))],
            ..Default::default()
        },
    )
    .0
}

/// CTAP 2.2 hmac-secret (CTAP 2.1 §12.5), authenticatorGetAssertion processing:
/// "up" false is CTAP2_ERR_UNSUPPORTED_OPTION. No process that can write to
/// the device derives a PRF secret without the person's touch: not through
/// the allowList, not through discovery, not with built-in UV either.
#[test]
fn silent_assertion_with_hmac_secret_is_unsupported_option() {
    for protocol in [Protocol::One, Protocol::Two] {
        for rk in [false, true] {
            let mut h = Harness::new();
            let id = hmac_secret_credential(&mut h, rk);
            let mut sender = SaltSender::new(&mut h, protocol);
            let ga = |sender: &mut SaltSender, up: Option<bool>, allow: Option<Vec<Vec<u8>>>| {
                GetAssertion {
                    allow,
                    up,
                    extensions: vec![(text("hmac-secret"), sender.input(&[0x51; 32]))],
                    ..Default::default()
                }
                .encode()
            };
            let mut silent = vec![Some(vec![id.clone()])];
            if rk {
                silent.push(None); // discovered
            }
            for allow in silent {
                let reply = h.reply_now(&ga(&mut sender, Some(false), allow));
                assert_eq!(
                    decode_reply(&reply),
                    Err(StatusCode::UnsupportedOption),
                    "{protocol:?}, rk {rk}"
                );
            }
            // With the touch, the output is there.
            let reply = h
                .call(&ga(&mut sender, None, Some(vec![id.clone()])))
                .unwrap();
            let outputs = outputs_of(&reply, 2).unwrap();
            assert_eq!(sender.open(&outputs).len(), 32);
        }
    }
    let mut h = uv_harness();
    let id = hmac_secret_credential(&mut h, false);
    let mut sender = SaltSender::new(&mut h, Protocol::Two);
    let ga = GetAssertion {
        allow: Some(vec![id]),
        up: Some(false),
        uv: Some(true),
        extensions: vec![(text("hmac-secret"), sender.input(&[0x52; 32]))],
        ..Default::default()
    };
    assert_eq!(
        decode_reply(&h.reply_now(&ga.encode())),
        Err(StatusCode::UnsupportedOption),
        "built-in UV does not stand in for presence"
    );
}

/// The "up" check is the extension's first step: a silent request is refused
/// before its salts are decrypted or authenticated.
#[test]
fn silent_hmac_secret_is_refused_before_its_salts_are_checked() {
    let mut h = Harness::new();
    let id = hmac_secret_credential(&mut h, false);
    let mut sender = SaltSender::new(&mut h, Protocol::Two);
    let mut input = sender.input(&[0x53; 32]);
    if let Value::Map(entries) = &mut input {
        entries[2].1 = bytes(&[0; 32]); // saltAuth that does not verify
    }
    let ga = GetAssertion {
        allow: Some(vec![id]),
        up: Some(false),
        extensions: vec![(text("hmac-secret"), input)],
        ..Default::default()
    };
    assert_eq!(
        decode_reply(&h.reply_now(&ga.encode())),
        Err(StatusCode::UnsupportedOption)
    );
}

/// credBlob and largeBlobKey (CTAP 2.1 §12.2, §12.3; CTAP 2.2 alike) put no presence
/// condition on their getAssertion outputs: a silent assertion of a
/// credential the request may see returns both (credProtect decides which
/// credentials it may see). The assertion says UP = 0.
#[test]
fn silent_assertion_still_returns_cred_blob_and_large_blob_key() {
    let mut h = Harness::new();
    let blob = b"silent-blob".to_vec();
    let (id, reply) = made(
        &mut h,
        MakeCredential {
            rk: Some(true),
            extensions: vec![
                (text("credBlob"), bytes(&blob)),
                (text("largeBlobKey"), Value::Bool(true)),
            ],
            ..Default::default()
        },
    );
    let key = field(&reply, 5).unwrap().clone();
    let ga = GetAssertion {
        allow: Some(vec![id]),
        up: Some(false),
        extensions: vec![
            (text("credBlob"), Value::Bool(true)),
            (text("largeBlobKey"), Value::Bool(true)),
        ],
        ..Default::default()
    };
    let assertion = decode_reply(&h.reply_now(&ga.encode())).unwrap();
    assert_eq!(auth_data_flags(&assertion) & 0x01, 0, "UP clear");
    assert_eq!(
        outputs_of(&assertion, 2),
        Some(Value::Map(vec![(text("credBlob"), bytes(&blob))]))
    );
    assert_eq!(field(&assertion, 7), Some(&key));
}

/// The audit of every path that opens a credential found one more: with
/// "uv": true, getAssertion located credentials before built-in UV, so the
/// answer itself (a UV prompt, or NO_CREDENTIALS at once) told whether a
/// level-3 credential was there. CTAP 2.1 §6.2.2 collects UV (step 6)
/// before it locates credentials (step 7); now only a verified user learns
/// the answer.
#[test]
fn get_assertion_with_uv_requested_verifies_before_revealing_level_three_credentials() {
    let mut h = uv_harness();
    let id = verified_level_three(&mut h);
    for (named, ours) in [(id.clone(), true), (flipped(&id), false)] {
        let ga = GetAssertion::allowing(&[&named]).uv(true).encode();
        assert_eq!(
            h.prompt_for(&ga).action,
            PromptAction::Verify,
            "ours {ours}"
        );
        assert_eq!(
            decode_reply(&h.answer(Verdict::Denied)),
            Err(StatusCode::OperationDenied)
        );
        assert_eq!(
            h.prompt_for(&ga).action,
            PromptAction::Verify,
            "ours {ours}"
        );
        let reply = decode_reply(&h.answer(Verdict::Approved));
        if ours {
            assert_eq!(auth_data_flags(&reply.unwrap()) & 0x05, 0x05, "UP and UV");
        } else {
            assert_eq!(reply, Err(StatusCode::NoCredentials));
        }
    }
    // Discovery for a relying party with no credential asks for UV as well.
    let ga = GetAssertion::default()
        .rp("other.example")
        .uv(true)
        .encode();
    assert_eq!(h.prompt_for(&ga).action, PromptAction::Verify);
    assert_eq!(
        decode_reply(&h.answer(Verdict::Approved)),
        Err(StatusCode::NoCredentials)
    );
}

// --- 5. excludeList and built-in UV --------------------------------------

fn uv_retries(h: &mut Harness) -> i128 {
    let reply = h
        .call(&request(0x06, vec![(int(1), int(2)), (int(2), int(7))]))
        .unwrap();
    i128::from(field(&reply, 5).unwrap().as_integer().unwrap())
}

/// CTAP 2.1 §6.1.2: built-in user verification comes before the
/// excludeList decision, and a userVerificationRequired credential
/// only counts for a verified user. So a request that asks for UV gets the
/// UV prompt, not a touch that already tells a level-3 credential is there;
/// failed UV reveals nothing and costs a retry.
#[test]
fn exclude_list_hit_on_level_three_credential_runs_built_in_uv_first() {
    let mut h = uv_harness();
    let id = verified_level_three(&mut h);
    let excluding = MakeCredential {
        user_id: b"user-2".to_vec(),
        uv: Some(true),
        exclude: vec![id],
        ..Default::default()
    }
    .encode();
    assert_eq!(h.prompt_for(&excluding).action, PromptAction::Verify);
    assert_eq!(
        decode_reply(&h.answer(Verdict::Denied)),
        Err(StatusCode::OperationDenied)
    );
    assert_eq!(uv_retries(&mut h), 7, "the failed UV counted");
    assert_eq!(h.prompt_for(&excluding).action, PromptAction::Verify);
    assert_eq!(
        decode_reply(&h.answer(Verdict::Approved)),
        Err(StatusCode::CredentialExcluded)
    );
    assert_eq!(uv_retries(&mut h), 8, "the verification succeeded");
}

/// The same order for every level: with UV asked for, the one prompt is
/// built-in UV (its evidence of presence stands for the touch), then
/// CREDENTIAL_EXCLUDED.
#[test]
fn exclude_list_hit_with_uv_requested_asks_for_uv_not_a_touch() {
    for level in [1, 2, 3] {
        let mut h = uv_harness();
        let (id, _) = made(
            &mut h,
            MakeCredential {
                rk: Some(true),
                uv: Some(true),
                extensions: vec![(text("credProtect"), int(level))],
                ..Default::default()
            },
        );
        let excluding = MakeCredential {
            user_id: b"user-2".to_vec(),
            rk: Some(true),
            uv: Some(true),
            exclude: vec![id],
            ..Default::default()
        };
        assert_eq!(
            h.prompt_for(&excluding.encode()).action,
            PromptAction::Verify,
            "level {level}"
        );
        assert_eq!(
            decode_reply(&h.answer(Verdict::Approved)),
            Err(StatusCode::CredentialExcluded),
            "level {level}"
        );
        let stored = h.auth.store_mut().discoverable_count().unwrap();
        assert_eq!(stored, 1, "level {level}: nothing was made");
    }
}

// --- 12. U2F attestation -------------------------------------------------

fn certificate(der: &[u8]) -> x509_cert::Certificate {
    <x509_cert::Certificate as x509_cert::der::Decode>::from_der(der).unwrap()
}

/// A U2F registration is attested by a fresh key with a self-signed
/// certificate (the signature over the registration verifies with it, as
/// `u2f_register` checks): no two registrations, for one site or two, before
/// or after a reset, share a key or a serial number, and the certificates
/// carry no per-device name.
#[test]
fn u2f_registrations_are_not_linked_by_their_attestation_certificate() {
    let mut h = Harness::new();
    let mut certificates = vec![
        u2f_register(&mut h, &sha256(b"a.example")).certificate,
        u2f_register(&mut h, &sha256(b"b.example")).certificate,
        u2f_register(&mut h, &sha256(b"a.example")).certificate,
    ];
    h.call(&[0x07]).unwrap();
    certificates.push(u2f_register(&mut h, &sha256(b"a.example")).certificate);
    let parsed: Vec<_> = certificates.iter().map(|c| certificate(c)).collect();
    for (i, a) in parsed.iter().enumerate() {
        assert_eq!(a.tbs_certificate().issuer(), a.tbs_certificate().subject());
        assert_eq!(
            a.tbs_certificate().subject(),
            parsed[0].tbs_certificate().subject()
        );
        for b in &parsed[i + 1..] {
            let key = |c: &x509_cert::Certificate| {
                c.tbs_certificate()
                    .subject_public_key_info()
                    .subject_public_key
                    .raw_bytes()
                    .to_vec()
            };
            assert_ne!(key(a), key(b), "an attestation key was used twice");
            assert_ne!(
                a.tbs_certificate().serial_number(),
                b.tbs_certificate().serial_number()
            );
        }
    }
}

/// Device attestation is the embedder's explicit choice
/// (`Config::attestation = AttestationMode::Certificate`, the setting that
/// also makes `packed` carry x5c): then U2F signs with the vault's
/// attestation identity, whose root relying parties may be given.
#[test]
fn u2f_uses_the_device_attestation_identity_only_when_chosen() {
    let mut h = Harness::with_config(Config {
        attestation: AttestationMode::Certificate,
        ..Config::default()
    });
    let first = u2f_register(&mut h, &sha256(b"a.example")).certificate;
    let second = u2f_register(&mut h, &sha256(b"b.example")).certificate;
    assert_eq!(first, second);
    let identity = softkey_authenticator::attestation::load_or_create(
        h.auth.store_mut(),
        softkey_authenticator::AAGUID,
        &mut rand::rngs::StdRng::from_seed([9; 32]),
    )
    .unwrap();
    assert_eq!(first, identity.leaf_der());
}
