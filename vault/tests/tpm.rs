//! TPM slots against a software TPM: each test starts its own `swtpm` (TCP
//! server and control ports on loopback, its state in a temporary folder,
//! `--flags not-need-init,startup-clear`) and reaches it through tpm2-tss's
//! swtpm TCTI. A second `swtpm` with its own state is "another machine".
//!
//! Without swtpm the tests are skipped with a note, unless
//! `SOFTKEY_REQUIRE_TPM=1` (CI), where they fail. Built without the `tpm`
//! feature the file holds one test, which fails if SOFTKEY_REQUIRE_TPM=1.
// Test code: a failure here is a test failure, with the location in the panic.
#![allow(clippy::unwrap_used)]

#[cfg(not(feature = "tpm"))]
#[test]
fn tpm_feature_is_on_where_required() {
    assert_ne!(
        std::env::var("SOFTKEY_REQUIRE_TPM").as_deref(),
        Ok("1"),
        "SOFTKEY_REQUIRE_TPM=1 but softkey-vault was built without the tpm feature \
         (cargo test -p softkey-vault --features tpm)"
    );
}

#[cfg(feature = "tpm")]
mod common;
#[cfg(feature = "tpm")]
mod with_tpm {
    use std::net::{TcpListener, TcpStream};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::common::{Fixture, credential};
    use softkey_authenticator::store::Store;
    use softkey_vault::{KdfParams, SlotKind, TpmConfig, Unlocker, Vault, VaultError};

    /// A running swtpm; killed on drop.
    pub struct Swtpm {
        child: Child,
        port: u16,
        _state: tempfile::TempDir,
    }

