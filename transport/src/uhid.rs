//! A CTAPHID device on Linux through `/dev/uhid`.
//!
//! UHID lets a user-space program be a HID device: the kernel creates a real
//! hidraw node (`/dev/hidrawN`) that browsers, libfido2 and OpenSSH find and
//! use exactly like a USB security key's. This backend only moves reports:
//! output reports from the host become [`UhidIncoming::Report`]s for
//! [`crate::HidDevice`], and the input reports it produces go out with
//! [`UhidDevice::send`].
//!
//! ```text
//!  browser ─ write(/dev/hidrawN) ─► kernel ─ UHID_OUTPUT (65 B: id 0 + report) ─► UhidDevice::recv
//!  browser ◄ read(/dev/hidrawN) ─── kernel ◄ UHID_INPUT2 (64 B report) ────────── UhidDevice::send
//! ```
//!
//! Lifecycle: [`UhidDevice::create`] opens `/dev/uhid` and writes
//! `UHID_CREATE2` with the FIDO report descriptor; the kernel answers
//! `UHID_START` when the HID core has bound it, then `UHID_OPEN`/`UHID_CLOSE`
//! as programs open and close the hidraw node. [`UhidDevice::destroy`] (or
//! dropping the device) writes `UHID_DESTROY` and the node disappears.
//! `GET_REPORT`/`SET_REPORT` requests (feature reports, which a FIDO key does
//! not have) are answered `EIO` here, so no program waits for them.
//!
//! No `unsafe`: events are encoded by hand ([`wire`]), the device is a
//! `std::fs::File`, and waiting uses `rustix`'s safe `poll`.
//!
//! Kernel documentation: <https://docs.kernel.org/hid/uhid.html>.

pub mod wire;

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::ctaphid::REPORT_LEN;
pub use wire::{BUS_USB, FIDO_REPORT_DESCRIPTOR};

/// Where the UHID character device lives.
pub const DEFAULT_PATH: &str = "/dev/uhid";

/// pid.codes test vendor id (open-source hardware, <https://pid.codes>).
pub const DEFAULT_VENDOR_ID: u32 = 0x1209;
/// Product id softkey uses by default under [`DEFAULT_VENDOR_ID`].
pub const DEFAULT_PRODUCT_ID: u32 = 0x5eed;

/// How the device presents itself to the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UhidConfig {
    /// Product name (hidraw `HID_NAME`; `fido2-token -L` and browsers show it).
    pub name: String,
    /// Physical path (`HID_PHYS`).
    pub phys: String,
    /// Unique id / serial (`HID_UNIQ`).
    pub uniq: String,
    /// USB vendor id.
    pub vendor: u32,
    /// USB product id.
    pub product: u32,
    /// Device version (bcdDevice).
    pub version: u32,
}

impl Default for UhidConfig {
    /// "softkey", vendor 0x1209, product 0x5eed, version 0x0100.
    fn default() -> Self {
        Self {
            name: "softkey".into(),
            phys: "softkey/uhid".into(),
            uniq: String::new(),
            vendor: DEFAULT_VENDOR_ID,
            product: DEFAULT_PRODUCT_ID,
            version: 0x0100,
        }
    }
}

impl UhidConfig {
    /// The `UHID_CREATE2` request: USB bus, FIDO report descriptor.
    pub fn create2(&self) -> wire::Create2 {
        wire::Create2 {
            name: self.name.clone(),
            phys: self.phys.clone(),
            uniq: self.uniq.clone(),
            bus: BUS_USB,
            vendor: self.vendor,
            product: self.product,
            version: self.version,
            country: 0,
            report_descriptor: FIDO_REPORT_DESCRIPTOR.to_vec(),
        }
    }
}

