//! CTAPHID wire format: constants, packet parsing, fragmentation.
//!
//! Everything here is a pure function over bytes, shared by the device side
//! ([`crate::HidDevice`]) and the host side ([`crate::host`]).
//!
//! Spec: CTAP 2.1 §11.2.4 (packets), §11.2.9 (commands), §11.2.9.1.6 (errors),
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#usb>

use zeroize::Zeroize as _;

/// Size of every HID report, in bytes (full-speed USB interrupt endpoint).
pub const REPORT_LEN: usize = 64;
/// Payload bytes in an initialization packet: 64 − CID(4) − CMD(1) − BCNT(2).
pub const INIT_DATA_LEN: usize = REPORT_LEN - 7;
/// Payload bytes in a continuation packet: 64 − CID(4) − SEQ(1).
pub const CONT_DATA_LEN: usize = REPORT_LEN - 5;
/// Highest continuation sequence number (SEQ has bit 7 clear).
pub const MAX_SEQ: u8 = 0x7f;
/// Largest message: one init packet and 128 continuation packets (§11.2.4).
pub const MAX_MESSAGE_LEN: usize = INIT_DATA_LEN + (MAX_SEQ as usize + 1) * CONT_DATA_LEN;
/// The broadcast channel; only `CTAPHID_INIT` may be sent on it.
pub const BROADCAST_CID: u32 = 0xffff_ffff;
/// Channel 0 is reserved and never allocated.
pub const RESERVED_CID: u32 = 0;
/// Bit 7 of byte 4 marks an initialization packet.
pub const TYPE_INIT: u8 = 0x80;
/// Length of the `CTAPHID_INIT` nonce.
pub const INIT_NONCE_LEN: usize = 8;
/// CTAPHID protocol version reported in the INIT response.
pub const PROTOCOL_VERSION: u8 = 2;

/// Capability flag: the device implements `CTAPHID_WINK`.
pub const CAPABILITY_WINK: u8 = 0x01;
/// Capability flag: the device implements `CTAPHID_CBOR`.
pub const CAPABILITY_CBOR: u8 = 0x04;
/// Capability flag: the device does *not* implement `CTAPHID_MSG`.
pub const CAPABILITY_NMSG: u8 = 0x08;

/// CTAPHID command codes (§11.2.9), without the init-packet bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// `CTAPHID_PING` (0x01): echo the payload.
    Ping = 0x01,
    /// `CTAPHID_MSG` (0x03): a CTAP1/U2F APDU.
    Msg = 0x03,
    /// `CTAPHID_LOCK` (0x04): exclusive access for a few seconds.
    Lock = 0x04,
    /// `CTAPHID_INIT` (0x06): allocate or resynchronise a channel.
    Init = 0x06,
    /// `CTAPHID_WINK` (0x08): identify the device visibly.
    Wink = 0x08,
    /// `CTAPHID_CBOR` (0x10): a CTAP2 CBOR request or response.
    Cbor = 0x10,
    /// `CTAPHID_CANCEL` (0x11): cancel the request in flight on this channel.
    Cancel = 0x11,
    /// `CTAPHID_KEEPALIVE` (0x3B): device → host, request still processing.
    Keepalive = 0x3b,
    /// `CTAPHID_ERROR` (0x3F): device → host, one [`HidError`] byte.
    Error = 0x3f,
}

impl Command {
    /// The command for a 7-bit code (init bit cleared), if CTAP 2.1 defines one.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::Ping,
            0x03 => Self::Msg,
            0x04 => Self::Lock,
            0x06 => Self::Init,
            0x08 => Self::Wink,
            0x10 => Self::Cbor,
            0x11 => Self::Cancel,
            0x3b => Self::Keepalive,
            0x3f => Self::Error,
            _ => return None,
        })
    }

    /// The 7-bit command code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// CTAPHID error codes, the single payload byte of `CTAPHID_ERROR` (§11.2.9.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
