//! The command-sequence fuzz target: an in-memory authenticator driven through
//! many requests, resumes, cancels, power cycles and clock steps, checked
//! against a small model.
//!
//! Besides makeCredential/getAssertion (with extensions, signed with the
//! held token or not, and restarts with built-in UV: [`trust`]), a sequence
//! sets a PIN and obtains tokens ([`pin`]), reads and writes the large-blob
//! array ([`large_blob`]), and speaks CTAP1/U2F to the same authenticator
//! ([`u2f`]).

use super::*;

mod codec;
mod large_blob;
mod pin;
mod seeds;
mod trust;
mod u2f;

pub use codec::{decode_actions, encode_actions};
pub use pin::PIN;
pub use seeds::sequence_seeds;

use large_blob::LargeBlobModel;
use pin::HeldToken;
use trust::Expect;
use u2f::U2fSent;

/// Relying party ids the structured requests use (index = `rp` field mod 4).
pub const RP_IDS: [&str; 4] = [
    "example.com",
    "login.example.com",
    "xn--bcher-kva.example",
    "",
];

/// Most actions one input runs: bounds the time of one execution.
pub const MAX_ACTIONS: usize = 64;

/// One step of a [`command_sequence`] run.
///
/// Encoding (all lengths one byte): tag byte, then
/// - `0` makeCredential: `rp`, `user`, `flags`, `extensions`, exclude count,
///   [`CredentialRef`]s
/// - `1` getAssertion: `rp`, `flags`, `extensions`, allow count (`0xff`: no
///   allowList), refs
/// - `2` parameterless command: one byte, mod 4 → getInfo, reset, getNextAssertion, selection
/// - `3` raw request: length, bytes (command byte first)
/// - `4` resume: verdict byte, mod 3 → approved, denied, timed out
/// - `5` cancel; `6` power cycle
/// - `7` advance the clock: u16 little-endian, in 100 ms units
/// - `8` clientPIN: `op`, `permissions` (see [`Action::ClientPin`])
/// - `9` large-blob get: offset, length (u16 little-endian each)
/// - `10` large-blob set: offset (u16), length (u16, `0xffff`: absent), a
///   [`Fragment`], `auth`
/// - `11` large-blob array write: `entries`, size (u16), chunk (u16), `flags`
/// - `12` U2F register: `app`, `form`
/// - `13` U2F authenticate: `app`, `control`, a [`CredentialRef`], `form`
/// - `14` U2F version: `form`
/// - `15` raw U2F APDU: length, bytes
/// - `16` restart over the same store: `flags`
///
/// Tags are read mod 32; 17–31 are raw U2F APDUs too. (The extension bytes
/// and tag 16 came with issue 13; corpora written before read differently.)
/// Input that ends inside an action ends the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A well-formed authenticatorMakeCredential.
    MakeCredential {
        /// Index into [`RP_IDS`].
        rp: u8,
        /// User number (user id `user-N`, N mod 4).
        user: u8,
        /// Bits 0–1 algorithms ([-7], [-8], [-8, -7], [-257]); bits 2–3 `rk`,
        /// 4–5 `up`, 6–7 `uv` (0 absent, 1 false, 2–3 true).
        flags: u8,
        /// Bits 0–1 credProtect (0 none, else that level), bit 2
        /// hmac-secret, bit 3 credBlob, bit 4 largeBlobKey, bit 5 a
        /// pinUvAuthParam from the held token.
        extensions: u8,
        /// excludeList.
        exclude: Vec<CredentialRef>,
    },
    /// A well-formed authenticatorGetAssertion.
    GetAssertion {
        /// Index into [`RP_IDS`].
        rp: u8,
        /// Bits 0–1 `up`, 2–3 `uv`, 4–5 `rk` (0 absent, 1 false, 2–3 true);
        /// bit 6 a second clientDataHash; bit 7 an empty pinUvAuthParam (probe).
        flags: u8,
        /// Bit 0 hmac-secret (bit 1 with two salts, bit 2 over PIN/UV
        /// protocol one, else two), bit 3 credBlob, bit 4 largeBlobKey, bit 5
        /// a pinUvAuthParam from the held token (not with the probe).
        extensions: u8,
        /// allowList; `None` for a discoverable-credential request.
        allow: Option<Vec<CredentialRef>>,
    },
    /// A parameterless command, by its index (mod 4): getInfo, reset,
    /// getNextAssertion, selection.
    Simple(u8),
    /// Any request bytes.
    Raw(Vec<u8>),
    /// The person's verdict on a pending prompt.
    Resume(Verdict),
    /// CTAPHID CANCEL.
    Cancel,
    /// Power cycle: volatile state lost.
    PowerCycle,
    /// The clock moves on, in 100 ms units.
    Advance(u16),
    /// authenticatorClientPIN as a platform sends it: `op` bits 0–1 setPIN,
    /// a token for the PIN, a token for a wrong PIN, getPINRetries; bit 2
    /// protocol one (else two); bit 3 with the permissions RP ID
    /// `example.com`. `permissions` as sent with a token request (`0x10`:
    /// lbw).
    ClientPin {
        /// What to do.
        op: u8,
        /// The permissions of a token request.
        permissions: u8,
    },
    /// authenticatorLargeBlobs get.
    LargeBlobGet {
        /// 0x03 offset.
        offset: u16,
        /// 0x01 get: bytes to read.
        get: u16,
    },
    /// authenticatorLargeBlobs set: one fragment.
    LargeBlobSet {
        /// 0x03 offset.
        offset: u16,
        /// 0x04 length (the whole array's).
        length: Option<u16>,
        /// 0x02 set.
        fragment: Fragment,
        /// `% 4`: no pinUvAuthParam, the held token's MAC, a corrupted MAC,
        /// the MAC with an unsupported protocol number.
        auth: u8,
    },
    /// A whole serialized array written from offset 0 in fragments.
    LargeBlobWrite {
        /// Byte strings in the array (mod 8).
        entries: u8,
        /// Their total size, about.
        size: u16,
        /// Fragment size (raised so that there are at most 16).
        chunk: u16,
        /// Bit 0 corrupt the hash; bits 1–2 `auth` as in
        /// [`Action::LargeBlobSet`]; bit 3 stop after the first fragment.
        flags: u8,
    },
    /// U2F_REGISTER for application SHA-256(`RP_IDS[app % 4]`).
    U2fRegister {
        /// The application's index.
        app: u8,
        /// Bit 0 extended length, bit 1 with Le.
        form: u8,
    },
    /// U2F_AUTHENTICATE.
    U2fAuthenticate {
        /// The application's index.
        app: u8,
        /// `% 4`: check-only, enforce presence, don't enforce, or the byte
        /// itself as P1.
        control: u8,
        /// The key handle.
        key_handle: CredentialRef,
        /// Bit 0 extended length, bit 1 with Le.
        form: u8,
    },
    /// U2F_VERSION.
    U2fVersion {
        /// Bit 0 extended length, bit 1 with Le.
        form: u8,
    },
    /// Any APDU.
    U2fRaw(Vec<u8>),
    /// The runtime restarts over the same store (as `softkey run` does when
    /// its flags change): volatile state is lost, as in a power cycle.
    Restart {
        /// Bit 0: the new authenticator offers built-in user verification.
        flags: u8,
    },
}

