//! `softkey`: a software FIDO2 security key.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use softkey::sim_cmd::{self, SimArgs};

/// softkey: a software FIDO2 security key.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run softkey as your security key: one authenticator on /dev/uhid, with
    /// your vault.
    Run(softkey::run_cmd::RunArgs),
    /// Run a simulated authenticator for testing (CTAPHID over loopback UDP).
    Sim(SimArgs),
    /// Create, inspect and manage the encrypted passkey vault.
    Vault(softkey_vault::cli::VaultArgs),
    /// Talk CTAP to a security key (softkey or any other): info, PIN,
    /// credentials, reset, configuration.
    Client(softkey::client::ClientArgs),
    /// Check this machine's setup for `softkey run` and say what to fix.
    Doctor(softkey::doctor::DoctorArgs),
    /// Run the demo WebAuthn relying party: a web page to sign up and sign in
    /// with passkeys, and its JSON API.
    Rp(RpArgs),
}

/// Arguments of `softkey rp`.
#[derive(clap::Args, Debug)]
struct RpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The relying party id (a registrable domain suffix of the origin's host).
    #[arg(long, default_value = "localhost")]
    rp_id: String,
    /// The relying party name shown by authenticators.
    #[arg(long, default_value = "softkey demo")]
    rp_name: String,
    /// The exact origin browsers will report [default: http://localhost:PORT].
    #[arg(long)]
    origin: Option<String>,
    /// SQLite database for users and passkeys [default: in memory].
    #[arg(long)]
    db: Option<std::path::PathBuf>,
}

fn rp(args: RpArgs) -> anyhow::Result<()> {
    let origin = args
        .origin
        .unwrap_or_else(|| format!("http://localhost:{}", args.listen.port()));
    let config = softkey_rp::server::ServerConfig {
        listen: args.listen,
        rp_id: args.rp_id,
        rp_name: args.rp_name,
        origin,
        database: args.db,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        tracing::info!(
            url = %config.origin,
            rp_id = %config.rp_id,
            database = %config.database.as_ref().map_or("in-memory".into(), |p| p.display().to_string()),
            "softkey rp serving"
        );
        softkey_rp::server::serve_until(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the relying party")
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Commands::Run(args) = &cli.command
        && let Err(message) = args.refuse_dangers()
    {
        use clap::CommandFactory as _;
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOFTKEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Commands::Run(args) => softkey::run_cmd::run(&args, &*stop_flag()?),
        Commands::Sim(args) => sim_cmd::run(args, &*stop_flag()?),
        Commands::Vault(args) => softkey_vault::cli::run(args).map_err(anyhow::Error::from),
        Commands::Client(args) => softkey::client::main(args),
        Commands::Doctor(args) => {
            if !softkey::doctor::run_cli(&args).context("printing the checks")? {
                std::process::exit(1);
            }
            Ok(())
        }
        Commands::Rp(args) => rp(args),
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
