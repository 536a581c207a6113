//! Vault benchmarks, each figure a ratio measured in the same run:
//!
//! - getAssertion lookup (`discoverable_for_rp`) in a vault of 100k discoverable
//!   credentials vs one of 10 (goal ≤ 1.2×);
//! - a discoverable makeCredential's `put_discoverable` vs one bare
//!   write + fdatasync on the same file system (goal ≤ 1.3× fsync + crypto);
//! - opening (unlocking with a key file, so no Argon2) a 100k vault vs a 10 one;
//! - an ES256 discoverable getAssertion through the CTAP core on a vault vs
//!   one bare P-256 signature (goal ≤ 1.3×, issue 15), with the counters as
//!   they are (ranges reserved durably, counted in memory) and, for
//!   comparison in the same run, with one durable write per assertion (the
//!   `Store` default the vault overrides: how every assertion paid before);
//! - peak RSS of the process after building and using the 100k vault.
//!
//! `SOFTKEY_BENCH_CREDENTIALS` changes the large size (default 100000).

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use softkey_authenticator::cbor::{self, Value, bytes, int, text};
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey, sha256};
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{SettingKey, Store, StoreError};
use softkey_authenticator::{Authenticator, Config, Outcome, Verdict};
use softkey_vault::{KdfParams, Unlocker, Vault, generate_key_file};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    key_file: PathBuf,
    /// The rpIdHash of a relying party with one credential.
    rp_id_hash: [u8; 32],
}

impl Fixture {
    fn unlocker(&self) -> Unlocker {
        Unlocker::KeyFile(self.key_file.clone())
    }
}

fn credential(index: u64) -> StoredCredential {
    let mut id = vec![0x81; 32];
    id[1..9].copy_from_slice(&index.to_be_bytes());
    let mut seed = [0x5a; 32];
    seed[..8].copy_from_slice(&index.to_be_bytes());
    StoredCredential {
        credential_id: id,
        rp_id: format!("rp-{index}.example"),
        rp_name: Some(format!("Relying party {index}")),
        user: UserEntity {
            id: index.to_be_bytes().to_vec(),
            name: Some(format!("user{index}@example.com")),
            display_name: Some(format!("User {index}")),
        },
        private_key: PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed))
            .expect("any 32 bytes are an Ed25519 seed"),
        sign_count: 0,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: true,
        backup: softkey_authenticator::policy::BackupFlags::default(),
        third_party_payment: false,
    }
}

fn fixture(count: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("vault.sqlite");
    let key_file = dir.path().join("vault.key");
    generate_key_file(&key_file).expect("key file");
    let mut vault = Vault::create(
        &path,
        &Unlocker::KeyFile(key_file.clone()),
        KdfParams::danger_fast_for_tests(),
    )
    .expect("vault");
    let mut next = 0;
    while next < count {
        let chunk: Vec<_> = (next..count.min(next + 5_000)).map(credential).collect();
        vault.put_many(&chunk).expect("bulk insert");
        next += chunk.len() as u64;
    }
    Fixture {
        rp_id_hash: sha256(format!("rp-{}.example", count / 2).as_bytes()),
        _dir: dir,
        path,
        key_file,
    }
}

fn open(fixture: &Fixture) -> Vault {
    Vault::open(&fixture.path, &fixture.unlocker()).expect("open")
}

/// A write + fdatasync of one small record in `dir`: what any durable store pays.
struct BareFsync(std::fs::File);

impl BareFsync {
    fn new(dir: &Path) -> Self {
        Self(std::fs::File::create(dir.join("bare-fsync")).expect("file"))
    }

    fn write(&mut self) {
        self.0.write_all(&[0x42; 256]).expect("write");
        self.0.sync_data().expect("fdatasync");
    }
}

/// Median of `rounds` interleaved timings of `a` and `b`.
fn interleaved(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        a();
        times_a.push(start.elapsed());
        let start = Instant::now();
        b();
        times_b.push(start.elapsed());
    }
    times_a.sort();
    times_b.sort();
    (times_a[rounds / 2], times_b[rounds / 2])
}