    impl Swtpm {
        /// Starts a swtpm with a fresh state; `None` (test skipped) when swtpm
        /// is not installed and SOFTKEY_REQUIRE_TPM is not 1.
        pub fn start() -> Option<Self> {
            if Command::new("swtpm").arg("--version").output().is_err() {
                let reason = "swtpm is not installed (Debian: apt-get install swtpm swtpm-tools)";
                if std::env::var("SOFTKEY_REQUIRE_TPM").as_deref() == Ok("1") {
                    panic!("the TPM tests cannot run, and SOFTKEY_REQUIRE_TPM=1: {reason}");
                }
                eprintln!("TPM test skipped: {reason}");
                return None;
            }
            let state = tempfile::tempdir().unwrap();
            // The swtpm TCTI talks to the control port at the server port + 1.
            let port = free_port_pair();
            let child = Command::new("swtpm")
                .arg("socket")
                .arg("--tpm2")
                .args([
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                ])
                .args([
                    "--ctrl",
                    &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
                ])
                .args(["--tpmstate", &format!("dir={}", state.path().display())])
                .args(["--flags", "not-need-init,startup-clear"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let swtpm = Self {
                child,
                port,
                _state: state,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "swtpm did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(swtpm)
        }

        pub fn tcti(&self) -> String {
            format!("swtpm:host=127.0.0.1,port={}", self.port)
        }

        pub fn config(&self, pcrs: &[u8]) -> TpmConfig {
            TpmConfig {
                tcti: Some(self.tcti()),
                pcrs: pcrs.to_vec(),
            }
        }

        /// Extends PCR `pcr` (SHA-256 bank), as a boot step measuring
        /// something would.
        pub fn extend_pcr(&self, pcr: u8) {
            use tss_esapi::handles::PcrHandle;
            use tss_esapi::interface_types::algorithm::HashingAlgorithm;
            use tss_esapi::structures::{Digest, DigestValues};
            let mut context = tss_esapi::Context::new(self.tcti().parse().unwrap()).unwrap();
            let mut digests = DigestValues::new();
            digests.set(
                HashingAlgorithm::Sha256,
                Digest::try_from(vec![0x5a; 32]).unwrap(),
            );
            let handle = PcrHandle::try_from(u32::from(pcr)).unwrap();
            context
                .execute_with_nullauth_session(|ctx| ctx.pcr_extend(handle, digests))
                .unwrap();
        }
    }

    impl Drop for Swtpm {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A port whose successor is free too.
    fn free_port_pair() -> u16 {
        loop {
            let first = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = first.local_addr().unwrap().port();
            if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
                return port;
            }
        }
    }

    fn fast() -> KdfParams {
        KdfParams::danger_fast_for_tests()
    }

    /// (rp id, user name) of each passkey.
    fn passkeys(vault: &mut Vault) -> Vec<(String, Option<String>)> {
        vault
            .list()
            .unwrap()
            .into_iter()
            .map(|c| (c.rp_id, c.user_name))
            .collect()
    }

    fn alice() -> Vec<(String, Option<String>)> {
        vec![("example.com".to_owned(), Some("alice".to_owned()))]
    }

    fn tpm_slots(vault: &mut Vault) -> Vec<(i64, Option<Vec<u8>>)> {
        vault
            .info()
            .unwrap()
            .slots
            .into_iter()
            .filter(|s| s.kind == SlotKind::Tpm)
            .map(|s| (s.id, s.tpm_pcrs))
            .collect()
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::copy(from, to).unwrap();
    }

    #[test]
    fn a_tpm_vault_opens_on_its_tpm_only() {
        let Some(tpm) = Swtpm::start() else { return };
        let fixture = Fixture::new();
        let unlocker = Unlocker::Tpm(tpm.config(&[]));
        let mut vault = Vault::create(&fixture.vault_path, &unlocker, fast()).unwrap();
        vault
            .put_discoverable(&credential(b"cred-1", "example.com", b"user-1", "alice", 1))
            .unwrap();
        assert_eq!(tpm_slots(&mut vault), vec![(1, Some(vec![]))]);
        drop(vault);

        // Reopened through the TPM: the same passkeys.
        let mut vault = Vault::open(&fixture.vault_path, &unlocker).unwrap();
        assert_eq!(vault.unlocked_slot(), 1);
        assert_eq!(passkeys(&mut vault), alice());
        drop(vault);

        // A copy of the file on another machine: another TPM refuses it, by name.
        let other = Swtpm::start().unwrap();
        let copied = fixture.dir.path().join("copy.sqlite");
        copy(&fixture.vault_path, &copied);
        let refused = Vault::open(&copied, &Unlocker::Tpm(other.config(&[])));
        assert!(
            matches!(refused, Err(VaultError::TpmForeign { slot: 1, .. })),
            "{refused:?}"
        );
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("sealed to a different TPM"), "{message}");
        // Nothing changed: the first TPM still opens the copy.
        assert!(Vault::open(&copied, &unlocker).is_ok());
    }

    #[test]
    fn a_pcr_bound_slot_refuses_a_changed_pcr() {
        let Some(tpm) = Swtpm::start() else { return };
        let fixture = Fixture::new();
        let mut vault = fixture.create();
        let slot = vault
            .add_slot(&Unlocker::Tpm(tpm.config(&[16, 23])), fast())
            .unwrap();
        assert_eq!(tpm_slots(&mut vault), vec![(slot, Some(vec![16, 23]))]);
        vault
            .put_discoverable(&credential(b"cred-1", "example.com", b"user-1", "alice", 1))
            .unwrap();
        drop(vault);

        // Same PCR values: it opens (the PCR list given now does not matter).
        let by_tpm = Unlocker::Tpm(tpm.config(&[]));
        let vault = Vault::open(&fixture.vault_path, &by_tpm).unwrap();
        assert_eq!(vault.unlocked_slot(), slot);
        drop(vault);

        // PCR 23 measures something new: the policy no longer holds.
        tpm.extend_pcr(23);
        let refused = Vault::open(&fixture.vault_path, &by_tpm);
        assert!(
            matches!(
                &refused,
                Err(VaultError::TpmPolicyMismatch { slot: s, pcrs }) if *s == slot && pcrs == "16+23"
            ),
            "{refused:?}"
        );
        // The key file slot still opens it, with every passkey.
        let mut vault = fixture.open();
        assert_eq!(passkeys(&mut vault), alice());
    }

    #[test]
    fn rekey_keeps_a_tpm_slot_and_removing_it_leaves_the_others() {
        let Some(tpm) = Swtpm::start() else { return };
        let fixture = Fixture::new();
        let mut vault = fixture.create();
        let by_tpm = Unlocker::Tpm(tpm.config(&[7]));
        let slot = vault.add_slot(&by_tpm, fast()).unwrap();
        vault
            .put_discoverable(&credential(b"cred-1", "example.com", b"user-1", "alice", 1))
            .unwrap();
        let key_file = fixture.unlocker();
        vault.rekey(&[(1, &key_file), (slot, &by_tpm)]).unwrap();
        drop(vault);
        let mut vault = Vault::open(&fixture.vault_path, &by_tpm).unwrap();
        assert_eq!(passkeys(&mut vault), alice());
        vault.remove_slot(slot).unwrap();
        drop(vault);
        let gone = Vault::open(&fixture.vault_path, &by_tpm);
        assert!(
            matches!(gone, Err(VaultError::NoMatchingSlot { kind: "tpm" })),
            "{gone:?}"
        );
        assert!(Vault::open(&fixture.vault_path, &fixture.unlocker()).is_ok());
    }

    /// What `softkey doctor` reports: the TPM answers, and the storage key
    /// TPM slots are sealed under can be made.
    #[test]
    fn a_reachable_tpm_is_probed_with_its_manufacturer() {
        let Some(tpm) = Swtpm::start() else { return };
        let report = softkey_vault::tpm::probe(&tpm.config(&[])).unwrap();
        assert_eq!(report.tcti, tpm.tcti());
        // swtpm (libtpms) reports IBM's code.
        assert_eq!(report.manufacturer, "IBM");
        assert!(report.storage_key);
    }

    #[test]
    fn an_unreachable_tpm_is_a_named_error_that_changes_nothing() {
        let Some(tpm) = Swtpm::start() else { return };
        let fixture = Fixture::new();
        let mut vault = fixture.create();
        let port = free_port_pair();
        let nowhere = TpmConfig {
            tcti: Some(format!("swtpm:host=127.0.0.1,port={port}")),
            pcrs: Vec::new(),
        };
        let refused = vault.add_slot(&Unlocker::Tpm(nowhere), fast());
        assert!(
            matches!(refused, Err(VaultError::TpmUnavailable { .. })),
            "{refused:?}"
        );
        assert!(tpm_slots(&mut vault).is_empty());
        drop(vault);
        // A TPM slot made afterwards is slot 2: the failed one left no row.
        let mut vault = fixture.open();
        assert_eq!(
            vault
                .add_slot(&Unlocker::Tpm(tpm.config(&[])), fast())
                .unwrap(),
            2
        );
    }
}

#[cfg(feature = "tpm")]
mod cli {
    use clap::Parser;

