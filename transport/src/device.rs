//! The device side of CTAPHID: a sans-IO state machine.
//!
//! [`HidDevice`] takes output reports from the host and the current time, and
//! gives back input reports for the host and [`DeviceEvent`]s for the
//! application. It never blocks, never reads a clock and owns no socket: the
//! runtime around it calls [`HidDevice::handle_report`] for each report,
//! [`HidDevice::handle_timeout`] when [`HidDevice::poll_timeout`] is due, and
//! drains [`HidDevice::poll_report`] and [`HidDevice::poll_event`] after each.
//!
//! One transaction runs at a time (CTAP 2.1 §11.2.5 "Concurrency and
//! channels"): from the initialization packet of a request until its response,
//! other channels are told `ERR_CHANNEL_BUSY`. The decisions for each corner of
//! the spec are listed on [`HidDevice`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::ctaphid::{
    self, CAPABILITY_CBOR, CAPABILITY_WINK, Command, HidError, INIT_DATA_LEN, INIT_NONCE_LEN,
    InitResponse, KeepaliveStatus, MAX_MESSAGE_LEN, PROTOCOL_VERSION, Packet, REPORT_LEN,
};
use crate::reports::ReportQueue;

/// A message must be complete this long after its initialization packet, or
/// the device answers `ERR_MSG_TIMEOUT`. DESIGN.md fixes 3 s, the U2F HID
/// "transaction timeout" order of magnitude; CTAP 2.1 leaves the value to the
/// implementation (some firmware uses 500 ms).
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(3);

/// Interval between keepalives while a request is in flight. CTAP 2.1
/// §11.2.9.1.7 asks for "at least every 100ms"; 80 ms leaves 20 ms for a
/// runtime that wakes up late.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(80);

/// Longest lock `CTAPHID_LOCK` accepts, in seconds (§11.2.9.2.2).
pub const MAX_LOCK_SECONDS: u8 = 10;

/// Channels remembered at once; the least recently used one is forgotten
/// when a broadcast INIT needs room (its host must INIT again, and gets
/// `ERR_INVALID_CHANNEL` until it does). Bounds memory against INIT floods.
pub const MAX_CHANNELS: usize = 64;

/// Static facts about the device, reported in the INIT response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// `CAPABILITY_*` flags. `CTAPHID_WINK` and `CTAPHID_CBOR` are answered
    /// `ERR_INVALID_CMD` unless their flag is set.
    pub capabilities: u8,
    /// Device version (major, minor, build).
    pub device_version: (u8, u8, u8),
    /// `false`: `CTAPHID_MSG` is answered `ERR_INVALID_CMD` (set
    /// `CAPABILITY_NMSG` in `capabilities` to say so).
    pub msg_enabled: bool,
    /// Seed of the channel-ID generator: unpredictable in production,
    /// fixed in tests.
    pub cid_seed: u64,
}

impl Default for DeviceConfig {
    /// WINK + CBOR + MSG, version 0.1.0, seed 0 (tests only: fixed channel IDs).
    fn default() -> Self {
        Self {
            capabilities: CAPABILITY_WINK | CAPABILITY_CBOR,
            device_version: (0, 1, 0),
            msg_enabled: true,
            cid_seed: 0,
        }
    }
}

/// Which kind of request the application must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `CTAPHID_CBOR`: a CTAP2 request; answer with status byte + CBOR.
    Cbor,
    /// `CTAPHID_MSG`: a CTAP1/U2F APDU; answer with response data + SW.
    Msg,
}

/// Names one request handed to the application, so that a late answer
/// cannot land on a newer request (see [`HidDevice::respond_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(u64);

/// Something the application must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A complete request; answer it with [`HidDevice::respond`].
    Request {
        /// The channel it arrived on.
        channel: u32,
        /// CBOR or MSG.
        kind: RequestKind,
        /// The request message.
        payload: Vec<u8>,
    },
    /// The host cancelled the request in flight on `channel`; answer it with
    /// `CTAP2_ERR_KEEPALIVE_CANCEL` (0x2D) if it can still be cancelled.
    Cancel {
        /// The channel of the request in flight.
        channel: u32,
    },
    /// The host asked the device to identify itself (already answered).
    Wink {
        /// The requesting channel.
        channel: u32,
    },
}

