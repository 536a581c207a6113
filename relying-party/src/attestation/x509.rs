//! The X.509 part of attestation: parse x5c certificates, check the `packed`
//! attestation certificate requirements
//! ([§8.2.1](https://www.w3.org/TR/webauthn-3/#sctn-packed-attestation-cert-requirements)),
//! and walk a chain to a configured trust anchor.
//!
//! Every certificate that issues another (each one after the leaf, and the
//! trust anchor that signed the last) must be a CA as RFC 5280 path
//! validation demands (§6.1.4 (k)–(n)): basicConstraints with cA = true
//! ([`Error::IssuerNotCa`]), keyUsage, when present, with keyCertSign
//! ([`Error::IssuerWithoutKeyCertSign`]), and no more non-self-issued CA
//! certificates below it than its pathLenConstraint
//! ([`Error::PathLengthExceeded`]).
//!
//! Certificate signatures we verify: ecdsa-with-SHA256 by a P-256 issuer key, which
//! is what FIDO attestation roots use in practice. Anything else makes the chain
//! untrusted (named), never silently accepted.

use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::der::{self, Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

use crate::Error;

const OID_EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_ECDSA_SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_OU: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.4.11");
/// id-fido-gen-ce-aaguid (§8.2.1).
const OID_FIDO_AAGUID: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");

/// Parses a DER certificate.
pub fn parse(der_bytes: &[u8]) -> Result<Certificate, Error> {
    Certificate::from_der(der_bytes)
        .map_err(|_| Error::InvalidAttestation("x5c certificate is not DER X.509"))
}

/// The certificate's P-256 public key (attestation certificates for ES256 and fido-u2f).
pub fn p256_key(certificate: &Certificate) -> Result<p256::ecdsa::VerifyingKey, Error> {
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|any| any.decode_as::<der::oid::ObjectIdentifier>().ok());
    if spki.algorithm.oid != OID_EC_PUBLIC_KEY || curve != Some(OID_P256) {
        return Err(Error::UnsupportedKeyType);
    }
    p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|_| Error::InvalidAttestation("attestation certificate key is not a P-256 point"))
}

/// §8.2.1: version 3, OU "Authenticator Attestation", not a CA, AAGUID extension
/// (when present) equal to authenticator data's AAGUID.
pub fn check_packed_requirements(
    certificate: &Certificate,
    aaguid: &[u8; 16],
) -> Result<(), Error> {
    let tbs = certificate.tbs_certificate();
    if tbs.version() != x509_cert::certificate::Version::V3 {
        return Err(Error::InvalidAttestation(
            "attestation certificate is not version 3",
        ));
    }
    let ou_ok = tbs.subject().iter().any(|attribute| {
        attribute.oid == OID_OU && attribute.value.value() == b"Authenticator Attestation"
    });
    if !ou_ok {
        return Err(Error::InvalidAttestation(
            "attestation certificate subject OU is not \"Authenticator Attestation\"",
        ));
    }
    match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, constraints))) if constraints.ca => {
            return Err(Error::InvalidAttestation("attestation certificate is a CA"));
        }
        Ok(_) => {}
        Err(_) => return Err(Error::InvalidAttestation("malformed basicConstraints")),
    }
    if let Some(extensions) = tbs.extensions()
        && let Some(extension) = extensions
            .iter()
            .find(|extension| extension.extn_id == OID_FIDO_AAGUID)
    {
        if extension.critical {
            return Err(Error::InvalidAttestation(
                "AAGUID extension marked critical",
            ));
        }
        let inner = der::asn1::OctetString::from_der(extension.extn_value.as_bytes())
            .map_err(|_| Error::InvalidAttestation("malformed AAGUID extension"))?;
        if inner.as_bytes() != aaguid {
            return Err(Error::InvalidAttestation(
                "certificate AAGUID differs from authenticator data",
            ));
        }
    }
    Ok(())
}

/// How far an attestation's certificate chain was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustPath {
    /// No certificates (`none`, or self attestation).
    Empty,
    /// Signatures verified link by link, but no trust anchor is configured.
    Unverified,
    /// The chain leads to the configured trust anchor with this index.
    Anchor(usize),
}

