//! `softkey vault …` on its own, for trying the CLI before the `softkey` binary
//! mounts it: `cargo run -p softkey-vault --example vault_cli -- --vault /tmp/v.sqlite init`.

use clap::Parser;

/// `softkey vault` as a stand-alone program.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    vault: softkey_vault::cli::VaultArgs,
}

fn main() -> std::process::ExitCode {
    match softkey_vault::cli::run(Cli::parse().vault) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("softkey vault: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
