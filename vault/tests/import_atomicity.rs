//! Imports are all or nothing on the vault: `Store::put_discoverable_batch`
//! (the simulator's CXF import over a vault) and `softkey vault import`
//! (`Vault::import_cxf`). A SQLite trigger placed in the file makes the k-th
//! credential write of a transaction fail, as a full disk or an I/O error
//! would midway; afterwards every credential — the duplicate the import was
//! to replace included — is exactly as before: ID, user, key, counter,
//! creation time, and counting goes on from where it was.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Fixture, credential, raw_sql, run_on, summary};
use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::store::{SettingKey, Store};
use softkey_vault::cxf::{self, ExportPasskey, Exporter};
use softkey_vault::{CredentialSummary, Vault};

/// Makes the `fail_at`-th credential write (insert or update) from now on
/// fail. The count lives in the file, so it is rolled back with the
/// transaction that failed: each attempt counts from the same point.
fn fail_credential_write(fixture: &Fixture, fail_at: usize) {
    raw_sql(
        &fixture.vault_path,
        &format!(
            "CREATE TABLE fault (writes INTEGER NOT NULL);
             INSERT INTO fault VALUES (0);
             CREATE TRIGGER fault_at BEFORE INSERT ON credentials BEGIN
                 UPDATE fault SET writes = writes + 1;
                 SELECT RAISE(ABORT, 'injected fault') WHERE (SELECT writes FROM fault) >= {fail_at};
             END;"
        ),
    );
}

fn no_more_faults(fixture: &Fixture) {
    raw_sql(
        &fixture.vault_path,
        "DROP TRIGGER fault_at; DROP TABLE fault;",
    );
}

type Everything = (
    Vec<CredentialSummary>,
    Vec<(Vec<u8>, String, Vec<u8>, Option<String>, u32, Vec<u8>)>,
    Option<Vec<u8>>,
);

/// The listing (with creation times), each credential with its key, and a
/// setting an import writes.
fn everything(vault: &mut Vault) -> Everything {
    let mut keys: Vec<_> = vault
        .all_discoverable()
        .unwrap()
        .iter()
        .map(summary)
        .collect();
    keys.sort();
    let setting = vault
        .setting(SettingKey::PersistentState)
        .unwrap()
        .map(|v| v.expose_secret().to_vec());
    (vault.list().unwrap(), keys, setting)
}

/// A vault with two passkeys that have signed (one for the user the
/// import replaces), and the passkeys to import: a new one for that user,
/// and two for new relying parties.
fn vault_and_import(fixture: &Fixture) -> (Vault, Vec<StoredCredential>) {
    let mut vault = fixture.create();
    let mut replaced = credential(b"\x01kept-a", "a.example", b"ua", "anna", 1);
    replaced.sign_count = 7;
    vault.put_discoverable(&replaced).unwrap();
    vault
        .put_discoverable(&credential(b"\x02kept-b", "b.example", b"ub", "ben", 2))
        .unwrap();
    assert_eq!(vault.next_sign_count(&mut replaced).unwrap(), 8);
    vault
        .put_setting(SettingKey::PersistentState, Some(b"state before"))
        .unwrap();
    let imported = vec![
        credential(b"\x03new-a", "a.example", b"ua", "anna", 3),
        credential(b"\x04new-c", "c.example", b"uc", "cleo", 4),
        credential(b"\x05new-d", "d.example", b"ud", "dan", 5),
    ];
    (vault, imported)
}

/// The credential stored as `\x01kept-a` signs on from where it was.
fn counts_on(vault: &mut Vault, expected: u32) {
    let mut kept = vault.discoverable_by_id(b"\x01kept-a").unwrap().unwrap();
    assert_eq!(vault.next_sign_count(&mut kept).unwrap(), expected);
}

#[test]
fn a_batch_that_fails_midway_writes_nothing() {
    for fail_at in 1..=3 {
        let fixture = Fixture::new();
        let (mut vault, imported) = vault_and_import(&fixture);
        let before = everything(&mut vault);
        let stored_before = everything(&mut fixture.open());
        fail_credential_write(&fixture, fail_at);
        let batch: Vec<&StoredCredential> = imported.iter().collect();
        let failed = vault.put_discoverable_batch(
            &batch,
            &[(SettingKey::PersistentState, Some(b"state after"))],
        );
        let message = failed.unwrap_err().to_string();
        assert!(message.contains("injected fault"), "{message}");
        assert_eq!(everything(&mut vault), before, "write {fail_at} failed");
        // As stored, not only as this handle sees it.
        assert_eq!(everything(&mut fixture.open()), stored_before);
        counts_on(&mut vault, 9);
        drop(vault);

        // Without the fault the same batch goes in whole.
        no_more_faults(&fixture);
        let mut vault = fixture.open();
        vault
            .put_discoverable_batch(
                &batch,
                &[(SettingKey::PersistentState, Some(b"state after"))],
            )
            .unwrap();
        let ids: Vec<String> = vault
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.credential_id)
            .collect();
        assert_eq!(
            ids,
            [
                "036e65772d61",
                "026b6570742d62",
                "046e65772d63",
                "056e65772d64"
            ]
        );
        assert_eq!(
            everything(&mut vault).2.as_deref(),
            Some(&b"state after"[..])
        );
    }
}

#[test]
fn softkey_vault_import_that_fails_midway_writes_nothing() {
    let fixture = Fixture::new();
    let (vault, imported) = vault_and_import(&fixture);
    let passkeys: Vec<ExportPasskey<'_>> = imported
        .iter()
        .map(|credential| ExportPasskey {
            credential,
            created: None,
            large_blob: None,
        })
        .collect();
    let exporter = Exporter {
        rp_id: "other.example",
        display_name: "Other",
        account_id: b"account",
        timestamp: 1,
    };
    let encoded = cxf::encode(&exporter, &passkeys).unwrap();
    let file = fixture.dir.path().join("passkeys.json");
    std::fs::write(&file, &*encoded.json).unwrap();
    let file = file.to_str().unwrap();
    drop(vault);
    let before = everything(&mut fixture.open());
    for fail_at in 1..=3 {
        fail_credential_write(&fixture, fail_at);
        let failed = run_on(&fixture, &["import", file, "--replace"]);
        let message = failed.unwrap_err().to_string();
        assert!(message.contains("injected fault"), "{message}");
        assert_eq!(
            everything(&mut fixture.open()),
            before,
            "write {fail_at} failed"
        );
        no_more_faults(&fixture);
    }
    let out = run_on(&fixture, &["import", file, "--replace"]).unwrap();
    assert!(out.contains("replace"), "{out}");
    let mut vault = fixture.open();
    assert!(vault.discoverable_by_id(b"\x01kept-a").unwrap().is_none());
    assert_eq!(vault.all_discoverable().unwrap().len(), 4);
}
