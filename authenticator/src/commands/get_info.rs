//! authenticatorGetInfo (CTAP 2.1 §6.4, CTAP 2.2 §6.4): exactly what is
//! built, nothing more.
//!
//! CTAP 2.2 members: attestationFormats (0x16), uvCountSinceLastPinEntry
//! (0x17, with built-in UV), encIdentifier (0x19) and encCredStoreState
//! (0x1E) under the persistentPinUvAuthToken (a fresh IV each call),
//! transportsForReset (0x1A), pinComplexityPolicy (0x1B), maxPINLength (0x1D),
//! authenticatorConfigCommands (0x1F). Not sent: vendorPrototypeConfigCommands
//! (0x15, none), longTouchForReset (0x18: softkey has no button to hold, and
//! its presence would claim the feature), pinComplexityPolicyURL (0x1C, none).

use ciborium::Value;

use crate::authenticator::Context;
use crate::cbor::{bytes, int, text};
use crate::commands::Response;
use crate::credential::MAX_CREDENTIAL_ID_LEN;
use crate::crypto::Algorithm;
use crate::pin::persistent::{Member, PersistentState};
use crate::pin::state::{MAX_MIN_PIN_LENGTH_RP_IDS, MAX_PIN_BYTES};
use crate::pin::{AuthenticatorSettings, PinState, Protocol};
use crate::status::StatusCode;
use crate::store::Store;

/// Largest CTAP2 message accepted: the CTAPHID maximum (CTAP 2.1 §11.2.4).
pub const MAX_MSG_SIZE: i64 = crate::commands::message_size::MAX_MSG_SIZE as i64;

