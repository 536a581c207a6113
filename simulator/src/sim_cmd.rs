//! `softkey sim`: simulated authenticators for testers (CTAPHID over loopback UDP).
//!
//! Without `--control`, one authenticator serves on `--udp` (default
//! 127.0.0.1:8111). With `--control 127.0.0.1:PORT`, the same authenticator
//! is served as the control API's authenticator `default`, and testers add
//! more (each on its own UDP port), inject credentials, script the user,
//! inject faults and watch the traffic: see [`crate::control`].
//!
//! The in-memory store is the tester's: presence is auto-approved and reset
//! works at any time unless the command line says otherwise. A persistent
//! vault (`--vault`, or `softkey:vault` through the control API) holds real
//! passkeys behind a port every local process can reach, so it follows the
//! daily daemon's rules — presence asked through a real provider (a desktop
//! notification by default), reset only within 10 s of power-up — unless
//! the `danger` choice is written on the command line (`--presence
//! danger-auto-approve`, `--danger-reset-anytime`, `--verify
//! danger-always-verified`), which the simulator then names in a `DANGER`
//! warning at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::ValueEnum;
use softkey_authenticator::crypto::Algorithm;
use softkey_authenticator::policy::CredentialPolicy;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{MemoryStore, Store};
use softkey_authenticator::{AAGUID, Config};
use softkey_transport::udp::{DEFAULT_DEVICE_ADDR, UdpDevice};

use crate::control::ControlServer;
use crate::control::device::VirtualAuthenticator;
use crate::control::persistent::PersistentRules;
use crate::presence::{CommandPresence, PresenceProvider, danger};
use crate::runtime::KeyDevice;

/// How the simulator asks for user presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PresenceChoice {
    /// Approve every request at once, without asking anyone (simulator default).
    DangerAutoApprove,
    /// Run `--presence-command` for each prompt; exit status 0 approves.
    Command,
    /// Ask on the terminal softkey runs in.
    Terminal,
    /// A desktop notification with Allow/Deny.
    Notification,
}

