//! `softkey vault …`: the command-line glue over [`Vault`], for the `softkey`
//! binary to mount as one subcommand (`Vault(softkey_vault::cli::VaultArgs)` →
//! `softkey_vault::cli::run(args)`).
//!
//! Every command that opens a vault takes `--key-file PATH`,
//! `--passphrase-file PATH` (scripts, tests), `--keyring` (the desktop
//! keyring, with the cargo feature `keyring`) or `--tpm` (the TPM, with the
//! cargo feature `tpm`; see `cli_tpm`), and otherwise prompts for the
//! passphrase on the terminal (`/dev/tty`, echo off). A note goes to stderr
//! while Argon2 runs, since it takes about half a second by design.
//!
//! Here: the arguments and the dispatch. Beside it: `unlock` (which unlocker a
//! command uses), `passphrase` (reading one from a file or the terminal),
//! `slots` (`passwd`, `add-key`, `remove-key`, `rekey`), `exchange` (`config`,
//! `export`, `import`) and `output` (what `info` and `list` print).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::VaultError;
use crate::slots::Unlocker;
use crate::vault::Vault;

mod exchange;
mod output;
mod passphrase;
mod slots;
mod unlock;

pub use unlock::unlocker_for;
use unlock::{kdf_params, new_unlocker};

/// `softkey vault`: create, inspect and manage an encrypted passkey vault.
#[derive(Debug, clap::Args)]
pub struct VaultArgs {
    /// The vault file [default: $XDG_DATA_HOME/softkey/vault.sqlite].
    #[arg(long, global = true, value_name = "PATH")]
    pub vault: Option<PathBuf>,
    /// Unlock with (or, for `init`, create the vault around) this key file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "passphrase_file"
    )]
    pub key_file: Option<PathBuf>,
    /// Read the passphrase from the first line of this file instead of prompting.
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
    /// Unlock with (or, for `init`, create the vault around) a secret kept in the
    /// desktop keyring (Secret Service).
    #[arg(long, global = true, conflicts_with_all = ["key_file", "passphrase_file"])]
    pub keyring: bool,
    /// `--tpm`, `--tpm-pcrs`, `--tpm-tcti` (see `cli_tpm`).
    #[command(flatten)]
    pub tpm: crate::cli_tpm::TpmArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: VaultCommand,
}

