//! TPM slots: a key slot whose secret is sealed to the machine's TPM 2.0, so
//! that a copy of the vault file is useless on another machine (or, with a PCR
//! policy, on this machine once it boots something else).
//!
//! ```text
//!  slot add:    32 random bytes ──TPM2_Create (sealed data object under the
//!                    │             owner-hierarchy storage key, optional PolicyPCR)──► public ‖ private
//!                    └─HKDF-SHA256(salt, "softkey-vault/v1/tpm")─► KEK ─wrap─► slot row
//!  slot unlock: CreatePrimary (same template ⇒ same key on the same TPM) ─ name = stored? ─
//!               Load ─ (PolicyPCR) ─ Unseal ─HKDF─► KEK ─unwrap─► master key
//! ```
//!
//! The storage key is the owner hierarchy's primary ECC P-256 restricted
//! decryption key made from a fixed template: the same TPM (same owner seed)
//! always makes the same key, and its *name* (a hash of its public area) is
//! stored in the slot. Another TPM, or this TPM after its owner hierarchy was
//! cleared, makes another key: the slot is refused as [`VaultError::TpmForeign`]
//! before anything is loaded. The sealed object is `fixedTPM | fixedParent |
//! noDA`; with PCRs its only authorization is the PolicyPCR digest of the
//! SHA-256 bank over the chosen PCRs at sealing time, and a changed PCR is
//! [`VaultError::TpmPolicyMismatch`]. The sealing and unsealing sessions are
//! salted with the storage key and encrypt the secret on the way in and out.
//!
//! The TPM client needs the cargo feature `tpm` (tss-esapi over the system's
//! tpm2-tss); without it every TPM operation fails with
//! [`VaultError::TpmNotBuilt`], while vaults that hold TPM slots still open
//! with their other slots.
//!
//! The TCTI (how the TPM is reached) is `SOFTKEY_TPM_TCTI`, else
//! `TPM2TOOLS_TCTI` (the tpm2-tools variable), else `device:/dev/tpmrm0` (the
//! kernel's resource manager). Tests use `swtpm:host=127.0.0.1,port=N`.

#[cfg(feature = "tpm")]
mod esys;

use zeroize::Zeroizing;

use crate::error::VaultError;

/// Bytes of the secret sealed to the TPM.
pub(crate) const SECRET_LEN: usize = 32;

/// The TCTI used when no environment variable names one.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// Highest PCR index accepted (a PC client TPM has PCRs 0 to 23).
const MAX_PCR: u8 = 23;

/// Which TPM to use and, for a new slot, which PCRs to bind it to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TpmConfig {
    /// The TCTI configuration string (`device:/dev/tpmrm0`,
    /// `swtpm:host=127.0.0.1,port=2321`, `tabrmd`); `None` for the environment's.
    pub tcti: Option<String>,
    /// PCRs (SHA-256 bank) a new slot is bound to; empty for none. Ignored
    /// when unlocking: the slot stores its own.
    pub pcrs: Vec<u8>,
}

impl TpmConfig {
    /// The TCTI string to connect with: the configured one, else
    /// `SOFTKEY_TPM_TCTI`, else `TPM2TOOLS_TCTI`, else [`DEFAULT_TCTI`].
    pub fn tcti(&self) -> String {
        self.tcti
            .clone()
            .or_else(|| non_empty_env("SOFTKEY_TPM_TCTI"))
            .or_else(|| non_empty_env("TPM2TOOLS_TCTI"))
            .unwrap_or_else(|| DEFAULT_TCTI.to_owned())
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Parses a PCR list as `systemd-cryptenroll --tpm2-pcrs` writes it: indices
/// separated by `+` or `,` (`7`, `0+7`, `7,11`); sorted, without repeats.
pub fn parse_pcrs(text: &str) -> Result<Vec<u8>, VaultError> {
    let mut pcrs = Vec::new();
    for part in text.split(['+', ',']).map(str::trim) {
        let index: u8 = part.parse().ok().filter(|&i| i <= MAX_PCR).ok_or_else(|| {
            VaultError::Usage(format!(
                "{part:?} in --tpm-pcrs {text:?} is not a PCR index (0 to {MAX_PCR}); \
                     write e.g. 7 or 0+7"
            ))
        })?;
        pcrs.push(index);
    }
    pcrs.sort_unstable();
    pcrs.dedup();
    Ok(pcrs)
}

/// `0+7`, as `--tpm-pcrs` takes it; `none` for an empty list.
pub fn pcr_list(pcrs: &[u8]) -> String {
    if pcrs.is_empty() {
        return "none".to_owned();
    }
    pcrs.iter().map(u8::to_string).collect::<Vec<_>>().join("+")
}

/// A slot secret sealed to a TPM, as stored in the slot row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// The PCRs (SHA-256 bank) of the object's policy, sorted; empty for none.
    pub(crate) pcrs: Vec<u8>,
    /// The name of the storage key it was sealed under (identifies the TPM).
    pub(crate) parent_name: Vec<u8>,
    /// The sealed object's public area (TPM2B_PUBLIC, marshalled).
    pub(crate) public: Vec<u8>,
    /// The sealed object's private area (TPM2B_PRIVATE contents, encrypted by the TPM).
    pub(crate) private: Vec<u8>,
}

/// The first bytes of an encoded [`Sealed`]: its format version.
const SEALED_MAGIC: &[u8] = b"softkey-tpm/v1";

impl Sealed {
    /// `framed(magic) ‖ framed(pcrs) ‖ framed(parent name) ‖ framed(public) ‖ framed(private)`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [
            SEALED_MAGIC,
            &self.pcrs,
            &self.parent_name,
            &self.public,
            &self.private,
        ] {
            crate::sealing::push_framed(&mut out, field);
        }
        out
    }

    /// The inverse of [`Sealed::encode`]; `None` if `bytes` is not one.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes;
        let mut next = || -> Option<Vec<u8>> {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
            let (field, tail) = tail.split_at_checked(len)?;
            rest = tail;
            Some(field.to_vec())
        };
        if next()? != SEALED_MAGIC {
            return None;
        }
        let sealed = Self {
            pcrs: next()?,
            parent_name: next()?,
            public: next()?,
            private: next()?,
        };
        let valid_pcrs =
            sealed.pcrs.is_sorted_by(|a, b| a < b) && sealed.pcrs.iter().all(|&pcr| pcr <= MAX_PCR);
        (rest.is_empty() && valid_pcrs).then_some(sealed)
    }
}

