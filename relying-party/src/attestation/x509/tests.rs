//! Certificate chains built here, in the test, with the `x509-cert` builder
//! (P-256 keys from fixed scalars, ecdsa-with-SHA256): what an issuer must be
//! (RFC 5280 §4.2.1.9 basicConstraints cA and pathLenConstraint, §4.2.1.3
//! keyUsage keyCertSign; §6.1.4 steps (k)–(n) of path validation) for a chain
//! to lead to a trust anchor.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use p256::ecdsa::{DerSignature, SigningKey};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension as _};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::time::Validity;

use super::{TrustPath, verify_chain};

/// What a built certificate says about itself.
#[derive(Clone, Copy)]
struct Shape {
    /// `None`: no basicConstraints extension at all.
    basic_constraints: Option<(bool, Option<u8>)>,
    /// `None`: no keyUsage extension.
    key_usage: Option<KeyUsages>,
}

const CA: Shape = Shape {
    basic_constraints: Some((true, None)),
    key_usage: Some(KeyUsages::KeyCertSign),
};
const LEAF: Shape = Shape {
    basic_constraints: Some((false, None)),
    key_usage: Some(KeyUsages::DigitalSignature),
};

struct Profile {
    issuer: Name,
    subject: Name,
    shape: Shape,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = Vec::new();
        if let Some((ca, path_len_constraint)) = self.shape.basic_constraints {
            extensions.push(
                (&BasicConstraints {
                    ca,
                    path_len_constraint,
                })
                    .to_extension(tbs.subject(), &[])?,
            );
        }
        if let Some(usage) = self.shape.key_usage {
            extensions.push((&KeyUsage(usage.into())).to_extension(tbs.subject(), &[])?);
        }
        Ok(extensions)
    }
}

/// A party that holds a key and a name.
struct Party {
    name: Name,
    key: SigningKey,
}

fn party(number: u8, common_name: &str) -> Party {
    Party {
        name: Name::from_str(&format!("CN={common_name},O=softkey test,C=US")).expect("name"),
        key: SigningKey::from_slice(&[number; 32]).expect("scalar below the group order"),
    }
}

/// `subject`'s certificate, with `shape`, signed by `issuer`.
fn issue(subject: &Party, shape: Shape, issuer: &Party) -> x509_cert::Certificate {
    let profile = Profile {
        issuer: issuer.name.clone(),
        subject: subject.name.clone(),
        shape,
    };
    let spki = SubjectPublicKeyInfo::from_key(subject.key.verifying_key()).expect("spki");
    let validity = Validity::from_now(Duration::from_secs(24 * 3600)).expect("validity");
    CertificateBuilder::new(profile, SerialNumber::from(7u32), validity, spki)
        .expect("builder")
        .build::<_, DerSignature>(&issuer.key)
        .expect("certificate")
}

fn der(certificate: &x509_cert::Certificate) -> Vec<u8> {
    certificate.to_der().expect("encodes")
}

fn now() -> SystemTime {
    SystemTime::now()
}

/// The error's stable name, or "accepted".
fn outcome(chain: &[x509_cert::Certificate], anchors: &[Vec<u8>]) -> &'static str {
    match verify_chain(chain, anchors, now()) {
        Ok(_) => "accepted",
        Err(error) => error.name(),
    }
}

#[test]
fn well_formed_ca_chain_reaches_its_anchor() {
    let (root, intermediate, leaf) = (party(1, "root"), party(2, "int"), party(3, "leaf"));
    let root_cert = issue(&root, CA, &root);
    let chain = [
        issue(&leaf, LEAF, &intermediate),
        issue(&intermediate, CA, &root),
    ];
    assert_eq!(
        verify_chain(&chain, &[der(&root_cert)], now()),
        Ok(TrustPath::Anchor(0))
    );
    assert_eq!(verify_chain(&chain, &[], now()), Ok(TrustPath::Unverified));
}