#[repr(u8)]
pub enum HidError {
    /// `ERR_INVALID_CMD` (0x01): the command is unknown or not enabled.
    #[error("CTAPHID ERR_INVALID_CMD (0x01)")]
    InvalidCmd = 0x01,
    /// `ERR_INVALID_PAR` (0x02): a parameter of the command is invalid.
    #[error("CTAPHID ERR_INVALID_PAR (0x02)")]
    InvalidPar = 0x02,
    /// `ERR_INVALID_LEN` (0x03): the length (BCNT) is invalid for the command.
    #[error("CTAPHID ERR_INVALID_LEN (0x03)")]
    InvalidLen = 0x03,
    /// `ERR_INVALID_SEQ` (0x04): a continuation arrived out of sequence.
    #[error("CTAPHID ERR_INVALID_SEQ (0x04)")]
    InvalidSeq = 0x04,
    /// `ERR_MSG_TIMEOUT` (0x05): the message was not completed in time.
    #[error("CTAPHID ERR_MSG_TIMEOUT (0x05)")]
    MsgTimeout = 0x05,
    /// `ERR_CHANNEL_BUSY` (0x06): another channel holds the device.
    #[error("CTAPHID ERR_CHANNEL_BUSY (0x06)")]
    ChannelBusy = 0x06,
    /// `ERR_LOCK_REQUIRED` (0x0A): the command requires a channel lock.
    #[error("CTAPHID ERR_LOCK_REQUIRED (0x0A)")]
    LockRequired = 0x0a,
    /// `ERR_INVALID_CHANNEL` (0x0B): the channel is not allocated.
    #[error("CTAPHID ERR_INVALID_CHANNEL (0x0B)")]
    InvalidChannel = 0x0b,
    /// `ERR_OTHER` (0x7F): unspecified error.
    #[error("CTAPHID ERR_OTHER (0x7F)")]
    Other = 0x7f,
}

impl HidError {
    /// The error for a wire code, if CTAP 2.1 defines one.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::InvalidCmd,
            0x02 => Self::InvalidPar,
            0x03 => Self::InvalidLen,
            0x04 => Self::InvalidSeq,
            0x05 => Self::MsgTimeout,
            0x06 => Self::ChannelBusy,
            0x0a => Self::LockRequired,
            0x0b => Self::InvalidChannel,
            0x7f => Self::Other,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The status byte of a `CTAPHID_KEEPALIVE` (§11.2.9.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum KeepaliveStatus {
    /// `STATUS_PROCESSING`: the authenticator is still working.
    #[default]
    Processing = 1,
    /// `STATUS_UPNEEDED`: the authenticator waits for user presence.
    UpNeeded = 2,
}

impl KeepaliveStatus {
    /// The status for a wire byte, if CTAP 2.1 defines one.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Processing),
            2 => Some(Self::UpNeeded),
            _ => None,
        }
    }
}

/// One parsed 64-byte report. Any 64 bytes parse: the type bit decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Initialization packet: `CID | CMD (bit 7 set) | BCNTH | BCNTL | DATA(57)`.
    Init {
        /// Channel identifier.
        cid: u32,
        /// Command code with bit 7 cleared (may be unknown).
        cmd: u8,
        /// Total message length announced by BCNT.
        bcnt: u16,
        /// The packet's 57 data bytes (zero padding included).
        data: &'a [u8; INIT_DATA_LEN],
    },
    /// Continuation packet: `CID | SEQ (bit 7 clear) | DATA(59)`.
    Cont {
        /// Channel identifier.
        cid: u32,
        /// Sequence number, 0..=0x7f.
        seq: u8,
        /// The packet's 59 data bytes (zero padding included).
        data: &'a [u8; CONT_DATA_LEN],
    },
}

impl<'a> Packet<'a> {
    /// Split a report into its fields.
    pub fn parse(report: &'a [u8; REPORT_LEN]) -> Self {
        let (cid_bytes, rest) = report.split_first_chunk::<4>().expect("64 > 4");
        let cid = u32::from_be_bytes(*cid_bytes);
        let (&kind, rest) = rest.split_first().expect("60 > 1");
        if kind & TYPE_INIT != 0 {
            let (bcnt_bytes, data) = rest.split_first_chunk::<2>().expect("59 > 2");
            Packet::Init {
                cid,
                cmd: kind & !TYPE_INIT,
                bcnt: u16::from_be_bytes(*bcnt_bytes),
                data: data.try_into().expect("64 - 7 = INIT_DATA_LEN"),
            }
        } else {
            Packet::Cont {
                cid,
                seq: kind,
                data: rest.try_into().expect("64 - 5 = CONT_DATA_LEN"),
            }
        }
    }

    /// The channel the packet belongs to.
    pub fn cid(&self) -> u32 {
        match *self {
            Packet::Init { cid, .. } | Packet::Cont { cid, .. } => cid,
        }
    }
}

