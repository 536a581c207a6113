//! hmac-secret (CTAP 2.1 §12.5) and hmac-secret-mc (CTAP 2.2 §12.7): a
//! per-credential PRF, the base of WebAuthn's `prf`.
//!
//! ```text
//!  makeCredential "hmac-secret": true ──► CredRandomWithUV, CredRandomWithoutUV
//!                                         (32 random bytes each, kept with the credential)
//!  {1: keyAgreement, 2: saltEnc, 3: saltAuth, 4: pinUvAuthProtocol}
//!     decapsulate(keyAgreement) ──► shared secret
//!     verify(shared, saltEnc, saltAuth)        else PIN_AUTH_INVALID
//!     decrypt(shared, saltEnc) = salt1 [‖ salt2] (32 or 64 bytes, else INVALID_PARAMETER)
//!     outputN = HMAC-SHA-256(CredRandom[uv], saltN)
//!     encrypt(shared, output1 [‖ output2]) ──► authData extensions
//! ```
//!
//! getAssertion answers under "hmac-secret", and only with the person's
//! presence: a request with "up": false is CTAP2_ERR_UNSUPPORTED_OPTION
//! (its first getAssertion step in CTAP 2.2, as in CTAP 2.1 §12.5), so no process that can write to the device derives a
//! PRF secret silently. makeCredential, when the
//! platform sends the same map as "hmac-secret-mc" (next to "hmac-secret":
//! true), answers under "hmac-secret-mc" at creation. Which CredRandom is used
//! follows the UV flag of the response. A credential made without
//! hmac-secret has no CredRandom and gets no output.

use ciborium::Value;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cbor::{self, IntMap};
use crate::credential::StoredCredential;
use crate::pin::{KeyAgreementKey, Protocol, SharedSecret};
use crate::secret::Secret32;
use crate::status::StatusCode;

/// The extension identifier (makeCredential flag, getAssertion salts).
pub const NAME: &str = "hmac-secret";
/// The CTAP 2.2 makeCredential variant carrying salts.
pub const MC_NAME: &str = "hmac-secret-mc";

/// The makeCredential input "hmac-secret": a boolean.
pub fn parse_flag(value: &Value) -> Result<bool, StatusCode> {
    cbor::as_bool(value)
}

/// Fresh CredRandomWithUV and CredRandomWithoutUV for a new credential.
pub fn new_cred_randoms<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> (Secret32, Secret32) {
    (Secret32::random(rng), Secret32::random(rng))
}

/// The CredRandom a response with (`uv`) or without user verification uses.
pub fn cred_random(credential: &StoredCredential, uv: bool) -> Option<&Secret32> {
    if uv {
        credential.cred_random_with_uv.as_ref()
    } else {
        credential.cred_random_without_uv.as_ref()
    }
}

/// Decrypted, authenticated salts and the shared secret that protects the
/// outputs.
pub struct Salts {
    shared: SharedSecret,
    /// salt1, or salt1 ‖ salt2.
    salts: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Salts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salts")
            .field("protocol", &self.shared.protocol())
            .field("count", &(self.salts.len() / 32))
            .finish_non_exhaustive()
    }
}

impl Salts {
    /// Parses the input map {1: keyAgreement, 2: saltEnc, 3: saltAuth,
    /// 4: pinUvAuthProtocol (1 when absent)} and opens the salts with the
    /// authenticator's current key-agreement key.
    pub fn parse(value: Value, key_agreement: &KeyAgreementKey) -> Result<Self, StatusCode> {
        let mut map = IntMap::new(value)?;
        let platform_key = map.require(1)?;
        let salt_enc = cbor::into_bytes(map.require(2)?)?;
        let salt_auth = cbor::into_bytes(map.require(3)?)?;
        let protocol = map
            .take(4)
            .map(|v| cbor::as_u64(&v))
            .transpose()?
            .unwrap_or(1);
        let protocol = Protocol::from_number(protocol)?;
        let shared = key_agreement.shared_secret(protocol, platform_key)?;
        Self::open(shared, &salt_enc, &salt_auth)
    }

    /// verify(shared, saltEnc, saltAuth), then decrypt(shared, saltEnc).
    pub fn open(
        shared: SharedSecret,
        salt_enc: &[u8],
        salt_auth: &[u8],
    ) -> Result<Self, StatusCode> {
        if !shared.verify(salt_enc, salt_auth) {
            return Err(StatusCode::PinAuthInvalid);
        }
        let salts = shared
            .decrypt(salt_enc)
            .ok_or(StatusCode::InvalidParameter)?;
        if salts.len() != 32 && salts.len() != 64 {
            return Err(StatusCode::InvalidParameter);
        }
        Ok(Self { shared, salts })
    }

    /// output1 [‖ output2] in the clear: HMAC-SHA-256(CredRandom, saltN).
    pub fn outputs(&self, cred_random: &Secret32) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.salts.len()));
        for salt in self.salts.chunks_exact(32) {
            let mut mac =
                <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(cred_random.expose_secret())
                    .expect("HMAC accepts keys of any length");
            mac.update(salt);
            out.extend_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// The extension output: encrypt(shared, output1 [‖ output2]).
    pub fn encrypted_outputs<R: rand_core::CryptoRng + ?Sized>(
        &self,
        cred_random: &Secret32,
        rng: &mut R,
    ) -> Vec<u8> {
        self.shared.encrypt(rng, &self.outputs(cred_random))
    }

    /// As [`Salts::encrypted_outputs`] with a given IV (protocol two's
    /// known-answer tests; protocol one ignores it).
    pub fn encrypted_outputs_with_iv(&self, cred_random: &Secret32, iv: &[u8; 16]) -> Vec<u8> {
        let iv = match self.shared.protocol() {
            Protocol::One => [0u8; 16],
            Protocol::Two => *iv,
        };
        self.shared.encrypt_with_iv(&iv, &self.outputs(cred_random))
    }
}
