//! `softkey vault …` through the clap arguments the binary mounts, with key and
//! passphrase files as scripts use them.

// Test code throughout.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Fixture, credential, run};
use softkey_authenticator::store::Store;
use softkey_vault::VaultError;

fn write_private(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn init_info_list_slots_and_passwd_with_files() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("v/vault.sqlite");
    let vault = vault.to_str().unwrap();
    let pass = dir.path().join("pass");
    let pass2 = dir.path().join("pass2");
    let key = dir.path().join("extra.key");
    write_private(&pass, "correct horse\n");
    write_private(&pass2, "battery staple\r\n");
    let pass = pass.to_str().unwrap();
    let pass2 = pass2.to_str().unwrap();
    let key = key.to_str().unwrap();
    let fast = "--danger-fast-kdf";

    let out = run(&["--vault", vault, "--passphrase-file", pass, "init", fast]).unwrap();
    assert!(out.contains("Created vault"), "{out}");
    let out = run(&["--vault", vault, "--passphrase-file", pass, "list"]).unwrap();
    assert_eq!(out.trim(), "No credentials.");
    let missing = dir.path().join("missing.sqlite");
    assert!(matches!(
        run(&["--vault", missing.to_str().unwrap(), "--passphrase-file", pass, "info"]),
        Err(VaultError::Usage(message)) if message.contains("softkey vault init")
    ));
    let out = run(&[
        "--vault",
        vault,
        "--passphrase-file",
        pass,
        "list",
        "--json",
    ])
    .unwrap();
    assert_eq!(out.trim(), "[]");

    let out = run(&[
        "--vault",
        vault,
        "--passphrase-file",
        pass,
        "add-key",
        "--new-key-file",
        key,
    ])
    .unwrap();
    assert!(out.contains("Added slot 2 (key-file)"), "{out}");
    let out = run(&["--vault", vault, "--key-file", key, "info"]).unwrap();
    assert!(out.contains("credentials:  0"), "{out}");
    assert!(
        out.contains("key-file") && out.contains("passphrase"),
        "{out}"
    );
    let info: serde_json::Value = serde_json::from_str(
        &run(&["--vault", vault, "--key-file", key, "info", "--json"]).unwrap(),
    )
    .unwrap();
    assert_eq!(info["slots"].as_array().unwrap().len(), 2);
    assert_eq!(info["unlocked_slot"], 2);

    // passwd from the key-file session changes the only passphrase slot.
    let out = run(&[
        "--vault",
        vault,
        "--key-file",
        key,
        "passwd",
        "--new-passphrase-file",
        pass2,
        fast,
    ])
    .unwrap();
    assert!(out.contains("Changed the passphrase"), "{out}");
    assert!(matches!(
        run(&["--vault", vault, "--passphrase-file", pass, "info"]),
        Err(VaultError::WrongPassphrase)
    ));
    run(&["--vault", vault, "--passphrase-file", pass2, "info"]).unwrap();

    let out = run(&[
        "--vault",
        vault,
        "--passphrase-file",
        pass2,
        "remove-key",
        "2",
    ])
    .unwrap();
    assert!(out.contains("Removed slot 2"), "{out}");
    assert!(matches!(
        run(&["--vault", vault, "--key-file", key, "info"]),
        Err(VaultError::NoMatchingSlot { .. })
    ));
    assert!(matches!(
        run(&[
            "--vault",
            vault,
            "--passphrase-file",
            pass2,
            "remove-key",
            "3"
        ]),
        Err(VaultError::LastSlot(3))
    ));
    assert!(matches!(
        run(&[
            "--vault",
            vault,
            "--passphrase-file",
            pass2,
            "delete",
            "81aa"
        ]),
        Err(VaultError::NoSuchCredential(_))
    ));
}

#[test]
fn init_with_a_missing_key_file_generates_it() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite");
    let key = dir.path().join("new.key");
    let (vault, key_str) = (vault.to_str().unwrap(), key.to_str().unwrap());
    run(&["--vault", vault, "--key-file", key_str, "init"]).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    let out = run(&["--vault", vault, "--key-file", key_str, "info"]).unwrap();
    assert!(out.contains("key-file"), "{out}");
}

