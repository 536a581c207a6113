//! `--verify fprintd` against a test double of fprintd's published D-Bus
//! interface (`fprintd_double.py`, a python-dbusmock template) on a private
//! bus: match, no-match, "scan again", a busy reader, no reader, no enrolled
//! finger, fprintd absent, cancel; and `softkey doctor`'s report.
//!
//! Needs `dbus-daemon` and python-dbusmock for `/usr/bin/python3` (Debian:
//! `dbus-daemon python3-dbusmock`). Without them each test prints why it is
//! skipped and passes, unless `SOFTKEY_REQUIRE_FPRINTD=1` (as in CI), which
//! makes them fail instead.
#![cfg(feature = "fprintd")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use softkey::doctor::{Status, check_fprintd};
use softkey::presence::PendingVerdict;
use softkey::verify::fprintd::{
    FprintdBus, FprintdError, FprintdVerifier, Outcome, probe, verify_once,
};
use softkey::verify::{UserVerifier, verify_prompt, wait_blocking};
use softkey_authenticator::{UserPrompt, Verdict};

fn python() -> String {
    std::env::var("SOFTKEY_DBUSMOCK_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into())
}

/// Why the private-bus tests cannot run here, if they cannot.
fn missing_programs() -> Option<String> {
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !runs("dbus-daemon", &["--version"]) {
        return Some("dbus-daemon is not installed (Debian: dbus-daemon)".into());
    }
    if !runs(&python(), &["-c", "import dbusmock"]) {
        return Some(format!(
            "python-dbusmock is not importable by {} (Debian: python3-dbusmock)",
            python()
        ));
    }
    None
}

/// `None` (after saying why) when the tests must be skipped here.
fn private_bus() -> Option<PrivateBus> {
    if let Some(why) = missing_programs() {
        assert!(
            std::env::var_os("SOFTKEY_REQUIRE_FPRINTD").is_none(),
            "SOFTKEY_REQUIRE_FPRINTD is set but {why}"
        );
        eprintln!("SKIP: the fprintd tests need a private D-Bus bus and python-dbusmock: {why}");
        return None;
    }
    Some(PrivateBus::start())
}

/// A `dbus-daemon` of our own on a socket in a temp folder.
struct PrivateBus {
    daemon: Child,
    dir: tempfile::TempDir,
    address: String,
}

impl PrivateBus {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("bus");
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("dbus-daemon prints its address");
        Self {
            daemon,
            dir,
            address: line.trim().to_owned(),
        }
    }

    fn bus(&self) -> FprintdBus {
        FprintdBus::Address(self.address.clone())
    }

    /// Starts the fprintd double with `parameters` (see fprintd_double.py).
    fn fprintd(&self, parameters: serde_json::Value) -> Double {
        let log = self.dir.path().join("fprintd-calls.log");
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fprintd_double.py");
        let child = Command::new(python())
            .args(["-m", "dbusmock", "--system", "-t"])
            .arg(&template)
            .arg("-l")
            .arg(&log)
            .arg("-p")
            .arg(parameters.to_string())
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .spawn()
            .expect("python-dbusmock starts");
        let double = Double { child, log };
        // Ready once fprintd's name answers (with or without a reader).
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(probe(&self.bus()), Err(FprintdError::Absent { .. })) {
            assert!(
                Instant::now() < deadline,
                "the fprintd double did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        double
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The running double; killed when dropped.
struct Double {
    child: Child,
    log: PathBuf,
}

impl Double {
    /// The methods called so far, in order ("Claim", "VerifyStart", …).
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1))
            .filter(|word| *word != "emit")
            .map(str::to_owned)
            .collect()
    }

    /// Waits until the calls end with `tail`.
    fn wait_for_calls_ending(&self, tail: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let calls = self.calls();
            if calls.ends_with(&tail.iter().map(|s| s.to_string()).collect::<Vec<_>>()) {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "calls {calls:?} do not end with {tail:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prompt() -> UserPrompt {
    verify_prompt(Some("example.com"))
}

fn wait(pending: &mut Box<dyn PendingVerdict>) -> Verdict {
    wait_blocking(pending.as_mut(), Duration::from_secs(20)).expect("a verdict in time")
}

/// One verification through the verifier, as the runtime runs it.
fn verdict_of(bus: &PrivateBus) -> Verdict {
    wait(&mut FprintdVerifier::new(bus.bus()).verify(&prompt()))
}

/// One verification, with the error when it could not run.
fn outcome_of(bus: &PrivateBus) -> Result<Outcome, FprintdError> {
    let (_keep, cancel) = tokio::sync::oneshot::channel::<()>();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(verify_once(&bus.bus(), cancel))
}

const FULL_SESSION: [&str; 5] = [
    "GetDefaultDevice",
    "Claim",
    "VerifyStart",
    "VerifyStop",
    "Release",
];

#[test]
fn fprintd_match_after_a_retry_scan_verifies_and_releases_the_reader() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({
        "results": [["verify-retry-scan", "verify-swipe-too-short", "verify-match"]]
    }));
    assert_eq!(verdict_of(&bus), Verdict::Approved);
    let calls = double.wait_for_calls_ending(&["Release"]);
    assert!(
        calls.ends_with(&FULL_SESSION.map(String::from)),
        "{calls:?}"
    );
}

#[test]
fn fprintd_no_match_is_a_failed_verification() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({"results": [["verify-no-match"]]}));
    assert_eq!(verdict_of(&bus), Verdict::Denied);
    let calls = double.wait_for_calls_ending(&["Release"]);
    assert!(
        calls.ends_with(&FULL_SESSION.map(String::from)),
        "{calls:?}"
    );
}

