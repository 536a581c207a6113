//! CTAP1/U2F (FIDO U2F Raw Message Formats, carried in CTAPHID MSG; CTAP 2.1
//! §11.2.9.1.1): VERSION, REGISTER and AUTHENTICATE with check-only,
//! enforce-user-presence and dont-enforce-user-presence.
//!
//! A U2F key handle *is* a sealed non-discoverable credential ID (see
//! [`crate::credential`]) with the application parameter in place of the
//! rpIdHash, so a credential registered over either protocol signs over the
//! other (WebAuthn's FIDO AppID and CTAP2's U2F interoperability) — except
//! a credential made with credProtect userVerificationRequired: U2F cannot
//! verify the user, so its key handle is answered as a foreign one
//! (`SW_WRONG_DATA`, for every control byte).
//!
//! Requests are ISO 7816-4 APDUs in short or extended encoding; responses are
//! data followed by a status word.

use crate::authenticator::{Context, PromptAction, UserPrompt};
use crate::credential::{StoredCredential, UserEntity};
use crate::crypto::{Algorithm, PrivateKey};
use crate::extensions::cred_protect;
use crate::status::StatusCode;
use crate::store::Store;

/// Status words (U2F raw message formats §3.3, ISO 7816-4).
pub mod sw {
    /// Success.
    pub const NO_ERROR: u16 = 0x9000;
    /// User presence is required (or: check-only found a valid key handle).
    pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
    /// Invalid key handle.
    pub const WRONG_DATA: u16 = 0x6A80;
    /// Wrong request length.
    pub const WRONG_LENGTH: u16 = 0x6700;
    /// Unsupported class byte.
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    /// Unsupported instruction.
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    /// Incorrect P1/P2.
    pub const WRONG_P1P2: u16 = 0x6A86;
    /// Anything else.
    pub const UNKNOWN: u16 = 0x6F00;
}

const INS_REGISTER: u8 = 0x01;
const INS_AUTHENTICATE: u8 = 0x02;
const INS_VERSION: u8 = 0x03;
const CHECK_ONLY: u8 = 0x07;
const ENFORCE_PRESENCE: u8 = 0x03;
const DONT_ENFORCE_PRESENCE: u8 = 0x08;
/// Key handles longer than this cannot be encoded in U2F.
const MAX_KEY_HANDLE_LEN: usize = 255;

/// A parsed U2F request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// U2F_VERSION.
    Version,
    /// U2F_REGISTER.
    Register {
        /// The challenge parameter (SHA-256 of the client data).
        challenge: [u8; 32],
        /// The application parameter (SHA-256 of the AppID or RP ID).
        application: [u8; 32],
    },
    /// U2F_AUTHENTICATE.
    Authenticate {
        /// 0x07 check-only, 0x03 enforce presence, 0x08 don't enforce.
        control: u8,
        /// The challenge parameter.
        challenge: [u8; 32],
        /// The application parameter.
        application: [u8; 32],
        /// The key handle.
        key_handle: Vec<u8>,
    },
}

impl Request {
    /// The request as an APDU in extended-length form, which [`parse`] reads
    /// back as the same request (the simulator rewrites key handles this
    /// way). `None` for a key handle longer than U2F can carry (255 bytes).
    pub fn to_apdu(&self) -> Option<Vec<u8>> {
        let (ins, p1, data) = match self {
            Self::Version => (INS_VERSION, 0, Vec::new()),
            Self::Register {
                challenge,
                application,
            } => (INS_REGISTER, 0, [&challenge[..], &application[..]].concat()),
            Self::Authenticate {
                control,
                challenge,
                application,
                key_handle,
            } => {
                let len = u8::try_from(key_handle.len()).ok()?;
                let mut data = [&challenge[..], &application[..], &[len]].concat();
                data.extend_from_slice(key_handle);
                (INS_AUTHENTICATE, *control, data)
            }
        };
        let mut out = vec![0, ins, p1, 0, 0];
        if !data.is_empty() {
            out.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
            out.extend_from_slice(&data);
        }
        // Le: up to 65536 bytes.
        out.extend_from_slice(&[0, 0]);
        Some(out)
    }
}

