//! CTAPHID framing and its backends.
//!
//! softkey speaks CTAP over CTAPHID, the USB HID transport of FIDO security
//! keys: messages travel as 64-byte reports on logical channels. This crate
//! moves messages; it knows nothing of the CTAP2 commands inside them.
//!
//! ```text
//! device side (the key)
//!   reports from host ─► HidDevice::handle_report ─► DeviceEvent ──► application
//!   (UDP, UHID)          assemble, channels, busy,   Request,       (authenticator)
//!                        lock, INIT, PING, WINK      Cancel, Wink        │
//!   time ──────────────► HidDevice::handle_timeout                       │
//!                        keepalives, MSG_TIMEOUT                         │
//!   reports to host  ◄── HidDevice::poll_report ◄─── HidDevice::respond ◄┘
//!
//! host side (the client)
//!   HostClient::cbor ─► ctaphid::fragment ─► PacketIo::send ─► device
//!   HostClient::cbor ◄─ host::Reassembler ◄─ PacketIo::recv ◄─ device
//! ```
//!
//! - [`ctaphid`]: wire constants, packet parsing and fragmentation (pure).
//! - [`HidDevice`]: the device-side state machine, sans-IO: time is passed in,
//!   reports and events are polled out (like quinn-proto).
//! - [`host`]: a sans-IO reassembler and a small blocking [`HostClient`] over
//!   any [`PacketIo`].
//! - [`memory`]: an in-memory pipe with simulated time, for tests.
//! - [`udp`]: raw 64-byte reports over loopback UDP, the convention of
//!   python-fido2-based test suites.
//! - `uhid` (Linux): a real hidraw device through `/dev/uhid`, which
//!   browsers, libfido2 and OpenSSH use like a USB security key.
//!
//! Spec: CTAP 2.1 §11.2 "USB Human Interface Device (USB HID)",
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#usb>

#![deny(unsafe_code)]

pub mod ctaphid;
mod device;
pub mod host;
pub mod memory;
mod reports;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod uhid;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use ctaphid::{HidError, KeepaliveStatus, MAX_MESSAGE_LEN};
pub use device::{
    DeviceConfig, DeviceEvent, HidDevice, KEEPALIVE_INTERVAL, MAX_CHANNELS, MAX_LOCK_SECONDS,
    MESSAGE_TIMEOUT, RequestId, RequestKind,
};
pub use host::{HostClient, HostError, PacketIo};
