//! How fast softkey answers, as ratios from one run (issue 9):
//!
//! - `sign/*`: the physical limit — one bare signature with a ready key, and
//!   key generation + signature.
//! - `get_assertion/*`: an ES256 (and EdDSA) discoverable getAssertion,
//!   request bytes to reply bytes, in process: over the in-memory store, over
//!   the SQLite vault (`synchronous=FULL`; counters from durably reserved
//!   ranges), and 1Password's `passkey-authenticator` doing the same request
//!   from the same bytes.
//! - `make_credential/*`: non-discoverable, packed self attestation, ES256 and EdDSA.
//! - `ctaphid_udp/*`: the same getAssertion from a CTAPHID host over loopback UDP
//!   to `softkey::udp::serve` on another thread.
//! - `alg_sign/*`, `alg_get_assertion/*`, `alg_make_credential/*` (issue 14):
//!   per COSE algorithm, the bare signature with a ready key and key
//!   generation + signature (RustCrypto directly), against a discoverable
//!   getAssertion and a non-discoverable self-attested makeCredential on the
//!   in-memory store. ML-DSA has a third reference, `*_seed_sign`: expanding
//!   the stored 32-byte seed, then signing (what a key that keeps only its
//!   seed must do). The ML-DSA references sign with the credential's own key
//!   a message that changes on every call, as getAssertion's does (its
//!   signing time is random: see `bench_algorithm_references`).
//! - `alg_get_assertion_sealed/*`: a non-discoverable getAssertion for
//!   EdDSA, ES384 and RS256, whose credential ID is opened and whose key is
//!   rebuilt from its sealed form on every call (the path of every sealed ID,
//!   and of vault rows).
//! - `vault_make_credential/*`, `ctaphid_udp_clients/*` (issue 15): see
//!   [`durable`].
//!
//! `scripts/bench.sh` runs this and prints the ratio table.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ciborium::Value;
use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::Generate;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey::runtime::KeyDevice;
use softkey_authenticator::cbor::{self, bytes, int, text};
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{MemoryStore, Store};
use softkey_authenticator::{Authenticator, Config, Outcome, Verdict};
use softkey_transport::host::HostClient;
use softkey_transport::udp::{UdpDevice, UdpHost};

#[path = "ctap/durable.rs"]
mod durable;

const RP_ID: &str = "example.com";

fn request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

fn make_credential_request(alg: i64, rk: bool) -> Vec<u8> {
    let mut params = vec![
        (int(1), bytes(&[0x11; 32])),
        (
            int(2),
            Value::Map(vec![
                (text("id"), text(RP_ID)),
                (text("name"), text("Example")),
            ]),
        ),
        (
            int(3),
            Value::Map(vec![
                (text("id"), bytes(b"user-1")),
                (text("name"), text("alice")),
                (text("displayName"), text("Alice")),
            ]),
        ),
        (
            int(4),
            Value::Array(vec![Value::Map(vec![
                (text("alg"), int(alg)),
                (text("type"), text("public-key")),
            ])]),
        ),
    ];
    if rk {
        params.push((int(7), Value::Map(vec![(text("rk"), Value::Bool(true))])));
    }
    request(0x01, params)
}

/// A discoverable getAssertion: no allowList, presence required.
fn get_assertion_request() -> Vec<u8> {
    request(
        0x02,
        vec![(int(1), text(RP_ID)), (int(2), bytes(&[0x22; 32]))],
    )
}

/// Request bytes in, reply bytes out, the touch approved at once.
fn call<S: Store>(auth: &mut Authenticator<S, StdRng>, request: &[u8]) -> Vec<u8> {
    let now = Instant::now();
    let reply = match auth.handle(request, now) {
        Outcome::Reply(reply) => reply,
        Outcome::AwaitUser(_) => match auth.resume(Verdict::Approved, now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => panic!("prompted twice"),
        },
    };
    assert_eq!(reply[0], 0, "request failed with 0x{:02x}", reply[0]);
    reply
}

fn authenticator<S: Store>(store: S) -> Authenticator<S, StdRng> {
    Authenticator::new(
        Config::default(),
        store,
        StdRng::seed_from_u64(7),
        Instant::now(),
    )
}

fn memory_store() -> MemoryStore {
    MemoryStore::new(Secret32::new([0x5a; 32]))
}

