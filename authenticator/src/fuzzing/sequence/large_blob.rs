//! authenticatorLargeBlobs (CTAP 2.1 §6.10) in a command sequence: reads and
//! written fragments at chosen offsets and lengths, signed with the token the
//! sequence holds (or not, or wrongly), and whole arrays written in pieces.
//!
//! The model keeps the serialized array the authenticator must hold and the
//! write it must be in the middle of. What must hold:
//!
//! - the stored array always ends with LEFT(SHA-256(array), 16), and is the
//!   last array whose write completed (or the initial one after a reset);
//! - a get answers exactly `array[offset .. offset + get]` whenever the
//!   offset and length are in range, and fails otherwise;
//! - a fragment is accepted only at the offset the write is at, never past
//!   the announced length, and on a PIN-protected authenticator only with a
//!   pinUvAuthParam from a current token holding the lbw permission;
//! - with no PIN, a well-formed array written in order is stored.

use super::*;
use crate::commands::large_blobs::{
    INITIAL_ARRAY, MAX_FRAGMENT_LENGTH, MAX_SERIALIZED_LARGE_BLOB_ARRAY,
};
use crate::pin::Permissions;
use crate::store::{SettingKey, Store};

/// Length of the truncated hash that ends a serialized array.
const HASH_LEN: usize = 16;

/// Fewest fragments a whole-array write is cut into, at most.
const MAX_WRITE_FRAGMENTS: usize = 16;

/// What the model knows of the authenticator's large-blob state.
#[derive(Debug)]
pub(super) struct LargeBlobModel {
    /// The serialized array a get reads.
    pub(super) stored: Vec<u8>,
    /// A write in progress: the announced length and the bytes so far.
    pending: Option<(usize, Vec<u8>)>,
    /// False after a raw request (which the model does not follow) may have
    /// moved a write on; a first fragment makes it known again.
    pending_known: bool,
    /// The last array built by [`Action::LargeBlobWrite`]: fragments of it
    /// can be sent one by one ([`Fragment::Draft`]).
    draft: Vec<u8>,
}

impl LargeBlobModel {
    pub(super) fn new() -> Self {
        Self {
            stored: INITIAL_ARRAY.to_vec(),
            pending: None,
            pending_known: true,
            draft: INITIAL_ARRAY.to_vec(),
        }
    }

    /// After a reset: the initial array, no write in progress.
    pub(super) fn reset(&mut self) {
        self.stored = INITIAL_ARRAY.to_vec();
        self.pending = None;
        self.pending_known = true;
    }

    /// After a power cycle: a write in progress is forgotten.
    pub(super) fn power_cycle(&mut self) {
        self.pending = None;
        self.pending_known = true;
    }
}

/// How a set request authenticates (`auth % 4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    /// No pinUvAuthParam.
    None,
    /// The MAC under the held token (a zero token if none is held).
    Token,
    /// That MAC with its first byte flipped.
    Corrupt,
    /// That MAC, but pinUvAuthProtocol 3 (unsupported).
    BadProtocol,
}

impl Auth {
    fn from_byte(auth: u8) -> Self {
        match auth % 4 {
            0 => Self::None,
            1 => Self::Token,
            2 => Self::Corrupt,
            _ => Self::BadProtocol,
        }
    }
}

/// The serialized form: `array ‖ LEFT(SHA-256(array), 16)`.
pub(super) fn serialize(array: &[u8]) -> Vec<u8> {
    let mut out = array.to_vec();
    out.extend_from_slice(&sha256(array)[..HASH_LEN]);
    out
}

fn hash_checks(serialized: &[u8]) -> bool {
    serialized.len() > HASH_LEN && {
        let (array, hash) = serialized.split_at(serialized.len() - HASH_LEN);
        sha256(array)[..HASH_LEN] == *hash
    }
}

fn valid_length(length: usize) -> bool {
    (INITIAL_ARRAY.len()..=MAX_SERIALIZED_LARGE_BLOB_ARRAY).contains(&length)
}

