//! `softkey vault config | export | import`: the vault's kind and its
//! passkeys as CXF files (see `exchange.rs` and `cxf`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cxf::{self, FileKind, ImportPlan, ItemOutcome, PlannedItem, Protection, Unlock};
use crate::error::VaultError;
use crate::slots::Unlocker;
use crate::vault::Vault;

/// `softkey vault config`: show or change the vault's kind.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// New discoverable passkeys are backup eligible (BE = 1, counter 0) and
    /// can be exported; existing ones keep what they were made with.
    #[arg(long, conflicts_with = "device_bound")]
    pub backup_eligible: bool,
    /// New passkeys are device-bound (BE = 0) and never leave the vault.
    #[arg(long)]
    pub device_bound: bool,
}

/// The formats `softkey vault export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// FIDO Credential Exchange Format v1.0 (JSON).
    Cxf,
}

/// `softkey vault export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The format.
    #[arg(long, value_enum, default_value = "cxf")]
    pub format: ExportFormat,
    /// The file to write (mode 0600; an existing file is not overwritten).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encrypt to this age X25519 recipient (age1…; repeatable) instead of a
    /// passphrase.
    #[arg(long = "age-recipient", value_name = "RECIPIENT")]
    pub age_recipients: Vec<String>,
    /// Encrypt with the passphrase on the first line of this file instead of
    /// asking for one.
    #[arg(long, value_name = "PATH", conflicts_with = "age_recipients")]
    pub age_passphrase_file: Option<PathBuf>,
    /// Write the passkeys' private keys unencrypted.
    #[arg(long, conflicts_with_all = ["age_recipients", "age_passphrase_file"])]
    pub danger_plaintext: bool,
}

/// `softkey vault import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CXF file (age-encrypted, or plain JSON).
    pub file: PathBuf,
    /// List what would be imported and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace existing passkeys for the same relying party and user handle
    /// (or with the same credential ID) without asking.
    #[arg(long, conflicts_with = "keep_existing")]
    pub replace: bool,
    /// Keep existing passkeys without asking.
    #[arg(long)]
    pub keep_existing: bool,
    /// Decrypt with this age identity file (AGE-SECRET-KEY-1… lines).
    #[arg(long, value_name = "PATH")]
    pub age_identity: Option<PathBuf>,
    /// Decrypt with the passphrase on the first line of this file instead of
    /// asking for it.
    #[arg(long, value_name = "PATH", conflicts_with = "age_identity")]
    pub age_passphrase_file: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn write_err(e: std::io::Error) -> VaultError {
    VaultError::io("writing output", e)
}

/// `vault config`.
pub(crate) fn config(
    vault: &mut Vault,
    args: &ConfigArgs,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    if args.backup_eligible || args.device_bound {
        vault.set_backup_eligible(args.backup_eligible)?;
    }
    let kind = if vault.backup_eligible()? {
        "backup-eligible (new passkeys BE = 1, exportable as CXF)"
    } else {
        "device-bound (new passkeys BE = 0, never exported)"
    };
    writeln!(out, "kind: {kind}").map_err(write_err)
}

/// `vault export`.
pub(crate) fn export(
    vault: &mut Vault,
    args: &ExportArgs,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    if args.out.exists() {
        return Err(VaultError::AlreadyExists {
            path: args.out.clone(),
        });
    }
    let protection = if args.danger_plaintext {
        Protection::DangerPlaintext
    } else if !args.age_recipients.is_empty() {
        cxf::check_recipients(&args.age_recipients)?;
        Protection::Recipients(args.age_recipients.clone())
    } else {
        match super::passphrase::new_passphrase(args.age_passphrase_file.as_deref())? {
            Unlocker::Passphrase(passphrase) => Protection::Passphrase(passphrase),
            _ => unreachable!("new_passphrase returns a passphrase"),
        }
    };
    let export = vault.export_cxf()?;
    for refused in &export.refused {
        writeln!(
            out,
            "Not exported: credential {} of {}: {}.",
            hex::encode(&refused.credential_id),
            refused.rp_id,
            refused.reason
        )
        .map_err(write_err)?;
    }
    let file = cxf::seal(&export.json, &protection)?;
    drop(export.json);
    write_new_file(&args.out, &file)?;
    let marked = vault.mark_backed_up(&export.credential_ids)?;
    let how = match protection {
        Protection::DangerPlaintext => {
            eprintln!(
                "WARNING: {} holds the private keys unencrypted; anyone who reads it can sign \
                 in as you.",
                args.out.display()
            );
            "unencrypted"
        }
        Protection::Passphrase(_) => "age, passphrase",
        Protection::Recipients(_) => "age, X25519 recipients",
    };
    writeln!(
        out,
        "Exported {} passkeys to {} (CXF v1.0, {how}); {marked} marked backed up (BS = 1).",
        export.credential_ids.len(),
        args.out.display()
    )
    .map_err(write_err)
}

