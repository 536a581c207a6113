//! Keyring slots against a real Secret Service: the test starts its own D-Bus
//! session bus (`dbus-daemon`, a private config with no activatable services)
//! and GNOME Keyring on it (`gnome-keyring-daemon --unlock`, password on stdin,
//! in a temporary HOME), and checks the items with libsecret's `secret-tool`,
//! an independent Secret Service client.
//!
//! Without those programs the test is skipped with a note, unless
//! `SOFTKEY_REQUIRE_KEYRING=1` (CI), where it fails. The bus address goes to the
//! vault explicitly ([`KeyringBus::Address`]) and to the child processes through
//! their own environment: no process-global variable is set. The CLI, whose
//! `--keyring` means the session bus, runs in a child process (this test binary
//! again, one test selected) whose environment names the private bus.
//!
//! Built without the `keyring` feature, the file holds one test, which fails
//! if SOFTKEY_REQUIRE_KEYRING=1 (the requirement is not met silently).
// Test code: a failure here is a test failure, with the location in the panic.
#![allow(clippy::unwrap_used)]

#[cfg(not(feature = "keyring"))]
#[test]
fn keyring_feature_is_on_where_required() {
    // Without the feature the keyring tests below do not exist: fail rather than
    // pass silently where the keyring test is required.
    assert_ne!(
        std::env::var("SOFTKEY_REQUIRE_KEYRING").as_deref(),
        Ok("1"),
        "SOFTKEY_REQUIRE_KEYRING=1 but softkey-vault was built without the keyring feature"
    );
}

