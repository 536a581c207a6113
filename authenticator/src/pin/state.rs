//! Persistent PIN state and authenticator configuration, kept as opaque
//! settings in the [`Store`] (which seals them).
//!
//! ## Formats (storage contracts: never reuse a key)
//! - `SettingKey::PinState`: CBOR map {0: format version (1), 1: LEFT(SHA-256(PIN), 16),
//!   2: PIN length in code points, 3: pinRetries, 4: uvRetries, 5: minimum PIN
//!   length, 6: forcePINChange, 7: built-in verifications since the last
//!   correct PIN (getInfo `uvCountSinceLastPinEntry`)}.
//! - `SettingKey::Config`: CBOR map {0: format version (1), 1: alwaysUv,
//!   2: minPinLengthRPIDs (array of text), 3: enterprise attestation enabled,
//!   4: PIN complexity policy on}.

use ciborium::Value;

use crate::cbor::{self, IntMap};
use crate::secret::SecretBytes;
use crate::status::StatusCode;
use crate::store::{SettingKey, Store, StoreError};

/// PIN retries after a factory reset or a correct PIN (CTAP 2.1 §6.5.2.2: 8).
pub const MAX_PIN_RETRIES: u8 = 8;
/// Built-in UV retries (CTAP 2.1 §6.5.2.3: at most 25; softkey uses 8).
pub const MAX_UV_RETRIES: u8 = 8;
/// Default minimum PIN length in code points (CTAP 2.1 §6.4: 4).
pub const DEFAULT_MIN_PIN_LENGTH: u8 = 4;
/// Longest PIN, in bytes (CTAP 2.1 §6.5.1: 63).
pub const MAX_PIN_BYTES: usize = 63;
/// maxRPIDsForSetMinPINLength advertised in getInfo.
pub const MAX_MIN_PIN_LENGTH_RP_IDS: usize = 8;
const FORMAT_VERSION: i64 = 1;

/// The persistent PIN state.
pub struct PinState {
    /// LEFT(SHA-256(PIN), 16), when a PIN is set.
    pub pin_hash: Option<SecretBytes>,
    /// Length of the current PIN in Unicode code points.
    pub pin_code_points: u8,
    /// pinRetries.
    pub pin_retries: u8,
    /// uvRetries.
    pub uv_retries: u8,
    /// Current minimum PIN length.
    pub min_pin_length: u8,
    /// forcePINChange.
    pub force_change: bool,
    /// Successful built-in user verifications since the last correct PIN
    /// (getInfo `uvCountSinceLastPinEntry`, CTAP 2.2).
    pub uv_count_since_pin: u32,
}

impl std::fmt::Debug for PinState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinState")
            .field("is_set", &self.pin_hash.is_some())
            .field("pin_retries", &self.pin_retries)
            .field("uv_retries", &self.uv_retries)
            .field("min_pin_length", &self.min_pin_length)
            .field("force_change", &self.force_change)
            .field("uv_count_since_pin", &self.uv_count_since_pin)
            .finish_non_exhaustive()
    }
}

impl Default for PinState {
    fn default() -> Self {
        Self {
            pin_hash: None,
            pin_code_points: 0,
            pin_retries: MAX_PIN_RETRIES,
            uv_retries: MAX_UV_RETRIES,
            min_pin_length: DEFAULT_MIN_PIN_LENGTH,
            force_change: false,
            uv_count_since_pin: 0,
        }
    }
}

fn corrupt(what: &str) -> StatusCode {
    tracing::error!("stored {what} is corrupt");
    StatusCode::from(StoreError::Corrupt(what.to_owned()))
}

fn optional_bool(value: Option<Value>) -> Result<bool, StatusCode> {
    Ok(value
        .map(|v| cbor::as_bool(&v))
        .transpose()?
        .unwrap_or(false))
}

fn small(value: Option<Value>, default: u8) -> Result<u8, StatusCode> {
    match value {
        None => Ok(default),
        Some(v) => u8::try_from(cbor::as_u64(&v)?).map_err(|_| StatusCode::InvalidCbor),
    }
}

impl PinState {
    /// Whether a PIN is set.
    pub fn is_set(&self) -> bool {
        self.pin_hash.is_some()
    }

    /// Reads the state (the defaults when none was stored).
    pub fn load<S: Store>(store: &mut S) -> Result<Self, StatusCode> {
        let Some(bytes) = store.setting(SettingKey::PinState)? else {
            return Ok(Self::default());
        };
        Self::decode(bytes.expose_secret()).map_err(|_| corrupt("PIN state"))
    }

    fn decode(bytes: &[u8]) -> Result<Self, StatusCode> {
        let mut map = IntMap::new(cbor::decode(bytes)?)?;
        if cbor::as_i64(&map.require(0)?)? != FORMAT_VERSION {
            return Err(StatusCode::InvalidCbor);
        }
        let pin_hash = map
            .take(1)
            .map(|v| cbor::into_bytes(v).map(SecretBytes::new))
            .transpose()?;
        Ok(Self {
            pin_hash,
            pin_code_points: small(map.take(2), 0)?,
            pin_retries: small(map.take(3), MAX_PIN_RETRIES)?,
            uv_retries: small(map.take(4), MAX_UV_RETRIES)?,
            min_pin_length: small(map.take(5), DEFAULT_MIN_PIN_LENGTH)?,
            force_change: optional_bool(map.take(6))?,
            uv_count_since_pin: map
                .take(7)
                .map(|v| cbor::as_u64(&v))
                .transpose()?
                .map_or(0, |count| u32::try_from(count).unwrap_or(u32::MAX)),
        })
    }

