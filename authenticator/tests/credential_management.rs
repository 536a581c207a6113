//! authenticatorCredentialManagement (CTAP 2.1 §6.8) with a PIN: metadata,
//! enumerating RPs and credentials, updating and deleting, RP-scoped tokens,
//! and the public key of every algorithm as makeCredential gave it.
#![allow(missing_docs, clippy::unwrap_used)]

mod platform;
mod support;

use ciborium::Value;
use platform::*;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::{Config, StatusCode};
use support::*;

#[test]
fn credential_management() {
    let (mut h, mut p) = with_pin(Protocol::One);
    for (user, rp) in [
        (b"u1", "example.com"),
        (b"u2", "example.com"),
        (b"u3", "b.example"),
    ] {
        make_discoverable(&mut h, &mut p, PIN, rp, user);
    }
    // No pinUvAuthParam; the wrong permission.
    assert_eq!(
        h.call(&request(0x0A, vec![(int(1), int(1))])),
        Err(StatusCode::PuatRequired)
    );
    let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &token),
        Err(StatusCode::PinAuthInvalid)
    );
    let token = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let meta = metadata(&mut h, &p, &token).unwrap();
    assert_eq!(field(&meta, 1), Some(&Value::from(3)));
    // Enumerate RPs.
    let first = credman(&mut h, &p, &token, 2, None).unwrap();
    assert_eq!(field(&first, 5), Some(&Value::from(2)));
    let second = h.call(&request(0x0A, vec![(int(1), int(3))])).unwrap();
    assert!(field(&second, 4).is_some());
    assert_eq!(
        h.call(&request(0x0A, vec![(int(1), int(3))])),
        Err(StatusCode::NotAllowed)
    );
    // The preview alias answers too.
    let mut message = vec![4u8];
    let params = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    message.extend_from_slice(&cbor::encode(params.clone()));
    let listed = h
        .call(&request(
            0x41,
            vec![
                (int(1), int(4)),
                (int(2), params),
                (int(3), int(1)),
                (int(4), bytes(&p.mac(&token, &message))),
            ],
        ))
        .unwrap();
    assert_eq!(field(&listed, 9), Some(&Value::from(2)));
    let next = h.call(&request(0x0A, vec![(int(1), int(5))])).unwrap();
    let id = text_field(field(&next, 7).unwrap(), "id").unwrap().clone();
    // Update, then delete.
    let user = Value::Map(vec![
        (text("id"), bytes(b"u2")),
        (text("name"), text("bob")),
    ]);
    let descriptor = Value::Map(vec![
        (text("id"), id.clone()),
        (text("type"), text("public-key")),
    ]);
    let update = |user: Value| {
        Some(Value::Map(vec![
            (int(2), descriptor.clone()),
            (int(3), user),
        ]))
    };
    credman(&mut h, &p, &token, 7, update(user)).unwrap();
    let wrong_user = Value::Map(vec![(text("id"), bytes(b"zz"))]);
    assert_eq!(
        credman(&mut h, &p, &token, 7, update(wrong_user)),
        Err(StatusCode::InvalidParameter)
    );
    credman(
        &mut h,
        &p,
        &token,
        6,
        Some(Value::Map(vec![(int(2), descriptor.clone())])),
    )
    .unwrap();
    assert_eq!(
        credman(
            &mut h,
            &p,
            &token,
            6,
            Some(Value::Map(vec![(int(2), descriptor)]))
        ),
        Err(StatusCode::NoCredentials)
    );
    assert_eq!(
        credman(&mut h, &p, &token, 0x10, None),
        Err(StatusCode::InvalidSubcommand)
    );
    // An RP-scoped token: not for metadata, not for another RP.
    let scoped = p.token(&mut h, PIN, Some(CM), Some("b.example")).unwrap();
    assert_eq!(
        metadata(&mut h, &p, &scoped),
        Err(StatusCode::PinAuthInvalid)
    );
    let other = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    assert_eq!(
        credman(&mut h, &p, &scoped, 4, Some(other)),
        Err(StatusCode::PinAuthInvalid)
    );
    let own = Value::Map(vec![(int(1), bytes(&sha256(b"b.example")))]);
    assert!(credman(&mut h, &p, &scoped, 4, Some(own)).is_ok());
}

#[test]
fn credential_management_lists_every_algorithms_public_key() {
    use softkey_authenticator::crypto::Algorithm;
    let (mut h, mut p) = with_pin_and(
        Config {
            algorithms: Algorithm::ALL.to_vec(),
            ..Config::default()
        },
        Protocol::Two,
    );
    let mut made = Vec::new();
    for (n, algorithm) in (1u8..).zip(Algorithm::ALL) {
        let token = p.token(&mut h, PIN, Some(MC), None).unwrap();
        let reply = MakeCredential::for_user(&[n])
            .rk(true)
            .algs(&[algorithm.cose_id()])
            .token(p.protocol, &token)
            .call(&mut h)
            .unwrap();
        made.push(
            parse_auth_data(field(&reply, 2).unwrap().as_bytes().unwrap())
                .public_key
                .unwrap(),
        );
    }
    let token = p.token(&mut h, PIN, Some(CM), None).unwrap();
    let params = Value::Map(vec![(int(1), bytes(&sha256(b"example.com")))]);
    let first = credman(&mut h, &p, &token, 4, Some(params)).unwrap();
    assert_eq!(
        field(&first, 9),
        Some(&Value::from(Algorithm::ALL.len() as u64))
    );
    let mut listed = vec![field(&first, 8).unwrap().clone()];
    for _ in 1..Algorithm::ALL.len() {
        let next = h.call(&request(0x0A, vec![(int(1), int(5))])).unwrap();
        listed.push(field(&next, 8).unwrap().clone());
    }
    // Oldest first: the order they were made in, each key as makeCredential gave it.
    assert_eq!(listed, made);
}
