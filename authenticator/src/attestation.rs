//! Attestation identities: a per-vault certificate authority and the FIDO
//! attestation certificate it issues, for `packed` attestation with `x5c`
//! (WebAuthn §8.2) and, when the embedder chose it, U2F registration; and
//! single-use identities (a fresh key, a self-signed certificate) for U2F
//! registrations otherwise, which link one registration to no other.
//!
//! The leaf follows "Packed Attestation Statement Certificate Requirements"
//! (WebAuthn §8.2.1): X.509 v3; subject C, O, OU = "Authenticator
//! Attestation", CN; basicConstraints CA = false; the id-fido-gen-ce-aaguid
//! extension (1.3.6.1.4.1.45724.1.1.4) holding the AAGUID, non-critical. The
//! root is what relying parties are given to trust (`softkey vault
//! attestation-root`).
//!
//! Beside it, the identity holds an *enterprise* attestation certificate
//! (CTAP 2.1 §7.1): its own key, a CN naming this device's serial, issued by
//! the same root, used only when enterprise attestation is enabled and asked
//! for ([`crate::enterprise`]). An identity stored before enterprise
//! attestation existed gets one on first use, issued by a root of its own
//! (the vault root's key was never kept): [`AttestationIdentity::enterprise_root_der`].

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use ciborium::Value;
use p256::ecdsa::{DerSignature, SigningKey};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::asn1::OctetString;
use x509_cert::der::{Encode, EncodePem, oid::ObjectIdentifier};
use x509_cert::ext::Extension;
use x509_cert::ext::ToExtension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{EncodePublicKey, SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::time::Validity;
use zeroize::Zeroizing;

use crate::authenticator::{AttestationMode, Context};
use crate::cbor::{self, IntMap};
use crate::secret::Secret32;
use crate::status::StatusCode;
use crate::store::{SettingKey, Store};

/// id-fido-gen-ce-aaguid.
pub const AAGUID_EXTENSION_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");

/// How long the generated certificates are valid.
const VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// Why an attestation identity could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// Building a certificate failed.
    #[error("building the attestation certificate failed: {0}")]
    Certificate(String),
    /// Stored attestation data is malformed.
    #[error("stored attestation identity is malformed")]
    Malformed,
}

/// The attestation key and its certificate chain (leaf first, then root).
pub struct AttestationIdentity {
    key: Secret32,
    chain: Vec<Vec<u8>>,
    /// The enterprise attestation key and its chain (leaf, then its root).
    enterprise: Option<(Secret32, Vec<Vec<u8>>)>,
}

impl std::fmt::Debug for AttestationIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationIdentity")
            .field("chain_len", &self.chain.len())
            .field("enterprise", &self.enterprise.is_some())
            .finish_non_exhaustive()
    }
}

struct FidoProfile {
    issuer: Name,
    subject: Name,
    ca: bool,
    aaguid: Option<[u8; 16]>,
}

impl BuilderProfile for FidoProfile {
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
        let subject = tbs.subject();
        let mut extensions = vec![
            (&BasicConstraints {
                ca: self.ca,
                path_len_constraint: self.ca.then_some(0),
            })
                .to_extension(subject, &[])?,
        ];
        if self.ca {
            extensions.push(
                (&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
                    .to_extension(subject, &[])?,
            );
        }
        if let Some(aaguid) = self.aaguid {
            let inner = OctetString::new(aaguid.to_vec())?.to_der()?;
            extensions.push(Extension {
                extn_id: AAGUID_EXTENSION_OID,
                critical: false,
                extn_value: OctetString::new(inner)?,
            });
        }
        Ok(extensions)
    }
}

fn random_p256_key<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> (Secret32, SigningKey) {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        if let Ok(key) = SigningKey::from_slice(bytes.as_ref()) {
            return (Secret32::new(*bytes), key);
        }
    }
}

