//! `softkey doctor`: checks each piece softkey needs on this machine and
//! says what to do about the ones that are missing.
//!
//! ```text
//!  uhid module ─► /dev/uhid access ─► (softkey run) ─► hidraw node for the user
//!  vault folder private          presence provider (notify-send + D-Bus session)
//!  fingerprint verification (fprintd on the system bus: a reader, an enrolled finger)
//!  TPM 2.0 for TPM key slots (reachable through its TCTI, storage key made)
//! ```
//!
//! Each check reads the file system only; none creates a device. Paths are
//! in [`DoctorOptions`] so the checks can be pointed at a fake root in tests.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but something is worth knowing or fixing.
    Warn,
    /// softkey cannot work like this.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, not write_str: the report right-aligns the status.
        f.pad(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        })
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when something is to be done.
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Where the checks look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorOptions {
    /// The UHID character device (`/dev/uhid`).
    pub uhid_path: PathBuf,
    /// sysfs (`/sys`).
    pub sys_root: PathBuf,
    /// devtmpfs (`/dev`).
    pub dev_root: PathBuf,
    /// The vault's folder, if known.
    pub vault_dir: Option<PathBuf>,
    /// `PATH`, searched for `notify-send`.
    pub path_var: Option<String>,
    /// `DBUS_SESSION_BUS_ADDRESS`.
    pub dbus_address: Option<String>,
    /// `XDG_RUNTIME_DIR` (its `bus` socket is the usual session bus).
    pub runtime_dir: Option<PathBuf>,
    /// Where to ask fprintd (for `--verify fprintd`); `None` skips the check.
    #[cfg(feature = "fprintd")]
    pub fprintd: Option<crate::verify::fprintd::FprintdBus>,
    /// Which TPM to look for (for TPM key slots); `None` skips the check.
    pub tpm: Option<softkey_vault::TpmConfig>,
}

impl DoctorOptions {
    /// The real system and this process's environment; the vault folder
    /// defaults to `$XDG_DATA_HOME/softkey` (or `~/.local/share/softkey`).
    pub fn from_env(vault_dir: Option<PathBuf>) -> Self {
        let env_path = |name| std::env::var_os(name).map(PathBuf::from);
        let vault_dir = vault_dir.or_else(|| {
            env_path("XDG_DATA_HOME")
                .or_else(|| env_path("HOME").map(|home| home.join(".local/share")))
                .map(|data| data.join("softkey"))
        });
        Self {
            uhid_path: PathBuf::from(crate::uhid::DEFAULT_PATH),
            sys_root: PathBuf::from("/sys"),
            dev_root: PathBuf::from("/dev"),
            vault_dir,
            path_var: std::env::var("PATH").ok(),
            dbus_address: std::env::var("DBUS_SESSION_BUS_ADDRESS").ok(),
            runtime_dir: env_path("XDG_RUNTIME_DIR"),
            #[cfg(feature = "fprintd")]
            fprintd: Some(crate::verify::fprintd::FprintdBus::System),
            tpm: Some(softkey_vault::TpmConfig::default()),
        }
    }
}

/// Arguments of `softkey doctor`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DoctorArgs {
    /// The vault folder to check (default: $XDG_DATA_HOME/softkey).
    #[arg(long)]
    pub vault_dir: Option<PathBuf>,
}

/// `softkey doctor`: runs the checks on this machine and prints them to
/// stdout; `Ok(false)` when one failed (the binary then exits 1).
pub fn run_cli(args: &DoctorArgs) -> io::Result<bool> {
    let checks = run(&DoctorOptions::from_env(args.vault_dir.clone()));
    report(&checks, &mut io::stdout().lock())
}

/// Runs every check.
pub fn run(options: &DoctorOptions) -> Vec<Check> {
    let checks = vec![
        check_module(options),
        check_uhid_access(options),
        check_vault_dir(options),
        check_presence(options),
        check_hidraw(options),
    ];
    #[cfg(feature = "fprintd")]
    let checks = {
        let mut checks = checks;
        if let Some(bus) = &options.fprintd {
            checks.push(check_fprintd(bus));
        }
        checks
    };
    let mut checks = checks;
    if let Some(tpm) = &options.tpm {
        checks.push(check_tpm(tpm));
    }
    checks
}

/// Prints the checks; `true` when none failed.
pub fn report(checks: &[Check], out: &mut impl Write) -> io::Result<bool> {
    for check in checks {
        writeln!(
            out,
            "[{:>4}] {}: {}",
            check.status, check.name, check.detail
        )?;
        if let Some(fix) = &check.fix {
            writeln!(out, "       fix: {fix}")?;
        }
    }
    Ok(checks.iter().all(|check| check.status != Status::Fail))
}

