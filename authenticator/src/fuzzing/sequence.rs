//! The command-sequence fuzz target: an in-memory authenticator driven through
//! many requests, resumes, cancels, power cycles and clock steps, checked
//! against a small model.

use super::*;

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
/// - `0` makeCredential: `rp`, `user`, `flags`, exclude count, [`CredentialRef`]s
/// - `1` getAssertion: `rp`, `flags`, allow count (`0xff`: no allowList), refs
/// - `2` parameterless command: one byte, mod 4 → getInfo, reset, getNextAssertion, selection
/// - `3` raw request: length, bytes (command byte first)
/// - `4` resume: verdict byte, mod 3 → approved, denied, timed out
/// - `5` cancel; `6` power cycle
/// - `7` advance the clock: u16 little-endian, in 100 ms units
///
/// Tags are read mod 8. Input that ends inside an action ends the run.
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

/// A cursor over fuzz input; every read fails at the end of input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    fn credential_refs(&mut self, count: u8) -> Option<Vec<CredentialRef>> {
        (0..count.min(8)).map(|_| self.credential_ref()).collect()
    }

    fn credential_ref(&mut self) -> Option<CredentialRef> {
        let b = self.byte()?;
        if b & 0x80 != 0 {
            let len = self.byte()?;
            Some(CredentialRef::Raw(self.take(usize::from(len))?.to_vec()))
        } else {
            Some(CredentialRef::Issued {
                index: b & 0x3f,
                corrupt: b & 0x40 != 0,
            })
        }
    }

    fn action(&mut self) -> Option<Action> {
        Some(match self.byte()? % 8 {
            0 => {
                let (rp, user, flags) = (self.byte()?, self.byte()?, self.byte()?);
                let count = self.byte()?;
                Action::MakeCredential {
                    rp,
                    user,
                    flags,
                    exclude: self.credential_refs(count)?,
                }
            }
            1 => {
                let (rp, flags, count) = (self.byte()?, self.byte()?, self.byte()?);
                let allow = if count == 0xff {
                    None
                } else {
                    Some(self.credential_refs(count)?)
                };
                Action::GetAssertion { rp, flags, allow }
            }
            2 => Action::Simple(self.byte()?),
            3 => {
                let len = self.byte()?;
                Action::Raw(self.take(usize::from(len))?.to_vec())
            }
            4 => Action::Resume(match self.byte()? % 3 {
                0 => Verdict::Approved,
                1 => Verdict::Denied,
                _ => Verdict::TimedOut,
            }),
            5 => Action::Cancel,
            6 => Action::PowerCycle,
            _ => Action::Advance(u16::from_le_bytes([self.byte()?, self.byte()?])),
        })
    }
}

/// Decodes fuzz input into actions (at most [`MAX_ACTIONS`]).
pub fn decode_actions(data: &[u8]) -> Vec<Action> {
    let mut input = Input(data);
    let mut actions = Vec::new();
    while actions.len() < MAX_ACTIONS {
        match input.action() {
            Some(action) => actions.push(action),
            None => break,
        }
    }
    actions
}