#[test]
fn list_and_delete_credentials() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(
            &[0x81, 0xaa],
            "example.com",
            b"alice",
            "alice",
            1,
        ))
        .unwrap();
    drop(vault);
    let vault = fixture.vault_path.to_str().unwrap();
    let key = fixture.key_file.to_str().unwrap();
    let out = run(&["--vault", vault, "--key-file", key, "list"]).unwrap();
    assert!(
        out.starts_with("81aa  example.com  alice  EdDSA  signs=0"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &run(&["--vault", vault, "--key-file", key, "list", "--json"]).unwrap(),
    )
    .unwrap();
    assert_eq!(json[0]["rp_id"], "example.com");
    assert_eq!(json[0]["user_display_name"], "alice Display");
    let out = run(&["--vault", vault, "--key-file", key, "delete", "81AA"]).unwrap();
    assert!(out.contains("Deleted"), "{out}");
    assert_eq!(fixture.open().discoverable_count().unwrap(), 0);
}

#[test]
fn rekey_keeps_the_named_slots_and_removes_others_only_when_told() {
    let fixture = Fixture::new();
    let mut vault = fixture.create();
    vault
        .put_discoverable(&credential(&[0x81, 0xbb], "example.com", b"bob", "bob", 2))
        .unwrap();
    drop(vault);
    let dir = fixture.dir.path();
    let (vault, key) = (
        fixture.vault_path.to_str().unwrap(),
        fixture.key_file.to_str().unwrap(),
    );
    let pass = dir.join("pass");
    write_private(&pass, "second slot\n");
    let pass = pass.to_str().unwrap();
    let fast = "--danger-fast-kdf";
    run(&[
        "--vault",
        vault,
        "--key-file",
        key,
        "add-key",
        "--new-passphrase-file",
        pass,
        fast,
    ])
    .unwrap();

    // The passphrase slot (2) is neither kept nor allowed to go: refused.
    assert!(matches!(
        run(&["--vault", vault, "--key-file", key, "rekey"]),
        Err(VaultError::Usage(message)) if message.contains("2 (passphrase)")
    ));
    let kept = format!("2={pass}");
    let out = run(&[
        "--vault",
        vault,
        "--key-file",
        key,
        "rekey",
        "--keep-passphrase-file",
        &kept,
    ])
    .unwrap();
    assert!(
        out.contains("1 credentials") && out.contains("slots kept: 1, 2; removed: none"),
        "{out}"
    );
    let out = run(&["--vault", vault, "--passphrase-file", pass, "list"]).unwrap();
    assert!(out.starts_with("81bb  example.com  bob"), "{out}");
    assert!(matches!(
        run(&[
            "--vault",
            vault,
            "--key-file",
            key,
            "rekey",
            "--keep-key-file",
            "x"
        ]),
        Err(VaultError::Usage(_))
    ));
    let out = run(&[
        "--vault",
        vault,
        "--key-file",
        key,
        "rekey",
        "--remove-other-slots",
    ])
    .unwrap();
    assert!(out.contains("slots kept: 1; removed: 2"), "{out}");
    assert!(run(&["--vault", vault, "--passphrase-file", pass, "list"]).is_err());
}

/// `--tpm-pcrs` binds a new TPM slot; on a command that makes none it is a
/// usage error, not silently ignored, and the vault is left as it was.
#[test]
fn tpm_pcrs_without_a_new_tpm_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite");
    let vault = vault.to_str().unwrap();
    let key = dir.path().join("k.key");
    let key = key.to_str().unwrap();
    run(&["--vault", vault, "--key-file", key, "init"]).unwrap();
    let before = std::fs::read(vault).unwrap();
    for command in [["list"], ["info"], ["passwd"], ["rekey"]] {
        let mut args = vec!["--vault", vault, "--key-file", key, "--tpm-pcrs", "7"];
        args.extend(command);
        assert!(
            matches!(
                run(&args),
                Err(VaultError::Usage(ref message)) if message.contains("--tpm-pcrs")
            ),
            "{command:?}"
        );
    }
    assert_eq!(std::fs::read(vault).unwrap(), before);
}
