//! Entry points for `fuzz/` targets (one line each there, so a target cannot
//! drift from the code it tests). Not a stable API.
//! Compiled only with the crate's `fuzzing` feature (which `fuzz/` enables) and
//! in its own unit tests: product builds do not contain it.

use softkey_authenticator::secret::Secret32;

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

#[cfg(test)]
mod tests {
    #[test]
    fn short_and_long_inputs_do_not_panic() {
        for len in [0, 1, 31, 32, 95, 96, 97, 120, 400] {
            super::credential_row(&vec![0xA5; len]);
        }
    }
}
