//! Signature counters without a durable write per sign-in (issue 15 point 1).
//!
//! A counter's stored value is a **bound**: no value above it was ever handed
//! out. To hand out values, a range is reserved by storing a higher bound (one
//! durable transaction, which also writes the manifest), then values are
//! counted in memory up to it. After a crash the stored bound is the floor:
//! counting resumes above it, skipping what was reserved but not used. When a
//! [`Vault`] is dropped it writes the values actually reached back (if no other
//! handle has written since), so a restart without a crash skips nothing.
//!
//! Reservations grow: [`FIRST_RESERVATION`] values first, doubling with each
//! reservation up to [`MAX_RESERVATION`], so a credential used now and then
//! jumps little after a crash, and one in constant use costs one fsync per
//! 16,384 sign-ins. Before handing out a value the vault checks that no other
//! connection committed to the file (`PRAGMA data_version`, see `cache.rs`;
//! a write by another handle drops every reservation), and
//! counting resumes above the bounds in the file (which that handle may have
//! raised). Values are strictly increasing and stop at `u32::MAX`.
//!
//! Per-credential counters are the credential row's `sign_count`; the global
//! counter of non-discoverable credentials is the `global_counter` secrets row
//! (u32 big-endian). Reads of a credential show the value reached; another
//! process reading the file sees the bound.

use std::collections::HashMap;

use crate::error::VaultError;
use crate::rows::{self, CREDENTIALS, GLOBAL_COUNTER, IndexMacs, SECRETS, open_credential};
use crate::vault::{Vault, Writer};

/// The first range reserved for a counter in a process.
pub(crate) const FIRST_RESERVATION: u32 = 32;
/// The largest range reserved at once.
pub(crate) const MAX_RESERVATION: u32 = 16_384;

/// Which counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Counter {
    /// A discoverable credential's, by its `id_mac`.
    Credential([u8; 32]),
    /// The one non-discoverable credentials share.
    Global,
}

/// A range reserved durably: values up to `bound` may be handed out, `last`
/// was the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation {
    pub(crate) last: u32,
    pub(crate) bound: u32,
    size: u32,
}

/// The reservations of an open vault.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    reservations: HashMap<Counter, Reservation>,
}

impl Counters {
    /// The next value of `counter` from its reservation, if one is left.
    fn take(&mut self, counter: Counter) -> Option<u32> {
        let reservation = self.reservations.get_mut(&counter)?;
        (reservation.last < reservation.bound).then(|| {
            reservation.last += 1;
            reservation.last
        })
    }

    /// The latest value handed out from `counter`'s reservation.
    pub(crate) fn last(&self, counter: Counter) -> Option<u32> {
        self.reservations.get(&counter).map(|r| r.last)
    }

    /// How many values the next reservation of `counter` takes.
    fn next_size(&self, counter: Counter) -> u32 {
        self.reservations
            .get(&counter)
            .map_or(FIRST_RESERVATION, |r| {
                r.size.saturating_mul(2).min(MAX_RESERVATION)
            })
    }

    /// Drops every reservation (another handle wrote, or the keys changed).
    pub(crate) fn clear(&mut self) {
        self.reservations.clear();
    }

    /// Takes in what a committed transaction changed.
    pub(crate) fn apply(&mut self, changes: Vec<(Counter, Option<Reservation>)>) {
        for (counter, reservation) in changes {
            match reservation {
                Some(reservation) => self.reservations.insert(counter, reservation),
                None => self.reservations.remove(&counter),
            };
        }
    }

    /// The reservations with values left (what a clean close gives back).
    fn unspent(&self) -> Vec<(Counter, Reservation)> {
        self.reservations
            .iter()
            .filter(|(_, r)| r.last < r.bound)
            .map(|(c, r)| (*c, *r))
            .collect()
    }
}

/// The global counter's stored bound (0 when the row is absent).
pub(crate) fn stored_global(w: &Writer<'_>) -> Result<u32, VaultError> {
    match w.secret(GLOBAL_COUNTER)? {
        None => Ok(0),
        Some(bytes) => Ok(u32::from_be_bytes(
            <[u8; 4]>::try_from(&bytes[..]).map_err(|_| VaultError::Undecodable {
                table: SECRETS,
                row: GLOBAL_COUNTER.into(),
                reason: "counter is not 4 bytes".into(),
            })?,
        )),
    }
}