/// Verifies `chain` (leaf first) link by link and to one of `anchors` (DER), with each
/// certificate valid at `now` and each issuer a CA allowed to issue what is
/// below it. With no anchors configured, the links are still checked and the
/// result is [`TrustPath::Unverified`].
pub fn verify_chain(
    chain: &[Certificate],
    anchors: &[Vec<u8>],
    now: SystemTime,
) -> Result<TrustPath, Error> {
    for certificate in chain {
        check_validity(certificate, now)?;
    }
    for (index, pair) in chain.windows(2).enumerate() {
        verify_issued_by(&pair[0], &pair[1])?;
        check_issuer(&pair[1], ca_certificates_below(chain, index + 1))?;
    }
    if anchors.is_empty() {
        return Ok(TrustPath::Unverified);
    }
    let last = chain.last().ok_or(Error::InvalidAttestation("empty x5c"))?;
    for (index, anchor_der) in anchors.iter().enumerate() {
        let Ok(anchor) = Certificate::from_der(anchor_der) else {
            continue;
        };
        // The chain may end in the anchor itself (already checked as an
        // issuer if it issued anything), or in a certificate it signed.
        let same = last.to_der().ok().as_deref() == Some(anchor_der.as_slice());
        if !same {
            if verify_issued_by(last, &anchor).is_err() {
                continue;
            }
            check_issuer(&anchor, ca_certificates_below(chain, chain.len()))?;
        }
        check_validity(&anchor, now)?;
        return Ok(TrustPath::Anchor(index));
    }
    Err(Error::UntrustedAttestation(
        "chain does not lead to a configured trust anchor",
    ))
}

/// How many certificates between the leaf and `chain[issuer_index]` count
/// against the issuer's pathLenConstraint: the CA certificates in
/// `chain[1..issuer_index]` that are not self-issued (RFC 5280 §4.2.1.9).
fn ca_certificates_below(chain: &[Certificate], issuer_index: usize) -> usize {
    chain
        .get(1..issuer_index)
        .unwrap_or_default()
        .iter()
        .filter(|certificate| {
            let tbs = certificate.tbs_certificate();
            tbs.subject() != tbs.issuer()
        })
        .count()
}

/// `issuer` may sign certificates: cA = true, keyCertSign if it has a
/// keyUsage, and `below` intermediate CAs within its pathLenConstraint.
fn check_issuer(issuer: &Certificate, below: usize) -> Result<(), Error> {
    let tbs = issuer.tbs_certificate();
    match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, constraints))) if constraints.ca => {
            if let Some(limit) = constraints.path_len_constraint
                && below > usize::from(limit)
            {
                return Err(Error::PathLengthExceeded);
            }
        }
        Ok(_) => return Err(Error::IssuerNotCa),
        Err(_) => {
            return Err(Error::UntrustedAttestation(
                "issuer basicConstraints is malformed",
            ));
        }
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) if !usage.key_cert_sign() => Err(Error::IssuerWithoutKeyCertSign),
        Ok(_) => Ok(()),
        Err(_) => Err(Error::UntrustedAttestation("issuer keyUsage is malformed")),
    }
}

fn check_validity(certificate: &Certificate, now: SystemTime) -> Result<(), Error> {
    let validity = certificate.tbs_certificate().validity();
    if now < validity.not_before.to_system_time() || now > validity.not_after.to_system_time() {
        return Err(Error::UntrustedAttestation(
            "certificate outside its validity period",
        ));
    }
    Ok(())
}

/// `issuer`'s name and key signed `subject` (what it may issue is
/// [`check_issuer`]'s question).
fn verify_issued_by(subject: &Certificate, issuer: &Certificate) -> Result<(), Error> {
    if subject.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Err(Error::UntrustedAttestation(
            "issuer name does not match the next certificate",
        ));
    }
    if subject.signature_algorithm().oid != OID_ECDSA_SHA256 {
        return Err(Error::UntrustedAttestation(
            "certificate signature algorithm not supported",
        ));
    }
    let key =
        p256_key(issuer).map_err(|_| Error::UntrustedAttestation("issuer key is not P-256"))?;
    let tbs = subject
        .tbs_certificate()
        .to_der()
        .map_err(|_| Error::UntrustedAttestation("certificate does not re-encode"))?;
    let signature = subject
        .signature()
        .as_bytes()
        .ok_or(Error::UntrustedAttestation(
            "signature bit string has unused bits",
        ))?;
    crate::cose::verify_es256(&key, &tbs, signature)
        .map_err(|_| Error::UntrustedAttestation("certificate signature does not verify"))
}

#[cfg(test)]
mod tests;
