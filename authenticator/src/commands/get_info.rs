//! authenticatorGetInfo (CTAP 2.1 §6.4): exactly what is built, nothing more.

use ciborium::Value;

use crate::authenticator::Context;
use crate::cbor::{bytes, int, text};
use crate::commands::Response;
use crate::credential::MAX_CREDENTIAL_ID_LEN;
use crate::crypto::Algorithm;
use crate::store::Store;

/// Largest CTAP2 message accepted: the CTAPHID maximum (CTAP 2.1 §11.2.4).
pub const MAX_MSG_SIZE: i64 = 7609;

pub(crate) fn handle<S: Store, R: rand_core::CryptoRng>(ctx: &mut Context<S, R>) -> Response {
    let options = Value::Map(vec![
        (text("rk"), Value::Bool(true)),
        (text("up"), Value::Bool(true)),
        (text("plat"), Value::Bool(false)),
    ]);
    let algorithms = Value::Array(
        Algorithm::ALL
            .iter()
            .map(|alg| {
                Value::Map(vec![
                    (text("alg"), int(alg.cose_id())),
                    (text("type"), text("public-key")),
                ])
            })
            .collect(),
    );
    let mut entries = vec![
        (int(0x01), Value::Array(vec![text("FIDO_2_0")])),
        (int(0x03), bytes(&ctx.config.aaguid)),
        (int(0x04), options),
        (int(0x05), int(MAX_MSG_SIZE)),
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
        (int(0x0E), int(i64::from(ctx.config.firmware_version))),
    ];
    if let Some(remaining) = ctx.store.remaining_capacity() {
        entries.push((int(0x14), int(i64::try_from(remaining).unwrap_or(i64::MAX))));
    }
    Response(Some(Value::Map(entries)))
}