/// The `softkey vault` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {
    /// Create a new vault, protected by a passphrase (or by --key-file, a missing
    /// key file being generated; or by --keyring).
    Init {
        /// Make it backup-eligible: its discoverable passkeys are created
        /// backup eligible (BE = 1, signature counter 0) and can be exported
        /// (`export`). Without it the vault is device-bound: BE = 0, and its
        /// passkeys never leave it.
        #[arg(long)]
        backup_eligible: bool,
        /// Trivially cheap Argon2 parameters: for tests only.
        #[arg(long, hide = true)]
        danger_fast_kdf: bool,
    },
    /// Show the vault's kind (device-bound or backup-eligible), or change it
    /// for passkeys made from now on.
    Config(exchange::ConfigArgs),
    /// Export the backup-eligible passkeys as a FIDO CXF v1.0 file,
    /// encrypted with age (a passphrase, asked for unless given by file, or
    /// --age-recipient age1…; `age -d` decrypts it). Exported passkeys are
    /// marked backed up (BS = 1). A device-bound vault refuses. Only ES256
    /// and EdDSA keys (and their RFC 9864 names) have a CXF form: passkeys of
    /// other algorithms are listed as not exported and stay in the vault.
    Export(exchange::ExportArgs),
    /// Import passkeys from a CXF file (age-encrypted or plain JSON), all in
    /// one transaction: each item is imported or reported with its reason;
    /// a malformed file changes nothing. Imported passkeys are backup
    /// eligible and backed up (BE = BS = 1) and sign with counter 0.
    Import(exchange::ImportArgs),
    /// Show the vault's format, credential count and key slots.
    Info {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List the discoverable credentials (passkeys) in the vault.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the root certificate (PEM) of this vault's attestation
    /// certificate authority, for relying parties to trust (made on first use).
    AttestationRoot,
    /// Delete a credential by its ID (hex, as `list` shows it).
    Delete {
        /// The credential ID, hex.
        id: String,
    },
    /// Change the passphrase (of the slot you unlock with, or the only one).
    /// Keeps the master key: if the old passphrase may have leaked, run
    /// `rekey` afterwards (an old copy of the file opens with the old one).
    Passwd {
        /// Read the new passphrase from this file instead of prompting.
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
        /// Trivially cheap Argon2 parameters: for tests only.
        #[arg(long, hide = true)]
        danger_fast_kdf: bool,
    },
    /// Add a key slot: a new key file (--new-key-file), the desktop keyring
    /// (--new-keyring) or a passphrase.
    AddKey {
        /// Add a key-file slot; a missing file is generated (32 random bytes, 0600).
        #[arg(long, value_name = "PATH", conflicts_with = "new_passphrase_file")]
        new_key_file: Option<PathBuf>,
        /// Add a keyring slot: a random secret stored in the desktop keyring.
        #[arg(long, conflicts_with_all = ["new_key_file", "new_passphrase_file"])]
        new_keyring: bool,
        /// Add a TPM slot: a random secret sealed to this machine's TPM 2.0
        /// (bound to --tpm-pcrs if given).
        #[arg(long, conflicts_with_all = ["new_key_file", "new_passphrase_file", "new_keyring"])]
        new_tpm: bool,
        /// Read the new slot's passphrase from this file instead of prompting.
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
        /// Trivially cheap Argon2 parameters: for tests only.
        #[arg(long, hide = true)]
        danger_fast_kdf: bool,
    },
    /// Remove a key slot (by the number `info` shows); the last one stays.
    /// Keeps the master key: if the slot's secret may have leaked, run
    /// `rekey` afterwards (an old copy of the file opens with it).
    RemoveKey {
        /// The slot number.
        slot: i64,
    },
    /// Replace the master key: every row sealed again and every kept slot
    /// wrapped again, in one transaction. Use it after a passphrase or key
    /// file may have leaked: `passwd` and `remove-key` keep the master key, so
    /// an old copy of the file opens with the old secret, and its key opens
    /// every row written since. Change or remove the leaked unlocker first,
    /// then rekey. The slot you unlock with and keyring slots are kept; keep
    /// others with --keep-key-file / --keep-passphrase-file, or remove them
    /// with --remove-other-slots.
    Rekey {
        /// Keep key-file slot ID, opened with this key file (repeatable).
        #[arg(long, value_name = "ID=PATH")]
        keep_key_file: Vec<String>,
        /// Keep passphrase slot ID, its passphrase read from the first line of
        /// this file (repeatable).
        #[arg(long, value_name = "ID=PATH")]
        keep_passphrase_file: Vec<String>,
        /// Remove every slot not kept, instead of refusing to.
        #[arg(long)]
        remove_other_slots: bool,
    },
}

/// The default vault file: `$XDG_DATA_HOME/softkey/vault.sqlite`, falling back
/// to `~/.local/share/softkey/vault.sqlite`.
pub fn default_vault_path() -> Result<PathBuf, VaultError> {
    let data_home = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    VaultError::Usage(
                        "neither XDG_DATA_HOME nor HOME is set; pass --vault PATH".into(),
                    )
                })?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(data_home.join("softkey").join("vault.sqlite"))
}

/// Runs a `softkey vault` command, printing to stdout.
pub fn run(args: VaultArgs) -> Result<(), VaultError> {
    execute(args, &mut std::io::stdout().lock())
}

