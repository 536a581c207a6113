//! The device's outgoing reports, wiped as they leave.
//!
//! A reply can carry secrets (a largeBlobKey, credential management's user
//! data, hmac-secret output): its reports must not linger in memory the
//! device has finished with. [`ReportQueue`] zeroes each slot as its report
//! is taken out, zeroes everything left when it is cleared or dropped, and
//! grows by hand, because a `Vec` or `VecDeque` that grows frees its old
//! block with the reports still in it.

use zeroize::Zeroize as _;

use crate::ctaphid::REPORT_LEN;

/// Reports in the order they were pushed (a FIFO).
#[derive(Default)]
pub(crate) struct ReportQueue {
    /// Slots before `head` have been taken (and zeroed).
    slots: Vec<[u8; REPORT_LEN]>,
    head: usize,
}

/// Slots the first push allocates: a short reply and a keepalive or two.
const FIRST_CAPACITY: usize = 8;

impl ReportQueue {
    /// Appends `report`.
    pub(crate) fn push(&mut self, report: [u8; REPORT_LEN]) {
        if self.slots.len() == self.slots.capacity() {
            self.grow();
        }
        self.slots.push(report);
    }

    /// Takes the oldest report out; its slot is zeroed.
    pub(crate) fn pop(&mut self) -> Option<[u8; REPORT_LEN]> {
        let slot = self.slots.get_mut(self.head)?;
        let report = *slot;
        slot.zeroize();
        self.head += 1;
        if self.head == self.slots.len() {
            // Every slot is zero already: start again at the front.
            self.slots.clear();
            self.head = 0;
        }
        Some(report)
    }

    /// How many reports are waiting.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.head
    }

    /// Drops every waiting report (zeroed).
    pub(crate) fn clear(&mut self) {
        self.slots.zeroize();
        self.head = 0;
    }

    /// Moves the waiting reports into a block of twice the room and zeroes
    /// the old one before it is freed.
    fn grow(&mut self) {
        let waiting = self.len();
        let capacity = (waiting * 2).max(FIRST_CAPACITY);
        let mut grown = Vec::with_capacity(capacity);
        grown.extend_from_slice(&self.slots[self.head..]);
        // Zeroes the elements and the spare capacity, then empties it.
        self.slots.zeroize();
        self.slots = grown;
        self.head = 0;
    }
}

impl Drop for ReportQueue {
    fn drop(&mut self) {
        self.slots.zeroize();
    }
}

impl std::fmt::Debug for ReportQueue {
    /// The count only: the reports may carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportQueue")
            .field("waiting", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(tag: u8) -> [u8; REPORT_LEN] {
        [tag; REPORT_LEN]
    }

    #[test]
    fn first_in_first_out_across_growth_and_reuse() {
        let mut queue = ReportQueue::default();
        assert_eq!(queue.pop(), None);
        for tag in 1..=3 {
            queue.push(report(tag));
        }
        assert_eq!(queue.pop(), Some(report(1)));
        // Past the first capacity with a taken slot at the front.
        for tag in 4..=20 {
            queue.push(report(tag));
        }
        assert_eq!(queue.len(), 19);
        for tag in 2..=20 {
            assert_eq!(queue.pop(), Some(report(tag)));
        }
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.len(), 0);
        queue.push(report(21));
        queue.clear();
        assert_eq!(queue.pop(), None);
        queue.push(report(22));
        assert_eq!(queue.pop(), Some(report(22)));
    }

    #[test]
    fn taken_and_cleared_slots_are_zero() {
        let mut queue = ReportQueue::default();
        queue.push(report(0xaa));
        queue.push(report(0xbb));
        queue.pop();
        assert_eq!(queue.slots[0], [0; REPORT_LEN], "taken slot wiped");
        assert_eq!(queue.slots[1], report(0xbb));
        queue.clear();
        assert!(queue.slots.is_empty());
        // The block is kept for the next reply.
        queue.push(report(0));
        assert_eq!(queue.slots.capacity(), FIRST_CAPACITY);
    }

    #[test]
    fn debug_shows_no_report_bytes() {
        let mut queue = ReportQueue::default();
        queue.push(report(0x5a));
        let shown = format!("{queue:?}");
        assert!(shown.contains("waiting: 1"), "{shown}");
        assert!(!shown.contains("90"), "no byte of the report: {shown}");
    }
}
