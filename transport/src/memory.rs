//! An in-memory CTAPHID pipe with simulated time, for tests.
//!
//! [`MemoryPipe`] puts a [`HidDevice`] and an [`Application`] behind the
//! [`PacketIo`] trait, so a [`HostClient`](crate::HostClient) can talk to the
//! whole device stack without sockets or sleeping: `recv` moves a simulated
//! clock forward to the next device or application timeout instead of
//! waiting (quinn's `Pair` does the same for QUIC).

use std::io;
use std::time::{Duration, Instant};

use crate::ctaphid::REPORT_LEN;
use crate::host::PacketIo;
use crate::{DeviceConfig, DeviceEvent, HidDevice};

/// What sits behind the device: answers requests, reacts to cancel and wink.
pub trait Application {
    /// React to one event, e.g. call [`HidDevice::respond`] now or later.
    fn on_event(&mut self, device: &mut HidDevice, event: DeviceEvent, now: Instant);

    /// When the application wants [`on_timeout`](Self::on_timeout) called
    /// (e.g. a simulated user touches the key at that time).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Called once the time from [`poll_timeout`](Self::poll_timeout) is reached.
    fn on_timeout(&mut self, device: &mut HidDevice, now: Instant) {
        let _ = (device, now);
    }
}

/// A device and its application behind [`PacketIo`], on a simulated clock.
#[derive(Debug)]
pub struct MemoryPipe<A: Application> {
    device: HidDevice,
    app: A,
    now: Instant,
}

impl<A: Application> MemoryPipe<A> {
    /// A fresh device running `app`; the clock starts at the real now.
    pub fn new(config: DeviceConfig, app: A) -> Self {
        Self {
            device: HidDevice::new(config),
            app,
            now: Instant::now(),
        }
    }

    /// The simulated current time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The application, e.g. to inspect what it saw.
    pub fn app(&mut self) -> &mut A {
        &mut self.app
    }

    /// The device, e.g. to power-cycle it.
    pub fn device(&mut self) -> &mut HidDevice {
        &mut self.device
    }

    /// Deliver events and due application timeouts.
    fn pump(&mut self) {
        loop {
            if let Some(event) = self.device.poll_event() {
                self.app.on_event(&mut self.device, event, self.now);
            } else if self.app.poll_timeout().is_some_and(|due| due <= self.now) {
                self.app.on_timeout(&mut self.device, self.now);
            } else {
                return;
            }
        }
    }
}

impl<A: Application> PacketIo for MemoryPipe<A> {
    fn send(&mut self, report: &[u8; REPORT_LEN]) -> io::Result<()> {
        self.device.handle_report(report, self.now);
        self.pump();
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; REPORT_LEN]>> {
        let deadline = self.now + timeout;
        loop {
            self.pump();
            if let Some(report) = self.device.poll_report() {
                return Ok(Some(report));
            }
            let next = [self.device.poll_timeout(), self.app.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(due) if due <= deadline => {
                    self.now = self.now.max(due);
                    self.device.handle_timeout(self.now);
                }
                _ => {
                    self.now = deadline;
                    return Ok(None);
                }
            }
        }
    }
}
