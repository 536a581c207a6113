//! The U2F requests the control API looks into: an injected credential
//! answers U2F_AUTHENTICATE under the tester's key handle, so the key handle
//! is swapped for the one the core knows; a U2F_REGISTER's application
//! parameter is the relying party of the registration it notes.

/// A U2F_AUTHENTICATE request (U2F raw messages §5.1): CLA INS P1 P2, Lc in
/// short or extended form, challenge (32) ‖ application (32) ‖ L ‖ key handle.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct U2fAuthenticate {
    header: [u8; 4],
    pub(crate) challenge_and_application: Vec<u8>,
    pub(crate) key_handle: Vec<u8>,
}

impl U2fAuthenticate {
    pub(crate) fn parse(apdu: &[u8]) -> Option<Self> {
        let header: [u8; 4] = apdu.get(..4)?.try_into().ok()?;
        if header[1] != 0x02 {
            return None;
        }
        let data = match apdu.get(4..)? {
            [0, hi, lo, rest @ ..] => rest.get(..usize::from(u16::from_be_bytes([*hi, *lo])))?,
            [lc, rest @ ..] => rest.get(..usize::from(*lc))?,
            [] => return None,
        };
        let length = usize::from(*data.get(64)?);
        let key_handle = data.get(65..65 + length)?.to_vec();
        Some(Self {
            header,
            challenge_and_application: data.get(..64)?.to_vec(),
            key_handle,
        })
    }

    /// The request in extended length form (which U2F devices accept).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let length = u8::try_from(self.key_handle.len()).unwrap_or(u8::MAX);
        let data_len = 65 + usize::from(length);
        let mut out = self.header.to_vec();
        out.push(0);
        out.extend_from_slice(&u16::try_from(data_len).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&self.challenge_and_application);
        out.push(length);
        out.extend_from_slice(
            self.key_handle
                .get(..usize::from(length))
                .unwrap_or_default(),
        );
        out.extend_from_slice(&[0, 0]);
        out
    }
}

/// The application parameter of a U2F_REGISTER request: challenge (32) ‖
/// application (32) after the header and Lc.
pub(crate) fn u2f_register_application(apdu: &[u8]) -> Option<[u8; 32]> {
    if apdu.get(1) != Some(&0x01) {
        return None;
    }
    let data = match apdu.get(4..)? {
        [0, _, _, rest @ ..] => rest,
        [_, rest @ ..] => rest,
        [] => return None,
    };
    data.get(32..64)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u2f_authenticate_key_handles_are_parsed_and_rewritten() {
        let mut data = vec![0xc1; 32];
        data.extend([0xa9; 32]);
        data.push(3);
        data.extend([1, 2, 3]);
        let mut short = vec![0x00, 0x02, 0x03, 0x00, u8::try_from(data.len()).unwrap()];
        short.extend(&data);
        let mut extended = vec![
            0x00,
            0x02,
            0x03,
            0x00,
            0x00,
            0x00,
            u8::try_from(data.len()).unwrap(),
        ];
        extended.extend(&data);
        extended.extend([0, 0]);
        for apdu in [&short, &extended] {
            let mut request = U2fAuthenticate::parse(apdu).unwrap();
            assert_eq!(request.key_handle, [1, 2, 3]);
            assert_eq!(request.encode(), extended, "re-encoded in extended form");
            request.key_handle = vec![9; 70];
            let rewritten = U2fAuthenticate::parse(&request.encode()).unwrap();
            assert_eq!(rewritten.key_handle, vec![9; 70]);
            assert_eq!(rewritten.challenge_and_application, data[..64]);
        }
        // Registrations and truncated requests are left alone.
        let mut register = short.clone();
        register[1] = 0x01;
        assert_eq!(U2fAuthenticate::parse(&register), None);
        assert_eq!(u2f_register_application(&register).unwrap(), [0xa9; 32]);
        assert_eq!(U2fAuthenticate::parse(&short[..short.len() - 1]), None);
    }
}
