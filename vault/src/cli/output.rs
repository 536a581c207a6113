//! What `info` and `list` print: JSON, or lines for people.

use std::io::Write;

use crate::error::VaultError;
use crate::slots::SlotKind;

/// Prints `value` as pretty JSON, or with `human`.
pub(super) fn show<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    human: fn(&mut dyn Write, &T) -> std::io::Result<()>,
) -> Result<(), VaultError> {
    let written = if json {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| VaultError::Usage(e.to_string()))?;
        writeln!(out, "{text}")
    } else {
        human(out, value)
    };
    written.map_err(|e| VaultError::io("writing output", e))
}

/// "128 MiB" or, below one MiB, "64 KiB".
pub(super) fn memory(kib: u32) -> String {
    if kib >= 1024 && kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    }
}

pub(super) fn write_info(out: &mut dyn Write, info: &crate::VaultInfo) -> std::io::Result<()> {
    writeln!(out, "vault:        {}", info.path.display())?;
    writeln!(out, "format:       schema version {}", info.schema_version)?;
    writeln!(out, "credentials:  {}", info.credentials)?;
    writeln!(out, "key slots:")?;
    for slot in &info.slots {
        let detail = match (slot.kind, slot.kdf) {
            (_, Some(k)) => format!(
                "argon2id m={} t={} p={}",
                memory(k.m_cost_kib),
                k.t_cost,
                k.p_cost
            ),
            (SlotKind::Keyring, None) => "Secret Service item".to_owned(),
            (SlotKind::Tpm, None) => crate::cli_tpm::slot_detail(slot),
            _ => String::new(),
        };
        let unlocked = if slot.id == info.unlocked_slot {
            "  (unlocked with)"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:>3}  {:<10}  {:<28}  created {}{unlocked}",
            slot.id,
            slot.kind.name(),
            detail,
            utc_date(slot.created)
        )?;
    }
    Ok(())
}

pub(super) fn write_list(
    out: &mut dyn Write,
    list: &[crate::CredentialSummary],
) -> std::io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "No credentials.");
    }
    for credential in list {
        writeln!(
            out,
            "{}  {}  {}  {}  signs={}  BE={} BS={}  created {}",
            credential.credential_id,
            credential.rp_id,
            credential.user_name.as_deref().unwrap_or("(no name)"),
            credential.algorithm,
            credential.sign_count,
            u8::from(credential.backup_eligible),
            u8::from(credential.backup_state),
            utc_date(credential.created)
        )?;
    }
    Ok(())
}

/// `YYYY-MM-DD` (UTC) of a Unix time (H. Hinnant's civil-from-days).
fn utc_date(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_764_115_200), "2025-11-26");
    }
}
