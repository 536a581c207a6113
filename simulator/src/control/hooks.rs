//! The control API's [`Hooks`] on a device's CTAP2 traffic: the decoded trace,
//! injected faults, device profiles, and the credential-ID aliases that let a
//! tester inject a credential under an ID of their choosing.
//!
//! ```text
//!  request ─► trace ─► profile filter ─► armed fault? ─► allowList/excludeList: tester ID → device ID ─► core
//!  reply   ◄─ trace ◄─ getInfo per profile ◄─ credential: device ID → tester ID, sign count noted ◄──── core
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ciborium::Value;
use serde_json::json;
use softkey_authenticator::Verdict;
use softkey_authenticator::crypto::PrivateKey;
use softkey_authenticator::policy::BackupFlags;
use softkey_authenticator::{cbor, ctap1};

use crate::control::cbor_fields::{decode_map, int_key, int_value, text_field, text_key};
use crate::control::events::EventSink;
use crate::control::trace;
use crate::runtime::Hooks;

/// CTAP1_ERR_INVALID_COMMAND.
const INVALID_COMMAND: u8 = 0x01;
/// CTAP1_ERR_INVALID_PARAMETER.
const INVALID_PARAMETER: u8 = 0x02;
/// CTAP2_ERR_UNSUPPORTED_OPTION.
const UNSUPPORTED_OPTION: u8 = 0x2B;
/// CTAP2_ERR_INVALID_SUBCOMMAND.
const INVALID_SUBCOMMAND: u8 = 0x3E;

/// A device personality, chosen with the WebDriver `protocol` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `"ctap2"`: a FIDO 2.0 key. PIN protocol one only; no credential
    /// management, authenticatorConfig, large blobs or selection; getInfo
    /// lists only what CTAP 2.0 defines.
    Ctap2_0,
    /// `"ctap2_1"`: a CTAP 2.1 key: softkey's core without what CTAP 2.2
    /// added ([`ctap22`]).
    Ctap2_1,
    /// `"ctap2_2"`: everything softkey's core builds, CTAP 2.2 features
    /// included (there is no `FIDO_2_2` version string: getInfo lists the
    /// versions the core claims).
    Ctap2_2,
    /// `"ctap1/u2f"`: a U2F key. CTAPHID without the CBOR capability (CTAP2
    /// requests are an invalid command), U2F register and authenticate over
    /// MSG, no resident credentials, no user verification.
    Ctap1,
}

impl Profile {
    /// The WebDriver `protocol` value.
    pub fn protocol(self) -> &'static str {
        match self {
            Self::Ctap2_0 => "ctap2",
            Self::Ctap2_1 => "ctap2_1",
            Self::Ctap2_2 => "ctap2_2",
            Self::Ctap1 => "ctap1/u2f",
        }
    }
}

/// A fault applied to the HID reports of one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFault {
    /// The response's first report is not sent.
    Drop,
    /// The response's first report is sent twice.
    Duplicate,
    /// The response's first report is sent with its CTAP status byte inverted.
    Corrupt,
    /// The response is held back this long.
    Delay(Duration),
}

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this CTAP status at once, without the authenticator.
    Status(u8),
    /// Every store write during the request fails.
    StoreFailure,
    /// Mangle the response's HID reports.
    Report(ReportFault),
}

/// A fault armed for the next requests of one command (or of any command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The CTAP2 command byte it applies to; `None` for any command.
    pub command: Option<u8>,
    /// What it does.
    pub kind: FaultKind,
    /// How many more requests it applies to.
    pub remaining: u32,
}

/// A credential injected under a tester-chosen ID.
#[derive(Debug)]
pub struct Alias {
    /// The ID the tester (and the relying party) uses.
    pub external: Vec<u8>,
    /// The ID the core knows it by.
    pub internal: Vec<u8>,
    /// Key and counter of a non-discoverable credential (a discoverable one
    /// lives in the store).
    pub non_resident: Option<NonResident>,
}

/// An injected non-discoverable credential (its key is sealed in `internal`).
#[derive(Debug)]
pub struct NonResident {
    /// Its relying party.
    pub rp_id: String,
    /// Its private key (the control API returns it, as WebDriver does).
    pub private_key: PrivateKey,
    /// The user handle the tester gave, if any.
    pub user_handle: Option<Vec<u8>>,
    /// The last signature counter it signed with (the device-wide counter
    /// of non-discoverable credentials).
    pub sign_count: u32,
}