/// A message being reassembled from continuation packets.
struct Assembly {
    cid: u32,
    command: Command,
    len: usize,
    /// Wiped if the message is dropped half-way (a request may carry secrets).
    data: Zeroizing<Vec<u8>>,
    next_seq: u8,
    deadline: Instant,
}

impl std::fmt::Debug for Assembly {
    /// Lengths only: a request may carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("cid", &format_args!("{:08x}", self.cid))
            .field("command", &self.command)
            .field("len", &self.len)
            .field("received", &self.data.len())
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

/// A request handed to the application and not yet answered.
#[derive(Debug)]
struct InFlight {
    id: RequestId,
    cid: u32,
    kind: RequestKind,
    status: KeepaliveStatus,
    next_keepalive: Instant,
    cancelled: bool,
}

/// The one transaction the device may be in.
#[derive(Debug, Default)]
enum Transaction {
    #[default]
    Idle,
    Assembling(Assembly),
    Processing(InFlight),
}

impl Transaction {
    fn cid(&self) -> Option<u32> {
        match self {
            Transaction::Idle => None,
            Transaction::Assembling(assembly) => Some(assembly.cid),
            Transaction::Processing(in_flight) => Some(in_flight.cid),
        }
    }
}

/// Allocated channels with least-recently-used eviction.
#[derive(Debug, Default)]
struct Channels {
    /// (cid, last use stamp)
    entries: Vec<(u32, u64)>,
    clock: u64,
}

impl Channels {
    fn contains(&self, cid: u32) -> bool {
        self.entries.iter().any(|&(known, _)| known == cid)
    }

    fn touch(&mut self, cid: u32) {
        self.clock += 1;
        let clock = self.clock;
        if let Some(entry) = self.entries.iter_mut().find(|(known, _)| *known == cid) {
            entry.1 = clock;
        }
    }

    /// Add `cid`, evicting the least recently used channel not in `keep`.
    fn insert(&mut self, cid: u32, keep: [Option<u32>; 2]) {
        if self.entries.len() >= MAX_CHANNELS {
            let victim = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, (known, _))| !keep.contains(&Some(*known)))
                .min_by_key(|(_, (_, stamp))| *stamp)
                .map(|(index, _)| index);
            if let Some(index) = victim {
                let (evicted, _) = self.entries.swap_remove(index);
                tracing::debug!(cid = format_args!("{evicted:08x}"), "channel evicted");
            }
        }
        self.clock += 1;
        self.entries.push((cid, self.clock));
    }
}