/// Copy a report of any length into a 64-byte buffer: shorter reports are
/// zero-padded, bytes past 64 are ignored.
pub fn normalize_report(report: &[u8]) -> [u8; REPORT_LEN] {
    let mut out = [0u8; REPORT_LEN];
    let len = report.len().min(REPORT_LEN);
    out[..len].copy_from_slice(&report[..len]);
    out
}

/// A message longer than [`MAX_MESSAGE_LEN`] cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("CTAPHID message of {len} bytes exceeds the maximum of {MAX_MESSAGE_LEN}")]
pub struct MessageTooLong {
    /// The rejected message length.
    pub len: usize,
}

/// Split a message into reports: one init packet, then continuations with
/// SEQ 0, 1, …; unused bytes of the last packet are zero (§11.2.4).
///
/// The returned `Vec` is not wiped when dropped: for a message that may
/// carry secrets use [`fragment_each`], which hands out one report at a time.
pub fn fragment(
    cid: u32,
    cmd: Command,
    payload: &[u8],
) -> Result<Vec<[u8; REPORT_LEN]>, MessageTooLong> {
    // Sized for the longest message at most: a longer one is refused.
    let framed = payload.len().min(MAX_MESSAGE_LEN);
    let mut reports = Vec::with_capacity(1 + framed.div_ceil(CONT_DATA_LEN));
    fragment_each(cid, cmd, payload, |report| reports.push(*report))?;
    Ok(reports)
}

/// [`fragment`] without the `Vec`: `each` sees the reports in order, each
/// in one stack buffer that is zeroed afterwards, so that framing leaves no
/// copy of the message in memory that is not the caller's own.
pub fn fragment_each(
    cid: u32,
    cmd: Command,
    payload: &[u8],
    mut each: impl FnMut(&[u8; REPORT_LEN]),
) -> Result<(), MessageTooLong> {
    let too_long = MessageTooLong { len: payload.len() };
    if payload.len() > MAX_MESSAGE_LEN {
        return Err(too_long);
    }
    let bcnt = u16::try_from(payload.len()).map_err(|_| too_long)?;
    let (first, rest) = payload.split_at(payload.len().min(INIT_DATA_LEN));

    let mut report = [0u8; REPORT_LEN];
    report[..4].copy_from_slice(&cid.to_be_bytes());
    report[4] = TYPE_INIT | cmd.code();
    report[5..7].copy_from_slice(&bcnt.to_be_bytes());
    report[7..7 + first.len()].copy_from_slice(first);
    each(&report);

    for (seq, chunk) in (0..=MAX_SEQ).zip(rest.chunks(CONT_DATA_LEN)) {
        report.zeroize();
        report[..4].copy_from_slice(&cid.to_be_bytes());
        report[4] = seq;
        report[5..5 + chunk.len()].copy_from_slice(chunk);
        each(&report);
    }
    report.zeroize();
    Ok(())
}

/// A single-packet `CTAPHID_ERROR` report.
pub fn error_report(cid: u32, error: HidError) -> [u8; REPORT_LEN] {
    single_byte_report(cid, Command::Error, error.code())
}

/// A single-packet `CTAPHID_KEEPALIVE` report.
pub fn keepalive_report(cid: u32, status: KeepaliveStatus) -> [u8; REPORT_LEN] {
    single_byte_report(cid, Command::Keepalive, status as u8)
}

fn single_byte_report(cid: u32, cmd: Command, byte: u8) -> [u8; REPORT_LEN] {
    let mut report = [0u8; REPORT_LEN];
    report[..4].copy_from_slice(&cid.to_be_bytes());
    report[4] = TYPE_INIT | cmd.code();
    report[5..7].copy_from_slice(&1u16.to_be_bytes());
    report[7] = byte;
    report
}

/// The 17-byte payload of a `CTAPHID_INIT` response (§11.2.9.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitResponse {
    /// The nonce of the request, echoed.
    pub nonce: [u8; INIT_NONCE_LEN],
    /// The allocated (or resynchronised) channel.
    pub cid: u32,
    /// CTAPHID protocol version, [`PROTOCOL_VERSION`].
    pub protocol_version: u8,
    /// Device version: major, minor, build.
    pub device_version: (u8, u8, u8),
    /// `CAPABILITY_*` flags.
    pub capabilities: u8,
}

