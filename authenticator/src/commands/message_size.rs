//! What fits in one CTAPHID message: `maxMsgSize` (getInfo 0x05) is 7609
//! bytes, the CTAPHID maximum (CTAP 2.1 §11.2.4), for requests and responses
//! alike, status byte included.
//!
//! Most responses are far below it. A makeCredential response with an
//! ML-DSA key is not: an ML-DSA-87 public key (2592 bytes) in the
//! authenticator data and its signature (4627 bytes) in a `packed` self
//! attestation come to 7384 bytes with no extension outputs, so a few
//! extensions can push it over. [`make_credential_response_bound`] is an
//! upper bound of that response computed before the user is asked, from the
//! algorithm and the requested extensions alone: makeCredential offers an
//! algorithm only if its bound fits, and moves on to the platform's next
//! choice otherwise (`CTAP2_ERR_REQUEST_TOO_LARGE` when none fits).

use crate::credential::{DISCOVERABLE_ID_LEN, MAX_CREDENTIAL_ID_LEN};
use crate::crypto::Algorithm;
use crate::extensions::{
    MakeCredentialInputs, cred_blob, cred_protect, hmac_secret, pin_complexity_policy,
};

/// Largest CTAP2 message, request or response, status byte included
/// (CTAP 2.1 §11.2.4: 64 − 7 + 128 × (64 − 5) bytes).
pub const MAX_MSG_SIZE: usize = 7609;

/// An upper bound of the attestation certificate's DER length (the one
/// softkey issues is about 550 bytes; tested in `attestation`).
pub const ATTESTATION_CERTIFICATE_BOUND: usize = 1024;

/// Encoded length of a CBOR text string of `len` bytes.
fn text_len(len: usize) -> usize {
    header_len(len) + len
}

/// Length of a CBOR head carrying `len` (a length or a non-negative integer).
fn header_len(len: usize) -> usize {
    match len {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Encoded length of a CBOR byte string of `len` bytes.
fn bytes_len(len: usize) -> usize {
    header_len(len) + len
}

/// Upper bound of a sealed credential ID: version, nonce, tag and the CBOR
/// payload of [`crate::credential`] with every field the inputs can add.
pub fn sealed_id_bound(algorithm: Algorithm, inputs: &MakeCredentialInputs) -> usize {
    let int = 3; // any key or small integer value: at most a 3-byte head
    let mut payload = 1 // map head
        + 1 + int // 7: algorithm
        + 1 + bytes_len(algorithm.stored_secret_len()) // 8: private key
        + 1 + 1; // 10: credProtect
    if inputs.hmac_secret {
        payload += 2 * (1 + bytes_len(32)); // 11, 12: CredRandoms
    }
    if inputs.cred_blob.is_some() {
        payload += 1 + bytes_len(cred_blob::MAX_CRED_BLOB_LENGTH); // 13
    }
    if algorithm.stores_public_key() {
        payload += 1 + bytes_len(32); // 15: Ed25519 public key
    }
    if inputs.third_party_payment {
        payload += 1 + 1; // 20: true
    }
    1 + 12 + 16 + payload
}

/// Upper bound of the extension outputs in the authenticator data.
fn extension_outputs_bound(inputs: &MakeCredentialInputs) -> usize {
    let entry = |name: &str, value: usize| text_len(name.len()) + value;
    let mut outputs = 0;
    if inputs.cred_protect.is_some() {
        outputs += entry(cred_protect::NAME, 1);
    }
    if inputs.cred_blob.is_some() {
        outputs += entry(cred_blob::NAME, 1);
    }
    if inputs.hmac_secret {
        outputs += entry(hmac_secret::NAME, 1);
        // hmac-secret-mc: two 32-byte outputs, encrypted with a 16-byte IV.
        outputs += entry(hmac_secret::MC_NAME, bytes_len(16 + 64));
    }
    if inputs.min_pin_length {
        outputs += entry("minPinLength", 2);
    }
    if inputs.pin_complexity_policy {
        outputs += entry(pin_complexity_policy::NAME, 1);
    }
    if outputs == 0 { 0 } else { 1 + outputs }
}

/// The attestation statement a makeCredential response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statement {
    /// `none`: an empty map.
    None,
    /// `packed` self attestation: the credential key's signature.
    SelfAttestation,
    /// `packed` with `x5c`: the attestation key's ES256 signature and certificate.
    Certificate,
    /// `packed` with `x5c`: the enterprise key's ES256 signature and
    /// certificate, and `epAtt: true` beside the statement.
    Enterprise,
}

/// Upper bound of the makeCredential response (status byte, then the CBOR
/// map of fmt, authData, attStmt and largeBlobKey), for a credential of
/// `algorithm` with the `statement` given.
pub fn make_credential_response_bound(
    algorithm: Algorithm,
    discoverable: bool,
    inputs: &MakeCredentialInputs,
    statement: Statement,
) -> usize {
    let credential_id = if discoverable {
        DISCOVERABLE_ID_LEN
    } else {
        sealed_id_bound(algorithm, inputs).min(MAX_CREDENTIAL_ID_LEN)
    };
    let auth_data = 32 + 1 + 4 // rpIdHash, flags, signCount
        + 16 + 2 + credential_id // aaguid, length, credential ID
        + algorithm.cose_public_key_len()
        + extension_outputs_bound(inputs);
    let (format, statement) = match statement {
        Statement::None => ("none", 1),
        // {"alg": -7, "sig": ES256 DER, "x5c": [certificate]}, and for an
        // enterprise attestation the response's 4: true.
        Statement::Certificate | Statement::Enterprise => (
            "packed",
            1 + text_len(3)
                + 1
                + text_len(3)
                + bytes_len(Algorithm::Es256.max_signature_len())
                + text_len(3)
                + 1
                + bytes_len(ATTESTATION_CERTIFICATE_BOUND)
                + if statement == Statement::Enterprise {
                    2
                } else {
                    0
                },
        ),
        // {"alg": alg, "sig": signature}
        Statement::SelfAttestation => (
            "packed",
            1 + text_len(3) + 3 + text_len(3) + bytes_len(algorithm.max_signature_len()),
        ),
    };
    let large_blob_key = if inputs.large_blob_key {
        1 + bytes_len(32)
    } else {
        0
    };
    1 // status
        + 1 // map head
        + 1 + text_len(format.len())
        + 1 + bytes_len(auth_data)
        + 1 + statement
        + large_blob_key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::AttestationIdentity;
    use rand::SeedableRng;
    use std::time::SystemTime;

    #[test]
    fn attestation_and_enterprise_certificates_fit_the_size_bound() {
        // The bound stands for either certificate in x5c (Certificate and
        // Enterprise statements alike).
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut identity =
            AttestationIdentity::generate(crate::AAGUID, SystemTime::now(), &mut rng).unwrap();
        identity
            .ensure_enterprise(crate::AAGUID, SystemTime::now(), &mut rng)
            .unwrap();
        let leaf = identity.leaf_der().len();
        let enterprise = identity.enterprise_leaf_der().unwrap().len();
        assert!(
            leaf > 300 && leaf <= ATTESTATION_CERTIFICATE_BOUND,
            "{leaf}"
        );
        assert!(
            enterprise > 300 && enterprise <= ATTESTATION_CERTIFICATE_BOUND,
            "{enterprise}"
        );
    }
}