/// The bytes of a large-blob set.
///
/// Encoding: one byte `b`. `b & 0x80`: raw, followed by a length byte and the
/// bytes. Otherwise a slice of the last array [`Action::LargeBlobWrite`]
/// built: start and length, u16 little-endian each (cut to the array).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// `draft[start .. start + len]`.
    Draft {
        /// First byte.
        start: u16,
        /// Length.
        len: u16,
    },
}

/// A credential ID in a request.
///
/// Encoding: one byte `b`. `b & 0x80`: raw, followed by a length byte and the
/// bytes. Otherwise the `(b & 0x3f)`-th ID the authenticator issued in this run
/// (mod their number; an arbitrary ID when none was issued), with its last byte
/// flipped when `b & 0x40`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialRef {
    /// An issued credential ID.
    Issued {
        /// Which one (mod the number issued).
        index: u8,
        /// Flip its last byte.
        corrupt: bool,
    },
    /// Arbitrary bytes.
    Raw(Vec<u8>),
}

/// Drives one in-memory authenticator through the actions `data` decodes to,
/// checking every reply against a small model (see [`SequenceModel`]).
pub fn command_sequence(data: &[u8]) {
    run_actions(&decode_actions(data));
}

/// [`command_sequence`] on decoded actions.
pub fn run_actions(actions: &[Action]) {
    let mut model = SequenceModel::new();
    for action in actions {
        model.step(action);
    }
}

