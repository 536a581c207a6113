//! A [`CredentialPolicy`] end to end: the backup flags (BE, BS) and
//! signature counters it chooses are the ones signed in authenticator data,
//! and the flags stored with a discoverable credential are honoured.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use softkey_authenticator::credential::StoredCredential;
use softkey_authenticator::policy::{BackupFlags, CredentialPolicy};
use softkey_authenticator::store::Store as _;
use support::*;

/// A simulator-like policy: every credential is backup eligible, the named
/// one is backed up, and non-discoverable credentials count from 1000.
struct TestPolicy {
    backed_up: Arc<Mutex<Vec<Vec<u8>>>>,
    counter: u32,
}

impl CredentialPolicy for TestPolicy {
    fn new_credential(&mut self, _credential: &StoredCredential) -> BackupFlags {
        BackupFlags {
            eligible: true,
            state: false,
        }
    }
    fn backup_flags(&mut self, credential: &StoredCredential) -> BackupFlags {
        BackupFlags {
            eligible: true,
            state: self
                .backed_up
                .lock()
                .unwrap()
                .contains(&credential.credential_id),
        }
    }
    fn next_sign_count(&mut self, _id: &[u8]) -> Option<u32> {
        self.counter += 1;
        Some(self.counter)
    }
}

#[test]
fn a_credential_policy_sets_backup_flags_and_counters_under_the_signature() {
    let backed_up = Arc::new(Mutex::new(Vec::new()));
    let mut h = Harness::new();
    h.auth.set_credential_policy(Box::new(TestPolicy {
        backed_up: Arc::clone(&backed_up),
        counter: 1000,
    }));
    let mc = MakeCredential::default();
    let response = h.call(&mc.encode()).unwrap();
    let auth_data = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags, 0x41 | 0x08, "UP, AT and BE");
    let public_key = auth_data.public_key.unwrap();
    let id = auth_data.credential_id.unwrap();
    let ga = GetAssertion::allowing(&[&id.clone()]);
    let response = h.call(&ga.encode()).unwrap();
    assert_eq!(
        check_assertion(&response, &public_key, &ga.client_data_hash),
        1001
    );
    let flags = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap()).flags;
    assert_eq!(flags, 0x01 | 0x08, "UP and BE, not BS");
    backed_up.lock().unwrap().push(id);
    let response = h.call(&ga.encode()).unwrap();
    assert_eq!(
        check_assertion(&response, &public_key, &ga.client_data_hash),
        1002
    );
    let flags = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap()).flags;
    assert_eq!(flags, 0x01 | 0x08 | 0x10, "UP, BE and BS, signed");
}

/// A backup-eligible vault's policy: discoverable credentials are BE.
struct EligibleDiscoverable;

impl CredentialPolicy for EligibleDiscoverable {
    fn new_credential(&mut self, credential: &StoredCredential) -> BackupFlags {
        BackupFlags {
            eligible: credential.discoverable,
            state: false,
        }
    }
}

#[test]
fn backup_eligible_discoverable_credential_is_stored_as_such_and_signs_counter_zero() {
    let mut h = Harness::new();
    h.auth.set_credential_policy(Box::new(EligibleDiscoverable));
    let mc = MakeCredential::default().rk(true);
    let response = h.call(&mc.encode()).unwrap();
    let auth_data = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags, 0x41 | 0x08, "UP, AT and BE");
    assert_eq!(auth_data.sign_count, 0);
    let id = auth_data.credential_id.unwrap();
    let public_key = auth_data.public_key.unwrap();
    let stored = h.auth.store_mut().discoverable_by_id(&id).unwrap().unwrap();
    assert!(stored.backup.eligible && !stored.backup.state);

    // Every assertion: BE signed, counter 0, and the row is not rewritten.
    let ga = GetAssertion::allowing(&[&id.clone()]);
    for _ in 0..3 {
        let response = h.call(&ga.encode()).unwrap();
        assert_eq!(
            check_assertion(&response, &public_key, &ga.client_data_hash),
            0
        );
        let flags = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap()).flags;
        assert_eq!(flags & 0x18, 0x08, "BE, not BS");
    }
    let stored = h.auth.store_mut().discoverable_by_id(&id).unwrap().unwrap();
    assert_eq!(stored.sign_count, 0);

    // A non-discoverable credential stays device bound: its ID is sealed
    // under the device secret and cannot be exported.
    let response = h.call(&MakeCredential::default().encode()).unwrap();
    let auth_data = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap());
    assert_eq!(auth_data.flags & 0x18, 0, "no BE for a sealed ID");
}

#[test]
fn stored_backup_flags_are_signed_under_the_plain_key_policy() {
    let mut h = Harness::new();
    let mc = MakeCredential::default().rk(true);
    let registered = register(&mut h, &mc);
    // What an import writes: a backed-up, backup-eligible passkey.
    let store = h.auth.store_mut();
    let mut stored = store
        .discoverable_by_id(&registered.credential_id)
        .unwrap()
        .unwrap();
    stored.backup = BackupFlags {
        eligible: true,
        state: true,
    };
    store.put_discoverable(&stored).unwrap();
    let ga = GetAssertion::allowing(&[&registered.credential_id.clone()]);
    let response = h.call(&ga.encode()).unwrap();
    assert_eq!(
        check_assertion(&response, &registered.public_key, &ga.client_data_hash),
        0
    );
    let flags = parse_auth_data(field(&response, 2).unwrap().as_bytes().unwrap()).flags;
    assert_eq!(flags & 0x18, 0x18, "BE and BS under the signature");
}
