//! Crash test: a child process stores discoverable credentials in a loop and
//! prints each credential's id once `put_discoverable` returned (= the relying
//! party was told), and signs in between: it takes the next signature counter
//! of some of its credentials and the global counter (as getAssertion does)
//! and prints each value once it has it (= a client was told). The parent
//! kill -9s it at random moments, reopens the vault and checks that every
//! acknowledged credential is there, with at least the highest counter
//! reported for it, that no counter value is ever reported twice or lower than
//! one reported before (also by the next child, after the crash), and that
//! the vault opens and reads cleanly. Each new credential is stored with a
//! setting in one transaction (as makeCredential stores it with the new
//! credential store state): the setting never names a credential that is not
//! there.
//!
//! 200 kills by default; `SOFTKEY_CRASH_KILLS=1000` for the bench mode. The
//! child is this same test binary running the ignored `crash_child` test.

// Test code throughout (helpers and the child process included).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, credential};
use rand::RngExt;
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::{Unlocker, Vault};

const CHILD_ENV: &str = "SOFTKEY_CRASH_CHILD_DIR";

/// The child: loops forever until killed.
#[test]
#[ignore = "the child side of acknowledged_credentials_survive_kill_9, which runs it"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut vault = Vault::open(
        &dir.join("vault.sqlite"),
        &Unlocker::KeyFile(dir.join("vault.key")),
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut rng = rand::rng();
    // Sign in with some credentials of earlier children, and with our own.
    let mut signing: Vec<Vec<u8>> = vault
        .all_discoverable()
        .unwrap()
        .into_iter()
        .map(|c| c.credential_id.clone())
        .collect();
    signing.truncate(6);
    loop {
        let mut id = [0u8; 32];
        rng.fill(&mut id[..]);
        id[0] = 0x81;
        let user: [u8; 16] = rng.random();
        let rp = format!("rp-{}.example", rng.random_range(0..20));
        let mut stored = credential(&id, &rp, &user, "crash-test-user", id[1]);
        // As makeCredential stores it: with the new credential store state
        // (here the credential's id), in one transaction.
        vault
            .put_discoverable_with_setting(&stored, SettingKey::PersistentState, &id)
            .unwrap();
        writeln!(out, "ACK {} 0", hex::encode(id)).unwrap();
        out.flush().unwrap();
        // A signature-counter update of the same credential (getAssertion).
        stored.sign_count = 1;
        vault.put_discoverable(&stored).unwrap();
        writeln!(out, "ACK {} 1", hex::encode(id)).unwrap();
        out.flush().unwrap();
        signing.push(id.to_vec());
        if signing.len() > 8 {
            signing.remove(0);
        }
        // Sign-ins: what getAssertion asks of the store, one value at a time.
        for _ in 0..16 {
            let id = &signing[rng.random_range(0..signing.len())];
            let mut credential = vault.discoverable_by_id(id).unwrap().unwrap();
            let count = vault.next_sign_count(&mut credential).unwrap();
            writeln!(out, "SIGN {} {count}", hex::encode(id)).unwrap();
            out.flush().unwrap();
            let global = vault.next_global_counter().unwrap();
            writeln!(out, "GLOBAL {global}").unwrap();
            out.flush().unwrap();
        }
    }
}

/// Every counter value reported so far, checked as it comes: each must be
/// above every value reported before for the same counter.
#[derive(Default)]
struct Reported {
    /// Highest value reported per credential.
    credentials: HashMap<Vec<u8>, u32>,
    /// Highest global value reported.
    global: u32,
    /// Values reported again or lower than one before.
    violations: usize,
    /// Values reported in all.
    values: usize,
}

impl Reported {
    /// Records a "SIGN id n" or "GLOBAL n" line (only a complete one).
    fn record(&mut self, line: &str) {
        let Some(line) = line.strip_suffix('\n') else {
            return;
        };
        if let Some(at) = line.find("SIGN ") {
            let (id, count) = line[at + 5..].split_once(' ').unwrap();
            let count: u32 = count.parse().unwrap();
            let last = self
                .credentials
                .entry(hex::decode(id).unwrap())
                .or_default();
            let before = *last;
            *last = before.max(count);
            self.check(before, count);
        } else if let Some(at) = line.find("GLOBAL ") {
            let count: u32 = line[at + 7..].parse().unwrap();
            self.check(self.global, count);
            self.global = self.global.max(count);
        }
    }

    fn check(&mut self, before: u32, now: u32) {
        self.values += 1;
        if now <= before {
            self.violations += 1;
        }
    }
}

/// Records an "ACK id count" line (only a complete one); whether it was one.
fn record_ack(line: &str, acknowledged: &mut HashMap<Vec<u8>, u32>) -> bool {
    let Some(ack) = line
        .find("ACK ")
        .and_then(|at| line[at + 4..].strip_suffix('\n'))
    else {
        return false;
    };
    let (id, count) = ack.split_once(' ').unwrap();
    let count: u32 = count.parse().unwrap();
    let entry = acknowledged.entry(hex::decode(id).unwrap()).or_default();
    *entry = (*entry).max(count);
    true
}

