//! The file around the CXF JSON: age v1 (age-encryption.org/v1), to a
//! passphrase (scrypt) or to X25519 recipients (`age1…`), which the `age`
//! command-line tool decrypts (`age -d -i KEY` or `age -d`); plaintext only
//! when the caller asks for it by its danger name. Reading tells the kinds
//! apart by their first bytes: the age header (binary or ASCII-armored) or
//! JSON.

use std::io::{Read as _, Write as _};
use std::str::FromStr as _;

use age::secrecy::SecretString;
use softkey_authenticator::secret::SecretBytes;
use zeroize::Zeroizing;

use super::CxfError;

/// Largest file (encrypted or not) softkey reads or writes: 16 MiB.
pub const MAX_FILE_LEN: usize = 16 << 20;

const AGE_BINARY: &[u8] = b"age-encryption.org/";
const AGE_ARMORED: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// How an export is protected.
pub enum Protection {
    /// age with a passphrase (scrypt; about a second of work to open).
    Passphrase(SecretBytes),
    /// age to recipients (X25519 `age1…` or post-quantum `age1pq1…`), any of
    /// whose identities opens it.
    Recipients(Vec<String>),
    /// No encryption: the passkeys' private keys in the clear.
    DangerPlaintext,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("Passphrase(..)"),
            Self::Recipients(recipients) => f.debug_tuple("Recipients").field(recipients).finish(),
            Self::DangerPlaintext => f.write_str("DangerPlaintext"),
        }
    }
}

/// What opens an age-encrypted import.
pub enum Unlock {
    /// The passphrase it was encrypted with.
    Passphrase(SecretBytes),
    /// The text of an age identity file (`AGE-SECRET-KEY-1…` lines).
    IdentityFile(Zeroizing<Vec<u8>>),
}

/// What kind of file an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// age-encrypted to X25519 recipients (or another recipient type).
    AgeRecipients,
    /// age-encrypted with a passphrase.
    AgePassphrase,
    /// Plain JSON.
    Plaintext,
}

fn secret_string(bytes: &SecretBytes) -> Result<SecretString, CxfError> {
    let text = std::str::from_utf8(bytes.expose_secret())
        .map_err(|_| CxfError::Encryption("the passphrase is not UTF-8".into()))?;
    Ok(SecretString::from(text.to_owned()))
}

/// An age recipient: post-quantum hybrid (`age1pq1…`, age ≥ 1.3) or X25519
/// (`age1…`, what every age reads, the distributions' 1.1 included; age
/// marks it deprecated for new recipients, but it is the one the
/// `age` command here decrypts).
fn recipient(text: &str) -> Result<Box<dyn age::Recipient>, CxfError> {
    let text = text.trim();
    if let Ok(recipient) = age::pq::Recipient::from_str(text) {
        return Ok(Box::new(recipient));
    }
    #[allow(deprecated)]
    let x25519 = age::x25519::Recipient::from_str(text);
    match x25519 {
        Ok(recipient) => Ok(Box::new(recipient)),
        Err(e) => Err(CxfError::Encryption(format!(
            "{text:?} is not an age recipient (age1… or age1pq1…): {e}"
        ))),
    }
}

/// Checks recipients before anything is exported.
pub fn check_recipients(recipients: &[String]) -> Result<(), CxfError> {
    if recipients.is_empty() {
        return Err(CxfError::Encryption("no recipient given".into()));
    }
    recipients.iter().try_for_each(|r| recipient(r).map(drop))
}

/// Wraps the CXF JSON as `protection` says.
pub fn seal(json: &[u8], protection: &Protection) -> Result<Vec<u8>, CxfError> {
    let encryptor = match protection {
        Protection::DangerPlaintext => return Ok(json.to_vec()),
        Protection::Passphrase(passphrase) => {
            age::Encryptor::with_user_passphrase(secret_string(passphrase)?)
        }
        Protection::Recipients(texts) => {
            check_recipients(texts)?;
            let recipients = texts
                .iter()
                .map(|text| recipient(text))
                .collect::<Result<Vec<_>, _>>()?;
            age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref()))
                .map_err(|e| CxfError::Encryption(e.to_string()))?
        }
    };
    let encrypting = |e: std::io::Error| CxfError::Encryption(e.to_string());
    let mut out = Vec::with_capacity(json.len() + 1024);
    let mut writer = encryptor.wrap_output(&mut out).map_err(encrypting)?;
    writer.write_all(json).map_err(encrypting)?;
    writer.finish().map_err(encrypting)?;
    Ok(out)
}