    use super::with_tpm::Swtpm;
    use softkey_vault::cli::{VaultArgs, execute};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        vault: VaultArgs,
    }

    fn run(args: &[&str]) -> Result<String, softkey_vault::VaultError> {
        let cli =
            Cli::try_parse_from(std::iter::once("softkey").chain(args.iter().copied())).unwrap();
        let mut out = Vec::new();
        execute(cli.vault, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn init_tpm_and_add_key_new_tpm_from_the_command_line() {
        let Some(tpm) = Swtpm::start() else { return };
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.sqlite");
        let vault = vault.to_str().unwrap();
        let tcti = tpm.tcti();
        let created = run(&["--vault", vault, "--tpm", "--tpm-tcti", &tcti, "init"]).unwrap();
        assert!(created.contains("(slot 1: tpm)"), "{created}");
        let key = dir.path().join("k.key");
        let key = key.to_str().unwrap();
        let added = run(&[
            "--vault",
            vault,
            "--tpm",
            "--tpm-tcti",
            &tcti,
            "add-key",
            "--new-key-file",
            key,
        ])
        .unwrap();
        assert!(added.contains("Added slot 2 (key-file)"), "{added}");
        let added = run(&[
            "--vault",
            vault,
            "--key-file",
            key,
            "--tpm-tcti",
            &tcti,
            "--tpm-pcrs",
            "0+7",
            "add-key",
            "--new-tpm",
        ])
        .unwrap();
        assert!(added.contains("Added slot 3 (tpm)"), "{added}");
        let info = run(&["--vault", vault, "--key-file", key, "info"]).unwrap();
        assert!(info.contains("sealed to TPM, no PCR policy"), "{info}");
        assert!(info.contains("sealed to TPM, PCRs 0+7"), "{info}");
        let json = run(&[
            "--vault",
            vault,
            "--tpm",
            "--tpm-tcti",
            &tcti,
            "info",
            "--json",
        ])
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["unlocked_slot"], 1);
        assert_eq!(json["slots"][2]["kind"], "tpm");
        assert_eq!(json["slots"][2]["tpm_pcrs"], serde_json::json!([0, 7]));
        // Another TPM: a named refusal.
        let other = Swtpm::start().unwrap();
        let refused = run(&[
            "--vault",
            vault,
            "--tpm",
            "--tpm-tcti",
            &other.tcti(),
            "list",
        ]);
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("sealed to a different TPM"), "{message}");
    }
}
