//! Secrets go only into zeroizing buffers (issue 13 point 10, the vault's
//! part): this test binary's global allocator looks into every heap block
//! as it is freed (and every block a `realloc` leaves) for a marker planted
//! in each secret the vault handles — key file, passphrase, private key,
//! hmac-secret randoms, large-blob key, settings, counters — and counts the
//! blocks that still hold it. Every vault operation on those secrets must
//! leave none.
//!
//! SQLite allocates outside Rust's allocator, but it only ever sees sealed
//! payloads; what it sees is checked separately (the file holds no marker).

// Test code throughout (helpers included): a failure is a test failure.
#![allow(clippy::unwrap_used)]
// The allocator is `softkey_freed_memory::Scanner` (shared with the core's
// test); this file itself forbids `unsafe`.
#![forbid(unsafe_code)]

mod common;

use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::{KdfParams, Unlocker, Vault};
use zeroize::Zeroizing;

/// The marker: 12 bytes no encoding or cipher produces by chance.
const MARKER: [u8; 12] = *b"\xa7ZEROIZE-ME\x5c";

/// A secret of `len` bytes made of the marker, repeated.
fn marked(len: usize) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(MARKER.iter().copied().cycle().take(len).collect())
}

static NEEDLES: [&[u8]; 1] = [&MARKER];

#[global_allocator]
static ALLOCATOR: softkey_freed_memory::Scanner = softkey_freed_memory::Scanner;

/// Runs `body` with the scan on, for every thread (the vault's code may free
/// on a helper thread); the frames of every block found.
fn scan(body: impl FnOnce()) -> Vec<String> {
    softkey_freed_memory::scan(
        &NEEDLES,
        MARKER.len(),
        softkey_freed_memory::Scope::AllThreads,
        body,
    )
    .1
}

/// The frames of a backtrace that are ours (vault, authenticator, this test).
fn our_frames(trace: &str) -> String {
    trace
        .lines()
        .filter(|line| !line.trim_start().starts_with("at "))
        .take(24)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fails with where each block was freed if any still held a secret: the
/// vault's own code and the CTAP core's encoders it calls alike (the core's
/// part of issue 13 point 10 is merged, so nothing is tolerated).
fn assert_none_left(what: &str, found: &[String]) {
    assert!(
        found.is_empty(),
        "{what}: {} freed block(s) still held a secret; where they were freed:\n{}",
        found.len(),
        found
            .iter()
            .map(|t| our_frames(t))
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
}

fn marked_credential(id: u8) -> StoredCredential {
    let seed = marked(32);
    let mut credential = common::with_key(
        &[0x80 | id; 32],
        "example.com",
        &[id; 8],
        "alice",
        PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed)).unwrap(),
    );
    let random = |offset: usize| {
        let bytes = marked(32 + offset);
        Secret32::from_slice(&bytes[offset..]).unwrap()
    };
    credential.cred_random_with_uv = Some(random(1));
    credential.cred_random_without_uv = Some(random(2));
    credential.large_blob_key = Some(random(3));
    credential
}

fn file_holds_marker(path: &std::path::Path) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    for companion in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(companion);
        if let Ok(more) = std::fs::read(std::path::PathBuf::from(name)) {
            bytes.extend(more);
        }
    }
    softkey_freed_memory::holds_any(&bytes, &NEEDLES, MARKER.len())
}

