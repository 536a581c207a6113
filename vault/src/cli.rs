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

use std::io::Write;
use std::path::{Path, PathBuf};

use softkey_authenticator::secret::SecretBytes;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::slots::{KdfParams, SlotInfo, SlotKind, Unlocker, generate_key_file};
use crate::vault::Vault;

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
    Config(crate::cli_exchange::ConfigArgs),
    /// Export the backup-eligible passkeys as a FIDO CXF v1.0 file,
    /// encrypted with age (a passphrase, asked for unless given by file, or
    /// --age-recipient age1…; `age -d` decrypts it). Exported passkeys are
    /// marked backed up (BS = 1). A device-bound vault refuses. Only ES256
    /// and EdDSA keys (and their RFC 9864 names) have a CXF form: passkeys of
    /// other algorithms are listed as not exported and stay in the vault.
    Export(crate::cli_exchange::ExportArgs),
    /// Import passkeys from a CXF file (age-encrypted or plain JSON), all in
    /// one transaction: each item is imported or reported with its reason;
    /// a malformed file changes nothing. Imported passkeys are backup
    /// eligible and backed up (BE = BS = 1) and sign with counter 0.
    Import(crate::cli_exchange::ImportArgs),
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
            crate::cli_exchange::config(&mut open(&path, &args)?, config, out)?;
        }
        VaultCommand::Export(export) => {
            crate::cli_exchange::export(&mut open(&path, &args)?, export, out)?;
        }
        VaultCommand::Import(import) => {
            crate::cli_exchange::import(&mut open(&path, &args)?, import, out)?;
        }
        VaultCommand::Info { json } => {
            let info = open(&path, &args)?.info()?;
            show(out, *json, &info, write_info)?;
        }
        VaultCommand::List { json } => {
            let list = open(&path, &args)?.list()?;
            show(out, *json, &list[..], write_list)?;
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
        } => {
            let mut vault = open(&path, &args)?;
            let slot = passphrase_slot(&mut vault)?;
            let kdf = kdf_params(*danger_fast_kdf);
            let passphrase = new_passphrase(new_passphrase_file.as_deref())?;
            kdf_note(kdf);
            let new_slot = vault.change_passphrase(slot, &passphrase, kdf)?;
            writeln!(
                out,
                "Changed the passphrase (slot {slot} is now slot {new_slot})."
            )
            .map_err(write_err)?;
        }
        VaultCommand::AddKey {
            new_key_file,
            new_keyring,
            new_tpm,
            new_passphrase_file,
            danger_fast_kdf,
        } => {
            if *new_keyring {
                keyring_built()?;
            }
            let mut vault = open(&path, &args)?;
            let kdf = kdf_params(*danger_fast_kdf);
            let unlocker = crate::cli_tpm::new_slot_unlocker(&args.tpm, *new_tpm, || {
                new_unlocker(
                    new_key_file.as_deref(),
                    new_passphrase_file.as_deref(),
                    *new_keyring,
                    kdf,
                )
            })?;
            let slot = vault.add_slot(&unlocker, kdf)?;
            writeln!(out, "Added slot {slot} ({}).", unlocker.kind().name()).map_err(write_err)?;
        }
        VaultCommand::RemoveKey { slot } => {
            open(&path, &args)?.remove_slot(*slot)?;
            writeln!(out, "Removed slot {slot}.").map_err(write_err)?;
        }
        VaultCommand::Rekey {
            keep_key_file,
            keep_passphrase_file,
            remove_other_slots,
        } => {
            let outcome = rekey(
                &path,
                &args,
                keep_key_file,
                keep_passphrase_file,
                *remove_other_slots,
            )?;
            let list = |ids: &[i64]| {
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            writeln!(
                out,
                "Rekeyed {}: a new master key; {} credentials and {} secrets sealed again; \
                 slots kept: {}; removed: {}.",
                path.display(),
                outcome.credentials,
                outcome.secrets,
                list(&outcome.kept),
                list(&outcome.removed)
            )
            .map_err(write_err)?;
        }
    }
    Ok(())
}