/// A non-discoverable credential made over CTAP (its key is sealed in its
/// ID), noted from the traffic so that get credentials lists it.
#[derive(Debug)]
pub struct Made {
    /// Its credential ID.
    pub id: Vec<u8>,
    /// Its relying party; `None` for a U2F registration, which carries only
    /// the SHA-256 of the application id.
    pub rp_id: Option<String>,
    /// SHA-256 of the relying party id (the U2F application parameter).
    pub rp_id_hash: [u8; 32],
    /// The user handle of the registration.
    pub user_handle: Vec<u8>,
    /// The last signature counter it signed with.
    pub sign_count: u32,
}

/// Per-device state shared by the hooks, the serving loop and the control API.
pub struct ControlState {
    /// The authenticator's id in the control API.
    pub id: String,
    /// Its personality.
    pub profile: Profile,
    /// WebDriver `hasResidentKey`.
    pub has_resident_key: bool,
    /// WebDriver `transport` (advertised in getInfo by the ctap2_1 profile).
    pub transport: String,
    /// Injected credentials.
    pub aliases: Vec<Alias>,
    /// Non-discoverable credentials made over CTAP.
    pub made: Vec<Made>,
    /// IDs of removed non-discoverable credentials made over CTAP: their
    /// sealed IDs would still open, so requests naming them are rewritten to
    /// name no credential.
    pub revoked: Vec<Vec<u8>>,
    /// Armed faults, first match wins.
    pub faults: Vec<Fault>,
    /// The report fault the serving loop applies to the next response.
    pub report_fault: Option<ReportFault>,
    /// Set while an injected store failure is active (read by the store).
    pub store_failure: Arc<AtomicBool>,
    /// Where trace events go.
    pub events: EventSink,
    /// Backup flags of credentials (by the core's ID) whose flags differ
    /// from the defaults or were fixed at creation.
    pub backup: BTreeMap<Vec<u8>, BackupFlags>,
    /// Backup flags of new credentials (WebDriver `defaultBackupEligibility`
    /// and `defaultBackupState`).
    pub default_backup: BackupFlags,
    /// The key handle of the U2F authenticate in flight.
    ctap1_key_handle: Option<Vec<u8>>,
    /// The application parameter of the U2F register in flight.
    pending_u2f_application: Option<[u8; 32]>,
    command: u8,
    /// rp id, user handle and rk of the makeCredential in flight.
    pending_make: Option<(String, Vec<u8>, bool)>,
}

impl ControlState {
    /// Fresh state for device `id`.
    pub fn new(
        id: String,
        profile: Profile,
        has_resident_key: bool,
        transport: String,
        store_failure: Arc<AtomicBool>,
        events: EventSink,
    ) -> Self {
        Self {
            id,
            profile,
            has_resident_key,
            transport,
            aliases: Vec::new(),
            made: Vec::new(),
            revoked: Vec::new(),
            faults: Vec::new(),
            report_fault: None,
            store_failure,
            events,
            backup: BTreeMap::new(),
            default_backup: BackupFlags::default(),
            ctap1_key_handle: None,
            pending_u2f_application: None,
            command: 0,
            pending_make: None,
        }
    }

    /// Records an event of this device.
    pub fn emit(&self, kind: &str, data: serde_json::Value) {
        self.events.emit(&self.id, kind, data);
    }

    fn take_fault(&mut self, command: u8) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| f.command.is_none_or(|c| c == command))?;
        let fault = self.faults.get_mut(index)?;
        let kind = fault.kind;
        fault.remaining = fault.remaining.saturating_sub(1);
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }

    /// The backup flags of a credential, by the core's ID.
    pub fn flags_of(&self, internal: &[u8]) -> BackupFlags {
        self.backup
            .get(internal)
            .copied()
            .unwrap_or(self.default_backup)
    }

    /// The core's ID of an injected non-discoverable credential.
    pub fn internal_id(&self, external: &[u8]) -> Option<&[u8]> {
        self.aliases
            .iter()
            .find(|a| a.external == external)
            .map(|a| a.internal.as_slice())
    }
}

/// The hooks installed on a controlled device.
pub struct ControlHooks {
    state: Arc<Mutex<ControlState>>,
}

