//! Extensions through the whole core: credProtect, hmac-secret(-mc), credBlob,
//! largeBlobKey. Requests are built by hand; user verification comes from
//! built-in UV (`"uv": true`), which the harness approves.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ciborium::Value;
use softkey_authenticator::cbor::{bytes, int, text};
use softkey_authenticator::pin::Protocol;
use softkey_authenticator::{Config, StatusCode};
use support::*;

fn uv_harness() -> Harness {
    Harness::with_config(Config {
        built_in_uv: true,
        ..Config::default()
    })
}

/// makeCredential for example.com with `extensions`; `rk`, `uv` as options.
fn make_credential(
    h: &mut Harness,
    user: &[u8],
    rk: bool,
    uv: bool,
    extensions: Vec<(Value, Value)>,
) -> Result<Value, StatusCode> {
    let mut params = vec![
        (int(1), bytes(&[0x11; 32])),
        (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
        (
            int(3),
            Value::Map(vec![
                (text("id"), bytes(user)),
                (text("name"), text("alice")),
            ]),
        ),
        (int(4), Value::Array(vec![alg(-7)])),
    ];
    if !extensions.is_empty() {
        params.push((int(6), Value::Map(extensions)));
    }
    params.push((
        int(7),
        Value::Map(vec![
            (text("rk"), Value::Bool(rk)),
            (text("uv"), Value::Bool(uv)),
        ]),
    ));
    h.call(&request(0x01, params))
}

/// getAssertion for example.com.
fn get_assertion(
    h: &mut Harness,
    allow: Option<&[&[u8]]>,
    uv: bool,
    extensions: Vec<(Value, Value)>,
) -> Result<Value, StatusCode> {
    let mut params = vec![(int(1), text("example.com")), (int(2), bytes(&[0x22; 32]))];
    if let Some(allow) = allow {
        params.push((
            int(3),
            Value::Array(allow.iter().map(|id| descriptor(id)).collect()),
        ));
    }
    if !extensions.is_empty() {
        params.push((int(4), Value::Map(extensions)));
    }
    if uv {
        params.push((int(5), Value::Map(vec![(text("uv"), Value::Bool(true))])));
    }
    h.call(&request(0x02, params))
}

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
        let reply = make_credential(
            &mut h,
            format!("user-{level}").as_bytes(),
            true,
            true,
            vec![(text("credProtect"), int(level))],
        )
        .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credProtect"), int(level))]))
        );
    }
    // Not asked: no output, the default level 1.
    let reply = make_credential(&mut h, b"plain", false, false, vec![]).unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    // A number that is no level is ignored; a wrong type is an error.
    let reply = make_credential(
        &mut h,
        b"x",
        false,
        false,
        vec![(text("credProtect"), int(7))],
    )
    .unwrap();
    assert_eq!(outputs_of(&reply, 2), None);
    assert_eq!(
        make_credential(
            &mut h,
            b"x",
            false,
            false,
            vec![(text("credProtect"), text("3"))]
        ),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn cred_protect_levels_gate_get_assertion() {
    let mut h = uv_harness();
    let mut ids = Vec::new();
    for level in 1..=3 {
        let reply = make_credential(
            &mut h,
            format!("user-{level}").as_bytes(),
            true,
            true,
            vec![(text("credProtect"), int(level))],
        )
        .unwrap();
        ids.push(credential_id(&reply));
    }
    // Discovered without UV: only level 1.
    let reply = get_assertion(&mut h, None, false, vec![]).unwrap();
    assert_eq!(field(&reply, 5), None, "one credential");
    assert_eq!(credential_id_of(&reply), ids[0]);
    // Discovered with UV: all three.
    let reply = get_assertion(&mut h, None, true, vec![]).unwrap();
    assert_eq!(field(&reply, 5), Some(&int(3)));
    // Named in the allowList without UV: levels 1 and 2, never 3.
    for (index, expected) in [(0, true), (1, true), (2, false)] {
        let result = get_assertion(&mut h, Some(&[&ids[index]]), false, vec![]);
        assert_eq!(result.is_ok(), expected, "level {}", index + 1);
        if !expected {
            assert_eq!(result, Err(StatusCode::NoCredentials));
        }
    }
    // With UV, level 3 through the allowList too.
    assert!(get_assertion(&mut h, Some(&[&ids[2]]), true, vec![]).is_ok());
}

#[test]
fn cred_protect_survives_the_sealed_id() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        true,
        vec![(text("credProtect"), int(3))],
    )
    .unwrap();
    let id = credential_id(&reply);
    assert_eq!(
        get_assertion(&mut h, Some(&[&id]), false, vec![]),
        Err(StatusCode::NoCredentials)
    );
    assert!(get_assertion(&mut h, Some(&[&id]), true, vec![]).is_ok());
}