/// Writes a new file, mode 0600, durably; a partial file is removed.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let error = |e| VaultError::io(format!("writing {}", path.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(std::fs::remove_file(path));
        return Err(error(e));
    }
    Ok(())
}

/// Reads a file of at most `max` bytes into a zeroizing buffer.
fn read_bounded(path: &Path, max: usize, what: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let error = |e| VaultError::io(format!("reading {what} {}", path.display()), e);
    let len = std::fs::metadata(path).map_err(error)?.len();
    if len > max as u64 {
        return Err(cxf::CxfError::TooLarge {
            size: usize::try_from(len).unwrap_or(usize::MAX),
            max,
        }
        .into());
    }
    // `fs::read` sizes its buffer from the file's length: no reallocation
    // leaves a copy behind.
    Ok(Zeroizing::new(std::fs::read(path).map_err(error)?))
}

/// `vault import`.
pub(crate) fn import(
    vault: &mut Vault,
    args: &ImportArgs,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    let file = read_bounded(&args.file, cxf::MAX_FILE_LEN, "the CXF file")?;
    let unlock = match cxf::kind_of(&file)? {
        FileKind::Plaintext => None,
        FileKind::AgeRecipients => {
            let identity = args.age_identity.as_deref().ok_or_else(|| {
                VaultError::Usage(
                    "the file is encrypted to age recipients: give --age-identity FILE".into(),
                )
            })?;
            Some(Unlock::IdentityFile(read_bounded(
                identity,
                1 << 20,
                "the age identity file",
            )?))
        }
        FileKind::AgePassphrase => Some(Unlock::Passphrase(match &args.age_passphrase_file {
            Some(path) => super::passphrase::passphrase_from_file(path)?,
            None => super::passphrase::prompt("Passphrase of the CXF file: ")?,
        })),
    };
    let json = cxf::open(&file, unlock.as_ref())?;
    drop(file);
    let decoded = cxf::decode(&json)?;
    let existing = vault.existing_for_import()?;
    let interactive = !(args.replace || args.keep_existing || args.dry_run || args.json);
    let mut plan = ImportPlan::new(decoded, &existing, |item| {
        args.replace || (interactive && ask_replace(item))
    });
    drop(json);
    let stored = if args.dry_run {
        plan.stored()
    } else {
        vault.import_cxf(&mut plan)?
    };
    report(out, &plan, stored, args.dry_run, args.json)
}

/// Asks on the terminal whether to replace the passkey `item` duplicates;
/// no terminal is a no.
fn ask_replace(item: &PlannedItem) -> bool {
    let question = format!(
        "{} already has a passkey for {} ({}). Replace it with the imported one? [y/N] ",
        "The vault",
        item.rp_id.as_deref().unwrap_or("?"),
        item.user_name.as_deref().unwrap_or("no name"),
    );
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return false;
    };
    if tty.write_all(question.as_bytes()).is_err() {
        return false;
    }
    let mut answer = [0u8; 8];
    let read = std::io::Read::read(&mut tty, &mut answer).unwrap_or(0);
    matches!(
        answer.get(..read).and_then(|a| a.first()),
        Some(b'y' | b'Y')
    )
}

fn report(
    out: &mut dyn Write,
    plan: &ImportPlan,
    stored: usize,
    dry_run: bool,
    json: bool,
) -> Result<(), VaultError> {
    if json {
        let value = serde_json::json!({
            "dryRun": dry_run,
            "imported": stored,
            "items": plan.items,
        });
        return writeln!(out, "{value:#}").map_err(write_err);
    }
    for item in &plan.items {
        let what = match &item.outcome {
            ItemOutcome::Import if dry_run => "would import".to_owned(),
            ItemOutcome::Import => "imported".to_owned(),
            ItemOutcome::Replace { existing } if dry_run => format!("would replace {existing}"),
            ItemOutcome::Replace { existing } => format!("replaced {existing}"),
            ItemOutcome::KeepExisting { existing } => {
                format!("duplicate of {existing}: kept the existing one (--replace replaces it)")
            }
            ItemOutcome::Skip { reason } => format!("skipped: {reason}"),
        };
        writeln!(
            out,
            "{}  {}  {}  {what}",
            item.at,
            item.rp_id.as_deref().unwrap_or("-"),
            item.user_name.as_deref().unwrap_or("-"),
        )
        .map_err(write_err)?;
    }
    let skipped = plan
        .items
        .iter()
        .filter(|i| !matches!(i.outcome, ItemOutcome::Import | ItemOutcome::Replace { .. }))
        .count();
    if dry_run {
        writeln!(
            out,
            "Dry run: {stored} passkeys would be imported, {skipped} items not; nothing was changed."
        )
    } else {
        writeln!(
            out,
            "Imported {stored} passkeys (backup eligible and backed up, counter 0); {skipped} \
             items not imported."
        )
    }
    .map_err(write_err)
}