impl ControlHooks {
    /// Hooks over shared `state`.
    pub fn new(state: Arc<Mutex<ControlState>>) -> Self {
        Self { state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hooks for ControlHooks {
    fn on_request(&mut self, payload: &mut Vec<u8>, _now: Instant) -> Option<Vec<u8>> {
        let mut state = self.state();
        let command = payload.first().copied().unwrap_or(0);
        state.command = command;
        state.emit("request", trace::decode_request(payload));
        state.pending_make = (command == 0x01)
            .then(|| {
                payload
                    .get(1..)
                    .and_then(decode_map)
                    .and_then(|p| make_credential_facts(&p))
            })
            .flatten();
        if let Some(status) = profile_refusal(&state, payload) {
            return Some(vec![status]);
        }
        if let Some(kind) = state.take_fault(command) {
            state.emit(
                "fault",
                json!({ "command": crate::runtime::command_name(command), "fault": format!("{kind:?}") }),
            );
            match kind {
                FaultKind::Status(status) => return Some(vec![status]),
                FaultKind::StoreFailure => state.store_failure.store(true, Ordering::SeqCst),
                FaultKind::Report(fault) => state.report_fault = Some(fault),
            }
        }
        if state.profile == Profile::Ctap2_1 {
            ctap22::strip_extensions(payload);
        }
        rewrite_request(&state, payload);
        None
    }

    fn on_response(&mut self, command: u8, reply: &mut Vec<u8>, _now: Instant) {
        let mut state = self.state();
        state.store_failure.store(false, Ordering::SeqCst);
        if reply.first() == Some(&0) && reply.len() > 1 {
            match command {
                0x01 => note_made(&mut state, reply),
                0x04 => rewrite_get_info(&state, reply),
                0x02 | 0x08 => rewrite_assertion(&mut state, reply),
                _ => {}
            }
        }
        if command == 0x07 && reply.first() == Some(&0) {
            // Factory reset: every credential is gone (sealed IDs no longer open).
            state.aliases.clear();
            state.made.clear();
            state.revoked.clear();
            state.backup.clear();
        }
        state.emit("response", trace::decode_response(command, reply));
    }

    fn on_verdict(&mut self, verdict: Verdict, _now: Instant) {
        let state = self.state();
        state.emit(
            "presence",
            json!({ "command": crate::runtime::command_name(state.command), "verdict": format!("{verdict:?}") }),
        );
    }

    fn on_ctap1_request(&mut self, apdu: &mut Vec<u8>, _now: Instant) -> Option<Vec<u8>> {
        let mut state = self.state();
        state.emit("request", trace::decode_ctap1_request(apdu));
        state.ctap1_key_handle = None;
        // The core's own parser: what it refuses needs no rewriting.
        let request = ctap1::parse(apdu).ok();
        state.pending_u2f_application = match &request {
            Some(ctap1::Request::Register { application, .. }) => Some(*application),
            _ => None,
        };
        let Some(ctap1::Request::Authenticate {
            control,
            challenge,
            application,
            key_handle,
        }) = request
        else {
            return None;
        };
        let replacement = match state.internal_id(&key_handle) {
            Some(internal) => Some(internal.to_vec()),
            // An ID no key opens.
            None => state.revoked.contains(&key_handle).then(|| vec![0]),
        };
        let Some(replacement) = replacement else {
            state.ctap1_key_handle = Some(key_handle);
            return None;
        };
        *apdu = ctap1::Request::Authenticate {
            control,
            challenge,
            application,
            key_handle: replacement.clone(),
        }
        .to_apdu()?;
        state.ctap1_key_handle = Some(replacement);
        None
    }

    fn on_ctap1_response(&mut self, reply: &mut Vec<u8>, _now: Instant) {
        let mut state = self.state();
        let succeeded = reply.ends_with(&[0x90, 0x00]);
        if let (true, Some(key_handle)) = (succeeded, state.ctap1_key_handle.take()) {
            // Authentication: presence (1) ‖ counter (4) ‖ signature.
            if let Some(counter) = reply.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                let counter = u32::from_be_bytes(counter);
                if let Some(made) = state.made.iter_mut().find(|m| m.id == key_handle) {
                    made.sign_count = counter;
                }
            }
        } else if succeeded && reply.first() == Some(&0x05) {
            note_u2f_registration(&mut state, reply);
        }
        state.emit("response", trace::decode_ctap1_response(reply));
    }
}

/// Notes a U2F registration: 0x05 ‖ public key (65) ‖ L ‖ key handle ‖ ….
/// The application parameter of the request is its rp id hash.
fn note_u2f_registration(state: &mut ControlState, reply: &[u8]) {
    let (Some(application), Some(length)) = (state.pending_u2f_application.take(), reply.get(66))
    else {
        return;
    };
    if let Some(key_handle) = reply.get(67..67 + usize::from(*length)) {
        state.made.push(Made {
            id: key_handle.to_vec(),
            rp_id: None,
            rp_id_hash: application,
            user_handle: Vec::new(),
            sign_count: 0,
        });
    }
}

/// rp id, user handle and whether rk was asked, of a makeCredential request.
fn make_credential_facts(parameters: &[(Value, Value)]) -> Option<(String, Vec<u8>, bool)> {
    let field = |key| {
        parameters
            .iter()
            .find(|(k, _)| int_key(k, key))
            .map(|(_, v)| v)
    };
    let rp_id = text_field(field(2)?, "id")?;
    let user_handle = match field(3)? {
        Value::Map(fields) => fields.iter().find_map(|(k, v)| match v {
            Value::Bytes(b) if text_key(k, "id") => Some(b.clone()),
            _ => None,
        }),
        _ => None,
    }
    .unwrap_or_default();
    let rk = matches!(field(7), Some(Value::Map(options)) if options.iter().any(|(k, v)| text_key(k, "rk") && *v == Value::Bool(true)));
    Some((rp_id, user_handle, rk))
}

/// Notes a non-discoverable credential a makeCredential made: authData is
/// rpIdHash (32) ‖ flags ‖ counter (4) ‖ AAGUID (16) ‖ L (2) ‖ credentialId (L) ‖ ….
fn note_made(state: &mut ControlState, reply: &[u8]) {
    let Some((rp_id, user_handle, false)) = state.pending_make.take() else {
        return;
    };
    let Some(entries) = reply.get(1..).and_then(decode_map) else {
        return;
    };
    let Some(auth_data) = entries.iter().find_map(|(k, v)| match v {
        Value::Bytes(b) if int_key(k, 2) => Some(b),
        _ => None,
    }) else {
        return;
    };
    let counter = auth_data
        .get(33..37)
        .and_then(|b| <[u8; 4]>::try_from(b).ok());
    let length = auth_data
        .get(53..55)
        .and_then(|b| <[u8; 2]>::try_from(b).ok());
    let (Some(counter), Some(length)) = (counter, length) else {
        return;
    };
    let end = 55 + usize::from(u16::from_be_bytes(length));
    if let Some(id) = auth_data.get(55..end) {
        state.made.push(Made {
            id: id.to_vec(),
            rp_id_hash: softkey_authenticator::crypto::sha256(rp_id.as_bytes()),
            rp_id: Some(rp_id),
            user_handle,
            sign_count: u32::from_be_bytes(counter),
        });
    }
}

/// A status for requests the profile does not support, or that ask for
/// resident keys on a key without them.
fn profile_refusal(state: &ControlState, payload: &[u8]) -> Option<u8> {
    let command = payload.first().copied()?;
    let parameters = payload.get(1..).and_then(decode_map).unwrap_or_default();
    if command == 0x01 && !state.has_resident_key {
        let rk = parameters.iter().any(|(k, v)| {
            int_key(k, 7)
                && matches!(v, Value::Map(options) if options.iter().any(|(k, v)| text_key(k, "rk") && *v == Value::Bool(true)))
        });
        if rk {
            return Some(UNSUPPORTED_OPTION);
        }
    }
    match state.profile {
        Profile::Ctap2_2 => return None,
        Profile::Ctap2_1 => return ctap22::refusal(payload),
        Profile::Ctap2_0 | Profile::Ctap1 => {}
    }
    match command {
        0x09..=0x0D | 0x40 | 0x41 => Some(INVALID_COMMAND),
        0x06 if int_value(&parameters, 1) == Some(2) => Some(INVALID_PARAMETER),
        0x06 if matches!(int_value(&parameters, 2), Some(6 | 7 | 9)) => Some(INVALID_SUBCOMMAND),
        0x01 if int_value(&parameters, 9) == Some(2) => Some(INVALID_PARAMETER),
        0x02 if int_value(&parameters, 7) == Some(2) => Some(INVALID_PARAMETER),
        _ => None,
    }
}

/// Tester-chosen credential IDs in allowList (getAssertion) and excludeList
/// (makeCredential) become the IDs the core knows.
fn rewrite_request(state: &ControlState, payload: &mut Vec<u8>) {
    let list_key = match payload.first() {
        Some(0x01) => 5,
        Some(0x02) => 3,
        _ => return,
    };
    if state.aliases.is_empty() && state.revoked.is_empty() {
        return;
    }
    let Some(mut entries) = payload.get(1..).and_then(decode_map) else {
        return;
    };
    let mut changed = false;
    for (key, value) in &mut entries {
        let Value::Array(descriptors) = value else {
            continue;
        };
        if !int_key(key, list_key) {
            continue;
        }
        for descriptor in descriptors {
            let Value::Map(fields) = descriptor else {
                continue;
            };
            for (field, id) in fields {
                let (true, Value::Bytes(bytes)) = (text_key(field, "id"), &mut *id) else {
                    continue;
                };
                if let Some(internal) = state.internal_id(bytes) {
                    *bytes = internal.to_vec();
                    changed = true;
                } else if state.revoked.contains(bytes) {
                    // An ID no key opens and no store holds.
                    *bytes = vec![0];
                    changed = true;
                }
            }
        }
    }
    if changed {
        let command = payload.first().copied().unwrap_or(0);
        *payload = std::iter::once(command)
            .chain(cbor::encode(Value::Map(entries)))
            .collect();
    }
}

/// Assertions name the tester's credential ID; an injected non-resident
/// credential's counter is noted for get credentials.
fn rewrite_assertion(state: &mut ControlState, reply: &mut Vec<u8>) {
    let Some(mut entries) = reply.get(1..).and_then(decode_map) else {
        return;
    };
    let counter = entries.iter().find_map(|(k, v)| match v {
        Value::Bytes(auth_data) if int_key(k, 2) => auth_data
            .get(33..37)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes),
        _ => None,
    });
    let mut changed = false;
    for (key, value) in &mut entries {
        let Value::Map(fields) = value else { continue };
        if !int_key(key, 1) {
            continue;
        }
        for (field, id) in fields {
            let (true, Value::Bytes(bytes)) = (text_key(field, "id"), &mut *id) else {
                continue;
            };
            if let (Some(made), Some(counter)) =
                (state.made.iter_mut().find(|m| m.id == *bytes), counter)
            {
                made.sign_count = counter;
            }
            let Some(index) = state.aliases.iter().position(|a| a.internal == *bytes) else {
                continue;
            };
            let Some(alias) = state.aliases.get_mut(index) else {
                continue;
            };
            if let (Some(non_resident), Some(counter)) = (alias.non_resident.as_mut(), counter) {
                non_resident.sign_count = counter;
            }
            bytes.clone_from(&alias.external);
            changed = true;
        }
    }
    if changed {
        *reply = std::iter::once(0)
            .chain(cbor::encode(Value::Map(entries)))
            .collect();
    }
}

/// getInfo follows the profile and the WebDriver options.
fn rewrite_get_info(state: &ControlState, reply: &mut Vec<u8>) {
    let Some(entries) = reply.get(1..).and_then(decode_map) else {
        return;
    };
    let minimal = state.profile == Profile::Ctap2_0;
    let ctap21 = state.profile == Profile::Ctap2_1;
    let mut out = Vec::new();
    for (key, value) in entries {
        let number = match &key {
            Value::Integer(i) => i128::from(*i),
            _ => continue,
        };
        if (minimal && number > 8) || (ctap21 && ctap22::is_ctap22_member(number)) {
            continue;
        }
        let value = match (number, value) {
            (1, _) if minimal => Value::Array(vec![Value::Text("FIDO_2_0".into())]),
            (2, Value::Array(extensions)) if minimal => Value::Array(
                extensions
                    .into_iter()
                    .filter(
                        |e| matches!(e, Value::Text(t) if t == "hmac-secret" || t == "credProtect"),
                    )
                    .collect(),
            ),
            (2, Value::Array(extensions)) if ctap21 => Value::Array(
                extensions
                    .into_iter()
                    .filter(|e| !ctap22::is_ctap22_name(e))
                    .collect(),
            ),
            (4, Value::Map(options)) => Value::Map(
                options
                    .into_iter()
                    .filter(|(k, _)| {
                        !minimal
                            || ["rk", "up", "plat", "clientPin", "uv"]
                                .iter()
                                .any(|name| text_key(k, name))
                    })
                    .filter(|(k, _)| !ctap21 || !ctap22::is_ctap22_name(k))
                    .map(|(k, v)| {
                        if text_key(&k, "rk") {
                            (k, Value::Bool(state.has_resident_key))
                        } else {
                            (k, v)
                        }
                    })
                    .collect(),
            ),
            (6, _) if minimal => Value::Array(vec![Value::from(1)]),
            (9, _) => Value::Array(vec![Value::Text(state.transport.clone())]),
            (_, value) => value,
        };
        out.push((key, value));
    }
    *reply = std::iter::once(0)
        .chain(cbor::encode(Value::Map(out)))
        .collect();
}

/// Whether an input report starts a CTAPHID CBOR or MSG response (not a
/// keepalive), and so is the one a [`ReportFault`] applies to.
pub fn is_response_start(report: &[u8]) -> bool {
    matches!(report.get(4), Some(0x90 | 0x83))
}

/// Applies a corrupting fault: the CTAP status byte is inverted.
pub fn corrupt(report: &mut [u8]) {
    if let Some(status) = report.get_mut(7) {
        *status ^= 0xFF;
    }
}

mod ctap22;
#[cfg(test)]
mod tests;