#[test]
fn exclude_list_skips_level_three_without_uv() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        true,
        vec![(text("credProtect"), int(3))],
    )
    .unwrap();
    let id = credential_id(&reply);
    let exclude = |uv: bool| {
        request(
            0x01,
            vec![
                (int(1), bytes(&[0x11; 32])),
                (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
                (int(3), Value::Map(vec![(text("id"), bytes(b"v"))])),
                (int(4), Value::Array(vec![alg(-7)])),
                (int(5), Value::Array(vec![descriptor(&id)])),
                (int(7), Value::Map(vec![(text("uv"), Value::Bool(uv))])),
            ],
        )
    };
    assert!(h.call(&exclude(false)).is_ok());
    assert_eq!(h.call(&exclude(true)), Err(StatusCode::CredentialExcluded));
}

fn hmac_secret_output(
    h: &mut Harness,
    sender: &mut SaltSender,
    id: &[u8],
    uv: bool,
    salts: &[u8],
) -> Vec<u8> {
    let input = sender.input(salts);
    let reply = get_assertion(h, Some(&[id]), uv, vec![(text("hmac-secret"), input)]).unwrap();
    sender.open(&outputs_of(&reply, 2).unwrap())
}

#[test]
fn hmac_secret_gives_stable_outputs_per_uv_state() {
    for protocol in [Protocol::One, Protocol::Two] {
        for rk in [false, true] {
            let mut h = uv_harness();
            let reply = make_credential(
                &mut h,
                b"u",
                rk,
                rk,
                vec![(text("hmac-secret"), Value::Bool(true))],
            )
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
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        false,
        vec![(text("hmac-secret"), Value::Bool(true))],
    )
    .unwrap();
    let id = credential_id(&reply);
    let mut sender = SaltSender::new(&mut h, Protocol::Two);
    // A saltAuth that does not verify.
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries[2].1 = bytes(&[0; 32]);
    }
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("hmac-secret"), input)]
        ),
        Err(StatusCode::PinAuthInvalid)
    );
    // Salts of 48 bytes.
    let input = sender.input(&[0; 48]);
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("hmac-secret"), input)]
        ),
        Err(StatusCode::InvalidParameter)
    );
    // A missing saltAuth; an unsupported protocol.
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries.remove(2);
    }
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("hmac-secret"), input)]
        ),
        Err(StatusCode::MissingParameter)
    );
    let mut input = sender.input(&[0; 32]);
    if let Value::Map(entries) = &mut input {
        entries[3].1 = int(3);
    }
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("hmac-secret"), input)]
        ),
        Err(StatusCode::InvalidParameter)
    );
    // "hmac-secret" must be a boolean at creation.
    assert_eq!(
        make_credential(
            &mut h,
            b"u",
            false,
            false,
            vec![(text("hmac-secret"), int(1))]
        ),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn hmac_secret_without_cred_random_gives_no_output() {
    let mut h = uv_harness();
    let reply = make_credential(&mut h, b"u", false, false, vec![]).unwrap();
    let id = credential_id(&reply);
    let mut sender = SaltSender::new(&mut h, Protocol::One);
    let input = sender.input(&[0; 32]);
    let reply = get_assertion(
        &mut h,
        Some(&[&id]),
        false,
        vec![(text("hmac-secret"), input)],
    )
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
        let reply = make_credential(
            &mut h,
            b"u",
            uv,
            uv,
            vec![
                (text("hmac-secret"), Value::Bool(true)),
                (text("hmac-secret-mc"), input),
            ],
        )
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
        let reply =
            make_credential(&mut h, b"u", rk, rk, vec![(text("credBlob"), bytes(&blob))]).unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credBlob"), Value::Bool(true))]))
        );
        let id = credential_id(&reply);
        let reply = get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("credBlob"), Value::Bool(true))],
        )
        .unwrap();
        assert_eq!(
            outputs_of(&reply, 2),
            Some(Value::Map(vec![(text("credBlob"), bytes(&blob))]))
        );
        // Not asked: no output.
        let reply = get_assertion(&mut h, Some(&[&id]), false, vec![]).unwrap();
        assert_eq!(outputs_of(&reply, 2), None);
    }
}