fn certificate<R: rand_core::CryptoRng + ?Sized>(
    profile: FidoProfile,
    subject_key: &SigningKey,
    issuer_key: &SigningKey,
    not_before: SystemTime,
    rng: &mut R,
) -> Result<Vec<u8>, AttestationError> {
    let error = |e: &dyn std::fmt::Display| AttestationError::Certificate(e.to_string());
    let validity = Validity::new(
        not_before.try_into().map_err(|e| error(&e))?,
        (not_before + VALIDITY).try_into().map_err(|e| error(&e))?,
    );
    let spki =
        SubjectPublicKeyInfo::from_key(subject_key.verifying_key()).map_err(|e| error(&e))?;
    let builder = CertificateBuilder::new(profile, SerialNumber::generate(rng), validity, spki)
        .map_err(|e| error(&e))?;
    let certificate = builder
        .build::<_, DerSignature>(issuer_key)
        .map_err(|e| error(&e))?;
    certificate.to_der().map_err(|e| error(&e))
}

impl AttestationIdentity {
    /// Makes a new root (self-signed, CA) and an attestation certificate for
    /// `aaguid` issued by it. The root's private key is not kept: nothing else
    /// is ever issued under it.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(
        aaguid: [u8; 16],
        not_before: SystemTime,
        rng: &mut R,
    ) -> Result<Self, AttestationError> {
        let (_, root_key) = random_p256_key(rng);
        let (leaf_secret, leaf_key) = random_p256_key(rng);
        let tag = random_tag(rng, 4);
        let root_name = name(&format!("CN=softkey attestation root {tag},O=softkey,C=US"))?;
        let leaf_name = name(&format!(
            "CN=softkey authenticator {tag},OU=Authenticator Attestation,O=softkey,C=US"
        ))?;
        let root = root_certificate(&root_name, &root_key, not_before, rng)?;
        let leaf = certificate(
            FidoProfile {
                issuer: root_name.clone(),
                subject: leaf_name,
                ca: false,
                aaguid: Some(aaguid),
            },
            &leaf_key,
            &root_key,
            not_before,
            rng,
        )?;
        let (enterprise_secret, enterprise_leaf) =
            enterprise_leaf(aaguid, &root_name, &root_key, not_before, rng)?;
        Ok(Self {
            key: leaf_secret,
            chain: vec![leaf, root.clone()],
            enterprise: Some((enterprise_secret, vec![enterprise_leaf, root])),
        })
    }

    /// Gives an identity stored without an enterprise certificate one, under
    /// a root of its own (the vault root's key is gone). `false` if it had
    /// one already.
    pub fn ensure_enterprise<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        aaguid: [u8; 16],
        not_before: SystemTime,
        rng: &mut R,
    ) -> Result<bool, AttestationError> {
        if self.enterprise.is_some() {
            return Ok(false);
        }
        let (_, root_key) = random_p256_key(rng);
        let tag = random_tag(rng, 4);
        let root_name = name(&format!(
            "CN=softkey enterprise attestation root {tag},O=softkey,C=US"
        ))?;
        let root = root_certificate(&root_name, &root_key, not_before, rng)?;
        let (secret, leaf) = enterprise_leaf(aaguid, &root_name, &root_key, not_before, rng)?;
        self.enterprise = Some((secret, vec![leaf, root]));
        Ok(true)
    }

    /// The enterprise attestation certificate (DER), if the identity has one.
    pub fn enterprise_leaf_der(&self) -> Option<&[u8]> {
        self.enterprise
            .as_ref()
            .and_then(|(_, chain)| chain.first().map(Vec::as_slice))
    }

    /// The root that issued the enterprise certificate (DER): the vault root,
    /// or the enterprise root of an identity made before enterprise
    /// attestation existed.
    pub fn enterprise_root_der(&self) -> Option<&[u8]> {
        self.enterprise
            .as_ref()
            .and_then(|(_, chain)| chain.last().map(Vec::as_slice))
    }

    /// Signs with the enterprise attestation key (ES256, ASN.1 DER).
    pub fn enterprise_sign(&self, message: &[u8]) -> Result<Vec<u8>, StatusCode> {
        let (key, _) = self.enterprise.as_ref().ok_or(StatusCode::Other)?;
        sign_with(key, message)
    }

    /// An identity for one U2F registration: a fresh P-256 key and a
    /// self-signed certificate under a fixed name, with a random serial
    /// number. fido-u2f has no self attestation (WebAuthn §8.6 wants one
    /// certificate whose P-256 key made the signature), and a device-wide
    /// certificate would tell every relying party which registrations share
    /// a key; this one tells nothing. Dropping it zeroizes the key.
    pub fn single_use<R: rand_core::CryptoRng + ?Sized>(
        not_before: SystemTime,
        rng: &mut R,
    ) -> Result<Self, AttestationError> {
        let (secret, key) = random_p256_key(rng);
        let name = Name::from_str("CN=softkey U2F attestation,O=softkey,C=US")
            .map_err(|e| AttestationError::Certificate(e.to_string()))?;
        let certificate = certificate(
            FidoProfile {
                issuer: name.clone(),
                subject: name,
                ca: false,
                aaguid: None,
            },
            &key,
            &key,
            not_before,
            rng,
        )?;
        Ok(Self {
            key: secret,
            chain: vec![certificate],
            enterprise: None,
        })
    }

    /// The DER certificates for `x5c`: the attestation certificate only (the
    /// root is the trust anchor and is not sent).
    pub fn x5c(&self) -> Vec<Vec<u8>> {
        self.chain.first().cloned().into_iter().collect()
    }

    /// The attestation certificate (DER).
    pub fn leaf_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], Vec::as_slice)
    }

    /// The root certificate (DER).
    pub fn root_der(&self) -> &[u8] {
        self.chain.last().map_or(&[], Vec::as_slice)
    }

    /// The root certificate in PEM, for relying parties to trust.
    pub fn root_pem(&self) -> Result<String, AttestationError> {
        let certificate: x509_cert::Certificate = x509_cert::der::Decode::from_der(self.root_der())
            .map_err(|_| AttestationError::Malformed)?;
        certificate
            .to_pem(x509_cert::der::pem::LineEnding::LF)
            .map_err(|e| AttestationError::Certificate(e.to_string()))
    }

    /// Signs with the attestation key (ES256, ASN.1 DER signature).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StatusCode> {
        sign_with(&self.key, message)
    }

    /// The stored form: CBOR {1: key, 2: \[certificates\], 3: enterprise key,
    /// 4: \[enterprise certificate, its root\]} (a storage contract; 3 and 4
    /// absent in identities stored before enterprise attestation).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let certificates =
            |chain: &[Vec<u8>]| Value::Array(chain.iter().map(|c| cbor::bytes(c)).collect());
        let mut entries = vec![
            (cbor::int(1), cbor::bytes(self.key.expose_secret())),
            (cbor::int(2), certificates(&self.chain)),
        ];
        if let Some((key, chain)) = &self.enterprise {
            entries.push((cbor::int(3), cbor::bytes(key.expose_secret())));
            entries.push((cbor::int(4), certificates(chain)));
        }
        cbor::encode_secret(Value::Map(entries))
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttestationError> {
        let malformed = |_| AttestationError::Malformed;
        let mut map = IntMap::new(cbor::decode(bytes).map_err(malformed)?).map_err(malformed)?;
        let key = read_key(map.require(1).map_err(malformed)?)?;
        let chain = read_chain(map.require(2).map_err(malformed)?)?;
        let enterprise = match (map.take(3), map.take(4)) {
            (None, None) => None,
            (Some(key), Some(chain)) => Some((read_key(key)?, read_chain(chain)?)),
            _ => return Err(AttestationError::Malformed),
        };
        Ok(Self {
            key,
            chain,
            enterprise,
        })
    }
}