const MODULE_FIX: &str = "sudo modprobe uhid; to load it at boot: sudo install -m 644 \
    packaging/modules-load.d/softkey-uhid.conf /etc/modules-load.d/";
const UHID_RULE_FIX: &str = "sudo install -m 644 packaging/udev/70-softkey-uhid.rules \
    /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger; \
    sudo groupadd -f softkey && sudo usermod -aG softkey $USER; then log in again";

fn check_module(options: &DoctorOptions) -> Check {
    const NAME: &str = "uhid kernel module";
    let loaded = options.sys_root.join("module/uhid").exists();
    match (options.uhid_path.exists(), loaded) {
        (true, _) => Check::new(
            NAME,
            Status::Ok,
            format!("{} exists", options.uhid_path.display()),
        ),
        (false, true) => Check::new(
            NAME,
            Status::Fail,
            format!(
                "uhid is loaded but {} is missing",
                options.uhid_path.display()
            ),
        )
        .fix("is /dev a devtmpfs? try `sudo udevadm trigger`, or reboot"),
        (false, false) => Check::new(
            NAME,
            Status::Fail,
            format!(
                "{} is missing: the uhid module is not loaded",
                options.uhid_path.display()
            ),
        )
        .fix(MODULE_FIX),
    }
}

fn describe(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(meta) => format!(
            "{} has mode {:o}, owner uid {}, group gid {}",
            path.display(),
            meta.permissions().mode() & 0o7777,
            meta.uid(),
            meta.gid()
        ),
        Err(error) => format!("{}: {error}", path.display()),
    }
}

/// Opening `/dev/uhid` creates nothing (only `UHID_CREATE2` does), so a
/// read-write open is the honest access test.
fn open_rw(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
}

fn check_uhid_access(options: &DoctorOptions) -> Check {
    const NAME: &str = "/dev/uhid access";
    let path = &options.uhid_path;
    if !path.exists() {
        return Check::new(NAME, Status::Fail, "no device node (see above)").fix(MODULE_FIX);
    }
    match open_rw(path) {
        Ok(()) => Check::new(
            NAME,
            Status::Ok,
            format!("this user can open {}", path.display()),
        ),
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => Check::new(
            NAME,
            Status::Fail,
            format!("{}; this user may not open it", describe(path)),
        )
        .fix(UHID_RULE_FIX),
        Err(error) => Check::new(NAME, Status::Fail, format!("{}: {error}", path.display())),
    }
}

fn check_vault_dir(options: &DoctorOptions) -> Check {
    const NAME: &str = "vault folder";
    let Some(dir) = &options.vault_dir else {
        return Check::new(
            NAME,
            Status::Warn,
            "no HOME or XDG_DATA_HOME: no default vault folder",
        )
        .fix("pass --vault PATH");
    };
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Check::new(
                NAME,
                Status::Warn,
                format!("{} does not exist yet", dir.display()),
            )
            .fix(
                "create a vault with `softkey vault init` (with `--key-file PATH` for a key \
                 file instead of a passphrase)",
            );
        }
        Err(error) => return Check::new(NAME, Status::Fail, format!("{}: {error}", dir.display())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if !meta.is_dir() {
        Check::new(
            NAME,
            Status::Fail,
            format!("{} is not a folder", dir.display()),
        )
    } else if mode & 0o077 != 0 {
        Check::new(
            NAME,
            Status::Fail,
            format!(
                "{} has mode {mode:o}: other users can look inside",
                dir.display()
            ),
        )
        .fix(format!("chmod 700 {}", dir.display()))
    } else if current_uid().is_some_and(|uid| uid != meta.uid()) {
        Check::new(
            NAME,
            Status::Fail,
            format!(
                "{} belongs to uid {}, not to this user",
                dir.display(),
                meta.uid()
            ),
        )
        .fix(format!("sudo chown -R $USER {}", dir.display()))
    } else {
        Check::new(
            NAME,
            Status::Ok,
            format!("{} is private (mode {mode:o})", dir.display()),
        )
    }
}

/// The real uid, from `/proc/self/status` (no libc call needed).
fn current_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn check_presence(options: &DoctorOptions) -> Check {
    const NAME: &str = "presence provider (desktop notification)";
    let notify_send = options.path_var.as_deref().and_then(|path| {
        std::env::split_paths(path)
            .map(|dir| dir.join("notify-send"))
            .find(|candidate| candidate.is_file())
    });
    let Some(notify_send) = notify_send else {
        return Check::new(NAME, Status::Warn, "notify-send is not on PATH").fix(
            "install libnotify-bin (Debian/Ubuntu) or libnotify (Fedora/Arch), or run \
             `softkey run --presence command --presence-command CMD`",
        );
    };
    let bus_socket = options.runtime_dir.as_ref().map(|dir| dir.join("bus"));
    let has_bus = options
        .dbus_address
        .as_deref()
        .is_some_and(|a| !a.is_empty())
        || bus_socket.as_deref().is_some_and(Path::exists);
    if has_bus {
        Check::new(
            NAME,
            Status::Ok,
            format!("{} and a D-Bus session bus", notify_send.display()),
        )
    } else {
        Check::new(NAME, Status::Warn, "no D-Bus session bus: notifications cannot be shown")
            .fix("run softkey inside your desktop session (systemctl --user), not from a bare tty or ssh")
    }
}