/// `vault rekey`: the unlocking slot, keyring slots (with the feature) and
/// the slots named on the command line are kept; any other slot is removed
/// only with `remove_other_slots`.
fn rekey(
    path: &Path,
    args: &VaultArgs,
    keep_key_files: &[String],
    keep_passphrase_files: &[String],
    remove_other_slots: bool,
) -> Result<crate::RekeyOutcome, VaultError> {
    let (mut vault, unlocker) = open_with_unlocker(path, args)?;
    let mut keep = vec![(vault.unlocked_slot(), unlocker)];
    for entry in keep_key_files {
        let (id, file) = slot_and_path(entry)?;
        keep.push((id, Unlocker::KeyFile(file.into())));
    }
    for entry in keep_passphrase_files {
        let (id, file) = slot_and_path(entry)?;
        keep.push((
            id,
            Unlocker::Passphrase(passphrase_from_file(Path::new(file))?),
        ));
    }
    let slots = vault.slots()?;
    if cfg!(feature = "keyring") {
        for slot in slots.iter().filter(|s| s.kind == SlotKind::Keyring) {
            if !keep.iter().any(|(id, _)| *id == slot.id) {
                keep.push((slot.id, Unlocker::Keyring(vault.keyring_bus.clone())));
            }
        }
    }
    crate::cli_tpm::keep_tpm_slots(&args.tpm, &slots, &mut keep)?;
    let dropped: Vec<String> = slots
        .iter()
        .filter(|slot| !keep.iter().any(|(id, _)| *id == slot.id))
        .map(|slot| format!("{} ({})", slot.id, slot.kind.name()))
        .collect();
    if !dropped.is_empty() && !remove_other_slots {
        return Err(VaultError::Usage(format!(
            "rekey would remove slot(s) {}: keep them with --keep-key-file ID=PATH or \
             --keep-passphrase-file ID=PATH, or pass --remove-other-slots",
            dropped.join(", ")
        )));
    }
    if keep.iter().any(|(_, u)| u.kind() == SlotKind::Passphrase) {
        eprintln!("Wrapping the new master key (Argon2id, twice per passphrase slot)…");
    }
    let keep: Vec<(i64, &Unlocker)> = keep.iter().map(|(id, u)| (*id, u)).collect();
    vault.rekey(&keep)
}

/// `ID=PATH` of `--keep-key-file` / `--keep-passphrase-file`.
fn slot_and_path(entry: &str) -> Result<(i64, &str), VaultError> {
    entry
        .split_once('=')
        .and_then(|(id, path)| Some((id.trim().parse().ok()?, path)))
        .filter(|(_, path)| !path.is_empty())
        .ok_or_else(|| {
            VaultError::Usage(format!(
                "{entry:?} is not ID=PATH (a slot number, =, a file)"
            ))
        })
}

/// Prints `value` as pretty JSON, or with `human`.
fn show<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    human: fn(&mut dyn Write, &T) -> std::io::Result<()>,
) -> Result<(), VaultError> {
    let written = if json {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| VaultError::Usage(e.to_string()))?;
        writeln!(out, "{text}")
    } else {
        human(out, value)
    };
    written.map_err(|e| VaultError::io("writing output", e))
}

/// The unlocker of a new slot: a key file (generated if missing), the desktop
/// keyring, or a passphrase (from a file, or typed twice).
fn new_unlocker(
    key_file: Option<&Path>,
    passphrase_file: Option<&Path>,
    keyring: bool,
    kdf: KdfParams,
) -> Result<Unlocker, VaultError> {
    only_one_unlocker(key_file, passphrase_file, keyring)?;
    if keyring {
        keyring_built()?;
        return Ok(Unlocker::keyring());
    }
    if let Some(key_file) = key_file {
        if !key_file.exists() {
            generate_key_file(key_file)?;
            eprintln!("Generated key file {} (keep it safe).", key_file.display());
        }
        return Ok(Unlocker::KeyFile(key_file.to_owned()));
    }
    let passphrase = new_passphrase(passphrase_file)?;
    kdf_note(kdf);
    Ok(passphrase)
}