/// Arguments of `softkey sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Loopback address to listen on for raw 64-byte CTAPHID reports.
    #[arg(long, default_value_t = DEFAULT_DEVICE_ADDR)]
    pub udp: SocketAddr,
    /// How user presence is obtained [default: danger-auto-approve for the
    /// in-memory store; notification for a persistent vault, as `softkey
    /// run` asks].
    #[arg(long, value_enum)]
    pub presence: Option<PresenceChoice>,
    /// The command run by `--presence command` (under `sh -c`; the prompt is in
    /// SOFTKEY_ACTION, SOFTKEY_RP_ID and SOFTKEY_USER_NAME).
    #[arg(long, required_if_eq("presence", "command"))]
    pub presence_command: Option<String>,
    /// Seconds a person has to answer a prompt (then CTAP2_ERR_USER_ACTION_TIMEOUT).
    #[arg(long, default_value_t = 30)]
    pub user_timeout: u64,
    /// Enforce the real key's rule that reset works only within 10 s of power-up
    /// (the simulator allows it at any time by default).
    #[arg(long)]
    pub strict_reset: bool,
    /// Let a persistent vault (--vault, or softkey:vault through the control
    /// API) be reset at any time, not only within 10 s of power-up: any local
    /// process that reaches the device can then erase it.
    #[arg(long, conflicts_with = "strict_reset")]
    pub danger_reset_anytime: bool,
    /// Serve the control API (JSON over HTTP, WebDriver virtual-authenticator
    /// paths) on this loopback address, e.g. 127.0.0.1:8120 (port 0: any).
    /// Off by default.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// Where to write the control API's bearer token: a new file (mode 0600;
    /// an existing file or link there is refused). Default:
    /// `softkey-control-<port>.token` in the private directory
    /// `$XDG_RUNTIME_DIR/softkey` (or `$TMPDIR/softkey-<uid>`), mode 0700.
    #[arg(long, value_name = "PATH", requires = "control")]
    pub control_token_file: Option<PathBuf>,
    /// Lets control-API authenticators keep persistent vaults, as
    /// `DIR/<name>.sqlite` (with `DIR/<name>.key` unless a passphrase is
    /// given): the `softkey:vault` option names them. Without it every
    /// control-API authenticator is in memory.
    #[arg(long, value_name = "DIR", requires = "control")]
    pub control_vault_dir: Option<PathBuf>,
    /// Where the authenticator is exposed: loopback UDP, or a real HID device
    /// (hidraw) through /dev/uhid.
    /// With `--control`, `uhid` makes every authenticator a UHID device too
    /// (beside its UDP port), unless its options say `"softkey:uhid": false`.
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    pub transport: Transport,
    /// The UHID device (with `--transport uhid`).
    #[command(flatten)]
    pub uhid: crate::run_cmd::UhidArgs,
    /// Built-in user verification.
    #[command(flatten)]
    pub verify: crate::verify::VerifyArgs,
    /// A persistent vault instead of the in-memory store (not with --control).
    #[command(flatten)]
    pub vault: crate::run_cmd::VaultOptions,
    /// Attest new credentials with the device's attestation certificate
    /// (`packed` with x5c; `softkey vault attestation-root` prints its root).
    /// U2F registrations then carry it too: relying parties can link them
    /// to one device. Without this flag each gets a single-use certificate.
    #[arg(long)]
    pub attestation_certificate: bool,
    /// COSE algorithms new credentials may use, by IANA name, comma-separated
    /// [default: every algorithm softkey implements, for python-fido2's suite
    /// and testers; `softkey run` offers ES256,EdDSA].
    #[arg(long, value_delimiter = ',', default_values_t = Algorithm::ALL.to_vec())]
    pub algorithms: Vec<Algorithm>,
    /// Enterprise attestation (with `--control`: of the default authenticator).
    #[command(flatten)]
    pub enterprise: crate::enterprise_args::EnterpriseArgs,
}

/// Where `softkey sim` puts its authenticator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// Raw CTAPHID reports over loopback UDP (`--udp`).
    Udp,
    /// A HID device through /dev/uhid, which browsers and libfido2 see.
    Uhid,
}

/// The simulator's rules for one store, resolved from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRules {
    /// How presence is asked.
    pub presence: PresenceChoice,
    /// Reset only within this long of power-up (`None`: at any time).
    pub reset_window: Option<Duration>,
    /// The danger choices written for a persistent vault, one warning each.
    pub dangers: Vec<&'static str>,
}

impl SimArgs {
    /// The rules for an authenticator on the in-memory store
    /// (`persistent == false`: the tester's defaults) or on a vault (the
    /// daily daemon's, unless a danger choice was written).
    pub fn trust_rules(&self, persistent: bool) -> TrustRules {
        let presence = self.presence.unwrap_or(if persistent {
            PresenceChoice::Notification
        } else {
            PresenceChoice::DangerAutoApprove
        });
        let reset_anytime = if persistent {
            self.danger_reset_anytime
        } else {
            !self.strict_reset
        };
        let mut dangers = Vec::new();
        if persistent {
            if presence == PresenceChoice::DangerAutoApprove {
                dangers.push(
                    "--presence danger-auto-approve: every presence request is approved \
                     without asking anyone",
                );
            }
            if self.danger_reset_anytime {
                dangers.push(
                    "--danger-reset-anytime: a factory reset erases it at any time, not only \
                     within 10 s of power-up",
                );
            }
            if self.verify.verify == Some(crate::verify::VerifyChoice::DangerAlwaysVerified) {
                dangers.push(
                    "--verify danger-always-verified: every request claims a verified user \
                     that nobody checked",
                );
            }
        }
        TrustRules {
            presence,
            reset_window: (!reset_anytime).then_some(softkey_authenticator::RESET_WINDOW),
            dangers,
        }
    }
}

