//! `softkey run`: the daily daemon, one authenticator on a UHID device.
//!
//! The binary parses [`RunArgs`] and calls [`run`]; `softkey sim --transport
//! uhid` reuses [`UhidArgs`]. Credentials live in the vault
//! (`$XDG_DATA_HOME/softkey/vault.sqlite` unless `--vault` says otherwise).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use softkey_authenticator::Config;
use softkey_authenticator::crypto::Algorithm;
use softkey_authenticator::policy::CredentialPolicy;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::MemoryStore;
use softkey_authenticator::store::Store;
use softkey_transport::uhid::{DEFAULT_PRODUCT_ID, DEFAULT_VENDOR_ID};

use crate::presence::{CommandPresence, DesktopNotification, PresenceProvider, TerminalPresence};
use crate::runtime::KeyDevice;
use crate::uhid::{DEFAULT_PATH, UhidConfig};

/// Where the UHID device is created and how it presents itself.
#[derive(clap::Args, Debug, Clone)]
pub struct UhidArgs {
    /// The UHID character device.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub uhid_path: PathBuf,
    /// Product name shown by browsers and `fido2-token -L`.
    #[arg(long, default_value = "softkey")]
    pub device_name: String,
    /// USB vendor id (hex accepted with 0x).
    #[arg(long, value_parser = parse_id, default_value = "0x1209")]
    pub vendor_id: u32,
    /// USB product id (hex accepted with 0x).
    #[arg(long, value_parser = parse_id, default_value = "0x5eed")]
    pub product_id: u32,
    /// Serial number (HID uniq).
    #[arg(long, default_value = "")]
    pub serial: String,
}

impl Default for UhidArgs {
    fn default() -> Self {
        Self {
            uhid_path: PathBuf::from(DEFAULT_PATH),
            device_name: "softkey".into(),
            vendor_id: DEFAULT_VENDOR_ID,
            product_id: DEFAULT_PRODUCT_ID,
            serial: String::new(),
        }
    }
}

impl UhidArgs {
    /// The identity for `UHID_CREATE2`.
    pub fn config(&self) -> UhidConfig {
        UhidConfig {
            name: self.device_name.clone(),
            uniq: self.serial.clone(),
            vendor: self.vendor_id,
            product: self.product_id,
            ..UhidConfig::default()
        }
    }
}

fn parse_id(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed
        .ok()
        .filter(|&id| id <= 0xffff)
        .ok_or_else(|| format!("{text:?} is not a 16-bit id"))
}

/// How `softkey run` asks for user presence. There is no auto-approve here:
/// that lives only in the simulator, under its `danger` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RunPresence {
    /// A desktop notification with Allow/Deny (needs `notify-send` and a
    /// D-Bus session with a notification server).
    Notify,
    /// Ask on the controlling terminal (y/N), for `softkey run` in a shell.
    Terminal,
    /// Run `--presence-command` for each prompt; exit status 0 approves.
    Command,
}

/// Arguments of `softkey run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// How user presence is obtained.
    #[arg(long, value_enum, default_value_t = RunPresence::Notify)]
    pub presence: RunPresence,
    /// The command run by `--presence command` (under `sh -c`; the prompt is in
    /// SOFTKEY_ACTION, SOFTKEY_RP_ID and SOFTKEY_USER_NAME).
    #[arg(long, required_if_eq("presence", "command"))]
    pub presence_command: Option<String>,
    /// Seconds a person has to answer a prompt (then CTAP2_ERR_USER_ACTION_TIMEOUT).
    #[arg(long, default_value_t = 30)]
    pub user_timeout: u64,
    /// The UHID device.
    #[command(flatten)]
    pub uhid: UhidArgs,
    /// The vault.
    #[command(flatten)]
    pub vault: VaultOptions,
    /// Keep credentials in memory only (lost when softkey stops).
    #[arg(long, conflicts_with_all = ["vault", "key_file", "passphrase_file", "keyring", "tpm"])]
    pub ephemeral: bool,
    /// Attest new credentials with the device's attestation certificate
    /// (`packed` with x5c) instead of self attestation. U2F registrations
    /// then carry it too: relying parties can link them to one device.
    /// Without this flag each U2F registration gets a single-use certificate.
    #[arg(long)]
    pub attestation_certificate: bool,
    /// Built-in user verification.
    #[command(flatten)]
    pub verify: crate::verify::VerifyArgs,
    /// COSE algorithms new credentials may use, by IANA name, comma-separated
    /// (ES256, EdDSA, ES384, ES512, ES256K, PS256, RS256, ML-DSA-44, ML-DSA-65,
    /// ML-DSA-87, ESP256, ESP384, ESP512, Ed25519). getInfo lists them ES256
    /// first; credentials made before keep working whatever this says.
    #[arg(long, value_delimiter = ',', default_values_t = Algorithm::DEFAULT.to_vec())]
    pub algorithms: Vec<Algorithm>,
    /// Enterprise attestation.
    #[command(flatten)]
    pub enterprise: crate::enterprise_args::EnterpriseArgs,
}

