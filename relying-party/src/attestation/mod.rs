//! Attestation objects and statement formats
//! ([WebAuthn L3 §6.5](https://www.w3.org/TR/webauthn-3/#sctn-attestation), §8).
//!
//! ```text
//! attestationObject = { "fmt": text, "attStmt": map, "authData": bytes }
//!   fmt "none"     → attStmt must be {}                           (§8.7)
//!   fmt "packed"   → self (sig by credential key) or x5c chain    (§8.2) → packed.rs
//!   fmt "fido-u2f" → one x5c cert, sig over U2F registration data (§8.6) → fido_u2f.rs
//!   anything else  → Error::UnsupportedAttestationFormat
//! ```

mod fido_u2f;
mod packed;
pub mod x509;

use ciborium::Value;

use crate::Error;
use crate::auth_data::AuthenticatorData;
use crate::config::AttestationPolicy;
pub use x509::TrustPath;

/// The kind of attestation a registration carried (§6.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationType {
    /// No attestation (`none`).
    None,
    /// Signed by the credential's own key (`packed` without x5c).
    SelfAttestation,
    /// Signed by an attestation key with a certificate chain (`packed` x5c, `fido-u2f`).
    Basic,
}

impl AttestationType {
    /// Lower-case name for storage and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationType::None => "none",
            AttestationType::SelfAttestation => "self",
            AttestationType::Basic => "basic",
        }
    }
}

/// What the attestation statement proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationOutcome {
    /// The statement format identifier (`none`, `packed`, `fido-u2f`).
    pub format: String,
    /// Kind of attestation.
    pub attestation_type: AttestationType,
    /// How far the certificate chain was verified.
    pub trust_path: TrustPath,
}

/// A decoded attestationObject; `auth_data` borrows from `raw_auth_data`.
#[derive(Debug, Clone)]
pub struct AttestationObject {
    /// `fmt`.
    pub format: String,
    /// `attStmt` as CBOR map entries.
    pub statement: Vec<(Value, Value)>,
    /// `authData` bytes.
    pub raw_auth_data: Vec<u8>,
}

impl AttestationObject {
    /// Decodes the CBOR attestationObject.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let (value, rest) = crate::auth_data::read_cbor(bytes)
            .map_err(|_| Error::MalformedAttestation("not CBOR".into()))?;
        if !rest.is_empty() {
            return Err(Error::MalformedAttestation("trailing bytes".into()));
        }
        let Value::Map(entries) = value else {
            return Err(Error::MalformedAttestation("not a map".into()));
        };
        let mut format = None;
        let mut statement = None;
        let mut raw_auth_data = None;
        for (key, value) in entries {
            match (key.as_text(), value) {
                (Some("fmt"), Value::Text(text)) => format = Some(text),
                (Some("attStmt"), Value::Map(map)) => statement = Some(map),
                (Some("authData"), Value::Bytes(bytes)) => raw_auth_data = Some(bytes),
                (Some(name @ ("fmt" | "attStmt" | "authData")), _) => {
                    return Err(Error::MalformedAttestation(format!(
                        "{name} has the wrong type"
                    )));
                }
                _ => {}
            }
        }
        Ok(Self {
            format: format.ok_or_else(|| Error::MalformedAttestation("fmt missing".into()))?,
            statement: statement
                .ok_or_else(|| Error::MalformedAttestation("attStmt missing".into()))?,
            raw_auth_data: raw_auth_data
                .ok_or_else(|| Error::MalformedAttestation("authData missing".into()))?,
        })
    }

    /// §7.1 steps 20–22: verifies the statement for its format and applies the policy.
    pub fn verify(
        &self,
        auth_data: &AuthenticatorData<'_>,
        client_data_hash: &[u8; 32],
        policy: &AttestationPolicy,
        now: std::time::SystemTime,
    ) -> Result<AttestationOutcome, Error> {
        let input = StatementInput {
            statement: &self.statement,
            auth_data,
            credential: auth_data
                .attested_credential_data
                .as_ref()
                .ok_or(Error::AttestedCredentialDataMissing)?,
            client_data_hash,
            policy,
            now,
        };
        let (attestation_type, trust_path) = match self.format.as_str() {
            "none" => {
                if !self.statement.is_empty() {
                    return Err(Error::InvalidAttestation(
                        "none attestation with a non-empty attStmt",
                    ));
                }
                (AttestationType::None, TrustPath::Empty)
            }
            "packed" => packed::verify(&input)?,
            "fido-u2f" => fido_u2f::verify(&input)?,
            other => return Err(Error::UnsupportedAttestationFormat(other.to_owned())),
        };
        match attestation_type {
            AttestationType::None if !policy.allow_none => {
                return Err(Error::AttestationRefused("none"));
            }
            AttestationType::SelfAttestation if !policy.allow_self => {
                return Err(Error::AttestationRefused("self"));
            }
            _ => {}
        }
        Ok(AttestationOutcome {
            format: self.format.clone(),
            attestation_type,
            trust_path,
        })
    }
}

/// What a statement-format verifier gets.
#[derive(Clone, Copy)]
struct StatementInput<'a> {
    statement: &'a [(Value, Value)],
    auth_data: &'a AuthenticatorData<'a>,
    credential: &'a crate::auth_data::AttestedCredentialData,
    client_data_hash: &'a [u8; 32],
    policy: &'a AttestationPolicy,
    now: std::time::SystemTime,
}

/// Looks up a text key in an attStmt map.
fn field<'a>(statement: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    statement
        .iter()
        .find(|(key, _)| key.as_text() == Some(name))
        .map(|(_, value)| value)
}

/// The `sig` byte string of an attStmt.
fn signature_field(statement: &[(Value, Value)]) -> Result<&[u8], Error> {
    match field(statement, "sig") {
        Some(Value::Bytes(bytes)) => Ok(bytes),
        _ => Err(Error::InvalidAttestation("sig missing or not bytes")),
    }
}

/// The `x5c` array of DER certificates, if present.
fn x5c_field(statement: &[(Value, Value)]) -> Result<Option<Vec<x509_cert::Certificate>>, Error> {
    match field(statement, "x5c") {
        None => Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::Bytes(der) => x509::parse(der),
                _ => Err(Error::InvalidAttestation("x5c entry is not bytes")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::InvalidAttestation("x5c is not a non-empty array")),
    }
}

/// authenticatorData ‖ clientDataHash: what packed statements sign.
fn signed_data(auth_data: &AuthenticatorData<'_>, client_data_hash: &[u8; 32]) -> Vec<u8> {
    let mut data = Vec::with_capacity(auth_data.raw.len() + 32);
    data.extend_from_slice(auth_data.raw);
    data.extend_from_slice(client_data_hash);
    data
}