/// Encodes actions as [`decode_actions`] reads them (seeds, regression inputs).
/// Lists longer than 8 entries and raw fields longer than 255 bytes are cut.
pub fn encode_actions(actions: &[Action]) -> Vec<u8> {
    fn refs(out: &mut Vec<u8>, list: &[CredentialRef]) {
        let list = &list[..list.len().min(8)];
        out.push(list.len() as u8);
        for r in list {
            match r {
                CredentialRef::Issued { index, corrupt } => {
                    out.push((index & 0x3f) | if *corrupt { 0x40 } else { 0 });
                }
                CredentialRef::Raw(id) => {
                    out.push(0x80);
                    short_bytes(out, id);
                }
            }
        }
    }
    fn short_bytes(out: &mut Vec<u8>, data: &[u8]) {
        let data = &data[..data.len().min(255)];
        out.push(data.len() as u8);
        out.extend_from_slice(data);
    }
    let mut out = Vec::new();
    for action in actions {
        match action {
            Action::MakeCredential {
                rp,
                user,
                flags,
                exclude,
            } => {
                out.extend_from_slice(&[0, *rp, *user, *flags]);
                refs(&mut out, exclude);
            }
            Action::GetAssertion { rp, flags, allow } => {
                out.extend_from_slice(&[1, *rp, *flags]);
                match allow {
                    None => out.push(0xff),
                    Some(list) => refs(&mut out, list),
                }
            }
            Action::Simple(which) => out.extend_from_slice(&[2, *which]),
            Action::Raw(request) => {
                out.push(3);
                short_bytes(&mut out, request);
            }
            Action::Resume(verdict) => out.extend_from_slice(&[
                4,
                match verdict {
                    Verdict::Approved => 0,
                    Verdict::Denied => 1,
                    Verdict::TimedOut => 2,
                },
            ]),
            Action::Cancel => out.push(5),
            Action::PowerCycle => out.push(6),
            Action::Advance(ticks) => {
                out.push(7);
                out.extend_from_slice(&ticks.to_le_bytes());
            }
        }
    }
    out
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
///   reported for that credential before.
pub struct SequenceModel {
    authenticator: Authenticator<MemoryStore, InsecureFuzzRng>,
    now: Instant,
    /// Credential IDs issued since the last reset, in order, with their rpIdHash.
    pub(super) issued: Vec<(Vec<u8>, [u8; 32])>,
    /// The highest signature counter each credential asserted with.
    pub(super) counters: HashMap<Vec<u8>, u32>,
    /// The request awaiting the person: its command byte and the rpIdHash it named.
    waiting: Option<(u8, Option<[u8; 32]>)>,
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
        }
    }

    pub(super) fn step(&mut self, action: &Action) {
        match action {
            Action::MakeCredential {
                rp,
                user,
                flags,
                exclude,
            } => {
                let rp_id = RP_IDS[usize::from(rp % 4)];
                let request = self.make_credential(rp_id, *user, *flags, exclude);
                self.send(&request, Some(sha256(rp_id.as_bytes())));
            }
            Action::GetAssertion { rp, flags, allow } => {
                let rp_id = RP_IDS[usize::from(rp % 4)];
                let request = self.get_assertion(rp_id, *flags, allow.as_deref());
                self.send(&request, Some(sha256(rp_id.as_bytes())));
            }
            Action::Simple(which) => {
                let command = [
                    commands::GET_INFO,
                    commands::RESET,
                    commands::GET_NEXT_ASSERTION,
                    commands::SELECTION,
                ][usize::from(which % 4)];
                self.send(&[command], None);
            }
            Action::Raw(request) => self.send(request, None),
            Action::Resume(verdict) => {
                let was_waiting = self.authenticator.is_waiting();
                let outcome = self.authenticator.resume(*verdict, self.now);
                let waiting = self.waiting.take();
                match (waiting, was_waiting) {
                    (Some((command, rp_id_hash)), true) => {
                        self.outcome(command, rp_id_hash, outcome);
                    }
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
                assert_eq!(was_waiting, self.waiting.take().is_some());
                match reply {
                    Some(reply) => {
                        assert!(was_waiting, "cancel answered with nothing waiting");
                        assert_eq!(reply, [StatusCode::KeepaliveCancel.code()]);
                    }
                    None => assert!(!was_waiting, "cancel ignored a waiting request"),
                }
                assert!(!self.authenticator.is_waiting());
            }
            Action::PowerCycle => {
                self.authenticator.power_cycle(self.now);
                self.waiting = None;
                assert!(!self.authenticator.is_waiting());
            }
            Action::Advance(ticks) => {
                self.now += Duration::from_millis(100) * u32::from(*ticks);
            }
        }
    }

    fn send(&mut self, request: &[u8], rp_id_hash: Option<[u8; 32]>) {
        let outcome = self.authenticator.handle(request, self.now);
        let command = request.first().copied().unwrap_or(0);
        self.waiting = None;
        self.outcome(command, rp_id_hash, outcome);
    }

    fn outcome(&mut self, command: u8, rp_id_hash: Option<[u8; 32]>, outcome: Outcome) {
        match outcome {
            Outcome::AwaitUser(_) => {
                assert!(self.authenticator.is_waiting());
                self.waiting = Some((command, rp_id_hash));
            }
            Outcome::Reply(reply) => {
                assert!(!self.authenticator.is_waiting());
                self.check_reply(command, rp_id_hash, &reply);
            }
        }
    }

    fn check_reply(&mut self, command: u8, rp_id_hash: Option<[u8; 32]>, reply: &[u8]) {
        let (&status, body) = reply.split_first().expect("a reply has a status byte");
        if status != StatusCode::Ok.code() {
            assert!(body.is_empty(), "error 0x{status:02x} carries a body");
            return;
        }
        if body.is_empty() {
            if command == commands::RESET {
                self.issued.clear();
                self.counters.clear();
            }
            return;
        }
        assert!(cbor::is_canonical(body), "reply is not canonical CBOR");
        let value = cbor::decode(body).expect("a canonical reply decodes");
        match command {
            commands::MAKE_CREDENTIAL => self.check_made(&value, rp_id_hash),
            commands::GET_ASSERTION | commands::GET_NEXT_ASSERTION => {
                self.check_assertion(&value, rp_id_hash);
            }
            _ => {}
        }
    }

    fn check_made(&mut self, response: &Value, rp_id_hash: Option<[u8; 32]>) {
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
        self.issued.push((id, made_for));
    }

    fn check_assertion(&mut self, response: &Value, rp_id_hash: Option<[u8; 32]>) {
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
        let (_, issued_for) = self
            .issued
            .iter()
            .find(|(issued, _)| issued == id)
            .unwrap_or_else(|| panic!("asserted with an unissued credential {id:02x?}"));
        assert_eq!(issued_for, &asserted_for, "credential used for another rp");
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
                        .0
                        .clone();
                    if *corrupt && let Some(last) = id.last_mut() {
                        *last ^= 0x01;
                    }
                    id
                }
            })
            .collect()
    }

    pub(super) fn make_credential(
        &self,
        rp_id: &str,
        user: u8,
        flags: u8,
        exclude: &[CredentialRef],
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
            (
                int(4),
                Value::Array(
                    algs.iter()
                        .map(|alg| {
                            Value::Map(vec![
                                (text("alg"), int(*alg)),
                                (text("type"), text("public-key")),
                            ])
                        })
                        .collect(),
                ),
            ),
        ];
        if !exclude.is_empty() {
            params.push((int(5), descriptors(self.credential_ids(exclude))));
        }
        let options = options(&[("rk", flags >> 2), ("up", flags >> 4), ("uv", flags >> 6)]);
        if !options.is_empty() {
            params.push((int(7), Value::Map(options)));
        }
        request(commands::MAKE_CREDENTIAL, params)
    }

    pub(super) fn get_assertion(
        &self,
        rp_id: &str,
        flags: u8,
        allow: Option<&[CredentialRef]>,
    ) -> Vec<u8> {
        let client_data_hash = if flags & 0x40 != 0 {
            [0x33; 32]
        } else {
            [0x22; 32]
        };
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
        request(commands::GET_ASSERTION, params)
    }
}