#[test]
fn cred_blob_too_long_or_absent() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        false,
        false,
        vec![(text("credBlob"), bytes(&[1; 33]))],
    )
    .unwrap();
    assert_eq!(
        outputs_of(&reply, 2),
        Some(Value::Map(vec![(text("credBlob"), Value::Bool(false))]))
    );
    let id = credential_id(&reply);
    let reply = get_assertion(
        &mut h,
        Some(&[&id]),
        false,
        vec![(text("credBlob"), Value::Bool(true))],
    )
    .unwrap();
    assert_eq!(
        outputs_of(&reply, 2),
        Some(Value::Map(vec![(text("credBlob"), bytes(&[]))]))
    );
    assert_eq!(
        make_credential(
            &mut h,
            b"u",
            false,
            false,
            vec![(text("credBlob"), Value::Bool(true))]
        ),
        Err(StatusCode::CborUnexpectedType)
    );
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("credBlob"), bytes(&[1]))]
        ),
        Err(StatusCode::CborUnexpectedType)
    );
}

#[test]
fn sealed_id_with_every_optional_field_fits_the_advertised_length() {
    let mut h = uv_harness();
    let info = h.call(&[0x04]).unwrap();
    let max = i128::from(field(&info, 8).unwrap().as_integer().unwrap()) as usize;
    for alg in [-7, -8] {
        let mut params = vec![
            (int(1), bytes(&[0x11; 32])),
            (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
            (int(3), Value::Map(vec![(text("id"), bytes(b"u"))])),
            (int(4), Value::Array(vec![support::alg(alg)])),
        ];
        params.push((
            int(6),
            Value::Map(vec![
                (text("credProtect"), int(3)),
                (text("credBlob"), bytes(&[7; 32])),
                (text("hmac-secret"), Value::Bool(true)),
                (text("thirdPartyPayment"), Value::Bool(true)),
            ]),
        ));
        params.push((int(7), Value::Map(vec![(text("uv"), Value::Bool(true))])));
        let reply = h.call(&request(0x01, params)).unwrap();
        assert!(credential_id(&reply).len() <= max);
    }
}

#[test]
fn large_blob_key_for_discoverable_credentials() {
    let mut h = uv_harness();
    let reply = make_credential(
        &mut h,
        b"u",
        true,
        true,
        vec![(text("largeBlobKey"), Value::Bool(true))],
    )
    .unwrap();
    let key = field(&reply, 5).unwrap().as_bytes().unwrap().clone();
    assert_eq!(key.len(), 32);
    assert_eq!(outputs_of(&reply, 2), None, "the key is not in authData");
    let id = credential_id(&reply);
    let reply = get_assertion(
        &mut h,
        Some(&[&id]),
        false,
        vec![(text("largeBlobKey"), Value::Bool(true))],
    )
    .unwrap();
    assert_eq!(field(&reply, 7), Some(&bytes(&key)));
    let reply = get_assertion(&mut h, Some(&[&id]), false, vec![]).unwrap();
    assert_eq!(field(&reply, 7), None);
    // Without rk, or any value but true: INVALID_OPTION.
    assert_eq!(
        make_credential(
            &mut h,
            b"v",
            false,
            false,
            vec![(text("largeBlobKey"), Value::Bool(true))]
        ),
        Err(StatusCode::InvalidOption)
    );
    assert_eq!(
        make_credential(
            &mut h,
            b"v",
            true,
            true,
            vec![(text("largeBlobKey"), Value::Bool(false))]
        ),
        Err(StatusCode::InvalidOption)
    );
    assert_eq!(
        get_assertion(
            &mut h,
            Some(&[&id]),
            false,
            vec![(text("largeBlobKey"), Value::Bool(false))]
        ),
        Err(StatusCode::InvalidOption)
    );
}

const INITIAL_ARRAY: &str = "8076be8b528d0075f7aae98d6fa57a6d3c";
const FRAGMENT: usize = 7609 - 64;

fn large_blobs(h: &mut Harness, params: Vec<(Value, Value)>) -> Result<Value, StatusCode> {
    h.call(&request(0x0C, params))
}

fn read_all(h: &mut Harness) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let reply = large_blobs(
            h,
            vec![
                (int(1), int(FRAGMENT as i64)),
                (int(3), int(out.len() as i64)),
            ],
        )
        .unwrap();
        let chunk = field(&reply, 1).unwrap().as_bytes().unwrap().clone();
        let done = chunk.len() < FRAGMENT;
        out.extend_from_slice(&chunk);
        if done {
            return out;
        }
    }
}