/// Fingerprint verification (`--verify fprintd`) is optional: fprintd
/// missing altogether is fine; fprintd without a reader or a finger is worth
/// a warning, since someone installed it to use it.
#[cfg(feature = "fprintd")]
pub fn check_fprintd(bus: &crate::verify::fprintd::FprintdBus) -> Check {
    use crate::verify::fprintd::{FprintdError, probe};
    const NAME: &str = "fingerprint verification (fprintd, optional)";
    match probe(bus) {
        Ok(status) => Check::new(
            NAME,
            Status::Ok,
            format!(
                "{}, {} finger(s) enrolled: `softkey run --verify fprintd` can verify you",
                status.device,
                status.fingers.len()
            ),
        ),
        Err(FprintdError::Absent { reason }) => Check::new(
            NAME,
            Status::Ok,
            format!("fprintd is not available ({reason}); --verify fprintd cannot be used"),
        ),
        Err(error @ FprintdError::NoEnrolledFinger) => {
            Check::new(NAME, Status::Warn, error.to_string())
                .fix("fprintd-enroll, then `softkey run --verify fprintd`")
        }
        Err(error) => Check::new(NAME, Status::Warn, error.to_string()),
    }
}

/// TPM key slots are optional: no TPM, or a build without the `tpm`
/// feature, is fine; a TPM that answers but cannot make the storage key is
/// worth a warning.
pub fn check_tpm(config: &softkey_vault::TpmConfig) -> Check {
    use softkey_vault::VaultError;
    const NAME: &str = "TPM 2.0 (TPM key slots, optional)";
    match softkey_vault::tpm::probe(config) {
        Ok(report) if report.storage_key => Check::new(
            NAME,
            Status::Ok,
            format!(
                "reachable at {} (manufacturer {:?}): `softkey vault add-key --new-tpm` can \
                 seal a key slot to it",
                report.tcti, report.manufacturer
            ),
        ),
        Ok(report) => Check::new(
            NAME,
            Status::Warn,
            format!(
                "reachable at {} (manufacturer {:?}), but its storage key cannot be made \
                 (owner hierarchy protected by a password?): TPM slots cannot be added",
                report.tcti, report.manufacturer
            ),
        ),
        Err(VaultError::TpmNotBuilt) => Check::new(
            NAME,
            Status::Ok,
            "this softkey was built without the `tpm` feature: no TPM key slots",
        ),
        Err(error @ VaultError::TpmUnavailable { .. }) => Check::new(
            NAME,
            Status::Ok,
            format!("not available ({error}); TPM key slots cannot be used"),
        ),
        Err(error) => Check::new(NAME, Status::Warn, error.to_string()),
    }
}

/// The hidraw nodes whose report descriptor opens with the FIDO usage page.
pub fn fido_hidraw_nodes(sys_root: &Path, dev_root: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(sys_root.join("class/hidraw")) else {
        return found;
    };
    for entry in entries.flatten() {
        let device = entry.path().join("device");
        let Ok(descriptor) = fs::read(device.join("report_descriptor")) else {
            continue;
        };
        if !descriptor.starts_with(&[0x06, 0xD0, 0xF1]) {
            continue;
        }
        let name = fs::read_to_string(device.join("uevent"))
            .ok()
            .and_then(|uevent| {
                uevent
                    .lines()
                    .find_map(|line| line.strip_prefix("HID_NAME=").map(str::to_owned))
            })
            .unwrap_or_default();
        found.push((dev_root.join(entry.file_name()), name));
    }
    found.sort();
    found
}

