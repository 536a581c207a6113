//! `fido-u2f` attestation ([§8.6](https://www.w3.org/TR/webauthn-3/#sctn-fido-u2f-attestation)).

use super::{AttestationType, StatementInput, TrustPath, signature_field, x5c_field, x509};
use crate::Error;
use crate::cose::{ALG_ES256, Key};

pub(super) fn verify(input: &StatementInput<'_>) -> Result<(AttestationType, TrustPath), Error> {
    let StatementInput {
        statement,
        auth_data,
        credential,
        client_data_hash,
        policy,
        now,
    } = *input;
    // 1. attStmt has x5c with exactly one certificate, and sig.
    let chain = x5c_field(statement)?.ok_or(Error::InvalidAttestation("fido-u2f without x5c"))?;
    if chain.len() != 1 {
        return Err(Error::InvalidAttestation(
            "fido-u2f x5c must hold exactly one certificate",
        ));
    }
    let signature = signature_field(statement)?;
    // 2. The certificate's key is an EC P-256 key.
    let certificate_key = x509::p256_key(&chain[0])
        .map_err(|_| Error::InvalidAttestation("fido-u2f attestation key is not P-256"))?;
    // 3–4. The credential key is P-256; publicKeyU2F = 0x04 ‖ x ‖ y.
    let (Key::P256(credential_key), ALG_ES256) = (
        credential.public_key.key(),
        credential.public_key.algorithm(),
    ) else {
        return Err(Error::InvalidAttestation(
            "fido-u2f credential key is not ES256",
        ));
    };
    let public_key_u2f = credential_key.to_sec1_point(false);
    // 5. verificationData = 0x00 ‖ rpIdHash ‖ clientDataHash ‖ credentialId ‖ publicKeyU2F.
    let mut data = Vec::with_capacity(1 + 32 + 32 + credential.credential_id.len() + 65);
    data.push(0x00);
    data.extend_from_slice(&auth_data.rp_id_hash);
    data.extend_from_slice(client_data_hash);
    data.extend_from_slice(&credential.credential_id);
    data.extend_from_slice(public_key_u2f.as_bytes());
    // 6. The signature verifies with the certificate key.
    crate::cose::verify_es256(&certificate_key, &data, signature)?;
    let trust_path = x509::verify_chain(&chain, &policy.trust_anchors, now)?;
    Ok((AttestationType::Basic, trust_path))
}
