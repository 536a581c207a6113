//! Entry points for the fuzz targets (`fuzz/`) and their regression tests.
//!
//! Not a stable API. Each fuzz target is one line calling into here, so a target
//! cannot drift from the code it tests (STYLE.md 12).
//! Compiled only with the crate's `fuzzing` feature (which `fuzz/` enables) and
//! in its own unit tests: product builds do not contain it.
//!
//! - One decoder entry point per CTAP2 command ([`make_credential_request`],
//!   [`get_assertion_request`], [`client_pin_request`], [`any_request`]): bytes go
//!   through [`commands::parse`], exactly as the runtime's requests do.
//! - [`command_sequence`]: a structured target. The input is decoded into a list
//!   of [`Action`]s — well-formed makeCredential/getAssertion requests built
//!   from a small vocabulary of relying parties and users, credential IDs the
//!   authenticator issued earlier in the run (or mutations of them), clientPIN
//!   (a PIN, tokens with permissions), large-blob reads and writes (signed
//!   with the held token or not), CTAP1/U2F APDUs with key handles from either
//!   protocol, raw requests, user verdicts, cancels, power cycles and clock
//!   steps — which drive one in-memory [`Authenticator`] so that state carries
//!   across commands (fido-authenticator's approach). A small model checks
//!   every reply.
//!
//! The action encoding is our own (tag byte, then fields; see [`Action`]) rather
//! than `arbitrary`'s derive: the core gains no dependency, seeds and regression
//! inputs are written by [`encode_actions`] instead of by hand, and a committed
//! corpus does not silently change meaning when `arbitrary` changes how it reads
//! lengths (it did between 1.x releases).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use ciborium::Value;

use crate::cbor::{self, bytes, int, text};
use crate::commands::{self, Command};
use crate::crypto::sha256;
use crate::secret::Secret32;
use crate::store::MemoryStore;
use crate::{Authenticator, Config, Outcome, StatusCode, Verdict};

/// authenticatorClientPIN's command byte (CTAP 2.1 §6.5). Its decoder is fuzzed
/// through [`commands::parse`] whether or not it is built yet.
pub const CLIENT_PIN: u8 = 0x06;

/// Fuzzes the authenticatorMakeCredential decoder: `params` is the CBOR after
/// the command byte.
pub fn make_credential_request(params: &[u8]) {
    parse_with(commands::MAKE_CREDENTIAL, params);
}

/// Fuzzes the authenticatorGetAssertion decoder.
pub fn get_assertion_request(params: &[u8]) {
    parse_with(commands::GET_ASSERTION, params);
}

/// Fuzzes the authenticatorClientPIN decoder.
pub fn client_pin_request(params: &[u8]) {
    parse_with(CLIENT_PIN, params);
}

/// Fuzzes [`commands::parse`] on whole requests (command byte included): the
/// parameterless commands, unknown command bytes, and every decoder at once.
pub fn any_request(request: &[u8]) {
    if let Ok(command) = commands::parse(request) {
        check_parsed(request[0], &command);
        nested::decode(&command);
    }
}

/// Fuzzes the CTAP1/U2F request APDU parser (short and extended encodings).
pub fn ctap1_apdu(apdu: &[u8]) {
    if let Ok(request) = crate::ctap1::parse(apdu) {
        let _ = format!("{request:?}");
    }
}

/// U2F request APDUs as a U2F host sends them: a starting corpus for
/// [`ctap1_apdu`].
pub fn ctap1_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut register = vec![0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x40];
    register.extend_from_slice(&[0x11; 32]); // challenge parameter
    register.extend_from_slice(&sha256(b"https://example.com")); // application parameter
    register.extend_from_slice(&[0x00, 0x00]); // extended Le
    let mut authenticate = vec![0x00, 0x02, 0x07, 0x00, 0x61];
    authenticate.extend_from_slice(&[0x22; 32]);
    authenticate.extend_from_slice(&sha256(b"https://example.com"));
    authenticate.push(32);
    authenticate.extend_from_slice(&[0xab; 32]);
    authenticate.push(0x00); // short Le
    vec![
        ("register_extended", register),
        ("authenticate_check_only_short", authenticate),
        ("version", vec![0x00, 0x03, 0x00, 0x00, 0x00]),
    ]
}