/// Splits an APDU into (CLA, INS, P1, data), accepting short and extended
/// encodings with or without Le.
fn split_apdu(apdu: &[u8]) -> Result<(u8, u8, u8, &[u8]), u16> {
    let (header, body) = apdu.split_at_checked(4).ok_or(sw::WRONG_LENGTH)?;
    let data: &[u8] = match body {
        [] => &[],
        [_le] => &[],
        [0, rest @ ..] if rest.len() >= 2 => {
            let lc = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let after = &rest[2..];
            if after.is_empty() {
                &[] // extended Le only
            } else {
                let (data, le) = after.split_at_checked(lc).ok_or(sw::WRONG_LENGTH)?;
                if !matches!(le.len(), 0 | 2) {
                    return Err(sw::WRONG_LENGTH);
                }
                data
            }
        }
        [lc, rest @ ..] => {
            let (data, le) = rest
                .split_at_checked(usize::from(*lc))
                .ok_or(sw::WRONG_LENGTH)?;
            if le.len() > 1 {
                return Err(sw::WRONG_LENGTH);
            }
            data
        }
    };
    Ok((header[0], header[1], header[2], data))
}

/// Parses a U2F request APDU, or gives the status word to answer.
pub fn parse(apdu: &[u8]) -> Result<Request, u16> {
    let (cla, ins, p1, data) = split_apdu(apdu)?;
    if cla != 0 {
        return Err(sw::CLA_NOT_SUPPORTED);
    }
    let params = |data: &[u8]| -> Result<([u8; 32], [u8; 32]), u16> {
        let challenge = data.get(..32).ok_or(sw::WRONG_LENGTH)?;
        let application = data.get(32..64).ok_or(sw::WRONG_LENGTH)?;
        Ok((
            challenge.try_into().map_err(|_| sw::WRONG_LENGTH)?,
            application.try_into().map_err(|_| sw::WRONG_LENGTH)?,
        ))
    };
    match ins {
        INS_VERSION => {
            if data.is_empty() {
                Ok(Request::Version)
            } else {
                Err(sw::WRONG_LENGTH)
            }
        }
        INS_REGISTER => {
            if data.len() != 64 {
                return Err(sw::WRONG_LENGTH);
            }
            let (challenge, application) = params(data)?;
            Ok(Request::Register {
                challenge,
                application,
            })
        }
        INS_AUTHENTICATE => {
            if !matches!(p1, CHECK_ONLY | ENFORCE_PRESENCE | DONT_ENFORCE_PRESENCE) {
                return Err(sw::WRONG_P1P2);
            }
            let (challenge, application) = params(data)?;
            let len = usize::from(*data.get(64).ok_or(sw::WRONG_LENGTH)?);
            let key_handle = data
                .get(65..)
                .filter(|kh| kh.len() == len)
                .ok_or(sw::WRONG_LENGTH)?;
            Ok(Request::Authenticate {
                control: p1,
                challenge,
                application,
                key_handle: key_handle.to_vec(),
            })
        }
        _ => Err(sw::INS_NOT_SUPPORTED),
    }
}

/// A response: data, then the status word.
pub fn respond(data: &[u8], status: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(&status.to_be_bytes());
    out
}

/// What a U2F request needs next.
pub(crate) enum Next {
    /// Answer now.
    Reply(Vec<u8>),
    /// Ask for presence, then finish the job.
    AwaitUser(UserPrompt, Job),
}

/// A U2F request waiting for the touch.
pub(crate) enum Job {
    Register {
        challenge: [u8; 32],
        application: [u8; 32],
    },
    Authenticate {
        challenge: [u8; 32],
        application: [u8; 32],
        credential: Box<StoredCredential>,
    },
}

/// The answer when the person refused or nobody answered: U2F has no other
/// word for it than "conditions not satisfied".
pub(crate) fn denied() -> Vec<u8> {
    respond(&[], sw::CONDITIONS_NOT_SATISFIED)
}

