//! Built-in user verification: how softkey asks the operating system "is this
//! really the person?", so that the key can advertise `uv` and issue UV-based
//! pinUvAuthTokens (CTAP 2.1 §6.5.5.7.3).
//!
//! The core never blocks: when it needs verification it returns a prompt with
//! [`PromptAction::Verify`](softkey_authenticator::PromptAction::Verify); the
//! runtime hands it to a [`UserVerifier`] (instead of the presence provider),
//! polls the [`PendingVerdict`] while it keeps the channel alive, and resumes
//! the core with `Approved` (verified; presence is implied) or `Denied`
//! (verification failed: the core counts it against uvRetries).
//!
//! Verifiers:
//! - [`CommandVerifier`]: an external command, exit status 0 = verified (a
//!   fingerprint reader's CLI, `pamtester SERVICE $USER authenticate`, …);
//! - [`PamVerifier`]: a PAM service, run through an external PAM client
//!   command so that this crate links no C library and needs no FFI;
//! - [`fprintd::FprintdVerifier`]: a fingerprint, through fprintd over D-Bus
//!   (cargo feature `fprintd`, on by default);
//! - [`danger::AlwaysVerified`]: the simulator's "every person is verified".

use softkey_authenticator::UserPrompt;

use crate::presence::{CommandPresence, PendingVerdict, PresenceProvider};

#[cfg(feature = "fprintd")]
pub mod fprintd;

/// Verifies the person with the operating system's own authentication.
pub trait UserVerifier: Send {
    /// Starts verifying; the answer is polled from the returned handle.
    /// `Approved` means verified, `Denied` means verification failed.
    fn verify(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict>;
    /// A short name for logs.
    fn name(&self) -> &'static str;
}

/// Runs a command to verify the person: exit status 0 verifies, anything
/// else fails. The prompt is in the environment as for
/// [`CommandPresence`] (`SOFTKEY_ACTION=verify`, `SOFTKEY_RP_ID`, …).
#[derive(Debug, Clone)]
pub struct CommandVerifier(CommandPresence);

impl CommandVerifier {
    /// A verifier running `command` with `sh -c`.
    pub fn new(command: impl Into<String>) -> Self {
        Self(CommandPresence::new(command))
    }
}

impl UserVerifier for CommandVerifier {
    fn verify(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        self.0.ask(prompt)
    }

    fn name(&self) -> &'static str {
        "command"
    }
}

/// Verifies the person against a PAM service (`/etc/pam.d/<service>`), as
/// the user softkey runs as.
///
/// The PAM conversation runs in `pam_client`, an external PAM client (by
/// default `pamtester`, Debian package `pamtester`), as
/// `<client> <service> <user> authenticate`: PAM modules that ask for a
/// password ask on the client's terminal, modules that do not (pam_fprintd,
/// pam_exec, pam_permit, pam_deny) decide alone. Exit status 0 verifies.
#[derive(Debug, Clone)]
pub struct PamVerifier {
    service: String,
    user: String,
    client: String,
}

impl PamVerifier {
    /// A verifier for `service` and `user`, through `pamtester`.
    pub fn new(service: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            user: user.into(),
            client: "pamtester".into(),
        }
    }

    /// A verifier for the user running softkey (`$USER`, else `id -un`).
    pub fn for_current_user(service: impl Into<String>) -> Self {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| {
                std::process::Command::new("id")
                    .arg("-un")
                    .output()
                    .ok()
                    .and_then(|out| String::from_utf8(out.stdout).ok())
                    .map(|u| u.trim().to_owned())
            })
            .unwrap_or_else(|| "root".into());
        Self::new(service, user)
    }

    /// Uses another PAM client: a command line, run by `sh`, that gets the
    /// same arguments as `pamtester`.
    pub fn with_client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// The PAM service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn command_line(&self) -> String {
        format!(
            "{} {} {} authenticate",
            self.client,
            shell_quote(&self.service),
            shell_quote(&self.user)
        )
    }
}

impl UserVerifier for PamVerifier {
    fn verify(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        tracing::debug!(service = %self.service, user = %self.user, "PAM verification");
        CommandPresence::new(self.command_line()).ask(prompt)
    }

    fn name(&self) -> &'static str {
        "pam"
    }
}

/// Which built-in user verification to offer (`--verify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyChoice {
    /// A PAM service (`--pam-service`), through pamtester.
    Pam,
    /// `--verify-command`: exit status 0 verifies.
    Command,
    /// A fingerprint, through fprintd (the system bus): needs a reader and an
    /// enrolled finger (`fprintd-enroll`).
    Fprintd,
    /// Every verification succeeds without asking anyone (simulators only).
    DangerAlwaysVerified,
}