/// A vault on disk with a key-file slot (no KDF cost at open); kept alive by
/// the returned directory.
fn vault_store() -> (softkey_vault::Vault, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    softkey_vault::generate_key_file(&key_file).unwrap();
    let vault = softkey_vault::Vault::create(
        &dir.path().join("vault.sqlite"),
        &softkey_vault::Unlocker::KeyFile(key_file),
        softkey_vault::KdfParams::danger_fast_for_tests(),
    )
    .unwrap();
    (vault, dir)
}

/// The signed message of an assertion: 37 bytes of authenticator data and the
/// clientDataHash.
fn assertion_message() -> [u8; 69] {
    [0x5a; 69]
}

fn bench_sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    let mut rng = StdRng::seed_from_u64(1);
    let message = assertion_message();
    let p256_key = <p256::ecdsa::SigningKey as Generate>::generate_from_rng(&mut rng);
    group.bench_function("p256", |b| {
        b.iter(|| {
            let signature: p256::ecdsa::Signature = p256_key.sign(black_box(&message));
            signature
        })
    });
    let ed25519_key = ed25519_dalek::SigningKey::generate(&mut rng);
    group.bench_function("ed25519", |b| {
        b.iter(|| ed25519_key.sign(black_box(&message)))
    });
    group.bench_function("p256_keygen_sign", |b| {
        b.iter(|| {
            let key = <p256::ecdsa::SigningKey as Generate>::generate_from_rng(&mut rng);
            let public = key.verifying_key().to_sec1_point(false);
            let signature: p256::ecdsa::Signature = key.sign(black_box(&message));
            (public, signature)
        })
    });
    group.bench_function("ed25519_keygen_sign", |b| {
        b.iter(|| {
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            (key.verifying_key(), key.sign(black_box(&message)))
        })
    });
    group.finish();
}

fn bench_get_assertion(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_assertion");
    let get = get_assertion_request();

    let mut auth = authenticator(memory_store());
    call(&mut auth, &make_credential_request(-7, true));
    group.bench_function("memory", |b| b.iter(|| call(&mut auth, black_box(&get))));

    let mut auth = authenticator(memory_store());
    call(&mut auth, &make_credential_request(-8, true));
    group.bench_function("memory_eddsa", |b| {
        b.iter(|| call(&mut auth, black_box(&get)))
    });

    let (vault, _dir) = vault_store();
    let mut auth = authenticator(vault);
    call(&mut auth, &make_credential_request(-7, true));
    group.bench_function("vault", |b| b.iter(|| call(&mut auth, black_box(&get))));

    let (vault, _dir) = vault_store();
    let mut auth = authenticator(vault);
    call(&mut auth, &make_credential_request(-8, true));
    group.bench_function("vault_eddsa", |b| {
        b.iter(|| call(&mut auth, black_box(&get)))
    });

    let mut peer = peer::Peer::new();
    peer.make_credential(&make_credential_request(-7, true));
    group.bench_function("passkey_rs", |b| {
        b.iter(|| peer.get_assertion(black_box(&get)))
    });
    group.finish();
}

fn bench_make_credential(c: &mut Criterion) {
    let mut group = c.benchmark_group("make_credential");
    for (name, alg) in [("es256", -7), ("eddsa", -8)] {
        let request = make_credential_request(alg, false);
        let mut auth = authenticator(memory_store());
        group.bench_function(name, |b| b.iter(|| call(&mut auth, black_box(&request))));
    }
    group.finish();
}

/// The simulator's UDP device on an ephemeral port, serving on its own thread.
struct UdpKey {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    address: SocketAddr,
}

impl UdpKey {
    /// On the in-memory store.
    fn start() -> Self {
        Self::start_with(|| (memory_store(), None))
    }

    /// On the vault (in its own temporary directory).
    fn start_on_vault() -> Self {
        Self::start_with(|| {
            let (vault, dir) = vault_store();
            (vault, Some(dir))
        })
    }

