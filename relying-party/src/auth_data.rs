//! Authenticator data ([WebAuthn L3 §6.1](https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data)).
//!
//! ```text
//! rpIdHash(32) flags(1) signCount(4) [attestedCredentialData] [extensions CBOR map]
//! attestedCredentialData = aaguid(16) credIdLen(2, BE) credId credentialPublicKey(COSE_Key CBOR)
//! ```

use crate::Error;
use crate::cose::PublicKey;

/// User present.
pub const FLAG_UP: u8 = 0x01;
/// User verified.
pub const FLAG_UV: u8 = 0x04;
/// Backup eligible.
pub const FLAG_BE: u8 = 0x08;
/// Backup state.
pub const FLAG_BS: u8 = 0x10;
/// Attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// Longest credential ID the spec allows (§5.1 `rawId`, §7.1 step 23).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// Attested credential data (§6.5.2).
#[derive(Debug, Clone)]
pub struct AttestedCredentialData {
    /// The authenticator model's AAGUID.
    pub aaguid: [u8; 16],
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The credential public key.
    pub public_key: PublicKey,
    /// The COSE_Key bytes exactly as sent (stored, so the key can be re-parsed later).
    pub public_key_cose: Vec<u8>,
}

/// Parsed authenticator data.
#[derive(Debug, Clone)]
pub struct AuthenticatorData<'a> {
    /// The raw bytes (signed over).
    pub raw: &'a [u8],
    /// SHA-256 of the RP ID the authenticator scoped the credential to.
    pub rp_id_hash: [u8; 32],
    /// Flags byte.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
    /// Present in registration responses (AT flag).
    pub attested_credential_data: Option<AttestedCredentialData>,
    /// Extension outputs, CBOR (ED flag).
    pub extensions: Option<ciborium::Value>,
}

impl<'a> AuthenticatorData<'a> {
    /// Parses authenticator data; trailing bytes are an error.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Error> {
        if raw.len() < 37 {
            return Err(Error::MalformedAuthenticatorData("shorter than 37 bytes"));
        }
        let (rp_id_hash, rest) = raw.split_at(32);
        let flags = rest[0];
        let sign_count = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
        let mut rest = &rest[5..];
        let attested_credential_data = if flags & FLAG_AT != 0 {
            let (data, remaining) = parse_attested_credential_data(rest)?;
            rest = remaining;
            Some(data)
        } else {
            None
        };
        let extensions = if flags & FLAG_ED != 0 {
            let (value, remaining) = read_cbor(rest)
                .map_err(|_| Error::MalformedAuthenticatorData("extensions are not CBOR"))?;
            if !matches!(value, ciborium::Value::Map(_)) {
                return Err(Error::MalformedAuthenticatorData(
                    "extensions are not a CBOR map",
                ));
            }
            rest = remaining;
            Some(value)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(Error::MalformedAuthenticatorData("trailing bytes"));
        }
        Ok(Self {
            raw,
            rp_id_hash: rp_id_hash.try_into().expect("split_at(32) gives 32 bytes"),
            flags,
            sign_count,
            attested_credential_data,
            extensions,
        })
    }

    /// UP flag.
    pub fn user_present(&self) -> bool {
        self.flags & FLAG_UP != 0
    }
    /// UV flag.
    pub fn user_verified(&self) -> bool {
        self.flags & FLAG_UV != 0
    }
    /// BE flag.
    pub fn backup_eligible(&self) -> bool {
        self.flags & FLAG_BE != 0
    }
    /// BS flag.
    pub fn backed_up(&self) -> bool {
        self.flags & FLAG_BS != 0
    }
}

fn parse_attested_credential_data(bytes: &[u8]) -> Result<(AttestedCredentialData, &[u8]), Error> {
    if bytes.len() < 18 {
        return Err(Error::MalformedAuthenticatorData(
            "attested credential data truncated",
        ));
    }
    let aaguid: [u8; 16] = bytes[..16].try_into().expect("length checked above");
    let id_len = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    if id_len > MAX_CREDENTIAL_ID_LEN {
        return Err(Error::CredentialIdTooLong);
    }
    let rest = &bytes[18..];
    if rest.len() < id_len {
        return Err(Error::MalformedAuthenticatorData("credential ID truncated"));
    }
    let (credential_id, rest) = rest.split_at(id_len);
    let (value, remaining) = read_cbor(rest)
        .map_err(|_| Error::MalformedPublicKey("credential public key is not CBOR"))?;
    let cose_len = rest.len() - remaining.len();
    let public_key = PublicKey::from_cbor_value(value)?;
    Ok((
        AttestedCredentialData {
            aaguid,
            credential_id: credential_id.to_vec(),
            public_key,
            public_key_cose: rest[..cose_len].to_vec(),
        },
        remaining,
    ))
}

/// Reads one CBOR item from the front of `bytes`, returning it and what follows.
pub(crate) fn read_cbor(bytes: &[u8]) -> Result<(ciborium::Value, &[u8]), ()> {
    let mut reader = bytes;
    let value: ciborium::Value = ciborium::de::from_reader(&mut reader).map_err(|_| ())?;
    Ok((value, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_trailing_are_rejected() {
        assert_eq!(
            AuthenticatorData::parse(&[0; 36]).unwrap_err(),
            Error::MalformedAuthenticatorData("shorter than 37 bytes")
        );
        let mut data = vec![0; 37];
        data[32] = FLAG_UP;
        data[36] = 7;
        let parsed = AuthenticatorData::parse(&data).expect("37 bytes, no AT/ED");
        assert!(parsed.user_present() && !parsed.user_verified());
        assert_eq!(parsed.sign_count, 7);
        data.push(0);
        assert_eq!(
            AuthenticatorData::parse(&data).unwrap_err(),
            Error::MalformedAuthenticatorData("trailing bytes")
        );
    }
}