/// The vault with the `Store` default for discoverable signature counters:
/// the credential stored again, durably, on every assertion.
struct WriteEachAssertion(Vault);

impl Store for WriteEachAssertion {
    fn device_secret(&mut self) -> Result<Secret32, StoreError> {
        self.0.device_secret()
    }
    fn discoverable_for_rp(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        self.0.discoverable_for_rp(hash)
    }
    fn discoverable_by_id(&mut self, id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        self.0.discoverable_by_id(id)
    }
    fn all_discoverable(&mut self) -> Result<Vec<StoredCredential>, StoreError> {
        self.0.all_discoverable()
    }
    fn discoverable_count(&mut self) -> Result<usize, StoreError> {
        self.0.discoverable_count()
    }
    fn put_discoverable(&mut self, credential: &StoredCredential) -> Result<(), StoreError> {
        self.0.put_discoverable(credential)
    }
    fn put_discoverable_batch(
        &mut self,
        credentials: &[&StoredCredential],
        settings: &[(SettingKey, Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        self.0.put_discoverable_batch(credentials, settings)
    }
    fn delete_discoverable(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.0.delete_discoverable(id)
    }
    fn next_global_counter(&mut self) -> Result<u32, StoreError> {
        self.0.next_global_counter()
    }
    fn setting(&mut self, key: SettingKey) -> Result<Option<SecretBytes>, StoreError> {
        self.0.setting(key)
    }
    fn put_setting(&mut self, key: SettingKey, value: Option<&[u8]>) -> Result<(), StoreError> {
        self.0.put_setting(key, value)
    }
    fn wipe(&mut self, new_device_secret: Secret32) -> Result<(), StoreError> {
        self.0.wipe(new_device_secret)
    }
}

type Rng = rand::rngs::ThreadRng;

fn ctap_request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

/// Request bytes in, reply bytes out, the touch approved at once.
fn call<S: Store>(auth: &mut Authenticator<S, Rng>, request: &[u8]) -> Vec<u8> {
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

/// An authenticator on `store` holding one ES256 discoverable credential for
/// example.com; and the getAssertion request for it.
fn with_es256_passkey<S: Store>(store: S) -> (Authenticator<S, Rng>, Vec<u8>) {
    let mut auth = Authenticator::new(Config::default(), store, rand::rng(), Instant::now());
    let make = ctap_request(
        0x01,
        vec![
            (int(1), bytes(&[0x11; 32])),
            (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(b"user-1")),
                    (text("name"), text("alice")),
                ]),
            ),
            (
                int(4),
                Value::Array(vec![Value::Map(vec![
                    (text("alg"), int(-7)),
                    (text("type"), text("public-key")),
                ])]),
            ),
            (int(7), Value::Map(vec![(text("rk"), Value::Bool(true))])),
        ],
    );
    call(&mut auth, &make);
    let get = ctap_request(
        0x02,
        vec![(int(1), text("example.com")), (int(2), bytes(&[0x22; 32]))],
    );
    (auth, get)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let large: u64 = std::env::var("SOFTKEY_BENCH_CREDENTIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if test_mode { 1_000 } else { 100_000 });
    let built = Instant::now();
    let small_fixture = fixture(10);
    let large_fixture = fixture(large);
    eprintln!(
        "built vaults of 10 and {large} credentials in {:?}",
        built.elapsed()
    );
    let mut small = open(&small_fixture);
    let mut big = open(&large_fixture);
    let mut writer = open(&small_fixture);
    let mut bare = BareFsync::new(small_fixture.path.parent().expect("vault directory"));
    let mut next_id = 1_000_000u64;
    let reserving_fixture = fixture(0);
    let (mut reserving, get) = with_es256_passkey(open(&reserving_fixture));
    let writing_fixture = fixture(0);
    let (mut writing, _) = with_es256_passkey(WriteEachAssertion(open(&writing_fixture)));
    let signer = PrivateKey::generate(Algorithm::Es256, &mut rand::rng());
    let message = [0x5a; 69];
    // P-256 signatures are deterministic (RFC 6979): the rng goes unused.
    let mut sign_rng = rand::rng();

    let mut criterion = Criterion::default().configure_from_args();
    criterion.bench_function("lookup_10", |b| {
        b.iter(|| {
            black_box(
                small
                    .discoverable_for_rp(&small_fixture.rp_id_hash)
                    .expect("lookup"),
            )
        });
    });
    criterion.bench_function(&format!("lookup_{large}"), |b| {
        b.iter(|| {
            black_box(
                big.discoverable_for_rp(&large_fixture.rp_id_hash)
                    .expect("lookup"),
            )
        });
    });
    criterion.bench_function("put_discoverable", |b| {
        b.iter(|| {
            next_id += 1;
            writer.put_discoverable(&credential(next_id)).expect("put");
        });
    });
    criterion.bench_function("bare_write_fdatasync", |b| b.iter(|| bare.write()));
    criterion.bench_function("open_10", |b| {
        b.iter_with_large_drop(|| open(&small_fixture))
    });
    criterion.bench_function(&format!("open_{large}"), |b| {
        b.iter_with_large_drop(|| open(&large_fixture))
    });
    criterion.bench_function("sign_p256", |b| {
        b.iter(|| {
            black_box(
                signer
                    .sign(black_box(&message), &mut sign_rng)
                    .expect("sign"),
            )
        })
    });
    criterion.bench_function("get_assertion_vault", |b| {
        b.iter(|| black_box(call(&mut reserving, black_box(&get))))
    });
    criterion.bench_function("get_assertion_vault_write_each", |b| {
        b.iter(|| black_box(call(&mut writing, black_box(&get))))
    });
    criterion.final_summary();

    // The figures that matter: ratios, measured interleaved in the same run.
    let rounds = if test_mode { 5 } else { 301 };
    let (lookup_big, lookup_small) = interleaved(
        rounds,
        || {
            drop(black_box(
                big.discoverable_for_rp(&large_fixture.rp_id_hash),
            ))
        },
        || {
            drop(black_box(
                small.discoverable_for_rp(&small_fixture.rp_id_hash),
            ))
        },
    );
    let (put, fsync) = interleaved(
        rounds,
        || {
            next_id += 1;
            writer.put_discoverable(&credential(next_id)).expect("put");
        },
        || bare.write(),
    );
    let (open_big, open_small) = interleaved(
        rounds.min(101),
        || drop(open(&large_fixture)),
        || drop(open(&small_fixture)),
    );
    let (assertion, sign) = interleaved(
        rounds,
        || drop(black_box(call(&mut reserving, &get))),
        || drop(black_box(signer.sign(&message, &mut sign_rng))),
    );
    let (assertion_writing, sign_again) = interleaved(
        rounds,
        || drop(black_box(call(&mut writing, &get))),
        || drop(black_box(signer.sign(&message, &mut sign_rng))),
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("softkey-vault ratios (medians of {rounds} interleaved rounds):");
    println!(
        "  lookup {large} / 10 credentials:   {:.2}×  ({lookup_big:?} vs {lookup_small:?}; goal ≤ 1.2×)",
        ratio(lookup_big, lookup_small)
    );
    println!(
        "  put_discoverable / bare fdatasync: {:.2}×  ({put:?} vs {fsync:?}; goal ≤ 1.3× + crypto)",
        ratio(put, fsync)
    );
    println!(
        "  open {large} / open 10 (no KDF):    {:.2}×  ({open_big:?} vs {open_small:?})",
        ratio(open_big, open_small)
    );
    println!(
        "  getAssertion ES256 rk on the vault / P-256 sign: {:.2}×  ({assertion:?} vs {sign:?}; goal ≤ 1.3×)",
        ratio(assertion, sign)
    );
    println!(
        "    the same, one durable write per assertion: {:.2}×  ({assertion_writing:?} vs {sign_again:?})",
        ratio(assertion_writing, sign_again)
    );
    if let Some(rss) = peak_rss_mib() {
        println!("  peak RSS of this process:          {rss:.1} MiB (goal ≤ 100 MiB)");
    }
}