fn name(text: &str) -> Result<Name, AttestationError> {
    Name::from_str(text).map_err(|e| AttestationError::Certificate(e.to_string()))
}

fn random_tag<R: rand_core::CryptoRng + ?Sized>(rng: &mut R, len: usize) -> String {
    let mut tag = vec![0u8; len];
    rng.fill_bytes(&mut tag);
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

/// A self-signed CA certificate for `root_key`.
fn root_certificate<R: rand_core::CryptoRng + ?Sized>(
    root_name: &Name,
    root_key: &SigningKey,
    not_before: SystemTime,
    rng: &mut R,
) -> Result<Vec<u8>, AttestationError> {
    certificate(
        FidoProfile {
            issuer: root_name.clone(),
            subject: root_name.clone(),
            ca: true,
            aaguid: None,
        },
        root_key,
        root_key,
        not_before,
        rng,
    )
}

/// The enterprise attestation certificate: a key of its own and a CN that
/// names this device's serial (enterprise attestation may identify the
/// authenticator uniquely, CTAP 2.1 §7.1), issued by `root_key`.
fn enterprise_leaf<R: rand_core::CryptoRng + ?Sized>(
    aaguid: [u8; 16],
    root_name: &Name,
    root_key: &SigningKey,
    not_before: SystemTime,
    rng: &mut R,
) -> Result<(Secret32, Vec<u8>), AttestationError> {
    let (secret, key) = random_p256_key(rng);
    let serial = random_tag(rng, 16);
    let subject = name(&format!(
        "CN=softkey enterprise authenticator {serial},OU=Authenticator Attestation,O=softkey,C=US"
    ))?;
    let leaf = certificate(
        FidoProfile {
            issuer: root_name.clone(),
            subject,
            ca: false,
            aaguid: Some(aaguid),
        },
        &key,
        root_key,
        not_before,
        rng,
    )?;
    Ok((secret, leaf))
}

fn sign_with(key: &Secret32, message: &[u8]) -> Result<Vec<u8>, StatusCode> {
    use p256::ecdsa::signature::Signer as _;
    let key = SigningKey::from_slice(key.expose_secret()).map_err(|_| StatusCode::Other)?;
    let signature: p256::ecdsa::Signature = key.sign(message);
    Ok(signature.to_der().to_bytes().to_vec())
}

fn read_key(value: Value) -> Result<Secret32, AttestationError> {
    let bytes = Zeroizing::new(cbor::into_bytes(value).map_err(|_| AttestationError::Malformed)?);
    let key = Secret32::from_slice(&bytes).ok_or(AttestationError::Malformed)?;
    SigningKey::from_slice(key.expose_secret()).map_err(|_| AttestationError::Malformed)?;
    Ok(key)
}

fn read_chain(value: Value) -> Result<Vec<Vec<u8>>, AttestationError> {
    let chain = cbor::into_array(value)
        .map_err(|_| AttestationError::Malformed)?
        .into_iter()
        .map(cbor::into_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AttestationError::Malformed)?;
    if chain.is_empty() {
        return Err(AttestationError::Malformed);
    }
    Ok(chain)
}

/// The attestation identity, made on first use and kept in the store (it
/// survives reset: it identifies the device, not its credentials).
pub(crate) fn identity<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<AttestationIdentity, StatusCode> {
    load_or_create(&mut ctx.store, ctx.config.aaguid, &mut ctx.rng)
}

/// The identity that signs a U2F registration: the device's when the
/// embedder chose [`AttestationMode::Certificate`], a single-use one
/// otherwise.
pub(crate) fn u2f_identity<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<AttestationIdentity, StatusCode> {
    match ctx.config.attestation {
        AttestationMode::Certificate => identity(ctx),
        AttestationMode::SelfAttestation => {
            AttestationIdentity::single_use(not_before(), &mut ctx.rng)
                .map_err(|_| StatusCode::Other)
        }
    }
}

/// The device's attestation identity from `store`, made and stored first if
/// there is none yet (`softkey vault attestation-root` and the core share it).
pub fn load_or_create<S: Store, R: rand_core::CryptoRng + ?Sized>(
    store: &mut S,
    aaguid: [u8; 16],
    rng: &mut R,
) -> Result<AttestationIdentity, StatusCode> {
    if let Some(stored) = store.setting(SettingKey::AttestationIdentity)? {
        return AttestationIdentity::from_bytes(stored.expose_secret())
            .map_err(|_| StatusCode::Other);
    }
    let identity =
        AttestationIdentity::generate(aaguid, not_before(), rng).map_err(|_| StatusCode::Other)?;
    store.put_setting(SettingKey::AttestationIdentity, Some(&identity.to_bytes()))?;
    Ok(identity)
}

/// No clock in the core: certificates are valid from a fixed date.
fn not_before() -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_735_689_600) // 2025-01-01
}

