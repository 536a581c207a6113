//! `softkey sim`: simulated authenticators for testers (CTAPHID over loopback UDP).

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::ValueEnum;
use rand::SeedableRng;
use rand::rngs::StdRng;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::{AAGUID, Authenticator, Config};
use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK};
use softkey_transport::udp::{DEFAULT_DEVICE_ADDR, UdpDevice};
use softkey_transport::{DeviceConfig, HidDevice};

use crate::presence::{CommandPresence, PresenceProvider, danger};
use crate::runtime::KeyDevice;

/// How the simulator asks for user presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PresenceChoice {
    /// Approve every request at once, without asking anyone (simulator default).
    DangerAutoApprove,
    /// Run `--presence-command` for each prompt; exit status 0 approves.
    Command,
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
}

/// Runs the simulator until `stop` is set.
pub fn run(args: SimArgs, stop: &AtomicBool) -> anyhow::Result<()> {
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
    crate::udp::serve(&mut device, &mut socket, stop).context("serving UDP")?;
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