fn kdf_params(danger_fast: bool) -> KdfParams {
    if danger_fast {
        KdfParams::danger_fast_for_tests()
    } else {
        KdfParams::recommended()
    }
}

fn kdf_note(kdf: KdfParams) {
    eprintln!(
        "Deriving the key from the passphrase (Argon2id, {}, {} passes)…",
        memory(kdf.m_cost_kib),
        kdf.t_cost
    );
}

/// "128 MiB" or, below one MiB, "64 KiB".
fn memory(kib: u32) -> String {
    if kib >= 1024 && kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    }
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

/// The unlocker named by `--key-file` / `--passphrase-file` / `--keyring`, or a
/// passphrase asked for on the terminal when none is given (with a note that
/// Argon2id is about to run). For every command that opens a vault, `softkey
/// run` too. `--keyring` in a build without the `keyring` feature is
/// [`VaultError::KeyringNotBuilt`].
pub fn unlocker_for(
    key_file: Option<&Path>,
    passphrase_file: Option<&Path>,
    keyring: bool,
) -> Result<Unlocker, VaultError> {
    only_one_unlocker(key_file, passphrase_file, keyring)?;
    let unlocker = match (key_file, passphrase_file, keyring) {
        (Some(key_file), _, _) => Unlocker::KeyFile(key_file.to_owned()),
        (None, Some(file), _) => Unlocker::Passphrase(passphrase_from_file(file)?),
        (None, None, true) => {
            keyring_built()?;
            Unlocker::keyring()
        }
        (None, None, false) => Unlocker::Passphrase(prompt("Vault passphrase: ")?),
    };
    if unlocker.kind() == SlotKind::Passphrase {
        eprintln!("Unlocking (Argon2id)…");
    }
    Ok(unlocker)
}

/// Refuses `--keyring` with a key or passphrase file. clap's `conflicts_with`
/// misses the pair when one global option comes before the subcommand and the
/// other after it (`vault --keyring info --key-file K`), so the choice is
/// checked here too rather than one silently winning.
fn only_one_unlocker(
    key_file: Option<&Path>,
    passphrase_file: Option<&Path>,
    keyring: bool,
) -> Result<(), VaultError> {
    if keyring && (key_file.is_some() || passphrase_file.is_some()) {
        return Err(VaultError::Usage(
            "--keyring cannot be combined with a key file or a passphrase file".into(),
        ));
    }
    Ok(())
}

/// Fails with [`VaultError::KeyringNotBuilt`] in a build without the keyring
/// feature, before anything is asked or opened.
fn keyring_built() -> Result<(), VaultError> {
    if cfg!(feature = "keyring") {
        Ok(())
    } else {
        Err(VaultError::KeyringNotBuilt)
    }
}

/// The slot `passwd` changes: the one unlocked with, else the only passphrase slot.
fn passphrase_slot(vault: &mut Vault) -> Result<i64, VaultError> {
    let slots = vault.slots()?;
    let passphrase_slots: Vec<&SlotInfo> = slots
        .iter()
        .filter(|s| s.kind == SlotKind::Passphrase)
        .collect();
    if passphrase_slots
        .iter()
        .any(|s| s.id == vault.unlocked_slot())
    {
        return Ok(vault.unlocked_slot());
    }
    match passphrase_slots.as_slice() {
        [only] => Ok(only.id),
        [] => Err(VaultError::Usage(
            "the vault has no passphrase slot; add one with `softkey vault add-key`".into(),
        )),
        _ => Err(VaultError::Usage(
            "several passphrase slots: unlock with the passphrase to change".into(),
        )),
    }
}

