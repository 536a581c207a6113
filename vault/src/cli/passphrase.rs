//! Reading passphrases: the first line of a file, or typed on the terminal
//! with echo off, into a fixed zeroizing buffer of bounded length.

use std::io::Write;
use std::path::Path;

use softkey_authenticator::secret::SecretBytes;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::slots::Unlocker;

/// A new passphrase, from a file or typed twice.
pub(super) fn new_passphrase(file: Option<&Path>) -> Result<Unlocker, VaultError> {
    let passphrase = match file {
        Some(file) => passphrase_from_file(file)?,
        None => {
            let first = prompt("New passphrase: ")?;
            let second = prompt("Repeat the new passphrase: ")?;
            if !first.ct_eq(second.expose_secret()) {
                return Err(VaultError::Usage("the passphrases differ".into()));
            }
            first
        }
    };
    Ok(Unlocker::Passphrase(passphrase))
}

/// Longest passphrase read from a file or the terminal, in bytes.
const MAX_PASSPHRASE_LEN: usize = 1024;

/// The first line of `file`, without its line ending.
pub(super) fn passphrase_from_file(file: &Path) -> Result<SecretBytes, VaultError> {
    let reading = |e| VaultError::io(format!("reading passphrase file {}", file.display()), e);
    let file = std::fs::File::open(file).map_err(reading)?;
    read_first_line(file).map_err(reading)?
}

/// Reads up to the first line ending (or the end) into a fixed zeroizing
/// buffer: no growing `Vec`, no `BufReader`, so no unzeroized copy of the
/// passphrase is ever freed. (On a terminal in canonical mode each `read`
/// returns at most one line.) The outer error is the read's; the inner one
/// an empty or overlong passphrase.
fn read_first_line(
    mut reader: impl std::io::Read,
) -> std::io::Result<Result<SecretBytes, VaultError>> {
    let mut buffer = Zeroizing::new([0u8; MAX_PASSPHRASE_LEN + 1]);
    let mut len = 0;
    let end = loop {
        if let Some(at) = buffer[..len].iter().position(|&b| b == b'\n') {
            break at;
        }
        if len == buffer.len() {
            return Ok(Err(VaultError::Usage(format!(
                "the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes"
            ))));
        }
        match reader.read(&mut buffer[len..]) {
            Ok(0) => break len,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if end > MAX_PASSPHRASE_LEN {
        return Ok(Err(VaultError::Usage(format!(
            "the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes"
        ))));
    }
    let line = &buffer[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(non_empty(SecretBytes::from_slice(line)))
}

fn non_empty(passphrase: SecretBytes) -> Result<SecretBytes, VaultError> {
    if passphrase.is_empty() {
        return Err(VaultError::Usage("the passphrase is empty".into()));
    }
    Ok(passphrase)
}

/// Reads a passphrase from the terminal with echo off.
pub(super) fn prompt(message: &str) -> Result<SecretBytes, VaultError> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let tty_error = |e: std::io::Error| {
        VaultError::io(
            "prompting on the terminal (use --passphrase-file or --key-file without one)",
            e,
        )
    };
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(tty_error)?;
    write!(tty, "{message}")
        .and_then(|()| tty.flush())
        .map_err(tty_error)?;
    let original = tcgetattr(&tty).map_err(|e| tty_error(e.into()))?;
    let mut silent = original.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    silent.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Flush, &silent).map_err(|e| tty_error(e.into()))?;
    let read = read_first_line(&tty);
    // Restore echo whatever happened.
    let restored = tcsetattr(&tty, OptionalActions::Flush, &original);
    let typed = read.map_err(tty_error)?;
    restored.map_err(|e| tty_error(e.into()))?;
    typed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_lines_are_read_up_to_their_end_and_bounded() {
        let read = |input: &[u8]| read_first_line(input).unwrap();
        assert!(read(b"hunter2\r\nsecond line").unwrap().ct_eq(b"hunter2"));
        assert!(read(b"no newline").unwrap().ct_eq(b"no newline"));
        assert!(matches!(read(b"\nrest"), Err(VaultError::Usage(_))));
        let longest = vec![b'x'; MAX_PASSPHRASE_LEN];
        assert_eq!(read(&longest).unwrap().len(), MAX_PASSPHRASE_LEN);
        let mut line = longest.clone();
        line.push(b'\n');
        assert_eq!(read(&line).unwrap().len(), MAX_PASSPHRASE_LEN);
        let too_long = vec![b'x'; MAX_PASSPHRASE_LEN + 1];
        assert!(matches!(read(&too_long), Err(VaultError::Usage(_))));
    }
}