/// A deterministic, insecure RNG (SplitMix64): fuzzing only, so that a crash
/// reproduces. It claims `CryptoRng` because the core asks for one.
#[derive(Debug)]
pub struct InsecureFuzzRng(u64);

impl InsecureFuzzRng {
    /// A generator from a fixed seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl rand_core::TryRng for InsecureFuzzRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for InsecureFuzzRng {}

/// What the harness expects of the authenticator across a run:
///
/// - every reply is a status byte; an error carries no body; success carries
///   nothing or one canonical CBOR item;
/// - `resume` with nothing waiting is `CTAP2_ERR_NO_OPERATIONS`; `cancel`
///   answers `KEEPALIVE_CANCEL` exactly when something was waiting;
/// - a credential made for a relying party carries that party's `rpIdHash`;
/// - an assertion names a credential issued since the last successful reset,
///   with that credential's `rpIdHash`, and a signature counter above any it
///   reported for that credential before (over CTAP2 or U2F);
/// - credProtect, hmac-secret, excludeList and user verification: see
///   [`trust`];
/// - clientPIN, large blobs and U2F: see [`pin`], [`large_blob`] and [`u2f`].
pub struct SequenceModel {
    authenticator: Authenticator<MemoryStore, InsecureFuzzRng>,
    now: Instant,
    /// Credentials issued since the last reset, in order.
    pub(super) issued: Vec<Issued>,
    /// The highest signature counter each credential asserted with.
    pub(super) counters: HashMap<Vec<u8>, u32>,
    /// The request awaiting the person.
    waiting: Option<Waiting>,
    /// Whether a PIN is set.
    pin_set: bool,
    /// The last pinUvAuthToken obtained.
    token: Option<HeldToken>,
    /// The platform's randomness (key agreement, PIN encryption IVs).
    platform_rng: InsecureFuzzRng,
    /// The large-blob array and the write in progress.
    large_blob: LargeBlobModel,
    /// Whether the authenticator offers built-in user verification.
    built_in_uv: bool,
    /// How many times the runtime restarted (seeds each new RNG).
    restarts: u64,
}

/// A credential ID the authenticator issued.
#[derive(Debug)]
pub(super) struct Issued {
    /// The credential ID (a U2F key handle).
    pub(super) id: Vec<u8>,
    /// The rpIdHash (application parameter) it was made for.
    pub(super) rp_id_hash: [u8; 32],
    /// Usable over U2F: a U2F registration, or a non-discoverable ES256
    /// credential.
    pub(super) u2f: bool,
    /// Its credProtect level, as makeCredential reported it (1 when it did
    /// not).
    pub(super) cred_protect: u8,
}

/// A request waiting for the person.
#[derive(Debug)]
enum Waiting {
    /// A CTAP2 request: its command byte, the rpIdHash it named, whether
    /// it asked for a discoverable credential, and what else its answer must
    /// meet.
    Ctap2 {
        command: u8,
        rp_id_hash: Option<[u8; 32]>,
        discoverable: bool,
        expect: Expect,
    },
    /// A U2F request.
    U2f(U2fSent),
}

impl SequenceModel {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        let store = MemoryStore::new(Secret32::new([0x5a; 32]));
        Self {
            authenticator: Authenticator::new(
                Config::default(),
                store,
                InsecureFuzzRng::new(42),
                now,
            ),
            now,
            issued: Vec::new(),
            counters: HashMap::new(),
            waiting: None,
            pin_set: false,
            token: None,
            platform_rng: InsecureFuzzRng::new(7),
            large_blob: LargeBlobModel::new(),
            built_in_uv: false,
            restarts: 0,
        }
    }

    /// Whether user verification is configured (a PIN, or built-in UV):
    /// then large-blob writes need a token with lbw.
    pub(super) fn protected(&self) -> bool {
        self.pin_set || self.built_in_uv
    }

    pub(super) fn step(&mut self, action: &Action) {
        self.act(action);
        self.check_large_blob_store();
    }