/// Command-line arguments choosing the [`UserVerifier`]; flatten them into a
/// subcommand's arguments with `#[command(flatten)]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VerifyArgs {
    /// Built-in user verification: with it, the key advertises `uv` and
    /// issues UV-based pinUvAuthTokens; without it, only the PIN verifies.
    #[arg(long, value_enum)]
    pub verify: Option<VerifyChoice>,
    /// The command run by `--verify command` (under `sh -c`; exit 0 verifies).
    #[arg(long, required_if_eq("verify", "command"))]
    pub verify_command: Option<String>,
    /// The PAM service used by `--verify pam` (a file in /etc/pam.d).
    #[arg(long, default_value = "softkey")]
    pub pam_service: String,
}

impl VerifyArgs {
    /// Whether built-in UV is offered (set `Config::built_in_uv` from this).
    pub fn enabled(&self) -> bool {
        self.verify.is_some()
    }

    /// The verifier, if one was chosen.
    pub fn build(&self) -> anyhow::Result<Option<Box<dyn UserVerifier>>> {
        Ok(match self.verify {
            None => None,
            Some(VerifyChoice::Pam) => Some(Box::new(PamVerifier::for_current_user(
                self.pam_service.clone(),
            ))),
            Some(VerifyChoice::Command) => Some(Box::new(CommandVerifier::new(
                self.verify_command
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("--verify command needs --verify-command"))?,
            ))),
            Some(VerifyChoice::Fprintd) => Some(fprintd_verifier()?),
            Some(VerifyChoice::DangerAlwaysVerified) => {
                tracing::warn!(
                    "user verification is danger-always-verified: every request claims a verified user"
                );
                Some(Box::new(danger::AlwaysVerified))
            }
        })
    }
}

/// The fprintd verifier, once fprintd has a reader and an enrolled finger
/// (so that `uv` is advertised only when a finger can verify).
#[cfg(feature = "fprintd")]
fn fprintd_verifier() -> anyhow::Result<Box<dyn UserVerifier>> {
    let verifier = fprintd::FprintdVerifier::checked(fprintd::FprintdBus::System)
        .map_err(|error| anyhow::anyhow!("--verify fprintd: {error}"))?;
    Ok(Box::new(verifier))
}

#[cfg(not(feature = "fprintd"))]
fn fprintd_verifier() -> anyhow::Result<Box<dyn UserVerifier>> {
    anyhow::bail!("--verify fprintd: this softkey was built without the cargo feature `fprintd`")
}

/// The prompt the core gives for built-in user verification (for one-shot
/// checks and tests that run a verifier outside the runtime).
pub fn verify_prompt(rp_id: Option<&str>) -> UserPrompt {
    UserPrompt {
        action: softkey_authenticator::PromptAction::Verify,
        rp_id: rp_id.map(str::to_owned),
        user_name: None,
    }
}

