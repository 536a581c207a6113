//! # softkey-vault: the encrypted, crash-safe passkey store
//!
//! The vault keeps everything a softkey authenticator must remember — discoverable
//! credentials, the device secret that wraps non-discoverable credential IDs, the
//! global signature counter and the opaque settings (PIN state, configuration,
//! large blobs) — in one SQLite file, sealed so that the file reveals how many
//! credentials there are, never for which sites or users. It implements the
//! authenticator's [`Store`](softkey_authenticator::store::Store) trait.
//!
//! ```text
//!  passphrase ─Argon2id─┐                                   ┌─ seal key ──► AES-256-GCM rows
//!  key file ───HKDF─────┼─► KEK ─unwrap slot─► master key ─HKDF─┼─ rp/id/user index keys ─► HMAC columns
//!  keyring item ─HKDF───┘                                   │
//!  authenticator core ──Store──► Vault ──rusqlite (WAL, synchronous=FULL)──► vault.sqlite (0600)
//! ```
//!
//! ## On-disk format (schema version 3; a contract — see `schema.rs` for migrations)
//!
//! - `PRAGMA application_id = 0x736b7674` ("skvt"), `PRAGMA user_version` = schema
//!   version. WAL journal; the file, its `-wal` and `-shm` are mode 0600 in a
//!   directory others cannot write.
//! - `meta(key, value)`: `vault_id` = 16 random bytes (binds slots to this vault).
//! - `slots(id, kind, m_cost_kib, t_cost, p_cost, salt, wrapped_key, created)`:
//!   one row per unlocker; `kind` is `passphrase` (Argon2id v19 with the stored
//!   parameters), `key-file` (HKDF-SHA256 over the file's bytes, info
//!   `softkey-vault/v1/key-file`) or `keyring` (HKDF-SHA256 over the 32-byte
//!   secret of a desktop-keyring item, info `softkey-vault/v1/keyring`; the item
//!   lives in the Secret Service's default collection with the attributes
//!   `application=softkey`, `softkey-vault=<vault id, hex>`,
//!   `softkey-slot=<slot id>`; the Argon2 columns are NULL as for key files).
//!   Every KEK uses the slot's random 32-byte `salt`. `wrapped_key` is
//!   `nonce ‖ AES-256-GCM(KEK, master key)` with the slot's vault id, id, kind,
//!   parameters and salt as associated data. See `slots.rs` and `keyring`.
//! - `credentials(id_mac, id, rp_mac, user_mac, payload)`, `WITHOUT ROWID`, keyed
//!   by `id_mac`, indexed by `rp_mac`: one row per discoverable credential.
//!   `id_mac` = HMAC(id-index key, credential id), `rp_mac` = HMAC(rp-index key,
//!   rpIdHash), `user_mac` = HMAC(user-index key, rpIdHash ‖ user handle) (one
//!   per rp + user: a new credential replaces the same rp + user); `id` is the
//!   insertion order (the row's label in errors). `payload` seals `created (8,
//!   big-endian unix seconds) ‖ StoredCredential::to_bytes()`.
//! - `secrets(name, payload)`, `WITHOUT ROWID`: `device_secret` (32 bytes), `global_counter`
//!   (u32 big-endian), `setting/<SettingKey::name()>` (the core's opaque bytes),
//!   `vault/backup-eligible` (one byte, 1 = backup-eligible; absent = device-bound;
//!   kept by an authenticator reset).
//!   A signature counter in the file (`global_counter`, a credential's
//!   `sign_count`) is a bound: no value above it was handed out (`counters.rs`).
//! - `manifest(id = 1, generation, payload)`: the sealed manifest that binds all
//!   the rows above into one state (below, and `state.rs`).
//!
//! Every `payload` is `version (1) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`
//! under the seal key, with associated data `"softkey-vault" ‖ table ‖ row identity
//! ‖ version` (each framed with a 4-byte length), where the row identity is the
//! three MAC columns for `credentials`, the name for `secrets` and the vault id
//! for `manifest`; `version` is the row format, 2 (schema versions 2 and 3
//! hold the same rows; a version-1 row is only opened to migrate it). A row moved, swapped, edited or given another index value fails to open
//! and is reported as [`VaultError::Tampered`] with its table and row. All
//! integers, keys and MACs are fixed-width; HMACs are HMAC-SHA256 with
//! length-framed inputs.
//!
//! ## One authenticated state
//!
//! Per-row sealing alone would let someone who can write the file (no key
//! needed) delete a row (the PIN state: the PIN is gone), write an older row
//! back (PIN retries refilled, a counter rolled back) or splice in a row from a
//! copy of the vault. The manifest seals, under the seal key, a `generation`
//! (one more per write transaction), the SHA-256 digest of every slot and
//! secrets row, and the count and keyed set hash (HMAC-SHA256 under the
//! `softkey-vault/v2/state` subkey, XORed over the rows: Clarke et al.'s
//! MSet-XOR-Hash) of the credentials rows; it is rewritten in the same
//! transaction as every write. Opening a vault checks every row against it; an
//! open vault checks every row it reads against the digests it holds, and a
//! change of generation by another handle makes it reload and re-check (a
//! lower generation than one seen is [`VaultError::RolledBack`]). A missing,
//! replayed or foreign row is [`VaultError::RowMissing`], [`VaultError::RowReplaced`],
//! [`VaultError::RowUnknown`], [`VaultError::CredentialSetMismatch`] (credential
//! rows, checked as a set at open) or, if it does not even open,
//! [`VaultError::Tampered`]; never a default.
//!
//! **Not detectable from the file alone:** a copy of the *whole* file — every
//! row with the manifest of the same moment — written back while no softkey
//! has the vault open is a valid older state: it brings back deleted
//! credentials, refills PIN retries spent since and lowers counters. Detecting
//! it needs a monotonic anchor outside the file (a keyring item or TPM NV
//! counter holding the generation), which this version does not keep.
//!
//! ## Guarantees
//! - A `Store` method that returns `Ok` has committed one transaction, fsynced
//!   (WAL, `synchronous=FULL`): a credential the relying party was told about
//!   survives kill -9 and power loss (see `tests/crash.rs`). The counters
//!   (`next_sign_count`, `next_global_counter`) are the exception by design:
//!   a range is reserved durably before its first value is handed out, the
//!   values in it are counted in memory, and after a crash counting resumes
//!   above the range, so no value is ever handed out twice or lower than one
//!   before (`tests/crash.rs`, `tests/counters.rs`); a clean close gives the
//!   unspent values back.
//! - Nothing is silently skipped or defaulted: a tampered, missing, replayed or
//!   foreign row fails the open, or the call that reads it (`tests/rollback.rs`).
//! - Secrets in memory are `Zeroizing`/`ZeroizeOnDrop` with redacted `Debug`;
//!   the master and derived keys live as long as the open [`Vault`], decrypted
//!   credentials as long as the caller keeps them.
//!
//! ## Two kinds of vault; export and import (CXF)
//! A vault is **device-bound** (the default) or **backup-eligible**
//! (`softkey vault init --backup-eligible`, or `softkey vault config
//! --backup-eligible | --device-bound` for passkeys made from then on). The
//! daemon gives the authenticator core the vault's [`VaultPolicy`]: in a
//! backup-eligible vault a new discoverable passkey is made backup eligible
//! (BE = 1, stored with it and signed on every assertion) and signs with
//! counter 0 forever; a device-bound vault's passkeys are BE = 0 and never
//! leave it (`export` refuses: [`VaultError::DeviceBound`]).
//!
//! ```text
//!  vault ──export_cxf (BE = 1 passkeys, large blobs)──► CXF v1.0 JSON ──age──► FILE ──► mark_backed_up (BS = 1)
//!  FILE ──age──► JSON ──cxf::decode──► ImportPlan (each item: import / replace / keep / skip + reason)
//!       ──import_cxf (one transaction, large-blob array included)──► vault (BE = BS = 1, counter 0)
//! ```
//!
//! `softkey vault export --format cxf --out FILE` writes the backup-eligible
//! passkeys as FIDO CXF v1.0 (see [`cxf`]: keys as PKCS#8, hmac-secret
//! CredRandoms, credBlob and large blobs in `fido2Extensions`), encrypted
//! with age to a passphrase or to `--age-recipient age1…` (the `age`
//! command decrypts it), plaintext only with `--danger-plaintext`; the file
//! is new, mode 0600; then the exported passkeys are marked backed up.
//! `softkey vault import FILE` (age or plain JSON) lists every item with what
//! happens to it (`--dry-run` changes nothing), asks before replacing a
//! passkey for the same relying party and user (`--replace`,
//! `--keep-existing`), and stores all of it in one transaction; a malformed
//! file is refused with a [`cxf::CxfError`] naming the place and changes
//! nothing.
//!
//! ## Entry points
//! - [`Vault::create`] / [`Vault::open`] with an [`Unlocker`] (passphrase, key
//!   file, or desktop keyring on a [`KeyringBus`]) and [`KdfParams`]; then the
//!   `Store` methods, or [`Vault::info`],
//!   [`Vault::list`], [`Vault::delete`], [`Vault::add_slot`],
//!   [`Vault::remove_slot`], [`Vault::change_passphrase`], [`Vault::put_many`],
//!   [`Vault::rekey`],
//!   [`Vault::backup_eligible`], [`Vault::set_backup_eligible`],
//!   [`Vault::credential_policy`], [`Vault::export_cxf`],
//!   [`Vault::mark_backed_up`], [`Vault::import_cxf`].
//! - [`cli::VaultArgs`] + [`cli::run`]: `softkey vault init | config | info |
//!   list | export | import | delete | passwd | add-key | remove-key | rekey`.
//!
//! ## When to rekey
//! `passwd`, `add-key` and `remove-key` rewrite slots only; the master key
//! stays. Someone holding an old copy of the file and a secret that opened
//! it then (a passphrase since changed, a key file since removed) gets the
//! master key, which opens every row written later. So after a passphrase or
//! key file may have leaked: change or remove that unlocker, then
//! `softkey vault rekey` (a new master key; every row sealed again and every
//! kept slot wrapped again, in one transaction; see `rekey.rs`).
//!
//! ## Cargo features
//! - `keyring` (off here, on in the `softkey` binary): the Secret Service client
//!   (zbus on a private current-thread tokio runtime) for keyring slots. Without
//!   it a vault with keyring slots still opens through its other slots, and any
//!   keyring operation is [`VaultError::KeyringNotBuilt`].
//! - `tpm` (off by default, also in the `softkey` binary; needs libtss2-dev to
//!   build): the TPM 2.0 client (tss-esapi) for TPM slots. Without it a vault
//!   with TPM slots still opens through its other slots, and any TPM operation
//!   is [`VaultError::TpmNotBuilt`].
#![forbid(unsafe_code)]

mod cache;
pub mod cli;
pub mod cli_tpm;
mod counters;
pub mod cxf;
mod error;
mod exchange;
mod files;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod keyring;
mod rekey;
mod rows;
pub mod schema;
mod sealing;
mod slots;
mod state;
mod store;
pub mod tpm;
mod vault;

pub use error::VaultError;
pub use exchange::{CxfExport, VaultPolicy};
pub use keyring::KeyringBus;
pub use rekey::RekeyOutcome;
pub use slots::{KdfParams, MIN_KEY_FILE_LEN, SlotInfo, SlotKind, Unlocker, generate_key_file};
pub use tpm::TpmConfig;
pub use vault::{CredentialSummary, Vault, VaultInfo};