    fn act(&mut self, action: &Action) {
        match action {
            Action::MakeCredential {
                rp,
                user,
                flags,
                extensions,
                exclude,
            } => self.checked_make_credential(*rp, *user, *flags, *extensions, exclude),
            Action::GetAssertion {
                rp,
                flags,
                extensions,
                allow,
            } => self.checked_get_assertion(*rp, *flags, *extensions, allow.as_deref()),
            Action::Simple(which) => {
                let command = [
                    commands::GET_INFO,
                    commands::RESET,
                    commands::GET_NEXT_ASSERTION,
                    commands::SELECTION,
                ][usize::from(which % 4)];
                self.send(&[command], None, false, Expect::default());
            }
            Action::Raw(request) => {
                // Possibly discoverable: a raw makeCredential may ask for rk.
                self.send(request, None, true, Expect::default());
                if request.first() == Some(&commands::LARGE_BLOBS) {
                    self.resync_large_blob();
                }
            }
            Action::Resume(verdict) => {
                let was_waiting = self.authenticator.is_waiting();
                let outcome = self.authenticator.resume(*verdict, self.now);
                let waiting = self.waiting.take();
                match (waiting, was_waiting) {
                    (Some(Waiting::U2f(sent)), true) => match outcome {
                        Outcome::Reply(reply) => {
                            self.check_u2f_reply(&sent, Some(*verdict), &reply)
                        }
                        Outcome::AwaitUser(_) => panic!("a resumed U2F request asked again"),
                    },
                    (Some(waiting), true) => self.outcome(waiting, outcome),
                    (None, false) => assert_eq!(
                        outcome,
                        Outcome::Reply(vec![StatusCode::NoOperations.code()]),
                        "resume with nothing waiting"
                    ),
                    (model, core) => {
                        panic!("model waiting {model:?}, core waiting {core}")
                    }
                }
            }
            Action::Cancel => {
                let was_waiting = self.authenticator.is_waiting();
                let reply = self.authenticator.cancel();
                let waiting = self.waiting.take();
                assert_eq!(was_waiting, waiting.is_some());
                match reply {
                    Some(reply) => {
                        assert!(was_waiting, "cancel answered with nothing waiting");
                        if let Some(Waiting::U2f(_)) = waiting {
                            assert_eq!(reply, [0x69, 0x85], "a cancelled U2F request");
                        } else {
                            assert_eq!(reply, [StatusCode::KeepaliveCancel.code()]);
                        }
                    }
                    None => assert!(!was_waiting, "cancel ignored a waiting request"),
                }
                assert!(!self.authenticator.is_waiting());
            }
            Action::PowerCycle => {
                self.authenticator.power_cycle(self.now);
                self.waiting = None;
                assert!(!self.authenticator.is_waiting());
                self.large_blob.power_cycle();
                if let Some(token) = &mut self.token {
                    token.current = false;
                }
            }
            Action::Advance(ticks) => {
                self.now += Duration::from_millis(100) * u32::from(*ticks);
            }
            Action::ClientPin { op, permissions } => self.client_pin(*op, *permissions),
            Action::LargeBlobGet { offset, get } => self.large_blob_get(*offset, *get),
            Action::LargeBlobSet {
                offset,
                length,
                fragment,
                auth,
            } => self.large_blob_set(*offset, *length, fragment, *auth),
            Action::LargeBlobWrite {
                entries,
                size,
                chunk,
                flags,
            } => self.large_blob_write(*entries, *size, *chunk, *flags),
            Action::U2fRegister { app, form } => self.u2f_register(*app, *form),
            Action::U2fAuthenticate {
                app,
                control,
                key_handle,
                form,
            } => self.u2f_authenticate(*app, *control, key_handle, *form),
            Action::U2fVersion { form } => self.u2f_version(*form),
            Action::U2fRaw(apdu) => self.u2f_raw(apdu),
            Action::Restart { flags } => self.restart(*flags),
        }
    }

    fn send(
        &mut self,
        request: &[u8],
        rp_id_hash: Option<[u8; 32]>,
        discoverable: bool,
        expect: Expect,
    ) {
        let outcome = self.authenticator.handle(request, self.now);
        let command = request.first().copied().unwrap_or(0);
        self.waiting = None;
        let sent = Waiting::Ctap2 {
            command,
            rp_id_hash,
            discoverable,
            expect,
        };
        self.outcome(sent, outcome);
    }

    /// Sends a request that never waits for the person (clientPIN, large
    /// blobs): its status and decoded body, checked like every reply.
    fn call(&mut self, request: &[u8]) -> (u8, Option<Value>) {
        let outcome = self.authenticator.handle(request, self.now);
        self.waiting = None;
        let Outcome::Reply(reply) = outcome else {
            panic!("command 0x{:02x} asked for the person", request[0]);
        };
        assert!(!self.authenticator.is_waiting());
        self.check_reply(request[0], None, false, &Expect::default(), &reply);
        let body = reply.get(1..).filter(|b| !b.is_empty());
        (
            reply[0],
            body.map(|b| cbor::decode(b).expect("a canonical reply decodes")),
        )
    }