#[test]
fn vault_operations_leave_no_secret_in_freed_memory() {
    // One test (one thread) arms the allocator at a time.
    let dir = tempfile::tempdir().unwrap();
    let vault_path = dir.path().join("vault.sqlite");
    let key_file = dir.path().join("vault.key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .unwrap();
        file.write_all(&marked(48)).unwrap();
    }
    let key = Unlocker::KeyFile(key_file.clone());
    let fast = KdfParams::danger_fast_for_tests();
    let passphrase = {
        let text = marked(24);
        Unlocker::Passphrase(SecretBytes::from_slice(&text))
    };
    let setting = marked(40);

    let found = scan(|| {
        let mut vault = Vault::create(&vault_path, &key, fast).unwrap();
        vault.add_slot(&passphrase, fast).unwrap();
        drop(vault);
        let mut vault = Vault::open(&vault_path, &key).unwrap();
        drop(Vault::open(&vault_path, &passphrase).unwrap());
        vault.put_discoverable(&marked_credential(1)).unwrap();
        vault.put_discoverable(&marked_credential(2)).unwrap();
        vault
            .put_setting(SettingKey::PinState, Some(&setting))
            .unwrap();
        vault
            .put_setting(SettingKey::LargeBlobArray, Some(&setting))
            .unwrap();
        for _ in 0..3 {
            vault.next_global_counter().unwrap();
        }
        drop(vault.discoverable_by_id(&[0x81; 32]).unwrap());
        drop(
            vault
                .discoverable_for_rp(&softkey_authenticator::crypto::sha256(b"example.com"))
                .unwrap(),
        );
        drop(vault.all_discoverable().unwrap());
        drop(vault.setting(SettingKey::PinState).unwrap());
        drop(vault.list().unwrap());
        vault.delete(&[0x82; 32]).unwrap();
        drop(vault);
        let mut vault = Vault::open(&vault_path, &key).unwrap();
        vault.wipe(Secret32::new([0x42; 32])).unwrap();
    });
    assert_none_left("create, open, store, read, delete, wipe", &found);
    assert!(!file_holds_marker(&vault_path), "a secret reached the file");

    // A passphrase read from a pipe (size unknown, as with `<(pass show …)`),
    // then used to change a slot's passphrase.
    let fifo = dir.path().join("passphrase.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let mut line = marked(201);
            *line.last_mut().unwrap() = b'\n';
            // Small writes: the reader sees the line arrive in pieces.
            for piece in line.chunks(7) {
                pipe.write_all(piece).unwrap();
            }
        })
    };
    let found = scan(|| {
        let new_passphrase = softkey_vault::cli::unlocker_for(None, Some(&fifo), false).unwrap();
        let mut vault = Vault::open(&vault_path, &key).unwrap();
        let slot = vault.add_slot(&passphrase, fast).unwrap();
        vault
            .change_passphrase(slot, &new_passphrase, fast)
            .unwrap();
        drop(vault);
        let mut vault = Vault::open(&vault_path, &new_passphrase).unwrap();
        vault.put_discoverable(&marked_credential(3)).unwrap();
        let unlocked = vault.unlocked_slot();
        vault
            .rekey(&[(unlocked, &new_passphrase), (1, &key)])
            .unwrap();
        drop(vault.all_discoverable().unwrap());
    });
    writer.join().unwrap();
    assert_none_left("passphrase from a pipe, passwd, rekey", &found);

    // CXF export and import: PKCS#8 keys, CredRandoms and the JSON through
    // age and back (the marker is found in raw form: in DER, CredRandoms and
    // decoded buffers; the base64 text of the JSON is not looked for).
    let other_path = dir.path().join("other.sqlite");
    // X25519: what the distributions' age 1.1 reads (and what users pass).
    #[allow(deprecated)]
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let identity_file = {
        use age::secrecy::ExposeSecret as _;
        Zeroizing::new(identity.to_string().expose_secret().as_bytes().to_vec())
    };
    let found = scan(|| {
        use softkey_vault::cxf::{self, ImportPlan, Protection, Unlock};
        let mut vault = Vault::open(&vault_path, &key).unwrap();
        vault.set_backup_eligible(true).unwrap();
        let mut credential = marked_credential(4);
        credential.backup = softkey_authenticator::policy::BackupFlags {
            eligible: true,
            state: false,
        };
        vault.put_discoverable(&credential).unwrap();
        drop(credential);
        let export = vault.export_cxf().unwrap();
        assert_eq!(export.credential_ids.len(), 1);
        let file = cxf::seal(
            &export.json,
            &Protection::Recipients(vec![recipient.clone()]),
        )
        .unwrap();
        drop(export);
        let json = cxf::open(&file, Some(&Unlock::IdentityFile(identity_file.clone()))).unwrap();
        let decoded = cxf::decode(&json).unwrap();
        let mut other = Vault::create(&other_path, &key, fast).unwrap();
        let mut plan = ImportPlan::new(decoded, &[], |_| false);
        assert_eq!(other.import_cxf(&mut plan).unwrap(), 1);
        drop(plan);
        drop(other.all_discoverable().unwrap());
    });
    assert_none_left("CXF export, age seal and open, import", &found);
    assert!(!file_holds_marker(&other_path), "a secret reached the file");
}