    /// Writes the state durably.
    pub fn save<S: Store>(&self, store: &mut S) -> Result<(), StatusCode> {
        let mut entries = vec![(cbor::int(0), cbor::int(FORMAT_VERSION))];
        if let Some(hash) = &self.pin_hash {
            entries.push((cbor::int(1), cbor::bytes(hash.expose_secret())));
        }
        entries.extend([
            (cbor::int(2), cbor::int(i64::from(self.pin_code_points))),
            (cbor::int(3), cbor::int(i64::from(self.pin_retries))),
            (cbor::int(4), cbor::int(i64::from(self.uv_retries))),
            (cbor::int(5), cbor::int(i64::from(self.min_pin_length))),
            (cbor::int(6), Value::Bool(self.force_change)),
            (cbor::int(7), cbor::int(i64::from(self.uv_count_since_pin))),
        ]);
        let encoded = cbor::encode_secret(Value::Map(entries));
        store.put_setting(SettingKey::PinState, Some(&encoded))?;
        Ok(())
    }
}

/// authenticatorConfig settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticatorSettings {
    /// alwaysUv.
    pub always_uv: bool,
    /// minPinLengthRPIDs: relying parties the minPinLength and
    /// pinComplexityPolicy extensions answer.
    pub min_pin_length_rp_ids: Vec<String>,
    /// Enterprise attestation enabled (getInfo `ep` true), by
    /// authenticatorConfig enableEnterpriseAttestation.
    pub enterprise_attestation: bool,
    /// The PIN complexity policy is on (getInfo `pinComplexityPolicy` true).
    pub pin_complexity_policy: bool,
}

impl AuthenticatorSettings {
    /// Reads the settings (the defaults when none were stored).
    pub fn load<S: Store>(store: &mut S) -> Result<Self, StatusCode> {
        let Some(bytes) = store.setting(SettingKey::Config)? else {
            return Ok(Self::default());
        };
        Self::decode(bytes.expose_secret()).map_err(|_| corrupt("configuration"))
    }

    fn decode(bytes: &[u8]) -> Result<Self, StatusCode> {
        let mut map = IntMap::new(cbor::decode(bytes)?)?;
        if cbor::as_i64(&map.require(0)?)? != FORMAT_VERSION {
            return Err(StatusCode::InvalidCbor);
        }
        let always_uv = optional_bool(map.take(1))?;
        let min_pin_length_rp_ids = map
            .take(2)
            .map(|v| {
                cbor::into_array(v)?
                    .into_iter()
                    .map(cbor::into_text)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            always_uv,
            min_pin_length_rp_ids,
            enterprise_attestation: optional_bool(map.take(3))?,
            pin_complexity_policy: optional_bool(map.take(4))?,
        })
    }

    /// Writes the settings durably.
    pub fn save<S: Store>(&self, store: &mut S) -> Result<(), StatusCode> {
        let value = Value::Map(vec![
            (cbor::int(0), cbor::int(FORMAT_VERSION)),
            (cbor::int(1), Value::Bool(self.always_uv)),
            (
                cbor::int(2),
                Value::Array(
                    self.min_pin_length_rp_ids
                        .iter()
                        .map(|r| cbor::text(r))
                        .collect(),
                ),
            ),
            (cbor::int(3), Value::Bool(self.enterprise_attestation)),
            (cbor::int(4), Value::Bool(self.pin_complexity_policy)),
        ]);
        store.put_setting(SettingKey::Config, Some(&cbor::encode(value)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::secret::Secret32;
    use crate::store::MemoryStore;

    #[test]
    fn pin_state_round_trips_and_defaults() {
        let mut store = MemoryStore::new(Secret32::new([1; 32]));
        let fresh = PinState::load(&mut store).unwrap();
        assert!(!fresh.is_set());
        assert_eq!(fresh.pin_retries, 8);
        let state = PinState {
            pin_hash: Some(SecretBytes::from_slice(&[7; 16])),
            pin_code_points: 6,
            pin_retries: 3,
            uv_retries: 5,
            min_pin_length: 6,
            force_change: true,
            uv_count_since_pin: 3,
        };
        state.save(&mut store).unwrap();
        let back = PinState::load(&mut store).unwrap();
        assert!(back.pin_hash.unwrap().ct_eq(&[7; 16]));
        assert_eq!(
            (
                back.pin_code_points,
                back.pin_retries,
                back.uv_retries,
                back.min_pin_length,
                back.force_change,
                back.uv_count_since_pin
            ),
            (6, 3, 5, 6, true, 3)
        );
        store
            .put_setting(SettingKey::PinState, Some(&[0xa1, 0x00, 0x02]))
            .unwrap();
        assert_eq!(PinState::load(&mut store).unwrap_err(), StatusCode::Other);
    }

    #[test]
    fn settings_round_trip() {
        let mut store = MemoryStore::new(Secret32::new([1; 32]));
        assert_eq!(
            AuthenticatorSettings::load(&mut store).unwrap(),
            AuthenticatorSettings::default()
        );
        let settings = AuthenticatorSettings {
            always_uv: true,
            min_pin_length_rp_ids: vec!["example.com".into()],
            enterprise_attestation: true,
            pin_complexity_policy: true,
        };
        settings.save(&mut store).unwrap();
        assert_eq!(AuthenticatorSettings::load(&mut store).unwrap(), settings);
    }
}
