//! `softkey`: a software FIDO2 security key.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey::presence::{CommandPresence, PresenceProvider, danger};
use softkey::runtime::KeyDevice;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{AAGUID, Authenticator, Config};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK};
use softkey_transport::udp::{DEFAULT_DEVICE_ADDR, UdpDevice};
use softkey_transport::{DeviceConfig, HidDevice};

/// softkey: a software FIDO2 security key.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run a simulated authenticator for testing (CTAPHID over loopback UDP).
    Sim(SimArgs),
}

/// How the simulator asks for user presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PresenceChoice {
    /// Approve every request at once, without asking anyone (simulator default).
    DangerAutoApprove,
    /// Run `--presence-command` for each prompt; exit status 0 approves.
    Command,
}

#[derive(clap::Args, Debug)]
struct SimArgs {
    /// Loopback address to listen on for raw 64-byte CTAPHID reports.
    #[arg(long, default_value_t = DEFAULT_DEVICE_ADDR)]
    udp: SocketAddr,
    /// How user presence is obtained.
    #[arg(long, value_enum, default_value_t = PresenceChoice::DangerAutoApprove)]
    presence: PresenceChoice,
    /// The command run by `--presence command` (under `sh -c`; the prompt is in
    /// SOFTKEY_ACTION, SOFTKEY_RP_ID and SOFTKEY_USER_NAME).
    #[arg(long, required_if_eq("presence", "command"))]
    presence_command: Option<String>,
    /// Seconds a person has to answer a prompt (then CTAP2_ERR_USER_ACTION_TIMEOUT).
    #[arg(long, default_value_t = 30)]
    user_timeout: u64,
    /// Enforce the real key's rule that reset works only within 10 s of power-up
    /// (the simulator allows it at any time by default).
    #[arg(long)]
    strict_reset: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOFTKEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Commands::Sim(args) => sim(args),
    }
}

fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handler")?;
    }
    Ok(stop)
}

fn sim(args: SimArgs) -> anyhow::Result<()> {
    let stop = stop_flag()?;
    let mut os_rng = rand::rng();
    let store = MemoryStore::new(Secret32::random(&mut os_rng));
    let config = Config {
        reset_window: args
            .strict_reset
            .then_some(softkey_authenticator::RESET_WINDOW),
        ..Config::default()
    };
    let auth = Authenticator::new(config, store, StdRng::from_rng(&mut os_rng), Instant::now());
    let presence: Box<dyn PresenceProvider> = match args.presence {
        PresenceChoice::DangerAutoApprove => Box::new(danger::AutoApprove),
        PresenceChoice::Command => Box::new(CommandPresence::new(
            args.presence_command
                .clone()
                .context("--presence command needs --presence-command")?,
        )),
    };
    let hid = HidDevice::new(DeviceConfig {
        capabilities: CAPABILITY_WINK | CAPABILITY_CBOR | CAPABILITY_NMSG,
        device_version: version_triple(),
        msg_enabled: false,
        cid_seed: rand::RngExt::random(&mut os_rng),
    });
    let presence_name = presence.name();
    let mut device = KeyDevice::new(hid, auth, presence, Duration::from_secs(args.user_timeout));
    let mut socket =
        UdpDevice::bind(args.udp).with_context(|| format!("cannot listen on {}", args.udp))?;
    tracing::info!(
        udp = %socket.local_addr()?,
        aaguid = %hex_aaguid(),
        presence = presence_name,
        vault = "in-memory (ephemeral)",
        "softkey sim ready"
    );
    if args.presence == PresenceChoice::DangerAutoApprove {
        tracing::warn!("presence is danger-auto-approve: every request is approved without asking");
    }
    softkey::udp::serve(&mut device, &mut socket, &stop).context("serving UDP")?;
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
