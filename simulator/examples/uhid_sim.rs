//! `softkey run` before it is wired into the binary: one authenticator on a
//! Linux UHID device (an in-memory store; credentials vanish on exit).
//!
//! ```text
//! cargo run -p softkey --example uhid_sim -- --presence command --presence-command true
//! ```
//!
//! tests/vm/browser-e2e.sh runs this inside a VM whose kernel has UHID.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::Parser;
use softkey::run_cmd::RunArgs;

/// One softkey authenticator on /dev/uhid.
#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
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
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handler")?;
    }
    softkey::run_cmd::run(&cli.run, &stop)
}
