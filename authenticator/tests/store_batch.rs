//! `Store::put_discoverable_batch` on the in-memory store: the rules of
//! `put_discoverable` credential after credential, and all or nothing — a
//! batch that fails on its k-th credential (the store is full) leaves every
//! credential, replaced ones included, and every setting as it was.
#![allow(clippy::unwrap_used)]

use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::secret::{Secret32, SecretBytes};
use softkey_authenticator::store::{MemoryStore, SettingKey, Store, StoreError};

fn credential(id: &[u8], rp_id: &str, user_id: &[u8], sign_count: u32) -> StoredCredential {
    let seed = [id[0]; 32];
    StoredCredential {
        credential_id: id.to_vec(),
        rp_id: rp_id.to_owned(),
        rp_name: None,
        user: UserEntity {
            id: user_id.to_vec(),
            name: Some(format!("user of {rp_id}")),
            display_name: None,
        },
        private_key: PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&seed))
            .unwrap(),
        sign_count,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: true,
        backup: Default::default(),
        third_party_payment: false,
    }
}

/// What must come back exactly: order, IDs, user, counter, key.
type Summary = Vec<(Vec<u8>, String, Vec<u8>, Option<String>, u32, Vec<u8>)>;

fn summary(store: &mut impl Store) -> Summary {
    store
        .all_discoverable()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.credential_id.clone(),
                c.rp_id.clone(),
                c.user.id.clone(),
                c.user.name.clone(),
                c.sign_count,
                c.private_key.secret_bytes().expose_secret().to_vec(),
            )
        })
        .collect()
}

fn setting(store: &mut impl Store, key: SettingKey) -> Option<Vec<u8>> {
    store
        .setting(key)
        .unwrap()
        .map(|v| v.expose_secret().to_vec())
}

/// Two stored credentials (one to be replaced by a new ID for the same
/// user, one untouched) and a setting.
fn store_with_two(capacity: usize) -> MemoryStore {
    let mut store = MemoryStore::new(Secret32::new([7; 32])).with_capacity(capacity);
    store
        .put_discoverable(&credential(b"\x01old-a", "a.example", b"ua", 7))
        .unwrap();
    store
        .put_discoverable(&credential(b"\x02old-b", "b.example", b"ub", 3))
        .unwrap();
    store
        .put_setting(SettingKey::LargeBlobArray, Some(b"array before"))
        .unwrap();
    store
}

#[test]
fn a_batch_that_fails_midway_changes_nothing() {
    // Room for one more: the replacement fits (it takes its user's place),
    // the first new one fits, the second new one is the store's full point.
    let mut store = store_with_two(3);
    let before = summary(&mut store);
    let replacing = credential(b"\x03new-a", "a.example", b"ua", 0);
    let fits = credential(b"\x04new-c", "c.example", b"uc", 0);
    let too_many = credential(b"\x05new-d", "d.example", b"ud", 0);
    let failed = store.put_discoverable_batch(
        &[&replacing, &fits, &too_many],
        &[
            (SettingKey::LargeBlobArray, Some(b"array after")),
            (SettingKey::Config, Some(b"config")),
        ],
    );
    assert!(matches!(failed, Err(StoreError::Full)), "{failed:?}");
    assert_eq!(
        summary(&mut store),
        before,
        "the replaced credential is back"
    );
    assert_eq!(
        setting(&mut store, SettingKey::LargeBlobArray).as_deref(),
        Some(&b"array before"[..])
    );
    assert_eq!(setting(&mut store, SettingKey::Config), None);
    assert_eq!(store.remaining_capacity(), Some(1));
}

#[test]
fn a_batch_follows_the_rules_of_put_discoverable() {
    let mut batched = store_with_two(4);
    let mut one_by_one = store_with_two(4);
    let updated = credential(b"\x02old-b", "b.example", b"ub", 9);
    let replacing = credential(b"\x03new-a", "a.example", b"ua", 0);
    let new = credential(b"\x04new-c", "c.example", b"uc", 0);
    batched
        .put_discoverable_batch(
            &[&updated, &replacing, &new],
            &[(SettingKey::LargeBlobArray, None)],
        )
        .unwrap();
    for credential in [&updated, &replacing, &new] {
        one_by_one.put_discoverable(credential).unwrap();
    }
    one_by_one
        .put_setting(SettingKey::LargeBlobArray, None)
        .unwrap();
    let expected = summary(&mut one_by_one);
    assert_eq!(summary(&mut batched), expected);
    let ids: Vec<&[u8]> = expected.iter().map(|c| c.0.as_slice()).collect();
    assert_eq!(ids, [&b"\x02old-b"[..], b"\x03new-a", b"\x04new-c"]);
    assert_eq!(expected[0].4, 9, "updated in place");
    assert_eq!(setting(&mut batched, SettingKey::LargeBlobArray), None);
}
