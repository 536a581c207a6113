//! Key slots, as in LUKS: the master key wrapped once per unlocker.
//!
//! A slot row holds `kind`, Argon2id parameters (passphrase slots), a random
//! 32-byte `salt` and `wrapped_key = nonce ‖ AES-256-GCM(KEK, master key, aad)`,
//! with `aad = "softkey-vault/slot" ‖ vault id ‖ slot id ‖ kind ‖ m ‖ t ‖ p ‖ salt`
//! (each framed), so a slot cannot be moved to another vault or position, nor its
//! parameters edited. The KEK is:
//!
//! - passphrase: Argon2id v19 (passphrase, salt, m, t, p) → 32 bytes;
//! - key file: HKDF-SHA256 (ikm = the file's bytes, salt, "softkey-vault/v1/key-file");
//! - keyring: HKDF-SHA256 (ikm = the 32 random bytes of the slot's desktop-keyring
//!   item, salt, "softkey-vault/v1/keyring"); the item is found by the attributes
//!   `softkey-vault` = vault id (hex) and `softkey-slot` = slot id (see `keyring`);
//! - TPM: HKDF-SHA256 (ikm = the 32 random bytes sealed to the TPM, salt,
//!   "softkey-vault/v1/tpm"). Its `wrapped_key` is `framed(sealed) ‖ nonce ‖
//!   AES-256-GCM(…)`, where `sealed` is the TPM's sealed object and what it is
//!   bound to (see `tpm`), and its aad ends with `framed(sealed)` too.
//!
//! Adding, removing or changing a slot rewrites that slot's row (and the
//! manifest, which lists every slot row's digest, so that a removed slot
//! written back is refused); rows sealed under the master key are untouched. Adding a keyring slot stores its item
//! before the row is committed (a failed commit leaves an unused item, which the
//! next keyring slot with that number replaces); removing one deletes its item
//! (an item already gone is fine) before the row.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use softkey_authenticator::secret::{Secret32, SecretBytes};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::keyring::{self, ItemId, KeyringBus};
use crate::sealing::{aead_open, aead_seal, derive_key, push_framed, random_bytes};
use crate::state::{Digest, SLOTS, row_digest};
use crate::tpm::{self, Sealed, TpmConfig};

/// Smallest key file accepted, in bytes.
pub const MIN_KEY_FILE_LEN: usize = 32;
/// Largest key file read, in bytes.
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// Argon2id cost parameters of a passphrase slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl KdfParams {
    /// The default for new passphrase slots: 128 MiB, 2 passes, 1 lane — about
    /// half a second on the 2-core development machine (measured with
    /// `cargo test -p softkey-vault --lib kdf_timing -- --ignored --nocapture`),
    /// well above OWASP's Argon2id floor (19 MiB, 2 passes).
    pub const fn recommended() -> Self {
        Self {
            m_cost_kib: 128 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }

    /// Trivially cheap parameters: for tests and crash benches only, never for a
    /// vault that protects anything.
    pub const fn danger_fast_for_tests() -> Self {
        Self {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn argon2(self) -> Result<argon2::Argon2<'static>, VaultError> {
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| VaultError::InvalidKdfParams(e.to_string()))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    /// Derives the 256-bit key-encryption key of a passphrase slot.
    fn derive(self, passphrase: &[u8], salt: &[u8]) -> Result<Secret32, VaultError> {
        let mut kek = Zeroizing::new([0u8; 32]);
        self.argon2()?
            .hash_password_into(passphrase, salt, kek.as_mut())
            .map_err(|e| VaultError::InvalidKdfParams(e.to_string()))?;
        Ok(Secret32::new(*kek))
    }
}

/// What opens a vault.
pub enum Unlocker {
    /// A passphrase (the bytes as typed, without a trailing newline).
    Passphrase(SecretBytes),
    /// A file of at least [`MIN_KEY_FILE_LEN`] random bytes.
    KeyFile(PathBuf),
    /// The slot's item in the desktop keyring (Secret Service) on this bus.
    /// Needs the cargo feature `keyring`; without it, [`VaultError::KeyringNotBuilt`].
    Keyring(KeyringBus),
    /// A secret sealed to the TPM (for a new slot: bound to the config's PCRs).
    /// Needs the cargo feature `tpm`; without it, [`VaultError::TpmNotBuilt`].
    Tpm(TpmConfig),
}

impl std::fmt::Debug for Unlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passphrase(_) => f.debug_tuple("Passphrase").finish_non_exhaustive(),
            Self::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
            // The bus address is no secret; the keyring's secret is never held here.
            Self::Keyring(bus) => f.debug_tuple("Keyring").field(bus).finish(),
            // The TCTI and PCR list are no secret; the sealed secret is never held here.
            Self::Tpm(config) => f.debug_tuple("Tpm").field(config).finish(),
        }
    }
}