fn parse_with(command_byte: u8, params: &[u8]) {
    let mut request = Vec::with_capacity(1 + params.len());
    request.push(command_byte);
    request.extend_from_slice(params);
    if let Ok(command) = commands::parse(&request) {
        check_parsed(command_byte, &command);
    }
}

/// A request that parsed is the command its byte names, and it can be logged.
fn check_parsed(command_byte: u8, command: &Command) {
    let expected = match command {
        Command::MakeCredential(_) => commands::MAKE_CREDENTIAL,
        Command::GetAssertion(_) => commands::GET_ASSERTION,
        Command::GetInfo => commands::GET_INFO,
        Command::Reset => commands::RESET,
        Command::GetNextAssertion => commands::GET_NEXT_ASSERTION,
        Command::Selection => commands::SELECTION,
        #[allow(unreachable_patterns)] // Commands added later (clientPIN, …).
        _ => command_byte,
    };
    assert_eq!(
        command_byte,
        expected,
        "{} parsed from 0x{command_byte:02x}",
        command.name()
    );
    let _ = format!("{command:?}");
}

// ---------------------------------------------------------------------------
// The command-sequence target.
// ---------------------------------------------------------------------------

mod nested;
mod sequence;
pub mod session;
pub use nested::ctap22_seeds;
pub use sequence::*;
pub use session::pin_session;

fn options(bits: &[(&str, u8)]) -> Vec<(Value, Value)> {
    bits.iter()
        .filter_map(|(name, b)| match b & 0x03 {
            0 => None,
            1 => Some((text(name), Value::Bool(false))),
            _ => Some((text(name), Value::Bool(true))),
        })
        .collect()
}

fn descriptors(ids: Vec<Vec<u8>>) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| {
                Value::Map(vec![
                    (text("id"), bytes(id)),
                    (text("type"), text("public-key")),
                ])
            })
            .collect(),
    )
}

/// makeCredential's pubKeyCredParams for these COSE algorithms, in order.
fn credential_parameters(algs: &[i64]) -> Value {
    Value::Array(
        algs.iter()
            .map(|alg| {
                Value::Map(vec![
                    (text("alg"), int(*alg)),
                    (text("type"), text("public-key")),
                ])
            })
            .collect(),
    )
}

fn request(command: u8, params: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&cbor::encode(Value::Map(params)));
    out
}

fn field(value: &Value, key: i64) -> Option<&Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(i128::from(key)))
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------------------
// Seeds: real requests, named after what they reach.
// ---------------------------------------------------------------------------

/// A makeCredential parameter map as a browser sends it (ES256 then EdDSA,
/// discoverable, an excludeList entry).
pub fn make_credential_seed() -> Vec<u8> {
    let request = SequenceModel::new().make_credential(
        "example.com",
        1,
        0b0010_1010,
        &[CredentialRef::Raw(vec![0xab; 32])],
        Vec::new(),
    );
    request[1..].to_vec()
}

/// A getAssertion parameter map with an allowList and options.
pub fn get_assertion_seed() -> Vec<u8> {
    let request = SequenceModel::new().get_assertion(
        "example.com",
        0b0000_0110,
        Some(&[CredentialRef::Raw(vec![0xab; 32])]),
        Vec::new(),
    );
    request[1..].to_vec()
}