/// Why the UHID device could not be created or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UhidError {
    /// The UHID character device does not exist.
    #[error(
        "{path} does not exist: the uhid kernel module is not loaded. Load it with \
         `sudo modprobe uhid`, and at every boot by installing \
         packaging/modules-load.d/softkey-uhid.conf into /etc/modules-load.d/ \
         (`softkey doctor` checks this)"
    )]
    Missing {
        /// The path tried.
        path: PathBuf,
    },
    /// The UHID character device exists but this user may not open it.
    #[error(
        "{path} is not readable and writable by this user. Install \
         packaging/udev/70-softkey-uhid.rules into /etc/udev/rules.d/, run \
         `sudo udevadm control --reload && sudo udevadm trigger /dev/uhid`, \
         `sudo groupadd -f softkey && sudo usermod -aG softkey $USER`, then log in \
         again (`softkey doctor` checks this)"
    )]
    PermissionDenied {
        /// The path tried.
        path: PathBuf,
    },
    /// The configured identity does not fit `UHID_CREATE2`.
    #[error(transparent)]
    Config(#[from] wire::FieldTooLong),
    /// The kernel sent something that is not a `uhid_event`.
    #[error(transparent)]
    Malformed(#[from] wire::Malformed),
    /// Another I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What failed.
        context: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl UhidError {
    fn io(context: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { context, source }
    }
}

/// What [`UhidDevice::recv`] got from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UhidIncoming {
    /// One 64-byte output report from a host program.
    Report([u8; REPORT_LEN]),
    /// `UHID_START`: the device is bound; reports can flow.
    Start,
    /// `UHID_STOP`: the device is unbound.
    Stop,
    /// `UHID_OPEN`: a program opened the hidraw node.
    Open,
    /// `UHID_CLOSE`: the last program closed it.
    Close,
    /// A request answered here (GET/SET_REPORT) or an event of no interest.
    Other,
}

/// A created UHID device. Dropping it destroys the device.
#[derive(Debug)]
pub struct UhidDevice {
    file: File,
    started: bool,
    destroyed: bool,
}

impl UhidDevice {
    /// Opens `path` (normally [`DEFAULT_PATH`]) and creates the device.
    ///
    /// A missing or inaccessible device node gives [`UhidError::Missing`] or
    /// [`UhidError::PermissionDenied`], whose messages say how to fix it.
    pub fn create(path: &Path, config: &UhidConfig) -> Result<Self, UhidError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => UhidError::Missing {
                    path: path.to_owned(),
                },
                io::ErrorKind::PermissionDenied => UhidError::PermissionDenied {
                    path: path.to_owned(),
                },
                _ => UhidError::Io {
                    context: "opening the UHID device",
                    source: error,
                },
            })?;
        Self::create_on(file.into(), config)
    }

    /// Creates the device on an already-open UHID descriptor (inherited, or
    /// in tests one end of a datagram socket pair standing in for the kernel).
    pub fn create_on(fd: OwnedFd, config: &UhidConfig) -> Result<Self, UhidError> {
        let request = wire::encode_create2(&config.create2())?;
        let mut device = Self {
            file: File::from(fd),
            started: false,
            destroyed: false,
        };
        device
            .write_event(&request)
            .map_err(UhidError::io("creating the UHID device (UHID_CREATE2)"))?;
        tracing::debug!(
            name = %config.name,
            vendor = format_args!("{:04x}", config.vendor),
            product = format_args!("{:04x}", config.product),
            "UHID device created"
        );
        Ok(device)
    }

    /// Whether `UHID_START` has arrived (and no `UHID_STOP` since).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Waits up to `timeout` (`None`: forever) for the next event. `Ok(None)`
    /// on timeout or when a signal interrupted the wait, so a caller's stop
    /// flag is checked promptly.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<UhidIncoming>, UhidError> {
        if !self.wait_readable(timeout)? {
            return Ok(None);
        }
        let mut buffer = vec![0u8; wire::EVENT_LEN];
        let len = match self.file.read(&mut buffer) {
            Ok(len) => len,
            Err(error) if retryable(&error) => return Ok(None),
            Err(error) => return Err(UhidError::io("reading from the UHID device")(error)),
        };
        if len == 0 {
            return Err(UhidError::Io {
                context: "reading from the UHID device",
                source: io::ErrorKind::UnexpectedEof.into(),
            });
        }
        let incoming = match wire::decode_event(&buffer[..len])? {
            wire::Event::Output(report) => UhidIncoming::Report(report),
            wire::Event::Start { dev_flags } => {
                tracing::debug!(dev_flags, "UHID_START");
                self.started = true;
                UhidIncoming::Start
            }
            wire::Event::Stop => {
                self.started = false;
                UhidIncoming::Stop
            }
            wire::Event::Open => UhidIncoming::Open,
            wire::Event::Close => UhidIncoming::Close,
            wire::Event::GetReport { id, report_number } => {
                tracing::debug!(id, report_number, "UHID_GET_REPORT answered EIO");
                self.write_event(&wire::encode_get_report_reply(id, wire::EIO))
                    .map_err(UhidError::io("answering UHID_GET_REPORT"))?;
                UhidIncoming::Other
            }
            wire::Event::SetReport { id, report_number } => {
                tracing::debug!(id, report_number, "UHID_SET_REPORT answered EIO");
                self.write_event(&wire::encode_set_report_reply(id, wire::EIO))
                    .map_err(UhidError::io("answering UHID_SET_REPORT"))?;
                UhidIncoming::Other
            }
            wire::Event::Other(kind) => {
                tracing::debug!(kind, "UHID event ignored");
                UhidIncoming::Other
            }
        };
        Ok(Some(incoming))
    }

    /// Sends one input report to the host programs (`UHID_INPUT2`).
    pub fn send(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), UhidError> {
        self.write_event(&wire::encode_input2(report))
            .map_err(UhidError::io("sending an input report (UHID_INPUT2)"))
    }

    /// Removes the device (`UHID_DESTROY`); its hidraw node disappears.
    pub fn destroy(mut self) -> Result<(), UhidError> {
        self.destroyed = true;
        self.write_event(&wire::encode_destroy())
            .map_err(UhidError::io("destroying the UHID device (UHID_DESTROY)"))
    }

    fn write_event(&mut self, event: &[u8]) -> io::Result<()> {
        loop {
            match self.file.write(event) {
                Ok(len) if len == event.len() => return Ok(()),
                Ok(len) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short UHID write: {len} of {} bytes", event.len()),
                    ));
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// `true` when an event can be read; `false` on timeout or signal.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, UhidError> {
        let timespec = timeout.map(|timeout| Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        });
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        match rustix::event::poll(&mut fds, timespec.as_ref()) {
            Ok(0) => Ok(false),
            Ok(_) => {
                let revents = fds[0].revents();
                if revents.intersects(PollFlags::ERR | PollFlags::NVAL) {
                    return Err(UhidError::Io {
                        context: "waiting on the UHID device",
                        source: io::Error::other(format!("poll reported {revents:?}")),
                    });
                }
                Ok(revents.intersects(PollFlags::IN | PollFlags::HUP))
            }
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(errno) => Err(UhidError::io("waiting on the UHID device")(errno.into())),
        }
    }
}

impl std::os::fd::AsFd for UhidDevice {
    /// For waiting on the device beside other sources (it is readable when
    /// [`UhidDevice::recv`] has an event).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Drop for UhidDevice {
    fn drop(&mut self) {
        if !self.destroyed {
            // Closing the descriptor destroys the device too; saying so first
            // is the documented, orderly way.
            if let Err(error) = self.write_event(&wire::encode_destroy()) {
                tracing::debug!(%error, "UHID_DESTROY on drop failed");
            }
        }
    }
}

fn retryable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests;