impl Unlocker {
    /// A passphrase unlocker from a string.
    pub fn passphrase(passphrase: &str) -> Self {
        Self::Passphrase(SecretBytes::from_slice(passphrase.as_bytes()))
    }

    /// A keyring unlocker on the session bus.
    pub fn keyring() -> Self {
        Self::Keyring(KeyringBus::Session)
    }

    /// The kind of slot this unlocker opens.
    pub fn kind(&self) -> SlotKind {
        match self {
            Self::Passphrase(_) => SlotKind::Passphrase,
            Self::KeyFile(_) => SlotKind::KeyFile,
            Self::Keyring(_) => SlotKind::Keyring,
            Self::Tpm(_) => SlotKind::Tpm,
        }
    }
}

/// Writes a new key file of 32 random bytes, mode 0600; refuses to overwrite.
pub fn generate_key_file(path: &Path) -> Result<(), VaultError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| VaultError::io(format!("creating key file {}", path.display()), e))?;
    let key = Zeroizing::new(random_bytes::<32>());
    file.write_all(key.as_ref())
        .and_then(|()| file.sync_all())
        .map_err(|e| VaultError::io(format!("writing key file {}", path.display()), e))
}

fn read_key_file(path: &Path) -> Result<SecretBytes, VaultError> {
    let invalid = |reason: String| VaultError::InvalidKeyFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| invalid(e.to_string()))?;
    crate::files::check_file(path)?;
    // Room for the most ever read: a growing Vec would free copies of the
    // key material it outgrew without zeroizing them.
    let capacity = usize::try_from(MAX_KEY_FILE_LEN + 1).expect("64 KiB fits usize");
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| invalid(e.to_string()))?;
    if bytes.len() < MIN_KEY_FILE_LEN {
        return Err(invalid(format!(
            "holds {} bytes; at least {MIN_KEY_FILE_LEN} random bytes are needed",
            bytes.len()
        )));
    }
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(invalid(format!("is larger than {MAX_KEY_FILE_LEN} bytes")));
    }
    Ok(SecretBytes::from(bytes))
}

/// The kind of a key slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SlotKind {
    /// Argon2id over a passphrase.
    Passphrase,
    /// A key file.
    KeyFile,
    /// An item in the desktop keyring (Secret Service).
    Keyring,
    /// A secret sealed to the machine's TPM 2.0.
    Tpm,
}

impl SlotKind {
    /// The stable name stored in the `kind` column. Never reuse a name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::KeyFile => "key-file",
            Self::Keyring => "keyring",
            Self::Tpm => "tpm",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "passphrase" => Some(Self::Passphrase),
            "key-file" => Some(Self::KeyFile),
            "keyring" => Some(Self::Keyring),
            "tpm" => Some(Self::Tpm),
            _ => None,
        }
    }
}

/// Public facts about a key slot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SlotInfo {
    /// The slot's number (`vault remove-key ID`).
    pub id: i64,
    /// What opens it.
    pub kind: SlotKind,
    /// Argon2id parameters (passphrase slots).
    pub kdf: Option<KdfParams>,
    /// The PCRs (SHA-256 bank) a TPM slot is bound to; empty for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_pcrs: Option<Vec<u8>>,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
}

/// One slot row as stored.
struct SlotRow {
    info: SlotInfo,
    salt: Vec<u8>,
    /// A TPM slot's sealed object, encoded (the head of its `wrapped_key`).
    sealed: Option<Vec<u8>>,
    /// `nonce ‖ AES-256-GCM(KEK, master key, aad)`.
    wrapped_key: Vec<u8>,
}

/// Splits a TPM slot's `wrapped_key` column into its sealed object (encoded)
/// and the wrapped master key.
fn split_tpm_column(id: i64, column: &[u8]) -> Result<(Vec<u8>, Vec<u8>), VaultError> {
    let undecodable = || VaultError::Undecodable {
        table: "slots",
        row: id.to_string(),
        reason: "TPM slot without a sealed object".into(),
    };
    let (len, rest) = column.split_first_chunk::<4>().ok_or_else(undecodable)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| undecodable())?;
    let (sealed, wrapped) = rest.split_at_checked(len).ok_or_else(undecodable)?;
    Ok((sealed.to_vec(), wrapped.to_vec()))
}