/// Device-side CTAPHID: channels, assembly, keepalives, errors.
///
/// Spec decisions (CTAP 2.1 §11.2), each with a unit test:
/// - `CTAPHID_INIT` on the broadcast channel allocates a channel and is
///   answered even while another channel has a transaction in progress: it is
///   a single packet that touches no transaction, and a second client must be
///   able to find the key while the first waits for a touch. INIT on an
///   allocated channel aborts that channel's transaction (a later
///   [`respond`](Self::respond) is dropped) and answers with the same CID.
///   INIT on an unallocated channel → `ERR_INVALID_CHANNEL`; BCNT ≠ 8 →
///   `ERR_INVALID_LEN`.
/// - While the device is locked to a channel, every initialization packet
///   from another channel (INIT included) → `ERR_CHANNEL_BUSY`: "as long as
///   the lock is active, any other channel trying to send a message will
///   fail". `ERR_LOCK_REQUIRED` is never sent: no CTAPHID command requires a
///   lock. LOCK BCNT ≠ 1 → `ERR_INVALID_LEN`, seconds > 10 → `ERR_INVALID_PAR`.
/// - `CTAPHID_CANCEL` is never answered. On the channel whose CBOR request is
///   in flight it yields one [`DeviceEvent::Cancel`]; anywhere else (no
///   request, a MSG request, a message still being assembled, another
///   channel, while locked) it is ignored, as §11.2.9.1.5 says.
/// - An initialization packet (not INIT/CANCEL) on the channel being
///   assembled → `ERR_INVALID_SEQ` and the partial message is dropped; on the
///   channel whose request is in flight → `ERR_CHANNEL_BUSY`; from another
///   channel during any transaction → `ERR_CHANNEL_BUSY`.
/// - A continuation with the wrong SEQ → `ERR_INVALID_SEQ`, message dropped;
///   a continuation with no message being assembled on its channel is ignored.
/// - Non-INIT commands on an unallocated channel, the broadcast channel or
///   CID 0 → `ERR_INVALID_CHANNEL`; BCNT > 7609 → `ERR_INVALID_LEN`; unknown
///   or disabled commands, and host-sent KEEPALIVE/ERROR → `ERR_INVALID_CMD`;
///   empty CBOR or MSG → `ERR_INVALID_LEN`. WINK ignores any payload.
/// - A message not complete [`MESSAGE_TIMEOUT`] after its initialization
///   packet → `ERR_MSG_TIMEOUT`.
/// - Keepalives go out every [`KEEPALIVE_INTERVAL`] while a CBOR or MSG request
///   is in flight (§11.2.9.1.7 says keepalives are sent "while processing a
///   CTAPHID_MSG"), and at once when [`set_keepalive`](Self::set_keepalive)
///   changes the status ("and whenever the status changes").
///
/// # Driving it
///
/// ```
/// use std::time::Instant;
/// use softkey_transport::ctaphid::{self, Command, BROADCAST_CID};
/// use softkey_transport::{DeviceConfig, DeviceEvent, HidDevice};
///
/// let mut device = HidDevice::new(DeviceConfig::default());
/// let now = Instant::now();
/// // The host allocates a channel …
/// let init = ctaphid::fragment(BROADCAST_CID, Command::Init, b"8 bytes!").unwrap();
/// device.handle_report(&init[0], now);
/// let answer = device.poll_report().unwrap();
/// let cid = u32::from_be_bytes(answer[15..19].try_into().unwrap());
/// // … and sends a CBOR request (authenticatorGetInfo).
/// for report in ctaphid::fragment(cid, Command::Cbor, &[0x04]).unwrap() {
///     device.handle_report(&report, now);
/// }
/// let Some(DeviceEvent::Request { payload, .. }) = device.poll_event() else { panic!() };
/// assert_eq!(payload, [0x04]);
/// // Until the application answers, keepalives fall due at poll_timeout().
/// let due = device.poll_timeout().unwrap();
/// device.handle_timeout(due);
/// assert_eq!(device.poll_report().unwrap()[4], 0x80 | 0x3b);
/// let id = device.in_flight_request().unwrap();
/// assert!(device.respond_to(id, vec![0x00], due));
/// assert_eq!(device.poll_report().unwrap()[4], 0x80 | 0x10);
/// ```
#[derive(Debug)]
pub struct HidDevice {
    config: DeviceConfig,
    channels: Channels,
    cid_state: u64,
    transaction: Transaction,
    lock: Option<(u32, Instant)>,
    /// Outgoing reports, zeroed as they are taken (replies carry secrets).
    reports: ReportQueue,
    events: VecDeque<DeviceEvent>,
    /// Requests handed out so far; never reset, so ids stay unique.
    requests: u64,
}

impl HidDevice {
    /// A powered-up device with no channels.
    pub fn new(config: DeviceConfig) -> Self {
        let cid_state = config.cid_seed;
        Self {
            config,
            channels: Channels::default(),
            cid_state,
            transaction: Transaction::Idle,
            lock: None,
            reports: ReportQueue::default(),
            events: VecDeque::new(),
            requests: 0,
        }
    }

    /// The configuration the device was built with.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Process one output report from the host. Shorter reports are
    /// zero-padded; bytes past 64 are ignored. Timeouts due at `now` are
    /// handled first.
    pub fn handle_report(&mut self, report: &[u8], now: Instant) {
        self.handle_timeout(now);
        let report = ctaphid::normalize_report(report);
        match Packet::parse(&report) {
            Packet::Init {
                cid,
                cmd,
                bcnt,
                data,
            } => self.on_init_packet(cid, cmd, bcnt, data, now),
            Packet::Cont { cid, seq, data } => self.on_cont_packet(cid, seq, data, now),
        }
    }