#[cfg(feature = "keyring")]
mod common;
#[cfg(feature = "keyring")]
mod with_keyring {
    use std::io::{BufRead, BufReader, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::common::{credential, summary};
    use softkey_authenticator::crypto::sha256;
    use softkey_authenticator::store::Store;
    use softkey_vault::{KdfParams, KeyringBus, SlotKind, Unlocker, Vault, VaultError};

    const PROGRAMS: [&str; 4] = [
        "dbus-daemon",
        "dbus-send",
        "gnome-keyring-daemon",
        "secret-tool",
    ];

    /// A private session bus, and GNOME Keyring on it once started.
    struct PrivateBus {
        dir: tempfile::TempDir,
        address: String,
        bus: Child,
        keyring: Option<Child>,
    }

    impl PrivateBus {
        /// Starts `dbus-daemon`; `None` (test skipped) when a program is missing and
        /// SOFTKEY_REQUIRE_KEYRING is not 1.
        fn start() -> Option<Self> {
            let missing: Vec<&str> = PROGRAMS
                .into_iter()
                .filter(|program| which(program).is_none())
                .collect();
            if !missing.is_empty() {
                let reason = format!(
                    "{} not installed (Debian: apt-get install dbus-daemon dbus-bin gnome-keyring \
                 libsecret-tools)",
                    missing.join(", ")
                );
                if std::env::var("SOFTKEY_REQUIRE_KEYRING").as_deref() == Ok("1") {
                    panic!("the keyring test cannot run, and SOFTKEY_REQUIRE_KEYRING=1: {reason}");
                }
                eprintln!("keyring test skipped: {reason}");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            for sub in ["run", "home", "data"] {
                std::fs::create_dir(dir.path().join(sub)).unwrap();
                std::fs::set_permissions(
                    dir.path().join(sub),
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )
                .unwrap();
            }
            let config = dir.path().join("bus.conf");
            std::fs::write(
                &config,
                format!(
                    "<busconfig><type>session</type>\
                 <listen>unix:path={}</listen><auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
                    dir.path().join("run/bus").display()
                ),
            )
            .unwrap();
            let mut bus = Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--print-address", "--nofork"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut address = String::new();
            BufReader::new(bus.stdout.take().unwrap())
                .read_line(&mut address)
                .unwrap();
            let address = address.trim().to_owned();
            assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
            Some(Self {
                dir,
                address,
                bus,
                keyring: None,
            })
        }

        fn bus(&self) -> KeyringBus {
            KeyringBus::Address(self.address.clone())
        }

        /// A command with the private session's environment only.
        fn command(&self, program: &str) -> Command {
            let mut command = Command::new(program);
            command
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .env("HOME", self.dir.path().join("home"))
                .env("XDG_DATA_HOME", self.dir.path().join("data"))
                .env("XDG_RUNTIME_DIR", self.dir.path().join("run"));
            command
        }

        /// Starts GNOME Keyring's Secret Service, its login keyring unlocked, and
        /// waits until it owns its bus name.
        fn start_keyring(&mut self) {
            let mut keyring = self
                .command("gnome-keyring-daemon")
                .args(["--unlock", "--components=secrets", "--foreground"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"login password").unwrap();
            drop(stdin);
            self.keyring = Some(keyring);
            let deadline = Instant::now() + Duration::from_secs(20);
            while !self.secret_service_running() {
                assert!(
                    Instant::now() < deadline,
                    "gnome-keyring-daemon did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        fn secret_service_running(&self) -> bool {
            let output = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).contains("boolean true")
        }

        /// `secret-tool ARGS`, checked to succeed; its stdout.
        fn secret_tool(&self, args: &[&str]) -> Vec<u8> {
            let output = self.command("secret-tool").args(args).output().unwrap();
            assert!(
                output.status.success(),
                "secret-tool {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        }

        /// softkey's items as `secret-tool search` lists them: (label, slot attribute).
        fn softkey_items(&self) -> Vec<(String, String)> {
            let output = self
                .command("secret-tool")
                .args(["search", "--all", "application", "softkey"])
                .output()
                .unwrap();
            // secret-tool prints the items on stdout and their attributes on stderr.
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            let value = |line: &str, key: &str| line.strip_prefix(key).map(|v| v.trim().to_owned());
            let labels: Vec<String> = text.lines().filter_map(|l| value(l, "label = ")).collect();
            let slots: Vec<String> = text
                .lines()
                .filter_map(|l| value(l, "attribute.softkey-slot = "))
                .collect();
            assert_eq!(labels.len(), slots.len(), "{text}");
            labels.into_iter().zip(slots).collect()
        }

        /// Locks the login collection, as a screen lock would.
        fn lock_keyring(&self) {
            let output = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.secrets",
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.Lock",
                    "array:objpath:/org/freedesktop/secrets/collection/login",
                ])
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
        }
    }

    impl PrivateBus {
        /// Runs [`cli_with_the_session_keyring`] in a child process of this test
        /// binary whose DBUS_SESSION_BUS_ADDRESS is the private bus.
        fn run_cli_child(&self, dir: &Path) {
            let output = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "with_keyring::cli_with_the_session_keyring",
                    "--nocapture",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .env(CLI_CHILD_DIR, dir)
                .output()
                .unwrap();
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "CLI child failed:\n{log}");
            assert!(
                log.contains("cli child done"),
                "the CLI child ran no test:\n{log}"
            );
        }
    }

    impl Drop for PrivateBus {
        fn drop(&mut self) {
            for child in self.keyring.iter_mut().chain([&mut self.bus]) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    fn which(program: &str) -> Option<PathBuf> {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    }

    fn fast() -> KdfParams {
        KdfParams::danger_fast_for_tests()
    }

    fn open_error(path: &Path, unlocker: &Unlocker) -> VaultError {
        Vault::open(path, unlocker).unwrap_err()
    }

    #[test]
    fn keyring_slots_against_gnome_keyring() {
        let started = Instant::now();
        let Some(mut bus) = PrivateBus::start() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite");
        let keyring = Unlocker::Keyring(bus.bus());

        // A bus with no Secret Service on it: the named error, and no vault left behind.
        let error = Vault::create(&path, &keyring, fast()).unwrap_err();
        assert!(
            matches!(error, VaultError::NoSecretService { .. }),
            "{error:?}"
        );
        assert!(!path.exists());

        bus.start_keyring();

        // Create around a keyring slot and store a credential.
        let mut vault = Vault::create(&path, &keyring, fast()).unwrap();
        assert_eq!(vault.unlocked_slot(), 1);
        let alice = credential(&[0x81; 32], "example.com", b"alice", "alice", 1);
        vault.put_discoverable(&alice).unwrap();
        drop(vault);
        let items = bus.softkey_items();
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(items[0].0.starts_with("softkey vault "), "{items:?}");
        assert!(items[0].0.ends_with(" slot 1"), "{items:?}");
        assert_eq!(items[0].1, "1");
        // libsecret (an independent client, over its own encrypted session) reads
        // back the 32 bytes softkey stored.
        let secret = bus.secret_tool(&["lookup", "application", "softkey", "softkey-slot", "1"]);
        assert_eq!(secret.len(), 32, "{secret:02x?}");

        // Reopen through the keyring; the credential is there.
        let mut vault = Vault::open(&path, &keyring).unwrap();
        assert_eq!(vault.unlocked_slot(), 1);
        let found = vault.discoverable_for_rp(&sha256(b"example.com")).unwrap();
        assert_eq!(
            found.iter().map(summary).collect::<Vec<_>>(),
            vec![summary(&alice)]
        );
        let info = vault.info().unwrap();
        assert_eq!(info.slots[0].kind, SlotKind::Keyring);
        assert_eq!(info.slots[0].kdf, None);

        // Add a passphrase slot, then remove the keyring slot: its item goes too.
        let passphrase = Unlocker::passphrase("correct horse");
        assert_eq!(vault.add_slot(&passphrase, fast()).unwrap(), 2);
        vault.remove_slot(1).unwrap();
        assert_eq!(bus.softkey_items(), vec![]);
        drop(vault);
        let error = open_error(&path, &keyring);
        assert!(
            matches!(error, VaultError::NoMatchingSlot { kind: "keyring" }),
            "{error:?}"
        );
        let mut vault = Vault::open(&path, &passphrase).unwrap();
        assert_eq!(vault.discoverable_count().unwrap(), 1);

        // A new keyring slot (added from a passphrase-opened vault) whose item is
        // deleted behind the vault's back: the named "item missing" error.
        assert_eq!(vault.add_slot(&keyring, fast()).unwrap(), 3);
        drop(vault);
        assert_eq!(Vault::open(&path, &keyring).unwrap().unlocked_slot(), 3);
        bus.secret_tool(&["clear", "application", "softkey", "softkey-slot", "3"]);
        let error = open_error(&path, &keyring);
        eprintln!("item missing: {error}");
        assert!(
            matches!(&error, VaultError::KeyringItemMissing { slots } if slots == "3"),
            "{error:?}"
        );
        // Removing the stale slot works although its item is gone.
        let mut vault = Vault::open(&path, &passphrase).unwrap();
        vault.set_keyring_bus(bus.bus());
        vault.remove_slot(3).unwrap();

        // `softkey vault … --keyring` on the session bus (the child's environment).
        bus.run_cli_child(dir.path());
        let items = bus.softkey_items();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].1, "3");

        // A locked keyring whose unlock prompt cannot be shown (no prompter on this
        // bus): the named "locked" error, not a hang.
        assert_eq!(vault.add_slot(&keyring, fast()).unwrap(), 3);
        drop(vault);
        bus.lock_keyring();
        let error = open_error(&path, &keyring);
        eprintln!("locked: {error}");
        assert!(
            matches!(error, VaultError::KeyringLocked { .. }),
            "{error:?}"
        );

        // The keyring gone from the bus: the named "no Secret Service" error.
        let mut keyring_daemon = bus.keyring.take().unwrap();
        keyring_daemon.kill().unwrap();
        keyring_daemon.wait().unwrap();
        let error = open_error(&path, &keyring);
        eprintln!("keyring gone: {error}");
        assert!(
            matches!(error, VaultError::NoSecretService { .. }),
            "{error:?}"
        );
        eprintln!("keyring test took {:?}", started.elapsed());
    }

    #[test]
    fn no_bus_is_a_named_error() {
        let dir = tempfile::tempdir().unwrap();
        let bus = KeyringBus::Address(format!(
            "unix:path={}",
            dir.path().join("no-such-bus").display()
        ));
        let path = dir.path().join("vault.sqlite");
        let error = Vault::create(&path, &Unlocker::Keyring(bus.clone()), fast()).unwrap_err();
        eprintln!("no bus: {error}");
        assert!(
            matches!(&error, VaultError::NoSecretService { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("--key-file"), "{error}");

        // A vault with a keyring slot, opened without a reachable keyring.
        let passphrase = Unlocker::passphrase("pass");
        let mut vault = Vault::create(&path, &passphrase, fast()).unwrap();
        let error = vault
            .add_slot(&Unlocker::Keyring(bus.clone()), fast())
            .unwrap_err();
        assert!(
            matches!(error, VaultError::NoSecretService { .. }),
            "{error:?}"
        );
        assert_eq!(vault.slots().unwrap().len(), 1);
    }

    /// Names the directory of the CLI child's vault; unset, the child test is a no-op.
    const CLI_CHILD_DIR: &str = "SOFTKEY_TEST_KEYRING_CLI_DIR";

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        vault: softkey_vault::cli::VaultArgs,
    }

    fn cli(args: &[&str]) -> Result<String, VaultError> {
        use clap::Parser;
        let cli =
            Cli::try_parse_from(std::iter::once("vault").chain(args.iter().copied())).unwrap();
        let mut out = Vec::new();
        softkey_vault::cli::execute(cli.vault, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// `softkey vault` with `--keyring` and `--new-keyring`: run by
    /// [`keyring_slots_against_gnome_keyring`] in a child process whose session
    /// bus is the private one (does nothing when run on its own).
    #[test]
    fn cli_with_the_session_keyring() {
        let Some(dir) = std::env::var_os(CLI_CHILD_DIR) else {
            return;
        };
        let dir = PathBuf::from(dir);
        let vault = dir.join("cli.sqlite");
        let vault = vault.to_str().unwrap();
        let pass = dir.join("pass");
        std::fs::write(&pass, "cli passphrase\n").unwrap();
        let pass = pass.to_str().unwrap();
        let fast = "--danger-fast-kdf";

        let out = cli(&["--vault", vault, "--keyring", "init", fast]).unwrap();
        assert!(out.contains("(slot 1: keyring)"), "{out}");
        let out = cli(&["--vault", vault, "--keyring", "info"]).unwrap();
        assert!(
            out.lines().any(|l| l.contains("keyring")
                && l.contains("Secret Service item")
                && l.contains("(unlocked with)")),
            "{out}"
        );
        let out = cli(&[
            "--vault",
            vault,
            "--keyring",
            "add-key",
            "--new-passphrase-file",
            pass,
            fast,
        ])
        .unwrap();
        assert!(out.contains("Added slot 2 (passphrase)"), "{out}");
        let out = cli(&[
            "--vault",
            vault,
            "--passphrase-file",
            pass,
            "add-key",
            "--new-keyring",
        ])
        .unwrap();
        assert!(out.contains("Added slot 3 (keyring)"), "{out}");
        let out = cli(&[
            "--vault",
            vault,
            "--passphrase-file",
            pass,
            "remove-key",
            "1",
        ])
        .unwrap();
        assert!(out.contains("Removed slot 1"), "{out}");
        let info: serde_json::Value =
            serde_json::from_str(&cli(&["--vault", vault, "--keyring", "info", "--json"]).unwrap())
                .unwrap();
        assert_eq!(info["unlocked_slot"], 3);
        let kinds: Vec<&str> = info["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|slot| slot["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["passphrase", "keyring"]);
        // --keyring before the subcommand and a passphrase file after it slip past
        // clap's conflict check; the CLI refuses the pair itself.
        assert!(matches!(
            cli(&[
                "--vault",
                vault,
                "--keyring",
                "info",
                "--passphrase-file",
                pass
            ]),
            Err(VaultError::Usage(_))
        ));
        println!("cli child done");
    }
}