fn check_hidraw(options: &DoctorOptions) -> Check {
    const NAME: &str = "hidraw node for browsers";
    let nodes = fido_hidraw_nodes(&options.sys_root, &options.dev_root);
    if nodes.is_empty() {
        return Check::new(
            NAME,
            Status::Warn,
            "no FIDO hidraw device: softkey is not running",
        )
        .fix("systemctl --user start softkey (or `softkey run`), then run doctor again");
    }
    let mut blocked = Vec::new();
    let mut usable = Vec::new();
    for (node, name) in &nodes {
        match open_rw(node) {
            Ok(()) => usable.push(format!("{} ({name})", node.display())),
            Err(error) => blocked.push(format!("{} ({name}): {error}", node.display())),
        }
    }
    if blocked.is_empty() {
        Check::new(
            NAME,
            Status::Ok,
            format!("this user can use {}", usable.join(", ")),
        )
    } else {
        Check::new(
            NAME,
            Status::Fail,
            format!("not usable by this user: {}", blocked.join("; ")),
        )
        .fix(format!(
            "the udev rule (packaging/udev/70-softkey-uhid.rules) gives hidraw nodes of \
                 softkey's vendor/product to group softkey and the logged-in user; {UHID_RULE_FIX}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "softkey-doctor-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("temp dir");
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn options(root: &Path) -> DoctorOptions {
        DoctorOptions {
            uhid_path: root.join("dev/uhid"),
            sys_root: root.join("sys"),
            dev_root: root.join("dev"),
            vault_dir: Some(root.join("vault")),
            path_var: Some(root.join("bin").display().to_string()),
            dbus_address: None,
            runtime_dir: None,
            #[cfg(feature = "fprintd")]
            fprintd: None,
            tpm: None,
        }
    }

    #[test]
    fn a_bare_machine_fails_with_fixes() {
        let root = TempDir::new("bare");
        let checks = run(&options(&root.0));
        let status: Vec<_> = checks.iter().map(|c| c.status).collect();
        assert_eq!(
            status,
            [
                Status::Fail,
                Status::Fail,
                Status::Warn,
                Status::Warn,
                Status::Warn
            ]
        );
        assert!(
            checks[0]
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("modprobe uhid"))
        );
        let mut out = Vec::new();
        assert!(!report(&checks, &mut out).expect("write"));
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("[FAIL] uhid kernel module"), "{text}");
        assert!(text.contains("[warn] vault folder"), "{text}");
        assert!(
            text.contains("`softkey vault init`"),
            "the fix names the real command: {text}"
        );
        let ok = [Check::new("x", Status::Ok, "fine")];
        let mut out = Vec::new();
        assert!(report(&ok, &mut out).expect("write"));
        assert_eq!(String::from_utf8(out).expect("utf8"), "[  ok] x: fine\n");
    }

    #[test]
    fn a_prepared_machine_passes() {
        let root = TempDir::new("ready");
        let dir = &root.0;
        fs::create_dir_all(dir.join("dev")).expect("dev");
        fs::write(dir.join("dev/uhid"), b"").expect("uhid");
        fs::create_dir_all(dir.join("vault")).expect("vault");
        fs::set_permissions(dir.join("vault"), fs::Permissions::from_mode(0o700)).expect("chmod");
        fs::create_dir_all(dir.join("bin")).expect("bin");
        fs::write(dir.join("bin/notify-send"), b"").expect("notify-send");
        let hid = dir.join("sys/class/hidraw/hidraw3/device");
        fs::create_dir_all(&hid).expect("sysfs");
        fs::write(
            hid.join("report_descriptor"),
            [0x06, 0xD0, 0xF1, 0x09, 0x01],
        )
        .expect("rd");
        fs::write(
            hid.join("uevent"),
            "HID_ID=0003:00001209:00005EED\nHID_NAME=softkey\n",
        )
        .expect("uevent");
        fs::write(dir.join("dev/hidraw3"), b"").expect("node");
        let mut options = options(dir);
        options.dbus_address = Some("unix:path=/run/user/1000/bus".into());
        let checks = run(&options);
        assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:#?}");
        assert!(
            checks[4].detail.contains("hidraw3 (softkey)"),
            "{checks:#?}"
        );
    }

    #[test]
    fn a_vault_folder_others_can_read_fails() {
        let root = TempDir::new("vault");
        fs::create_dir_all(root.0.join("vault")).expect("vault");
        fs::set_permissions(root.0.join("vault"), fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let check = check_vault_dir(&options(&root.0));
        assert_eq!(check.status, Status::Fail);
        assert!(
            check
                .fix
                .as_deref()
                .is_some_and(|f| f.starts_with("chmod 700"))
        );
    }

    /// No TPM listening (or no TPM client built): optional, so `ok` with
    /// what is missing. A real TPM: tests/tpm.rs (swtpm).
    #[test]
    fn a_missing_tpm_is_reported_not_failed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let config = softkey_vault::TpmConfig {
            tcti: Some(format!("swtpm:host=127.0.0.1,port={port}")),
            pcrs: Vec::new(),
        };
        let check = check_tpm(&config);
        assert_eq!(check.status, Status::Ok, "{check:?}");
        let expected = if cfg!(feature = "tpm") {
            "not available (no TPM reachable through"
        } else {
            "built without the `tpm` feature"
        };
        assert!(check.detail.contains(expected), "{check:?}");
        let mut options = options(Path::new("/nonexistent"));
        options.tpm = Some(config);
        assert_eq!(run(&options).last(), Some(&check));
    }
}
