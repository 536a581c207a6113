//! WebDriver "Authenticator Configuration" (WebAuthn Level 3 §11.2), validated.

use serde_json::Value;

use crate::control::device::Options;
use crate::control::error::ApiError;
use crate::control::hooks::Profile;
use crate::runtime::DEFAULT_USER_TIMEOUT;

/// Transports WebDriver names.
const TRANSPORTS: [&str; 6] = ["usb", "nfc", "ble", "smart-card", "hybrid", "internal"];

/// Extensions (WebDriver names) each profile supports.
fn supported_extensions(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Ctap2_0 => &["prf"],
        Profile::Ctap2_1 => &["prf", "credBlob", "largeBlob", "minPinLength"],
    }
}

fn boolean(body: &Value, name: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(format!("{name} must be a boolean"))),
    }
}

/// Parses the body of Add Virtual Authenticator.
pub fn parse(body: &Value) -> Result<Options, ApiError> {
    let profile = match body.get("protocol").and_then(Value::as_str) {
        Some("ctap2") => Profile::Ctap2_0,
        Some("ctap2_1") => Profile::Ctap2_1,
        Some("ctap1/u2f") => {
            return Err(ApiError::unsupported(
                "softkey does not implement CTAP1/U2F yet: use ctap2 or ctap2_1",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "protocol must be \"ctap2\", \"ctap2_1\" or \"ctap1/u2f\"",
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
    let options = Options {
        profile,
        transport,
        has_resident_key: boolean(body, "hasResidentKey", false)?,
        has_user_verification: boolean(body, "hasUserVerification", false)?,
        is_user_consenting: Some(boolean(body, "isUserConsenting", true)?),
        is_user_verified: boolean(body, "isUserVerified", false)?,
        extensions,
        strict_reset: false,
        user_timeout: DEFAULT_USER_TIMEOUT,
    };
    for name in ["defaultBackupEligibility", "defaultBackupState"] {
        if boolean(body, name, false)? {
            return Err(ApiError::unsupported(format!(
                "{name}: softkey's core does not set the backup flags (BE/BS)"
            )));
        }
    }
    Ok(options)
}