/// The kind of an import file, from its first bytes.
pub fn kind_of(file: &[u8]) -> Result<FileKind, CxfError> {
    let start = file.trim_ascii_start();
    if !(start.starts_with(AGE_BINARY) || start.starts_with(AGE_ARMORED)) {
        return Ok(FileKind::Plaintext);
    }
    let decryptor = decryptor(file)?;
    Ok(if decryptor.is_scrypt() {
        FileKind::AgePassphrase
    } else {
        FileKind::AgeRecipients
    })
}

/// age's reader of a file in memory, binary or armored.
type AgeDecryptor<'a> = age::Decryptor<age::armor::ArmoredReader<std::io::BufReader<&'a [u8]>>>;

fn decryptor(file: &[u8]) -> Result<AgeDecryptor<'_>, CxfError> {
    age::Decryptor::new(age::armor::ArmoredReader::new(file))
        .map_err(|e| CxfError::Decryption(format!("not a readable age file: {e}")))
}

/// The CXF JSON inside an import file, in a zeroizing buffer. `unlock` is
/// needed for an age file (`None` for plain JSON).
pub fn open(file: &[u8], unlock: Option<&Unlock>) -> Result<Zeroizing<Vec<u8>>, CxfError> {
    if file.len() > MAX_FILE_LEN {
        return Err(CxfError::TooLarge {
            size: file.len(),
            max: MAX_FILE_LEN,
        });
    }
    if kind_of(file)? == FileKind::Plaintext {
        return Ok(Zeroizing::new(file.to_vec()));
    }
    let decryptor = decryptor(file)?;
    let scrypt = decryptor.is_scrypt();
    let mut reader = match unlock {
        None => {
            return Err(CxfError::Decryption(if scrypt {
                "the file is encrypted with a passphrase: give it (--age-passphrase-file, or \
                 type it when asked)"
                    .into()
            } else {
                "the file is encrypted to age recipients: give an identity file (--age-identity)"
                    .into()
            }));
        }
        Some(Unlock::Passphrase(passphrase)) => {
            let identity = age::scrypt::Identity::new(secret_string(passphrase)?);
            decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        }
        Some(Unlock::IdentityFile(text)) => {
            let identities = age::IdentityFile::from_buffer(&text[..])
                .map_err(|e| CxfError::Decryption(format!("reading the identity file: {e}")))?
                .into_identities()
                .map_err(|e| CxfError::Decryption(format!("the identity file: {e}")))?;
            decryptor.decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        }
    }
    .map_err(|e| CxfError::Decryption(e.to_string()))?;
    // The plaintext is shorter than the file: read into a buffer that never
    // grows (a reallocation would free a copy unzeroized).
    let mut json = Zeroizing::new(Vec::with_capacity(file.len()));
    reader
        .read_to_end(&mut json)
        .map_err(|e| CxfError::Decryption(format!("the encrypted payload: {e}")))?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)] // X25519: what the distributions' age command reads.
    fn recipients_round_trip_and_refuse_the_wrong_key() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let sealed = seal(b"{\"x\": 1}", &Protection::Recipients(vec![recipient])).unwrap();
        assert_eq!(kind_of(&sealed).unwrap(), FileKind::AgeRecipients);
        use age::secrecy::ExposeSecret as _;
        let key = identity.to_string();
        let unlock = Unlock::IdentityFile(Zeroizing::new(key.expose_secret().as_bytes().to_vec()));
        assert_eq!(&open(&sealed, Some(&unlock)).unwrap()[..], b"{\"x\": 1}");
        let other = age::pq::Identity::generate().to_string();
        let wrong = Unlock::IdentityFile(Zeroizing::new(other.expose_secret().as_bytes().to_vec()));
        assert!(matches!(
            open(&sealed, Some(&wrong)),
            Err(CxfError::Decryption(_))
        ));
        assert!(matches!(open(&sealed, None), Err(CxfError::Decryption(_))));

        // A post-quantum recipient works too.
        let pq = age::pq::Identity::generate();
        let sealed = seal(
            b"[]",
            &Protection::Recipients(vec![pq.to_public().to_string()]),
        )
        .unwrap();
        let unlock = Unlock::IdentityFile(Zeroizing::new(
            pq.to_string().expose_secret().as_bytes().to_vec(),
        ));
        assert_eq!(&open(&sealed, Some(&unlock)).unwrap()[..], b"[]");

        let plain = seal(b"{}", &Protection::DangerPlaintext).unwrap();
        assert_eq!(kind_of(&plain).unwrap(), FileKind::Plaintext);
        assert!(matches!(
            seal(b"{}", &Protection::Recipients(vec!["age1nope".into()])),
            Err(CxfError::Encryption(_))
        ));
    }
}
