//! The PIN-session target's named seeds, and the tests that they reach what
//! they are named after.

use super::*;

/// Named inputs that reach each command this target is for, successful and
/// refused: its starting corpus (`fuzz/examples/write_seeds.rs`).
pub fn pin_session_seeds() -> Vec<(&'static str, Vec<u8>)> {
    const CM: u8 = CREDENTIAL_MANAGEMENT;
    // Token permissions: mc 0x01, ga 0x02, cm 0x04, lbw 0x10, acfg 0x20,
    // pcmr 0x40.
    let token = |permissions: u8| (TOKEN, permissions, 0, 0);
    let manage = vec![
        (SET_PIN, 2, 0, 0),
        token(0x01),
        (MAKE_CREDENTIAL, 0x10, AUTH_TOKEN, 0),
        token(0x01),
        (MAKE_CREDENTIAL, 0x14, AUTH_TOKEN, 0x01),
        token(0x01),
        (MAKE_CREDENTIAL, 0x11, AUTH_TOKEN, 0xfb),
        (MAKE_CREDENTIAL, 0x02, AUTH_NONE, 0),
        token(0x04),
        (CM, 1, 0, AUTH_TOKEN),
        (CM, 2, 0, AUTH_TOKEN),
        (CM, 3, 0, 0),
        (CM, 3, 0, 0),
        (CM, 4, 0, AUTH_TOKEN),
        (CM, 5, 0, 0),
        (CM, 5, 0, 0),
        (CM, 7, 0, AUTH_TOKEN),
        (CM, 7, 1, AUTH_TOKEN | 0x08),
        (CM, 6, 1, AUTH_TOKEN),
        (CM, 6, 1, AUTH_TOKEN),
        (CM, 1, 0, AUTH_TOKEN | 0x04),
        (CM, 1, 0, AUTH_NONE),
        (CM, 1, 0, AUTH_CORRUPT),
        (CM, 1, 0, AUTH_ODD),
        (CM, 0, 0, AUTH_TOKEN),
        (CM, 4, 2, AUTH_TOKEN),
        (TOKEN, 0x04, 0x02, 0),
        (CM, 4, 1, AUTH_TOKEN),
        (CM, 2, 0, AUTH_TOKEN),
        (TOKEN, 0x40, 0, 0),
        (CM, 1, 0, AUTH_TOKEN),
        (CM, 6, 0, AUTH_TOKEN),
        (POWER_CYCLE, 0, 0, 0),
        (CM, 1, 0, AUTH_TOKEN),
    ];
    let config = vec![
        (CONFIG, 2, 0, AUTH_NONE),
        (CONFIG, 2, 0, AUTH_NONE),
        (SET_PIN, 2, 0, 0),
        token(0x20),
        (CONFIG, 1, 0, AUTH_TOKEN),
        (CONFIG, 0, 0, AUTH_TOKEN),
        (CONFIG, 3, 0, AUTH_CORRUPT),
        (CONFIG, 3, 0, AUTH_ODD),
        (CONFIG, 3, 0, AUTH_NONE),
        (CONFIG, 3, 3, AUTH_TOKEN),
        (CONFIG, 3, 6, AUTH_TOKEN | 0x04 | 0x08),
        (CONFIG, 3, 0, AUTH_TOKEN | 0x10),
        (CONFIG, 2, 0, AUTH_TOKEN),
        token(0x01),
        (CHANGE_PIN, 3, 0, 0),
        (CHANGE_PIN, 4, 0, 0),
        (CHANGE_PIN, 6, 0, 0),
        token(0x01),
        (MAKE_CREDENTIAL, 0x30, AUTH_TOKEN | 0x04, 0x20),
        token(0x01),
        (MAKE_CREDENTIAL, 0x01, AUTH_TOKEN | 0x04, 0),
        token(0x01),
        (MAKE_CREDENTIAL, 0x01, AUTH_TOKEN | 0x08, 0x40),
        token(0x01),
        (MAKE_CREDENTIAL, 0x00, AUTH_TOKEN | 0x0c, 0),
        token(0x20),
        (CONFIG, 2, 0, AUTH_TOKEN),
        (GET_INFO, 0, 0, 0),
        (RESET, 0, 0, 0),
        (GET_INFO, 0, 0, 0),
    ];
    let uv = vec![
        (TOKEN, 0x01, 0x10, 0),
        (MAKE_CREDENTIAL, 0x90, AUTH_TOKEN | 0x20, 0),
        (TOKEN, 0x03, 0x10, 0),
        (MAKE_CREDENTIAL, 0xd8, AUTH_TOKEN | 0x10, 0x04),
        (TOKEN, 0x01, 0x10, 0),
        (MAKE_CREDENTIAL, 0x54, AUTH_TOKEN | 0x30, 0x03),
        (MAKE_CREDENTIAL, 0x20, AUTH_NONE, 0),
        (TOKEN, 0x01, 0x10, 1),
        (TOKEN, 0x01, 0x10, 2),
        (RETRIES, 1, 0, 0),
        (TOKEN, 0x02, 0x10, 0),
        (GET_ASSERTION, 0x00, AUTH_TOKEN, 0x98),
        (GET_ASSERTION, 0x04, AUTH_NONE, 0),
        (GET_INFO, 1, 0, 0),
        (RESET, 1, 0, 0),
    ];
    let pin = vec![
        (RETRIES, 0, 0, 0),
        (TOKEN, 0x01, 0, 0),
        (SET_PIN, 0, 0, 0),
        (SET_PIN, 2, 1, 0),
        (SET_PIN, 3, 0, 0),
        (TOKEN, 0x01, 0x04, 0),
        (TOKEN, 0x01, 0x04, 0),
        (TOKEN, 0x01, 0x04, 0),
        (TOKEN, 0x01, 0, 0),
        (POWER_CYCLE, 0, 0, 0),
        (RETRIES, 0, 0, 0),
        (TOKEN, 0x00, 0, 0),
        (TOKEN, 0x80, 0, 0),
        (TOKEN, 0x01, 0x08, 0),
        (TOKEN, 0x01, 0x01, 0),
        (TOKEN, 0x01, 0x18, 0),
        (CHANGE_PIN, 2, 0x02, 0),
        (CHANGE_PIN, 0, 0, 0),
        (CHANGE_PIN, 3, 0x01, 0),
        (TOKEN, 0x01, 0x03, 0),
        (MAKE_CREDENTIAL, 0x11, AUTH_TOKEN, 0),
        (ADVANCE, 0x58, 0x02, 0),
        (MAKE_CREDENTIAL, 0x10, AUTH_TOKEN, 0),
        (MAKE_CREDENTIAL, 0x10, AUTH_ODD, 0),
        (GET_ASSERTION, 0x00, AUTH_ODD, 0),
        (RESET, 0, 0, 0),
    ];
    let assertions = vec![
        (SET_PIN, 2, 0, 0),
        token(0x01),
        (MAKE_CREDENTIAL, 0x10, AUTH_TOKEN, 0x18),
        token(0x01),
        (MAKE_CREDENTIAL, 0x14, AUTH_TOKEN, 0x02),
        token(0x01),
        (MAKE_CREDENTIAL, 0x18, AUTH_TOKEN, 0x80),
        token(0x02),
        (GET_ASSERTION, 0x00, AUTH_TOKEN, 0x98),
        token(0x02),
        (GET_ASSERTION, 0x04, AUTH_TOKEN, 0x08),
        (GET_ASSERTION, 0x08, AUTH_NONE, 0),
        (GET_ASSERTION, 0x00, AUTH_CORRUPT, 0),
        (RESET, 2, 0, 0),
        (RESET, 0, 0, 0),
    ];
    vec![
        (
            "manage_credentials",
            encode_session(CONFIG_NO_RESET_WINDOW, &manage),
        ),
        (
            "config_subcommands",
            encode_session(CONFIG_ENTERPRISE | CONFIG_NO_RESET_WINDOW, &config),
        ),
        (
            "uv_tokens_device_attestation",
            encode_session(
                CONFIG_BUILT_IN_UV | CONFIG_CERTIFICATE | CONFIG_ALL_ALGORITHMS,
                &uv,
            ),
        ),
        ("pin_retries_and_tokens", encode_session(0, &pin)),
        (
            "assertions_with_token",
            encode_session(CONFIG_NO_RESET_WINDOW, &assertions),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_reach_every_subcommand_they_are_for() {
        let mut reached = BTreeSet::new();
        for (name, seed) in pin_session_seeds() {
            let session = run(&seed).expect("a seed has a configuration byte");
            assert!(!session.reached.is_empty(), "{name} reached nothing");
            reached.extend(session.reached);
        }
        let cm = commands::CREDENTIAL_MANAGEMENT;
        let mut expected = vec![
            (commands::MAKE_CREDENTIAL, 0),
            (commands::GET_ASSERTION, 0),
            (commands::GET_NEXT_ASSERTION, 0),
            (commands::RESET, 0),
            (commands::GET_INFO, 0),
            (commands::SELECTION, 0),
            (
                commands::CREDENTIAL_MANAGEMENT_PREVIEW,
                cm::GET_CREDS_METADATA,
            ),
            (commands::CONFIG, cfg::ENABLE_ENTERPRISE_ATTESTATION),
            (commands::CONFIG, cfg::TOGGLE_ALWAYS_UV),
            (commands::CONFIG, cfg::SET_MIN_PIN_LENGTH),
        ];
        expected.extend((1..=7).map(|sub| (cm, sub)));
        expected.extend([1, 2, 3, 4, 5, 6, 7, 9].map(|sub| (CLIENT_PIN, sub)));
        let missing: Vec<_> = expected.iter().filter(|e| !reached.contains(e)).collect();
        assert!(missing.is_empty(), "no seed succeeds at {missing:02x?}");
    }

    #[test]
    fn committed_corpus_is_the_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus/ctap2_pin_session");
        for (name, seed) in pin_session_seeds() {
            let committed = std::fs::read(dir.join(name))
                .unwrap_or_else(|e| panic!("{name}: {e} (cargo run --example write_seeds)"));
            assert_eq!(committed, seed, "{name} differs from its seed function");
            pin_session(&committed);
        }
    }

    #[test]
    fn a_command_signed_without_the_token_is_refused() {
        // credentialManagement with a corrupted MAC after a real token.
        let input = encode_session(
            0,
            &[
                (SET_PIN, 2, 0, 0),
                (TOKEN, 0x04, 0, 0),
                (CREDENTIAL_MANAGEMENT, 1, 0, AUTH_CORRUPT),
            ],
        );
        let session = run(&input).expect("configured");
        assert!(session.token.is_some());
        assert!(
            !session
                .reached
                .contains(&(commands::CREDENTIAL_MANAGEMENT, cm::GET_CREDS_METADATA))
        );
    }
}
