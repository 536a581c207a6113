//! Vault benchmarks, each figure a ratio measured in the same run:
//!
//! - getAssertion lookup (`discoverable_for_rp`) in a vault of 100k discoverable
//!   credentials vs one of 10 (goal ≤ 1.2×);
//! - a discoverable makeCredential's `put_discoverable` vs one bare
//!   write + fdatasync on the same file system (goal ≤ 1.3× fsync + crypto);
//! - opening (unlocking with a key file, so no Argon2) a 100k vault vs a 10 one;
//! - peak RSS of the process after building and using the 100k vault.
//!
//! `SOFTKEY_BENCH_CREDENTIALS` changes the large size (default 100000).

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey, sha256};
use softkey_authenticator::secret::SecretBytes;
use softkey_authenticator::store::Store;
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
    if let Some(rss) = peak_rss_mib() {
        println!("  peak RSS of this process:          {rss:.1} MiB (goal ≤ 100 MiB)");
    }
}