/// A TPM slot's `wrapped_key` column: `framed(sealed) ‖ wrapped`.
fn tpm_column(sealed: &[u8], wrapped: &[u8]) -> Vec<u8> {
    let mut column = Vec::with_capacity(4 + sealed.len() + wrapped.len());
    push_framed(&mut column, sealed);
    column.extend_from_slice(wrapped);
    column
}

fn slot_aad(
    vault_id: &[u8],
    id: i64,
    kind: SlotKind,
    kdf: Option<KdfParams>,
    salt: &[u8],
    sealed: Option<&[u8]>,
) -> Vec<u8> {
    let mut aad = b"softkey-vault/slot".to_vec();
    push_framed(&mut aad, vault_id);
    push_framed(&mut aad, &id.to_be_bytes());
    push_framed(&mut aad, kind.name().as_bytes());
    let params = kdf.map_or([0u32; 3], |k| [k.m_cost_kib, k.t_cost, k.p_cost]);
    for value in params {
        push_framed(&mut aad, &value.to_be_bytes());
    }
    push_framed(&mut aad, salt);
    // Only TPM slots have it: the other kinds' aad is unchanged since format 1.
    if let Some(sealed) = sealed {
        push_framed(&mut aad, sealed);
    }
    aad
}

/// The key-encryption key of a TPM slot from its unsealed secret.
fn tpm_kek(secret: &[u8], salt: &[u8]) -> Secret32 {
    derive_key(secret, Some(salt), b"softkey-vault/v1/tpm")
}

/// The key-encryption key of a keyring slot from its item's secret.
fn keyring_kek(secret: &[u8], salt: &[u8]) -> Secret32 {
    derive_key(secret, Some(salt), b"softkey-vault/v1/keyring")
}

/// Wraps `master` for `unlocker` into a new slot row; returns its id. Runs
/// Argon2 for a passphrase (seconds with the recommended parameters).
pub(crate) fn insert(
    conn: &Connection,
    vault_id: &[u8],
    master: &Secret32,
    unlocker: &Unlocker,
    kdf: KdfParams,
) -> Result<i64, VaultError> {
    let kind = unlocker.kind();
    let kdf = (kind == SlotKind::Passphrase).then_some(kdf);
    let salt = random_bytes::<32>();
    let id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM slots", [], |r| {
        r.get(0)
    })?;
    let mut sealed = None;
    let kek = match unlocker {
        Unlocker::Tpm(config) => {
            let (secret, sealed_secret) = tpm::seal_new_secret(config)?;
            sealed = Some(sealed_secret.encode());
            tpm_kek(secret.as_ref(), &salt)
        }
        Unlocker::Keyring(bus) => {
            let secret = keyring::create_secret(bus, &ItemId { vault_id, slot: id })?;
            keyring_kek(secret.as_ref(), &salt)
        }
        Unlocker::Passphrase(passphrase) => Material::Passphrase(passphrase, kdf).kek(&salt)?,
        Unlocker::KeyFile(path) => Material::KeyFile(read_key_file(path)?).kek(&salt)?,
    };
    let wrapped = aead_seal(
        &kek,
        &slot_aad(vault_id, id, kind, kdf, &salt, sealed.as_deref()),
        master.expose_secret(),
    );
    let wrapped = match &sealed {
        Some(sealed) => tpm_column(sealed, &wrapped),
        None => wrapped,
    };
    conn.execute(
        "INSERT INTO slots (id, kind, m_cost_kib, t_cost, p_cost, salt, wrapped_key, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            kind.name(),
            kdf.map(|k| k.m_cost_kib),
            kdf.map(|k| k.t_cost),
            kdf.map(|k| k.p_cost),
            &salt[..],
            wrapped,
            crate::rows::now()
        ],
    )?;
    Ok(id)
}

