//! Authenticator data (WebAuthn §6.1): rpIdHash ‖ flags ‖ signCount ‖
//! attestedCredentialData? ‖ extensions?

use ciborium::Value;

use crate::cbor;

/// User present.
pub const FLAG_UP: u8 = 0x01;
/// User verified.
pub const FLAG_UV: u8 = 0x04;
/// Backup eligible.
pub const FLAG_BE: u8 = 0x08;
/// Backed up.
pub const FLAG_BS: u8 = 0x10;
/// Attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// Builds authenticator data.
pub struct AuthenticatorData<'a> {
    /// SHA-256 of the RP ID.
    pub rp_id_hash: [u8; 32],
    /// UP/UV/BE/BS flags (AT and ED are set from the fields below).
    pub flags: u8,
    /// The signature counter.
    pub sign_count: u32,
    /// AAGUID, credential ID and COSE public key, for makeCredential.
    pub attested: Option<(&'a [u8; 16], &'a [u8], Value)>,
    /// Extension outputs, if any.
    pub extensions: Option<Value>,
}

impl AuthenticatorData<'_> {
    /// The serialized form, with room for the clientDataHash that the
    /// signed message appends to it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = self.flags;
        if self.attested.is_some() {
            flags |= FLAG_AT;
        }
        if self.extensions.is_some() {
            flags |= FLAG_ED;
        }
        let attested_len = self
            .attested
            .as_ref()
            .map_or(0, |(_, id, key)| 16 + 2 + id.len() + cbor::encoded_len(key));
        let extensions_len = self.extensions.as_ref().map_or(0, cbor::encoded_len);
        let mut out = Vec::with_capacity(37 + attested_len + extensions_len + 32);
        out.extend_from_slice(&self.rp_id_hash);
        out.push(flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some((aaguid, credential_id, public_key)) = &self.attested {
            out.extend_from_slice(*aaguid);
            let len = u16::try_from(credential_id.len()).expect("credential IDs are short");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(credential_id);
            cbor::encode_into(public_key, &mut out);
        }
        if let Some(extensions) = &self.extensions {
            cbor::encode_into(extensions, &mut out);
        }
        out
    }
}