/// Handles one APDU up to its presence check.
pub(crate) fn start<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    apdu: &[u8],
) -> Next {
    let request = match parse(apdu) {
        Ok(request) => request,
        Err(status) => return Next::Reply(respond(&[], status)),
    };
    // With alwaysUv on, U2F (which cannot verify the user) is switched off.
    match crate::pin::AuthenticatorSettings::load(&mut ctx.store) {
        Ok(settings) if settings.always_uv => {
            return Next::Reply(respond(&[], sw::INS_NOT_SUPPORTED));
        }
        Ok(_) => {}
        Err(_) => return Next::Reply(respond(&[], sw::UNKNOWN)),
    }
    match request {
        Request::Version => Next::Reply(respond(b"U2F_V2", sw::NO_ERROR)),
        Request::Register {
            challenge,
            application,
        } => Next::AwaitUser(
            prompt(PromptAction::Register),
            Job::Register {
                challenge,
                application,
            },
        ),
        Request::Authenticate {
            control,
            challenge,
            application,
            key_handle,
        } => {
            let credential = match open_key_handle(ctx, &key_handle, &application) {
                Ok(Some(credential)) => credential,
                Ok(None) => return Next::Reply(respond(&[], sw::WRONG_DATA)),
                Err(_) => return Next::Reply(respond(&[], sw::UNKNOWN)),
            };
            match control {
                CHECK_ONLY => Next::Reply(respond(&[], sw::CONDITIONS_NOT_SATISFIED)),
                DONT_ENFORCE_PRESENCE => Next::Reply(
                    authenticate(ctx, &challenge, &application, &credential, false)
                        .unwrap_or_else(|_| respond(&[], sw::UNKNOWN)),
                ),
                _ => Next::AwaitUser(
                    prompt(PromptAction::SignIn),
                    Job::Authenticate {
                        challenge,
                        application,
                        credential: Box::new(credential),
                    },
                ),
            }
        }
    }
}

/// Finishes a job after the touch.
pub(crate) fn finish<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    job: Job,
) -> Vec<u8> {
    let result = match job {
        Job::Register {
            challenge,
            application,
        } => register(ctx, &challenge, &application),
        Job::Authenticate {
            challenge,
            application,
            credential,
        } => authenticate(ctx, &challenge, &application, &credential, true),
    };
    result.unwrap_or_else(|status| {
        tracing::warn!(%status, "U2F request failed");
        respond(&[], sw::UNKNOWN)
    })
}

fn prompt(action: PromptAction) -> UserPrompt {
    UserPrompt {
        action,
        rp_id: None,
        user_name: None,
    }
}

/// A key handle of ours for this application, usable over U2F: ES256, and
/// not userVerificationRequired (CTAP 2.1 §12.1: such a credential is never
/// used without user verification, which U2F does not have). A key handle
/// U2F may not use is `None`, exactly like one another device made.
fn open_key_handle<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    key_handle: &[u8],
    application: &[u8; 32],
) -> Result<Option<StoredCredential>, StatusCode> {
    let device_secret = ctx.store.device_secret()?;
    let id_key = ctx.credential_id_key.key(&device_secret);
    Ok(
        StoredCredential::open_id_with(key_handle, id_key, application).filter(|c| {
            c.algorithm() == Algorithm::Es256
                && cred_protect::Level::from_stored(c.cred_protect).permits(false, true)
        }),
    )
}

fn register<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    challenge: &[u8; 32],
    application: &[u8; 32],
) -> Result<Vec<u8>, StatusCode> {
    let credential = StoredCredential {
        credential_id: Vec::new(),
        rp_id: String::new(),
        rp_name: None,
        user: UserEntity::default(),
        private_key: PrivateKey::generate(Algorithm::Es256, &mut ctx.rng),
        sign_count: 0,
        cred_protect: 1,
        cred_random_with_uv: None,
        cred_random_without_uv: None,
        cred_blob: None,
        large_blob_key: None,
        discoverable: false,
        backup: crate::policy::BackupFlags::default(),
        third_party_payment: false,
    };
    let device_secret = ctx.store.device_secret()?;
    let id_key = ctx.credential_id_key.key(&device_secret);
    let key_handle = credential.seal_id_with(id_key, application, &mut ctx.rng)?;
    if key_handle.len() > MAX_KEY_HANDLE_LEN {
        return Err(StatusCode::Other);
    }
    let public_key = credential.private_key.sec1_public_key()?;
    // A single-use identity unless the embedder chose device attestation.
    let identity = crate::attestation::u2f_identity(ctx)?;
    // Signed: 0x00 ‖ application ‖ challenge ‖ key handle ‖ public key.
    let mut signed = vec![0x00];
    signed.extend_from_slice(application);
    signed.extend_from_slice(challenge);
    signed.extend_from_slice(&key_handle);
    signed.extend_from_slice(&public_key);
    let signature = identity.sign(&signed)?;
    let mut data = vec![0x05];
    data.extend_from_slice(&public_key);
    data.push(u8::try_from(key_handle.len()).map_err(|_| StatusCode::Other)?);
    data.extend_from_slice(&key_handle);
    data.extend_from_slice(identity.leaf_der());
    data.extend_from_slice(&signature);
    tracing::info!("U2F credential registered");
    Ok(respond(&data, sw::NO_ERROR))
}

