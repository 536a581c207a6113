//! The demo server's JSON API over real HTTP on loopback, with a software
//! authenticator written here (P-256, `none` attestation): registration, sign-in,
//! and the API's named 4xx errors, including a replayed challenge and a signature
//! counter that goes backwards.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use p256::ecdsa::signature::Signer as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use softkey_rp::b64;
use softkey_rp::server::{ServerConfig, serve_on};

struct Reply {
    status: u16,
    cookie: Option<String>,
    body: Value,
}

/// One HTTP/1.1 request with `Connection: close`.
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    cookie: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connect");
    let body = body.map(Value::to_string).unwrap_or_default();
    let cookie = cookie
        .map(|cookie| format!("Cookie: {cookie}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{cookie}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read reply");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let status = head[9..12].parse().expect("status code");
    let cookie = head
        .lines()
        .find_map(|line| {
            line.strip_prefix("set-cookie: ")
                .or_else(|| line.strip_prefix("Set-Cookie: "))
        })
        .map(|value| value.split(';').next().expect("name=value").to_owned());
    Reply {
        status,
        cookie,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A minimal software authenticator for rp id `localhost`.
struct Authenticator {
    key: p256::ecdsa::SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
}

impl Authenticator {
    fn new() -> Self {
        let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).expect("valid scalar");
        Self {
            key,
            credential_id: b"api-test-credential".to_vec(),
            counter: 0,
        }
    }

    fn client_data(ceremony: &str, options: &Value, origin: &str) -> Vec<u8> {
        json!({ "type": ceremony, "challenge": options["challenge"], "origin": origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn create(&mut self, options: &Value, origin: &str) -> Value {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let cose = ciborium::Value::Map(vec![
            (1.into(), 2.into()),
            (3.into(), (-7).into()),
            ((-1).into(), 1.into()),
            ((-2).into(), ciborium::Value::Bytes(bytes[1..33].to_vec())),
            ((-3).into(), ciborium::Value::Bytes(bytes[33..].to_vec())),
        ]);
        let mut auth_data = sha2::Sha256::digest(b"localhost").to_vec();
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .expect("short")
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        ciborium::ser::into_writer(&cose, &mut auth_data).expect("CBOR");
        let attestation = ciborium::Value::Map(vec![
            ("fmt".into(), "none".into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            ("authData".into(), ciborium::Value::Bytes(auth_data)),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::ser::into_writer(&attestation, &mut attestation_object).expect("CBOR");
        let id = b64::encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "clientDataJSON": b64::encode(&Self::client_data("webauthn.create", options, origin)),
                "attestationObject": b64::encode(&attestation_object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    fn get(&self, options: &Value, origin: &str, user_handle: &str) -> Value {
        let client_data = Self::client_data("webauthn.get", options, origin);
        let mut auth_data = sha2::Sha256::digest(b"localhost").to_vec();
        auth_data.push(0x05); // UP | UV
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut message = auth_data.clone();
        message.extend_from_slice(&sha2::Sha256::digest(&client_data));
        let signature: p256::ecdsa::Signature = self.key.sign(&message);
        let id = b64::encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "clientDataJSON": b64::encode(&client_data),
                "authenticatorData": b64::encode(&auth_data),
                "signature": b64::encode(signature.to_der().as_bytes()),
                "userHandle": user_handle,
            },
            "clientExtensionResults": {},
        })
    }
}

fn start_server() -> (tokio::runtime::Runtime, SocketAddr, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let origin = format!("http://localhost:{}", address.port());
    let config = ServerConfig {
        listen: address,
        origin: origin.clone(),
        ..ServerConfig::default()
    };
    runtime.spawn(serve_on(listener, config));
    (runtime, address, origin)
}

fn assert_error(reply: &Reply, status: u16, name: &str) {
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (status, Some(name)),
        "{}",
        reply.body
    );
    assert!(reply.body["message"].is_string(), "{}", reply.body);
}

#[test]
fn register_sign_in_and_named_errors_over_http() {
    let (_runtime, address, origin) = start_server();
    let post = |path: &str, body: &Value, cookie: Option<&str>| {
        request(address, "POST", path, Some(body), cookie)
    };
    let mut authenticator = Authenticator::new();

    // Registration.
    let options = post(
        "/api/register/options",
        &json!({ "username": "carol" }),
        None,
    );
    assert_eq!(options.status, 200);
    assert_eq!(options.body["rp"]["id"], "localhost");
    assert_eq!(
        options.body["authenticatorSelection"]["residentKey"],
        "required"
    );
    let user_handle = options.body["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let credential = authenticator.create(&options.body, &origin);
    let registered = post("/api/register/verify", &credential, None);
    assert_eq!(
        (registered.status, &registered.body["username"]),
        (200, &json!("carol")),
        "{}",
        registered.body
    );
    let cookie = registered.cookie.expect("session cookie");
    let me = request(address, "GET", "/api/me", None, Some(&cookie));
    assert_eq!(
        me.body["credentials"][0]["id"],
        json!(b64::encode(&authenticator.credential_id))
    );
    // The same response again: its challenge is spent.
    assert_error(
        &post("/api/register/verify", &credential, None),
        400,
        "challenge_reused",
    );
    // The username is taken now.
    assert_error(
        &post(
            "/api/register/options",
            &json!({ "username": "carol" }),
            None,
        ),
        409,
        "username_taken",
    );

    // Sign in (username-less), with a wrong origin first.
    authenticator.counter = 1;
    let options = post("/api/login/options", &json!({}), None);
    assert_eq!(options.body["allowCredentials"], json!([]));
    let wrong_origin = authenticator.get(&options.body, "http://localhost:1", &user_handle);
    assert_error(
        &post("/api/login/verify", &wrong_origin, None),
        400,
        "origin_mismatch",
    );
    let options = post("/api/login/options", &json!({ "username": "carol" }), None);
    assert_eq!(
        options.body["allowCredentials"][0]["id"],
        json!(b64::encode(&authenticator.credential_id))
    );
    let signed_in = post(
        "/api/login/verify",
        &authenticator.get(&options.body, &origin, &user_handle),
        None,
    );
    assert_eq!(
        (signed_in.status, &signed_in.body["username"]),
        (200, &json!("carol")),
        "{}",
        signed_in.body
    );

    // The counter does not move forward: reported by name.
    let options = post("/api/login/options", &json!({}), None);
    let replayed_counter = authenticator.get(&options.body, &origin, &user_handle);
    assert_error(
        &post("/api/login/verify", &replayed_counter, None),
        400,
        "counter_regression",
    );

    // Other named failures.
    assert_error(
        &post("/api/login/options", &json!({ "username": "nobody" }), None),
        404,
        "unknown_user",
    );
    assert_error(
        &post("/api/login/verify", &json!({ "id": 1 }), None),
        400,
        "malformed_response",
    );
    assert_error(
        &request(address, "GET", "/api/me", None, None),
        401,
        "not_signed_in",
    );
    let forged = json!({ "type": "webauthn.get", "challenge": b64::encode(b"never issued"), "origin": origin });
    let mut unknown = authenticator.get(&options.body, &origin, &user_handle);
    unknown["response"]["clientDataJSON"] = json!(b64::encode(forged.to_string().as_bytes()));
    assert_error(
        &post("/api/login/verify", &unknown, None),
        400,
        "challenge_unknown",
    );

    // Delete the passkey, sign out.
    let id = b64::encode(&authenticator.credential_id);
    let deleted = request(
        address,
        "DELETE",
        &format!("/api/credentials/{id}"),
        None,
        Some(&cookie),
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    authenticator.counter = 2;
    let options = post("/api/login/options", &json!({}), None);
    assert_error(
        &post(
            "/api/login/verify",
            &authenticator.get(&options.body, &origin, &user_handle),
            None,
        ),
        401,
        "unknown_credential",
    );
    assert_error(
        &post("/api/login/options", &json!({ "username": "carol" }), None),
        404,
        "no_passkeys",
    );
    assert_eq!(
        request(address, "POST", "/api/logout", None, Some(&cookie)).status,
        200
    );
    assert_error(
        &request(address, "GET", "/api/me", None, Some(&cookie)),
        401,
        "not_signed_in",
    );
}

#[test]
fn sign_up_can_ask_for_a_post_quantum_passkey_first() {
    let (_runtime, address, _origin) = start_server();
    let algorithms = |body: &Value| -> Vec<i64> {
        let options = request(address, "POST", "/api/register/options", Some(body), None);
        assert_eq!(options.status, 200, "{}", options.body);
        options.body["pubKeyCredParams"]
            .as_array()
            .expect("pubKeyCredParams")
            .iter()
            .map(|param| {
                assert_eq!(param["type"], "public-key");
                param["alg"].as_i64().expect("alg")
            })
            .collect()
    };
    // By default every algorithm softkey rp verifies, ES256 first.
    let default = algorithms(&json!({ "username": "dave" }));
    assert_eq!(default.len(), softkey_rp::cose::ALGORITHMS.len());
    assert_eq!(default[..3], [-7, -8, -35]);
    // Post-quantum first: ML-DSA-65, -44, -87, then the rest, no repeats.
    let pq = algorithms(&json!({ "username": "erin", "preferPostQuantum": true }));
    assert_eq!(pq[..4], [-49, -48, -50, -7]);
    let mut sorted = pq.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), default.len());
}