pub(crate) fn handle<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<Response, StatusCode> {
    let pin = PinState::load(&mut ctx.store)?;
    let settings = AuthenticatorSettings::load(&mut ctx.store)?;
    let mut options = vec![
        (text("rk"), Value::Bool(true)),
        (text("up"), Value::Bool(true)),
        (text("plat"), Value::Bool(false)),
        // Present: supported; the value says whether a PIN is set.
        (text("clientPin"), Value::Bool(pin.is_set())),
        (text("pinUvAuthToken"), Value::Bool(true)),
        (text("credMgmt"), Value::Bool(true)),
        (text("authnrCfg"), Value::Bool(true)),
        (text("setMinPINLength"), Value::Bool(true)),
        (text("alwaysUv"), Value::Bool(settings.always_uv)),
        // Non-discoverable credentials without UV, unless alwaysUv forbids it.
        (text("makeCredUvNotRqd"), Value::Bool(!settings.always_uv)),
        // authenticatorLargeBlobs with the largeBlobKey extension.
        (text("largeBlobs"), Value::Bool(true)),
        // The persistentPinUvAuthToken and the pcmr permission (CTAP 2.2).
        (text("perCredMgmtRO"), Value::Bool(true)),
    ];
    if ctx.config.built_in_uv {
        options.push((text("uv"), Value::Bool(true)));
        // getPinUvAuthTokenUsingUvWithPermissions grants acfg.
        options.push((text("uvAcfg"), Value::Bool(true)));
    }
    let enterprise = ctx.config.enterprise_attestation.is_some();
    if enterprise {
        // Present: capable; the value says whether it is enabled.
        options.push((text("ep"), Value::Bool(settings.enterprise_attestation)));
    }
    let options = Value::Map(options);
    // CTAP 2.1 as a whole: PIN/UV protocol two, permission-scoped tokens,
    // credential management, authenticatorConfig, selection, large blobs.
    let mut versions = vec![text("FIDO_2_0"), text("FIDO_2_1")];
    // CTAP1/U2F cannot verify the user: it is off while alwaysUv is on
    // (CTAP 2.1 §7.2.2).
    if ctx.config.ctap1 && !settings.always_uv {
        versions.insert(0, text("U2F_V2"));
    }
    let protocols = Value::Array(
        Protocol::ALL
            .iter()
            .map(|p| int(i64::try_from(p.number()).unwrap_or(0)))
            .collect(),
    );
    let algorithms = Value::Array(
        Algorithm::ALL
            .iter()
            .filter(|alg| ctx.config.algorithms.contains(alg))
            .map(|alg| {
                Value::Map(vec![
                    (text("alg"), int(alg.cose_id())),
                    (text("type"), text("public-key")),
                ])
            })
            .collect(),
    );
    let mut entries = vec![
        (int(0x01), Value::Array(versions)),
        (
            int(0x02),
            Value::Array(
                crate::extensions::SUPPORTED
                    .iter()
                    .map(|e| text(e))
                    .collect(),
            ),
        ),
        (int(0x03), bytes(&ctx.config.aaguid)),
        (int(0x04), options),
        (int(0x05), int(MAX_MSG_SIZE)),
        (int(0x06), protocols),
        (
            int(0x07),
            int(i64::try_from(ctx.config.max_credential_count_in_list).unwrap_or(i64::MAX)),
        ),
        (
            int(0x08),
            int(i64::try_from(MAX_CREDENTIAL_ID_LEN).unwrap_or(i64::MAX)),
        ),
        (int(0x09), Value::Array(vec![text("usb")])),
        (int(0x0A), algorithms),
        (
            int(0x0B),
            int(
                i64::try_from(crate::commands::large_blobs::MAX_SERIALIZED_LARGE_BLOB_ARRAY)
                    .unwrap_or(0),
            ),
        ),
        (int(0x0C), Value::Bool(pin.force_change)),
        (int(0x0D), int(i64::from(pin.min_pin_length))),
        (int(0x0E), int(i64::from(ctx.config.firmware_version))),
        (
            int(0x0F),
            int(i64::try_from(crate::extensions::cred_blob::MAX_CRED_BLOB_LENGTH).unwrap_or(0)),
        ),
        (
            int(0x10),
            int(i64::try_from(MAX_MIN_PIN_LENGTH_RP_IDS).unwrap_or(0)),
        ),
    ];
    if ctx.config.built_in_uv {
        // preferredPlatformUvAttempts: one attempt per platform prompt.
        entries.push((int(0x11), int(1)));
    }
    if let Some(remaining) = ctx.store.remaining_capacity() {
        entries.push((int(0x14), int(i64::try_from(remaining).unwrap_or(i64::MAX))));
    }
    // attestationFormats (CTAP 2.2): the formats attestationFormatsPreference
    // can pick. "none", which every authenticator supports, is not listed.
    entries.push((int(0x16), Value::Array(vec![text("packed")])));
    if ctx.config.built_in_uv {
        // uvCountSinceLastPinEntry: built-in verifications since the last
        // correct PIN.
        entries.push((int(0x17), int(i64::from(pin.uv_count_since_pin))));
    }
    let persistent = PersistentState::load_or_create(&mut ctx.store, &mut ctx.rng)?;
    entries.push((
        int(0x19),
        Value::Bytes(persistent.encrypted(Member::Identifier, &mut ctx.rng)),
    ));
    // transportsForReset: authenticatorReset works on the one transport.
    entries.push((int(0x1A), Value::Array(vec![text("usb")])));
    // pinComplexityPolicy: supported; the value says whether it is on.
    entries.push((int(0x1B), Value::Bool(settings.pin_complexity_policy)));
    // maxPINLength in code points: a PIN is at most 63 bytes of UTF-8.
    entries.push((int(0x1D), int(i64::try_from(MAX_PIN_BYTES).unwrap_or(63))));
    entries.push((
        int(0x1E),
        Value::Bytes(persistent.encrypted(Member::CredStoreState, &mut ctx.rng)),
    ));
    entries.push((
        int(0x1F),
        Value::Array(
            crate::commands::config::subcommands(enterprise)
                .into_iter()
                .map(|c| int(i64::try_from(c).unwrap_or(0)))
                .collect(),
        ),
    ));
    Ok(Response(Some(Value::Map(entries))))
}
