//! The `/dev/uhid` wire format: `struct uhid_event` as bytes.
//!
//! Every read and write on `/dev/uhid` moves one `struct uhid_event` from
//! `<linux/uhid.h>`: a little-endian (host-order; UHID exists only on Linux,
//! and every Linux target softkey builds for is little-endian) `__u32 type`
//! followed by a packed union of requests. The struct is
//! `__attribute__((__packed__))`, so offsets are plain sums, written out
//! below and checked by the tests against the kernel header's sizes:
//!
//! ```text
//! uhid_event            4 (type) + 4372 (largest member: create2)   = 4376
//! uhid_create2_req      name[128] phys[64] uniq[64] rd_size:u16 bus:u16
//!                       vendor:u32 product:u32 version:u32 country:u32
//!                       rd_data[4096]                                = 4372
//! uhid_input2_req       size:u16 data[4096]                          = 4098
//! uhid_output_req       data[4096] size:u16 rtype:u8                 = 4099
//! uhid_start_req        dev_flags:u64                                = 8
//! uhid_get_report_req   id:u32 rnum:u8 rtype:u8                      = 6
//! uhid_get_report_reply id:u32 err:u16 size:u16 data[4096]           = 4104
//! uhid_set_report_req   id:u32 rnum:u8 rtype:u8 size:u16 data[4096]  = 4104
//! uhid_set_report_reply id:u32 err:u16                               = 6
//! ```
//!
//! Encoding by hand rather than `#[repr(C, packed)]` structs and transmutes
//! keeps this module free of `unsafe`; the kernel reads and writes whole
//! events, so every encoder returns [`EVENT_LEN`] bytes.
//!
//! Kernel documentation: <https://docs.kernel.org/hid/uhid.html>.

use crate::ctaphid::REPORT_LEN;

/// `sizeof(struct uhid_event)`.
pub const EVENT_LEN: usize = 4 + CREATE2_LEN;
/// `HID_MAX_DESCRIPTOR_SIZE` and `UHID_DATA_MAX`: the data arrays' length.
pub const DATA_MAX: usize = 4096;
/// `sizeof(struct uhid_create2_req)`.
pub const CREATE2_LEN: usize = NAME_LEN + PHYS_LEN + UNIQ_LEN + 2 + 2 + 4 * 4 + DATA_MAX;
/// Length of `uhid_create2_req.name`, NUL included.
pub const NAME_LEN: usize = 128;
/// Length of `uhid_create2_req.phys`, NUL included.
pub const PHYS_LEN: usize = 64;
/// Length of `uhid_create2_req.uniq`, NUL included.
pub const UNIQ_LEN: usize = 64;

/// `enum uhid_event_type` values softkey uses.
pub mod event_type {
    /// Device → kernel: remove the device.
    pub const DESTROY: u32 = 1;
    /// Kernel → device: the HID core bound the device.
    pub const START: u32 = 2;
    /// Kernel → device: the HID core unbound the device.
    pub const STOP: u32 = 3;
    /// Kernel → device: the first reader opened the hidraw/input node.
    pub const OPEN: u32 = 4;
    /// Kernel → device: the last reader closed it.
    pub const CLOSE: u32 = 5;
    /// Kernel → device: an output report written by a host program.
    pub const OUTPUT: u32 = 6;
    /// Kernel → device: a program asked for a report (e.g. a feature report).
    pub const GET_REPORT: u32 = 9;
    /// Device → kernel: the answer to [`GET_REPORT`].
    pub const GET_REPORT_REPLY: u32 = 10;
    /// Device → kernel: create the device.
    pub const CREATE2: u32 = 11;
    /// Device → kernel: an input report for the host.
    pub const INPUT2: u32 = 12;
    /// Kernel → device: a program sent a report through SET_REPORT.
    pub const SET_REPORT: u32 = 13;
    /// Device → kernel: the answer to [`SET_REPORT`].
    pub const SET_REPORT_REPLY: u32 = 14;
}

/// `BUS_USB` from `<linux/input.h>`: browsers filter FIDO devices by bus.
pub const BUS_USB: u16 = 0x03;

