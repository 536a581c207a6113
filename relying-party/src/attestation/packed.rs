//! `packed` attestation ([§8.2](https://www.w3.org/TR/webauthn-3/#sctn-packed-attestation)).

use super::{
    AttestationType, StatementInput, TrustPath, signature_field, signed_data, x5c_field, x509,
};
use crate::Error;
use crate::cose::ALG_ES256;
use ciborium::Value;

pub(super) fn verify(input: &StatementInput<'_>) -> Result<(AttestationType, TrustPath), Error> {
    let StatementInput {
        statement,
        auth_data,
        credential,
        client_data_hash,
        policy,
        now,
    } = *input;
    // 1. attStmt is valid CBOR with alg, sig and optionally x5c.
    let alg = match super::field(statement, "alg") {
        Some(Value::Integer(alg)) => {
            i64::try_from(*alg).map_err(|_| Error::InvalidAttestation("alg out of range"))?
        }
        _ => return Err(Error::InvalidAttestation("alg missing or not an integer")),
    };
    let signature = signature_field(statement)?;
    let data = signed_data(auth_data, client_data_hash);
    match x5c_field(statement)? {
        // 2. If x5c is present: the attestation certificate's key signed authData ‖ clientDataHash.
        Some(chain) => {
            if alg != ALG_ES256 {
                return Err(Error::UnsupportedAlgorithm(alg));
            }
            let leaf = &chain[0];
            let key = x509::p256_key(leaf)?;
            crate::cose::verify_es256(&key, &data, signature)?;
            // The certificate meets §8.2.1, including the AAGUID extension check.
            x509::check_packed_requirements(leaf, &credential.aaguid)?;
            let trust_path = x509::verify_chain(&chain, &policy.trust_anchors, now)?;
            Ok((AttestationType::Basic, trust_path))
        }
        // 3. Self attestation: alg matches the credential key, which signed the data.
        None => {
            if alg != credential.public_key.algorithm() {
                return Err(Error::InvalidAttestation(
                    "self attestation alg differs from the credential key",
                ));
            }
            credential.public_key.verify(&data, signature)?;
            Ok((AttestationType::SelfAttestation, TrustPath::Empty))
        }
    }
}