fn read_rows(conn: &Connection) -> Result<Vec<SlotRow>, VaultError> {
    let mut statement = conn.prepare(
        "SELECT id, kind, m_cost_kib, t_cost, p_cost, salt, wrapped_key, created FROM slots ORDER BY id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<u32>>(2)?,
            row.get::<_, Option<u32>>(3)?,
            row.get::<_, Option<u32>>(4)?,
            row.get::<_, Vec<u8>>(5)?,
            row.get::<_, Vec<u8>>(6)?,
            row.get::<_, i64>(7)?,
        ))
    })?;
    let mut slots = Vec::new();
    for row in rows {
        let (id, kind, m, t, p, salt, wrapped_key, created) = row?;
        let kind = SlotKind::from_name(&kind).ok_or_else(|| VaultError::Undecodable {
            table: "slots",
            row: id.to_string(),
            reason: format!("unknown slot kind {kind:?}"),
        })?;
        let kdf = match (m, t, p) {
            (Some(m_cost_kib), Some(t_cost), Some(p_cost)) => Some(KdfParams {
                m_cost_kib,
                t_cost,
                p_cost,
            }),
            _ => None,
        };
        let (sealed, wrapped_key, tpm_pcrs) = if kind == SlotKind::Tpm {
            let (sealed, wrapped) = split_tpm_column(id, &wrapped_key)?;
            let pcrs = Sealed::decode(&sealed)
                .ok_or_else(|| VaultError::Undecodable {
                    table: "slots",
                    row: id.to_string(),
                    reason: "TPM slot with an undecodable sealed object".into(),
                })?
                .pcrs;
            (Some(sealed), wrapped, Some(pcrs))
        } else {
            (None, wrapped_key, None)
        };
        slots.push(SlotRow {
            info: SlotInfo {
                id,
                kind,
                kdf,
                tpm_pcrs,
                created,
            },
            salt,
            sealed,
            wrapped_key,
        });
    }
    Ok(slots)
}

/// The digest of every slot row (all its columns), by slot id.
pub(crate) fn digests(conn: &Connection) -> Result<BTreeMap<i64, Digest>, VaultError> {
    digests_where(conn, "1", [])
}

/// The digest of slot row `id` (just written).
pub(crate) fn digest_of(conn: &Connection, id: i64) -> Result<Digest, VaultError> {
    digests_where(conn, "id = ?1", [id])?
        .remove(&id)
        .ok_or(VaultError::NoSuchSlot(id))
}

fn digests_where<P: rusqlite::Params>(
    conn: &Connection,
    condition: &str,
    values: P,
) -> Result<BTreeMap<i64, Digest>, VaultError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT id, kind, m_cost_kib, t_cost, p_cost, salt, wrapped_key, created FROM slots
         WHERE {condition}"
    ))?;
    let rows = statement.query_map(values, |row| {
        let id: i64 = row.get(0)?;
        let kind: String = row.get(1)?;
        let cost = |index| -> rusqlite::Result<Vec<u8>> {
            Ok(row
                .get::<_, Option<i64>>(index)?
                .map(|v| v.to_be_bytes().to_vec())
                .unwrap_or_default())
        };
        let (m, t, p) = (cost(2)?, cost(3)?, cost(4)?);
        let salt: Vec<u8> = row.get(5)?;
        let wrapped: Vec<u8> = row.get(6)?;
        let created: i64 = row.get(7)?;
        let digest = row_digest(
            SLOTS,
            &[
                &id.to_be_bytes(),
                kind.as_bytes(),
                &m,
                &t,
                &p,
                &salt,
                &wrapped,
                &created.to_be_bytes(),
            ],
        );
        Ok((id, digest))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every slot's public facts.
pub(crate) fn list(conn: &Connection) -> Result<Vec<SlotInfo>, VaultError> {
    Ok(read_rows(conn)?.into_iter().map(|row| row.info).collect())
}

/// What a slot's key-encryption key is derived from, for its salt or a new one.
enum Material<'a> {
    Passphrase(&'a SecretBytes, Option<KdfParams>),
    KeyFile(SecretBytes),
    Keyring(Zeroizing<Vec<u8>>),
    Tpm(Zeroizing<Vec<u8>>),
}

impl Material<'_> {
    /// The material of `row` for `unlocker` (of the row's kind); `None` for a
    /// keyring slot whose item is gone.
    fn of<'u>(
        row: &SlotRow,
        vault_id: &[u8],
        unlocker: &'u Unlocker,
        keyring: Option<&keyring::Lookup>,
    ) -> Result<Option<Material<'u>>, VaultError> {
        Ok(Some(match (unlocker, keyring) {
            (Unlocker::Passphrase(passphrase), _) => Material::Passphrase(passphrase, row.info.kdf),
            (Unlocker::KeyFile(path), _) => Material::KeyFile(read_key_file(path)?),
            (Unlocker::Tpm(config), _) => {
                let sealed = row
                    .sealed
                    .as_deref()
                    .and_then(Sealed::decode)
                    .ok_or_else(|| VaultError::Undecodable {
                        table: "slots",
                        row: row.info.id.to_string(),
                        reason: "TPM slot with an undecodable sealed object".into(),
                    })?;
                Material::Tpm(tpm::unseal(config, row.info.id, &sealed)?)
            }
            (Unlocker::Keyring(_), Some(keyring)) => {
                let item = ItemId {
                    vault_id,
                    slot: row.info.id,
                };
                match keyring.secret(&item)? {
                    Some(secret) => Material::Keyring(secret),
                    None => return Ok(None),
                }
            }
            (Unlocker::Keyring(bus), None) => {
                return Material::of(
                    row,
                    vault_id,
                    unlocker,
                    Some(&keyring::Lookup::connect(bus)?),
                );
            }
        }))
    }

    fn kek(&self, salt: &[u8]) -> Result<Secret32, VaultError> {
        match self {
            Self::Passphrase(passphrase, kdf) => kdf
                .ok_or_else(|| {
                    VaultError::InvalidKdfParams("passphrase slot without parameters".into())
                })?
                .derive(passphrase.expose_secret(), salt),
            Self::KeyFile(material) => Ok(derive_key(
                material.expose_secret(),
                Some(salt),
                b"softkey-vault/v1/key-file",
            )),
            Self::Keyring(secret) => Ok(keyring_kek(secret, salt)),
            Self::Tpm(secret) => Ok(tpm_kek(secret, salt)),
        }
    }
}