/// Says at start, loudly, what each danger choice exposes `what` to.
fn warn_dangers(what: &str, reachable: &str, rules: &TrustRules) {
    for danger in &rules.dangers {
        tracing::warn!(
            "DANGER: {what}, reachable by any local process {reachable}, runs with {danger}"
        );
    }
}

/// Runs the simulator until `stop` is set.
pub fn run(args: SimArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    if args.control.is_some() {
        return run_with_control(args, stop);
    }
    match &args.vault.vault {
        None => {
            let store = MemoryStore::new(Secret32::random(&mut rand::rng()));
            serve(&args, store, None, None, stop)
        }
        Some(path) => {
            let unlocker = args.vault.unlocker()?;
            let mut vault = softkey_vault::Vault::open(path, &unlocker)
                .with_context(|| format!("opening the vault {}", path.display()))?;
            // The vault's kind decides the backup flags new passkeys get.
            let policy = vault.credential_policy()?;
            serve(&args, vault, Some(path), Some(Box::new(policy)), stop)
        }
    }
}

/// Serves `store`, the vault at `vault_path` or the in-memory store.
fn serve<S: Store + Send + 'static>(
    args: &SimArgs,
    store: S,
    vault_path: Option<&Path>,
    policy: Option<Box<dyn CredentialPolicy>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let rules = args.trust_rules(vault_path.is_some());
    let vault = vault_path.map_or_else(
        || "in-memory (ephemeral)".to_owned(),
        |path| path.display().to_string(),
    );
    let config = Config {
        reset_window: rules.reset_window,
        built_in_uv: args.verify.enabled(),
        attestation: crate::runtime::attestation_mode(args.attestation_certificate),
        algorithms: args.algorithms.clone(),
        enterprise_attestation: args.enterprise.config(),
        ..Config::default()
    };
    let presence = presence_provider(rules.presence, args.presence_command.as_deref())?;
    let presence_name = presence.name();
    let mut device = KeyDevice::standard(
        config,
        store,
        presence,
        Duration::from_secs(args.user_timeout),
        version_triple(),
    );
    if let Some(verifier) = args.verify.build()? {
        device.set_verifier(verifier);
    }
    if let Some(policy) = policy {
        device.authenticator_mut().set_credential_policy(policy);
    }
    if args.transport == Transport::Uhid {
        tracing::info!(presence = presence_name, vault, "softkey sim on UHID");
        warn_dangers(
            &format!("the persistent vault {vault}"),
            "through its hidraw device",
            &rules,
        );
        crate::uhid::run(&mut device, &args.uhid.uhid_path, &args.uhid.config(), stop)?;
        tracing::info!("softkey sim stopped");
        return Ok(());
    }
    let mut socket =
        UdpDevice::bind(args.udp).with_context(|| format!("cannot listen on {}", args.udp))?;
    log_ready(socket.local_addr()?, None, presence_name, &vault, &rules);
    crate::udp::serve(&mut device, &mut socket, stop).context("serving UDP")?;
    tracing::info!("softkey sim stopped");
    Ok(())
}

fn log_ready(
    udp: SocketAddr,
    control: Option<SocketAddr>,
    presence: &str,
    vault: &str,
    rules: &TrustRules,
) {
    tracing::info!(
        %udp,
        control = control.map(|addr| addr.to_string()),
        aaguid = %hex_aaguid(),
        presence,
        reset_window = ?rules.reset_window,
        vault,
        "softkey sim ready"
    );
    if rules.dangers.is_empty() && rules.presence == PresenceChoice::DangerAutoApprove {
        tracing::warn!("presence is danger-auto-approve: every request is approved without asking");
    }
    warn_dangers(
        &format!("the persistent vault {vault}"),
        &format!("on UDP {udp}"),
        rules,
    );
}

