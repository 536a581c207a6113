//! Extensions through the whole core: credProtect, hmac-secret(-mc), credBlob,
//! largeBlobKey. Requests come from the fixture builder (`MakeCredential`,
//! `GetAssertion` with `.ext(…)`); user verification comes from built-in UV
//! (`"uv": true`), which the harness approves.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::pin::Protocol;
use support::*;

fn extensions_in_info(h: &mut Harness) -> Vec<String> {
    let info = h.call(&[0x04]).unwrap();
    field(&info, 2)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_text().unwrap().to_owned())
        .collect()
}

/// A discoverable credential made with UV (`rk` and `uv` both `both`).
fn made_with(user: &[u8], both: bool) -> MakeCredential {
    MakeCredential::for_user(user).rk(both).uv(both)
}

#[test]
fn get_info_lists_the_extensions_built() {
    let mut h = Harness::new();
    let listed = extensions_in_info(&mut h);
    assert!(listed.contains(&"credProtect".to_owned()));
    assert!(listed.contains(&"hmac-secret".to_owned()));
    assert!(listed.contains(&"credBlob".to_owned()));
    assert!(listed.contains(&"largeBlobKey".to_owned()));
    let info = h.call(&[0x04]).unwrap();
    let options = field(&info, 4).unwrap();
    assert_eq!(text_field(options, "largeBlobs"), Some(&Value::Bool(true)));
    assert_eq!(
        field(&info, 0x0B),
        Some(&int(65536)),
        "maxSerializedLargeBlobArray"
    );
    let info = h.call(&[0x04]).unwrap();
    assert_eq!(field(&info, 0x0F), Some(&int(32)), "maxCredBlobLength");
    assert!(listed.contains(&"hmac-secret-mc".to_owned()));
    assert!(listed.contains(&"minPinLength".to_owned()));
}