/// The serialized form of a CBOR array: the array and its truncated hash.
fn serialized(array: &Value) -> Vec<u8> {
    let mut out = softkey_authenticator::cbor::encode(array.clone());
    let hash = sha256(&out);
    out.extend_from_slice(&hash[..16]);
    out
}

/// Makes the pinUvAuthParam and protocol members for a fragment at an offset.
type FragmentAuth<'a> = &'a dyn Fn(usize, &[u8]) -> Vec<(Value, Value)>;

/// Writes `data` in fragments of `fragment` bytes; `auth` makes the
/// pinUvAuthParam and protocol for a fragment at an offset.
fn write_all(
    h: &mut Harness,
    data: &[u8],
    fragment: usize,
    auth: FragmentAuth<'_>,
) -> Result<(), StatusCode> {
    for (index, chunk) in data.chunks(fragment).enumerate() {
        let offset = index * fragment;
        let mut params = vec![(int(2), bytes(chunk)), (int(3), int(offset as i64))];
        if offset == 0 {
            params.push((int(4), int(data.len() as i64)));
        }
        params.extend(auth(offset, chunk));
        large_blobs(h, params)?;
    }
    Ok(())
}

fn no_auth(_: usize, _: &[u8]) -> Vec<(Value, Value)> {
    vec![]
}

#[test]
fn large_blob_array_starts_empty_and_round_trips() {
    let mut h = Harness::new();
    assert_eq!(hex::encode(read_all(&mut h)), INITIAL_ARRAY);
    // A 20 000-byte array in three fragments, and back in three reads.
    let array = Value::Array(vec![Value::Map(vec![
        (int(1), bytes(&vec![0xab; 20_000])),
        (int(2), bytes(&[1; 12])),
        (int(3), int(20_000)),
    ])]);
    let data = serialized(&array);
    write_all(&mut h, &data, FRAGMENT, &no_auth).unwrap();
    assert_eq!(read_all(&mut h), data);
    // Reads at an offset; past the end is an error, at the end is empty.
    let reply = large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(5))]).unwrap();
    assert_eq!(field(&reply, 1), Some(&bytes(&data[5..15])));
    let end = data.len() as i64;
    let reply = large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(end))]).unwrap();
    assert_eq!(field(&reply, 1), Some(&bytes(&[])));
    assert_eq!(
        large_blobs(&mut h, vec![(int(1), int(10)), (int(3), int(end + 1))]),
        Err(StatusCode::InvalidParameter)
    );
    // Survives a power cycle (it is in the store).
    h.auth.power_cycle(h.now);
    assert_eq!(read_all(&mut h), data);
}