    /// With one discoverable ES256 credential for [`RP_ID`] in the store
    /// `make` gives, made on the serving thread (with the directory it lives
    /// in, kept as long as the device).
    fn start_with<S: Store + Send + 'static>(
        make: impl FnOnce() -> (S, Option<tempfile::TempDir>) + Send + 'static,
    ) -> Self {
        let mut socket = UdpDevice::bind(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0)).unwrap();
        let address = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (store, _keep) = make();
            let mut auth = authenticator(store);
            call(&mut auth, &make_credential_request(-7, true));
            let mut device = KeyDevice::new(
                softkey_transport::HidDevice::new(softkey_transport::DeviceConfig::default()),
                auth,
                Box::new(softkey::presence::danger::AutoApprove),
                Duration::from_secs(30),
            );
            softkey::udp::serve(&mut device, &mut socket, &thread_stop).unwrap();
        });
        Self {
            stop,
            thread: Some(thread),
            address,
        }
    }
}

impl Drop for UdpKey {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn bench_ctaphid_udp(c: &mut Criterion) {
    let mut group = c.benchmark_group("ctaphid_udp");
    let key = UdpKey::start();
    let mut host = HostClient::new(UdpHost::connect(key.address).unwrap());
    host.init().unwrap();
    let get = get_assertion_request();
    group.bench_function("get_assertion", |b| {
        b.iter(|| {
            let reply = host.cbor(&get, |_| {}).unwrap();
            assert_eq!(reply[0], 0);
            reply
        })
    });
    group.finish();
    drop(host);
    drop(key);
}

/// 1Password's passkey-rs authenticator, driven from the same request bytes:
/// CBOR decoded into its request types, its reply encoded back to CBOR.
mod peer {
    use super::*;
    use passkey_authenticator::{UiHint, UserCheck, UserValidationMethod};
    use passkey_types::Passkey;
    use passkey_types::ctap2::{Aaguid, Ctap2Error, get_assertion, make_credential};

    /// Presence always given, no built-in verification (like softkey's
    /// auto-approving simulator).
    pub struct Present;

    #[async_trait::async_trait]
    impl UserValidationMethod for Present {
        type PasskeyItem = Passkey;

        async fn check_user<'a>(
            &self,
            _hint: UiHint<'a, Passkey>,
            presence: bool,
            _verification: bool,
        ) -> Result<UserCheck, Ctap2Error> {
            Ok(UserCheck {
                presence,
                verification: false,
            })
        }

        fn is_presence_enabled(&self) -> bool {
            true
        }

        fn is_verification_enabled(&self) -> Option<bool> {
            None
        }
    }

    pub struct Peer(
        passkey_authenticator::Authenticator<
            Option<Passkey>,
            Present,
            passkey_crypto::AvailableBackend,
        >,
    );

    /// Runs a future that never waits (in-memory store, instant presence).
    fn ready<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("passkey-authenticator waited"),
        }
    }

    impl Peer {
        pub fn new() -> Self {
            let mut auth = passkey_authenticator::Authenticator::new(
                Aaguid::new_empty(),
                None,
                Present,
                passkey_crypto::AvailableBackend,
            );
            auth.set_make_credentials_with_signature_counter(true);
            Self(auth)
        }

        pub fn make_credential(&mut self, request: &[u8]) -> Vec<u8> {
            let parsed: make_credential::Request =
                ciborium::de::from_reader(&request[1..]).expect("passkey-rs parses it");
            let response = ready(self.0.make_credential(parsed)).expect("made");
            let mut out = vec![0];
            ciborium::ser::into_writer(&response, &mut out).unwrap();
            out
        }

        pub fn get_assertion(&mut self, request: &[u8]) -> Vec<u8> {
            let parsed: get_assertion::Request =
                ciborium::de::from_reader(&request[1..]).expect("passkey-rs parses it");
            let response = ready(self.0.get_assertion(parsed)).expect("asserted");
            let mut out = vec![0];
            ciborium::ser::into_writer(&response, &mut out).unwrap();
            out
        }
    }
}

/// The algorithms beyond ES256 and EdDSA (which `get_assertion/*` and
/// `make_credential/*` measure), as the benches name them.
const ALGORITHMS: [(&str, i64); 8] = [
    ("es384", -35),
    ("es512", -36),
    ("es256k", -47),
    ("rs256", -257),
    ("ps256", -37),
    ("mldsa44", -48),
    ("mldsa65", -49),
    ("mldsa87", -50),
];

fn all_algorithms<S: Store>(store: S) -> Authenticator<S, StdRng> {
    Authenticator::new(
        Config {
            algorithms: softkey_authenticator::crypto::Algorithm::ALL.to_vec(),
            ..Config::default()
        },
        store,
        StdRng::seed_from_u64(7),
        Instant::now(),
    )
}