#[test]
fn fprintd_busy_reader_fails_without_blaming_the_user() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({"busy": true, "then": "verify-match"}));
    assert_eq!(outcome_of(&bus), Err(FprintdError::Busy));
    // Not a failed verification (that would cost a uvRetry): the request
    // ends as if nobody answered.
    assert_eq!(verdict_of(&bus), Verdict::TimedOut);
    assert!(!double.calls().contains(&"VerifyStart".to_owned()));
    assert!(FprintdError::Busy.to_string().contains("busy"));
}

#[test]
fn fprintd_reader_that_fails_mid_verification_is_no_verdict() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({"results": [["verify-disconnected"]]}));
    assert_eq!(
        outcome_of(&bus),
        Err(FprintdError::DeviceFailed("verify-disconnected".into()))
    );
    double.wait_for_calls_ending(&["VerifyStop", "Release"]);
}

#[test]
fn fprintd_absent_is_reported_with_the_fix() {
    let Some(bus) = private_bus() else { return };
    let error = probe(&bus.bus()).expect_err("nothing on the bus");
    assert!(matches!(error, FprintdError::Absent { .. }), "{error:?}");
    assert!(error.to_string().contains("install fprintd"), "{error}");
    assert!(FprintdVerifier::checked(bus.bus()).is_err());
    assert_eq!(verdict_of(&bus), Verdict::TimedOut);
    let check = check_fprintd(&bus.bus());
    assert_eq!(check.status, Status::Ok, "fingerprints are optional");
    assert!(check.detail.contains("not available"), "{check:?}");
}

#[test]
fn fprintd_without_reader_or_finger_offers_no_uv() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({"devices": 0}));
    assert_eq!(probe(&bus.bus()), Err(FprintdError::NoDevice));
    assert!(FprintdVerifier::checked(bus.bus()).is_err());
    let check = check_fprintd(&bus.bus());
    assert_eq!(check.status, Status::Warn);
    assert!(check.detail.contains("no fingerprint reader"), "{check:?}");
    drop(double);

    let Some(bus) = private_bus() else { return };
    let _double = bus.fprintd(serde_json::json!({"enrolled": []}));
    assert_eq!(probe(&bus.bus()), Err(FprintdError::NoEnrolledFinger));
    let error = FprintdVerifier::checked(bus.bus()).expect_err("no finger");
    assert!(error.to_string().contains("fprintd-enroll"), "{error}");
    let check = check_fprintd(&bus.bus());
    assert_eq!(check.status, Status::Warn);
    assert!(
        check
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("fprintd-enroll")),
        "{check:?}"
    );
}

#[test]
fn fprintd_ready_reader_is_reported_by_doctor() {
    let Some(bus) = private_bus() else { return };
    let _double =
        bus.fprintd(serde_json::json!({"enrolled": ["right-index-finger", "left-thumb"]}));
    let status = probe(&bus.bus()).expect("a reader with fingers");
    assert_eq!(status.device, "softkey test reader");
    assert_eq!(status.fingers, ["right-index-finger", "left-thumb"]);
    let check = check_fprintd(&bus.bus());
    assert_eq!(check.status, Status::Ok);
    assert!(
        check
            .detail
            .contains("softkey test reader, 2 finger(s) enrolled"),
        "{check:?}"
    );
}

#[test]
fn fprintd_abandoned_verification_stops_and_releases_the_reader() {
    let Some(bus) = private_bus() else { return };
    let double = bus.fprintd(serde_json::json!({"then": "hang"}));
    let mut pending = FprintdVerifier::new(bus.bus()).verify(&prompt());
    double.wait_for_calls_ending(&["VerifyStart"]);
    assert_eq!(
        pending.poll(Instant::now()),
        None,
        "nobody touched the reader"
    );
    // CTAPHID CANCEL, the user timeout and a power cycle all drop the
    // pending verdict.
    drop(pending);
    let calls = double.wait_for_calls_ending(&["VerifyStop", "Release"]);
    assert!(
        calls.ends_with(&FULL_SESSION.map(String::from)),
        "{calls:?}"
    );
}
