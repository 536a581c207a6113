//! The decoders a command's handler runs on parameters that
//! [`commands::parse`] keeps as CBOR — extension inputs (thirdPartyPayment,
//! pinComplexityPolicy, hmac-secret salts, …), setMinPINLength's parameters
//! (pinComplexityPolicy included), clientPIN permissions (pcmr) — reached
//! from whole requests by [`super::any_request`], and seeds that reach the
//! CTAP 2.2 ones.

use ciborium::Value;

use crate::cbor::{self, IntMap, bytes, int, text};
use crate::commands::{self, Command, client_pin, config};
use crate::extensions::{GetAssertionInputs, MakeCredentialInputs};
use crate::pin::KeyAgreementKey;

/// Runs the nested decoders of a parsed request; what they refuse is
/// refused with a status, never a panic.
pub(super) fn decode(command: &Command) {
    let key_agreement =
        KeyAgreementKey::from_scalar(&[0x11; 32]).expect("a fixed scalar below the order");
    match command {
        Command::MakeCredential(request) => {
            let _ = MakeCredentialInputs::parse(request.extensions.as_deref(), &key_agreement);
        }
        Command::GetAssertion(request) => {
            let up = request.options.up.unwrap_or(true);
            let _ = GetAssertionInputs::parse(request.extensions.as_deref(), &key_agreement, up);
        }
        Command::ClientPin(request) if request.permissions.is_some() => {
            let _ = client_pin::parse_permissions(request);
        }
        Command::Config(request) if request.sub_command == config::SET_MIN_PIN_LENGTH => {
            let params = request.sub_command_params.clone().map(IntMap::new);
            if let Some(Ok(params)) = params {
                let _ = config::SetMinPinLength::parse(Some(params));
            }
        }
        _ => {}
    }
}

fn with_command(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

fn user() -> Value {
    Value::Map(vec![
        (text("id"), bytes(b"user")),
        (text("name"), text("alice")),
    ])
}

/// Whole requests (command byte first) that reach the CTAP 2.2 decoders: a
/// starting corpus for the `ctap2_request` target.
pub fn ctap22_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let payment_and_policy = Value::Map(vec![
        (text("thirdPartyPayment"), Value::Bool(true)),
        (text("pinComplexityPolicy"), Value::Bool(true)),
    ]);
    let make_credential = with_command(
        commands::MAKE_CREDENTIAL,
        vec![
            (int(1), bytes(&[0x11; 32])),
            (int(2), Value::Map(vec![(text("id"), text("example.com"))])),
            (int(3), user()),
            (
                int(4),
                Value::Array(vec![Value::Map(vec![
                    (text("alg"), int(-7)),
                    (text("type"), text("public-key")),
                ])]),
            ),
            (int(6), payment_and_policy),
            (int(0x0A), int(2)),
            (int(0x0B), Value::Array(vec![text("packed")])),
        ],
    );
    let get_assertion = with_command(
        commands::GET_ASSERTION,
        vec![
            (int(1), text("example.com")),
            (int(2), bytes(&[0x22; 32])),
            (
                int(4),
                Value::Map(vec![(text("thirdPartyPayment"), Value::Bool(true))]),
            ),
        ],
    );
    let key = KeyAgreementKey::from_scalar(&[0x22; 32])
        .expect("a fixed scalar below the order")
        .cose_public_key();
    let pcmr_token = with_command(
        commands::CLIENT_PIN,
        vec![
            (int(1), int(2)),
            (int(2), int(9)),
            (int(3), key),
            (int(6), bytes(&[0x33; 32])),
            (int(9), int(0x40)),
        ],
    );
    let enable_enterprise = with_command(
        commands::CONFIG,
        vec![
            (int(1), int(1)),
            (int(3), int(2)),
            (int(4), bytes(&[0x44; 32])),
        ],
    );
    let set_min_pin_length = with_command(
        commands::CONFIG,
        vec![
            (int(1), int(3)),
            (
                int(2),
                Value::Map(vec![
                    (int(1), int(6)),
                    (int(2), Value::Array(vec![text("example.com")])),
                    (int(3), Value::Bool(true)),
                    (int(4), Value::Bool(true)),
                ]),
            ),
        ],
    );
    vec![
        ("make_credential_payment_policy_enterprise", make_credential),
        ("get_assertion_third_party_payment", get_assertion),
        ("client_pin_pcmr_token", pcmr_token),
        ("config_enable_enterprise_attestation", enable_enterprise),
        ("config_set_min_pin_length_complexity", set_min_pin_length),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pin::Permissions;

    #[test]
    fn ctap22_seeds_reach_the_nested_decoders() {
        for (name, seed) in ctap22_seeds() {
            let command = commands::parse(&seed).unwrap_or_else(|e| panic!("{name}: {e}"));
            decode(&command);
            match &command {
                Command::MakeCredential(request) => {
                    let inputs = MakeCredentialInputs::parse(
                        request.extensions.as_deref(),
                        &KeyAgreementKey::from_scalar(&[0x11; 32]).expect("scalar"),
                    )
                    .expect("inputs");
                    assert!(inputs.third_party_payment && inputs.pin_complexity_policy);
                    assert_eq!(request.enterprise_attestation, Some(2));
                }
                Command::ClientPin(request) => assert_eq!(
                    client_pin::parse_permissions(request),
                    Ok(Permissions(
                        Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY
                    ))
                ),
                Command::Config(request) if request.sub_command == config::SET_MIN_PIN_LENGTH => {
                    let params = request.sub_command_params.clone().map(IntMap::new);
                    let parsed = config::SetMinPinLength::parse(params.transpose().expect("map"))
                        .expect("params");
                    assert_eq!(parsed.pin_complexity_policy, Some(true));
                }
                _ => {}
            }
            super::super::any_request(&seed);
        }
    }
}
