//! CTAP1/U2F in a command sequence ([`Authenticator::handle_ctap1`]):
//! register, authenticate and version APDUs in short and extended form, with
//! key handles from earlier U2F registrations and from CTAP2 makeCredential,
//! interleaved with CTAP2 requests on the same authenticator.
//!
//! What must hold:
//!
//! - a response is data then a status word; only `9000` carries data;
//! - an authenticate with a key handle the device made for that application
//!   (U2F, or a non-discoverable ES256 credential from makeCredential that
//!   is not credProtect-3) never answers `6A80`, and check-only answers
//!   `6985` for it;
//! - a credProtect-3 key handle is answered, for every control byte and
//!   without a prompt, byte for byte as the same handle with its last byte
//!   flipped (a foreign one), and never signs;
//! - a key handle is accepted (`9000`, or check-only's `6985`) only by the
//!   application it was made for;
//! - a registration's key handle is a credential of its application (CTAP2
//!   may sign with it), and signature counters only go up, whichever
//!   protocol signs;
//! - a waiting U2F request cancelled or refused answers `6985`.

use super::*;
use crate::ctap1::sw;

/// The challenge parameter of every U2F request.
const CHALLENGE: [u8; 32] = [0x55; 32];

/// A U2F request, as far as its answer is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum U2fSent {
    /// U2F_REGISTER for this application parameter.
    Register {
        /// The application parameter.
        application: [u8; 32],
    },
    /// U2F_AUTHENTICATE.
    Authenticate {
        /// The application parameter.
        application: [u8; 32],
        /// P1.
        control: u8,
        /// The key handle sent.
        key_handle: Vec<u8>,
        /// Made by this device for this application, usable over U2F.
        ours: bool,
    },
    /// U2F_VERSION.
    Version,
    /// Anything else.
    Raw,
}

