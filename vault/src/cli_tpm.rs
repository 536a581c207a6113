//! The TPM options of `softkey vault`: `--tpm` (unlock with, or for `init`
//! create the vault around, a secret sealed to this machine's TPM 2.0),
//! `--tpm-pcrs` (bind a new TPM slot to PCRs) and `--tpm-tcti` (which TPM);
//! `add-key --new-tpm` adds a TPM slot. Needs the cargo feature `tpm`;
//! without it these options fail with [`VaultError::TpmNotBuilt`].

use std::path::Path;

use crate::error::VaultError;
use crate::slots::{SlotInfo, SlotKind, Unlocker};
use crate::tpm::{self, TpmConfig};

/// The TPM options of `softkey vault` (global: before or after the subcommand).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TpmArgs {
    /// Unlock with (or, for `init`, create the vault around) a secret sealed to
    /// this machine's TPM 2.0: a copy of the vault file does not open on
    /// another machine.
    #[arg(long, global = true, conflicts_with_all = ["key_file", "passphrase_file", "keyring"])]
    pub tpm: bool,
    /// Bind a new TPM slot (`init --tpm`, `add-key --new-tpm`) to these PCRs
    /// of the SHA-256 bank, e.g. `7` (Secure Boot state) or `0+7`: the slot
    /// then opens only while they hold the values they had when it was made.
    #[arg(long, global = true, value_name = "PCRS")]
    pub tpm_pcrs: Option<String>,
    /// The TPM to use, as a TCTI string [default: $SOFTKEY_TPM_TCTI, else
    /// $TPM2TOOLS_TCTI, else device:/dev/tpmrm0].
    #[arg(long, global = true, value_name = "TCTI")]
    pub tpm_tcti: Option<String>,
}

impl TpmArgs {
    /// The TPM configuration these options name (PCRs parsed).
    pub fn config(&self) -> Result<TpmConfig, VaultError> {
        let pcrs = match &self.tpm_pcrs {
            Some(text) => tpm::parse_pcrs(text)?,
            None => Vec::new(),
        };
        Ok(TpmConfig {
            tcti: self.tpm_tcti.clone(),
            pcrs,
        })
    }

    /// A TPM unlocker (the TPM built in and the flag given), else `None`.
    fn unlocker(&self) -> Result<Option<Unlocker>, VaultError> {
        if !self.tpm {
            return Ok(None);
        }
        built()?;
        Ok(Some(Unlocker::Tpm(self.config()?)))
    }
}

/// Fails with [`VaultError::TpmNotBuilt`] in a build without the tpm feature.
fn built() -> Result<(), VaultError> {
    if tpm::built() {
        Ok(())
    } else {
        Err(VaultError::TpmNotBuilt)
    }
}

/// Refuses `--tpm` with another unlocker. clap's `conflicts_with` misses the
/// pair when one global option comes before the subcommand and the other
/// after it, so the choice is checked here too.
fn only_the_tpm(tpm: &TpmArgs, others: [bool; 3]) -> Result<(), VaultError> {
    if tpm.tpm && others.contains(&true) {
        return Err(VaultError::Usage(
            "--tpm cannot be combined with a key file, a passphrase file or --keyring".into(),
        ));
    }
    Ok(())
}

/// The unlocker of a command that opens a vault: the TPM with `--tpm`, else
/// what [`crate::cli::unlocker_for`] makes of the other options.
pub fn unlocker_for(
    tpm: &TpmArgs,
    key_file: Option<&Path>,
    passphrase_file: Option<&Path>,
    keyring: bool,
) -> Result<Unlocker, VaultError> {
    only_the_tpm(
        tpm,
        [key_file.is_some(), passphrase_file.is_some(), keyring],
    )?;
    match tpm.unlocker()? {
        Some(unlocker) => Ok(unlocker),
        None => crate::cli::unlocker_for(key_file, passphrase_file, keyring),
    }
}

/// The unlocker of `init`: the TPM with `--tpm`, else `other()`.
pub(crate) fn new_vault_unlocker(
    tpm: &TpmArgs,
    others: [bool; 3],
    other: impl FnOnce() -> Result<Unlocker, VaultError>,
) -> Result<Unlocker, VaultError> {
    only_the_tpm(tpm, others)?;
    pcrs_need_a_tpm_slot(tpm, tpm.tpm)?;
    match tpm.unlocker()? {
        Some(unlocker) => {
            eprintln!("{}", sealing_note(tpm)?);
            Ok(unlocker)
        }
        None => other(),
    }
}

/// The unlocker of `add-key`'s new slot: the TPM with `--new-tpm`, else `other()`.
pub(crate) fn new_slot_unlocker(
    tpm: &TpmArgs,
    new_tpm: bool,
    other: impl FnOnce() -> Result<Unlocker, VaultError>,
) -> Result<Unlocker, VaultError> {
    pcrs_need_a_tpm_slot(tpm, new_tpm)?;
    if !new_tpm {
        return other();
    }
    built()?;
    eprintln!("{}", sealing_note(tpm)?);
    Ok(Unlocker::Tpm(tpm.config()?))
}