#[test]
fn cred_protect_is_reported_and_stored() {
    let mut h = uv_harness();
    for level in 1..=3 {
        let reply = made_with(format!("user-{level}").as_bytes(), true)
            .ext("credProtect", int(level))
            .call(&mut h)
            .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credProtect"), int(level))]))
        );
    }
    // Not asked: no output, the default level 1.
    let reply = MakeCredential::for_user(b"plain").call(&mut h).unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    // A number that is no level is ignored; a wrong type is an error.
    let x = MakeCredential::for_user(b"x");
    let reply = x.clone().ext("credProtect", int(7)).call(&mut h).unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    assert_eq!(
        x.ext("credProtect", text("3")).call(&mut h),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn cred_protect_levels_gate_get_assertion() {
    let mut h = uv_harness();
    let ids: Vec<_> = (1..=3)
        .map(|level| {
            made_with(format!("user-{level}").as_bytes(), true)
                .ext("credProtect", int(level))
                .make(&mut h)
        })
        .collect();
    // Discovered without UV: only level 1.
    let reply = GetAssertion::default().call(&mut h).unwrap();
    assert_eq!(field(&reply, 5), None, "one credential");
    assert_eq!(credential_id_of(&reply), ids[0]);
    // Discovered with UV: all three.
    let reply = GetAssertion::default().uv(true).call(&mut h).unwrap();
    assert_eq!(field(&reply, 5), Some(&int(3)));
    // Named in the allowList without UV: levels 1 and 2, never 3.
    for (index, expected) in [(0, true), (1, true), (2, false)] {
        let result = GetAssertion::allowing(&[&ids[index]]).call(&mut h);
        assert_eq!(result.is_ok(), expected, "level {}", index + 1);
        if !expected {
            assert_eq!(result, Err(StatusCode::NoCredentials));
        }
    }
    // With UV, level 3 through the allowList too.
    assert!(
        GetAssertion::allowing(&[&ids[2]])
            .uv(true)
            .call(&mut h)
            .is_ok()
    );
}

#[test]
fn cred_protect_survives_the_sealed_id() {
    let mut h = uv_harness();
    let id = MakeCredential::for_user(b"u")
        .uv(true)
        .ext("credProtect", int(3))
        .make(&mut h);
    assert_eq!(
        GetAssertion::allowing(&[&id]).call(&mut h),
        Err(StatusCode::NoCredentials)
    );
    assert!(GetAssertion::allowing(&[&id]).uv(true).call(&mut h).is_ok());
}

#[test]
fn exclude_list_skips_level_three_without_uv() {
    let mut h = uv_harness();
    let id = MakeCredential::for_user(b"u")
        .uv(true)
        .ext("credProtect", int(3))
        .make(&mut h);
    let exclude = |uv: bool| MakeCredential::for_user(b"v").exclude(&[&id]).uv(uv);
    assert!(exclude(false).call(&mut h).is_ok());
    assert_eq!(
        exclude(true).call(&mut h),
        Err(StatusCode::CredentialExcluded)
    );
}

fn hmac_secret_output(
    h: &mut Harness,
    sender: &mut SaltSender,
    id: &[u8],
    uv: bool,
    salts: &[u8],
) -> Vec<u8> {
    let input = sender.input(salts);
    let reply = GetAssertion::allowing(&[id])
        .uv(uv)
        .ext("hmac-secret", input)
        .call(h)
        .unwrap();
    sender.open(&outputs_of(&reply, 2).unwrap())
}

#[test]
fn hmac_secret_gives_stable_outputs_per_uv_state() {
    for protocol in [Protocol::One, Protocol::Two] {
        for rk in [false, true] {
            let mut h = uv_harness();
            let reply = made_with(b"u", rk)
                .ext("hmac-secret", Value::Bool(true))
                .call(&mut h)
                .unwrap();
            assert_eq!(
                outputs_of(&reply, 2),
                Some(Value::Map(vec![(text("hmac-secret"), Value::Bool(true))]))
            );
            let id = credential_id(&reply);
            let mut sender = SaltSender::new(&mut h, protocol);
            let salt1 = [0x01; 32];
            let salt2 = [0x02; 32];
            let a = hmac_secret_output(&mut h, &mut sender, &id, false, &salt1);
            let b = hmac_secret_output(&mut h, &mut sender, &id, false, &salt1);
            assert_eq!(a.len(), 32);
            assert_eq!(a, b, "same salt, same output");
            let both =
                hmac_secret_output(&mut h, &mut sender, &id, false, &[salt1, salt2].concat());
            assert_eq!(both.len(), 64);
            assert_eq!(&both[..32], &a[..]);
            assert_ne!(&both[32..], &a[..]);
            let verified = hmac_secret_output(&mut h, &mut sender, &id, true, &salt1);
            assert_ne!(verified, a, "CredRandomWithUV differs from WithoutUV");
        }
    }
}

#[test]
fn hmac_secret_errors() {
    let mut h = uv_harness();
    let id = MakeCredential::for_user(b"u")
        .ext("hmac-secret", Value::Bool(true))
        .make(&mut h);
    let mut sender = SaltSender::new(&mut h, Protocol::Two);
    let mut assert_with = |input: Value, expected| {
        let request = GetAssertion::allowing(&[&id]).ext("hmac-secret", input);
        assert_eq!(request.call(&mut h), Err(expected));
    };
    // A saltAuth that does not verify.
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries[2].1 = bytes(&[0; 32]);
    }
    assert_with(input, StatusCode::PinAuthInvalid);
    // Salts of 48 bytes.
    assert_with(sender.input(&[0; 48]), StatusCode::InvalidParameter);
    // A missing saltAuth; an unsupported protocol.
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries.remove(2);
    }
    assert_with(input, StatusCode::MissingParameter);
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries[3].1 = int(3);
    }
    assert_with(input, StatusCode::InvalidParameter);
    // "hmac-secret" must be a boolean at creation.
    assert_eq!(
        MakeCredential::for_user(b"u")
            .ext("hmac-secret", int(1))
            .call(&mut h),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn hmac_secret_without_cred_random_gives_no_output() {
    let mut h = uv_harness();
    let id = MakeCredential::for_user(b"u").make(&mut h);
    let mut sender = SaltSender::new(&mut h, Protocol::One);
    let input = sender.input(&[0; 32]);
    let reply = GetAssertion::allowing(&[&id])
        .ext("hmac-secret", input)
        .call(&mut h)
        .unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
}

#[test]
fn hmac_secret_mc_matches_later_assertions() {
    for (protocol, uv) in [(Protocol::One, false), (Protocol::Two, true)] {
        let mut h = uv_harness();
        let mut sender = SaltSender::new(&mut h, protocol);
        let salts = [[0x05; 32], [0x06; 32]].concat();
        let input = sender.input(&salts);
        let reply = made_with(b"u", uv)
            .ext("hmac-secret", Value::Bool(true))
            .ext("hmac-secret-mc", input)
            .call(&mut h)
            .unwrap();
        let outputs = outputs_of(&reply, 2).unwrap();
        assert_eq!(
            text_field(&outputs, "hmac-secret"),
            Some(&Value::Bool(true))
        );
        let at_creation = sender.open(&outputs);
        assert_eq!(at_creation.len(), 64);
        let id = credential_id(&reply);
        let later = hmac_secret_output(&mut h, &mut sender, &id, uv, &salts);
        assert_eq!(at_creation, later);
    }
}

#[test]
fn cred_blob_is_kept_and_returned() {
    for rk in [false, true] {
        let mut h = uv_harness();
        let blob = vec![0x42; 32];
        let reply = made_with(b"u", rk)
            .ext("credBlob", bytes(&blob))
            .call(&mut h)
            .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credBlob"), Value::Bool(true))]))
        );
        let id = credential_id(&reply);
        let reply = GetAssertion::allowing(&[&id])
            .ext("credBlob", Value::Bool(true))
            .call(&mut h)
            .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credBlob"), bytes(&blob))]))
        );
        // Not asked: no output.
        let reply = GetAssertion::allowing(&[&id]).call(&mut h).unwrap();
        assert_eq!(outputs_of(&reply, 2), None);
    }
}

