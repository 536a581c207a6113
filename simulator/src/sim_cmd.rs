//! `softkey sim`: simulated authenticators for testers (CTAPHID over loopback UDP).
//!
//! Without `--control`, one authenticator serves on `--udp` (default
//! 127.0.0.1:8111). With `--control 127.0.0.1:PORT`, the same authenticator
//! is served as the control API's authenticator `default`, and testers add
//! more (each on its own UDP port), inject credentials, script the user,
//! inject faults and watch the traffic: see [`crate::control`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::ValueEnum;
use softkey_authenticator::policy::CredentialPolicy;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{MemoryStore, Store};
use softkey_authenticator::{AAGUID, Config};
use softkey_transport::udp::{DEFAULT_DEVICE_ADDR, UdpDevice};

use crate::control::ControlServer;
use crate::control::device::VirtualAuthenticator;
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
    /// How user presence is obtained.
    #[arg(long, value_enum, default_value_t = PresenceChoice::DangerAutoApprove)]
    pub presence: PresenceChoice,
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
    /// Serve the control API (JSON over HTTP, WebDriver virtual-authenticator
    /// paths) on this loopback address, e.g. 127.0.0.1:8120 (port 0: any).
    /// Off by default.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// Where to write the control API's bearer token (mode 0600); default
    /// `$XDG_RUNTIME_DIR/softkey-control-<port>.token` (or the temp directory).
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
    #[arg(long)]
    pub attestation_certificate: bool,
}

/// Where `softkey sim` puts its authenticator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// Raw CTAPHID reports over loopback UDP (`--udp`).
    Udp,
    /// A HID device through /dev/uhid, which browsers and libfido2 see.
    Uhid,
}

/// Runs the simulator until `stop` is set.
pub fn run(args: SimArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    if args.control.is_some() {
        return run_with_control(args, stop);
    }
    match &args.vault.vault {
        None => {
            let store = MemoryStore::new(Secret32::random(&mut rand::rng()));
            serve(&args, store, "in-memory (ephemeral)".into(), None, stop)
        }
        Some(path) => {
            let unlocker = args.vault.unlocker()?;
            let mut vault = softkey_vault::Vault::open(path, &unlocker)
                .with_context(|| format!("opening the vault {}", path.display()))?;
            // The vault's kind decides the backup flags new passkeys get.
            let policy = vault.credential_policy()?;
            serve(
                &args,
                vault,
                path.display().to_string(),
                Some(Box::new(policy)),
                stop,
            )
        }
    }
}

fn serve<S: Store>(
    args: &SimArgs,
    store: S,
    vault: String,
    policy: Option<Box<dyn CredentialPolicy>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let config = Config {
        reset_window: args
            .strict_reset
            .then_some(softkey_authenticator::RESET_WINDOW),
        built_in_uv: args.verify.enabled(),
        attestation: crate::runtime::attestation_mode(args.attestation_certificate),
        ..Config::default()
    };
    let presence = presence_provider(args)?;
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
        tracing::info!(presence = presence_name, "softkey sim on UHID");
        crate::uhid::run(&mut device, &args.uhid.uhid_path, &args.uhid.config(), stop)?;
        tracing::info!("softkey sim stopped");
        return Ok(());
    }
    let mut socket =
        UdpDevice::bind(args.udp).with_context(|| format!("cannot listen on {}", args.udp))?;
    log_ready(args, socket.local_addr()?, None, presence_name, &vault);
    crate::udp::serve(&mut device, &mut socket, stop).context("serving UDP")?;
    tracing::info!("softkey sim stopped");
    Ok(())
}

fn log_ready(
    args: &SimArgs,
    udp: SocketAddr,
    control: Option<SocketAddr>,
    presence: &str,
    vault: &str,
) {
    tracing::info!(
        %udp,
        control = control.map(|addr| addr.to_string()),
        aaguid = %hex_aaguid(),
        presence,
        vault,
        "softkey sim ready"
    );
    if args.presence == PresenceChoice::DangerAutoApprove {
        tracing::warn!("presence is danger-auto-approve: every request is approved without asking");
    }
}

fn presence_provider(args: &SimArgs) -> anyhow::Result<Box<dyn PresenceProvider>> {
    Ok(match args.presence {
        PresenceChoice::DangerAutoApprove => Box::new(danger::AutoApprove),
        PresenceChoice::Terminal => Box::new(crate::presence::TerminalPresence),
        PresenceChoice::Notification => Box::new(crate::presence::DesktopNotification::default()),
        PresenceChoice::Command => Box::new(CommandPresence::new(
            args.presence_command
                .clone()
                .context("--presence command needs --presence-command")?,
        )),
    })
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
        uhid.clone(),
        Arc::clone(&shutdown),
    )?;
    let presence = presence_provider(&args)?;
    let presence_name = presence.name();
    let mut options = crate::control::api::default_options(
        args.strict_reset,
        Duration::from_secs(args.user_timeout),
    );
    options.uhid.clone_from(&uhid);
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
    log_ready(&args, udp, Some(server.addr), presence_name, &vault_name);
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