    /// Send the keepalive or the `ERR_MSG_TIMEOUT` that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_lock(now);
        match &mut self.transaction {
            Transaction::Assembling(assembly) if now >= assembly.deadline => {
                let cid = assembly.cid;
                tracing::debug!(cid = format_args!("{cid:08x}"), "message timed out");
                self.transaction = Transaction::Idle;
                self.send_error(cid, HidError::MsgTimeout);
            }
            Transaction::Processing(in_flight) if now >= in_flight.next_keepalive => {
                in_flight.next_keepalive = now + KEEPALIVE_INTERVAL;
                let report = ctaphid::keepalive_report(in_flight.cid, in_flight.status);
                self.reports.push(report);
            }
            _ => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called:
    /// the next keepalive or the pending message's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.transaction {
            Transaction::Idle => None,
            Transaction::Assembling(assembly) => Some(assembly.deadline),
            Transaction::Processing(in_flight) => Some(in_flight.next_keepalive),
        }
    }

    /// The next input report to send to the host.
    pub fn poll_report(&mut self) -> Option<[u8; REPORT_LEN]> {
        self.reports.pop()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<DeviceEvent> {
        self.events.pop_front()
    }

    /// Answer the request in flight (from the latest
    /// [`DeviceEvent::Request`]) on its channel; the device is then idle.
    /// Dropped silently if no request is in flight (answered already,
    /// superseded by a re-INIT of its channel, or forgotten by
    /// [`power_cycle`](Self::power_cycle)). A payload over 7609 bytes cannot
    /// be framed and is replaced by `ERR_OTHER`.
    ///
    /// An application that answers later than the event loop that received
    /// the request should use [`respond_to`](Self::respond_to): if the
    /// request was aborted and a newer one arrived meanwhile, `respond` would
    /// answer the newer one.
    pub fn respond(&mut self, payload: Vec<u8>, now: Instant) {
        // The reply may carry secrets: wiped once framed (or dropped).
        let payload = Zeroizing::new(payload);
        self.expire_lock(now);
        let Transaction::Processing(in_flight) = std::mem::take(&mut self.transaction) else {
            tracing::debug!("response dropped: no request in flight");
            return;
        };
        let command = match in_flight.kind {
            RequestKind::Cbor => Command::Cbor,
            RequestKind::Msg => Command::Msg,
        };
        let reports = &mut self.reports;
        match ctaphid::fragment_each(in_flight.cid, command, &payload, |report| {
            reports.push(*report);
        }) {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(%error, "response cannot be framed");
                self.send_error(in_flight.cid, HidError::Other);
            }
        }
    }

    /// Like [`respond`](Self::respond), but only if `request` is still the
    /// one in flight; `false` if the answer was dropped.
    pub fn respond_to(&mut self, request: RequestId, payload: Vec<u8>, now: Instant) -> bool {
        if self.in_flight_request() != Some(request) {
            tracing::debug!(?request, "response dropped: request no longer in flight");
            // Wiped as `respond` would have.
            drop(Zeroizing::new(payload));
            return false;
        }
        self.respond(payload, now);
        true
    }

    /// The request in flight. Read it right after polling its
    /// [`DeviceEvent::Request`] (before the next `handle_*` call) to learn
    /// its id; later, compare to learn whether it was aborted.
    pub fn in_flight_request(&self) -> Option<RequestId> {
        match &self.transaction {
            Transaction::Processing(in_flight) => Some(in_flight.id),
            _ => None,
        }
    }

    /// What keepalives say while the request is in flight. Each new request
    /// starts at [`KeepaliveStatus::Processing`]; a change is sent at once.
    pub fn set_keepalive(&mut self, status: KeepaliveStatus) {
        if let Transaction::Processing(in_flight) = &mut self.transaction
            && in_flight.status != status
        {
            in_flight.status = status;
            let report = ctaphid::keepalive_report(in_flight.cid, status);
            self.reports.push(report);
        }
    }

    /// The channel and kind of the request in flight, if any.
    pub fn in_flight(&self) -> Option<(u32, RequestKind)> {
        match &self.transaction {
            Transaction::Processing(in_flight) => Some((in_flight.cid, in_flight.kind)),
            _ => None,
        }
    }

    /// Forget all channels, the lock, partial messages, the request in
    /// flight and undelivered reports and events, as a USB replug would.
    /// The channel-ID generator is not rewound: IDs allocated afterwards are
    /// fresh draws, so a host holding a pre-cycle ID gets
    /// `ERR_INVALID_CHANNEL` rather than someone else's channel.
    pub fn power_cycle(&mut self) {
        self.channels = Channels::default();
        self.restart();
    }

    /// A power cycle of a device that is not re-enumerated, as over the
    /// loopback UDP convention: the lock, partial messages, the request in
    /// flight and undelivered reports and events are forgotten, but every
    /// allocated channel ID stays valid. A UDP client has no unplug to notice
    /// and keeps using its channel after the power-cycle datagram; with
    /// [`power_cycle`](Self::power_cycle) it would get `ERR_INVALID_CHANNEL`.
    pub fn power_cycle_keeping_channels(&mut self) {
        self.restart();
    }

    /// Forgets everything volatile except the channels.
    fn restart(&mut self) {
        self.transaction = Transaction::Idle;
        self.lock = None;
        self.reports.clear();
        self.events.clear();
    }

    fn on_init_packet(
        &mut self,
        cid: u32,
        cmd: u8,
        bcnt: u16,
        data: &[u8; INIT_DATA_LEN],
        now: Instant,
    ) {
        let command = Command::from_code(cmd);
        if let Some((holder, _)) = self.lock
            && holder != cid
            && command != Some(Command::Cancel)
        {
            return self.send_error(cid, HidError::ChannelBusy);
        }
        match command {
            Some(Command::Cancel) => return self.on_cancel(cid),
            Some(Command::Init) => return self.on_init(cid, bcnt, data),
            _ => {}
        }
        if !self.channels.contains(cid) {
            return self.send_error(cid, HidError::InvalidChannel);
        }
        self.channels.touch(cid);
        match &self.transaction {
            Transaction::Idle => {}
            Transaction::Assembling(assembly) if assembly.cid == cid => {
                self.transaction = Transaction::Idle;
                return self.send_error(cid, HidError::InvalidSeq);
            }
            Transaction::Assembling(_) | Transaction::Processing(_) => {
                return self.send_error(cid, HidError::ChannelBusy);
            }
        }
        let Some(command) = command.filter(|&command| self.enabled(command)) else {
            return self.send_error(cid, HidError::InvalidCmd);
        };
        let len = usize::from(bcnt);
        if len > MAX_MESSAGE_LEN {
            return self.send_error(cid, HidError::InvalidLen);
        }
        if len <= INIT_DATA_LEN {
            return self.dispatch(cid, command, data[..len].to_vec(), now);
        }
        let mut buffer = Vec::with_capacity(len);
        buffer.extend_from_slice(data);
        self.transaction = Transaction::Assembling(Assembly {
            cid,
            command,
            len,
            data: Zeroizing::new(buffer),
            next_seq: 0,
            deadline: now + MESSAGE_TIMEOUT,
        });
    }

    fn on_cont_packet(&mut self, cid: u32, seq: u8, data: &[u8], now: Instant) {
        let assembly = match &mut self.transaction {
            Transaction::Assembling(assembly) if assembly.cid == cid => assembly,
            _ => {
                tracing::debug!(
                    cid = format_args!("{cid:08x}"),
                    "stray continuation ignored"
                );
                return;
            }
        };
        if seq != assembly.next_seq {
            self.transaction = Transaction::Idle;
            return self.send_error(cid, HidError::InvalidSeq);
        }
        assembly.next_seq += 1;
        let missing = assembly.len - assembly.data.len();
        assembly
            .data
            .extend_from_slice(&data[..missing.min(data.len())]);
        if assembly.data.len() == assembly.len {
            self.channels.touch(cid);
            if let Transaction::Assembling(mut done) = std::mem::take(&mut self.transaction) {
                // The message goes to the application whole (moved, not copied).
                let payload = std::mem::take(&mut *done.data);
                self.dispatch(cid, done.command, payload, now);
            }
        }
    }

    /// §11.2.9.1.5: "A CTAPHID_CANCEL received while no CTAPHID_CBOR request
    /// is being processed, or on a non-active CID SHALL be ignored by the
    /// authenticator", and the CANCEL itself is never answered.
    fn on_cancel(&mut self, cid: u32) {
        match &mut self.transaction {
            Transaction::Processing(in_flight)
                if in_flight.cid == cid && in_flight.kind == RequestKind::Cbor =>
            {
                if !in_flight.cancelled {
                    in_flight.cancelled = true;
                    self.events.push_back(DeviceEvent::Cancel { channel: cid });
                }
            }
            _ => tracing::debug!(cid = format_args!("{cid:08x}"), "cancel ignored"),
        }
    }

    fn on_init(&mut self, cid: u32, bcnt: u16, data: &[u8; INIT_DATA_LEN]) {
        let broadcast = cid == ctaphid::BROADCAST_CID;
        if !broadcast && !self.channels.contains(cid) {
            return self.send_error(cid, HidError::InvalidChannel);
        }
        if usize::from(bcnt) != INIT_NONCE_LEN {
            return self.send_error(cid, HidError::InvalidLen);
        }
        let channel = if broadcast {
            let fresh = self.next_cid();
            let keep = [self.transaction.cid(), self.lock.map(|(holder, _)| holder)];
            self.channels.insert(fresh, keep);
            fresh
        } else {
            if self.transaction.cid() == Some(cid) {
                tracing::debug!(
                    cid = format_args!("{cid:08x}"),
                    "transaction aborted by INIT"
                );
                self.transaction = Transaction::Idle;
            }
            self.channels.touch(cid);
            cid
        };
        let mut nonce = [0u8; INIT_NONCE_LEN];
        nonce.copy_from_slice(&data[..INIT_NONCE_LEN]);
        let response = InitResponse {
            nonce,
            cid: channel,
            protocol_version: PROTOCOL_VERSION,
            device_version: self.config.device_version,
            capabilities: self.config.capabilities,
        };
        self.send(cid, Command::Init, &response.to_bytes());
    }

    fn dispatch(&mut self, cid: u32, command: Command, payload: Vec<u8>, now: Instant) {
        match command {
            Command::Ping => self.send(cid, Command::Ping, &payload),
            Command::Wink => {
                self.events.push_back(DeviceEvent::Wink { channel: cid });
                self.send(cid, Command::Wink, &[]);
            }
            Command::Lock => match payload[..] {
                [seconds] if seconds > MAX_LOCK_SECONDS => {
                    self.send_error(cid, HidError::InvalidPar);
                }
                [seconds] => {
                    self.lock =
                        (seconds > 0).then(|| (cid, now + Duration::from_secs(u64::from(seconds))));
                    self.send(cid, Command::Lock, &[]);
                }
                _ => self.send_error(cid, HidError::InvalidLen),
            },
            Command::Cbor | Command::Msg if payload.is_empty() => {
                self.send_error(cid, HidError::InvalidLen);
            }
            Command::Cbor | Command::Msg => {
                let kind = if command == Command::Cbor {
                    RequestKind::Cbor
                } else {
                    RequestKind::Msg
                };
                self.requests += 1;
                self.transaction = Transaction::Processing(InFlight {
                    id: RequestId(self.requests),
                    cid,
                    kind,
                    status: KeepaliveStatus::Processing,
                    next_keepalive: now + KEEPALIVE_INTERVAL,
                    cancelled: false,
                });
                self.events.push_back(DeviceEvent::Request {
                    channel: cid,
                    kind,
                    payload,
                });
            }
            // Filtered out before assembly; answered defensively.
            Command::Init | Command::Cancel | Command::Keepalive | Command::Error => {
                self.send_error(cid, HidError::InvalidCmd);
            }
        }
    }

    fn enabled(&self, command: Command) -> bool {
        match command {
            Command::Ping | Command::Lock | Command::Init | Command::Cancel => true,
            Command::Wink => self.config.capabilities & CAPABILITY_WINK != 0,
            Command::Cbor => self.config.capabilities & CAPABILITY_CBOR != 0,
            Command::Msg => self.config.msg_enabled,
            Command::Keepalive | Command::Error => false,
        }
    }

    fn expire_lock(&mut self, now: Instant) {
        if let Some((_, until)) = self.lock
            && now >= until
        {
            self.lock = None;
        }
    }

    /// Next channel ID from a SplitMix64 sequence: never 0, never broadcast,
    /// never one in use.
    fn next_cid(&mut self) -> u32 {
        loop {
            self.cid_state = self.cid_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.cid_state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let cid = (z >> 32) as u32;
            if cid != ctaphid::RESERVED_CID
                && cid != ctaphid::BROADCAST_CID
                && !self.channels.contains(cid)
            {
                return cid;
            }
        }
    }

    fn send(&mut self, cid: u32, command: Command, payload: &[u8]) {
        let reports = &mut self.reports;
        match ctaphid::fragment_each(cid, command, payload, |report| reports.push(*report)) {
            Ok(()) => {}
            // Only PING echoes and responses carry host-sized payloads, and
            // both are bounded by MAX_MESSAGE_LEN before they get here.
            Err(error) => {
                tracing::warn!(%error, "reply cannot be framed");
                self.send_error(cid, HidError::Other);
            }
        }
    }

    fn send_error(&mut self, cid: u32, error: HidError) {
        tracing::debug!(cid = format_args!("{cid:08x}"), %error, "CTAPHID error");
        self.reports.push(ctaphid::error_report(cid, error));
    }
}

#[cfg(test)]
mod tests;
