//! The host side of CTAPHID: a sans-IO reassembler and a blocking client.
//!
//! [`Reassembler`] turns the reports of one channel back into messages; it is
//! pure and also checks the device's output in the fuzz harness.
//! [`HostClient`] drives a whole transaction over any [`PacketIo`] (UDP,
//! hidapi, an in-memory pipe) and blocks until the answer arrives.

use std::io;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::ctaphid::{
    self, BROADCAST_CID, CONT_DATA_LEN, Command, HidError, INIT_NONCE_LEN, InitResponse,
    KeepaliveStatus, MAX_MESSAGE_LEN, MessageTooLong, Packet, REPORT_LEN,
};

/// Moves whole 64-byte reports between host and device.
pub trait PacketIo {
    /// Send one output report to the device.
    fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()>;
    /// Wait up to `timeout` for one input report; `Ok(None)` on timeout.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>>;
}

/// One reassembled message from the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Command code, bit 7 cleared (e.g. `Command::Cbor.code()`).
    pub cmd: u8,
    /// The message payload, BCNT bytes.
    pub payload: Vec<u8>,
}

/// The device broke the framing rules on our channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// An initialization packet announced more than 7609 bytes.
    #[error("message announces {0} bytes, more than {MAX_MESSAGE_LEN}")]
    TooLong(usize),
    /// A continuation packet carried the wrong sequence number.
    #[error("continuation SEQ {got}, expected {expected}")]
    InvalidSeq {
        /// The sequence number the next packet should carry.
        expected: u8,
        /// The one it carried.
        got: u8,
    },
    /// A new initialization packet arrived before the message was complete.
    #[error("initialization packet interrupts an incomplete message")]
    Interrupted,
}

/// Partial message state of a [`Reassembler`].
struct Partial {
    cmd: u8,
    len: usize,
    /// Wiped if the message is dropped half-way (a reply may carry secrets).
    data: Zeroizing<Vec<u8>>,
    next_seq: u8,
}

impl std::fmt::Debug for Partial {
    /// Lengths only: a reply may carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partial")
            .field("cmd", &self.cmd)
            .field("len", &self.len)
            .field("received", &self.data.len())
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

/// Sans-IO reassembly of the reports of one channel.
#[derive(Debug)]
pub struct Reassembler {
    cid: u32,
    partial: Option<Partial>,
}

impl Reassembler {
    /// Reassemble messages sent on channel `cid`; reports on other channels
    /// are skipped.
    pub fn new(cid: u32) -> Self {
        Self { cid, partial: None }
    }

    /// The channel this reassembler listens to.
    pub fn cid(&self) -> u32 {
        self.cid
    }

    /// Whether a message has started and is not complete yet.
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Feed one report; a complete message comes out. Continuation packets
    /// with no message in progress are skipped, as the spec says.
    pub fn push(&mut self, report: &[u8; REPORT_LEN]) -> Result<Option<Message>, ReassemblyError> {
        match Packet::parse(report) {
            packet if packet.cid() != self.cid => Ok(None),
            Packet::Init {
                cmd, bcnt, data, ..
            } => {
                if self.partial.take().is_some() {
                    return Err(ReassemblyError::Interrupted);
                }
                let len = usize::from(bcnt);
                if len > MAX_MESSAGE_LEN {
                    return Err(ReassemblyError::TooLong(len));
                }
                let mut partial = Partial {
                    cmd,
                    len,
                    data: Zeroizing::new(Vec::with_capacity(len)),
                    next_seq: 0,
                };
                partial.data.extend_from_slice(&data[..len.min(data.len())]);
                Ok(self.finish_if_complete(partial))
            }
            Packet::Cont { seq, data, .. } => {
                let Some(mut partial) = self.partial.take() else {
                    return Ok(None);
                };
                if seq != partial.next_seq {
                    return Err(ReassemblyError::InvalidSeq {
                        expected: partial.next_seq,
                        got: seq,
                    });
                }
                partial.next_seq += 1;
                let missing = (partial.len - partial.data.len()).min(CONT_DATA_LEN);
                partial.data.extend_from_slice(&data[..missing]);
                Ok(self.finish_if_complete(partial))
            }
        }
    }

