//! Entry points for `fuzz/` targets (one line each there, so a target cannot
//! drift from the code it tests). Not a stable API.
//! Compiled only with the crate's `fuzzing` feature (which `fuzz/` enables) and
//! in its own unit tests: product builds do not contain it.

use softkey_authenticator::secret::Secret32;

use crate::cxf::{self, ExportPasskey, Exporter, FileKind, ImportPlan};
use crate::rows::{CredentialRow, open_credential};
use crate::sealing::VaultKeys;

fn keys() -> VaultKeys {
    VaultKeys::derive(Secret32::new([0x11; 32]))
}

/// Arbitrary bytes as a sealed credentials row (payload and index columns):
/// opening must fail cleanly, never panic; sealing then opening must round-trip.
pub fn credential_row(data: &[u8]) {
    let keys = keys();
    let (columns, payload) = data.split_at(data.len().min(96));
    let (id_mac, rest) = columns.split_at(columns.len().min(32));
    let (rp_mac, user_mac) = rest.split_at(rest.len().min(32));
    let row = CredentialRow {
        rowid: 1,
        id_mac: id_mac.to_vec(),
        rp_mac: rp_mac.to_vec(),
        user_mac: user_mac.to_vec(),
        payload: payload.to_vec(),
    };
    let _ = open_credential(&keys, &row);

    let sealed = keys.seal_row("secrets", b"fuzz", data);
    let opened = keys
        .open_row("secrets", b"fuzz", &|| "fuzz".into(), &sealed)
        .expect("a row sealed under the same identity opens");
    assert_eq!(&opened[..], data);
}

/// Arbitrary bytes as a CXF file to import: decoding must refuse cleanly or
/// give items that survive softkey's own export and a second import
/// unchanged; planning them against a vault that holds them all stores none
/// unless replacing.
pub fn cxf_file(data: &[u8]) {
    if !matches!(cxf::kind_of(data), Ok(FileKind::Plaintext)) {
        return;
    }
    let Ok(decoded) = cxf::decode(data) else {
        return;
    };
    let plan = ImportPlan::new(decoded, &[], |_| false);
    assert_eq!(
        plan.stored(),
        plan.items
            .iter()
            .filter(|i| i.credential_id.is_some())
            .count()
    );
    let passkeys: Vec<ExportPasskey<'_>> = plan
        .candidates
        .iter()
        .map(|(_, c)| ExportPasskey {
            credential: &c.credential,
            created: None,
            large_blob: c.large_blob.as_ref(),
        })
        .collect();
    let exporter = Exporter {
        rp_id: "softkey.invalid",
        display_name: "fuzz",
        account_id: b"fuzz",
        timestamp: 0,
    };
    let encoded = cxf::encode(&exporter, &passkeys).expect("an imported passkey exports");
    assert!(encoded.refused.is_empty(), "an imported key exports");
    let json = encoded.json;
    let again = cxf::decode(&json).expect("softkey's export imports");
    let existing: Vec<cxf::Existing> = plan
        .candidates
        .iter()
        .map(|(_, c)| cxf::Existing {
            credential_id: c.credential.credential_id.clone(),
            rp_id: c.credential.rp_id.clone(),
            user_id: c.credential.user.id.clone(),
        })
        .collect();
    let replanned = ImportPlan::new(again, &existing, |_| false);
    assert_eq!(
        replanned.stored(),
        0,
        "every passkey is a duplicate of itself"
    );
    let again = cxf::decode(&json).expect("softkey's export imports");
    let replanned = ImportPlan::new(again, &[], |_| false);
    assert_eq!(replanned.candidates.len(), plan.candidates.len());
    for ((_, first), (_, second)) in plan.candidates.iter().zip(&replanned.candidates) {
        assert_eq!(
            first.credential.to_bytes(),
            second.credential.to_bytes(),
            "a passkey survives export and import unchanged"
        );
        assert_eq!(
            first
                .large_blob
                .as_ref()
                .map(|b| (&b.compressed[..], b.uncompressed_size)),
            second
                .large_blob
                .as_ref()
                .map(|b| (&b.compressed[..], b.uncompressed_size)),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_and_long_inputs_do_not_panic() {
        for len in [0, 1, 31, 32, 95, 96, 97, 120, 400] {
            super::credential_row(&vec![0xA5; len]);
        }
    }

    #[test]
    fn cxf_fuzz_seeds_import_and_round_trip_without_panicking() {
        let seeds =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/vault_cxf_file");
        let mut count = 0;
        for entry in std::fs::read_dir(seeds).expect("the seed corpus is committed") {
            super::cxf_file(&std::fs::read(entry.unwrap().path()).unwrap());
            count += 1;
        }
        assert!(count >= 3);
        for broken in [
            &b""[..],
            b"{",
            b"{\"version\":{\"major\":1,\"minor\":0},\"accounts\":7}",
        ] {
            super::cxf_file(broken);
        }
    }
}
