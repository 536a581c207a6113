//! The trust properties of issue 13 in a command sequence: makeCredential
//! and getAssertion with extensions (credProtect, hmac-secret, credBlob,
//! largeBlobKey), signed with the held pinUvAuthToken or not, and restarts
//! that turn built-in user verification on or off over the same store.
//!
//! What must hold, whatever came before:
//!
//! - a credProtect-3 credential never signs without UV: every assertion of
//!   one has UV set, U2F never signs with one, and its U2F key handle gets
//!   byte for byte the answer a foreign key handle gets, without a prompt
//!   (see [`super::u2f`]);
//! - no hmac-secret output without UP: a getAssertion with "up": false and
//!   hmac-secret never succeeds, no assertion carries hmac-secret output
//!   without UP, and an output decrypts under the platform's shared secret
//!   to 32 bytes per salt;
//! - CREDENTIAL_EXCLUDED only for an excludeList entry the request may see:
//!   a credential of that relying party, of level 3 only when the request
//!   asked for UV;
//! - with built-in UV asked for, the one prompt is Verify (UV comes before
//!   the excludeList decision and before credentials are located);
//! - UV is reported only when asked for; credBlob and largeBlobKey outputs
//!   only when asked for; makeCredential reports exactly the credProtect
//!   level asked for, and a largeBlobKey exactly when asked for.

use super::*;
use crate::authdata::{FLAG_ED, FLAG_UP, FLAG_UV};
use crate::extensions::{cred_blob, cred_protect, hmac_secret, large_blob_key};
use crate::pin::{Protocol, SharedSecret};
use crate::{PromptAction, UserPrompt};

/// The credBlob structured requests store.
const CRED_BLOB: &[u8] = b"fuzz-cred-blob!!";

/// The clientDataHash of structured makeCredential requests.
const MAKE_CREDENTIAL_CLIENT_DATA_HASH: [u8; 32] = [0x11; 32];

/// The clientDataHash of a structured getAssertion with these flags.
pub(super) fn assertion_client_data_hash(flags: u8) -> [u8; 32] {
    if flags & 0x40 != 0 {
        [0x33; 32]
    } else {
        [0x22; 32]
    }
}

/// What a structured request lets the model check of its answer, beyond
/// what holds for every answer. Raw requests get the default: nothing more.
#[derive(Debug, Default)]
pub(super) struct Expect {
    /// Built by the model (the fields below mean something).
    checked: bool,
    /// It asked for UV: "uv": true with built-in UV, or a pinUvAuthParam.
    uv_asked: bool,
    /// Its one prompt must be built-in UV, and it may not answer
    /// NO_CREDENTIALS or CREDENTIAL_EXCLUDED before that prompt.
    verify_prompt: bool,
    /// The person was asked.
    prompted: bool,
    /// getAssertion with "up": false and hmac-secret.
    silent_hmac_secret: bool,
    /// hmac-secret: the shared secret and the number of salts.
    hmac_secret: Option<(SharedSecret, usize)>,
    /// credBlob asked for.
    cred_blob: bool,
    /// largeBlobKey asked for.
    large_blob_key: bool,
    /// makeCredential: the credProtect level asked for.
    cred_protect: Option<u8>,
    /// makeCredential: the excludeList names a credential of this relying
    /// party that the request may see.
    exclude_visible: bool,
}

/// The authData extensions map starting at `offset`, when the ED flag says
/// there is one; it must end the authData.
pub(super) fn extension_outputs(auth_data: &[u8], offset: usize) -> Option<Value> {
    if auth_data[32] & FLAG_ED == 0 {
        assert_eq!(auth_data.len(), offset, "bytes after authData without ED");
        return None;
    }
    let mut cursor = std::io::Cursor::new(&auth_data[offset..]);
    let outputs: Value =
        ciborium::de::from_reader(&mut cursor).expect("the extension outputs decode");
    assert_eq!(
        offset + usize::try_from(cursor.position()).expect("a small offset"),
        auth_data.len(),
        "bytes after the extension outputs"
    );
    Some(outputs)
}

fn output<'a>(outputs: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    outputs?
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
}

impl Expect {
    /// A request that waits for the person.
    pub(super) fn check_prompt(&mut self, prompt: &UserPrompt) {
        self.prompted = true;
        if self.verify_prompt {
            assert_eq!(
                prompt.action,
                PromptAction::Verify,
                "built-in UV was asked for, the prompt was not UV"
            );
        }
    }