#[test]
fn large_blob_parameter_errors() {
    let mut h = Harness::new();
    let get = |n: i64| (int(1), int(n));
    let set = |b: &[u8]| (int(2), bytes(b));
    let offset = |n: i64| (int(3), int(n));
    let length = |n: i64| (int(4), int(n));
    // Offset is required; exactly one of get and set.
    assert_eq!(
        large_blobs(&mut h, vec![get(1)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![offset(0)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(1), set(&[0]), offset(0), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    // get: no length or auth, at most one fragment.
    assert_eq!(
        large_blobs(&mut h, vec![get(1), offset(0), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(1), offset(0), (int(6), int(2))]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![get(FRAGMENT as i64 + 1), offset(0)]),
        Err(StatusCode::InvalidLength)
    );
    // set: the first fragment announces a length of 17 to 64 KiB.
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(16)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(65537)]),
        Err(StatusCode::LargeBlobStorageFull)
    );
    assert_eq!(
        large_blobs(
            &mut h,
            vec![set(&vec![0; FRAGMENT + 1]), offset(0), length(65536)]
        ),
        Err(StatusCode::InvalidLength)
    );
    // Fragments come in order; later ones announce no length; no overrun.
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(5)]),
        Err(StatusCode::InvalidSeq)
    );
    large_blobs(&mut h, vec![set(&[0x80]), offset(0), length(17)]).unwrap();
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(1), length(17)]),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0]), offset(2)]),
        Err(StatusCode::InvalidSeq)
    );
    assert_eq!(
        large_blobs(&mut h, vec![set(&[0; 17]), offset(1)]),
        Err(StatusCode::InvalidParameter)
    );
    // A wrong trailing hash: INTEGRITY_FAILURE, the old array stays.
    let mut bad = serialized(&Value::Array(vec![int(1)]));
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(
        write_all(&mut h, &bad, FRAGMENT, &no_auth),
        Err(StatusCode::IntegrityFailure)
    );
    assert_eq!(hex::encode(read_all(&mut h)), INITIAL_ARRAY);
}

/// setPIN, then a token with `permissions`, over protocol two.
fn pin_token(h: &mut Harness, sender: &mut SaltSender, set_pin: bool, permissions: i64) -> Vec<u8> {
    let protocol = int(2);
    if set_pin {
        let mut padded = b"1234".to_vec();
        padded.resize(64, 0);
        let new_pin_enc = sender.shared.encrypt(&mut sender.rng, &padded);
        let param = sender.shared.authenticate(&new_pin_enc).to_vec();
        h.call(&request(
            0x06,
            vec![
                (int(1), protocol.clone()),
                (int(2), int(3)),
                (int(3), sender.key.clone()),
                (int(4), bytes(&param)),
                (int(5), bytes(&new_pin_enc)),
            ],
        ))
        .unwrap();
    }
    let pin_hash_enc = sender
        .shared
        .encrypt(&mut sender.rng, &sha256(b"1234")[..16]);
    let reply = h
        .call(&request(
            0x06,
            vec![
                (int(1), protocol),
                (int(2), int(9)),
                (int(3), sender.key.clone()),
                (int(6), bytes(&pin_hash_enc)),
                (int(9), int(permissions)),
            ],
        ))
        .unwrap();
    let encrypted = field(&reply, 2).unwrap().as_bytes().unwrap();
    sender.shared.decrypt(encrypted).unwrap().to_vec()
}

#[test]
fn large_blob_writes_need_lbw_once_protected() {
    let mut h = Harness::new();
    let mut sender = SaltSender::new(&mut h, Protocol::Two);
    let cm_token = pin_token(&mut h, &mut sender, true, 0x04);
    let data = serialized(&Value::Array(vec![int(7)]));
    assert_eq!(
        write_all(&mut h, &data, FRAGMENT, &no_auth),
        Err(StatusCode::PuatRequired)
    );
    let auth_with = |token: Vec<u8>| {
        move |offset: usize, chunk: &[u8]| {
            let mut message = vec![0xff; 32];
            message.extend_from_slice(&[0x0c, 0x00]);
            message.extend_from_slice(&(offset as u32).to_le_bytes());
            message.extend_from_slice(&sha256(chunk));
            let param = Protocol::Two.authenticate(&token, &message).to_vec();
            vec![(int(5), bytes(&param)), (int(6), int(2))]
        }
    };
    assert_eq!(
        write_all(&mut h, &data, FRAGMENT, &auth_with(cm_token)),
        Err(StatusCode::PinAuthInvalid)
    );
    let lbw_token = pin_token(&mut h, &mut sender, false, 0x10);
    // A protocol is required with the param.
    let param = Protocol::Two.authenticate(&lbw_token, b"x").to_vec();
    assert_eq!(
        large_blobs(
            &mut h,
            vec![
                (int(2), bytes(&data)),
                (int(3), int(0)),
                (int(4), int(data.len() as i64)),
                (int(5), bytes(&param)),
            ]
        ),
        Err(StatusCode::MissingParameter)
    );
    write_all(&mut h, &data, 4, &auth_with(lbw_token)).unwrap();
    assert_eq!(read_all(&mut h), data);
}
