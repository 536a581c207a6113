//! Helpers shared by the vault's integration tests.
#![allow(dead_code)]
// Test helpers: a failure here is a test failure, with the location in the panic.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use softkey_authenticator::credential::{StoredCredential, UserEntity};
use softkey_authenticator::crypto::{Algorithm, PrivateKey};
use softkey_authenticator::secret::SecretBytes;
use softkey_vault::cli::{VaultArgs, execute};
use softkey_vault::cxf::{self, ImportPlan};
use softkey_vault::{KdfParams, Unlocker, Vault, VaultError, generate_key_file};

/// A fresh directory with a key file; the vault path inside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub vault_path: PathBuf,
    pub key_file: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let vault_path = dir.path().join("vault.sqlite");
        let key_file = dir.path().join("vault.key");
        generate_key_file(&key_file).unwrap();
        Self {
            dir,
            vault_path,
            key_file,
        }
    }

    pub fn unlocker(&self) -> Unlocker {
        Unlocker::KeyFile(self.key_file.clone())
    }

    pub fn create(&self) -> Vault {
        Vault::create(
            &self.vault_path,
            &self.unlocker(),
            KdfParams::danger_fast_for_tests(),
        )
        .unwrap()
    }

    pub fn open(&self) -> Vault {
        Vault::open(&self.vault_path, &self.unlocker()).unwrap()
    }
}

/// A discoverable Ed25519 credential with a deterministic key from `seed`.
pub fn credential(
    id: &[u8],
    rp_id: &str,
    user_id: &[u8],
    user_name: &str,
    seed: u8,
) -> StoredCredential {
    let key = PrivateKey::from_bytes(Algorithm::EdDsa, SecretBytes::from_slice(&[seed; 32]))
        .expect("any 32 bytes are an Ed25519 seed");
    with_key(id, rp_id, user_id, user_name, key)
}

/// A discoverable credential with the given key.
pub fn with_key(
    id: &[u8],
    rp_id: &str,
    user_id: &[u8],
    user_name: &str,
    private_key: PrivateKey,
) -> StoredCredential {
    StoredCredential {
        credential_id: id.to_vec(),
        rp_id: rp_id.to_owned(),
        rp_name: Some(format!("{rp_id} Inc.")),
        user: UserEntity {
            id: user_id.to_vec(),
            name: Some(user_name.to_owned()),
            display_name: Some(format!("{user_name} Display")),
        },
        private_key,
        sign_count: 0,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: true,
        backup: softkey_authenticator::policy::BackupFlags::default(),
        third_party_payment: false,
    }
}

/// Compares what matters of two credentials.
pub fn summary(
    credential: &StoredCredential,
) -> (Vec<u8>, String, Vec<u8>, Option<String>, u32, Vec<u8>) {
    (
        credential.credential_id.clone(),
        credential.rp_id.clone(),
        credential.user.id.clone(),
        credential.user.name.clone(),
        credential.sign_count,
        credential
            .private_key
            .secret_bytes()
            .expose_secret()
            .to_vec(),
    )
}

/// Runs `sql` on the vault file directly (as an attacker with write access would).
pub fn raw_sql(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// Reads a blob column of one row.
pub fn raw_blob(path: &Path, sql: &str) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Writes a blob with a parameter.
pub fn raw_set_blob(path: &Path, sql: &str, blob: &[u8]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(sql, [blob]).unwrap();
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    vault: VaultArgs,
}

/// `softkey vault ARGS…` through the clap arguments the binary mounts; what
/// it printed.
pub fn run(args: &[&str]) -> Result<String, VaultError> {
    use clap::Parser as _;
    let cli = Cli::try_parse_from(std::iter::once("vault").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    execute(cli.vault, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

/// [`run`] on the fixture's vault, unlocked with its key file.
pub fn run_on(fixture: &Fixture, args: &[&str]) -> Result<String, VaultError> {
    let mut all = vec![
        "--vault",
        fixture.vault_path.to_str().unwrap(),
        "--key-file",
        fixture.key_file.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run(&all)
}

/// Imports a CXF file (JSON) in one go, replacing duplicates if `replace`.
pub fn import_all(vault: &mut Vault, json: &[u8], replace: bool) -> Result<ImportPlan, VaultError> {
    let decoded = cxf::decode(json)?;
    let existing = vault.existing_for_import()?;
    let mut plan = ImportPlan::new(decoded, &existing, |_| replace);
    vault.import_cxf(&mut plan)?;
    Ok(plan)
}

/// A minimal valid file with one passkey; tests change it.
pub fn one_passkey() -> Value {
    let key = PrivateKey::generate(Algorithm::Es256, &mut rand::rng());
    let der = {
        use p256::pkcs8::EncodePrivateKey as _;
        p256::SecretKey::from_slice(key.secret_bytes().expose_secret())
            .unwrap()
            .to_pkcs8_der()
            .unwrap()
    };
    json!({
        "version": {"major": 1, "minor": 0},
        "exporterRpId": "other.example",
        "exporterDisplayName": "Other",
        "timestamp": 1_700_000_000u64,
        "accounts": [{
            "id": "YQ", "username": "", "email": "", "collections": [],
            "items": [{
                "id": "aQ", "title": "Example", "credentials": [{
                    "type": "passkey",
                    "credentialId": URL_SAFE_NO_PAD.encode(b"cred-1"),
                    "rpId": "example.com",
                    "username": "carol",
                    "userDisplayName": "Carol",
                    "userHandle": URL_SAFE_NO_PAD.encode(b"carol"),
                    "key": URL_SAFE_NO_PAD.encode(der.as_bytes()),
                }]
            }]
        }]
    })
}

pub fn passkey_mut(file: &mut Value) -> &mut Value {
    &mut file["accounts"][0]["items"][0]["credentials"][0]
}