fn authenticate<S: Store, R: rand_core::CryptoRng>(
    ctx: &mut Context<S, R>,
    challenge: &[u8; 32],
    application: &[u8; 32],
    credential: &StoredCredential,
    user_present: bool,
) -> Result<Vec<u8>, StatusCode> {
    let counter = match ctx.policy.next_sign_count(&credential.credential_id) {
        Some(count) => count,
        None => ctx.store.next_global_counter()?,
    };
    let presence = u8::from(user_present);
    // Signed: application ‖ user presence ‖ counter ‖ challenge.
    let mut signed = application.to_vec();
    signed.push(presence);
    signed.extend_from_slice(&counter.to_be_bytes());
    signed.extend_from_slice(challenge);
    let signature = credential.private_key.sign(&signed, &mut ctx.rng)?;
    let mut data = vec![presence];
    data.extend_from_slice(&counter.to_be_bytes());
    data.extend_from_slice(&signature);
    Ok(respond(&data, sw::NO_ERROR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_re_encode_to_what_parses_back() {
        let authenticate = |key_handle: Vec<u8>| Request::Authenticate {
            control: ENFORCE_PRESENCE,
            challenge: [0xc1; 32],
            application: [0xa9; 32],
            key_handle,
        };
        let requests = [
            Request::Version,
            Request::Register {
                challenge: [1; 32],
                application: [2; 32],
            },
            authenticate(vec![1, 2, 3]),
            authenticate(vec![9; 255]),
        ];
        for request in requests {
            let apdu = request.to_apdu().unwrap();
            assert_eq!(parse(&apdu), Ok(request), "{apdu:02x?}");
        }
        assert_eq!(authenticate(vec![0; 256]).to_apdu(), None);
        // The short form of the same request parses alike.
        let mut data = vec![0xc1; 32];
        data.extend([0xa9; 32]);
        data.extend([3, 1, 2, 3]);
        let mut short = vec![0, INS_AUTHENTICATE, ENFORCE_PRESENCE, 0, 68];
        short.extend(&data);
        assert_eq!(parse(&short), Ok(authenticate(vec![1, 2, 3])));
        assert_eq!(parse(&short[..short.len() - 1]), Err(sw::WRONG_LENGTH));
    }

    fn extended(ins: u8, p1: u8, data: &[u8]) -> Vec<u8> {
        let mut apdu = vec![0, ins, p1, 0, 0];
        apdu.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        apdu.extend_from_slice(data);
        apdu.extend_from_slice(&[0, 0]);
        apdu
    }

    #[test]
    fn short_and_extended_encodings_parse_alike() {
        let data = [7u8; 64];
        let mut short = vec![0, INS_REGISTER, 0, 0, 64];
        short.extend_from_slice(&data);
        let expected = Request::Register {
            challenge: [7; 32],
            application: [7; 32],
        };
        assert_eq!(parse(&short), Ok(expected.clone()));
        short.push(0); // with Le
        assert_eq!(parse(&short), Ok(expected.clone()));
        assert_eq!(parse(&extended(INS_REGISTER, 0, &data)), Ok(expected));
        assert_eq!(parse(&[0, INS_VERSION, 0, 0]), Ok(Request::Version));
        assert_eq!(
            parse(&[0, INS_VERSION, 0, 0, 0, 0, 0]),
            Ok(Request::Version)
        );
    }

    #[test]
    fn malformed_apdus_get_their_status_words() {
        assert_eq!(parse(&[0, 1, 0]), Err(sw::WRONG_LENGTH));
        assert_eq!(
            parse(&[0x80, INS_VERSION, 0, 0]),
            Err(sw::CLA_NOT_SUPPORTED)
        );
        assert_eq!(parse(&[0, 0x42, 0, 0]), Err(sw::INS_NOT_SUPPORTED));
        assert_eq!(
            parse(&extended(INS_REGISTER, 0, &[0; 63])),
            Err(sw::WRONG_LENGTH)
        );
        assert_eq!(
            parse(&extended(INS_AUTHENTICATE, 0x05, &[0; 70])),
            Err(sw::WRONG_P1P2)
        );
        // Key handle length byte disagrees with the data.
        let mut data = vec![0u8; 64];
        data.push(10);
        data.extend_from_slice(&[1; 9]);
        assert_eq!(
            parse(&extended(INS_AUTHENTICATE, CHECK_ONLY, &data)),
            Err(sw::WRONG_LENGTH)
        );
        // Lc larger than the data.
        assert_eq!(
            parse(&[0, INS_REGISTER, 0, 0, 0, 0, 64, 1, 2]),
            Err(sw::WRONG_LENGTH)
        );
    }
}
