//! The sequence model on its seeds: what each one stores, and the bugs it
//! must not take for the authenticator's.

use super::*;

/// The array [`Action::LargeBlobWrite`] builds: `count` byte strings of
/// `each` bytes, the i-th filled with i.
fn written_array(count: u8, each: usize) -> Vec<u8> {
    let entries = (0..count).map(|i| Value::Bytes(vec![i; each])).collect();
    large_blob::serialize(&cbor::encode(Value::Array(entries)))
}

#[test]
fn written_large_blob_array_is_stored() {
    let model = run_seed("large_blob_write_then_read");
    assert_eq!(model.large_blob.stored, written_array(2, 150));
}

#[test]
fn signed_write_is_stored_and_a_stale_token_is_refused() {
    let model = run_seed("pin_token_then_signed_large_blob");
    assert!(model.pin_set);
    let token = model.token.as_ref().expect("a token was obtained");
    assert!(!token.current, "the power cycle made it stale");
    // The 64-byte write signed with the token, not the unsigned one
    // after it nor the one signed with the stale token.
    assert_eq!(model.large_blob.stored, written_array(1, 64));
}

#[test]
fn u2f_and_ctap2_share_credentials_and_counters() {
    let model = run_seed("u2f_register_then_authenticate");
    assert_eq!(model.issued.len(), 1);
    assert!(model.issued[0].u2f);
    assert!(model.counters.contains_key(&model.issued[0].id));

    let model = run_seed("ctap2_credential_over_u2f");
    assert!(model.issued[0].u2f, "an ES256 non-discoverable credential");
    assert!(model.counters.contains_key(&model.issued[0].id));
}

#[test]
fn a_raw_large_blob_write_is_not_taken_for_a_bug() {
    // The model does not follow raw requests; a write it did not see
    // must leave it in step with the store, not trip its checks.
    let array = written_array(1, 3);
    let raw = request(
        commands::LARGE_BLOBS,
        vec![
            (int(2), bytes(&array)),
            (int(3), int(0)),
            (int(4), int(array.len() as i64)),
        ],
    );
    let mut model = SequenceModel::new();
    for action in [
        Action::LargeBlobWrite {
            entries: 1,
            size: 40,
            chunk: 0,
            flags: 0x08,
        },
        Action::Raw(raw),
        Action::LargeBlobSet {
            offset: 3,
            length: None,
            fragment: Fragment::Draft { start: 3, len: 3 },
            auth: 0,
        },
        Action::LargeBlobGet {
            offset: 0,
            get: 100,
        },
    ] {
        model.step(&action);
    }
    assert_eq!(model.large_blob.stored, array);
}

#[test]
#[should_panic(expected = "out of sequence")]
fn a_fragment_taken_out_of_sequence_is_caught() {
    let mut model = SequenceModel::new();
    model.large_blob_set_answered_for_test(40, vec![0; 8]);
}