/// Unwraps the master key of `row` with `kek`; `None` if it does not open.
fn unwrap_master(
    row: &SlotRow,
    vault_id: &[u8],
    kek: &Secret32,
) -> Result<Option<Secret32>, VaultError> {
    let aad = slot_aad(
        vault_id,
        row.info.id,
        row.info.kind,
        row.info.kdf,
        &row.salt,
        row.sealed.as_deref(),
    );
    let Some(master) = aead_open(kek, &aad, &row.wrapped_key) else {
        return Ok(None);
    };
    Secret32::from_slice(&master)
        .map(Some)
        .ok_or_else(|| VaultError::Undecodable {
            table: "slots",
            row: row.info.id.to_string(),
            reason: "wrapped key is not 32 bytes".into(),
        })
}

/// Finds the slot `unlocker` opens and unwraps the master key: `(master, slot id)`.
pub(crate) fn unlock(
    conn: &Connection,
    vault_id: &[u8],
    unlocker: &Unlocker,
) -> Result<(Secret32, i64), VaultError> {
    let kind = unlocker.kind();
    let candidates: Vec<SlotRow> = read_rows(conn)?
        .into_iter()
        .filter(|row| row.info.kind == kind)
        .collect();
    if candidates.is_empty() {
        return Err(VaultError::NoMatchingSlot { kind: kind.name() });
    }
    let keyring = match unlocker {
        Unlocker::Keyring(bus) => Some(keyring::Lookup::connect(bus)?),
        _ => None,
    };
    let mut missing_items = Vec::new();
    let mut tpm_refusal = None;
    for row in candidates {
        let material = match Material::of(&row, vault_id, unlocker, keyring.as_ref()) {
            Ok(Some(material)) => material,
            Ok(None) => {
                missing_items.push(row.info.id.to_string());
                continue;
            }
            // Another TPM slot may still open (one per machine, or per PCR state).
            Err(
                refusal @ (VaultError::TpmForeign { .. } | VaultError::TpmPolicyMismatch { .. }),
            ) => {
                tpm_refusal.get_or_insert(refusal);
                continue;
            }
            Err(other) => return Err(other),
        };
        if let Some(master) = unwrap_master(&row, vault_id, &material.kek(&row.salt)?)? {
            return Ok((master, row.info.id));
        }
    }
    Err(match kind {
        SlotKind::Passphrase => VaultError::WrongPassphrase,
        SlotKind::Keyring if !missing_items.is_empty() => VaultError::KeyringItemMissing {
            slots: missing_items.join(", "),
        },
        SlotKind::Tpm if tpm_refusal.is_some() => tpm_refusal.expect("just checked"),
        SlotKind::KeyFile | SlotKind::Keyring | SlotKind::Tpm => {
            VaultError::NoMatchingSlot { kind: kind.name() }
        }
    })
}

/// A slot wrapped anew: its id, fresh salt and the new master key wrapped.
pub(crate) struct Rewrapped {
    id: i64,
    salt: [u8; 32],
    wrapped_key: Vec<u8>,
}

