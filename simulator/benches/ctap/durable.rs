//! The benches of issue 15 beyond the single request in memory:
//!
//! - `vault_make_credential/es256_rk`: a discoverable ES256 makeCredential
//!   (packed self attestation) on the SQLite vault, durable before the reply.
//!   The request names the same user each time, so each new credential
//!   replaces the previous one (CTAP 2.1 §6.1.2 step 17) and the vault stays
//!   at one row, as when a person re-registers on a site.
//! - `vault_make_credential/fsync`: its reference, one bare fsync of the same
//!   filesystem: a 4 KiB page rewritten in a file beside the vault, then
//!   `fsync(2)`. (The table adds `sign/p256_keygen_sign`.)
//! - `ctaphid_udp_clients/vault_8`: sustained throughput, 8 client threads
//!   each on its own UDP socket and CTAPHID channel, sending discoverable
//!   getAssertions to one device on the vault (`softkey::udp::serve`, one
//!   thread) as fast as it answers. Reported per assertion (wall time of a
//!   batch / assertions in it); the table compares it with one P-256
//!   signature, the bound of the one core the device computes on.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;

use super::*;

pub fn bench_vault_make_credential(c: &mut Criterion) {
    let mut group = c.benchmark_group("vault_make_credential");
    let (vault, dir) = vault_store();
    let mut auth = authenticator(vault);
    let request = make_credential_request(-7, true);
    group.bench_function("es256_rk", |b| {
        b.iter(|| call(&mut auth, black_box(&request)))
    });
    let page = [0xa5u8; 4096];
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(dir.path().join("fsync-reference"))
        .unwrap();
    file.write_all(&page).unwrap();
    file.sync_all().unwrap();
    group.bench_function("fsync", |b| {
        b.iter(|| {
            file.write_all_at(black_box(&page), 0).unwrap();
            file.sync_all().unwrap();
        })
    });
    group.finish();
}

/// Clients at once in `ctaphid_udp_clients`.
const CLIENTS: usize = 8;

pub fn bench_udp_clients(c: &mut Criterion) {
    let mut group = c.benchmark_group("ctaphid_udp_clients");
    let key = UdpKey::start_on_vault();
    let mut clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut host = HostClient::new(UdpHost::connect(key.address).unwrap());
            host.set_timeout(Duration::from_secs(10));
            host.init().unwrap();
            host
        })
        .collect();
    let channels: std::collections::HashSet<u32> = clients.iter().map(|c| c.channel()).collect();
    assert_eq!(channels.len(), CLIENTS, "each client has its own channel");
    let get = get_assertion_request();
    let busy = std::sync::atomic::AtomicU64::new(0);
    group.bench_function("vault_8", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            std::thread::scope(|scope| {
                for (index, client) in clients.iter_mut().enumerate() {
                    // The iterations shared out, the first clients taking
                    // one more when they do not divide.
                    let share = iterations / CLIENTS as u64
                        + u64::from((index as u64) < iterations % CLIENTS as u64);
                    let (get, busy) = (&get, &busy);
                    scope.spawn(move || {
                        let mut done = 0;
                        while done < share {
                            match client.cbor(get, |_| {}) {
                                Ok(reply) => {
                                    assert_eq!(reply[0], 0);
                                    done += 1;
                                }
                                // CTAPHID_ERR_CHANNEL_BUSY: ask again.
                                Err(softkey_transport::host::HostError::Device(0x06)) => {
                                    busy.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(error) => panic!("assertion over UDP failed: {error}"),
                            }
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
    eprintln!(
        "ctaphid_udp_clients/vault_8: {} CTAPHID_ERR_CHANNEL_BUSY answers (asked again)",
        busy.load(Ordering::Relaxed)
    );
    drop(clients);
    drop(key);
}