/// The provider for `choice` (`command` runs `--presence-command`).
fn presence_provider(
    choice: PresenceChoice,
    command: Option<&str>,
) -> anyhow::Result<Box<dyn PresenceProvider>> {
    Ok(match choice {
        PresenceChoice::DangerAutoApprove => Box::new(danger::AutoApprove),
        PresenceChoice::Terminal => Box::new(crate::presence::TerminalPresence),
        PresenceChoice::Notification => Box::new(crate::presence::DesktopNotification::default()),
        PresenceChoice::Command => Box::new(CommandPresence::new(
            command.context("--presence command needs --presence-command")?,
        )),
    })
}

/// The control API's rules for `softkey:vault` authenticators, from the
/// command line (see [`crate::control::persistent`]).
fn persistent_rules(args: &SimArgs) -> PersistentRules {
    let rules = args.trust_rules(true);
    let choice = rules.presence;
    let command = args.presence_command.clone();
    PersistentRules {
        presence: Arc::new(move || presence_provider(choice, command.as_deref())),
        auto_approve: choice == PresenceChoice::DangerAutoApprove,
        always_verified: args.verify.verify
            == Some(crate::verify::VerifyChoice::DangerAlwaysVerified),
        reset_anytime: rules.reset_window.is_none(),
    }
}

/// `softkey sim --control …`: the default authenticator and the control API.
fn run_with_control(args: SimArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    let control_addr = args.control.context("--control is set")?;
    // With --transport uhid every authenticator is a UHID device, the
    // default one and those the API adds (unless they say otherwise).
    let uhid = (args.transport == Transport::Uhid).then(|| crate::control::device::UhidSpec {
        uhid_path: args.uhid.uhid_path.clone(),
        ..Default::default()
    });
    let shutdown = Arc::new(AtomicBool::new(false));
    let server = ControlServer::start(
        control_addr,
        args.control_token_file.clone(),
        args.control_vault_dir.clone(),
        persistent_rules(&args),
        uhid.clone(),
        args.algorithms.clone(),
        Arc::clone(&shutdown),
    )?;
    if let Some(dir) = &args.control_vault_dir {
        warn_dangers(
            &format!("every softkey:vault authenticator in {}", dir.display()),
            "on its UDP port",
            &args.trust_rules(true),
        );
    }
    let rules = args.trust_rules(args.vault.vault.is_some());
    let presence = presence_provider(rules.presence, args.presence_command.as_deref())?;
    let presence_name = presence.name();
    let mut options = crate::control::api::default_options(
        rules.reset_window.is_some(),
        Duration::from_secs(args.user_timeout),
    );
    options.uhid.clone_from(&uhid);
    options.algorithms.clone_from(&args.algorithms);
    options.enterprise_attestation = args.enterprise.config();
    let store = match &args.vault.vault {
        None => None,
        Some(path) => {
            let unlocker = args.vault.unlocker()?;
            let mut vault = softkey_vault::Vault::open(path, &unlocker)
                .with_context(|| format!("opening the vault {}", path.display()))?;
            // A backup-eligible vault's new passkeys are backup eligible.
            options.default_backup.eligible = vault.backup_eligible()?;
            Some((Box::new(vault) as Box<dyn Store + Send>, path.clone()))
        }
    };
    let vault_name = store.as_ref().map_or_else(
        || "in-memory (ephemeral)".to_owned(),
        |(_, path)| path.display().to_string(),
    );
    let default = VirtualAuthenticator::spawn(
        "default".into(),
        options,
        store,
        args.udp,
        server.events(),
        presence,
        Arc::clone(&shutdown),
    )
    .with_context(|| format!("cannot start the default authenticator on {}", args.udp))?;
    let udp = default.udp_addr;
    if let Some(hidraw) = &default.hidraw_path {
        println!("SOFTKEY_HIDRAW={}", hidraw.display());
    }
    server.register(default);
    log_ready(udp, Some(server.addr), presence_name, &vault_name, &rules);
    // For the person (or script) who started us: how to reach the API. The
    // token goes to stdout, never to the log.
    println!("SOFTKEY_CONTROL_URL=http://{}", server.addr);
    println!("SOFTKEY_CONTROL_TOKEN_FILE={}", server.token_file.display());
    println!("SOFTKEY_CONTROL_TOKEN={}", server.token());
    while !stop.load(Ordering::Relaxed) && !shutdown.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    tracing::info!("softkey sim stopped");
    Ok(())
}