/// Checks that `unlocker` opens slot `id` to `master`, then wraps
/// `new_master` for the same slot (kind, parameters, keyring item) under a
/// fresh salt. Runs Argon2 twice for a passphrase slot.
pub(crate) fn rewrap(
    conn: &Connection,
    vault_id: &[u8],
    id: i64,
    unlocker: &Unlocker,
    master: &Secret32,
    new_master: &Secret32,
) -> Result<Rewrapped, VaultError> {
    let row = read_rows(conn)?
        .into_iter()
        .find(|row| row.info.id == id)
        .ok_or(VaultError::NoSuchSlot(id))?;
    let refused = || {
        VaultError::Usage(format!(
            "slot {id} ({}) does not open with the {} given for it",
            row.info.kind.name(),
            unlocker.kind().name()
        ))
    };
    if row.info.kind != unlocker.kind() {
        return Err(refused());
    }
    let material = Material::of(&row, vault_id, unlocker, None)?.ok_or_else(|| {
        VaultError::KeyringItemMissing {
            slots: id.to_string(),
        }
    })?;
    let opened = unwrap_master(&row, vault_id, &material.kek(&row.salt)?)?.ok_or_else(refused)?;
    if !bool::from(opened.expose_secret().ct_eq(master.expose_secret())) {
        return Err(refused());
    }
    let salt = random_bytes::<32>();
    let sealed = row.sealed.as_deref();
    let aad = slot_aad(vault_id, id, row.info.kind, row.info.kdf, &salt, sealed);
    let wrapped = aead_seal(&material.kek(&salt)?, &aad, new_master.expose_secret());
    Ok(Rewrapped {
        id,
        salt,
        wrapped_key: match sealed {
            Some(sealed) => tpm_column(sealed, &wrapped),
            None => wrapped,
        },
    })
}

/// Writes a slot wrapped anew (inside the rekey transaction).
pub(crate) fn store_rewrapped(conn: &Connection, slot: &Rewrapped) -> Result<(), VaultError> {
    conn.execute(
        "UPDATE slots SET salt = ?1, wrapped_key = ?2 WHERE id = ?3",
        params![&slot.salt[..], slot.wrapped_key, slot.id],
    )?;
    Ok(())
}

/// Deletes slot `id`, refusing to delete the last one; a keyring slot's item is
/// deleted first, from the keyring on `keyring_bus`.
pub(crate) fn remove(
    conn: &Connection,
    vault_id: &[u8],
    id: i64,
    keyring_bus: &KeyringBus,
) -> Result<(), VaultError> {
    let kind: Option<String> = conn
        .query_row("SELECT kind FROM slots WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    let Some(kind) = kind else {
        return Err(VaultError::NoSuchSlot(id));
    };
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM slots", [], |r| r.get(0))?;
    if count <= 1 {
        return Err(VaultError::LastSlot(id));
    }
    if SlotKind::from_name(&kind) == Some(SlotKind::Keyring) {
        keyring::delete(keyring_bus, &ItemId { vault_id, slot: id })?;
    }
    conn.execute("DELETE FROM slots WHERE id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prints how long the recommended Argon2id parameters take here.
    #[test]
    #[ignore = "a measurement, not a check: run with --ignored --nocapture"]
    fn kdf_timing() {
        for params in [
            KdfParams::recommended(),
            KdfParams {
                m_cost_kib: 256 * 1024,
                t_cost: 2,
                p_cost: 1,
            },
        ] {
            let started = std::time::Instant::now();
            params.derive(b"passphrase", &[0; 32]).unwrap();
            println!("{params:?}: {:?}", started.elapsed());
        }
    }

    #[test]
    fn slot_kinds_round_trip_their_names() {
        for kind in [
            SlotKind::Passphrase,
            SlotKind::KeyFile,
            SlotKind::Keyring,
            SlotKind::Tpm,
        ] {
            assert_eq!(SlotKind::from_name(kind.name()), Some(kind));
        }
        // The stored names are a format contract.
        assert_eq!(SlotKind::Keyring.name(), "keyring");
        assert_eq!(SlotKind::Tpm.name(), "tpm");
        assert_eq!(SlotKind::from_name("secret-service"), None);
    }

    #[test]
    fn short_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.key");
        std::fs::write(&path, [1u8; 31]).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        assert!(matches!(
            read_key_file(&path),
            Err(VaultError::InvalidKeyFile { .. })
        ));
    }
}