/// `EIO`, the error answered to GET_REPORT/SET_REPORT: a FIDO key has no
/// feature reports.
pub const EIO: u16 = 5;

/// The HID report descriptor of a CTAPHID device (CTAP 2.1 §11.2.8.2):
/// FIDO usage page, CTAPHID usage, one 64-byte input and one 64-byte output
/// report, no report IDs.
pub const FIDO_REPORT_DESCRIPTOR: [u8; 34] = [
    0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance, 0xF1D0)
    0x09, 0x01, // Usage (CTAPHID, 0x01)
    0xA1, 0x01, // Collection (Application)
    0x09, 0x20, //   Usage (Input Report Data)
    0x15, 0x00, //   Logical Minimum (0)
    0x26, 0xFF, 0x00, //   Logical Maximum (255)
    0x75, 0x08, //   Report Size (8)
    0x95, 0x40, //   Report Count (64)
    0x81, 0x02, //   Input (Data, Var, Abs)
    0x09, 0x21, //   Usage (Output Report Data)
    0x15, 0x00, //   Logical Minimum (0)
    0x26, 0xFF, 0x00, //   Logical Maximum (255)
    0x75, 0x08, //   Report Size (8)
    0x95, 0x40, //   Report Count (64)
    0x91, 0x02, //   Output (Data, Var, Abs)
    0xC0, // End Collection
];

/// The identity the device is created with (`uhid_create2_req`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create2 {
    /// Product name, at most 127 bytes (shown by browsers and `fido2-token -L`).
    pub name: String,
    /// Physical location, at most 63 bytes.
    pub phys: String,
    /// Unique id (serial), at most 63 bytes.
    pub uniq: String,
    /// Bus type, normally [`BUS_USB`].
    pub bus: u16,
    /// USB vendor id.
    pub vendor: u32,
    /// USB product id.
    pub product: u32,
    /// Device version (bcdDevice).
    pub version: u32,
    /// HID country code (0: not localised).
    pub country: u32,
    /// The HID report descriptor, at most 4096 bytes.
    pub report_descriptor: Vec<u8>,
}

/// A field does not fit its `uhid_create2_req` array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("UHID {field} is {len} bytes, at most {max} fit (and no NUL bytes)")]
pub struct FieldTooLong {
    /// Which field.
    pub field: &'static str,
    /// Its length.
    pub len: usize,
    /// The most that fits.
    pub max: usize,
}

/// What the kernel told the device, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `UHID_START`, with `dev_flags` (`UHID_DEV_NUMBERED_*_REPORTS`).
    Start {
        /// Flags telling whether reports carry numbers.
        dev_flags: u64,
    },
    /// `UHID_STOP`.
    Stop,
    /// `UHID_OPEN`: some program opened the device.
    Open,
    /// `UHID_CLOSE`: the last program closed it.
    Close,
    /// `UHID_OUTPUT`: one output report, its report-ID byte removed.
    Output([u8; REPORT_LEN]),
    /// `UHID_GET_REPORT`: must be answered with `GET_REPORT_REPLY`.
    GetReport {
        /// Request id to echo.
        id: u32,
        /// Report number asked for.
        report_number: u8,
    },
    /// `UHID_SET_REPORT`: must be answered with `SET_REPORT_REPLY`.
    SetReport {
        /// Request id to echo.
        id: u32,
        /// Report number sent.
        report_number: u8,
    },
    /// An event type softkey does not use (legacy or future).
    Other(u32),
}

/// A buffer read from `/dev/uhid` is not a `uhid_event`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed UHID event ({len} bytes): {reason}")]
pub struct Malformed {
    /// Bytes read.
    pub len: usize,
    /// What is wrong.
    pub reason: &'static str,
}

const OFF_NAME: usize = 4;
const OFF_PHYS: usize = OFF_NAME + NAME_LEN;
const OFF_UNIQ: usize = OFF_PHYS + PHYS_LEN;
const OFF_RD_SIZE: usize = OFF_UNIQ + UNIQ_LEN;
const OFF_BUS: usize = OFF_RD_SIZE + 2;
const OFF_VENDOR: usize = OFF_BUS + 2;
const OFF_PRODUCT: usize = OFF_VENDOR + 4;
const OFF_VERSION: usize = OFF_PRODUCT + 4;
const OFF_COUNTRY: usize = OFF_VERSION + 4;
const OFF_RD_DATA: usize = OFF_COUNTRY + 4;
/// `uhid_output_req.size` follows the 4096-byte data array.
const OFF_OUTPUT_SIZE: usize = 4 + DATA_MAX;
const OFF_OUTPUT_RTYPE: usize = OFF_OUTPUT_SIZE + 2;

