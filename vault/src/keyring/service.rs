//! The Secret Service client: zbus (async) driven by a small current-thread
//! tokio runtime, so the vault's API stays blocking.
//!
//! Calls used, from the [Secret Service API]: `Service.OpenSession`,
//! `Service.ReadAlias("default")`, `Service.SearchItems`, `Service.Unlock`,
//! `Collection.CreateItem`, `Item.GetSecret`, `Item.Delete`, `Session.Close`,
//! and `Prompt.Prompt` with its `Completed` signal when the service asks for one.
//!
//! [Secret Service API]: https://specifications.freedesktop.org/secret-service/latest/

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use zbus::{Connection, OwnedObjectPath, OwnedVariant, Proxy, Variant};
use zeroize::Zeroizing;

use super::session::{ALGORITHM, KeyPair, SessionKey};
use super::{ItemId, KeyringBus, SECRET_LEN};
use crate::error::VaultError;

const SERVICE: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_INTERFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_INTERFACE: &str = "org.freedesktop.Secret.Item";
const SESSION_INTERFACE: &str = "org.freedesktop.Secret.Session";
const PROMPT_INTERFACE: &str = "org.freedesktop.Secret.Prompt";
/// The path the spec uses for "no object" (no prompt needed, no collection).
const NO_OBJECT: &str = "/";
/// How long a person has to answer the keyring's own unlock prompt.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The spec's `Secret` struct `(oayays)`: session, parameters (the IV), value,
/// content type.
type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

/// An open Secret Service session.
pub(crate) struct Client {
    connection: Connection,
    session: OwnedObjectPath,
    key: SessionKey,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.session.as_str())
            .finish_non_exhaustive()
    }
}

/// Maps a D-Bus failure to the vault's named keyring errors.
fn keyring_error(doing: &'static str, error: zbus::Error) -> VaultError {
    match &error {
        zbus::Error::Connection(..)
        | zbus::Error::Address(_)
        | zbus::Error::InputOutput(_)
        | zbus::Error::Handshake(_) => VaultError::NoSecretService {
            reason: format!("cannot reach the D-Bus session bus: {error}"),
        },
        zbus::Error::FDO(fdo)
            if matches!(
                **fdo,
                zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
            ) =>
        {
            VaultError::NoSecretService {
                reason: format!("nothing on the bus provides {SERVICE}"),
            }
        }
        zbus::Error::MethodError(name, message, _)
            if name.as_str() == "org.freedesktop.Secret.Error.IsLocked" =>
        {
            VaultError::KeyringLocked {
                reason: message
                    .clone()
                    .unwrap_or_else(|| "the item is locked".into()),
            }
        }
        _ => VaultError::Keyring {
            doing,
            message: error.to_string(),
        },
    }
}

