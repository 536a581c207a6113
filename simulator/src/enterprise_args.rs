//! Enterprise attestation for `softkey run` and `softkey sim`: the flags that
//! make an authenticator enterprise-attestation capable (CTAP 2.1 §7.1; see
//! `softkey_authenticator::enterprise`).
//!
//! Capable is not enabled: getInfo shows `"ep": false` until a platform
//! enables it with authenticatorConfig enableEnterpriseAttestation (with an
//! `acfg` pinUvAuthToken once a PIN is set); authenticatorReset disables it.

use softkey_authenticator::enterprise::EnterpriseAttestation;

/// The enterprise-attestation flags.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EnterpriseArgs {
    /// Make the authenticator enterprise-attestation capable (off until a
    /// platform enables it): then a platform-managed request gets an
    /// enterprise attestation. Off by default.
    #[arg(long)]
    pub enterprise_attestation: bool,
    /// A relying party that gets a vendor-facilitated enterprise attestation
    /// once it is enabled (repeatable; implies --enterprise-attestation).
    #[arg(long = "enterprise-rp-id", value_name = "RP_ID")]
    pub enterprise_rp_ids: Vec<String>,
}

impl EnterpriseArgs {
    /// The core's capability, if the flags ask for one.
    pub fn config(&self) -> Option<EnterpriseAttestation> {
        (self.enterprise_attestation || !self.enterprise_rp_ids.is_empty()).then(|| {
            EnterpriseAttestation {
                rp_ids: self.enterprise_rp_ids.clone(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        enterprise: EnterpriseArgs,
    }

    #[test]
    fn enterprise_flags_make_the_authenticator_capable() {
        let none = Cli::parse_from(["softkey"]);
        assert_eq!(none.enterprise.config(), None);
        let platform_only = Cli::parse_from(["softkey", "--enterprise-attestation"]);
        assert_eq!(
            platform_only.enterprise.config(),
            Some(EnterpriseAttestation::default())
        );
        let listed = Cli::parse_from([
            "softkey",
            "--enterprise-rp-id",
            "a.example",
            "--enterprise-rp-id",
            "b.example",
        ]);
        assert_eq!(
            listed.enterprise.config().unwrap().rp_ids,
            ["a.example", "b.example"]
        );
    }
}
