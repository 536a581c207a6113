//! WebDriver "Authenticator Configuration" (WebAuthn Level 3 §11.2), validated.

use std::path::Path;

use serde_json::Value;

use softkey_authenticator::crypto::Algorithm;
use softkey_authenticator::policy::BackupFlags;
use softkey_vault::Unlocker;

use crate::control::device::{Options, UhidSpec, VaultSpec};
use crate::control::error::ApiError;
use crate::control::hooks::Profile;
use crate::runtime::DEFAULT_USER_TIMEOUT;

/// Transports WebDriver names.
const TRANSPORTS: [&str; 6] = ["usb", "nfc", "ble", "smart-card", "hybrid", "internal"];

/// Extensions (WebDriver names) each profile supports.
fn supported_extensions(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Ctap2_0 => &["prf"],
        Profile::Ctap2_1 | Profile::Ctap2_2 => &["prf", "credBlob", "largeBlob", "minPinLength"],
        Profile::Ctap1 => &[],
    }
}

fn boolean(body: &Value, name: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(format!("{name} must be a boolean"))),
    }
}

/// Parses the body of Add Virtual Authenticator; persistent vaults live in
/// `vault_dir` when the simulator allows them; without `softkey:algorithms`
/// the authenticator offers `default_algorithms`.
pub fn parse(
    body: &Value,
    vault_dir: Option<&Path>,
    default_algorithms: &[Algorithm],
) -> Result<Options, ApiError> {
    let profile = match body.get("protocol").and_then(Value::as_str) {
        Some("ctap2") => Profile::Ctap2_0,
        Some("ctap2_1") => Profile::Ctap2_1,
        Some("ctap2_2") => Profile::Ctap2_2,
        Some("ctap1/u2f") => Profile::Ctap1,
        _ => {
            return Err(ApiError::invalid(
                "protocol must be \"ctap2\", \"ctap2_1\", \"ctap2_2\" or \"ctap1/u2f\"",
            ));
        }
    };
    let transport = body
        .get("transport")
        .and_then(Value::as_str)
        .filter(|t| TRANSPORTS.contains(t))
        .ok_or_else(|| ApiError::invalid(format!("transport must be one of {TRANSPORTS:?}")))?
        .to_owned();
    let mut extensions = Vec::new();
    match body.get("extensions") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let name = item
                    .as_str()
                    .ok_or_else(|| ApiError::invalid("extensions must be strings"))?;
                if !supported_extensions(profile).contains(&name) {
                    return Err(ApiError::unsupported(format!(
                        "extension {name:?} is not supported by the {} profile",
                        profile.protocol()
                    )));
                }
                extensions.push(name.to_owned());
            }
        }
        Some(_) => return Err(ApiError::invalid("extensions must be an array")),
    }
    let vault = vault(body.get("softkey:vault"), vault_dir)?;
    let options = Options {
        profile,
        transport,
        has_resident_key: boolean(body, "hasResidentKey", false)?,
        has_user_verification: boolean(body, "hasUserVerification", false)?,
        // A persistent vault asks the person unless told otherwise (see
        // `persistent`); an in-memory one consents by default.
        is_user_consenting: match body.get("isUserConsenting") {
            None if vault.is_some() => None,
            _ => Some(boolean(body, "isUserConsenting", true)?),
        },
        is_user_verified: boolean(body, "isUserVerified", false)?,
        extensions,
        strict_reset: false,
        user_timeout: DEFAULT_USER_TIMEOUT,
        default_backup: BackupFlags {
            eligible: boolean(body, "defaultBackupEligibility", false)?,
            state: boolean(body, "defaultBackupState", false)?,
        },
        // Absent or null: the simulator's default (the API applies it).
        uhid: match body.get("softkey:uhid") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(wanted)) => wanted.then(UhidSpec::default),
            Some(_) => return Err(ApiError::invalid("softkey:uhid must be a boolean")),
        },
        vault,
        algorithms: match algorithms(body.get("softkey:algorithms"))? {
            Some(algorithms) => algorithms,
            // A U2F device signs with ES256 alone.
            None if profile == Profile::Ctap1 => vec![Algorithm::Es256],
            None => default_algorithms.to_vec(),
        },
        enterprise_attestation: enterprise_rp_ids(body.get("softkey:enterpriseRpIds"))?,
    };
    if options.enterprise_attestation.is_some()
        && !matches!(profile, Profile::Ctap2_1 | Profile::Ctap2_2)
    {
        return Err(ApiError::invalid(
            "softkey:enterpriseRpIds needs the ctap2_1 or ctap2_2 profile (enterprise attestation is CTAP 2.1)",
        ));
    }
    if profile == Profile::Ctap1 {
        if options.has_resident_key {
            return Err(ApiError::invalid(
                "a ctap1/u2f authenticator cannot hold resident credentials: hasResidentKey must be false",
            ));
        }
        if options.has_user_verification {
            return Err(ApiError::invalid(
                "a ctap1/u2f authenticator has no user verification: hasUserVerification must be false",
            ));
        }
        if options.algorithms != [Algorithm::Es256] {
            return Err(ApiError::invalid(
                "a ctap1/u2f authenticator signs with ES256 only: softkey:algorithms must be [\"ES256\"] or absent",
            ));
        }
    }
    Ok(options)
}