    fn finish_if_complete(&mut self, mut partial: Partial) -> Option<Message> {
        if partial.data.len() == partial.len {
            Some(Message {
                cmd: partial.cmd,
                // Moved out whole (the buffer was sized for it: no copy).
                payload: std::mem::take(&mut *partial.data),
            })
        } else {
            self.partial = Some(partial);
            None
        }
    }
}

/// Why a [`HostClient`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The device answered `CTAPHID_ERROR` with this code (see [`HidError`]).
    #[error("device answered CTAPHID error {0:#04x}")]
    Device(u8),
    /// No report arrived within the client's timeout.
    #[error("no answer from the device in time")]
    Timeout,
    /// The transport failed.
    #[error("transport I/O: {0}")]
    Io(#[from] io::Error),
    /// The device's answer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The request is longer than a CTAPHID message can be.
    #[error(transparent)]
    MessageTooLong(#[from] MessageTooLong),
}

impl HostError {
    /// The CTAPHID error, if the device sent a known one.
    pub fn hid_error(&self) -> Option<HidError> {
        match self {
            HostError::Device(code) => HidError::from_code(*code),
            _ => None,
        }
    }
}

impl From<ReassemblyError> for HostError {
    fn from(error: ReassemblyError) -> Self {
        HostError::Protocol(error.to_string())
    }
}

/// How long [`HostClient`] waits for each report by default. Keepalives
/// arrive every 100 ms while the device works, so this only fires when the
/// device is gone or does not send them.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// A blocking CTAPHID client on one channel.
#[derive(Debug)]
pub struct HostClient<P: PacketIo> {
    io: P,
    cid: u32,
    info: Option<InitResponse>,
    timeout: Duration,
}

impl<P: PacketIo> HostClient<P> {
    /// A client with no channel yet; call [`init`](Self::init) first.
    pub fn new(io: P) -> Self {
        Self {
            io,
            cid: BROADCAST_CID,
            info: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Set how long to wait for each report.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Allocate a channel: broadcast `CTAPHID_INIT` with a random nonce, and
    /// take the first answer that echoes it (answers to other hosts' INITs
    /// are skipped).
    pub fn init(&mut self) -> Result<InitResponse, HostError> {
        let nonce: [u8; INIT_NONCE_LEN] = rand::random();
        self.send_message(BROADCAST_CID, Command::Init, &nonce)?;
        let mut reassembler = Reassembler::new(BROADCAST_CID);
        loop {
            let message = self.recv_message(&mut reassembler)?;
            match Command::from_code(message.cmd) {
                Some(Command::Init) => {
                    let response = InitResponse::parse(&message.payload).ok_or_else(|| {
                        HostError::Protocol(format!(
                            "INIT response of {} bytes",
                            message.payload.len()
                        ))
                    })?;
                    if response.nonce != nonce {
                        continue;
                    }
                    if response.cid == BROADCAST_CID || response.cid == ctaphid::RESERVED_CID {
                        return Err(HostError::Protocol(format!(
                            "device allocated reserved channel {:08x}",
                            response.cid
                        )));
                    }
                    self.cid = response.cid;
                    self.info = Some(response);
                    return Ok(response);
                }
                Some(Command::Error) => return Err(device_error(&message.payload)),
                _ => continue,
            }
        }
    }

    /// `CTAPHID_PING`: send `data`, expect it back.
    pub fn ping(&mut self, data: &[u8]) -> Result<Vec<u8>, HostError> {
        let echo = self.transact(Command::Ping, data, &mut |_| false)?;
        if echo != data {
            return Err(HostError::Protocol("PING echo differs".into()));
        }
        Ok(echo)
    }

    /// `CTAPHID_CBOR`: send a CTAP2 request, return the response (status
    /// byte + CBOR). `on_keepalive` sees each keepalive status meanwhile.
    pub fn cbor(
        &mut self,
        request: &[u8],
        mut on_keepalive: impl FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, HostError> {
        self.transact(Command::Cbor, request, &mut |status| {
            on_keepalive(status);
            false
        })
    }

    /// Like [`cbor`](Self::cbor), but `on_keepalive` returns `true` to send
    /// `CTAPHID_CANCEL` (once); the device then answers the request itself,
    /// normally with `CTAP2_ERR_KEEPALIVE_CANCEL` (0x2D).
    pub fn cbor_cancellable(
        &mut self,
        request: &[u8],
        on_keepalive: impl FnMut(KeepaliveStatus) -> bool,
    ) -> Result<Vec<u8>, HostError> {
        let mut on_keepalive = on_keepalive;
        self.transact(Command::Cbor, request, &mut on_keepalive)
    }

    /// `CTAPHID_MSG`: send a CTAP1/U2F APDU, return the response APDU.
    pub fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, HostError> {
        self.transact(Command::Msg, apdu, &mut |_| false)
    }

    /// `CTAPHID_WINK`: ask the device to identify itself.
    pub fn wink(&mut self) -> Result<(), HostError> {
        self.transact(Command::Wink, &[], &mut |_| false).map(drop)
    }

    /// `CTAPHID_LOCK`: lock the device to this channel for `seconds`
    /// (0 releases, at most 10).
    pub fn lock(&mut self, seconds: u8) -> Result<(), HostError> {
        self.transact(Command::Lock, &[seconds], &mut |_| false)
            .map(drop)
    }

    /// `CTAPHID_CANCEL` on this channel. The device never answers it.
    pub fn cancel(&mut self) -> Result<(), HostError> {
        self.require_channel()?;
        self.send_message(self.cid, Command::Cancel, &[])
    }

    /// Capability flags from the INIT response (0 before [`init`](Self::init)).
    pub fn capabilities(&self) -> u8 {
        self.info.map_or(0, |info| info.capabilities)
    }

    /// The allocated channel ([`BROADCAST_CID`] before [`init`](Self::init)).
    pub fn channel(&self) -> u32 {
        self.cid
    }

    /// The full INIT response, once [`init`](Self::init) succeeded.
    pub fn device_info(&self) -> Option<&InitResponse> {
        self.info.as_ref()
    }

    /// The transport, e.g. to power-cycle a UDP device.
    pub fn io_mut(&mut self) -> &mut P {
        &mut self.io
    }

    /// Give the transport back.
    pub fn into_inner(self) -> P {
        self.io
    }

    fn require_channel(&self) -> Result<(), HostError> {
        if self.info.is_none() {
            return Err(HostError::Protocol("no channel: call init() first".into()));
        }
        Ok(())
    }

    /// One request/response on our channel. `on_keepalive` returning true
    /// sends a CANCEL.
    fn transact(
        &mut self,
        command: Command,
        payload: &[u8],
        on_keepalive: &mut dyn FnMut(KeepaliveStatus) -> bool,
    ) -> Result<Vec<u8>, HostError> {
        self.require_channel()?;
        self.send_message(self.cid, command, payload)?;
        let mut reassembler = Reassembler::new(self.cid);
        let mut cancel_sent = false;
        loop {
            let message = self.recv_message(&mut reassembler)?;
            match Command::from_code(message.cmd) {
                Some(answer) if answer == command => return Ok(message.payload),
                Some(Command::Keepalive) => {
                    let status = message
                        .payload
                        .first()
                        .and_then(|&code| KeepaliveStatus::from_code(code));
                    // Unknown statuses are reserved for future use: skip them.
                    if let Some(status) = status
                        && on_keepalive(status)
                        && !cancel_sent
                    {
                        cancel_sent = true;
                        self.send_message(self.cid, Command::Cancel, &[])?;
                    }
                }
                Some(Command::Error) => return Err(device_error(&message.payload)),
                _ => {
                    return Err(HostError::Protocol(format!(
                        "answer with command {:#04x} to {command:?}",
                        message.cmd
                    )));
                }
            }
        }
    }

    fn send_message(
        &mut self,
        cid: u32,
        command: Command,
        payload: &[u8],
    ) -> Result<(), HostError> {
        // One report at a time, each wiped after sending (a request may
        // carry secrets); the first failure is kept.
        let mut sent = Ok(());
        ctaphid::fragment_each(cid, command, payload, |report| {
            if sent.is_ok() {
                sent = self.io.send(report);
            }
        })?;
        Ok(sent?)
    }

    fn recv_message(&mut self, reassembler: &mut Reassembler) -> Result<Message, HostError> {
        loop {
            let report = self.io.recv(self.timeout)?.ok_or(HostError::Timeout)?;
            if let Some(message) = reassembler.push(&report)? {
                return Ok(message);
            }
        }
    }
}

fn device_error(payload: &[u8]) -> HostError {
    match payload {
        [code, ..] => HostError::Device(*code),
        [] => HostError::Protocol("empty CTAPHID_ERROR".into()),
    }
}

#[cfg(test)]
mod tests;