#[test]
fn cred_blob_too_long_or_absent() {
    let mut h = uv_harness();
    let reply = MakeCredential::for_user(b"u")
        .ext("credBlob", bytes(&[1; 33]))
        .call(&mut h)
        .unwrap();
    assert_eq!(
        outputs_of(&reply, 2),
        Some(Value::Map(vec![(text("credBlob"), Value::Bool(false))]))
    );
    let id = credential_id(&reply);
    let reply = GetAssertion::allowing(&[&id])
        .ext("credBlob", Value::Bool(true))
        .call(&mut h)
        .unwrap();
    assert_eq!(
        outputs_of(&reply, 2),
        Some(Value::Map(vec![(text("credBlob"), bytes(&[]))]))
    );
    assert_eq!(
        MakeCredential::for_user(b"u")
            .ext("credBlob", Value::Bool(true))
            .call(&mut h),
        Err(StatusCode::CborUnexpectedType)
    );
    assert_eq!(
        GetAssertion::allowing(&[&id])
            .ext("credBlob", bytes(&[1]))
            .call(&mut h),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn sealed_id_with_every_optional_field_fits_the_advertised_length() {
    let mut h = uv_harness();
    let info = h.call(&[0x04]).unwrap();
    let max = i128::from(field(&info, 8).unwrap().as_integer().unwrap()) as usize;
    for alg in [-7, -8] {
        let id = MakeCredential::for_user(b"u")
            .algs(&[alg])
            .uv(true)
            .ext("credProtect", int(3))
            .ext("credBlob", bytes(&[7; 32]))
            .ext("hmac-secret", Value::Bool(true))
            .ext("thirdPartyPayment", Value::Bool(true))
            .make(&mut h);
        assert!(id.len() <= max);
    }
}

#[test]
fn large_blob_key_for_discoverable_credentials() {
    let mut h = uv_harness();
    let reply = made_with(b"u", true)
        .ext("largeBlobKey", Value::Bool(true))
        .call(&mut h)
        .unwrap();
    let key = field(&reply, 5).unwrap().as_bytes().unwrap().clone();
    assert_eq!(key.len(), 32);
    assert_eq!(outputs_of(&reply, 2), None, "the key is not in authData");
    let id = credential_id(&reply);
    let assertion = || GetAssertion::allowing(&[&id]);
    let reply = assertion()
        .ext("largeBlobKey", Value::Bool(true))
        .call(&mut h)
        .unwrap();
    assert_eq!(field(&reply, 7), Some(&bytes(&key)));
    let reply = assertion().call(&mut h).unwrap();
    assert_eq!(field(&reply, 7), None);
    // Without rk, or any value but true: INVALID_OPTION.
    for (request, value) in [
        (made_with(b"v", false), true),
        (made_with(b"v", true), false),
    ] {
        assert_eq!(
            request.ext("largeBlobKey", Value::Bool(value)).call(&mut h),
            Err(StatusCode::InvalidOption)
        );
    }
    assert_eq!(
        assertion()
            .ext("largeBlobKey", Value::Bool(false))
            .call(&mut h),
        Err(StatusCode::InvalidOption)
    );
}