#[derive(Default)]
struct Tally {
    kills: usize,
    lost: usize,
    corrupt: usize,
    /// Settings committed without the credential written with them.
    torn: usize,
    regressed: usize,
}

/// Reads the child's lines until `stop` says so or it ends; records them.
fn read_lines(
    reader: &mut impl BufRead,
    acknowledged: &mut HashMap<Vec<u8>, u32>,
    reported: &mut Reported,
    mut stop: impl FnMut(&str, bool) -> bool,
) {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return;
        }
        let acked = record_ack(&line, acknowledged);
        reported.record(&line);
        if stop(&line, acked) {
            return;
        }
    }
}

#[test]
fn acknowledged_credentials_survive_kill_9() {
    let kills: usize = std::env::var("SOFTKEY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let fixture = Fixture::new();
    drop(fixture.create());
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut reported = Reported::default();
    let mut tally = Tally::default();
    let mut rng = rand::rng();
    let started = Instant::now();

    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, fixture.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        // One kill in ten lands while the child is still starting and opening
        // (recovering) the vault; the others while it writes and signs in: at
        // a random time, or a random moment after a few acknowledgements (so
        // that a loaded machine still kills mid-stream rather than only at
        // startup).
        if round % 10 == 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..15)));
        } else {
            let acks_first = if round % 2 == 0 {
                rng.random_range(1..5)
            } else {
                0
            };
            let (mut ready, mut acks_seen) = (false, 0);
            // libtest prints "test crash_child ... " before the child's first line.
            read_lines(
                &mut reader,
                &mut acknowledged,
                &mut reported,
                |line, acked| {
                    ready |= line.contains("READY");
                    acks_seen += usize::from(acked);
                    ready && acks_seen >= acks_first
                },
            );
            std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        tally.kills += 1;

        // Everything the child printed before it died: only complete lines count.
        read_lines(&mut reader, &mut acknowledged, &mut reported, |_, _| false);
        // A counter reported counts as acknowledged for its credential.
        for (id, count) in &reported.credentials {
            let entry = acknowledged.entry(id.clone()).or_default();
            *entry = (*entry).max(*count);
        }

        let Ok(mut vault) = Vault::open(&fixture.vault_path, &fixture.unlocker()) else {
            tally.corrupt += 1;
            continue;
        };
        let Ok(all) = vault.all_discoverable() else {
            tally.corrupt += 1;
            continue;
        };
        let stored: HashMap<_, _> = all
            .iter()
            .map(|c| (c.credential_id.clone(), c.sign_count))
            .collect();
        // The setting written with a credential never shows without it.
        match vault.setting(SettingKey::PersistentState) {
            Ok(None) => {}
            Ok(Some(id)) if stored.contains_key(id.expose_secret()) => {}
            Ok(Some(_)) => tally.torn += 1,
            Err(_) => tally.corrupt += 1,
        }
        assert_eq!(
            tally.torn, 0,
            "round {round}: a setting was stored without its credential"
        );
        tally.lost = 0;
        tally.regressed = 0;
        for (id, count) in &acknowledged {
            match stored.get(id) {
                None => tally.lost += 1,
                Some(stored_count) if stored_count < count => tally.regressed += 1,
                Some(_) => {}
            }
        }
        assert_eq!(
            tally.lost, 0,
            "round {round}: acknowledged credentials lost"
        );
        assert_eq!(
            tally.regressed, 0,
            "round {round}: acknowledged counters regressed"
        );
        // The first values after the crash, from the parent: above all reported.
        if let Some(id) = reported.credentials.keys().next().cloned() {
            let mut credential = vault.discoverable_by_id(&id).unwrap().unwrap();
            let count = vault.next_sign_count(&mut credential).unwrap();
            reported.record(&format!("SIGN {} {count}\n", hex::encode(&id)));
        }
        let global = vault.next_global_counter().unwrap();
        reported.record(&format!("GLOBAL {global}\n"));
        assert_eq!(
            reported.violations, 0,
            "round {round}: a counter value was reported again or lower"
        );
    }
    eprintln!(
        "crash test: {} kills, {} acknowledged credentials, {} lost, {} counter regressions, \
         {} corrupt vaults; {} counter values reported ({} credentials, global up to {}), \
         {} reported again or lower; {:.1} s",
        tally.kills,
        acknowledged.len(),
        tally.lost,
        tally.regressed,
        tally.corrupt,
        reported.values,
        reported.credentials.len(),
        reported.global,
        reported.violations,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        tally.corrupt, 0,
        "vaults failed to open or read after a kill"
    );
    assert!(
        // Two rounds in five wait for at least one acknowledgement.
        acknowledged.len() >= kills / 3,
        "the child barely wrote anything"
    );
    assert!(reported.values >= kills, "the child barely signed in");
}
