//! Entry points for the `sim_control_inputs` fuzz target (`fuzz/`) and its
//! regression tests. Compiled only with the crate's `fuzzing` feature (which
//! `fuzz/` enables) and in its own unit tests: product builds do not contain it.
//!
//! Not a stable API. The fuzz target is one line calling [`control_inputs`], so
//! it cannot drift from the code it tests (STYLE.md 12). Every input goes to
//! every parser of outside input the control API has:
//!
//! ```text
//!  bytes ─┬─ serde_json ─┬─► options::parse (Add Virtual Authenticator, no vault dir)
//!         │              └─► NewCredential::from_json (Add Credential)
//!         ├─ as an APDU ────► ctap1::parse ─► Request::to_apdu ─► parse (same request)
//!         └─ as a stored large-blob array ─► read_entries ─► open (fixed key)
//!                                                       └─► write_entries ─► read_entries
//! ```
//!
//! Injected U2F credentials' APDU rewriting and the large-blob array come from
//! a browser or a test over the control API, and a stored array may have been
//! written by any platform over CTAP: none of them may panic the simulator.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ciborium::Value;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{MemoryStore, SettingKey, Store as _};

use crate::control::{credentials, large_blob, options};
use softkey_authenticator::commands::large_blobs::serialize;
use softkey_authenticator::ctap1;

/// The largeBlobKey the large-blob part opens entries with.
pub const LARGE_BLOB_KEY: [u8; 32] = [0x4b; 32];

/// Feeds `data` to every control-API parser; see the module docs.
pub fn control_inputs(data: &[u8]) {
    json_bodies(data);
    u2f_apdu(data);
    large_blob_array(data);
}

/// Both request-body parsers on `data` as JSON. They answer `Ok` or `Err`;
/// without a vault directory nothing may touch the disk.
pub fn json_bodies(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(parsed) = options::parse(&body, None, &softkey_authenticator::crypto::Algorithm::ALL)
    {
        assert!(parsed.vault.is_none(), "a vault without a vault directory");
    }
    let _ = credentials::NewCredential::from_json(&body);
}

/// The U2F APDU rewriting: a request that parses re-encodes (extended form,
/// as the control hooks rewrite key handles) into the same request.
pub fn u2f_apdu(apdu: &[u8]) {
    if let Ok(request) = ctap1::parse(apdu)
        && let Some(encoded) = request.to_apdu()
    {
        assert_eq!(
            ctap1::parse(&encoded),
            Ok(request),
            "a U2F request changed when re-encoded as {encoded:02x?}"
        );
    }
}

/// `data` as the stored serialized large-blob array: reading it, opening each
/// entry (as stored, and re-sealed under [`LARGE_BLOB_KEY`] so that the
/// inflate step sees the fuzzer's bytes), and writing back what was read.
pub fn large_blob_array(data: &[u8]) {
    let mut store = MemoryStore::new(Secret32::new([0x5a; 32]));
    if store
        .put_setting(SettingKey::LargeBlobArray, Some(data))
        .is_err()
    {
        return;
    }
    let Ok(entries) = large_blob::read_entries(&mut store) else {
        return;
    };
    let key = Secret32::new(LARGE_BLOB_KEY);
    for entry in &entries {
        let _ = large_blob::open(&key, entry);
        if let Some(resealed) = reseal(entry) {
            let _ = large_blob::open(&key, &resealed);
        }
    }
    // What was read can be written back (unless it no longer fits) and read
    // again, entry for entry.
    let count = entries.len();
    let mut fresh = MemoryStore::new(Secret32::new([0x5a; 32]));
    if large_blob::write_entries(&mut fresh, entries).is_ok() {
        let again = large_blob::read_entries(&mut fresh).expect("a written array reads back");
        assert_eq!(again.len(), count, "entries lost in a write-back");
    }
}

/// `entry` as `{1: AES-256-GCM(compressed), 2: nonce, 3: origSize}` under
/// [`LARGE_BLOB_KEY`], where `compressed` is the bytes of the entry's own
/// ciphertext field.
fn reseal(entry: &Value) -> Option<Value> {
    let (compressed, nonce, orig_size) = large_blob::entry_fields(entry)?;
    let ciphertext = Aes256Gcm::new((&LARGE_BLOB_KEY).into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: compressed,
                aad: &large_blob::associated_data(orig_size),
            },
        )
        .ok()?;
    let int = |i: u64| Value::Integer(i.into());
    Some(Value::Map(vec![
        (int(1), Value::Bytes(ciphertext)),
        (int(2), Value::Bytes(nonce.to_vec())),
        (int(3), int(orig_size)),
    ]))
}