impl SequenceModel {
    /// [`Action::LargeBlobGet`].
    pub(super) fn large_blob_get(&mut self, offset: u16, get: u16) {
        let request = request(
            commands::LARGE_BLOBS,
            vec![
                (int(1), int(i64::from(get))),
                (int(3), int(i64::from(offset))),
            ],
        );
        let (status, reply) = self.call(&request);
        let (offset, get) = (usize::from(offset), usize::from(get));
        let stored = &self.large_blob.stored;
        if get > MAX_FRAGMENT_LENGTH {
            assert_eq!(status, StatusCode::InvalidLength.code(), "get of {get}");
            return;
        }
        if offset > stored.len() {
            assert_eq!(
                status,
                StatusCode::InvalidParameter.code(),
                "get at {offset} of a {}-byte array",
                stored.len()
            );
            return;
        }
        assert_eq!(status, StatusCode::Ok.code(), "get {get} at {offset}");
        let fragment = reply
            .as_ref()
            .and_then(|r| field(r, 1))
            .and_then(Value::as_bytes)
            .expect("a get returns its fragment");
        let end = (offset + get).min(stored.len());
        assert!(
            fragment[..] == stored[offset..end],
            "get {get} at {offset} read other bytes than were written"
        );
    }

    /// [`Action::LargeBlobSet`]: one fragment.
    pub(super) fn large_blob_set(
        &mut self,
        offset: u16,
        length: Option<u16>,
        fragment: &Fragment,
        auth: u8,
    ) {
        let fragment = match fragment {
            Fragment::Raw(bytes) => bytes.clone(),
            Fragment::Draft { start, len } => {
                let draft = &self.large_blob.draft;
                let start = usize::from(*start).min(draft.len());
                let end = start.saturating_add(usize::from(*len)).min(draft.len());
                draft[start..end].to_vec()
            }
        };
        self.send_fragment(
            usize::from(offset),
            length.map(usize::from),
            fragment,
            Auth::from_byte(auth),
        );
    }

    /// [`Action::LargeBlobWrite`]: builds an array of `entries % 8` byte
    /// strings, about `size` bytes in all, and writes it from offset 0 in
    /// fragments of `chunk` bytes (no more than 16 of them). `flags` bit 0
    /// corrupts the hash, bits 1–2 choose the authentication, bit 3 stops
    /// after the first fragment.
    pub(super) fn large_blob_write(&mut self, entries: u8, size: u16, chunk: u16, flags: u8) {
        let count = usize::from(entries % 8);
        let each = usize::from(size) / count.max(1);
        let array = Value::Array(
            (0..count)
                .map(|i| Value::Bytes(vec![i as u8; each]))
                .collect(),
        );
        let mut serialized = serialize(&cbor::encode(array));
        if flags & 0x01 != 0 {
            *serialized
                .last_mut()
                .expect("a serialized array is not empty") ^= 0x01;
        }
        self.large_blob.draft = serialized.clone();
        let chunk = usize::from(chunk)
            .max(serialized.len().div_ceil(MAX_WRITE_FRAGMENTS))
            .max(1);
        let auth = Auth::from_byte(flags >> 1);
        let mut all_accepted = true;
        for (i, piece) in serialized.chunks(chunk).enumerate() {
            let offset = i * chunk;
            let length = (offset == 0).then_some(serialized.len());
            let status = self.send_fragment(offset, length, piece.to_vec(), auth);
            all_accepted &= status == StatusCode::Ok.code();
            if !all_accepted || flags & 0x08 != 0 {
                break;
            }
        }
        // With no user verification configured, a well-formed array written
        // in order is stored.
        let well_formed = flags & 0x01 == 0
            && chunk <= MAX_FRAGMENT_LENGTH
            && serialized.len() <= MAX_SERIALIZED_LARGE_BLOB_ARRAY;
        if !self.protected() && well_formed && flags & 0x08 == 0 {
            assert!(all_accepted, "a well-formed write was refused");
            assert!(
                self.large_blob.stored == serialized,
                "a completed write did not store the array"
            );
        }
    }

    /// Sends one set request and checks the answer against the model;
    /// returns the status.
    fn send_fragment(
        &mut self,
        offset: usize,
        length: Option<usize>,
        fragment: Vec<u8>,
        auth: Auth,
    ) -> u8 {
        let mut params = vec![(int(2), bytes(&fragment)), (int(3), int(offset as i64))];
        if let Some(length) = length {
            params.push((int(4), int(length as i64)));
        }
        if auth != Auth::None {
            let (protocol, token) = match &self.token {
                Some(held) => (held.protocol, held.token.clone()),
                None => (crate::pin::Protocol::Two, vec![0; 32]),
            };
            let mut message = vec![0xff; 32];
            message.extend_from_slice(&[commands::LARGE_BLOBS, 0x00]);
            message.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
            message.extend_from_slice(&sha256(&fragment));
            let mut param = protocol.authenticate(&token, &message).to_vec();
            if auth == Auth::Corrupt {
                param[0] ^= 0x01;
            }
            let number = if auth == Auth::BadProtocol {
                3
            } else {
                protocol.number() as i64
            };
            params.push((int(5), bytes(&param)));
            params.push((int(6), int(number)));
        }
        let (status, _) = self.call(&request(commands::LARGE_BLOBS, params));
        self.large_blob_set_answered(offset, length, &fragment, auth, status);
        status
    }