impl Vault {
    /// The next value of `counter`: from its reservation while the file is
    /// as this handle left it, else after reserving a new range.
    pub(crate) fn next_counter(&mut self, counter: Counter) -> Result<u32, VaultError> {
        // Asked right before every value, also inside a request: a value
        // handed out must never be one another handle's reservation undercuts.
        // Trusting the request's own check instead would widen that window
        // to the whole request, and would not even save a check on a
        // sign-in: the counter is taken in the step that resumes after the
        // user's touch (a request of its own, `Authenticator::resume`),
        // whose only read of the file this check is (callgrind of the EdDSA
        // sign-in bench: two checks per sign-in, one per step).
        if self.fresh_now()?
            && let Some(value) = self.counters.take(counter)
        {
            return Ok(value);
        }
        self.reserve(counter)
    }

    /// Reserves a range of `counter` durably and hands out its first value.
    fn reserve(&mut self, counter: Counter) -> Result<u32, VaultError> {
        self.write(|w| {
            // After the write's refresh: no reservation left if another handle wrote.
            let size = w.counters.next_size(counter);
            let last = w.counters.last(counter).unwrap_or(0);
            let stored = match counter {
                Counter::Credential(id_mac) => w.stored_sign_count(&id_mac)?,
                Counter::Global => stored_global(w)?,
            };
            let start = stored.max(last);
            let value = start.saturating_add(1);
            let bound = start.saturating_add(size).max(value);
            w.store_counter(counter, bound)?;
            w.counter_changes.push((
                counter,
                Some(Reservation {
                    last: value,
                    bound,
                    size,
                }),
            ));
            Ok(value)
        })
    }

    /// Writes back the values reached where they are below the stored bounds
    /// this handle reserved (and no other handle wrote since): what dropping
    /// the vault does, so that a clean restart skips nothing.
    pub(crate) fn release_counters(&mut self) -> Result<(), VaultError> {
        if self.counters.unspent().is_empty() {
            return Ok(());
        }
        self.write(|w| {
            for (counter, reservation) in w.counters.unspent() {
                let stored = match counter {
                    Counter::Credential(id_mac) => w.stored_sign_count(&id_mac)?,
                    Counter::Global => stored_global(w)?,
                };
                if stored == reservation.bound {
                    w.store_counter(counter, reservation.last)?;
                }
                w.counter_changes.push((counter, None));
            }
            Ok(())
        })
    }
}

impl Writer<'_> {
    /// Ends the reservation of the credential with this `id_mac` (its row is
    /// rewritten or deleted in this transaction).
    pub(crate) fn forget_counter(&mut self, id_mac: &[u8]) {
        if let Ok(id_mac) = <[u8; 32]>::try_from(id_mac) {
            let counter = Counter::Credential(id_mac);
            if self.counters.last(counter).is_some() {
                self.counter_changes.push((counter, None));
            }
        }
    }

    /// The stored signature counter (bound) of the credential with this `id_mac`.
    fn stored_sign_count(&self, id_mac: &[u8; 32]) -> Result<u32, VaultError> {
        let rows = self.select_checked(id_mac)?;
        let row = rows.first().ok_or_else(|| {
            VaultError::NoSuchCredential(format!("with index value {}…", hex::encode(&id_mac[..8])))
        })?;
        Ok(open_credential(self.keys, row)?.0.sign_count)
    }

    /// Stores `value` as the counter's bound.
    fn store_counter(&mut self, counter: Counter, value: u32) -> Result<(), VaultError> {
        match counter {
            Counter::Global => self.put_secret(GLOBAL_COUNTER, Some(&value.to_be_bytes())),
            Counter::Credential(id_mac) => {
                let rows = self.select_checked(&id_mac)?;
                let row = rows.first().ok_or_else(|| VaultError::RowMissing {
                    table: CREDENTIALS,
                    row: format!("id_mac {}…", hex::encode(&id_mac[..8])),
                })?;
                let (mut credential, created) = open_credential(self.keys, row)?;
                credential.sign_count = value;
                let macs = IndexMacs::of(self.keys, &credential);
                rows::write_credential_row(
                    self.conn,
                    self.keys,
                    &mut self.staged,
                    &credential,
                    &macs,
                    created,
                )
            }
        }
    }
}