/// An APDU: `form` bit 0 extended length (forced when the data does not fit
/// a short Lc), bit 1 with Le.
pub(super) fn apdu(ins: u8, p1: u8, data: &[u8], form: u8) -> Vec<u8> {
    let extended = form & 0x01 != 0 || data.len() > 255;
    let with_le = form & 0x02 != 0;
    let mut out = vec![0x00, ins, p1, 0x00];
    match (extended, data.is_empty()) {
        (false, true) => {}
        (false, false) => {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        (true, true) => {
            if with_le {
                out.push(0x00);
            }
        }
        (true, false) => {
            out.push(0x00);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
    }
    if with_le {
        out.extend_from_slice(if extended { &[0x00, 0x00] } else { &[0x00] });
    }
    out
}

fn application(app: u8) -> [u8; 32] {
    sha256(RP_IDS[usize::from(app % 4)].as_bytes())
}

fn status_word(reply: &[u8]) -> u16 {
    let (_, word) = reply
        .split_last_chunk::<2>()
        .expect("a U2F response ends with a status word");
    u16::from_be_bytes(*word)
}

impl SequenceModel {
    /// [`Action::U2fRegister`].
    pub(super) fn u2f_register(&mut self, app: u8, form: u8) {
        let application = application(app);
        let mut data = CHALLENGE.to_vec();
        data.extend_from_slice(&application);
        self.send_u2f(
            &apdu(0x01, 0x00, &data, form),
            U2fSent::Register { application },
        );
    }

    /// [`Action::U2fAuthenticate`]: `control % 4` picks check-only, enforce
    /// presence, don't enforce, or `control` itself as P1.
    pub(super) fn u2f_authenticate(
        &mut self,
        app: u8,
        control: u8,
        key_handle: &CredentialRef,
        form: u8,
    ) {
        let application = application(app);
        let control = match control % 4 {
            0 => 0x07,
            1 => 0x03,
            2 => 0x08,
            _ => control,
        };
        let id = self
            .credential_ids(std::slice::from_ref(key_handle))
            .pop()
            .expect("one reference, one ID");
        let ours = id.len() <= 255
            && self
                .issued
                .iter()
                .any(|i| i.u2f && i.id == id && i.rp_id_hash == application && i.cred_protect < 3);
        let level_three = id.len() <= 255
            && self
                .issued
                .iter()
                .any(|i| i.id == id && i.cred_protect == 3);
        let mut data = CHALLENGE.to_vec();
        data.extend_from_slice(&application);
        data.push(id.len().min(255) as u8);
        data.extend_from_slice(&id);
        let request = apdu(0x02, control, &data, form);
        let sent = U2fSent::Authenticate {
            application,
            control,
            key_handle: id,
            ours,
        };
        if level_three {
            self.level_three_key_handle(&request, &data, control, form, &sent);
        } else {
            self.send_u2f(&request, sent);
        }
    }

    /// A credProtect-3 key handle: answered at once, and as a foreign one.
    fn level_three_key_handle(
        &mut self,
        request: &[u8],
        data: &[u8],
        control: u8,
        form: u8,
        sent: &U2fSent,
    ) {
        let mut answer = |apdu: &[u8]| match self.authenticator.handle_ctap1(apdu, self.now) {
            Outcome::Reply(reply) => reply,
            Outcome::AwaitUser(_) => panic!("a credProtect-3 key handle asked for presence"),
        };
        let ours = answer(request);
        let mut foreign = data.to_vec();
        if let Some(last) = foreign.last_mut() {
            *last ^= 0x01;
        }
        let theirs = answer(&apdu(0x02, control, &foreign, form));
        assert_eq!(
            ours, theirs,
            "a credProtect-3 key handle answered unlike a foreign one"
        );
        self.waiting = None;
        assert!(!self.authenticator.is_waiting());
        self.check_u2f_reply(sent, None, &ours);
    }

    /// [`Action::U2fVersion`].
    pub(super) fn u2f_version(&mut self, form: u8) {
        self.send_u2f(&apdu(0x03, 0x00, &[], form), U2fSent::Version);
    }

    /// [`Action::U2fRaw`].
    pub(super) fn u2f_raw(&mut self, request: &[u8]) {
        self.send_u2f(request, U2fSent::Raw);
    }

    fn send_u2f(&mut self, request: &[u8], sent: U2fSent) {
        let outcome = self.authenticator.handle_ctap1(request, self.now);
        self.waiting = None;
        match outcome {
            Outcome::AwaitUser(_) => {
                assert!(self.authenticator.is_waiting());
                assert!(
                    matches!(sent, U2fSent::Register { .. } | U2fSent::Raw)
                        || matches!(sent, U2fSent::Authenticate { control: 0x03, .. }),
                    "{sent:?} asked for the user"
                );
                self.waiting = Some(Waiting::U2f(sent));
            }
            Outcome::Reply(reply) => {
                assert!(!self.authenticator.is_waiting());
                self.check_u2f_reply(&sent, None, &reply);
            }
        }
    }

    /// Checks a U2F response; `verdict` is the person's answer when the
    /// request waited for one.
    pub(super) fn check_u2f_reply(
        &mut self,
        sent: &U2fSent,
        verdict: Option<Verdict>,
        reply: &[u8],
    ) {
        let word = status_word(reply);
        let data = &reply[..reply.len() - 2];
        if word != sw::NO_ERROR {
            assert!(data.is_empty(), "status {word:04x} carries data");
        }
        match verdict {
            Some(Verdict::Denied | Verdict::TimedOut) => {
                assert_eq!(word, sw::CONDITIONS_NOT_SATISFIED, "a refused {sent:?}");
                return;
            }
            Some(Verdict::Approved) => {
                assert_eq!(word, sw::NO_ERROR, "an approved {sent:?} failed");
            }
            None => {}
        }
        match sent {
            U2fSent::Register { application } if word == sw::NO_ERROR => {
                self.check_registration(application, data);
            }
            U2fSent::Authenticate {
                application,
                control,
                key_handle,
                ours,
            } => {
                if *ours {
                    assert_ne!(word, sw::WRONG_DATA, "our key handle refused");
                    if *control == 0x07 {
                        assert_eq!(word, sw::CONDITIONS_NOT_SATISFIED, "check-only");
                    }
                }
                let accepted = word == sw::NO_ERROR
                    || (*control == 0x07 && word == sw::CONDITIONS_NOT_SATISFIED);
                if accepted {
                    assert!(
                        self.issued
                            .iter()
                            .any(|i| i.id == *key_handle && i.rp_id_hash == *application),
                        "a key handle accepted by another application"
                    );
                }
                if word == sw::NO_ERROR {
                    self.check_u2f_signature(*control, key_handle, data);
                }
            }
            U2fSent::Version => {
                assert!(
                    reply == b"U2F_V2\x90\x00" || word == sw::INS_NOT_SUPPORTED,
                    "U2F_VERSION answered {reply:02x?}"
                );
            }
            _ => {}
        }
    }

    /// 0x05 ‖ public key (65) ‖ L ‖ key handle ‖ certificate ‖ signature.
    fn check_registration(&mut self, application: &[u8; 32], data: &[u8]) {
        assert_eq!(data.first(), Some(&0x05), "registration's reserved byte");
        assert_eq!(data.get(1), Some(&0x04), "an uncompressed P-256 point");
        let length = usize::from(*data.get(66).expect("a key handle length"));
        let key_handle = data
            .get(67..67 + length)
            .expect("the key handle fits the response")
            .to_vec();
        assert!(data.len() > 67 + length, "no certificate and signature");
        self.issued.push(Issued {
            id: key_handle,
            rp_id_hash: *application,
            u2f: true,
            cred_protect: 1,
        });
    }

    /// user presence ‖ counter (4, big-endian) ‖ signature.
    fn check_u2f_signature(&mut self, control: u8, key_handle: &[u8], data: &[u8]) {
        assert!(data.len() > 5, "an authentication without a signature");
        assert!(
            !self
                .issued
                .iter()
                .any(|i| i.id == key_handle && i.cred_protect == 3),
            "a credProtect-3 credential signed over U2F"
        );
        assert_eq!(
            data[0],
            u8::from(control == 0x03),
            "user presence byte for P1 {control:02x}"
        );
        let count = u32::from_be_bytes(data[1..5].try_into().expect("4 bytes"));
        if let Some(previous) = self.counters.insert(key_handle.to_vec(), count) {
            assert!(count > previous, "counter went from {previous} to {count}");
        }
    }
}
