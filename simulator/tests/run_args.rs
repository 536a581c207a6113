//! `softkey run`, the daily daemon, through the binary's own argument
//! parsing: what it refuses before it touches a vault or /dev/uhid.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

/// A UHID path that does not exist: reaching it would fail differently.
const NO_UHID: &str = "/nonexistent/softkey-test-uhid";

fn softkey_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softkey"))
        .arg("run")
        .args(["--ephemeral", "--uhid-path", NO_UHID])
        .args(args)
        .env("SOFTKEY_LOG", "info")
        .output()
        .unwrap()
}

#[test]
fn daily_daemon_refuses_danger_always_verified() {
    let out = softkey_run(&["--verify", "danger-always-verified"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A usage error (clap's exit status 2), as for any refused argument.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("danger-always-verified") && stderr.contains("softkey sim"),
        "the refusal names the danger and where it belongs: {stderr}"
    );
    assert!(
        !stderr.contains(NO_UHID),
        "refused before the device was opened: {stderr}"
    );
}

#[test]
fn daily_daemon_accepts_real_verifiers_up_to_the_device() {
    // The same command line with a real verifier gets as far as /dev/uhid.
    let out = softkey_run(&["--verify", "command", "--verify-command", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(NO_UHID), "{stderr}");
    assert!(!stderr.contains("danger"), "{stderr}");
}