/// A new passphrase, from a file or typed twice.
pub(crate) fn new_passphrase(file: Option<&Path>) -> Result<Unlocker, VaultError> {
    let passphrase = match file {
        Some(file) => passphrase_from_file(file)?,
        None => {
            let first = prompt("New passphrase: ")?;
            let second = prompt("Repeat the new passphrase: ")?;
            if !first.ct_eq(second.expose_secret()) {
                return Err(VaultError::Usage("the passphrases differ".into()));
            }
            first
        }
    };
    Ok(Unlocker::Passphrase(passphrase))
}

/// Longest passphrase read from a file or the terminal, in bytes.
const MAX_PASSPHRASE_LEN: usize = 1024;

/// The first line of `file`, without its line ending.
pub(crate) fn passphrase_from_file(file: &Path) -> Result<SecretBytes, VaultError> {
    let reading = |e| VaultError::io(format!("reading passphrase file {}", file.display()), e);
    let file = std::fs::File::open(file).map_err(reading)?;
    read_first_line(file).map_err(reading)?
}

/// Reads up to the first line ending (or the end) into a fixed zeroizing
/// buffer: no growing `Vec`, no `BufReader`, so no unzeroized copy of the
/// passphrase is ever freed. (On a terminal in canonical mode each `read`
/// returns at most one line.) The outer error is the read's; the inner one
/// an empty or overlong passphrase.
fn read_first_line(
    mut reader: impl std::io::Read,
) -> std::io::Result<Result<SecretBytes, VaultError>> {
    let mut buffer = Zeroizing::new([0u8; MAX_PASSPHRASE_LEN + 1]);
    let mut len = 0;
    let end = loop {
        if let Some(at) = buffer[..len].iter().position(|&b| b == b'\n') {
            break at;
        }
        if len == buffer.len() {
            return Ok(Err(VaultError::Usage(format!(
                "the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes"
            ))));
        }
        match reader.read(&mut buffer[len..]) {
            Ok(0) => break len,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if end > MAX_PASSPHRASE_LEN {
        return Ok(Err(VaultError::Usage(format!(
            "the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes"
        ))));
    }
    let line = &buffer[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(non_empty(SecretBytes::from_slice(line)))
}

fn non_empty(passphrase: SecretBytes) -> Result<SecretBytes, VaultError> {
    if passphrase.is_empty() {
        return Err(VaultError::Usage("the passphrase is empty".into()));
    }
    Ok(passphrase)
}

/// Reads a passphrase from the terminal with echo off.
pub(crate) fn prompt(message: &str) -> Result<SecretBytes, VaultError> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let tty_error = |e: std::io::Error| {
        VaultError::io(
            "prompting on the terminal (use --passphrase-file or --key-file without one)",
            e,
        )
    };
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(tty_error)?;
    write!(tty, "{message}")
        .and_then(|()| tty.flush())
        .map_err(tty_error)?;
    let original = tcgetattr(&tty).map_err(|e| tty_error(e.into()))?;
    let mut silent = original.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    silent.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Flush, &silent).map_err(|e| tty_error(e.into()))?;
    let read = read_first_line(&tty);
    // Restore echo whatever happened.
    let restored = tcsetattr(&tty, OptionalActions::Flush, &original);
    let typed = read.map_err(tty_error)?;
    restored.map_err(|e| tty_error(e.into()))?;
    typed
}

fn write_info(out: &mut dyn Write, info: &crate::VaultInfo) -> std::io::Result<()> {
    writeln!(out, "vault:        {}", info.path.display())?;
    writeln!(out, "format:       schema version {}", info.schema_version)?;
    writeln!(out, "credentials:  {}", info.credentials)?;
    writeln!(out, "key slots:")?;
    for slot in &info.slots {
        let detail = match (slot.kind, slot.kdf) {
            (_, Some(k)) => format!(
                "argon2id m={} t={} p={}",
                memory(k.m_cost_kib),
                k.t_cost,
                k.p_cost
            ),
            (SlotKind::Keyring, None) => "Secret Service item".to_owned(),
            (SlotKind::Tpm, None) => crate::cli_tpm::slot_detail(slot),
            _ => String::new(),
        };
        let unlocked = if slot.id == info.unlocked_slot {
            "  (unlocked with)"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:>3}  {:<10}  {:<28}  created {}{unlocked}",
            slot.id,
            slot.kind.name(),
            detail,
            utc_date(slot.created)
        )?;
    }
    Ok(())
}