impl InitResponse {
    /// Encoded length.
    pub const LEN: usize = 17;

    /// Encode to the wire layout.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..8].copy_from_slice(&self.nonce);
        out[8..12].copy_from_slice(&self.cid.to_be_bytes());
        out[12] = self.protocol_version;
        out[13] = self.device_version.0;
        out[14] = self.device_version.1;
        out[15] = self.device_version.2;
        out[16] = self.capabilities;
        out
    }

    /// Decode; `None` if shorter than 17 bytes. Longer payloads are accepted
    /// and the excess ignored, as U2F HID hosts do.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::LEN] = payload.get(..Self::LEN)?.try_into().ok()?;
        let (nonce, rest) = bytes.split_first_chunk::<8>()?;
        let (cid, rest) = rest.split_first_chunk::<4>()?;
        Some(Self {
            nonce: *nonce,
            cid: u32::from_be_bytes(*cid),
            protocol_version: rest[0],
            device_version: (rest[1], rest[2], rest[3]),
            capabilities: rest[4],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_message_len_is_the_spec_value() {
        assert_eq!(MAX_MESSAGE_LEN, 7609);
    }

    #[test]
    fn fragment_then_parse_round_trips() {
        let payload: Vec<u8> = (0..200u8).collect();
        let reports = fragment(0x0102_0304, Command::Cbor, &payload).expect("fits");
        // 57 + 59 + 59 + 25 = 200
        assert_eq!(reports.len(), 4);
        let mut got = Vec::new();
        match Packet::parse(&reports[0]) {
            Packet::Init {
                cid,
                cmd,
                bcnt,
                data,
            } => {
                assert_eq!((cid, cmd, bcnt), (0x0102_0304, 0x10, 200));
                got.extend_from_slice(data);
            }
            other => panic!("expected init packet, got {other:?}"),
        }
        for (i, report) in reports[1..].iter().enumerate() {
            match Packet::parse(report) {
                Packet::Cont { cid, seq, data } => {
                    assert_eq!(cid, 0x0102_0304);
                    assert_eq!(usize::from(seq), i);
                    got.extend_from_slice(data);
                }
                other => panic!("expected continuation, got {other:?}"),
            }
        }
        assert_eq!(&got[..200], &payload[..]);
        assert!(got[200..].iter().all(|&b| b == 0), "padding is zero");
    }

    #[test]
    fn fragment_limits() {
        let max = vec![0xa5; MAX_MESSAGE_LEN];
        let reports = fragment(1, Command::Ping, &max).expect("7609 fits");
        assert_eq!(reports.len(), 129);
        assert_eq!(reports[128][4], MAX_SEQ);
        let too_long = vec![0; MAX_MESSAGE_LEN + 1];
        assert_eq!(
            fragment(1, Command::Ping, &too_long),
            Err(MessageTooLong { len: 7610 })
        );
        assert_eq!(fragment(1, Command::Wink, &[]).expect("empty").len(), 1);
    }

    #[test]
    fn codes_round_trip() {
        for code in 0..=u8::MAX {
            if let Some(command) = Command::from_code(code) {
                assert_eq!(command.code(), code);
            }
            if let Some(error) = HidError::from_code(code) {
                assert_eq!(error.code(), code);
            }
        }
        assert_eq!(HidError::InvalidChannel.code(), 0x0b);
        assert_eq!(
            KeepaliveStatus::from_code(2),
            Some(KeepaliveStatus::UpNeeded)
        );
        assert_eq!(KeepaliveStatus::from_code(0), None);
    }

    #[test]
    fn init_response_layout() {
        let response = InitResponse {
            nonce: *b"12345678",
            cid: 0xdead_beef,
            protocol_version: PROTOCOL_VERSION,
            device_version: (1, 2, 3),
            capabilities: CAPABILITY_CBOR | CAPABILITY_WINK,
        };
        let bytes = response.to_bytes();
        assert_eq!(&bytes[8..12], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&bytes[12..], &[2, 1, 2, 3, 0x05]);
        assert_eq!(InitResponse::parse(&bytes), Some(response));
        assert_eq!(InitResponse::parse(&bytes[..16]), None);
    }

    #[test]
    fn normalize_pads_and_truncates() {
        assert_eq!(normalize_report(&[1, 2])[..3], [1, 2, 0]);
        assert_eq!(normalize_report(&[7; 70]), [7; 64]);
    }
}