/// Hand-made seeds for the `sim_control_inputs` corpus, by name.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut short = vec![0x00, 0x02, 0x03, 0x00, 65 + 4];
    short.extend_from_slice(&[0x11; 32]);
    short.extend_from_slice(&[0x22; 32]);
    short.push(4);
    short.extend_from_slice(&[0xab; 4]);
    short.push(0x00);
    let extended = ctap1::Request::Authenticate {
        control: 0x07,
        challenge: [0x33; 32],
        application: [0x44; 32],
        key_handle: vec![0xcd; 16],
    }
    .to_apdu()
    .expect("a 16-byte key handle fits");
    let mut array = Vec::new();
    ciborium::ser::into_writer(
        &Value::Array(vec![Value::Map(vec![
            (Value::Integer(1.into()), Value::Bytes(vec![0x03, 0x00])),
            (Value::Integer(2.into()), Value::Bytes(vec![0x07; 12])),
            (Value::Integer(3.into()), Value::Integer(0.into())),
        ])]),
        &mut array,
    )
    .expect("a CBOR value serializes into a Vec");
    let array = serialize(array);
    vec![
        (
            "add_authenticator.json",
            br#"{"protocol":"ctap2_1","transport":"usb","hasResidentKey":true,"hasUserVerification":true,"isUserVerified":true,"extensions":["largeBlob","credBlob"],"defaultBackupEligibility":true}"#.to_vec(),
        ),
        (
            "add_credential.json",
            br#"{"credentialId":"AQIDBAUGBwg","isResidentCredential":true,"rpId":"example.com","privateKey":"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbyfgSSy6B0lLjjohEdDr2TsG-8uN6shMRoIOcOy4DiehRANCAATZdBDwEjHfIv5XCQZLM6AA3_2cZO-u1owDkyKul2YKFpZLjsMlQByZvmzGnQBKgC-5vqXmGSbTngU4yn8xOXXa","userHandle":"dXNlcg","signCount":3,"largeBlob":"aGVsbG8"}"#.to_vec(),
        ),
        ("u2f_authenticate_short.apdu", short),
        ("u2f_authenticate_check_only_extended.apdu", extended),
        ("large_blob_array_one_entry.bin", array),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_reach_their_parsers() {
        for (name, seed) in seeds() {
            control_inputs(&seed);
            if name.ends_with(".apdu") {
                assert!(
                    matches!(ctap1::parse(&seed), Ok(ctap1::Request::Authenticate { .. })),
                    "{name}"
                );
            }
        }
        let (_, body) = &seeds()[0];
        let body = serde_json::from_slice(body).expect("the seed is JSON");
        assert!(
            options::parse(&body, None, &softkey_authenticator::crypto::Algorithm::ALL).is_ok()
        );
        let (_, body) = &seeds()[1];
        let body = serde_json::from_slice(body).expect("the seed is JSON");
        if let Err(error) = credentials::NewCredential::from_json(&body) {
            panic!("the add-credential seed is rejected: {error:?}");
        }
        let (_, array) = &seeds()[4];
        let mut store = MemoryStore::new(Secret32::new([0; 32]));
        store
            .put_setting(SettingKey::LargeBlobArray, Some(array))
            .expect("a memory store stores");
        assert_eq!(
            large_blob::read_entries(&mut store).map(|e| e.len()).ok(),
            Some(1)
        );
    }

    #[test]
    fn resealed_entry_opens_to_the_inflated_bytes() {
        // 0x03 0x00 is raw DEFLATE of the empty input (one fixed block, end).
        let (_, array) = &seeds()[4];
        let entries: Value =
            ciborium::de::from_reader(&array[..array.len() - 16]).expect("the seed array decodes");
        let entry = &entries.as_array().expect("an array")[0];
        let resealed = reseal(entry).expect("the seed entry reseals");
        assert_eq!(
            large_blob::open(&Secret32::new(LARGE_BLOB_KEY), &resealed),
            Some(Vec::new())
        );
    }
}
