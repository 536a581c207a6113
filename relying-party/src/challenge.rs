//! Challenges: random, single use, with expiry
//! ([§13.4.3](https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges)).
//!
//! [`ChallengeStore`] keeps each pending ceremony's state under its challenge.
//! [`ChallengeStore::take`] hands the state out once; a consumed challenge is
//! remembered until it would have expired, so a replay is reported as
//! [`Error::ChallengeReused`] rather than merely unknown.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::Error;

/// Length of generated challenges in bytes (the spec asks for at least 16).
pub const CHALLENGE_LEN: usize = 32;

/// A fresh random challenge from the operating system's CSPRNG.
pub fn random_challenge() -> Vec<u8> {
    let mut challenge = vec![0u8; CHALLENGE_LEN];
    rand::fill(&mut challenge[..]);
    challenge
}

enum Slot<T> {
    Pending { state: T, expires_at: SystemTime },
    Used { expires_at: SystemTime },
}

/// Pending ceremonies keyed by challenge; thread-safe.
pub struct ChallengeStore<T> {
    slots: Mutex<HashMap<Vec<u8>, Slot<T>>>,
}

impl<T> Default for ChallengeStore<T> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> std::fmt::Debug for ChallengeStore<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChallengeStore")
            .finish_non_exhaustive()
    }
}

impl<T> ChallengeStore<T> {
    /// Remembers `state` under `challenge` until `expires_at`; `now` is the issue time.
    pub fn insert(&self, challenge: Vec<u8>, state: T, now: SystemTime, expires_at: SystemTime) {
        let mut slots = self.lock();
        // Issuing also purges, so options requested and never answered cannot pile up.
        purge(&mut slots, now);
        slots.insert(challenge, Slot::Pending { state, expires_at });
    }

    /// Hands out the state for `challenge` once.
    pub fn take(&self, challenge: &[u8], now: SystemTime) -> Result<T, Error> {
        let mut slots = self.lock();
        purge(&mut slots, now);
        match slots.remove(challenge) {
            None => Err(Error::ChallengeUnknown),
            Some(Slot::Used { expires_at }) => {
                slots.insert(challenge.to_vec(), Slot::Used { expires_at });
                Err(Error::ChallengeReused)
            }
            Some(Slot::Pending { state, expires_at }) => {
                slots.insert(challenge.to_vec(), Slot::Used { expires_at });
                if now > expires_at {
                    Err(Error::ChallengeExpired)
                } else {
                    Ok(state)
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Slot<T>>> {
        // A panic while holding the lock leaves a consistent map (each operation is one
        // insert/remove), so a poisoned lock is safe to keep using.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Forgets what has expired, so the map stays bounded by the issue rate × TTL. An expired
/// pending challenge is kept one more minute, so a late answer hears "expired", not "unknown".
fn purge<T>(slots: &mut HashMap<Vec<u8>, Slot<T>>, now: SystemTime) {
    slots.retain(|_, slot| match slot {
        Slot::Pending { expires_at, .. } => now <= *expires_at + std::time::Duration::from_secs(60),
        Slot::Used { expires_at } => now <= *expires_at,
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn single_use_and_expiry() {
        let store = ChallengeStore::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        store.insert(b"one".to_vec(), 1, t0, t0 + Duration::from_secs(10));
        store.insert(b"two".to_vec(), 2, t0, t0 + Duration::from_secs(10));
        assert_eq!(store.take(b"one", t0), Ok(1));
        assert_eq!(store.take(b"one", t0), Err(Error::ChallengeReused));
        assert_eq!(
            store.take(b"two", t0 + Duration::from_secs(11)),
            Err(Error::ChallengeExpired)
        );
        assert_eq!(store.take(b"never", t0), Err(Error::ChallengeUnknown));
        assert!(random_challenge() != random_challenge());
    }
}
