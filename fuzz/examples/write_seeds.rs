//! Writes the seed corpora under `fuzz/corpus/<target>/` from the crates' own
//! seed functions (real requests, named after the state they reach):
//! `cargo run --example write_seeds` from `fuzz/`.

use std::fs;
use std::path::Path;

use std::time::Instant;

use ciborium::Value;
use softkey_authenticator::cbor;
use softkey_authenticator::commands;
use softkey_authenticator::fuzzing as ctap;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{Authenticator, Config, Outcome, Verdict};

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(name), data).expect("write a seed");
}

fn main() {
    for (name, data) in softkey_transport::fuzzing::ctaphid_seeds() {
        write("ctaphid_packets", name, &data);
    }
    let make_credential = ctap::make_credential_seed();
    let get_assertion = ctap::get_assertion_seed();
    write(
        "ctap2_make_credential",
        "browser_es256_eddsa_rk",
        &make_credential,
    );
    write("ctap2_get_assertion", "allow_list_up_uv", &get_assertion);
    for (name, data) in ctap::client_pin_seeds() {
        write("ctap2_client_pin", name, &data);
    }
    let with_command = |command: u8, params: &[u8]| [&[command][..], params].concat();
    write(
        "ctap2_request",
        "make_credential",
        &with_command(commands::MAKE_CREDENTIAL, &make_credential),
    );
    write(
        "ctap2_request",
        "get_assertion",
        &with_command(commands::GET_ASSERTION, &get_assertion),
    );
    write("ctap2_request", "get_info", &[commands::GET_INFO]);
    write(
        "ctap2_request",
        "client_pin_get_retries",
        &with_command(ctap::CLIENT_PIN, &ctap::client_pin_seeds()[0].1),
    );
    for (name, data) in ctap::ctap22_seeds() {
        write("ctap2_request", name, &data);
    }
    for (name, data) in softkey::fuzzing::seeds() {
        write("sim_control_inputs", name, &data);
    }
    for (name, actions) in ctap::sequence_seeds() {
        write(
            "ctap2_command_sequence",
            name,
            &ctap::encode_actions(&actions),
        );
    }
    for (name, data) in ctap::session::pin_session_seeds() {
        write("ctap2_pin_session", name, &data);
    }
    relying_party_seeds(&make_credential, &get_assertion);
    for (name, apdu) in ctap::ctap1_seeds() {
        write("ctap1_apdu", name, &apdu);
    }
    // Row-shaped inputs (id MAC, rp MAC, user MAC, then payload); the vault
    // does not expose its sealing, so these are shapes, not sealed rows.
    write("vault_credential_row", "columns_only", &[0xa5; 96]);
    write(
        "vault_credential_row",
        "columns_and_payload",
        &[[0xa5; 96].as_slice(), &[0x01; 120]].concat(),
    );
}

/// The relying party's inputs, made by our authenticator: attestationObjects
/// (packed self attestation, ES256 and EdDSA), assertion authenticator data,
/// COSE keys, and clientDataJSON as a browser writes it.
fn relying_party_seeds(make_credential: &[u8], get_assertion: &[u8]) {
    let now = Instant::now();
    let mut auth = Authenticator::new(
        Config::default(),
        MemoryStore::new(Secret32::new([0x5a; 32])),
        ctap::InsecureFuzzRng::new(1),
        now,
    );
    let mut call = |request: Vec<u8>| -> Value {
        let reply = match auth.handle(&request, now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => match auth.resume(Verdict::Approved, now) {
                Outcome::Reply(reply) => reply,
                Outcome::AwaitUser(_) => panic!("prompted twice"),
            },
        };
        assert_eq!(reply[0], 0, "request failed: 0x{:02x}", reply[0]);
        cbor::decode(&reply[1..]).expect("reply decodes")
    };
    let field = |value: &Value, key: i64| -> Value {
        value
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| *k == cbor::int(key)))
            .map(|(_, v)| v.clone())
            .expect("field present")
    };
    // The seed request asks for ES256 first, then EdDSA; index 3 is the algorithm list.
    let mut request = make_credential.to_vec();
    request.insert(0, commands::MAKE_CREDENTIAL);
    for (name, request) in [
        ("packed_self_es256", request.clone()),
        ("packed_self_eddsa", eddsa_only(&request)),
    ] {
        let response = call(request);
        let auth_data = field(&response, 2);
        let object = Value::Map(vec![
            (cbor::text("fmt"), field(&response, 1)),
            (cbor::text("attStmt"), field(&response, 3)),
            (cbor::text("authData"), auth_data.clone()),
        ]);
        write("rp_attestation_object", name, &cbor::encode(object));
        write(
            "rp_authenticator_data",
            &format!("attested_{name}"),
            auth_data.as_bytes().expect("bytes"),
        );
        let auth_data = auth_data.as_bytes().expect("bytes").clone();
        let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        write("rp_cose_key", name, &auth_data[55 + id_len..]);
    }
    let mut request = get_assertion.to_vec();
    request.insert(0, commands::GET_ASSERTION);
    let mut assertion = cbor::decode(&request[1..]).expect("request decodes");
    if let Value::Map(entries) = &mut assertion {
        entries.retain(|(k, _)| *k != cbor::int(3)); // discoverable: no allowList
        entries.retain(|(k, _)| *k != cbor::int(5));
    }
    let mut request = vec![commands::GET_ASSERTION];
    request.extend_from_slice(&cbor::encode(assertion));
    let response = call(request);
    write(
        "rp_authenticator_data",
        "assertion",
        field(&response, 2).as_bytes().expect("bytes"),
    );
    write(
        "rp_client_data",
        "webauthn_get",
        br#"{"type":"webauthn.get","challenge":"Y2hhbGxlbmdl","origin":"http://localhost","crossOrigin":false}"#,
    );
    write(
        "rp_client_data",
        "webauthn_create_top_origin",
        br#"{"type":"webauthn.create","challenge":"Y2hhbGxlbmdl","origin":"http://localhost","crossOrigin":true,"topOrigin":"https://top.example","other_keys_can_be_added_here":"do not compare clientDataJSON against a template. See https://goo.gl/yabPex"}"#,
    );
}

/// The same makeCredential request offering EdDSA only.
fn eddsa_only(request: &[u8]) -> Vec<u8> {
    let mut params = cbor::decode(&request[1..]).expect("request decodes");
    if let Value::Map(entries) = &mut params {
        for (key, value) in entries.iter_mut() {
            if *key == cbor::int(4) {
                *value = Value::Array(vec![Value::Map(vec![
                    (cbor::text("alg"), cbor::int(-8)),
                    (cbor::text("type"), cbor::text("public-key")),
                ])]);
            }
        }
    }
    let mut out = vec![commands::MAKE_CREDENTIAL];
    out.extend_from_slice(&cbor::encode(params));
    out
}
