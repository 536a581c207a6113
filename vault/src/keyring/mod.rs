//! Keyring slots: a key slot whose secret lives in the desktop keyring, reached
//! through the freedesktop.org [Secret Service API] on the D-Bus session bus
//! (GNOME Keyring, KeePassXC, KWallet).
//!
//! ```text
//!  slot add:    32 random bytes ──CreateItem──► default collection
//!                    └─HKDF-SHA256(salt, "softkey-vault/v1/keyring")─► KEK ─wrap─► slot row
//!  slot unlock: SearchItems(attributes) ─(Unlock if locked)─ GetSecret ─HKDF─► KEK ─unwrap─► master key
//!  slot remove: SearchItems(attributes) ─ Item.Delete, then the slot row
//! ```
//!
//! The item carries the attributes `application = softkey`,
//! `softkey-vault = <vault id, hex>` and `softkey-slot = <slot id>`, and the
//! label `softkey vault <vault id> slot <n>`. Secrets cross the bus encrypted
//! (`dh-ietf1024-sha256-aes128-cbc-pkcs7`, see `session.rs`).
//!
//! The D-Bus client needs the cargo feature `keyring` (zbus); without it every
//! keyring operation fails with [`VaultError::KeyringNotBuilt`], while vaults
//! that hold keyring slots still open with their other slots.
//!
//! [Secret Service API]: https://specifications.freedesktop.org/secret-service/latest/

#[cfg(feature = "keyring")]
mod service;
#[cfg(feature = "keyring")]
mod session;

use zeroize::Zeroizing;

use crate::error::VaultError;

/// Which D-Bus bus to find the Secret Service on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringBus {
    /// The session bus (`DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`).
    #[default]
    Session,
    /// A bus at this D-Bus address (`unix:path=…`), e.g. a private test bus.
    Address(String),
}

/// Bytes of the secret kept in the keyring item.
pub(crate) const SECRET_LEN: usize = 32;

/// Identifies one slot's item in the keyring.
pub(crate) struct ItemId<'a> {
    /// The vault's id (`meta.vault_id`).
    pub(crate) vault_id: &'a [u8],
    /// The slot's id.
    pub(crate) slot: i64,
}

impl ItemId<'_> {
    /// The item's lookup attributes.
    #[cfg_attr(not(feature = "keyring"), allow(dead_code))]
    pub(crate) fn attributes(&self) -> [(&'static str, String); 3] {
        [
            ("application", "softkey".to_owned()),
            ("softkey-vault", hex::encode(self.vault_id)),
            ("softkey-slot", self.slot.to_string()),
        ]
    }

    /// The label a keyring manager shows.
    #[cfg_attr(not(feature = "keyring"), allow(dead_code))]
    pub(crate) fn label(&self) -> String {
        format!(
            "softkey vault {} slot {}",
            hex::encode(self.vault_id),
            self.slot
        )
    }
}

/// Stores a fresh random secret as the item of `id` (replacing any item with the
/// same attributes) and returns it.
pub(crate) fn create_secret(
    bus: &KeyringBus,
    id: &ItemId<'_>,
) -> Result<Zeroizing<[u8; SECRET_LEN]>, VaultError> {
    #[cfg(feature = "keyring")]
    {
        let secret = Zeroizing::new(crate::sealing::random_bytes::<SECRET_LEN>());
        service::Client::connect(bus)?.store(id, secret.as_ref())?;
        Ok(secret)
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = (bus, id);
        Err(VaultError::KeyringNotBuilt)
    }
}

/// Opens a connection for looking up the items of several slots.
pub(crate) struct Lookup {
    #[cfg(feature = "keyring")]
    client: service::Client,
}

impl Lookup {
    /// Connects to the Secret Service on `bus`.
    pub(crate) fn connect(bus: &KeyringBus) -> Result<Self, VaultError> {
        #[cfg(feature = "keyring")]
        {
            Ok(Self {
                client: service::Client::connect(bus)?,
            })
        }
        #[cfg(not(feature = "keyring"))]
        {
            let _ = bus;
            Err(VaultError::KeyringNotBuilt)
        }
    }

    /// The secret of `id`'s item (unlocking it if needed), `None` if there is no
    /// such item.
    pub(crate) fn secret(&self, id: &ItemId<'_>) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        #[cfg(feature = "keyring")]
        {
            self.client.fetch(id)
        }
        #[cfg(not(feature = "keyring"))]
        {
            let _ = id;
            Err(VaultError::KeyringNotBuilt)
        }
    }
}

/// Deletes `id`'s item; an item already gone is not an error. Returns whether
/// one was deleted.
pub(crate) fn delete(bus: &KeyringBus, id: &ItemId<'_>) -> Result<bool, VaultError> {
    #[cfg(feature = "keyring")]
    {
        service::Client::connect(bus)?.delete(id)
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = (bus, id);
        Err(VaultError::KeyringNotBuilt)
    }
}