fn version_triple() -> (u8, u8, u8) {
    let part = |s: &str| s.parse().unwrap_or(0);
    (
        part(env!("CARGO_PKG_VERSION_MAJOR")),
        part(env!("CARGO_PKG_VERSION_MINOR")),
        part(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

fn hex_aaguid() -> String {
    AAGUID.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    use super::*;

    /// `softkey sim`'s arguments, parsed as the binary parses them.
    #[derive(Parser)]
    struct Sim {
        #[command(flatten)]
        args: SimArgs,
    }

    fn parse(args: &[&str]) -> Result<SimArgs, clap::Error> {
        Sim::try_parse_from(std::iter::once("sim").chain(args.iter().copied())).map(|s| s.args)
    }

    #[test]
    fn in_memory_store_keeps_the_testers_defaults() {
        let args = parse(&[]).unwrap();
        let rules = args.trust_rules(false);
        assert_eq!(rules.presence, PresenceChoice::DangerAutoApprove);
        assert_eq!(rules.reset_window, None);
        assert!(rules.dangers.is_empty());
        let strict = parse(&["--strict-reset"]).unwrap().trust_rules(false);
        assert_eq!(
            strict.reset_window,
            Some(softkey_authenticator::RESET_WINDOW)
        );
    }

    #[test]
    fn persistent_vault_follows_daily_daemon_rules_by_default() {
        let args = parse(&["--vault", "/tmp/v.sqlite", "--key-file", "/tmp/k"]).unwrap();
        let rules = args.trust_rules(true);
        assert_eq!(rules.presence, PresenceChoice::Notification);
        assert_eq!(
            rules.reset_window,
            Some(softkey_authenticator::RESET_WINDOW)
        );
        assert!(rules.dangers.is_empty());
        let persistent = persistent_rules(&args);
        assert!(!persistent.auto_approve && !persistent.always_verified);
        assert!(!persistent.reset_anytime);
        // A real provider chosen explicitly is no danger.
        let args = parse(&["--vault", "v", "--presence", "terminal"]).unwrap();
        assert!(args.trust_rules(true).dangers.is_empty());
    }

    #[test]
    fn persistent_vault_dangers_are_explicit_and_each_named() {
        let args = parse(&[
            "--vault",
            "v",
            "--presence",
            "danger-auto-approve",
            "--danger-reset-anytime",
            "--verify",
            "danger-always-verified",
        ])
        .unwrap();
        let rules = args.trust_rules(true);
        assert_eq!(rules.presence, PresenceChoice::DangerAutoApprove);
        assert_eq!(rules.reset_window, None);
        assert_eq!(rules.dangers.len(), 3);
        for (danger, flag) in rules.dangers.iter().zip([
            "--presence danger-auto-approve",
            "--danger-reset-anytime",
            "--verify danger-always-verified",
        ]) {
            assert!(danger.starts_with(flag), "{danger}");
        }
        let persistent = persistent_rules(&args);
        assert!(persistent.auto_approve && persistent.always_verified && persistent.reset_anytime);
        // The same words on the in-memory store are its defaults, no danger.
        assert!(args.trust_rules(false).dangers.is_empty());
    }

    #[test]
    fn strict_reset_and_danger_reset_anytime_conflict() {
        assert!(parse(&["--strict-reset", "--danger-reset-anytime"]).is_err());
    }
}
