//! The vault's errors: each failure a person or a program must tell apart has its
//! own variant (a wrong passphrase is not a tampered row is not a newer format).

use std::path::PathBuf;

use softkey_authenticator::store::StoreError;

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No passphrase slot opened with the passphrase given (there is at least one).
    #[error("wrong passphrase: no passphrase slot of this vault opens with it")]
    WrongPassphrase,
    /// The vault has no slot the given unlocker opens: none of its kind, or no
    /// key-file slot for this key file.
    #[error("no {kind} slot of this vault opens with the key given")]
    NoMatchingSlot {
        /// The kind of unlocker that was tried.
        kind: &'static str,
    },
    /// A sealed row failed its integrity check: it was modified, moved or swapped.
    #[error("vault row {table}/{row} failed its integrity check (tampered or corrupted)")]
    Tampered {
        /// The table holding the row.
        table: &'static str,
        /// The row (its rowid or name).
        row: String,
    },
    /// A row the vault's sealed manifest lists is gone: deleted outside softkey.
    #[error(
        "vault row {table}/{row} is missing although the vault's sealed state lists it: it was \
         deleted outside softkey (tampering); restore the vault file from a backup"
    )]
    RowMissing {
        /// The table that should hold the row.
        table: &'static str,
        /// The row (its rowid or name).
        row: String,
    },
    /// A row holds another sealed version than the manifest lists: an older
    /// version written back, or one from a copy of this vault.
    #[error(
        "vault row {table}/{row} is not the version the vault's sealed state lists: an older \
         copy of it was written back, or it comes from a copy of this vault (tampering); \
         restore the vault file from a backup"
    )]
    RowReplaced {
        /// The table holding the row.
        table: &'static str,
        /// The row (its rowid or name).
        row: String,
    },
    /// A validly sealed row the manifest does not list: one deleted earlier and
    /// written back, or one from a copy of this vault.
    #[error(
        "vault row {table}/{row} is not part of the vault's sealed state: a row deleted earlier \
         was written back, or it comes from a copy of this vault (tampering); restore the vault \
         file from a backup"
    )]
    RowUnknown {
        /// The table holding the row.
        table: &'static str,
        /// The row (its rowid or name).
        row: String,
    },
    /// The credential rows are not the set the sealed state binds (their count
    /// and keyed set hash): rows deleted, older ones written back, or rows of
    /// a copy of this vault added.
    #[error(
        "the vault's credential rows are not the set its sealed state lists ({found} rows \
         found, {listed} listed): rows were deleted, older versions written back or rows of a \
         copy of this vault added outside softkey (tampering); restore the vault file from a \
         backup"
    )]
    CredentialSetMismatch {
        /// How many credential rows the file holds.
        found: u64,
        /// How many the sealed state lists.
        listed: u64,
    },
    /// The file went back to an older state while this handle had it open.
    #[error(
        "the vault file went back to an older state (generation {found}) while softkey had \
         generation {seen} open: an older copy of the whole file was written back (tampering)"
    )]
    RolledBack {
        /// The generation now in the file.
        found: u64,
        /// The newer generation this handle had already seen.
        seen: u64,
    },
    /// Another process rekeyed the vault while this handle had it open.
    #[error(
        "the vault's master key was changed (`softkey vault rekey`) since this softkey opened \
         it; open the vault again (restart softkey)"
    )]
    RekeyedElsewhere,
    /// A row opened correctly but its content could not be decoded.
    #[error("vault row {table}/{row} could not be decoded: {reason}")]
    Undecodable {
        /// The table holding the row.
        table: &'static str,
        /// The row (its rowid or name).
        row: String,
        /// What was wrong.
        reason: String,
    },
    /// The vault was written by a newer softkey.
    #[error(
        "vault format version {found} is newer than this softkey supports ({supported}); upgrade softkey"
    )]
    UnsupportedVersion {
        /// The version found in the file.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// The file is not a softkey vault (another SQLite database, or no database).
    #[error("{path} is not a softkey vault")]
    NotAVault {
        /// The file.
        path: PathBuf,
    },
    /// Creating a vault where one already exists.
    #[error("{path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The vault (or its directory) is accessible to other users.
    #[error("{path} has mode {mode:04o}, which lets other users read or replace it; fix: {fix}")]
    InsecurePermissions {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The command that fixes it.
        fix: String,
    },
    /// A key file is missing, unreadable or too short.
    #[error("key file {path}: {reason}")]
    InvalidKeyFile {
        /// The key file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// No credential has this ID.
    #[error("the vault has no credential {0}")]
    NoSuchCredential(String),
    /// The slot does not exist.
    #[error("vault has no key slot {0}")]
    NoSuchSlot(i64),
    /// Removing the only slot would lock the vault forever.
    #[error("slot {0} is the vault's last key slot; add another before removing it")]
    LastSlot(i64),
    /// Argon2 parameters out of range.
    #[error("invalid key-derivation parameters: {0}")]
    InvalidKdfParams(String),
    /// A keyring slot was asked for, but this build has no Secret Service client.
    #[error(
        "this softkey was built without the keyring feature; rebuild with `--features keyring`, \
         or unlock with --key-file or a passphrase"
    )]
    KeyringNotBuilt,
    /// No Secret Service answers: no session bus, or no keyring daemon on it.
    #[error(
        "no desktop keyring (Secret Service) found: {reason}; start one in your session \
         (GNOME Keyring, KeePassXC's Secret Service integration, KWallet), or unlock with \
         --key-file or a passphrase"
    )]
    NoSecretService {
        /// What was missing.
        reason: String,
    },
    /// The keyring is locked and was not unlocked (prompt dismissed or not shown).
    #[error(
        "the desktop keyring is locked and was not unlocked: {reason}; unlock it (log in to \
         the desktop session, or open it in your keyring manager) and try again"
    )]
    KeyringLocked {
        /// Why it stayed locked.
        reason: String,
    },
    /// The keyring has no item for the vault's keyring slot(s).
    #[error(
        "the desktop keyring holds no item for keyring slot {slots} of this vault (deleted, or \
         kept in another user's or machine's keyring); unlock with another slot, and remove the \
         stale one with `softkey vault remove-key`"
    )]
    KeyringItemMissing {
        /// The slot number(s), comma-separated.
        slots: String,
    },
    /// Any other failure talking to the Secret Service over D-Bus.
    #[error("desktop keyring (Secret Service): {doing}: {message}")]
    Keyring {
        /// What was being done.
        doing: &'static str,
        /// The D-Bus error.
        message: String,
    },
    /// A TPM slot was asked for, but this build has no TPM client.
    #[error(
        "this softkey was built without the tpm feature; rebuild with `--features tpm` (needs \
         libtss2-dev), or unlock with another slot"
    )]
    TpmNotBuilt,
    /// The TPM could not be reached through the TCTI.
    #[error(
        "no TPM reachable through {tcti:?}: {reason}; check that the machine has a TPM 2.0 \
         (/dev/tpmrm0, readable by you: group tss) or set SOFTKEY_TPM_TCTI"
    )]
    TpmUnavailable {
        /// The TCTI configuration tried.
        tcti: String,
        /// Why it failed.
        reason: String,
    },
    /// The TPM slot was sealed to another TPM (or this TPM's owner hierarchy
    /// was cleared since): a copy of the vault on another machine.
    #[error(
        "TPM slot {slot} was sealed to a different TPM than the one at {tcti:?} (another \
         machine, or this TPM was cleared): it cannot open here; unlock with another slot"
    )]
    TpmForeign {
        /// The slot.
        slot: i64,
        /// The TCTI of the TPM that refused it.
        tcti: String,
    },
    /// The PCRs the TPM slot is bound to hold other values than when it was
    /// sealed (another boot chain, firmware or Secure Boot state).
    #[error(
        "TPM slot {slot} is bound to PCR(s) {pcrs}, which changed since it was sealed (another \
         boot chain, firmware or Secure Boot setting); unlock with another slot, then replace \
         this one (`remove-key`, `add-key --new-tpm`)"
    )]
    TpmPolicyMismatch {
        /// The slot.
        slot: i64,
        /// Its PCRs, `0+7`.
        pcrs: String,
    },
    /// Any other TPM failure.
    #[error("TPM: {doing}: {message}")]
    Tpm {
        /// What was being done.
        doing: &'static str,
        /// The TSS error.
        message: String,
    },
    /// A command-line usage problem (missing input, bad argument).
    #[error("{0}")]
    Usage(String),
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite engine failed (I/O error, locked, full disk, …).
    #[error("vault database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Exporting from a device-bound vault.
    #[error(
        "this vault is device-bound: its passkeys were made not backup eligible (BE = 0) and \
         never leave it. A vault made with `softkey vault init --backup-eligible` (or switched \
         with `softkey vault config --backup-eligible`, for passkeys made afterwards) exports \
         its passkeys"
    )]
    DeviceBound,
    /// A CXF file could not be read, or an export could not be made.
    #[error("CXF: {0}")]
    Cxf(#[from] crate::cxf::CxfError),
    /// The vault changed between an import's plan and its transaction.
    #[error(
        "the vault changed while the import was being prepared (a credential it would \
         duplicate appeared); nothing was imported: run the import again"
    )]
    ImportRaced,
}

impl VaultError {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<VaultError> for StoreError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Tampered { .. }
            | VaultError::RowMissing { .. }
            | VaultError::RowReplaced { .. }
            | VaultError::RowUnknown { .. }
            | VaultError::CredentialSetMismatch { .. }
            | VaultError::RolledBack { .. }
            | VaultError::Undecodable { .. }
            | VaultError::UnsupportedVersion { .. }
            | VaultError::NotAVault { .. } => StoreError::Corrupt(error.to_string()),
            other => StoreError::Io(other.to_string()),
        }
    }
}