fn event(kind: u32) -> Vec<u8> {
    let mut buffer = vec![0u8; EVENT_LEN];
    buffer[..4].copy_from_slice(&kind.to_le_bytes());
    buffer
}

fn put_str(
    buffer: &mut [u8],
    at: usize,
    cap: usize,
    field: &'static str,
    value: &str,
) -> Result<(), FieldTooLong> {
    let bytes = value.as_bytes();
    // One byte stays NUL: the kernel copies these with strscpy-like bounds.
    if bytes.len() >= cap || bytes.contains(&0) {
        return Err(FieldTooLong {
            field,
            len: bytes.len(),
            max: cap - 1,
        });
    }
    buffer[at..at + bytes.len()].copy_from_slice(bytes);
    Ok(())
}

/// `UHID_CREATE2` for `create`.
pub fn encode_create2(create: &Create2) -> Result<Vec<u8>, FieldTooLong> {
    let descriptor = &create.report_descriptor;
    if descriptor.len() > DATA_MAX {
        return Err(FieldTooLong {
            field: "report descriptor",
            len: descriptor.len(),
            max: DATA_MAX,
        });
    }
    let mut buffer = event(event_type::CREATE2);
    put_str(&mut buffer, OFF_NAME, NAME_LEN, "name", &create.name)?;
    put_str(&mut buffer, OFF_PHYS, PHYS_LEN, "phys", &create.phys)?;
    put_str(&mut buffer, OFF_UNIQ, UNIQ_LEN, "uniq", &create.uniq)?;
    // Fits: checked against DATA_MAX (4096) above.
    let rd_size = descriptor.len() as u16;
    buffer[OFF_RD_SIZE..OFF_BUS].copy_from_slice(&rd_size.to_le_bytes());
    buffer[OFF_BUS..OFF_VENDOR].copy_from_slice(&create.bus.to_le_bytes());
    buffer[OFF_VENDOR..OFF_PRODUCT].copy_from_slice(&create.vendor.to_le_bytes());
    buffer[OFF_PRODUCT..OFF_VERSION].copy_from_slice(&create.product.to_le_bytes());
    buffer[OFF_VERSION..OFF_COUNTRY].copy_from_slice(&create.version.to_le_bytes());
    buffer[OFF_COUNTRY..OFF_RD_DATA].copy_from_slice(&create.country.to_le_bytes());
    buffer[OFF_RD_DATA..OFF_RD_DATA + descriptor.len()].copy_from_slice(descriptor);
    Ok(buffer)
}

/// `UHID_INPUT2` carrying one 64-byte input report (no report-ID byte: the
/// FIDO descriptor declares none).
pub fn encode_input2(report: &[u8; REPORT_LEN]) -> Vec<u8> {
    let mut buffer = event(event_type::INPUT2);
    buffer[4..6].copy_from_slice(&(REPORT_LEN as u16).to_le_bytes());
    buffer[6..6 + REPORT_LEN].copy_from_slice(report);
    buffer
}

/// `UHID_DESTROY`.
pub fn encode_destroy() -> Vec<u8> {
    event(event_type::DESTROY)
}

/// `UHID_GET_REPORT_REPLY` with error `err` and no data.
pub fn encode_get_report_reply(id: u32, err: u16) -> Vec<u8> {
    let mut buffer = event(event_type::GET_REPORT_REPLY);
    buffer[4..8].copy_from_slice(&id.to_le_bytes());
    buffer[8..10].copy_from_slice(&err.to_le_bytes());
    buffer
}