/// Polls `pending` on the real clock until it answers or `limit` passes
/// (`None`): for callers outside the runtime's loop (one-shot checks, tests).
pub fn wait_blocking(
    pending: &mut dyn PendingVerdict,
    limit: std::time::Duration,
) -> Option<softkey_authenticator::Verdict> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(verdict) = pending.poll(std::time::Instant::now()) {
            return Some(verdict);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Single-quotes `word` for `sh`.
pub(crate) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Verifiers that remove the person from the loop. Never for daily use.
pub mod danger {
    use super::*;
    use softkey_authenticator::Verdict;

    struct Verified;

    impl PendingVerdict for Verified {
        fn poll(&mut self, _now: std::time::Instant) -> Option<Verdict> {
            Some(Verdict::Approved)
        }
    }

    /// Verifies every request at once. For simulators and tests only: with
    /// it, the key claims a verified user that nobody checked.
    #[derive(Debug, Default)]
    pub struct AlwaysVerified;

    impl UserVerifier for AlwaysVerified {
        fn verify(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
            tracing::debug!(rp = ?prompt.rp_id, "user verification auto-approved (danger)");
            Box::new(Verified)
        }

        fn name(&self) -> &'static str {
            "danger-always-verified"
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::{Duration, Instant};

    use softkey_authenticator::Verdict;

    use super::*;

    fn prompt() -> UserPrompt {
        verify_prompt(Some("example.com"))
    }

    fn wait(pending: &mut Box<dyn PendingVerdict>) -> Verdict {
        wait_blocking(pending.as_mut(), Duration::from_secs(10)).expect("a verdict in time")
    }

    #[test]
    fn command_verifier_exit_status_decides() {
        let mut ok = CommandVerifier::new("test \"$SOFTKEY_ACTION\" = verify");
        assert_eq!(wait(&mut ok.verify(&prompt())), Verdict::Approved);
        let mut fail = CommandVerifier::new("exit 1");
        assert_eq!(wait(&mut fail.verify(&prompt())), Verdict::Denied);
    }

    #[test]
    fn pam_verifier_runs_its_client_with_service_and_user() {
        // A stand-in client that checks its arguments, as pamtester gets them.
        let mut verifier = PamVerifier::new("softkey-test", "o'neil").with_client(
            "sh -c 'test \"$1\" = softkey-test && test \"$2\" = \"o'\\''neil\" && test \"$3\" = authenticate' client",
        );
        assert_eq!(wait(&mut verifier.verify(&prompt())), Verdict::Approved);
        let mut missing =
            PamVerifier::new("softkey-test", "nobody").with_client("/nonexistent/pam-client");
        assert_eq!(wait(&mut missing.verify(&prompt())), Verdict::Denied);
    }

    #[test]
    fn verify_args_build_the_chosen_verifier() {
        assert!(VerifyArgs::default().build().unwrap().is_none());
        let args = VerifyArgs {
            verify: Some(VerifyChoice::Command),
            verify_command: None,
            pam_service: "softkey".into(),
        };
        assert!(args.build().is_err());
        let args = VerifyArgs {
            verify: Some(VerifyChoice::DangerAlwaysVerified),
            ..args
        };
        assert!(args.enabled());
        assert_eq!(
            args.build().unwrap().unwrap().name(),
            "danger-always-verified"
        );
    }

    #[test]
    fn always_verified_verifies() {
        assert_eq!(
            danger::AlwaysVerified
                .verify(&prompt())
                .poll(Instant::now()),
            Some(Verdict::Approved)
        );
    }

    /// The PAM verifier for real: PAM service files with pam_permit, pam_deny
    /// and pam_exec (a script that checks the user PAM was asked about), run
    /// through pamtester. Needs root (to write /etc/pam.d) and pamtester
    /// (Debian package `pamtester`); says so and passes vacuously without them,
    /// so CI must provide both.
    #[test]
    fn pam_verifier_with_real_pam_services() {
        let pam_dir = std::path::Path::new("/etc/pam.d");
        let has_pamtester = std::process::Command::new("sh")
            .args(["-c", "command -v pamtester"])
            .output()
            .is_ok_and(|out| out.status.success());
        let probe = pam_dir.join(format!("softkey-test-probe-{}", std::process::id()));
        if !has_pamtester || std::fs::write(&probe, "").is_err() {
            eprintln!("SKIP: the real PAM test needs pamtester and a writable /etc/pam.d");
            return;
        }
        std::fs::remove_file(&probe).unwrap();
        let id = std::process::id();
        let script = std::env::temp_dir().join(format!("softkey-pam-exec-{id}.sh"));
        std::fs::write(&script, "#!/bin/sh\ntest \"$PAM_USER\" = softkey-ok\n").unwrap();
        let mut perms = std::fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).unwrap();
        let services = [
            ("permit", "auth required pam_permit.so".to_owned()),
            ("deny", "auth required pam_deny.so".to_owned()),
            (
                "exec",
                format!("auth required pam_exec.so quiet {}", script.display()),
            ),
        ];
        let name = |kind: &str| format!("softkey-test-{kind}-{id}");
        for (kind, line) in &services {
            std::fs::write(
                pam_dir.join(name(kind)),
                format!("{line}\naccount required pam_permit.so\n"),
            )
            .unwrap();
        }
        let verdict = |kind: &str, user: &str| {
            wait(&mut PamVerifier::new(name(kind), user).verify(&prompt()))
        };
        let results = [
            verdict("permit", "anyone"),
            verdict("deny", "anyone"),
            verdict("exec", "softkey-ok"),
            verdict("exec", "someone-else"),
        ];
        for (kind, _) in &services {
            std::fs::remove_file(pam_dir.join(name(kind))).unwrap();
        }
        std::fs::remove_file(&script).unwrap();
        assert_eq!(
            results,
            [
                Verdict::Approved,
                Verdict::Denied,
                Verdict::Approved,
                Verdict::Denied
            ]
        );
    }
}