/// Runs a `softkey vault` command, printing to `out`.
pub fn execute(args: VaultArgs, out: &mut dyn Write) -> Result<(), VaultError> {
    let path = match &args.vault {
        Some(path) => path.clone(),
        None => default_vault_path()?,
    };
    let write_err = |e| VaultError::io("writing output", e);
    if !matches!(
        args.command,
        VaultCommand::Init { .. } | VaultCommand::AddKey { .. }
    ) {
        crate::cli_tpm::pcrs_need_a_tpm_slot(&args.tpm, false)?;
    }
    match &args.command {
        VaultCommand::Init {
            backup_eligible,
            danger_fast_kdf,
        } => {
            let kdf = kdf_params(*danger_fast_kdf);
            let others = [
                args.key_file.is_some(),
                args.passphrase_file.is_some(),
                args.keyring,
            ];
            let unlocker = crate::cli_tpm::new_vault_unlocker(&args.tpm, others, || {
                new_unlocker(
                    args.key_file.as_deref(),
                    args.passphrase_file.as_deref(),
                    args.keyring,
                    kdf,
                )
            })?;
            let mut vault = Vault::create(&path, &unlocker, kdf)?;
            if *backup_eligible {
                vault.set_backup_eligible(true)?;
            }
            // The vault's attestation CA and certificate are made now, so that
            // `attestation-root` shows the same root from the first day.
            attestation_identity(&mut vault)?;
            writeln!(
                out,
                "Created vault {} (slot {}: {}); {}.",
                path.display(),
                vault.unlocked_slot(),
                unlocker.kind().name(),
                if *backup_eligible {
                    "backup-eligible: its passkeys are BE = 1 and can be exported"
                } else {
                    "device-bound: its passkeys are BE = 0 and never exported"
                }
            )
            .map_err(write_err)?;
        }
        VaultCommand::Config(config) => {
            exchange::config(&mut open(&path, &args)?, config, out)?;
        }
        VaultCommand::Export(export) => {
            exchange::export(&mut open(&path, &args)?, export, out)?;
        }
        VaultCommand::Import(import) => {
            exchange::import(&mut open(&path, &args)?, import, out)?;
        }
        VaultCommand::Info { json } => {
            let info = open(&path, &args)?.info()?;
            output::show(out, *json, &info, output::write_info)?;
        }
        VaultCommand::List { json } => {
            let list = open(&path, &args)?.list()?;
            output::show(out, *json, &list[..], output::write_list)?;
        }
        VaultCommand::AttestationRoot => {
            let identity = attestation_identity(&mut open(&path, &args)?)?;
            let pem = identity
                .root_pem()
                .map_err(|e| VaultError::Usage(format!("attestation root: {e}")))?;
            write!(out, "{pem}").map_err(write_err)?;
        }
        VaultCommand::Delete { id } => {
            let credential_id = hex::decode(id.trim())
                .map_err(|e| VaultError::Usage(format!("credential ID {id:?} is not hex: {e}")))?;
            if !open(&path, &args)?.delete(&credential_id)? {
                return Err(VaultError::NoSuchCredential(id.clone()));
            }
            writeln!(out, "Deleted credential {id}.").map_err(write_err)?;
        }
        VaultCommand::Passwd {
            new_passphrase_file,
            danger_fast_kdf,
        } => slots::passwd(
            &mut open(&path, &args)?,
            new_passphrase_file.as_deref(),
            *danger_fast_kdf,
            out,
        )?,
        VaultCommand::AddKey {
            new_key_file,
            new_keyring,
            new_tpm,
            new_passphrase_file,
            danger_fast_kdf,
        } => slots::add_key(
            &path,
            &args,
            slots::NewSlot {
                key_file: new_key_file.as_deref(),
                keyring: *new_keyring,
                tpm: *new_tpm,
                passphrase_file: new_passphrase_file.as_deref(),
                danger_fast_kdf: *danger_fast_kdf,
            },
            out,
        )?,
        VaultCommand::RemoveKey { slot } => {
            open(&path, &args)?.remove_slot(*slot)?;
            writeln!(out, "Removed slot {slot}.").map_err(write_err)?;
        }
        VaultCommand::Rekey {
            keep_key_file,
            keep_passphrase_file,
            remove_other_slots,
        } => slots::rekey(
            &path,
            &args,
            keep_key_file,
            keep_passphrase_file,
            *remove_other_slots,
            out,
        )?,
    }
    Ok(())
}

/// The vault's attestation identity, made and stored if it has none yet.
fn attestation_identity(
    vault: &mut Vault,
) -> Result<softkey_authenticator::attestation::AttestationIdentity, VaultError> {
    softkey_authenticator::attestation::load_or_create(
        vault,
        softkey_authenticator::AAGUID,
        &mut rand::rng(),
    )
    .map_err(|status| VaultError::Usage(format!("attestation identity: {status}")))
}

/// Opens the vault with the unlocker the arguments name, prompting if none.
fn open(path: &Path, args: &VaultArgs) -> Result<Vault, VaultError> {
    open_with_unlocker(path, args).map(|(vault, _)| vault)
}

/// [`open`], keeping the unlocker.
fn open_with_unlocker(path: &Path, args: &VaultArgs) -> Result<(Vault, Unlocker), VaultError> {
    if !path.exists() {
        return Err(VaultError::Usage(format!(
            "no vault at {}; create one with `softkey vault init`",
            path.display()
        )));
    }
    let unlocker = crate::cli_tpm::unlocker_for(
        &args.tpm,
        args.key_file.as_deref(),
        args.passphrase_file.as_deref(),
        args.keyring,
    )?;
    Ok((Vault::open(path, &unlocker)?, unlocker))
}
