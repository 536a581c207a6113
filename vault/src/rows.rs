//! The sealed rows: reading, opening, sealing and writing `secrets` and
//! `credentials` rows. Every write records the row's new digest in the
//! transaction's [`Staged`] state, every read checks the row against the
//! authenticated state (see `state.rs`), so no path reaches the file around it.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use softkey_authenticator::credential::StoredCredential;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::sealing::{VaultKeys, push_framed};
use crate::state::{self, Listed, Staged};

/// Name of the credentials table (in errors and associated data).
pub(crate) const CREDENTIALS: &str = "credentials";
/// Name of the secrets table (device secret, counter, settings).
pub(crate) const SECRETS: &str = "secrets";
/// `secrets` row holding the device secret.
pub(crate) const DEVICE_SECRET: &str = "device_secret";
/// `secrets` row holding the global signature counter.
pub(crate) const GLOBAL_COUNTER: &str = "global_counter";
/// Prefix of `secrets` rows holding settings.
pub(crate) const SETTING_PREFIX: &str = "setting/";

/// Seconds since the Unix epoch (0 before it).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A credentials row as read from the file (sealed: no secret in the clear).
#[derive(Clone)]
pub(crate) struct CredentialRow {
    pub(crate) rowid: i64,
    pub(crate) id_mac: Vec<u8>,
    pub(crate) rp_mac: Vec<u8>,
    pub(crate) user_mac: Vec<u8>,
    pub(crate) payload: Vec<u8>,
}

impl CredentialRow {
    /// The columns, in the order [`CredentialRow::from_row`] reads them.
    pub(crate) const COLUMNS: &'static str = "id, id_mac, rp_mac, user_mac, payload";

    pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            rowid: row.get(0)?,
            id_mac: row.get(1)?,
            rp_mac: row.get(2)?,
            user_mac: row.get(3)?,
            payload: row.get(4)?,
        })
    }

    /// The row's label in errors: its rowid.
    pub(crate) fn label(&self) -> String {
        self.rowid.to_string()
    }

    /// What the authenticated state lists for this row.
    pub(crate) fn listed(&self) -> Option<Listed> {
        Some(Listed {
            rp_mac: self.rp_mac.as_slice().try_into().ok()?,
            digest: state::credential_digest(
                &self.id_mac,
                &self.rp_mac,
                &self.user_mac,
                &self.payload,
            ),
        })
    }
}

/// Reads the credentials rows matching `condition`, in insertion order.
pub(crate) fn select_credentials(
    conn: &Connection,
    condition: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Vec<CredentialRow>, VaultError> {
    // Sorted here, not by `ORDER BY id`: with it, SQLite (STAT4 build)
    // prepares the rp_mac lookup again on every run, a tenth of a sign-in.
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {} FROM credentials WHERE {condition}",
        CredentialRow::COLUMNS
    ))?;
    let mut rows: Vec<CredentialRow> = statement
        .query_map(values, CredentialRow::from_row)?
        .collect::<Result<_, _>>()?;
    rows.sort_by_key(|row| row.rowid);
    Ok(rows)
}

/// The associated data identity of a credentials row: its index columns.
pub(crate) fn credential_identity(id_mac: &[u8], rp_mac: &[u8], user_mac: &[u8]) -> Vec<u8> {
    let mut identity = Vec::with_capacity(3 * 36);
    push_framed(&mut identity, id_mac);
    push_framed(&mut identity, rp_mac);
    push_framed(&mut identity, user_mac);
    identity
}

/// Opens a credentials row: the credential and its creation time.
pub(crate) fn open_credential(
    keys: &VaultKeys,
    row: &CredentialRow,
) -> Result<(StoredCredential, i64), VaultError> {
    let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
    let plaintext = keys.open_row(CREDENTIALS, &identity, &|| row.label(), &row.payload)?;
    decode_credential(keys, row, &plaintext)
}

/// Opens a credentials row that was checked against the authenticated state
/// (its digest is the one the state lists for its `id_mac`), without
/// recomputing its three index MACs from the credential as
/// [`open_credential`] does: the index columns are the row's associated
/// data, so a row that opens was sealed with exactly these columns, and
/// every writer derives them from the credential it seals
/// ([`write_credential_row`]; the 1 → 2 migration checked every row with
/// [`decode_credential`]). Saves three HMACs per credential of a sign-in.
pub(crate) fn open_listed_credential(
    keys: &VaultKeys,
    row: &CredentialRow,
) -> Result<(StoredCredential, i64), VaultError> {
    let identity = credential_identity(&row.id_mac, &row.rp_mac, &row.user_mac);
    let plaintext = keys.open_row(CREDENTIALS, &identity, &|| row.label(), &row.payload)?;
    decode_plaintext(row, &plaintext)
}

/// Decodes an opened credentials row: its creation time and credential.
fn decode_plaintext(
    row: &CredentialRow,
    plaintext: &[u8],
) -> Result<(StoredCredential, i64), VaultError> {
    let undecodable = |reason: String| VaultError::Undecodable {
        table: CREDENTIALS,
        row: row.label(),
        reason,
    };
    if plaintext.len() < 8 {
        return Err(undecodable("payload shorter than its header".into()));
    }
    let (created, body) = plaintext.split_at(8);
    let created = i64::from_be_bytes(created.try_into().expect("split at 8"));
    let credential = StoredCredential::from_bytes(body).map_err(|e| undecodable(e.to_string()))?;
    Ok((credential, created))
}