impl RunArgs {
    /// Refuses what the daily daemon must never do, however it is asked:
    /// `--verify danger-always-verified` (a key that claims a verified user
    /// nobody checked) belongs to `softkey sim` alone.
    pub fn refuse_dangers(&self) -> Result<(), String> {
        if self.verify.verify == Some(crate::verify::VerifyChoice::DangerAlwaysVerified) {
            return Err(
                "`softkey run` refuses --verify danger-always-verified: your security key would \
                 tell every site that you were verified without anyone checking. It exists for \
                 `softkey sim` only; verify with --verify pam or --verify command"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The presence provider `args` ask for.
pub fn presence_provider(args: &RunArgs) -> anyhow::Result<Box<dyn PresenceProvider>> {
    Ok(match args.presence {
        RunPresence::Notify => Box::new(DesktopNotification::default()),
        RunPresence::Terminal => Box::new(TerminalPresence),
        RunPresence::Command => Box::new(CommandPresence::new(
            args.presence_command
                .clone()
                .context("--presence command needs --presence-command")?,
        )),
    })
}

/// Runs the daemon until `stop` is set: one authenticator on UHID, its
/// credentials in the vault (or in memory with `--ephemeral`).
pub fn run(args: &RunArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    args.refuse_dangers().map_err(anyhow::Error::msg)?;
    if args.ephemeral {
        let store = MemoryStore::new(Secret32::random(&mut rand::rng()));
        return serve(
            args,
            store,
            "in-memory (ephemeral: credentials are lost when softkey stops)",
            None,
            stop,
        );
    }
    let path = match &args.vault.vault {
        Some(path) => path.clone(),
        None => softkey_vault::cli::default_vault_path()?,
    };
    if !path.exists() {
        anyhow::bail!(
            "no vault at {} — create one with `softkey vault init` (add --key-file PATH for a \
             key file instead of a passphrase), or run with --ephemeral to keep credentials in memory",
            path.display()
        );
    }
    let unlocker = args.vault.unlocker()?;
    let mut vault = softkey_vault::Vault::open(&path, &unlocker)
        .with_context(|| format!("opening the vault {}", path.display()))?;
    // The vault's kind decides the backup flags new passkeys are signed with.
    let policy = vault.credential_policy()?;
    serve(
        args,
        vault,
        &path.display().to_string(),
        Some(Box::new(policy)),
        stop,
    )
}

fn serve<S: Store + Send + 'static>(
    args: &RunArgs,
    store: S,
    vault: &str,
    policy: Option<Box<dyn CredentialPolicy>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let config = Config {
        built_in_uv: args.verify.enabled(),
        attestation: crate::runtime::attestation_mode(args.attestation_certificate),
        algorithms: args.algorithms.clone(),
        enterprise_attestation: args.enterprise.config(),
        ..Config::default()
    };
    let presence = presence_provider(args)?;
    let algorithms: Vec<&str> = args.algorithms.iter().map(|alg| alg.name()).collect();
    tracing::info!(
        presence = presence.name(),
        vault,
        algorithms = %algorithms.join(","),
        "softkey run starting"
    );
    let mut device = KeyDevice::standard(
        config,
        store,
        presence,
        Duration::from_secs(args.user_timeout),
        (0, 1, 0),
    );
    if let Some(verifier) = args.verify.build()? {
        device.set_verifier(verifier);
    }
    if let Some(policy) = policy {
        device.authenticator_mut().set_credential_policy(policy);
    }
    crate::uhid::run(&mut device, &args.uhid.uhid_path, &args.uhid.config(), stop)?;
    Ok(())
}

/// Which vault `softkey run` opens and how it is unlocked.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VaultOptions {
    /// The vault file [default: $XDG_DATA_HOME/softkey/vault.sqlite].
    #[arg(long, value_name = "PATH")]
    pub vault: Option<PathBuf>,
    /// Unlock the vault with this key file.
    #[arg(long, value_name = "PATH", conflicts_with = "passphrase_file")]
    pub key_file: Option<PathBuf>,
    /// Read the vault passphrase from the first line of this file instead of
    /// asking on the terminal.
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
    /// Unlock the vault with its key slot in the desktop keyring (Secret Service).
    #[arg(long, conflicts_with_all = ["key_file", "passphrase_file"])]
    pub keyring: bool,
    /// Unlock the vault with its key slot sealed to this machine's TPM 2.0
    /// (TPM from $SOFTKEY_TPM_TCTI, else $TPM2TOOLS_TCTI, else
    /// device:/dev/tpmrm0; a build with the `tpm` feature).
    #[arg(long, conflicts_with_all = ["key_file", "passphrase_file", "keyring"])]
    pub tpm: bool,
}

impl VaultOptions {
    /// The unlocker these options name (prompting on the terminal if none).
    pub fn unlocker(&self) -> anyhow::Result<softkey_vault::Unlocker> {
        let tpm = softkey_vault::cli_tpm::TpmArgs {
            tpm: self.tpm,
            ..Default::default()
        };
        Ok(softkey_vault::cli_tpm::unlocker_for(
            &tpm,
            self.key_file.as_deref(),
            self.passphrase_file.as_deref(),
            self.keyring,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_in_hex_and_decimal() {
        assert_eq!(parse_id("0x1209"), Ok(0x1209));
        assert_eq!(parse_id("4617"), Ok(4617));
        assert!(parse_id("0x10000").is_err());
        assert!(parse_id("yubikey").is_err());
    }
}