impl Client {
    /// Connects to `bus` and opens an encrypted session.
    pub(crate) fn connect(bus: &KeyringBus) -> Result<Self, VaultError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| VaultError::io("starting the keyring client's runtime", e))?;
        let keys = KeyPair::generate();
        let (connection, session, service_public) = runtime.block_on(async {
            let builder = match bus {
                KeyringBus::Session => zbus::connection::Builder::session(),
                KeyringBus::Address(address) => {
                    zbus::connection::Builder::address(address.as_str())
                }
            };
            let connection = builder
                .build()
                .await
                .map_err(|e| keyring_error("connecting to the bus", e))?;
            let service = service_proxy(&connection).await?;
            let (output, session): (OwnedVariant, OwnedObjectPath) = service
                .call("OpenSession", &(ALGORITHM, Variant::from(keys.public())))
                .await
                .map_err(|e| keyring_error("opening a session", e))?;
            let service_public: Vec<u8> = output.try_into().map_err(|_| VaultError::Keyring {
                doing: "opening a session",
                message: "the service's public key is not a byte array".into(),
            })?;
            Ok::<_, VaultError>((connection, session, service_public))
        })?;
        let key = keys
            .session_key(&service_public)
            .map_err(|_| VaultError::Keyring {
                doing: "opening a session",
                message: "the service's Diffie-Hellman public key is out of range".into(),
            })?;
        Ok(Self {
            connection,
            session,
            key,
            runtime,
        })
    }

    /// Stores `secret` as `id`'s item in the default collection, replacing an
    /// item with the same attributes.
    pub(crate) fn store(&self, id: &ItemId<'_>, secret: &[u8]) -> Result<(), VaultError> {
        self.runtime.block_on(async {
            let service = service_proxy(&self.connection).await?;
            let collection: OwnedObjectPath = service
                .call("ReadAlias", &("default",))
                .await
                .map_err(|e| keyring_error("finding the default collection", e))?;
            if collection.as_str() == NO_OBJECT {
                return Err(VaultError::Keyring {
                    doing: "finding the default collection",
                    message: "the keyring has no default collection; create one (e.g. \
                              \"Login\" in Seahorse) or set one as default"
                        .into(),
                });
            }
            let collection_proxy = self.proxy(collection.clone(), COLLECTION_INTERFACE).await?;
            let locked: bool = collection_proxy
                .get_property("Locked")
                .await
                .map_err(|e| keyring_error("reading the default collection", e))?;
            if locked {
                self.unlock(vec![collection]).await?;
            }
            let attributes: HashMap<&str, String> = id.attributes().into_iter().collect();
            let mut properties: HashMap<&str, Variant<'_>> = HashMap::new();
            properties.insert(
                "org.freedesktop.Secret.Item.Label",
                Variant::from(id.label()),
            );
            properties.insert(
                "org.freedesktop.Secret.Item.Attributes",
                Variant::from(attributes),
            );
            let (parameters, value) = self.key.encrypt(secret);
            let secret: Secret = (
                self.session.clone(),
                parameters,
                value,
                "application/octet-stream".into(),
            );
            let (_item, prompt): (OwnedObjectPath, OwnedObjectPath) = collection_proxy
                .call("CreateItem", &(properties, secret, true))
                .await
                .map_err(|e| keyring_error("creating the keyring item", e))?;
            if prompt.as_str() != NO_OBJECT {
                self.prompt(prompt).await?;
            }
            Ok(())
        })
    }

    /// The secret of `id`'s item, unlocking it first if it is locked; `None` if
    /// the keyring has no such item.
    pub(crate) fn fetch(&self, id: &ItemId<'_>) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        self.runtime.block_on(async {
            let Some(item) = self.find_unlocked(id).await?.into_iter().next() else {
                return Ok(None);
            };
            let item = self.proxy(item, ITEM_INTERFACE).await?;
            let (_session, parameters, value, _content_type): Secret =
                match item.call("GetSecret", &(&self.session,)).await {
                    Ok(secret) => secret,
                    // Deleted between the search and now.
                    Err(zbus::Error::FDO(fdo))
                        if matches!(
                            *fdo,
                            zbus::fdo::Error::UnknownObject(_) | zbus::fdo::Error::UnknownMethod(_)
                        ) =>
                    {
                        return Ok(None);
                    }
                    Err(e) => return Err(keyring_error("reading the keyring item", e)),
                };
            let secret =
                self.key
                    .decrypt(&parameters, &value)
                    .ok_or_else(|| VaultError::Keyring {
                        doing: "reading the keyring item",
                        message: "the secret did not decrypt under the session key".into(),
                    })?;
            if secret.len() != SECRET_LEN {
                return Err(VaultError::Keyring {
                    doing: "reading the keyring item",
                    message: format!(
                        "the item holds {} bytes, not the {SECRET_LEN} softkey stored",
                        secret.len()
                    ),
                });
            }
            Ok(Some(secret))
        })
    }

    /// Deletes `id`'s items; returns whether there was one.
    pub(crate) fn delete(&self, id: &ItemId<'_>) -> Result<bool, VaultError> {
        self.runtime.block_on(async {
            let items = self.find_unlocked(id).await?;
            let deleted = !items.is_empty();
            for item in items {
                let item = self.proxy(item, ITEM_INTERFACE).await?;
                let prompt: OwnedObjectPath = item
                    .call("Delete", &())
                    .await
                    .map_err(|e| keyring_error("deleting the keyring item", e))?;
                if prompt.as_str() != NO_OBJECT {
                    self.prompt(prompt).await?;
                }
            }
            Ok(deleted)
        })
    }

    /// The items with `id`'s attributes (normally one), the locked ones
    /// unlocked first.
    async fn find_unlocked(&self, id: &ItemId<'_>) -> Result<Vec<OwnedObjectPath>, VaultError> {
        let attributes: HashMap<&str, String> = id.attributes().into_iter().collect();
        let service = service_proxy(&self.connection).await?;
        let (unlocked, locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) = service
            .call("SearchItems", &(attributes,))
            .await
            .map_err(|e| keyring_error("searching the keyring", e))?;
        if !locked.is_empty() {
            self.unlock(locked.clone()).await?;
        }
        Ok(unlocked.into_iter().chain(locked).collect())
    }

    /// `Service.Unlock` for `objects`, through the service's prompt if it needs one.
    async fn unlock(&self, objects: Vec<OwnedObjectPath>) -> Result<(), VaultError> {
        let service = service_proxy(&self.connection).await?;
        let (unlocked, prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) = service
            .call("Unlock", &(&objects,))
            .await
            .map_err(|e| keyring_error("unlocking the keyring", e))?;
        if unlocked.len() >= objects.len() {
            return Ok(());
        }
        if prompt.as_str() == NO_OBJECT {
            return Err(VaultError::KeyringLocked {
                reason: "the service refused to unlock it and offered no prompt".into(),
            });
        }
        let result = self.prompt(prompt).await?;
        let unlocked: Vec<OwnedObjectPath> = result.try_into().unwrap_or_default();
        if unlocked.len() < objects.len() {
            return Err(VaultError::KeyringLocked {
                reason: "the unlock prompt finished without unlocking it".into(),
            });
        }
        Ok(())
    }

    /// Shows a service prompt (`Prompt.Prompt` with no parent window) and waits
    /// for its `Completed` signal: its result, or [`VaultError::KeyringLocked`]
    /// when dismissed or unanswered.
    async fn prompt(&self, path: OwnedObjectPath) -> Result<OwnedVariant, VaultError> {
        let prompt = self.proxy(path, PROMPT_INTERFACE).await?;
        let mut completed = prompt
            .receive_signal("Completed")
            .await
            .map_err(|e| keyring_error("waiting for the keyring's prompt", e))?;
        prompt
            .call::<_, _, ()>("Prompt", &("",))
            .await
            .map_err(|e| keyring_error("showing the keyring's prompt", e))?;
        match tokio::time::timeout(PROMPT_TIMEOUT, completed.next()).await {
            Err(_elapsed) => {
                let _ = prompt.call::<_, _, ()>("Dismiss", &()).await;
                Err(VaultError::KeyringLocked {
                    reason: format!(
                        "its prompt got no answer within {} s (no desktop session to show it in?)",
                        PROMPT_TIMEOUT.as_secs()
                    ),
                })
            }
            Ok(None) => Err(VaultError::Keyring {
                doing: "waiting for the keyring's prompt",
                message: "the connection closed".into(),
            }),
            Ok(Some(message)) => {
                let (dismissed, result): (bool, OwnedVariant) = message
                    .body()
                    .deserialize()
                    .map_err(|e| keyring_error("reading the prompt's answer", e))?;
                if dismissed {
                    return Err(VaultError::KeyringLocked {
                        reason: "its prompt was dismissed (or could not be shown)".into(),
                    });
                }
                Ok(result)
            }
        }
    }

    async fn proxy(
        &self,
        path: OwnedObjectPath,
        interface: &'static str,
    ) -> Result<Proxy<'static>, VaultError> {
        zbus::proxy::Builder::<Proxy<'static>>::new(&self.connection)
            .destination(SERVICE)
            .path(path)
            .interface(interface)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(|e| keyring_error("addressing the Secret Service", e))
    }
}

async fn service_proxy(connection: &Connection) -> Result<Proxy<'static>, VaultError> {
    zbus::proxy::Builder::<Proxy<'static>>::new(connection)
        .destination(SERVICE)
        .path(SERVICE_PATH)
        .interface(SERVICE_INTERFACE)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| keyring_error("addressing the Secret Service", e))
}

impl Drop for Client {
    fn drop(&mut self) {
        // Best effort: the service also closes the session when we disconnect.
        let _ = self.runtime.block_on(async {
            let session = self.proxy(self.session.clone(), SESSION_INTERFACE).await?;
            session
                .call::<_, _, ()>("Close", &())
                .await
                .map_err(|e| keyring_error("closing the session", e))
        });
    }
}