/// Decodes an opened credentials row and checks its index columns.
pub(crate) fn decode_credential(
    keys: &VaultKeys,
    row: &CredentialRow,
    plaintext: &[u8],
) -> Result<(StoredCredential, i64), VaultError> {
    let (credential, created) = decode_plaintext(row, plaintext)?;
    let rp_id_hash = credential.rp_id_hash();
    let consistent = keys.id_mac(&credential.credential_id)[..] == row.id_mac[..]
        && keys.rp_mac(&rp_id_hash)[..] == row.rp_mac[..]
        && keys.user_mac(&rp_id_hash, &credential.user.id)[..] == row.user_mac[..];
    if !consistent {
        return Err(VaultError::Tampered {
            table: CREDENTIALS,
            row: row.label(),
        });
    }
    Ok((credential, created))
}

/// The plaintext of a credentials row: `created ‖ StoredCredential::to_bytes()`.
pub(crate) fn credential_plaintext(
    credential: &StoredCredential,
    created: i64,
) -> Zeroizing<Vec<u8>> {
    let body = Zeroizing::new(credential.to_bytes());
    let mut plaintext = Zeroizing::new(Vec::with_capacity(8 + body.len()));
    plaintext.extend_from_slice(&created.to_be_bytes());
    plaintext.extend_from_slice(&body);
    plaintext
}

/// A credential's three index values (the row's associated data), computed
/// once per write.
pub(crate) struct IndexMacs {
    /// HMAC of the credential id.
    pub(crate) id: [u8; 32],
    /// HMAC of the rpIdHash.
    pub(crate) rp: [u8; 32],
    /// HMAC of (rpIdHash, user handle).
    pub(crate) user: [u8; 32],
}

impl IndexMacs {
    /// The index values of `credential` under `keys`.
    pub(crate) fn of(keys: &VaultKeys, credential: &StoredCredential) -> Self {
        let rp_id_hash = credential.rp_id_hash();
        Self {
            id: keys.id_mac(&credential.credential_id),
            rp: keys.rp_mac(&rp_id_hash),
            user: keys.user_mac(&rp_id_hash, &credential.user.id),
        }
    }
}

/// Writes a credentials row (insert, or update of the row with the same
/// `id_mac`, which keeps its place) inside a transaction and stages its
/// digest. `macs` are the credential's ([`IndexMacs::of`]).
pub(crate) fn write_credential_row(
    conn: &Connection,
    keys: &VaultKeys,
    staged: &mut Staged<'_>,
    credential: &StoredCredential,
    macs: &IndexMacs,
    created: i64,
) -> Result<(), VaultError> {
    let IndexMacs { id, rp, user } = macs;
    let plaintext = credential_plaintext(credential, created);
    let payload = keys.seal_row(CREDENTIALS, &credential_identity(id, rp, user), &plaintext);
    // A new row goes last in insertion order; an update keeps its `id`.
    let row_id = match staged.listed_credential(id) {
        Some(_) => 0,
        None => staged.new_row_id(),
    };
    conn.prepare_cached(
        "INSERT INTO credentials (id_mac, id, rp_mac, user_mac, payload) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id_mac) DO UPDATE SET
             rp_mac = excluded.rp_mac, user_mac = excluded.user_mac, payload = excluded.payload",
    )?
    .execute(params![&id[..], row_id, &rp[..], &user[..], payload])?;
    let digest = state::credential_digest(id, rp, user, &payload);
    staged.set_credential(
        keys,
        *id,
        Some(Listed {
            rp_mac: *rp,
            digest,
        }),
    );
    Ok(())
}

/// Deletes a credentials row (already checked against the state) and stages it.
pub(crate) fn delete_credential_row(
    conn: &Connection,
    keys: &VaultKeys,
    staged: &mut Staged<'_>,
    row: &CredentialRow,
) -> Result<(), VaultError> {
    conn.prepare_cached("DELETE FROM credentials WHERE id_mac = ?1")?
        .execute([&row.id_mac])?;
    if let Ok(id_mac) = <[u8; 32]>::try_from(row.id_mac.as_slice()) {
        staged.set_credential(keys, id_mac, None);
    }
    Ok(())
}

/// Reads a `secrets` row, checks it against what the state lists for it
/// (`listed`) and opens it.
pub(crate) fn read_secret(
    conn: &Connection,
    keys: &VaultKeys,
    name: &str,
    listed: Option<state::Digest>,
) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
    let payload: Option<Vec<u8>> = conn
        .prepare_cached("SELECT payload FROM secrets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    state::check_secret(keys, name, listed, payload.as_deref())?;
    payload
        .map(|payload| open_secret(keys, name, &payload))
        .transpose()
}

/// Opens a `secrets` row's payload.
pub(crate) fn open_secret(
    keys: &VaultKeys,
    name: &str,
    payload: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    keys.open_row(SECRETS, name.as_bytes(), &|| name.to_owned(), payload)
}

/// Writes (`Some`) or deletes (`None`) a `secrets` row inside a transaction
/// and stages its digest.
pub(crate) fn write_secret(
    conn: &Connection,
    keys: &VaultKeys,
    staged: &mut Staged<'_>,
    name: &str,
    value: Option<&[u8]>,
) -> Result<(), VaultError> {
    match value {
        Some(value) => {
            let payload = keys.seal_row(SECRETS, name.as_bytes(), value);
            conn.prepare_cached(
                "INSERT INTO secrets (name, payload) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET payload = excluded.payload",
            )?
            .execute(params![name, payload])?;
            staged.set_secret(name, Some(state::secret_digest(name, &payload)));
        }
        None => {
            conn.prepare_cached("DELETE FROM secrets WHERE name = ?1")?
                .execute([name])?;
            staged.set_secret(name, None);
        }
    }
    Ok(())
}