    fn outcome(&mut self, mut sent: Waiting, outcome: Outcome) {
        match outcome {
            Outcome::AwaitUser(prompt) => {
                assert!(self.authenticator.is_waiting());
                if let Waiting::Ctap2 { expect, .. } = &mut sent {
                    expect.check_prompt(&prompt);
                }
                self.waiting = Some(sent);
            }
            Outcome::Reply(reply) => {
                assert!(!self.authenticator.is_waiting());
                let Waiting::Ctap2 {
                    command,
                    rp_id_hash,
                    discoverable,
                    expect,
                } = sent
                else {
                    panic!("a U2F request answered through CTAP2");
                };
                self.check_reply(command, rp_id_hash, discoverable, &expect, &reply);
            }
        }
    }

    fn check_reply(
        &mut self,
        command: u8,
        rp_id_hash: Option<[u8; 32]>,
        discoverable: bool,
        expect: &Expect,
        reply: &[u8],
    ) {
        let (&status, body) = reply.split_first().expect("a reply has a status byte");
        if status != StatusCode::Ok.code() {
            assert!(body.is_empty(), "error 0x{status:02x} carries a body");
            expect.check_error(command, status);
            return;
        }
        if body.is_empty() {
            if command == commands::RESET {
                self.issued.clear();
                self.counters.clear();
                self.pin_set = false;
                if let Some(token) = &mut self.token {
                    token.current = false;
                }
                self.large_blob.reset();
            }
            return;
        }
        assert!(cbor::is_canonical(body), "reply is not canonical CBOR");
        let value = cbor::decode(body).expect("a canonical reply decodes");
        match command {
            commands::MAKE_CREDENTIAL => {
                self.check_made(&value, rp_id_hash, discoverable, expect);
            }
            commands::GET_ASSERTION | commands::GET_NEXT_ASSERTION => {
                expect.check_assertion_allowed(command);
                self.check_assertion(&value, rp_id_hash, expect);
            }
            _ => {}
        }
    }

    fn check_made(
        &mut self,
        response: &Value,
        rp_id_hash: Option<[u8; 32]>,
        discoverable: bool,
        expect: &Expect,
    ) {
        let auth_data = field(response, 2)
            .and_then(Value::as_bytes)
            .expect("makeCredential returns authData");
        assert!(auth_data.len() >= 55, "attested authData is too short");
        let made_for: [u8; 32] = auth_data[..32].try_into().expect("32 bytes");
        if let Some(expected) = rp_id_hash {
            assert_eq!(made_for, expected, "credential made for another rpIdHash");
        }
        let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
        let id = auth_data
            .get(55..55 + id_len)
            .expect("credential ID fits in authData")
            .to_vec();
        // The credential public key follows the ID; U2F signs with ES256 only.
        let mut rest = std::io::Cursor::new(&auth_data[55 + id_len..]);
        let public_key: Value =
            ciborium::de::from_reader(&mut rest).expect("the credential public key decodes");
        let es256 = field(&public_key, 3).and_then(Value::as_integer) == Some((-7).into());
        let after_key = 55 + id_len + usize::try_from(rest.position()).expect("a small offset");
        let outputs = trust::extension_outputs(auth_data, after_key);
        let cred_protect = expect.check_made(response, outputs.as_ref());
        self.issued.push(Issued {
            id,
            rp_id_hash: made_for,
            u2f: es256 && !discoverable,
            cred_protect,
        });
    }