/// `UHID_SET_REPORT_REPLY` with error `err`.
pub fn encode_set_report_reply(id: u32, err: u16) -> Vec<u8> {
    let mut buffer = event(event_type::SET_REPORT_REPLY);
    buffer[4..8].copy_from_slice(&id.to_le_bytes());
    buffer[8..10].copy_from_slice(&err.to_le_bytes());
    buffer
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The CTAPHID report inside `UHID_OUTPUT` data.
///
/// hidraw hands the kernel the buffer a program wrote, report number first;
/// the FIDO descriptor has no report IDs, so that byte is 0 and a full
/// report arrives as 65 bytes. The report is what follows it, zero-padded
/// (a short write is a short report) and cut at 64 bytes.
pub fn output_report(data: &[u8]) -> [u8; REPORT_LEN] {
    let mut report = [0u8; REPORT_LEN];
    let body = data.get(1..).unwrap_or_default();
    let len = body.len().min(REPORT_LEN);
    report[..len].copy_from_slice(&body[..len]);
    report
}

/// Decodes one event read from `/dev/uhid`.
pub fn decode_event(bytes: &[u8]) -> Result<Event, Malformed> {
    let malformed = |reason| Malformed {
        len: bytes.len(),
        reason,
    };
    let kind = u32_at(bytes, 0).ok_or_else(|| malformed("shorter than its type"))?;
    Ok(match kind {
        event_type::START => Event::Start {
            dev_flags: bytes
                .get(4..12)
                .and_then(|flags| flags.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| malformed("START without dev_flags"))?,
        },
        event_type::STOP => Event::Stop,
        event_type::OPEN => Event::Open,
        event_type::CLOSE => Event::Close,
        event_type::OUTPUT => {
            let size =
                u16_at(bytes, OFF_OUTPUT_SIZE).ok_or_else(|| malformed("OUTPUT without size"))?;
            let size = usize::from(size);
            if size > DATA_MAX {
                return Err(malformed("OUTPUT size past the data array"));
            }
            Event::Output(output_report(&bytes[4..4 + size]))
        }
        event_type::GET_REPORT => Event::GetReport {
            id: u32_at(bytes, 4).ok_or_else(|| malformed("GET_REPORT without id"))?,
            report_number: *bytes
                .get(8)
                .ok_or_else(|| malformed("GET_REPORT without rnum"))?,
        },
        event_type::SET_REPORT => Event::SetReport {
            id: u32_at(bytes, 4).ok_or_else(|| malformed("SET_REPORT without id"))?,
            report_number: *bytes
                .get(8)
                .ok_or_else(|| malformed("SET_REPORT without rnum"))?,
        },
        other => Event::Other(other),
    })
}

/// The report type byte of a `UHID_OUTPUT` (`UHID_OUTPUT_REPORT` is 1), for
/// logs and tests.
pub fn output_report_type(bytes: &[u8]) -> Option<u8> {
    bytes.get(OFF_OUTPUT_RTYPE).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create() -> Create2 {
        Create2 {
            name: "softkey".into(),
            phys: "softkey/uhid".into(),
            uniq: "0001".into(),
            bus: BUS_USB,
            vendor: 0x1209,
            product: 0x5eed,
            version: 0x0102,
            country: 0,
            report_descriptor: FIDO_REPORT_DESCRIPTOR.to_vec(),
        }
    }

    /// Sizes from `<linux/uhid.h>` (Linux 6.1), summed by hand from the
    /// packed structs and matching `EV_SIZE = 4 + 4372` of the recipe's
    /// Python device that was run against a real kernel.
    #[test]
    fn sizes_match_the_kernel_header() {
        assert_eq!(CREATE2_LEN, 4372);
        assert_eq!(EVENT_LEN, 4376);
        assert_eq!(OFF_RD_DATA, 4 + 128 + 64 + 64 + 2 + 2 + 16);
        assert_eq!(OFF_OUTPUT_SIZE, 4100);
        assert_eq!(OFF_OUTPUT_RTYPE, 4102);
        // uhid_output_req (4099) and uhid_set_report_req (4104) fit the union.
        const { assert!(4 + 4099 <= EVENT_LEN && 4 + 4104 <= EVENT_LEN) };
    }

    #[test]
    fn event_type_numbers_match_the_kernel_enum() {
        // enum uhid_event_type: __UHID_LEGACY_CREATE = 0, then in order.
        use event_type::*;
        assert_eq!(
            [
                DESTROY,
                START,
                STOP,
                OPEN,
                CLOSE,
                OUTPUT,
                GET_REPORT,
                GET_REPORT_REPLY,
                CREATE2,
                INPUT2,
                SET_REPORT,
                SET_REPORT_REPLY
            ],
            [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14]
        );
    }

    #[test]
    fn create2_layout() {
        let bytes = encode_create2(&create()).expect("fits");
        assert_eq!(bytes.len(), EVENT_LEN);
        assert_eq!(bytes[..4], 11u32.to_le_bytes());
        assert_eq!(&bytes[4..11], b"softkey");
        assert_eq!(bytes[11], 0);
        assert_eq!(&bytes[132..144], b"softkey/uhid");
        assert_eq!(&bytes[196..200], b"0001");
        // rd_size, bus, vendor, product, version, country
        assert_eq!(bytes[260..262], 34u16.to_le_bytes());
        assert_eq!(bytes[262..264], 3u16.to_le_bytes());
        assert_eq!(bytes[264..268], 0x1209u32.to_le_bytes());
        assert_eq!(bytes[268..272], 0x5eedu32.to_le_bytes());
        assert_eq!(bytes[272..276], 0x0102u32.to_le_bytes());
        assert_eq!(bytes[276..280], 0u32.to_le_bytes());
        assert_eq!(bytes[280..314], FIDO_REPORT_DESCRIPTOR);
        assert!(bytes[314..].iter().all(|&b| b == 0));
    }

    /// The recipe's Python device (shared/vm-recipe/share/uhid_fido.py),
    /// which Chromium and Firefox used on a real kernel, packs CREATE2 as
    /// `name + phys + uniq + struct.pack("<HHIIII", …) + rd_data`: the same
    /// bytes as ours for the same fields.
    #[test]
    fn create2_matches_the_recipe_device() {
        let mut fields = create();
        fields.name = "Virtual FIDO2 (uhid test)".into();
        fields.phys = "uhid-test".into();
        fields.vendor = 0x1209;
        fields.product = 0xF1D0;
        fields.version = 0x0100;
        let ours = encode_create2(&fields).expect("fits");
        let mut theirs = 11u32.to_le_bytes().to_vec();
        for (text, len) in [
            (&b"Virtual FIDO2 (uhid test)"[..], 128),
            (b"uhid-test", 64),
            (b"0001", 64),
        ] {
            let mut field = text.to_vec();
            field.resize(len, 0);
            theirs.extend(field);
        }
        theirs.extend(34u16.to_le_bytes());
        theirs.extend(3u16.to_le_bytes());
        for word in [0x1209u32, 0xF1D0, 0x0100, 0] {
            theirs.extend(word.to_le_bytes());
        }
        // The recipe's descriptor, byte for byte.
        theirs.extend([
            0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26, 0xFF, 0x00,
            0x75, 0x08, 0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75,
            0x08, 0x95, 0x40, 0x91, 0x02, 0xC0,
        ]);
        theirs.resize(EVENT_LEN, 0);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn create2_refuses_fields_that_do_not_fit() {
        let mut long = create();
        long.name = "n".repeat(128);
        assert_eq!(
            encode_create2(&long),
            Err(FieldTooLong {
                field: "name",
                len: 128,
                max: 127
            })
        );
        long.name = "n".repeat(127);
        assert!(encode_create2(&long).is_ok());
        long.uniq = "a\0b".into();
        assert!(encode_create2(&long).is_err());
        let mut big = create();
        big.report_descriptor = vec![0; 4097];
        assert!(encode_create2(&big).is_err());
    }

    #[test]
    fn input2_layout() {
        let mut report = [0u8; REPORT_LEN];
        report[0] = 0xff;
        report[63] = 0x42;
        let bytes = encode_input2(&report);
        assert_eq!(bytes.len(), EVENT_LEN);
        assert_eq!(bytes[..4], 12u32.to_le_bytes());
        assert_eq!(bytes[4..6], 64u16.to_le_bytes());
        assert_eq!(bytes[6..70], report);
        assert!(bytes[70..].iter().all(|&b| b == 0));
    }

    fn output_event(data: &[u8]) -> Vec<u8> {
        let mut bytes = event(event_type::OUTPUT);
        bytes[4..4 + data.len()].copy_from_slice(data);
        bytes[OFF_OUTPUT_SIZE..OFF_OUTPUT_SIZE + 2]
            .copy_from_slice(&(data.len() as u16).to_le_bytes());
        bytes[OFF_OUTPUT_RTYPE] = 1;
        bytes
    }

    #[test]
    fn output_of_65_bytes_drops_the_report_id() {
        let mut written = vec![0u8];
        written.extend((1..=64).collect::<Vec<u8>>());
        let bytes = output_event(&written);
        assert_eq!(output_report_type(&bytes), Some(1));
        let Ok(Event::Output(report)) = decode_event(&bytes) else {
            panic!("not an output report");
        };
        assert_eq!(report[..], written[1..]);
    }

    #[test]
    fn short_and_long_outputs_are_padded_and_cut() {
        let Ok(Event::Output(report)) = decode_event(&output_event(&[0, 0xaa, 0xbb])) else {
            panic!();
        };
        assert_eq!(report[..3], [0xaa, 0xbb, 0]);
        let Ok(Event::Output(report)) = decode_event(&output_event(&[7; 100])) else {
            panic!();
        };
        assert_eq!(report, [7; 64]);
        let Ok(Event::Output(report)) = decode_event(&output_event(&[])) else {
            panic!();
        };
        assert_eq!(report, [0; 64]);
    }

    #[test]
    fn decodes_lifecycle_and_report_requests() {
        let mut start = event(event_type::START);
        start[4..12].copy_from_slice(&5u64.to_le_bytes());
        assert_eq!(decode_event(&start), Ok(Event::Start { dev_flags: 5 }));
        assert_eq!(decode_event(&event(event_type::STOP)), Ok(Event::Stop));
        assert_eq!(decode_event(&event(event_type::OPEN)), Ok(Event::Open));
        assert_eq!(decode_event(&event(event_type::CLOSE)), Ok(Event::Close));
        let mut get = event(event_type::GET_REPORT);
        get[4..8].copy_from_slice(&77u32.to_le_bytes());
        get[8] = 3;
        assert_eq!(
            decode_event(&get),
            Ok(Event::GetReport {
                id: 77,
                report_number: 3
            })
        );
        let reply = encode_get_report_reply(77, EIO);
        assert_eq!(reply[..4], 10u32.to_le_bytes());
        assert_eq!(reply[4..8], 77u32.to_le_bytes());
        assert_eq!(reply[8..10], 5u16.to_le_bytes());
        assert_eq!(reply[10..12], 0u16.to_le_bytes());
        let reply = encode_set_report_reply(78, EIO);
        assert_eq!(reply[..4], 14u32.to_le_bytes());
        assert_eq!(reply[4..10], [78, 0, 0, 0, 5, 0]);
        assert_eq!(decode_event(&event(8)), Ok(Event::Other(8)));
        assert_eq!(encode_destroy()[..4], 1u32.to_le_bytes());
    }

    #[test]
    fn decode_rejects_truncated_events() {
        assert!(decode_event(&[1, 0]).is_err());
        assert!(decode_event(&2u32.to_le_bytes()).is_err());
        assert!(decode_event(&6u32.to_le_bytes()).is_err());
        let mut bad = output_event(&[0; 65]);
        bad[OFF_OUTPUT_SIZE..OFF_OUTPUT_SIZE + 2].copy_from_slice(&5000u16.to_le_bytes());
        assert!(decode_event(&bad).is_err());
    }

    #[test]
    fn descriptor_declares_the_fido_usage_and_64_byte_reports() {
        let d = FIDO_REPORT_DESCRIPTOR;
        assert_eq!(d[..3], [0x06, 0xD0, 0xF1]);
        assert_eq!(d[3..5], [0x09, 0x01]);
        assert_eq!(d.iter().filter(|&&b| b == 0x95).count(), 2);
        assert_eq!(d.windows(2).filter(|w| *w == [0x95, 0x40]).count(), 2);
    }
}
