//! softkey's PIN complexity policy (CTAP 2.2 §7.5 "Set PIN Complexity
//! Policy", getInfo `pinComplexityPolicy` 0x1B).
//!
//! Off until the owner turns it on with authenticatorConfig setMinPINLength
//! and `pinComplexityPolicy: true` (`softkey client config pin-complexity`, or
//! any CTAP client); like the minimum PIN length it can then only be turned
//! off by authenticatorReset. While it is on, setPIN and changePIN refuse
//! (`CTAP2_ERR_PIN_POLICY_VIOLATION`) a new PIN that is trivially guessable,
//! in the spirit of NIST SP 800-63B §5.1.1.2 ("values known to be commonly
//! used, expected, or compromised", "repetitive or sequential characters"):
//!
//! - one character repeated (`1111`, `aaaaaa`);
//! - a run of consecutive characters, up or down (`1234`, `987654`, `abcdef`);
//! - one of [`COMMON_PINS`], compared without regard to ASCII case.
//!
//! The current PIN is not judged when the policy is turned on (only its hash
//! is kept); a platform that wants it replaced sets `forceChangePin` in the
//! same command.

/// Commonly chosen PINs and passwords refused while the policy is on (beyond
/// the repeated and sequential ones the rules above catch).
pub const COMMON_PINS: &[&str] = &[
    "password", "passw0rd", "p@ssw0rd", "qwerty", "qwertyui", "qwertz", "azerty", "asdfgh",
    "asdfasdf", "zxcvbn", "iloveyou", "letmein", "welcome", "monkey", "dragon", "abc123", "a1b2c3",
    "123123", "121212", "112233", "11223344", "12341234", "123321", "147258", "159753", "1q2w3e4r",
    "q1w2e3r4", "1qaz2wsx", "696969", "131313", "000000", "0000",
];

/// Whether `pin` (the new PIN's code points) satisfies the policy.
pub fn acceptable(pin: &str) -> bool {
    let chars: Vec<char> = pin.chars().collect();
    let Some(first) = chars.first() else {
        return false;
    };
    if chars.iter().all(|c| c == first) {
        return false;
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|pair| i64::from(u32::from(pair[1])) - i64::from(u32::from(pair[0])))
        .collect();
    if steps.iter().all(|step| *step == 1) || steps.iter().all(|step| *step == -1) {
        return false;
    }
    !COMMON_PINS
        .iter()
        .any(|common| common.eq_ignore_ascii_case(pin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_pins_are_refused_and_others_accepted() {
        for refused in [
            "1111", "aaaaaa", "1234", "98765", "abcdef", "FEDCBA", "Password", "11223344",
        ] {
            assert!(!acceptable(refused), "{refused} should be refused");
        }
        for accepted in ["a1b2c3d4", "1357", "correct horse", "7294", "ÿÿþ"] {
            assert!(acceptable(accepted), "{accepted} should be accepted");
        }
    }
}
