//! `softkey`: a software FIDO2 security key.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::Parser as _;
use softkey::cli::{Cli, Commands, RpArgs};
use softkey::sim_cmd;

fn rp(args: RpArgs) -> anyhow::Result<()> {
    let origin = args
        .origin
        .unwrap_or_else(|| format!("http://localhost:{}", args.listen.port()));
    let defaults = softkey_rp::server::ServerConfig::default();
    let config = softkey_rp::server::ServerConfig {
        listen: args.listen,
        rp_id: args.rp_id,
        rp_name: args.rp_name,
        origin,
        database: args.db,
        algorithms: if args.algorithms.is_empty() {
            defaults.algorithms
        } else {
            args.algorithms
        },
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
                // tss-esapi logs each TPM context it opens and closes at info.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tss_esapi=warn")),
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