/// The references: one bare signature with a ready key, and key generation
/// followed by a signature and the public key's encoding, per algorithm.
fn bench_algorithm_references(c: &mut Criterion) {
    use ml_dsa::signature::Keypair as _;
    let mut group = c.benchmark_group("alg_sign");
    let mut rng = StdRng::seed_from_u64(1);
    let message = assertion_message();
    macro_rules! ecdsa {
        ($name:literal, $krate:ident) => {{
            let key = <$krate::ecdsa::SigningKey as Generate>::generate_from_rng(&mut rng);
            group.bench_function($name, |b| {
                b.iter(|| {
                    let signature: $krate::ecdsa::Signature = key.sign(black_box(&message));
                    signature
                })
            });
            group.bench_function(concat!($name, "_keygen_sign"), |b| {
                b.iter(|| {
                    let key = <$krate::ecdsa::SigningKey as Generate>::generate_from_rng(&mut rng);
                    let public = key.verifying_key().to_sec1_point(false);
                    let signature: $krate::ecdsa::Signature = key.sign(black_box(&message));
                    (public, signature)
                })
            });
        }};
    }
    ecdsa!("es384", p384);
    ecdsa!("es512", p521);
    ecdsa!("es256k", k256);
    let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(message);
    group.bench_function("rs256", |b| {
        b.iter(|| {
            rsa_key
                .sign_with_rng(&mut rng, rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
                .unwrap()
        })
    });
    group.bench_function("ps256", |b| {
        b.iter(|| {
            rsa_key
                .sign_with_rng(&mut rng, rsa::Pss::<sha2::Sha256>::new(), &digest)
                .unwrap()
        })
    });
    // ML-DSA signing is a rejection loop: how many rounds a signature takes
    // depends on the key, the message and the hedging randomness, and the
    // rounds vary by a factor of several from one signature to the next. So
    // the references sign what getAssertion signs — with the credential's
    // own key (its seed, as makeCredential made it in
    // `alg_get_assertion/*`), a message that changes on every call like
    // authData ‖ clientDataHash does (a counter), hedged with randomness
    // from a StdRng like the authenticator's — and scripts/bench.sh compares
    // means over all iterations, not minima (see there).
    macro_rules! ml_dsa {
        ($name:literal, $params:ty, $alg:literal) => {{
            let seed = ml_dsa::B32::from(ml_dsa_credential_seed($alg));
            let key = ml_dsa::SigningKey::<$params>::from_seed(&seed);
            let mut message = AssertionMessages::default();
            group.bench_function($name, |b| {
                b.iter(|| {
                    key.expanded_key()
                        .sign_randomized(black_box(message.next()), &[], &mut rng)
                        .unwrap()
                })
            });
            group.bench_function(concat!($name, "_seed_sign"), |b| {
                b.iter(|| {
                    ml_dsa::SigningKey::<$params>::from_seed(black_box(&seed))
                        .expanded_key()
                        .sign_randomized(black_box(message.next()), &[], &mut rng)
                        .unwrap()
                })
            });
            group.bench_function(concat!($name, "_keygen_sign"), |b| {
                b.iter(|| {
                    let key =
                        <ml_dsa::SigningKey<$params> as Generate>::generate_from_rng(&mut rng);
                    let public = key.verifying_key().encode();
                    let signature = key
                        .expanded_key()
                        .sign_randomized(black_box(message.next()), &[], &mut rng)
                        .unwrap();
                    (public, signature)
                })
            });
        }};
    }
    ml_dsa!("mldsa44", ml_dsa::MlDsa44, -48);
    ml_dsa!("mldsa65", ml_dsa::MlDsa65, -49);
    ml_dsa!("mldsa87", ml_dsa::MlDsa87, -50);
    group.finish();
    // RSA key generation: a fifth of a second each, and very uneven.
    let mut group = c.benchmark_group("alg_sign_slow");
    group.sample_size(10);
    group.bench_function("rsa_keygen_sign", |b| {
        b.iter(|| {
            let key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
            key.sign_with_rng(&mut rng, rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
                .unwrap()
        })
    });
    group.finish();
}

/// The authenticator `alg_get_assertion/*` signs with: one discoverable
/// credential of `alg`, made with the authenticator's seeded RNG.
fn one_credential(alg: i64) -> Authenticator<MemoryStore, StdRng> {
    let mut auth = all_algorithms(memory_store());
    call(&mut auth, &make_credential_request(alg, true));
    auth
}

/// The seed of the ML-DSA credential that `alg_get_assertion/*` signs with
/// (the same every run: the authenticator's RNG is seeded), for the
/// references to sign with the same key.
fn ml_dsa_credential_seed(alg: i64) -> [u8; 32] {
    let mut auth = one_credential(alg);
    let credentials = auth.store_mut().all_discoverable().unwrap();
    credentials[0]
        .private_key
        .secret_bytes()
        .expose_secret()
        .try_into()
        .unwrap()
}

/// What getAssertion signs, one call after another: authData (rpIdHash,
/// flags, a counter that goes up on every call) ‖ clientDataHash.
struct AssertionMessages {
    message: [u8; 69],
    counter: u32,
}

impl Default for AssertionMessages {
    fn default() -> Self {
        Self {
            message: assertion_message(),
            counter: 0,
        }
    }
}

impl AssertionMessages {
    fn next(&mut self) -> &[u8] {
        self.counter = self.counter.wrapping_add(1);
        self.message[..32].fill(0x5a);
        self.message[32] = 0x01;
        self.message[33..37].copy_from_slice(&self.counter.to_be_bytes());
        self.message[37..].fill(0x22);
        &self.message
    }
}

fn bench_algorithm_get_assertion(c: &mut Criterion) {
    let mut group = c.benchmark_group("alg_get_assertion");
    let get = get_assertion_request();
    for (name, alg) in ALGORITHMS {
        let mut auth = one_credential(alg);
        group.bench_function(name, |b| b.iter(|| call(&mut auth, black_box(&get))));
    }
    group.finish();
}

/// A non-discoverable getAssertion: the credential ID in the allowList is
/// opened (AEAD) and its key rebuilt from the sealed form on every call, as
/// for every sealed ID (and, from the vault, every discoverable one).
fn bench_algorithm_get_assertion_sealed(c: &mut Criterion) {
    let mut group = c.benchmark_group("alg_get_assertion_sealed");
    for (name, alg) in [("eddsa", -8), ("es384", -35), ("rs256", -257)] {
        let mut auth = all_algorithms(memory_store());
        let made = call(&mut auth, &make_credential_request(alg, false));
        let Value::Map(entries) = cbor::decode(&made[1..]).unwrap() else {
            panic!("makeCredential reply is a map")
        };
        let auth_data = entries
            .into_iter()
            .find(|(k, _)| *k == int(2))
            .and_then(|(_, v)| v.into_bytes().ok())
            .unwrap();
        // rpIdHash 32, flags 1, counter 4, AAGUID 16, then the ID's length.
        let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        let id = &auth_data[55..55 + id_len];
        let get = request(
            0x02,
            vec![
                (int(1), text(RP_ID)),
                (int(2), bytes(&[0x22; 32])),
                (
                    int(3),
                    Value::Array(vec![Value::Map(vec![
                        (text("id"), bytes(id)),
                        (text("type"), text("public-key")),
                    ])]),
                ),
            ],
        );
        group.bench_function(name, |b| b.iter(|| call(&mut auth, black_box(&get))));
    }
    group.finish();
}

fn bench_algorithm_make_credential(c: &mut Criterion) {
    let mut group = c.benchmark_group("alg_make_credential");
    for (name, alg) in ALGORITHMS {
        if alg == -257 || alg == -37 {
            continue; // RSA: measured apart, with fewer samples
        }
        let request = make_credential_request(alg, false);
        let mut auth = all_algorithms(memory_store());
        group.bench_function(name, |b| b.iter(|| call(&mut auth, black_box(&request))));
    }
    group.finish();
    let mut group = c.benchmark_group("alg_make_credential_slow");
    group.sample_size(10);
    let request = make_credential_request(-257, false);
    let mut auth = all_algorithms(memory_store());
    group.bench_function("rs256", |b| b.iter(|| call(&mut auth, black_box(&request))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_sign, bench_get_assertion, bench_make_credential, bench_ctaphid_udp,
        durable::bench_vault_make_credential, durable::bench_udp_clients,
        bench_algorithm_references, bench_algorithm_get_assertion,
        bench_algorithm_get_assertion_sealed, bench_algorithm_make_credential
}
criterion_main!(benches);