fn write_list(out: &mut dyn Write, list: &[crate::CredentialSummary]) -> std::io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "No credentials.");
    }
    for credential in list {
        writeln!(
            out,
            "{}  {}  {}  {}  signs={}  BE={} BS={}  created {}",
            credential.credential_id,
            credential.rp_id,
            credential.user_name.as_deref().unwrap_or("(no name)"),
            credential.algorithm,
            credential.sign_count,
            u8::from(credential.backup_eligible),
            u8::from(credential.backup_state),
            utc_date(credential.created)
        )?;
    }
    Ok(())
}

/// `YYYY-MM-DD` (UTC) of a Unix time (H. Hinnant's civil-from-days).
fn utc_date(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(feature = "keyring"))]
    fn keyring_without_the_feature_is_a_named_error() {
        assert!(matches!(
            unlocker_for(None, None, true),
            Err(VaultError::KeyringNotBuilt)
        ));
        assert!(
            VaultError::KeyringNotBuilt
                .to_string()
                .contains("built without the keyring feature")
        );
    }

    #[test]
    #[cfg(feature = "keyring")]
    fn keyring_flag_names_the_session_keyring() {
        let unlocker = unlocker_for(None, None, true).unwrap();
        assert!(matches!(
            unlocker,
            Unlocker::Keyring(crate::KeyringBus::Session)
        ));
    }

    #[test]
    fn keyring_flag_excludes_the_other_unlockers() {
        use clap::Parser;
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            vault: VaultArgs,
        }
        for conflicting in [["--key-file", "k"], ["--passphrase-file", "p"]] {
            let parsed = Cli::try_parse_from(
                ["softkey", "--keyring"]
                    .into_iter()
                    .chain(conflicting)
                    .chain(["info"]),
            );
            assert!(
                parsed.is_err(),
                "{conflicting:?} was accepted with --keyring"
            );
        }
        // One before the subcommand and one after: clap lets the pair through;
        // unlocker_for refuses it.
        let parsed =
            Cli::try_parse_from(["softkey", "--keyring", "info", "--key-file", "k"]).unwrap();
        assert!(matches!(
            unlocker_for(
                parsed.vault.key_file.as_deref(),
                parsed.vault.passphrase_file.as_deref(),
                parsed.vault.keyring
            ),
            Err(VaultError::Usage(_))
        ));
        let parsed = Cli::try_parse_from(["softkey", "--keyring", "add-key", "--new-keyring"]);
        let VaultCommand::AddKey { new_keyring, .. } = parsed.unwrap().vault.command else {
            panic!("not add-key");
        };
        assert!(new_keyring);
        assert!(
            Cli::try_parse_from(["softkey", "add-key", "--new-keyring", "--new-key-file", "k"])
                .is_err()
        );
    }

    #[test]
    fn passphrase_lines_are_read_up_to_their_end_and_bounded() {
        let read = |input: &[u8]| read_first_line(input).unwrap();
        assert!(read(b"hunter2\r\nsecond line").unwrap().ct_eq(b"hunter2"));
        assert!(read(b"no newline").unwrap().ct_eq(b"no newline"));
        assert!(matches!(read(b"\nrest"), Err(VaultError::Usage(_))));
        let longest = vec![b'x'; MAX_PASSPHRASE_LEN];
        assert_eq!(read(&longest).unwrap().len(), MAX_PASSPHRASE_LEN);
        let mut line = longest.clone();
        line.push(b'\n');
        assert_eq!(read(&line).unwrap().len(), MAX_PASSPHRASE_LEN);
        let too_long = vec![b'x'; MAX_PASSPHRASE_LEN + 1];
        assert!(matches!(read(&too_long), Err(VaultError::Usage(_))));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_764_115_200), "2025-11-26");
    }
}