/// A clientPIN getPinRetries / getKeyAgreement style parameter map
/// (pinUvAuthProtocol 2, subCommand 1 and 2).
pub fn client_pin_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with = |sub: i64| cbor::encode(Value::Map(vec![(int(1), int(2)), (int(2), int(sub))]));
    vec![("get_pin_retries", with(1)), ("get_key_agreement", with(2))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_their_command() {
        assert!(matches!(
            commands::parse(&[&[commands::MAKE_CREDENTIAL][..], &make_credential_seed()].concat()),
            Ok(Command::MakeCredential(_))
        ));
        assert!(matches!(
            commands::parse(&[&[commands::GET_ASSERTION][..], &get_assertion_seed()].concat()),
            Ok(Command::GetAssertion(_))
        ));
        make_credential_request(&make_credential_seed());
        get_assertion_request(&get_assertion_seed());
        for (_, seed) in client_pin_seeds() {
            client_pin_request(&seed);
        }
        any_request(&[]);
        any_request(&[commands::GET_INFO]);
        for (name, apdu) in ctap1_seeds() {
            assert!(crate::ctap1::parse(&apdu).is_ok(), "{name}");
        }
    }

    #[test]
    fn action_encoding_round_trips() {
        for (name, actions) in sequence_seeds() {
            assert_eq!(decode_actions(&encode_actions(&actions)), actions, "{name}");
        }
    }

    #[test]
    fn sequence_seeds_run_clean() {
        for (_, actions) in sequence_seeds() {
            run_actions(&actions);
        }
    }

    #[test]
    fn register_then_sign_in_is_checked_by_the_model() {
        let mut model = SequenceModel::new();
        for (_, actions) in sequence_seeds().into_iter().take(1) {
            for action in &actions {
                model.step(action);
            }
        }
        assert_eq!(model.issued.len(), 1);
        assert_eq!(
            model.counters.len(),
            1,
            "the assertion was seen and checked"
        );
    }

    /// The committed corpus of the command-sequence target is what
    /// `fuzz/examples/write_seeds.rs` writes from [`sequence_seeds`] (so it
    /// was regenerated after a format change), and every file in it, as
    /// every committed U2F APDU, replays clean.
    #[test]
    fn committed_corpus_matches_the_seeds_and_replays_clean() {
        let corpus = |target: &str| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/corpus")
                .join(target);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .collect();
            files.sort();
            files
        };
        let seeds = sequence_seeds();
        let files = corpus("ctap2_command_sequence");
        for (name, actions) in &seeds {
            let path = files
                .iter()
                .find(|path| path.file_name().and_then(|n| n.to_str()) == Some(name))
                .unwrap_or_else(|| panic!("seed {name} is not committed"));
            let committed = std::fs::read(path).expect("a readable seed");
            assert_eq!(committed, encode_actions(actions), "{name} is stale");
        }
        for path in files {
            command_sequence(&std::fs::read(&path).expect("a readable seed"));
        }
        for path in corpus("ctap1_apdu") {
            ctap1_apdu(&std::fs::read(&path).expect("a readable seed"));
        }
    }

    /// Found by the fuzzer on its first run with restarts: built-in UV
    /// protects the large-blob array as a PIN does (writes need lbw), which
    /// the model did not know.
    #[test]
    fn unsigned_large_blob_write_after_a_restart_with_built_in_uv() {
        let input = [
            0x10, 0x01, 0x00, 0x00, 0x00, 0x80, 0x03, 0x3d, 0x68, 0x63, 0x72, 0x65, 0x64, 0x42,
            0x6c, 0x6f, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x0b, 0x01, 0x00,
            0x04, 0x00, 0x01, 0x00,
        ];
        assert!(matches!(
            decode_actions(&input).first(),
            Some(Action::Restart { flags: 1 })
        ));
        command_sequence(&input);
    }

    #[test]
    fn truncated_input_ends_the_run() {
        command_sequence(&[]);
        command_sequence(&[0, 1]);
        command_sequence(&[3, 200, 1]);
        assert_eq!(
            decode_actions(&[5, 6, 7, 1]),
            vec![Action::Cancel, Action::PowerCycle]
        );
    }
}