/// `--tpm-pcrs` only where a new TPM slot is made (`init --tpm`,
/// `add-key --new-tpm`): elsewhere it would be ignored, so it is refused.
pub(crate) fn pcrs_need_a_tpm_slot(tpm: &TpmArgs, new_tpm_slot: bool) -> Result<(), VaultError> {
    if tpm.tpm_pcrs.is_some() && !new_tpm_slot {
        return Err(VaultError::Usage(
            "--tpm-pcrs binds a new TPM slot: give it with `init --tpm` or `add-key --new-tpm`"
                .into(),
        ));
    }
    Ok(())
}

fn sealing_note(tpm: &TpmArgs) -> Result<String, VaultError> {
    let config = tpm.config()?;
    Ok(format!(
        "Sealing the slot secret to the TPM at {} (PCRs: {})…",
        config.tcti(),
        tpm::pcr_list(&config.pcrs)
    ))
}

/// `vault rekey` keeps TPM slots (the TPM unseals their secret again): adds
/// the ones not already kept.
pub(crate) fn keep_tpm_slots(
    tpm: &TpmArgs,
    slots: &[SlotInfo],
    keep: &mut Vec<(i64, Unlocker)>,
) -> Result<(), VaultError> {
    if !tpm::built() {
        return Ok(());
    }
    for slot in slots.iter().filter(|s| s.kind == SlotKind::Tpm) {
        if !keep.iter().any(|(id, _)| *id == slot.id) {
            keep.push((slot.id, Unlocker::Tpm(tpm.config()?)));
        }
    }
    Ok(())
}

/// What `vault info` shows of a TPM slot.
pub(crate) fn slot_detail(slot: &SlotInfo) -> String {
    match slot.tpm_pcrs.as_deref() {
        Some(pcrs) if !pcrs.is_empty() => format!("sealed to TPM, PCRs {}", tpm::pcr_list(pcrs)),
        _ => "sealed to TPM, no PCR policy".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        vault: crate::cli::VaultArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("softkey").chain(args.iter().copied()))
    }

    #[test]
    fn tpm_options_parse_and_exclude_the_other_unlockers() {
        let cli = parse(&[
            "--tpm",
            "--tpm-pcrs",
            "0+7",
            "--tpm-tcti",
            "swtpm:port=1",
            "init",
        ])
        .unwrap();
        let config = cli.vault.tpm.config().unwrap();
        assert_eq!(config.pcrs, vec![0, 7]);
        assert_eq!(config.tcti(), "swtpm:port=1");
        assert!(parse(&["--tpm", "--keyring", "info"]).is_err());
        assert!(parse(&["--tpm", "--key-file", "k", "info"]).is_err());
        // Across the subcommand clap lets the pair through; unlocker_for refuses it.
        let cli = parse(&["--tpm", "info", "--key-file", "k"]).unwrap();
        assert!(matches!(
            unlocker_for(&cli.vault.tpm, cli.vault.key_file.as_deref(), None, false),
            Err(VaultError::Usage(_))
        ));
        // PCRs without a new TPM slot to bind are a mistake, not ignored.
        let cli = parse(&["--tpm-pcrs", "7", "init", "--key-file", "k"]).unwrap();
        assert!(matches!(
            new_vault_unlocker(&cli.vault.tpm, [true, false, false], || unreachable!()),
            Err(VaultError::Usage(_))
        ));
        assert!(matches!(
            new_slot_unlocker(&cli.vault.tpm, false, || unreachable!()),
            Err(VaultError::Usage(_))
        ));
        let cli = parse(&["--tpm-pcrs", "25", "add-key", "--new-tpm"]).unwrap();
        let refused = new_slot_unlocker(&cli.vault.tpm, true, || unreachable!());
        assert!(
            matches!(refused, Err(VaultError::Usage(_) | VaultError::TpmNotBuilt)),
            "{refused:?}"
        );
    }

    #[test]
    #[cfg(not(feature = "tpm"))]
    fn without_the_feature_tpm_options_are_a_named_error() {
        let cli = parse(&["--tpm", "info"]).unwrap();
        assert!(matches!(
            unlocker_for(&cli.vault.tpm, None, None, false),
            Err(VaultError::TpmNotBuilt)
        ));
        assert!(matches!(
            new_slot_unlocker(&TpmArgs::default(), true, || unreachable!()),
            Err(VaultError::TpmNotBuilt)
        ));
        assert!(
            VaultError::TpmNotBuilt
                .to_string()
                .contains("built without the tpm feature")
        );
    }
}
