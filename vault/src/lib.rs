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
//! ## On-disk format (schema version 1; a contract — see `schema.rs` for migrations)
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
//! - `credentials(id, id_mac, rp_mac, user_mac, payload)`: one row per discoverable
//!   credential. `id_mac` = HMAC(id-index key, credential id), `rp_mac` =
//!   HMAC(rp-index key, rpIdHash), `user_mac` = HMAC(user-index key, rpIdHash ‖
//!   user handle) (unique: a new credential replaces the same rp + user).
//!   `payload` seals `created (8, big-endian unix seconds) ‖ StoredCredential::to_bytes()`.
//! - `secrets(name, payload)`: `device_secret` (32 bytes), `global_counter`
//!   (u32 big-endian), `setting/<SettingKey::name()>` (the core's opaque bytes).
//!
//! Every `payload` is `version (1) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`
//! under the seal key, with associated data `"softkey-vault" ‖ table ‖ row identity
//! ‖ version` (each framed with a 4-byte length), where the row identity is the
//! three MAC columns for `credentials` and the name for `secrets`. A row moved,
//! swapped, edited or given another index value fails to open and is reported as
//! [`VaultError::Tampered`] with its table and row. All integers, keys and MACs are
//! fixed-width; HMACs are HMAC-SHA256 with length-framed inputs.
//!
//! ## Guarantees
//! - A `Store` method that returns `Ok` has committed one transaction, fsynced
//!   (WAL, `synchronous=FULL`): a credential the relying party was told about
//!   survives kill -9 and power loss (see `tests/crash.rs`).
//! - Nothing is silently skipped: a tampered row fails the call that reads it.
//! - Secrets in memory are `Zeroizing`/`ZeroizeOnDrop` with redacted `Debug`;
//!   the master and derived keys live as long as the open [`Vault`], decrypted
//!   credentials as long as the caller keeps them.
//!
//! ## Entry points
//! - [`Vault::create`] / [`Vault::open`] with an [`Unlocker`] (passphrase, key
//!   file, or desktop keyring on a [`KeyringBus`]) and [`KdfParams`]; then the
//!   `Store` methods, or [`Vault::info`],
//!   [`Vault::list`], [`Vault::delete`], [`Vault::add_slot`],
//!   [`Vault::remove_slot`], [`Vault::change_passphrase`], [`Vault::put_many`].
//! - [`cli::VaultArgs`] + [`cli::run`]: `softkey vault init | info | list |
//!   delete | passwd | add-key | remove-key`.
//!
//! ## Cargo features
//! - `keyring` (off here, on in the `softkey` binary): the Secret Service client
//!   (zbus on a private current-thread tokio runtime) for keyring slots. Without
//!   it a vault with keyring slots still opens through its other slots, and any
//!   keyring operation is [`VaultError::KeyringNotBuilt`].
#![forbid(unsafe_code)]

pub mod cli;
mod error;
mod files;
#[doc(hidden)]
pub mod fuzzing;
mod keyring;
pub mod schema;
mod sealing;
mod slots;
mod store;
mod vault;

pub use error::VaultError;
pub use keyring::KeyringBus;
pub use slots::{KdfParams, MIN_KEY_FILE_LEN, SlotInfo, SlotKind, Unlocker, generate_key_file};
pub use vault::{CredentialSummary, Vault, VaultInfo};