    /// An error reply.
    pub(super) fn check_error(&self, command: u8, status: u8) {
        let revealing = [
            StatusCode::NoCredentials.code(),
            StatusCode::CredentialExcluded.code(),
        ];
        if self.verify_prompt && !self.prompted && revealing.contains(&status) {
            panic!("answered 0x{status:02x} before the built-in UV it asked for");
        }
        if self.checked
            && command == commands::MAKE_CREDENTIAL
            && status == StatusCode::CredentialExcluded.code()
        {
            assert!(
                self.exclude_visible,
                "excluded by a credential the request may not see"
            );
        }
    }

    /// An assertion reply, before it is looked at.
    pub(super) fn check_assertion_allowed(&self, command: u8) {
        assert!(
            !(command == commands::GET_ASSERTION && self.silent_hmac_secret),
            "hmac-secret answered a silent assertion"
        );
    }

    /// A makeCredential response with these extension outputs: the
    /// credential's credProtect level.
    pub(super) fn check_made(&self, response: &Value, outputs: Option<&Value>) -> u8 {
        let reported = output(outputs, cred_protect::NAME).map(|level| {
            let level = level.as_integer().expect("credProtect output is a number");
            u8::try_from(i128::from(level)).expect("credProtect output is a level")
        });
        if self.checked {
            assert_eq!(reported, self.cred_protect, "credProtect output");
            assert_eq!(
                field(response, large_blob_key::MAKE_CREDENTIAL_RESPONSE_KEY).is_some(),
                self.large_blob_key,
                "largeBlobKey in the makeCredential response"
            );
        }
        reported.unwrap_or(1)
    }

    /// An assertion with a credential of `level`, these flags and outputs.
    pub(super) fn check_assertion(
        &self,
        level: u8,
        flags: u8,
        outputs: Option<&Value>,
        response: &Value,
    ) {
        if level == 3 {
            assert_ne!(
                flags & FLAG_UV,
                0,
                "a credProtect-3 credential signed without UV"
            );
        }
        if let Some(encrypted) = output(outputs, hmac_secret::NAME) {
            assert_ne!(flags & FLAG_UP, 0, "hmac-secret output without UP");
            if let Some((shared, salts)) = &self.hmac_secret {
                let plain = shared
                    .decrypt(encrypted.as_bytes().expect("hmac-secret output is bytes"))
                    .expect("hmac-secret output decrypts under the shared secret");
                assert_eq!(plain.len(), 32 * salts, "one output per salt");
            }
        }
        if !self.checked {
            return;
        }
        if flags & FLAG_UV != 0 {
            assert!(self.uv_asked, "UV reported, not asked for");
        }
        if output(outputs, cred_blob::NAME).is_some() {
            assert!(self.cred_blob, "credBlob output, not asked for");
        }
        if field(response, large_blob_key::GET_ASSERTION_RESPONSE_KEY).is_some() {
            assert!(self.large_blob_key, "largeBlobKey, not asked for");
        }
    }
}

