//! Which unlocker a command uses: `--key-file`, `--passphrase-file`,
//! `--keyring` or a prompt to open a vault; the same, or a generated key file,
//! for a new slot; and the Argon2id parameters and note for passphrase slots.

use std::path::Path;

use crate::error::VaultError;
use crate::slots::{KdfParams, SlotKind, Unlocker, generate_key_file};

use super::output::memory;
use super::passphrase::{new_passphrase, passphrase_from_file, prompt};

/// The unlocker of a new slot: a key file (generated if missing), the desktop
/// keyring, or a passphrase (from a file, or typed twice).
pub(super) fn new_unlocker(
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

/// The Argon2id parameters of a new passphrase slot.
pub(super) fn kdf_params(danger_fast: bool) -> KdfParams {
    if danger_fast {
        KdfParams::danger_fast_for_tests()
    } else {
        KdfParams::recommended()
    }
}

/// Says on stderr that Argon2id is about to run, and how costly it is.
pub(super) fn kdf_note(kdf: KdfParams) {
    eprintln!(
        "Deriving the key from the passphrase (Argon2id, {}, {} passes)…",
        memory(kdf.m_cost_kib),
        kdf.t_cost
    );
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
pub(super) fn keyring_built() -> Result<(), VaultError> {
    if cfg!(feature = "keyring") {
        Ok(())
    } else {
        Err(VaultError::KeyringNotBuilt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{VaultArgs, VaultCommand};

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
}