    fn large_blob_set_answered(
        &mut self,
        offset: usize,
        length: Option<usize>,
        fragment: &[u8],
        auth: Auth,
        status: u8,
    ) {
        let accepted =
            status == StatusCode::Ok.code() || status == StatusCode::IntegrityFailure.code();
        let protected = self.protected();
        if !self.large_blob.pending_known && offset != 0 {
            // A raw request may have moved the write on: only the store is
            // known.
            if accepted {
                self.resync_large_blob();
            }
            return;
        }
        let model = &mut self.large_blob;
        // The write as it stands if this fragment is taken.
        let extended = if offset == 0 {
            length.map(|length| (length, fragment.to_vec()))
        } else {
            model.pending.as_ref().map(|(length, buffer)| {
                let mut buffer = buffer.clone();
                buffer.extend_from_slice(fragment);
                (*length, buffer)
            })
        };
        if accepted {
            model.pending_known = true;
            assert!(
                fragment.len() <= MAX_FRAGMENT_LENGTH,
                "a {}-byte fragment was taken",
                fragment.len()
            );
            if protected {
                let token_grants = self
                    .token
                    .as_ref()
                    .is_some_and(|t| t.may_grant(Permissions::LARGE_BLOB_WRITE));
                assert!(
                    auth == Auth::Token && token_grants,
                    "a protected authenticator took a fragment with {auth:?} \
                     (token: {:?})",
                    self.token.as_ref().map(|t| (t.permissions, t.current))
                );
            }
            if offset == 0 {
                let length = length.expect("the first fragment announces the length");
                assert!(valid_length(length), "announced length {length} taken");
            } else {
                assert!(length.is_none(), "a later fragment announced a length");
                let at = model.pending.as_ref().map(|(_, buffer)| buffer.len());
                assert_eq!(at, Some(offset), "a fragment taken out of sequence");
            }
            let (length, buffer) = extended.expect("the write is known");
            assert!(
                buffer.len() <= length,
                "the write grew past its announced {length} bytes"
            );
            if buffer.len() < length {
                assert_eq!(status, StatusCode::Ok.code(), "integrity checked early");
                model.pending = Some((length, buffer));
            } else {
                model.pending = None;
                let intact = hash_checks(&buffer);
                assert_eq!(
                    status == StatusCode::Ok.code(),
                    intact,
                    "a completed write with {} hash answered 0x{status:02x}",
                    if intact { "a good" } else { "a bad" }
                );
                if intact {
                    model.stored = buffer;
                }
            }
        } else if status == StatusCode::InvalidParameter.code()
            && offset == 0
            && fragment.len() <= MAX_FRAGMENT_LENGTH
            && length.is_some_and(|l| valid_length(l) && fragment.len() > l)
            && (!protected || matches!(auth, Auth::Token | Auth::Corrupt))
        {
            // A first fragment longer than the length it announces: the new
            // write was begun, then refused.
            model.pending = Some((length.unwrap_or_default(), Vec::new()));
            model.pending_known = true;
        }
    }

    /// After a raw large-blob request, which the model does not follow: the
    /// write in progress is unknown, the stored array is what the store holds.
    pub(super) fn resync_large_blob(&mut self) {
        self.large_blob.pending_known = false;
        self.large_blob.stored = self.stored_array();
    }

    fn stored_array(&mut self) -> Vec<u8> {
        self.authenticator
            .store_mut()
            .setting(SettingKey::LargeBlobArray)
            .expect("a memory store reads")
            .map(|bytes| bytes.expose_secret().to_vec())
            .unwrap_or_else(|| INITIAL_ARRAY.to_vec())
    }

    /// The model told that a fragment at `offset` (no length, no auth) was
    /// taken.
    #[cfg(test)]
    pub(super) fn large_blob_set_answered_for_test(&mut self, offset: usize, fragment: Vec<u8>) {
        self.large_blob_set_answered(offset, None, &fragment, Auth::None, StatusCode::Ok.code());
    }

    /// After every step: the stored serialized array is the model's, and it
    /// ends with its truncated hash.
    pub(super) fn check_large_blob_store(&mut self) {
        let stored = self.stored_array();
        assert!(hash_checks(&stored), "the stored array fails its hash");
        assert!(
            stored == self.large_blob.stored,
            "the stored array is not the last one written"
        );
    }
}
