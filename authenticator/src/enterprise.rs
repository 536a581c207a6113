//! Enterprise attestation (CTAP 2.1 §7.1, §6.1.2 step 9, §6.11.1): an
//! attestation that may identify this authenticator uniquely, for
//! controlled deployments.
//!
//! ```text
//!  Config::enterprise_attestation = Some(list)   getInfo "ep": false (capable, disabled)
//!        │ authenticatorConfig enableEnterpriseAttestation (acfg)
//!        ▼
//!  settings.enterprise_attestation = true         getInfo "ep": true
//!        │ makeCredential enterpriseAttestation = 1 (vendor-facilitated: rp.id on the list)
//!        │                                      = 2 (platform-managed: the platform vouches)
//!        ▼
//!  packed, x5c = [enterprise certificate], epAtt = true
//! ```
//!
//! Off by default: the runtime makes an authenticator capable by giving it
//! the vendor-facilitated RP ID list (possibly empty); the platform, with an
//! acfg pinUvAuthToken, enables it; authenticatorReset disables it again.
//! The certificate is the attestation identity's enterprise certificate
//! ([`crate::attestation`]).

use crate::authenticator::Context;
use crate::pin::AuthenticatorSettings;
use crate::status::StatusCode;
use crate::store::Store;

/// enterpriseAttestation = 1: vendor-facilitated.
pub const VENDOR_FACILITATED: u64 = 1;
/// enterpriseAttestation = 2: platform-managed.
pub const PLATFORM_MANAGED: u64 = 2;

/// Makes an authenticator enterprise-attestation capable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnterpriseAttestation {
    /// The relying parties that get an enterprise attestation when the
    /// platform asks for the vendor-facilitated kind (the owner's list).
    pub rp_ids: Vec<String>,
}

/// makeCredential step 9: whether this request gets an enterprise
/// attestation.
///
/// - not capable, or capable but not enabled: `CTAP1_ERR_INVALID_PARAMETER`;
/// - a value other than 1 or 2: `CTAP2_ERR_INVALID_OPTION`;
/// - 1 and `rp_id` not on the list: an ordinary attestation (`false`).
pub(crate) fn requested<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    value: Option<u64>,
    rp_id: &str,
) -> Result<bool, StatusCode> {
    let Some(value) = value else {
        return Ok(false);
    };
    let Some(capability) = &ctx.config.enterprise_attestation else {
        return Err(StatusCode::InvalidParameter);
    };
    let on_list = capability.rp_ids.iter().any(|listed| listed == rp_id);
    if !AuthenticatorSettings::load(&mut ctx.store)?.enterprise_attestation {
        return Err(StatusCode::InvalidParameter);
    }
    match value {
        VENDOR_FACILITATED => Ok(on_list),
        PLATFORM_MANAGED => Ok(true),
        _ => Err(StatusCode::InvalidOption),
    }
}

/// authenticatorConfig enableEnterpriseAttestation: `ep` becomes true
/// (already true: nothing changes). `CTAP2_ERR_INVALID_SUBCOMMAND` when the
/// authenticator is not capable.
pub(crate) fn enable<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
) -> Result<(), StatusCode> {
    if ctx.config.enterprise_attestation.is_none() {
        return Err(StatusCode::InvalidSubcommand);
    }
    let mut settings = AuthenticatorSettings::load(&mut ctx.store)?;
    if !settings.enterprise_attestation {
        settings.enterprise_attestation = true;
        settings.save(&mut ctx.store)?;
        tracing::info!("enterprise attestation enabled");
    }
    Ok(())
}