    fn check_assertion(&mut self, response: &Value, rp_id_hash: Option<[u8; 32]>, expect: &Expect) {
        let auth_data = field(response, 2)
            .and_then(Value::as_bytes)
            .expect("an assertion carries authData");
        assert!(auth_data.len() >= 37, "authData is too short");
        let asserted_for: [u8; 32] = auth_data[..32].try_into().expect("32 bytes");
        if let Some(expected) = rp_id_hash {
            assert_eq!(asserted_for, expected, "assertion for another rpIdHash");
        }
        let id = field(response, 1)
            .and_then(|d| {
                d.as_map()?
                    .iter()
                    .find(|(k, _)| k.as_text() == Some("id"))
                    .and_then(|(_, v)| v.as_bytes())
            })
            .expect("an assertion names its credential");
        let issued = self
            .issued
            .iter()
            .find(|issued| issued.id == *id)
            .unwrap_or_else(|| panic!("asserted with an unissued credential {id:02x?}"));
        assert_eq!(
            issued.rp_id_hash, asserted_for,
            "credential used for another rp"
        );
        let outputs = trust::extension_outputs(auth_data, 37);
        expect.check_assertion(
            issued.cred_protect,
            auth_data[32],
            outputs.as_ref(),
            response,
        );
        let count = u32::from_be_bytes(auth_data[33..37].try_into().expect("4 bytes"));
        if let Some(previous) = self.counters.insert(id.clone(), count) {
            assert!(count > previous, "counter went from {previous} to {count}");
        }
    }

    fn credential_ids(&self, refs: &[CredentialRef]) -> Vec<Vec<u8>> {
        refs.iter()
            .map(|r| match r {
                CredentialRef::Raw(id) => id.clone(),
                CredentialRef::Issued { index, corrupt } => {
                    if self.issued.is_empty() {
                        return vec![usize::from(*index) as u8; 16];
                    }
                    let mut id = self.issued[usize::from(*index) % self.issued.len()]
                        .id
                        .clone();
                    if *corrupt && let Some(last) = id.last_mut() {
                        *last ^= 0x01;
                    }
                    id
                }
            })
            .collect()
    }

    /// A makeCredential request; `extra`: more members (extensions, a
    /// pinUvAuthParam).
    pub(super) fn make_credential(
        &self,
        rp_id: &str,
        user: u8,
        flags: u8,
        exclude: &[CredentialRef],
        extra: Vec<(Value, Value)>,
    ) -> Vec<u8> {
        let algs: &[i64] = match flags & 0x03 {
            0 => &[-7],
            1 => &[-8],
            2 => &[-8, -7],
            _ => &[-257],
        };
        let user_id = format!("user-{}", user % 4);
        let mut params = vec![
            (int(1), bytes(&[0x11; 32])),
            (
                int(2),
                Value::Map(vec![
                    (text("id"), text(rp_id)),
                    (text("name"), text("Example")),
                ]),
            ),
            (
                int(3),
                Value::Map(vec![
                    (text("id"), bytes(user_id.as_bytes())),
                    (text("name"), text(&user_id)),
                    (text("displayName"), text("Fuzz User")),
                ]),
            ),
            (int(4), credential_parameters(algs)),
        ];
        if !exclude.is_empty() {
            params.push((int(5), descriptors(self.credential_ids(exclude))));
        }
        let options = options(&[("rk", flags >> 2), ("up", flags >> 4), ("uv", flags >> 6)]);
        if !options.is_empty() {
            params.push((int(7), Value::Map(options)));
        }
        params.extend(extra);
        request(commands::MAKE_CREDENTIAL, params)
    }

    /// A getAssertion request; `extra`: more members (extensions, a
    /// pinUvAuthParam).
    pub(super) fn get_assertion(
        &self,
        rp_id: &str,
        flags: u8,
        allow: Option<&[CredentialRef]>,
        extra: Vec<(Value, Value)>,
    ) -> Vec<u8> {
        let client_data_hash = trust::assertion_client_data_hash(flags);
        let mut params = vec![(int(1), text(rp_id)), (int(2), bytes(&client_data_hash))];
        if let Some(allow) = allow {
            params.push((int(3), descriptors(self.credential_ids(allow))));
        }
        let options = options(&[("up", flags), ("uv", flags >> 2), ("rk", flags >> 4)]);
        if !options.is_empty() {
            params.push((int(5), Value::Map(options)));
        }
        if flags & 0x80 != 0 {
            params.push((int(6), bytes(&[])));
            params.push((int(7), int(1)));
        }
        params.extend(extra);
        request(commands::GET_ASSERTION, params)
    }
}

/// The model after the named seed ran.
#[cfg(test)]
fn run_seed(name: &str) -> SequenceModel {
    let (_, actions) = sequence_seeds()
        .into_iter()
        .find(|(seed, _)| *seed == name)
        .expect("a seed of that name");
    let mut model = SequenceModel::new();
    for action in &actions {
        model.step(action);
    }
    model
}

#[cfg(test)]
mod tests;
