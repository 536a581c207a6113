//! The `softkey` command line: its clap definition, shared by the binary
//! (`src/main.rs`), the generated man page and shell completions
//! (`examples/gen_docs.rs`), and the test that every command a message, hint
//! or `--help` text suggests parses (`tests/hints.rs`).

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::sim_cmd::SimArgs;

/// softkey: a software FIDO2 security key.
#[derive(Parser, Debug)]
#[command(name = "softkey", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands of `softkey`.
#[derive(Subcommand, Debug)]
pub enum Commands {
    /// Run softkey as your security key: one authenticator on /dev/uhid, with
    /// your vault.
    Run(crate::run_cmd::RunArgs),
    /// Run a simulated authenticator for testing (CTAPHID over loopback UDP).
    Sim(SimArgs),
    /// Create, inspect and manage the encrypted passkey vault.
    Vault(softkey_vault::cli::VaultArgs),
    /// Talk CTAP to a security key (softkey or any other): info, PIN,
    /// credentials, reset, configuration.
    Client(crate::client::ClientArgs),
    /// Check this machine's setup for `softkey run` and say what to fix.
    Doctor(crate::doctor::DoctorArgs),
    /// Run the demo WebAuthn relying party: a web page to sign up and sign in
    /// with passkeys, and its JSON API.
    Rp(RpArgs),
}

/// Arguments of `softkey rp`.
#[derive(clap::Args, Debug)]
pub struct RpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The relying party id (a registrable domain suffix of the origin's host).
    #[arg(long, default_value = "localhost")]
    pub rp_id: String,
    /// The relying party name shown by authenticators.
    #[arg(long, default_value = "softkey demo")]
    pub rp_name: String,
    /// The exact origin browsers will report [default: http://localhost:PORT].
    #[arg(long)]
    pub origin: Option<String>,
    /// SQLite database for users and passkeys [default: in memory].
    #[arg(long)]
    pub db: Option<std::path::PathBuf>,
    /// COSE algorithms offered at sign-up, most preferred first: IANA names
    /// or numbers, comma-separated (e.g. `ML-DSA-65,ES256`) [default: every
    /// algorithm softkey rp verifies, ES256 first]. The page's "post-quantum"
    /// box (or `?pq=1`) puts ML-DSA first for one sign-up.
    #[arg(long, value_delimiter = ',', value_parser = parse_rp_algorithm)]
    pub algorithms: Vec<i64>,
}

fn parse_rp_algorithm(name: &str) -> Result<i64, String> {
    softkey_rp::cose::algorithm_from_name(name).ok_or_else(|| {
        let known: Vec<&str> = softkey_rp::cose::ALGORITHMS
            .iter()
            .map(|(_, name)| *name)
            .collect();
        format!("unknown algorithm {name:?} (known: {})", known.join(", "))
    })
}

/// The whole command tree, as clap builds it (for man pages, completions
/// and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_passes_clap_debug_asserts() {
        command().debug_assert();
    }
}