/// The attestation identity with its enterprise certificate, which an
/// identity stored before enterprise attestation existed gets now (stored).
pub(crate) fn enterprise_identity<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<AttestationIdentity, StatusCode> {
    let mut identity = identity(ctx)?;
    if identity
        .ensure_enterprise(ctx.config.aaguid, not_before(), &mut ctx.rng)
        .map_err(|_| StatusCode::Other)?
    {
        ctx.store
            .put_setting(SettingKey::AttestationIdentity, Some(&identity.to_bytes()))?;
    }
    Ok(identity)
}

/// The attestation key's public key in SPKI DER (for tests and diagnostics).
pub fn spki_der(identity: &AttestationIdentity) -> Result<Vec<u8>, StatusCode> {
    let key =
        SigningKey::from_slice(identity.key.expose_secret()).map_err(|_| StatusCode::Other)?;
    key.verifying_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| StatusCode::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use rand::SeedableRng;
    use x509_cert::der::Decode;

    fn identity() -> AttestationIdentity {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        AttestationIdentity::generate(crate::AAGUID, SystemTime::now(), &mut rng).unwrap()
    }

    #[test]
    fn leaf_meets_the_fido_certificate_requirements() {
        let identity = identity();
        let leaf = x509_cert::Certificate::from_der(identity.leaf_der()).unwrap();
        let tbs = leaf.tbs_certificate();
        assert_eq!(tbs.version(), x509_cert::certificate::Version::V3);
        let subject = tbs.subject().to_string();
        assert!(
            subject.contains("OU=Authenticator Attestation"),
            "{subject}"
        );
        assert!(
            subject.contains("C=US") && subject.contains("O=softkey") && subject.contains("CN=")
        );
        let extensions = tbs.extensions().unwrap();
        let aaguid = extensions
            .iter()
            .find(|e| e.extn_id == AAGUID_EXTENSION_OID)
            .unwrap();
        assert!(!aaguid.critical);
        let inner = OctetString::from_der(aaguid.extn_value.as_bytes()).unwrap();
        assert_eq!(inner.as_bytes(), crate::AAGUID);
        let basic = extensions
            .iter()
            .find(|e| e.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
            .unwrap();
        let basic = BasicConstraints::from_der(basic.extn_value.as_bytes()).unwrap();
        assert!(!basic.ca);
        assert_eq!(
            tbs.issuer(),
            x509_cert::Certificate::from_der(identity.root_der())
                .unwrap()
                .tbs_certificate()
                .subject()
        );
    }

    #[test]
    fn leaf_is_signed_by_the_root_and_signatures_verify() {
        let identity = identity();
        let root = x509_cert::Certificate::from_der(identity.root_der()).unwrap();
        let leaf = x509_cert::Certificate::from_der(identity.leaf_der()).unwrap();
        let root_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
            root.tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        )
        .unwrap();
        let tbs_der = leaf.tbs_certificate().to_der().unwrap();
        let signature = p256::ecdsa::Signature::from_der(leaf.signature().raw_bytes()).unwrap();
        root_key.verify(&tbs_der, &signature).unwrap();
        let leaf_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
            leaf.tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        )
        .unwrap();
        let signed = identity.sign(b"attested").unwrap();
        leaf_key
            .verify(
                b"attested",
                &p256::ecdsa::Signature::from_der(&signed).unwrap(),
            )
            .unwrap();
        assert!(
            identity
                .root_pem()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }

    #[test]
    fn identity_stored_before_enterprise_attestation_gets_its_own_root() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let full = identity();
        // The stored form of an identity made before enterprise attestation:
        // {1: key, 2: chain} only.
        let legacy = cbor::encode(Value::Map(vec![
            (cbor::int(1), cbor::bytes(full.key.expose_secret())),
            (
                cbor::int(2),
                Value::Array(full.chain.iter().map(|c| cbor::bytes(c)).collect()),
            ),
        ]));
        let mut upgraded = AttestationIdentity::from_bytes(&legacy).unwrap();
        assert!(upgraded.enterprise_leaf_der().is_none());
        assert!(upgraded.enterprise_sign(b"m").is_err());
        assert!(
            upgraded
                .ensure_enterprise(crate::AAGUID, SystemTime::now(), &mut rng)
                .unwrap()
        );
        assert!(
            !upgraded
                .ensure_enterprise(crate::AAGUID, SystemTime::now(), &mut rng)
                .unwrap()
        );
        let root = upgraded.enterprise_root_der().unwrap().to_vec();
        assert_ne!(root, upgraded.root_der(), "the vault root's key is gone");
        let leaf =
            x509_cert::Certificate::from_der(upgraded.enterprise_leaf_der().unwrap()).unwrap();
        let root_cert = x509_cert::Certificate::from_der(&root).unwrap();
        assert_eq!(
            leaf.tbs_certificate().issuer(),
            root_cert.tbs_certificate().subject()
        );
        let back = AttestationIdentity::from_bytes(&upgraded.to_bytes()).unwrap();
        assert_eq!(back.enterprise_leaf_der(), upgraded.enterprise_leaf_der());
        // A new identity's enterprise certificate comes from the vault root.
        assert_eq!(full.enterprise_root_der(), Some(full.root_der()));
        assert_ne!(full.enterprise_leaf_der(), Some(full.leaf_der()));
        // Key 3 without key 4 is malformed.
        let half = cbor::encode(Value::Map(vec![
            (cbor::int(1), cbor::bytes(full.key.expose_secret())),
            (
                cbor::int(2),
                Value::Array(full.chain.iter().map(|c| cbor::bytes(c)).collect()),
            ),
            (cbor::int(3), cbor::bytes(full.key.expose_secret())),
        ]));
        assert!(AttestationIdentity::from_bytes(&half).is_err());
    }

    #[test]
    fn single_use_identity_is_self_signed_and_names_no_device() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let identity = AttestationIdentity::single_use(SystemTime::now(), &mut rng).unwrap();
        assert_eq!(identity.x5c(), [identity.leaf_der().to_vec()]);
        let leaf = x509_cert::Certificate::from_der(identity.leaf_der()).unwrap();
        let tbs = leaf.tbs_certificate();
        assert_eq!(tbs.issuer(), tbs.subject());
        assert_eq!(
            tbs.subject().to_string(),
            "CN=softkey U2F attestation,O=softkey,C=US"
        );
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
            tbs.subject_public_key_info().subject_public_key.raw_bytes(),
        )
        .unwrap();
        let signature = p256::ecdsa::Signature::from_der(leaf.signature().raw_bytes()).unwrap();
        key.verify(&tbs.to_der().unwrap(), &signature).unwrap();
        let signed = identity.sign(b"registration").unwrap();
        key.verify(
            b"registration",
            &p256::ecdsa::Signature::from_der(&signed).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn stored_form_round_trips_and_rejects_garbage() {
        let identity = identity();
        let back = AttestationIdentity::from_bytes(&identity.to_bytes()).unwrap();
        assert_eq!(back.leaf_der(), identity.leaf_der());
        assert_eq!(spki_der(&back).unwrap(), spki_der(&identity).unwrap());
        assert!(AttestationIdentity::from_bytes(&[0xa0]).is_err());
        assert!(!format!("{identity:?}").contains("key:"));
    }
}