#[test]
fn chain_through_issuer_without_basic_constraints_is_refused() {
    let (root, middle, leaf) = (party(1, "root"), party(2, "not a CA"), party(3, "leaf"));
    let root_cert = issue(&root, CA, &root);
    let no_constraints = Shape {
        basic_constraints: None,
        key_usage: None,
    };
    let chain = [
        issue(&leaf, LEAF, &middle),
        issue(&middle, no_constraints, &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "issuer_not_ca");
    // Also without anchors: the links themselves are wrong.
    assert_eq!(outcome(&chain, &[]), "issuer_not_ca");
}

#[test]
fn chain_through_issuer_with_ca_false_is_refused() {
    let (root, middle, leaf) = (party(1, "root"), party(2, "end entity"), party(3, "leaf"));
    let root_cert = issue(&root, CA, &root);
    // A leaf-shaped certificate (cA = false) used to issue another one.
    let chain = [issue(&leaf, LEAF, &middle), issue(&middle, LEAF, &root)];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "issuer_not_ca");
}

#[test]
fn issuer_key_usage_without_cert_sign_is_refused() {
    let (root, middle, leaf) = (party(1, "root"), party(2, "signer"), party(3, "leaf"));
    let root_cert = issue(&root, CA, &root);
    let ca_without_cert_sign = Shape {
        basic_constraints: Some((true, None)),
        key_usage: Some(KeyUsages::DigitalSignature),
    };
    let chain = [
        issue(&leaf, LEAF, &middle),
        issue(&middle, ca_without_cert_sign, &root),
    ];
    assert_eq!(
        outcome(&chain, &[der(&root_cert)]),
        "issuer_without_key_cert_sign"
    );
    // Without a keyUsage extension, cA = true alone is enough (RFC 5280 §4.2.1.3).
    let ca_without_key_usage = Shape {
        basic_constraints: Some((true, None)),
        key_usage: None,
    };
    let chain = [
        issue(&leaf, LEAF, &middle),
        issue(&middle, ca_without_key_usage, &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "accepted");
}

#[test]
fn intermediate_beyond_path_len_zero_is_refused() {
    let (root, upper, lower, leaf) = (
        party(1, "root"),
        party(2, "upper"),
        party(4, "lower"),
        party(3, "leaf"),
    );
    let root_cert = issue(&root, CA, &root);
    let path_len = |n| Shape {
        basic_constraints: Some((true, Some(n))),
        key_usage: Some(KeyUsages::KeyCertSign),
    };
    // upper allows no CA below it, yet lower (a CA) is below it.
    let chain = [
        issue(&leaf, LEAF, &lower),
        issue(&lower, CA, &upper),
        issue(&upper, path_len(0), &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "path_len_exceeded");
    // pathLen 1 allows exactly that one.
    let chain = [
        issue(&leaf, LEAF, &lower),
        issue(&lower, CA, &upper),
        issue(&upper, path_len(1), &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "accepted");
    // pathLen 0 still issues end-entity certificates.
    let chain = [
        issue(&leaf, LEAF, &upper),
        issue(&upper, path_len(0), &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_cert)]), "accepted");
}

#[test]
fn trust_anchor_path_len_counts_the_intermediates_below_it() {
    let (root, intermediate, leaf) = (party(1, "root"), party(2, "int"), party(3, "leaf"));
    let root_zero = issue(
        &root,
        Shape {
            basic_constraints: Some((true, Some(0))),
            key_usage: Some(KeyUsages::KeyCertSign),
        },
        &root,
    );
    let chain = [
        issue(&leaf, LEAF, &intermediate),
        issue(&intermediate, CA, &root),
    ];
    assert_eq!(outcome(&chain, &[der(&root_zero)]), "path_len_exceeded");
}

#[test]
fn trust_anchor_that_is_not_a_ca_cannot_issue_the_chain() {
    let (root, leaf) = (party(1, "root"), party(3, "leaf"));
    // A configured anchor that is an end-entity certificate, not a CA.
    let anchor = issue(
        &root,
        Shape {
            basic_constraints: None,
            key_usage: None,
        },
        &root,
    );
    let chain = [issue(&leaf, LEAF, &root)];
    assert_eq!(outcome(&chain, &[der(&anchor)]), "issuer_not_ca");
    // The anchor itself sent as the (only) certificate is a pinned
    // certificate, which issues nothing: accepted.
    let pinned = x509_cert::Certificate::from_der(&der(&anchor)).expect("parses");
    assert_eq!(outcome(&[pinned], &[der(&anchor)]), "accepted");
}