/// Seals a fresh random secret to the TPM `config` names, bound to its PCRs;
/// returns the secret and what to store.
pub(crate) fn seal_new_secret(
    config: &TpmConfig,
) -> Result<(Zeroizing<[u8; SECRET_LEN]>, Sealed), VaultError> {
    #[cfg(feature = "tpm")]
    {
        let secret = Zeroizing::new(crate::sealing::random_bytes::<SECRET_LEN>());
        let sealed = esys::seal(&config.tcti(), &config.pcrs, secret.as_ref())?;
        Ok((secret, sealed))
    }
    #[cfg(not(feature = "tpm"))]
    {
        let _ = config;
        Err(VaultError::TpmNotBuilt)
    }
}

/// Unseals `sealed` (of slot `slot`) with the TPM `config` names.
pub(crate) fn unseal(
    config: &TpmConfig,
    slot: i64,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    #[cfg(feature = "tpm")]
    {
        esys::unseal(&config.tcti(), slot, sealed)
    }
    #[cfg(not(feature = "tpm"))]
    {
        let _ = (config, slot, sealed);
        Err(VaultError::TpmNotBuilt)
    }
}

/// What `softkey doctor` says about the TPM.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TpmReport {
    /// The TCTI it was reached through.
    pub tcti: String,
    /// The manufacturer's code (`IBM`, `INTC`, `STM`, …: four letters, padding trimmed).
    pub manufacturer: String,
    /// Whether the owner hierarchy's storage key (what TPM slots are sealed
    /// under) could be made: false means TPM slots cannot be added.
    pub storage_key: bool,
}

/// Connects to the TPM `config` names and reports what it is.
pub fn probe(config: &TpmConfig) -> Result<TpmReport, VaultError> {
    #[cfg(feature = "tpm")]
    {
        esys::probe(&config.tcti())
    }
    #[cfg(not(feature = "tpm"))]
    {
        let _ = config;
        Err(VaultError::TpmNotBuilt)
    }
}

/// Whether this build has the TPM client (the cargo feature `tpm`).
pub const fn built() -> bool {
    cfg!(feature = "tpm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_lists_parse_like_systemd_cryptenroll() {
        assert_eq!(parse_pcrs("7").unwrap(), vec![7]);
        assert_eq!(parse_pcrs("7+0").unwrap(), vec![0, 7]);
        assert_eq!(parse_pcrs("11, 7,7").unwrap(), vec![7, 11]);
        for bad in ["", "24", "-1", "7+", "seven", "7;11"] {
            assert!(
                matches!(parse_pcrs(bad), Err(VaultError::Usage(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn sealed_secrets_round_trip_and_refuse_damage() {
        let sealed = Sealed {
            pcrs: vec![0, 7],
            parent_name: vec![0, 11, 1, 2, 3],
            public: vec![4; 80],
            private: vec![5; 120],
        };
        let bytes = sealed.encode();
        assert_eq!(Sealed::decode(&bytes), Some(sealed.clone()));
        // Truncated, extended, another version, unsorted or out-of-range PCRs.
        assert_eq!(Sealed::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Sealed::decode(&longer), None);
        let mut other_version = bytes.clone();
        other_version[4 + SEALED_MAGIC.len() - 1] = b'2';
        assert_eq!(Sealed::decode(&other_version), None);
        for pcrs in [vec![7, 0], vec![7, 7], vec![24]] {
            let bad = Sealed {
                pcrs,
                ..sealed.clone()
            };
            assert_eq!(Sealed::decode(&bad.encode()), None);
        }
    }

    #[test]
    #[cfg(not(feature = "tpm"))]
    fn without_the_feature_every_operation_is_a_named_error() {
        let config = TpmConfig::default();
        assert!(matches!(probe(&config), Err(VaultError::TpmNotBuilt)));
        assert!(matches!(
            seal_new_secret(&config),
            Err(VaultError::TpmNotBuilt)
        ));
        assert!(!built());
    }
}
