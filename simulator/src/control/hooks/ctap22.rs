//! What the `ctap2_1` profile hides of the core's CTAP 2.2 features, so that
//! it looks like a CTAP 2.1 key; `ctap2_2` shows them all.
//!
//! - getInfo: no member past 0x14 (attestationFormats, encIdentifier,
//!   transportsForReset, pinComplexityPolicy, maxPINLength,
//!   encCredStoreState, authenticatorConfigCommands, …), no `perCredMgmtRO`
//!   option, no `thirdPartyPayment` or `pinComplexityPolicy` extension;
//! - clientPIN: the `pcmr` permission is refused
//!   (`CTAP2_ERR_UNAUTHORIZED_PERMISSION`);
//! - makeCredential and getAssertion: the `thirdPartyPayment` and
//!   `pinComplexityPolicy` inputs are removed before the core sees them, as a
//!   CTAP 2.1 key ignores extensions it does not know.

use ciborium::Value;
use softkey_authenticator::cbor;

use crate::control::cbor_fields::{decode_map, int_key, int_value, text_key};

/// CTAP2_ERR_UNAUTHORIZED_PERMISSION.
pub const UNAUTHORIZED_PERMISSION: u8 = 0x40;

/// The pcmr permission bit.
const PCMR: i128 = 0x40;

/// The last getInfo member CTAP 2.1 defines (remainingDiscoverableCredentials).
pub const LAST_CTAP21_INFO_MEMBER: i128 = 0x14;

/// The getInfo option that CTAP 2.2 adds and softkey sets.
pub const CTAP22_OPTIONS: [&str; 1] = ["perCredMgmtRO"];

/// Extensions CTAP 2.2 adds that softkey's core offers.
pub const CTAP22_EXTENSIONS: [&str; 2] = ["thirdPartyPayment", "pinComplexityPolicy"];

/// A clientPIN request for a token with the pcmr permission: refused.
pub fn refusal(payload: &[u8]) -> Option<u8> {
    if payload.first() != Some(&0x06) {
        return None;
    }
    let parameters = payload.get(1..).and_then(decode_map)?;
    let permissions = int_value(&parameters, 9)?;
    (permissions & PCMR != 0).then_some(UNAUTHORIZED_PERMISSION)
}

/// Removes the CTAP 2.2 extension inputs from makeCredential (member 6) and
/// getAssertion (member 4).
pub fn strip_extensions(payload: &mut Vec<u8>) {
    let extensions_key = match payload.first() {
        Some(0x01) => 6,
        Some(0x02) => 4,
        _ => return,
    };
    let Some(mut entries) = payload.get(1..).and_then(decode_map) else {
        return;
    };
    let mut changed = false;
    for (key, value) in &mut entries {
        let Value::Map(inputs) = value else { continue };
        if !int_key(key, extensions_key) {
            continue;
        }
        let before = inputs.len();
        inputs.retain(|(name, _)| !CTAP22_EXTENSIONS.iter().any(|e| text_key(name, e)));
        changed |= inputs.len() != before;
    }
    if changed {
        let command = payload.first().copied().unwrap_or(0);
        *payload = std::iter::once(command)
            .chain(cbor::encode(Value::Map(entries)))
            .collect();
    }
}

/// Whether a getInfo member (by key) or an option / extension name is CTAP
/// 2.2's.
pub fn is_ctap22_member(key: i128) -> bool {
    key > LAST_CTAP21_INFO_MEMBER
}

/// Whether `name` is a CTAP 2.2 option or extension identifier.
pub fn is_ctap22_name(name: &Value) -> bool {
    CTAP22_OPTIONS
        .iter()
        .chain(CTAP22_EXTENSIONS.iter())
        .any(|n| text_key(name, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(command: u8, parameters: Vec<(Value, Value)>) -> Vec<u8> {
        std::iter::once(command)
            .chain(cbor::encode(Value::Map(parameters)))
            .collect()
    }

    #[test]
    fn ctap2_1_profile_refuses_pcmr_and_drops_ctap22_inputs() {
        let pcmr = request(
            0x06,
            vec![
                (Value::from(2), Value::from(9)),
                (Value::from(9), Value::from(0x40)),
            ],
        );
        assert_eq!(refusal(&pcmr), Some(UNAUTHORIZED_PERMISSION));
        let cm = request(
            0x06,
            vec![
                (Value::from(2), Value::from(9)),
                (Value::from(9), Value::from(0x04)),
            ],
        );
        assert_eq!(refusal(&cm), None);
        let extensions = Value::Map(vec![
            (Value::Text("credProtect".into()), Value::from(2)),
            (Value::Text("thirdPartyPayment".into()), Value::Bool(true)),
            (Value::Text("pinComplexityPolicy".into()), Value::Bool(true)),
        ]);
        let mut make = request(0x01, vec![(Value::from(6), extensions)]);
        strip_extensions(&mut make);
        assert_eq!(
            decode_map(&make[1..]).unwrap(),
            vec![(
                Value::from(6),
                Value::Map(vec![(Value::Text("credProtect".into()), Value::from(2))])
            )]
        );
        let untouched = request(
            0x02,
            vec![(Value::from(1), Value::Text("example.com".into()))],
        );
        let mut same = untouched.clone();
        strip_extensions(&mut same);
        assert_eq!(same, untouched);
    }

    #[test]
    fn ctap2_1_profile_hides_ctap22_info_and_ctap2_2_shows_it() {
        use crate::control::events::EventSink;
        use crate::control::hooks::{ControlState, Profile, rewrite_get_info};
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let text = |t: &str| Value::Text(t.into());
        let info = cbor::encode(Value::Map(vec![
            (
                Value::from(2),
                Value::Array(vec![
                    text("credProtect"),
                    text("thirdPartyPayment"),
                    text("pinComplexityPolicy"),
                ]),
            ),
            (
                Value::from(4),
                Value::Map(vec![
                    (text("rk"), Value::Bool(true)),
                    (text("perCredMgmtRO"), Value::Bool(true)),
                ]),
            ),
            (Value::from(0x14), Value::from(10)),
            (Value::from(0x16), Value::Array(vec![text("packed")])),
            (Value::from(0x1F), Value::Array(vec![Value::from(2)])),
        ]));
        let reply: Vec<u8> = std::iter::once(0).chain(info).collect();
        let state = |profile| {
            ControlState::new(
                "t".into(),
                profile,
                true,
                "usb".into(),
                Arc::new(AtomicBool::new(false)),
                EventSink::default(),
            )
        };
        let mut ctap21 = reply.clone();
        rewrite_get_info(&state(Profile::Ctap2_1), &mut ctap21);
        assert_eq!(
            decode_map(&ctap21[1..]).unwrap(),
            vec![
                (Value::from(2), Value::Array(vec![text("credProtect")])),
                (
                    Value::from(4),
                    Value::Map(vec![(text("rk"), Value::Bool(true))])
                ),
                (Value::from(0x14), Value::from(10)),
            ]
        );
        let mut ctap22 = reply.clone();
        rewrite_get_info(&state(Profile::Ctap2_2), &mut ctap22);
        assert_eq!(decode_map(&ctap22[1..]), decode_map(&reply[1..]));
    }
}