/// Named action sequences that reach the interesting states: a starting corpus
/// for [`command_sequence`].
pub fn sequence_seeds() -> Vec<(&'static str, Vec<Action>)> {
    use Action::*;
    let issued = |index| CredentialRef::Issued {
        index,
        corrupt: false,
    };
    vec![
        (
            "register_then_sign_in",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
            ],
        ),
        (
            "two_discoverable_then_next_assertion",
            vec![
                MakeCredential {
                    rp: 1,
                    user: 0,
                    flags: 0b1000,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 1,
                    user: 1,
                    flags: 0b1001,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 1,
                    flags: 0,
                    allow: None,
                },
                Resume(Verdict::Approved),
                Simple(2),
                Advance(301),
                Simple(2),
            ],
        ),
        (
            "excluded_then_cancelled",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 0,
                    user: 1,
                    flags: 0,
                    exclude: vec![issued(0)],
                },
                Cancel,
                Resume(Verdict::Approved),
            ],
        ),
        (
            "reset_after_power_cycle_invalidates_ids",
            vec![
                MakeCredential {
                    rp: 2,
                    user: 0,
                    flags: 1,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                PowerCycle,
                Simple(1),
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 2,
                    flags: 0b10,
                    allow: Some(vec![issued(0)]),
                },
                Advance(200),
                Simple(1),
                Resume(Verdict::Approved),
            ],
        ),
        (
            "silent_assertion_and_pin_probe",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 3,
                    flags: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Denied),
                MakeCredential {
                    rp: 0,
                    user: 3,
                    flags: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0b01,
                    allow: Some(vec![issued(0)]),
                },
                GetAssertion {
                    rp: 0,
                    flags: 0x80,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::TimedOut),
                Raw(vec![commands::GET_INFO]),
            ],
        ),
    ]
}
