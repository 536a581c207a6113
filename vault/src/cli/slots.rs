//! The key-slot commands: `passwd`, `add-key`, `remove-key` and `rekey`.

use std::io::Write;
use std::path::Path;

use crate::error::VaultError;
use crate::slots::{SlotInfo, SlotKind, Unlocker};
use crate::vault::Vault;

use super::passphrase::{new_passphrase, passphrase_from_file};
use super::unlock::{kdf_note, kdf_params, keyring_built, new_unlocker};
use super::{VaultArgs, open, open_with_unlocker};

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

/// `vault passwd`: a new passphrase for [`passphrase_slot`].
pub(super) fn passwd(
    vault: &mut Vault,
    new_passphrase_file: Option<&Path>,
    danger_fast_kdf: bool,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    let slot = passphrase_slot(vault)?;
    let kdf = kdf_params(danger_fast_kdf);
    let passphrase = new_passphrase(new_passphrase_file)?;
    kdf_note(kdf);
    let new_slot = vault.change_passphrase(slot, &passphrase, kdf)?;
    writeln!(
        out,
        "Changed the passphrase (slot {slot} is now slot {new_slot})."
    )
    .map_err(write_err)
}

/// The unlocker options of `vault add-key`.
pub(super) struct NewSlot<'a> {
    pub(super) key_file: Option<&'a Path>,
    pub(super) keyring: bool,
    pub(super) tpm: bool,
    pub(super) passphrase_file: Option<&'a Path>,
    pub(super) danger_fast_kdf: bool,
}

/// `vault add-key`: a keyring slot is refused before the vault is opened in
/// a build without the keyring feature.
pub(super) fn add_key(
    path: &Path,
    args: &VaultArgs,
    new: NewSlot<'_>,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    if new.keyring {
        keyring_built()?;
    }
    let mut vault = open(path, args)?;
    let kdf = kdf_params(new.danger_fast_kdf);
    let unlocker = crate::cli_tpm::new_slot_unlocker(&args.tpm, new.tpm, || {
        new_unlocker(new.key_file, new.passphrase_file, new.keyring, kdf)
    })?;
    let slot = vault.add_slot(&unlocker, kdf)?;
    writeln!(out, "Added slot {slot} ({}).", unlocker.kind().name()).map_err(write_err)
}

/// `vault rekey`, printing what was sealed again and which slots stay.
pub(super) fn rekey(
    path: &Path,
    args: &VaultArgs,
    keep_key_files: &[String],
    keep_passphrase_files: &[String],
    remove_other_slots: bool,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    let outcome = rekey_slots(
        path,
        args,
        keep_key_files,
        keep_passphrase_files,
        remove_other_slots,
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
    .map_err(write_err)
}

fn write_err(e: std::io::Error) -> VaultError {
    VaultError::io("writing output", e)
}

/// `vault rekey`: the unlocking slot, keyring slots (with the feature) and
/// the slots named on the command line are kept; any other slot is removed
/// only with `remove_other_slots`.
fn rekey_slots(
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