/// softkey's `softkey:algorithms` option: the COSE algorithms new
/// credentials may use, by IANA name or number (`["ML-DSA-65", -7]`); getInfo
/// lists them ES256 first. `None` when absent or null.
fn algorithms(value: Option<&Value>) -> Result<Option<Vec<Algorithm>>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => {
            return Err(ApiError::invalid(
                "softkey:algorithms must be a non-empty array of COSE algorithm names or numbers",
            ));
        }
    };
    let mut algorithms = Vec::with_capacity(items.len());
    for item in items {
        let algorithm = match item {
            Value::String(name) => Algorithm::from_name(name),
            Value::Number(id) => id.as_i64().and_then(Algorithm::from_cose_id),
            _ => None,
        }
        .ok_or_else(|| {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|alg| alg.name()).collect();
            ApiError::unsupported(format!(
                "softkey:algorithms: {item} is not an algorithm softkey implements ({})",
                known.join(", ")
            ))
        })?;
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    Ok(Some(algorithms))
}

/// softkey's `softkey:enterpriseRpIds` option: present (even empty), the
/// authenticator is enterprise-attestation capable; the RP IDs get a
/// vendor-facilitated enterprise attestation once a platform enables it.
fn enterprise_rp_ids(
    value: Option<&Value>,
) -> Result<Option<softkey_authenticator::enterprise::EnterpriseAttestation>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::invalid(
                "softkey:enterpriseRpIds must be an array",
            ));
        }
    };
    let rp_ids = items
        .iter()
        .map(|item| {
            item.as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::invalid("softkey:enterpriseRpIds must hold RP IDs (strings)")
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        softkey_authenticator::enterprise::EnterpriseAttestation { rp_ids },
    ))
}

/// softkey's `softkey:vault` option: `{"name"}` (a key file beside the
/// vault opens it, generated with a new vault) or `{"name", "passphrase"}`.
/// Vaults live only in the simulator's `--control-vault-dir`: the API never
/// writes where a request says.
fn vault(value: Option<&Value>, vault_dir: Option<&Path>) -> Result<Option<VaultSpec>, ApiError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(ApiError::invalid("softkey:vault must be an object")),
    };
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| {
            (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(|| {
            ApiError::invalid("softkey:vault.name must be 1 to 64 letters, digits, '-' or '_'")
        })?;
    let passphrase = match object.get("passphrase") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if !text.is_empty() => Some(text.as_str()),
        Some(_) => {
            return Err(ApiError::invalid(
                "softkey:vault.passphrase must be a non-empty string",
            ));
        }
    };
    let dir = vault_dir.ok_or_else(|| {
        ApiError::unsupported(
            "persistent vaults need the simulator started with --control-vault-dir DIR",
        )
    })?;
    let unlocker = match passphrase {
        Some(passphrase) => Unlocker::passphrase(passphrase),
        None => Unlocker::KeyFile(dir.join(format!("{name}.key"))),
    };
    Ok(Some(VaultSpec {
        path: dir.join(format!("{name}.sqlite")),
        unlocker: std::sync::Arc::new(unlocker),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_algorithms(body: Value) -> Result<Vec<Algorithm>, ApiError> {
        parse(&body, None, &Algorithm::DEFAULT).map(|options| options.algorithms)
    }

    #[test]
    fn softkey_algorithms_option_takes_names_and_numbers() {
        let body = |algorithms: Value| json!({"protocol": "ctap2_1", "transport": "usb", "softkey:algorithms": algorithms});
        assert_eq!(
            parse_algorithms(body(json!(["ML-DSA-65", -7, "es256"]))).unwrap(),
            [Algorithm::MlDsa65, Algorithm::Es256]
        );
        // Absent or null: the simulator's default.
        assert_eq!(
            parse_algorithms(body(Value::Null)).unwrap(),
            Algorithm::DEFAULT
        );
        assert_eq!(
            parse_algorithms(json!({"protocol": "ctap2", "transport": "usb"})).unwrap(),
            Algorithm::DEFAULT
        );
        for bad in [json!([]), json!("ES256"), json!([true])] {
            assert!(parse_algorithms(body(bad)).is_err());
        }
        let unknown = parse_algorithms(body(json!(["Ed448"]))).unwrap_err();
        assert!(format!("{unknown:?}").contains("Ed448"), "{unknown:?}");
    }

    #[test]
    fn u2f_profile_signs_with_es256_only() {
        let u2f = |extra: Value| {
            let mut body = json!({"protocol": "ctap1/u2f", "transport": "usb"});
            if !extra.is_null() {
                body["softkey:algorithms"] = extra;
            }
            parse_algorithms(body)
        };
        assert_eq!(u2f(Value::Null).unwrap(), [Algorithm::Es256]);
        assert_eq!(u2f(json!(["ES256"])).unwrap(), [Algorithm::Es256]);
        assert!(u2f(json!(["ES256", "EdDSA"])).is_err());
    }
}