impl SequenceModel {
    /// Adds a pinUvAuthParam over `client_data_hash` made with the held
    /// token (members `key` and `key + 1`); false when none is held.
    fn sign_with_token(
        &self,
        extra: &mut Vec<(Value, Value)>,
        client_data_hash: &[u8; 32],
        key: i64,
    ) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        let param = token.protocol.authenticate(&token.token, client_data_hash);
        extra.push((int(key), bytes(&param)));
        extra.push((int(key + 1), int(token.protocol.number() as i64)));
        true
    }

    /// [`Action::MakeCredential`].
    pub(super) fn checked_make_credential(
        &mut self,
        rp: u8,
        user: u8,
        flags: u8,
        extensions: u8,
        exclude: &[CredentialRef],
    ) {
        let rp_id = RP_IDS[usize::from(rp % 4)];
        let rp_id_hash = sha256(rp_id.as_bytes());
        let level = extensions & 0x03;
        let mut inputs = Vec::new();
        if level != 0 {
            inputs.push((text(cred_protect::NAME), int(i64::from(level))));
        }
        if extensions & 0x04 != 0 {
            inputs.push((text(hmac_secret::NAME), Value::Bool(true)));
        }
        if extensions & 0x08 != 0 {
            inputs.push((text(cred_blob::NAME), bytes(CRED_BLOB)));
        }
        if extensions & 0x10 != 0 {
            inputs.push((text(large_blob_key::NAME), Value::Bool(true)));
        }
        let mut extra = Vec::new();
        if !inputs.is_empty() {
            extra.push((int(6), Value::Map(inputs)));
        }
        let signed = extensions & 0x20 != 0
            && self.sign_with_token(&mut extra, &MAKE_CREDENTIAL_CLIENT_DATA_HASH, 8);
        let built_in = self.built_in_uv && (flags >> 6) & 0x03 >= 2 && !signed;
        let uv_asked = signed || built_in;
        let exclude_visible = self.credential_ids(exclude).iter().any(|id| {
            self.issued.iter().any(|issued| {
                issued.id == *id
                    && issued.rp_id_hash == rp_id_hash
                    && (issued.cred_protect < 3 || uv_asked)
            })
        });
        let expect = Expect {
            checked: true,
            uv_asked,
            verify_prompt: built_in,
            cred_protect: (level != 0).then_some(level),
            large_blob_key: extensions & 0x10 != 0,
            exclude_visible,
            ..Expect::default()
        };
        let request = self.make_credential(rp_id, user, flags, exclude, extra);
        // rk true (2–3) asks for a discoverable credential.
        let discoverable = (flags >> 2) & 0x03 >= 2;
        self.send(&request, Some(rp_id_hash), discoverable, expect);
    }

    /// [`Action::GetAssertion`].
    pub(super) fn checked_get_assertion(
        &mut self,
        rp: u8,
        flags: u8,
        extensions: u8,
        allow: Option<&[CredentialRef]>,
    ) {
        let rp_id = RP_IDS[usize::from(rp % 4)];
        let probe = flags & 0x80 != 0;
        let mut inputs = Vec::new();
        let mut hmac = None;
        if extensions & 0x01 != 0 {
            let protocol = if extensions & 0x04 != 0 {
                Protocol::One
            } else {
                Protocol::Two
            };
            let salts = if extensions & 0x02 != 0 { 2 } else { 1 };
            let (key, shared) = self.agree(protocol);
            let salt_enc = shared.encrypt(&mut self.platform_rng, &vec![0x5a; 32 * salts]);
            let salt_auth = shared.authenticate(&salt_enc);
            inputs.push((
                text(hmac_secret::NAME),
                Value::Map(vec![
                    (int(1), key),
                    (int(2), bytes(&salt_enc)),
                    (int(3), bytes(&salt_auth)),
                    (int(4), int(protocol.number() as i64)),
                ]),
            ));
            hmac = Some((shared, salts));
        }
        if extensions & 0x08 != 0 {
            inputs.push((text(cred_blob::NAME), Value::Bool(true)));
        }
        if extensions & 0x10 != 0 {
            inputs.push((text(large_blob_key::NAME), Value::Bool(true)));
        }
        let mut extra = Vec::new();
        if !inputs.is_empty() {
            extra.push((int(4), Value::Map(inputs)));
        }
        let signed = !probe
            && extensions & 0x20 != 0
            && self.sign_with_token(&mut extra, &assertion_client_data_hash(flags), 6);
        let built_in = self.built_in_uv && (flags >> 2) & 0x03 >= 2 && !signed && !probe;
        let expect = Expect {
            checked: true,
            uv_asked: signed || built_in,
            verify_prompt: built_in,
            // "up" is false only when given as false (1).
            silent_hmac_secret: flags & 0x03 == 1 && hmac.is_some(),
            hmac_secret: hmac,
            cred_blob: extensions & 0x08 != 0,
            large_blob_key: extensions & 0x10 != 0,
            ..Expect::default()
        };
        let request = self.get_assertion(rp_id, flags, allow, extra);
        self.send(&request, Some(sha256(rp_id.as_bytes())), false, expect);
    }

    /// [`Action::Restart`]: a new authenticator over the same store.
    pub(super) fn restart(&mut self, flags: u8) {
        let config = Config {
            built_in_uv: flags & 0x01 != 0,
            ..Config::default()
        };
        let stopped = std::mem::replace(
            &mut self.authenticator,
            Authenticator::new(
                Config::default(),
                MemoryStore::new(Secret32::new([0; 32])),
                InsecureFuzzRng::new(0),
                self.now,
            ),
        );
        self.restarts += 1;
        self.authenticator = Authenticator::new(
            config,
            stopped.into_store(),
            InsecureFuzzRng::new(42 + self.restarts),
            self.now,
        );
        self.built_in_uv = flags & 0x01 != 0;
        self.waiting = None;
        self.large_blob.power_cycle();
        if let Some(token) = &mut self.token {
            token.current = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(flags: u8, outputs: Option<Value>) -> (Vec<u8>, Value) {
        let mut auth_data = vec![0u8; 37];
        auth_data[32] = flags | if outputs.is_some() { FLAG_ED } else { 0 };
        if let Some(outputs) = outputs {
            auth_data.extend_from_slice(&cbor::encode(outputs));
        }
        let response = Value::Map(vec![(int(2), bytes(&auth_data))]);
        (auth_data, response)
    }

    fn check(level: u8, flags: u8, outputs: Option<Value>, expect: &Expect) {
        let (auth_data, response) = assertion(flags, outputs);
        let outputs = extension_outputs(&auth_data, 37);
        expect.check_assertion(level, auth_data[32], outputs.as_ref(), &response);
    }

    #[test]
    #[should_panic(expected = "credProtect-3 credential signed without UV")]
    fn a_level_three_assertion_without_uv_is_caught() {
        check(3, FLAG_UP, None, &Expect::default());
    }

    #[test]
    #[should_panic(expected = "hmac-secret output without UP")]
    fn hmac_secret_output_without_presence_is_caught() {
        let outputs = Value::Map(vec![(text(hmac_secret::NAME), bytes(&[0; 48]))]);
        check(1, 0, Some(outputs), &Expect::default());
    }

    #[test]
    #[should_panic(expected = "hmac-secret answered a silent assertion")]
    fn a_silent_hmac_secret_assertion_is_caught() {
        let expect = Expect {
            checked: true,
            silent_hmac_secret: true,
            ..Expect::default()
        };
        expect.check_assertion_allowed(commands::GET_ASSERTION);
    }

    #[test]
    #[should_panic(expected = "excluded by a credential the request may not see")]
    fn an_exclusion_by_a_hidden_credential_is_caught() {
        let expect = Expect {
            checked: true,
            ..Expect::default()
        };
        expect.check_error(
            commands::MAKE_CREDENTIAL,
            StatusCode::CredentialExcluded.code(),
        );
    }

    #[test]
    #[should_panic(expected = "the prompt was not UV")]
    fn a_touch_where_uv_was_asked_for_is_caught() {
        let mut expect = Expect {
            checked: true,
            verify_prompt: true,
            ..Expect::default()
        };
        expect.check_prompt(&UserPrompt {
            action: PromptAction::Acknowledge,
            rp_id: None,
            user_name: None,
        });
    }

    #[test]
    #[should_panic(expected = "before the built-in UV it asked for")]
    fn no_credentials_before_uv_is_caught() {
        let expect = Expect {
            checked: true,
            verify_prompt: true,
            ..Expect::default()
        };
        expect.check_error(commands::GET_ASSERTION, StatusCode::NoCredentials.code());
    }

    #[test]
    fn a_level_three_key_handle_is_foreign_to_u2f_in_a_sequence() {
        let model = run_seed("cred_protect_three_over_u2f");
        assert_eq!(model.issued[0].cred_protect, 3);
        assert!(
            !model.counters.contains_key(&model.issued[0].id),
            "never signed"
        );
        assert_eq!(model.issued[1].cred_protect, 2);
        assert!(
            model.counters.contains_key(&model.issued[1].id),
            "signed over U2F"
        );
    }

    #[test]
    fn a_silent_assertion_returns_no_hmac_secret_in_a_sequence() {
        let model = run_seed("silent_assertion_with_extensions");
        assert_eq!(model.issued.len(), 1);
        assert!(model.counters.contains_key(&model.issued[0].id));
    }

    #[test]
    fn built_in_uv_comes_before_the_exclude_list_in_a_sequence() {
        let model = run_seed("built_in_uv_before_exclude_list");
        // The level-3 credential did not exclude the unverified request;
        // the verified one was excluded, after UV.
        assert_eq!(model.issued.len(), 2);
        assert_eq!(model.issued[0].cred_protect, 3);
        assert!(
            model.counters.contains_key(&model.issued[0].id),
            "signed with UV"
        );
        assert!(!model.built_in_uv, "restarted without built-in UV");
    }

    #[test]
    fn a_pin_token_lets_a_level_three_credential_sign_in_a_sequence() {
        let model = run_seed("pin_token_signs_a_level_three_credential");
        assert_eq!(model.issued[0].cred_protect, 3);
        assert!(model.counters.contains_key(&model.issued[0].id));
    }

    #[test]
    fn what_holds_passes() {
        check(3, FLAG_UP | FLAG_UV, None, &Expect::default());
        let outputs = Value::Map(vec![(text(hmac_secret::NAME), bytes(&[0; 48]))]);
        check(1, FLAG_UP, Some(outputs), &Expect::default());
    }
}
