//! The pinUvAuthToken (CTAP 2.1 §6.5.2.1): one random 32-byte key per power-up,
//! shared by both protocols, with its permissions, permissions RP ID, usage
//! timer and userPresent/userVerified flags.

use std::time::{Duration, Instant};

use crate::pin::Protocol;
use crate::secret::Secret32;
use crate::status::StatusCode;

/// How long a token stays usable after it was issued (the spec's maximum
/// usage time period, §6.5.2.1: at most 10 minutes).
pub const TOKEN_MAX_USAGE: Duration = Duration::from_secs(600);

/// How long the userPresent flag of a token stays set (userPresentTimeLimit).
pub const USER_PRESENT_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Permission bits of a pinUvAuthToken (CTAP 2.1 §6.5.5.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions(pub u8);

impl Permissions {
    /// mc: authenticatorMakeCredential.
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    /// ga: authenticatorGetAssertion.
    pub const GET_ASSERTION: u8 = 0x02;
    /// cm: authenticatorCredentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u8 = 0x04;
    /// be: authenticatorBioEnrollment (not offered).
    pub const BIO_ENROLLMENT: u8 = 0x08;
    /// lbw: authenticatorLargeBlobs write.
    pub const LARGE_BLOB_WRITE: u8 = 0x10;
    /// acfg: authenticatorConfig.
    pub const AUTHENTICATOR_CONFIG: u8 = 0x20;
    /// pcmr: persistent credential management, read-only (CTAP 2.2). Never
    /// held by the pinUvAuthToken: asking for it alone returns the
    /// [persistentPinUvAuthToken](crate::pin::persistent).
    pub const PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY: u8 = 0x40;

    /// Whether every bit of `permission` is granted.
    pub fn has(self, permission: u8) -> bool {
        self.0 & permission == permission && permission != 0
    }
}

/// The token and its state.
pub struct PinUvAuthToken {
    secret: Secret32,
    permissions: Permissions,
    rp_id: Option<String>,
    in_use_since: Option<Instant>,
    user_present: bool,
    user_verified: bool,
}

impl std::fmt::Debug for PinUvAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinUvAuthToken")
            .field("permissions", &self.permissions)
            .field("rp_id", &self.rp_id)
            .field("in_use", &self.in_use_since.is_some())
            .finish_non_exhaustive()
    }
}

impl PinUvAuthToken {
    /// A fresh token that is not in use.
    pub fn new<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            secret: Secret32::random(rng),
            permissions: Permissions::default(),
            rp_id: None,
            in_use_since: None,
            user_present: false,
            user_verified: false,
        }
    }

    /// resetPinUvAuthToken(): a new random key; every token issued before is void.
    pub fn reset<R: rand_core::CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        *self = Self::new(rng);
    }

    /// beginUsingPinUvAuthToken(): grants `permissions` (scoped to `rp_id`, if
    /// given) and starts the usage timer.
    pub fn begin_using(
        &mut self,
        permissions: Permissions,
        rp_id: Option<String>,
        user_verified: bool,
        user_present: bool,
        now: Instant,
    ) {
        self.permissions = permissions;
        self.rp_id = rp_id;
        self.user_verified = user_verified;
        self.user_present = user_present;
        self.in_use_since = Some(now);
    }

    /// The key, for encrypting to the platform.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.secret.expose_secret()
    }

    /// Whether the token is in use and its usage timer has not run out.
    pub fn is_in_use(&mut self, now: Instant) -> bool {
        match self.in_use_since {
            Some(since) if now.saturating_duration_since(since) <= TOKEN_MAX_USAGE => true,
            Some(_) => {
                self.stop_using();
                false
            }
            None => false,
        }
    }

    fn stop_using(&mut self) {
        self.in_use_since = None;
        self.permissions = Permissions::default();
        self.rp_id = None;
        self.user_present = false;
        self.user_verified = false;
    }

    /// Checks a pinUvAuthParam made with this token over `message`, and that the
    /// token grants `permission` for `rp_id` (when the command names one).
    /// Every failure is `CTAP2_ERR_PIN_AUTH_INVALID`.
    pub fn verify(
        &mut self,
        protocol: Protocol,
        message: &[u8],
        param: &[u8],
        permission: u8,
        rp_id: Option<&str>,
        now: Instant,
    ) -> Result<(), StatusCode> {
        if !self.is_in_use(now) {
            return Err(StatusCode::PinAuthInvalid);
        }
        if !protocol.verify(self.secret.expose_secret(), message, param) {
            return Err(StatusCode::PinAuthInvalid);
        }
        if !self.permissions.has(permission) {
            return Err(StatusCode::PinAuthInvalid);
        }
        if let (Some(bound), Some(requested)) = (&self.rp_id, rp_id)
            && bound != requested
        {
            return Err(StatusCode::PinAuthInvalid);
        }
        Ok(())
    }

    /// The permissions RP ID, if the token is scoped to one.
    pub fn rp_id(&self) -> Option<&str> {
        self.rp_id.as_deref()
    }

    /// Binds an unscoped token to `rp_id` (its first makeCredential/getAssertion).
    pub fn bind_rp_id(&mut self, rp_id: &str) {
        if self.rp_id.is_none() {
            self.rp_id = Some(rp_id.to_owned());
        }
    }

    /// getUserVerifiedFlagValue().
    pub fn user_verified(&self) -> bool {
        self.user_verified
    }

    /// getUserPresentFlagValue(): set, and not older than the time limit.
    pub fn user_present(&self, now: Instant) -> bool {
        self.user_present
            && self.in_use_since.is_some_and(|since| {
                now.saturating_duration_since(since) <= USER_PRESENT_TIME_LIMIT
            })
    }

    /// After a makeCredential/getAssertion that used the token: clear the
    /// flags and every permission except lbw (§6.1.2 step 19, §6.2.2 step 13).
    pub fn consume(&mut self) {
        self.user_present = false;
        self.user_verified = false;
        self.permissions = Permissions(self.permissions.0 & Permissions::LARGE_BLOB_WRITE);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn token_rules() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut token = PinUvAuthToken::new(&mut rng);
        let now = Instant::now();
        let param = Protocol::Two.authenticate(token.expose_secret(), b"m");
        // Not in use yet.
        assert_eq!(
            token.verify(
                Protocol::Two,
                b"m",
                &param,
                Permissions::MAKE_CREDENTIAL,
                None,
                now
            ),
            Err(StatusCode::PinAuthInvalid)
        );
        token.begin_using(
            Permissions(Permissions::MAKE_CREDENTIAL),
            Some("a.example".into()),
            true,
            false,
            now,
        );
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 1, Some("a.example"), now)
                .is_ok()
        );
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 1, Some("b.example"), now)
                .is_err()
        );
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 2, None, now)
                .is_err()
        );
        assert!(
            token
                .verify(Protocol::Two, b"x", &param, 1, None, now)
                .is_err()
        );
        // Protocol one's 16-byte MAC with the same key.
        let short = Protocol::One.authenticate(token.expose_secret(), b"m");
        assert!(
            token
                .verify(Protocol::One, b"m", &short, 1, None, now)
                .is_ok()
        );
        // Expired.
        let later = now + TOKEN_MAX_USAGE + Duration::from_secs(1);
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 1, None, later)
                .is_err()
        );
        // Consumed.
        token.begin_using(Permissions(0x11), None, true, true, now);
        token.consume();
        assert!(!token.user_verified());
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 1, None, now)
                .is_err()
        );
        assert!(
            token
                .verify(Protocol::Two, b"m", &param, 0x10, None, now)
                .is_ok()
        );
    }
}
