//! credProtect (CTAP 2.1 §12.1): how much user verification a credential
//! needs before getAssertion reveals it.
//!
//! | level | name | without UV |
//! |---|---|---|
//! | 1 | userVerificationOptional (the default) | always usable |
//! | 2 | userVerificationOptionalWithCredentialIDList | only when named in the allowList |
//! | 3 | userVerificationRequired | never |
//!
//! makeCredential stores the level with the credential (in the store, or in the
//! sealed ID) and reports it in the authData extensions when asked. Every path
//! that opens a credential applies the table:
//!
//! - getAssertion and getNextAssertion skip credentials the request may not
//!   see; with built-in UV asked for, they are located only after UV
//!   succeeded (§6.2.2), so an unverified caller learns nothing of level-3
//!   ones;
//! - makeCredential's excludeList does not match a level-3 credential without
//!   UV, and with built-in UV asked for, UV comes before the decision (§6.1.2);
//! - CTAP1/U2F, which cannot verify the user, treats a level-3 key handle as
//!   foreign (`SW_WRONG_DATA`, whatever the control byte);
//! - credentialManagement needs a pinUvAuthToken (UV) to list or change any
//!   credential.

use ciborium::Value;

use crate::cbor;
use crate::status::StatusCode;

/// The extension identifier.
pub const NAME: &str = "credProtect";

/// The level credentials get when the platform does not ask for one.
pub const DEFAULT: Level = Level::Optional;

/// A credProtect level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 0x01 userVerificationOptional.
    Optional = 1,
    /// 0x02 userVerificationOptionalWithCredentialIDList.
    OptionalWithCredentialIdList = 2,
    /// 0x03 userVerificationRequired.
    Required = 3,
}

impl Level {
    /// The level for its number; other numbers are not a level.
    pub fn from_number(number: u64) -> Option<Self> {
        match number {
            1 => Some(Self::Optional),
            2 => Some(Self::OptionalWithCredentialIdList),
            3 => Some(Self::Required),
            _ => None,
        }
    }

    /// The level as stored with a credential: unknown numbers are the
    /// strictest level, so a damaged record never loosens protection.
    pub fn from_stored(number: u8) -> Self {
        Self::from_number(u64::from(number)).unwrap_or(Self::Required)
    }

    /// The level's number.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The makeCredential input: an unsigned integer. A number that is no
    /// level is ignored, as an unsupported extension value.
    pub fn parse(value: &Value) -> Result<Option<Self>, StatusCode> {
        Ok(Self::from_number(cbor::as_u64(value)?))
    }

    /// getAssertion step 7: whether a credential of this level may be used.
    /// `uv`: the user was verified; `from_allow_list`: the credential was
    /// named in the allowList rather than discovered.
    pub fn permits(self, uv: bool, from_allow_list: bool) -> bool {
        match self {
            Self::Optional => true,
            Self::OptionalWithCredentialIdList => uv || from_allow_list,
            Self::Required => uv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_table() {
        use Level::*;
        for (level, no_uv_discovered, no_uv_listed) in [
            (Optional, true, true),
            (OptionalWithCredentialIdList, false, true),
            (Required, false, false),
        ] {
            assert!(level.permits(true, false));
            assert!(level.permits(true, true));
            assert_eq!(level.permits(false, false), no_uv_discovered);
            assert_eq!(level.permits(false, true), no_uv_listed);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(Level::from_number(0), None);
        assert_eq!(Level::from_number(4), None);
        assert_eq!(Level::from_stored(9), Level::Required);
        assert_eq!(DEFAULT.number(), 1);
        assert_eq!(
            Level::parse(&Value::Text("3".into())),
            Err(StatusCode::CborUnexpectedType)
        );
    }
}
