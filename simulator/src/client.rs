//! `softkey client`: manage any FIDO2 key, like `fido2-token` — getInfo, the
//! PIN, discoverable credentials, reset and authenticatorConfig.
//!
//! ```text
//!  softkey client ─► Client ─► HostClient<P: PacketIo> ─► UDP (softkey sim, other
//!                     │          (CTAPHID host side)       simulators) · hidapi (later)
//!                     └─ pin::{KeyAgreementKey, SharedSecret}: the platform side of
//!                        PIN/UV auth protocols one and two
//! ```

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{self, Value, bytes, int, text};
use softkey_authenticator::pin::{KeyAgreementKey, Protocol, SharedSecret, pin_hash};
use softkey_authenticator::secret::SecretBytes;
use softkey_transport::host::{HostClient, PacketIo};
use softkey_transport::udp::UdpHost;

/// Permission bits (CTAP 2.1 §6.5.5.7).
const PERMISSION_CM: i64 = 0x04;
const PERMISSION_ACFG: i64 = 0x20;

/// `softkey client` arguments.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// The key's UDP address (a simulator such as `softkey sim`).
    #[arg(long, default_value = "127.0.0.1:8111")]
    pub udp: SocketAddr,
    /// The PIN, for commands that need one (else SOFTKEY_PIN, else a line on stdin).
    #[arg(long)]
    pub pin: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// A `softkey client` subcommand.
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Print authenticatorGetInfo.
    Info,
    /// The PIN.
    #[command(subcommand)]
    Pin(PinCommand),
    /// Discoverable credentials.
    #[command(subcommand)]
    Creds(CredsCommand),
    /// Factory reset: erase every credential and the PIN (needs a touch).
    Reset,
    /// authenticatorConfig.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `softkey client pin …`.
#[derive(clap::Subcommand, Debug)]
pub enum PinCommand {
    /// Set the first PIN (`--pin`).
    Set,
    /// Change the PIN from `--pin` to NEW.
    Change {
        /// The new PIN.
        new: String,
    },
    /// Print how many PIN retries are left.
    Retries,
}

/// `softkey client creds …`.
#[derive(clap::Subcommand, Debug)]
pub enum CredsCommand {
    /// List discoverable credentials by relying party.
    List,
    /// Delete one discoverable credential by its ID (hex).
    Delete {
        /// The credential ID, in hex.
        id: String,
    },
}

/// `softkey client config …`.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Toggle alwaysUv.
    AlwaysUv,
    /// Raise the minimum PIN length, and/or force a PIN change.
    MinPin {
        /// The new minimum length in code points.
        #[arg(long)]
        length: Option<u8>,
        /// Relying parties that may read the minimum through minPinLength.
        #[arg(long = "rp-id")]
        rp_ids: Vec<String>,
        /// Require a PIN change before the next use.
        #[arg(long)]
        force_change: bool,
    },
    /// Turn on the PIN complexity policy: no repeated, sequential or common
    /// PINs from the next PIN set or change on (only a reset turns it off).
    PinComplexity,
    /// Enable enterprise attestation (the key must be capable of it).
    EnterpriseAttestation,
}

/// Runs `softkey client` over UDP, printing to stdout.
pub fn main(args: ClientArgs) -> anyhow::Result<()> {
    let io = UdpHost::connect(args.udp).with_context(|| format!("connecting to {}", args.udp))?;
    let mut client = Client::new(HostClient::new(io))?;
    let pin = args
        .pin
        .or_else(|| std::env::var("SOFTKEY_PIN").ok().filter(|p| !p.is_empty()));
    let stdout = std::io::stdout();
    client.run(args.command, pin, &mut stdout.lock())
}

/// A CTAP2 client for one key.
pub struct Client<P: PacketIo> {
    host: HostClient<P>,
    protocol: Protocol,
}

fn status_error(status: u8) -> anyhow::Error {
    match StatusCode::from_code(status) {
        Some(code) => anyhow::anyhow!("the key answered {code}"),
        None => anyhow::anyhow!("the key answered status 0x{status:02X}"),
    }
}

impl<P: PacketIo> Client<P> {
    /// Opens a channel (CTAPHID INIT) and picks the best PIN/UV protocol.
    pub fn new(mut host: HostClient<P>) -> anyhow::Result<Self> {
        host.init()
            .map_err(|e| anyhow::anyhow!("CTAPHID INIT: {e:?}"))?;
        let mut client = Self {
            host,
            protocol: Protocol::One,
        };
        let info = client.get_info()?;
        let protocols = map_get(&info, 6)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if protocols.contains(&Value::from(2)) {
            client.protocol = Protocol::Two;
        }
        Ok(client)
    }

    /// Sends one CTAP2 command; the decoded response body, or the status as an error.
    pub fn call(
        &mut self,
        command: u8,
        params: Option<Vec<(Value, Value)>>,
    ) -> anyhow::Result<Value> {
        let mut request = vec![command];
        if let Some(params) = params {
            request.extend_from_slice(&cbor::encode(Value::Map(params)));
        }
        let reply = self
            .host
            .cbor(&request, |_| {})
            .map_err(|e| anyhow::anyhow!("CTAPHID: {e:?}"))?;
        let (&status, body) = reply.split_first().context("empty reply")?;
        if status != 0 {
            return Err(status_error(status));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        cbor::decode(body).map_err(|status| anyhow::anyhow!("malformed reply: {status}"))
    }

    /// authenticatorGetInfo.
    pub fn get_info(&mut self) -> anyhow::Result<Value> {
        self.call(0x04, None)
    }

    fn client_pin(&mut self, params: Vec<(Value, Value)>) -> anyhow::Result<Value> {
        let mut all = vec![(int(1), int(self.protocol_number()))];
        all.extend(params);
        self.call(0x06, Some(all))
    }

    fn protocol_number(&self) -> i64 {
        i64::try_from(self.protocol.number()).unwrap_or(1)
    }

    /// getKeyAgreement, then a fresh platform key and the shared secret.
    fn agree(&mut self) -> anyhow::Result<(Value, SharedSecret)> {
        let reply = self.client_pin(vec![(int(2), int(2))])?;
        let theirs = map_get(&reply, 1).cloned().context("no keyAgreement")?;
        let ours = KeyAgreementKey::generate(&mut rand::rng());
        let shared = ours
            .shared_secret(self.protocol, theirs)
            .map_err(|status| anyhow::anyhow!("the key's keyAgreement is invalid: {status}"))?;
        Ok((ours.cose_public_key(), shared))
    }

    fn padded(pin: &str) -> anyhow::Result<SecretBytes> {
        if pin.len() > 63 {
            bail!("a PIN is at most 63 bytes");
        }
        let mut padded = pin.as_bytes().to_vec();
        padded.resize(64, 0);
        Ok(SecretBytes::new(padded))
    }

    /// setPIN.
    pub fn set_pin(&mut self, pin: &str) -> anyhow::Result<()> {
        let (key, shared) = self.agree()?;
        let new_pin_enc = shared.encrypt(&mut rand::rng(), Self::padded(pin)?.expose_secret());
        let param = shared.authenticate(&new_pin_enc);
        self.client_pin(vec![
            (int(2), int(3)),
            (int(3), key),
            (int(4), bytes(&param)),
            (int(5), bytes(&new_pin_enc)),
        ])?;
        Ok(())
    }

    /// changePIN.
    pub fn change_pin(&mut self, old: &str, new: &str) -> anyhow::Result<()> {
        let (key, shared) = self.agree()?;
        let pin_hash_enc = shared.encrypt(&mut rand::rng(), &pin_hash(old.as_bytes())[..]);
        let new_pin_enc = shared.encrypt(&mut rand::rng(), Self::padded(new)?.expose_secret());
        let mut message = new_pin_enc.clone();
        message.extend_from_slice(&pin_hash_enc);
        let param = shared.authenticate(&message);
        self.client_pin(vec![
            (int(2), int(4)),
            (int(3), key),
            (int(4), bytes(&param)),
            (int(5), bytes(&new_pin_enc)),
            (int(6), bytes(&pin_hash_enc)),
        ])?;
        Ok(())
    }

    /// getPINRetries.
    pub fn pin_retries(&mut self) -> anyhow::Result<i64> {
        let reply = self.client_pin(vec![(int(2), int(1))])?;
        map_get(&reply, 3).and_then(as_i64).context("no pinRetries")
    }

    /// getPinUvAuthTokenUsingPinWithPermissions: the decrypted token.
    pub fn token(&mut self, pin: &str, permissions: i64) -> anyhow::Result<SecretBytes> {
        let (key, shared) = self.agree()?;
        let pin_hash_enc = shared.encrypt(&mut rand::rng(), &pin_hash(pin.as_bytes())[..]);
        let reply = self.client_pin(vec![
            (int(2), int(9)),
            (int(3), key),
            (int(6), bytes(&pin_hash_enc)),
            (int(9), int(permissions)),
        ])?;
        let encrypted = map_get(&reply, 2)
            .and_then(Value::as_bytes)
            .context("no token")?;
        shared
            .decrypt(encrypted)
            .map(SecretBytes::from)
            .context("the token does not decrypt")
    }

    /// One authenticatorCredentialManagement subcommand (authenticated unless
    /// it is a *GetNext continuation).
    fn credman(
        &mut self,
        token: Option<&[u8]>,
        sub: u8,
        params: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut map = vec![(int(1), int(i64::from(sub)))];
        if let Some(token) = token {
            let mut message = vec![sub];
            if let Some(params) = &params {
                message.extend_from_slice(&cbor::encode(params.clone()));
            }
            map.push((int(3), int(self.protocol_number())));
            map.push((int(4), bytes(&self.protocol.authenticate(token, &message))));
        }
        if let Some(params) = params {
            map.push((int(2), params));
        }
        self.call(0x0A, Some(map))
    }

    /// Every discoverable credential: (rp id, user, credential ID).
    pub fn list_credentials(&mut self, pin: &str) -> anyhow::Result<Vec<(String, Value, Vec<u8>)>> {
        let token = self.token(pin, PERMISSION_CM)?;
        let mut rps = Vec::new();
        match self.credman(Some(token.expose_secret()), 2, None) {
            Ok(first) => {
                let total = map_get(&first, 5).and_then(as_i64).unwrap_or(1);
                rps.push(first);
                for _ in 1..total {
                    rps.push(self.credman(None, 3, None)?);
                }
            }
            Err(error) if error.to_string().contains("NO_CREDENTIALS") => return Ok(Vec::new()),
            Err(error) => return Err(error),
        }
        let mut out = Vec::new();
        for rp in rps {
            let rp_id = map_get(&rp, 3)
                .and_then(|rp| text_get(rp, "id"))
                .and_then(Value::as_text)
                .unwrap_or("?")
                .to_owned();
            let hash = map_get(&rp, 4).cloned().context("no rpIDHash")?;
            let first = self.credman(
                Some(token.expose_secret()),
                4,
                Some(Value::Map(vec![(int(1), hash)])),
            )?;
            let total = map_get(&first, 9).and_then(as_i64).unwrap_or(1);
            let mut credentials = vec![first];
            for _ in 1..total {
                credentials.push(self.credman(None, 5, None)?);
            }
            for credential in credentials {
                let user = map_get(&credential, 6).cloned().unwrap_or(Value::Null);
                let id = map_get(&credential, 7)
                    .and_then(|d| text_get(d, "id"))
                    .and_then(Value::as_bytes)
                    .cloned()
                    .unwrap_or_default();
                out.push((rp_id.clone(), user, id));
            }
        }
        Ok(out)
    }

    /// deleteCredential.
    pub fn delete_credential(&mut self, pin: &str, id: &[u8]) -> anyhow::Result<()> {
        let token = self.token(pin, PERMISSION_CM)?;
        let descriptor = Value::Map(vec![
            (text("id"), bytes(id)),
            (text("type"), text("public-key")),
        ]);
        self.credman(
            Some(token.expose_secret()),
            6,
            Some(Value::Map(vec![(int(2), descriptor)])),
        )?;
        Ok(())
    }

    /// One authenticatorConfig subcommand, authenticated when a PIN is given.
    pub fn config(
        &mut self,
        pin: Option<&str>,
        sub: u8,
        params: Option<Value>,
    ) -> anyhow::Result<()> {
        let mut map = vec![(int(1), int(i64::from(sub)))];
        if let Some(pin) = pin {
            let token = self.token(pin, PERMISSION_ACFG)?;
            let mut message = vec![0xFF; 32];
            message.extend_from_slice(&[0x0D, sub]);
            if let Some(params) = &params {
                message.extend_from_slice(&cbor::encode(params.clone()));
            }
            map.push((int(3), int(self.protocol_number())));
            map.push((
                int(4),
                bytes(&self.protocol.authenticate(token.expose_secret(), &message)),
            ));
        }
        if let Some(params) = params {
            map.push((int(2), params));
        }
        self.call(0x0D, Some(map))?;
        Ok(())
    }

    /// Runs one subcommand, printing its result to `out`.
    pub fn run(
        &mut self,
        command: ClientCommand,
        pin: Option<String>,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let pin = || -> anyhow::Result<String> {
            if let Some(pin) = &pin {
                return Ok(pin.clone());
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the PIN from stdin")?;
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if line.is_empty() {
                bail!("this command needs a PIN: --pin, SOFTKEY_PIN or a line on stdin");
            }
            Ok(line)
        };
        match command {
            ClientCommand::Info => writeln!(out, "{}", diagnostic(&self.get_info()?))?,
            ClientCommand::Pin(PinCommand::Set) => {
                self.set_pin(&pin()?)?;
                writeln!(out, "PIN set")?;
            }
            ClientCommand::Pin(PinCommand::Change { new }) => {
                self.change_pin(&pin()?, &new)?;
                writeln!(out, "PIN changed")?;
            }
            ClientCommand::Pin(PinCommand::Retries) => writeln!(out, "{}", self.pin_retries()?)?,
            ClientCommand::Creds(CredsCommand::List) => {
                for (rp_id, user, id) in self.list_credentials(&pin()?)? {
                    writeln!(out, "{rp_id}\t{}\t{}", hex_encode(&id), diagnostic(&user))?;
                }
            }
            ClientCommand::Creds(CredsCommand::Delete { id }) => {
                let id = hex_decode(&id).context("the credential ID is not hex")?;
                self.delete_credential(&pin()?, &id)?;
                writeln!(out, "deleted")?;
            }
            ClientCommand::Reset => {
                self.call(0x07, None)?;
                writeln!(out, "reset: every credential and the PIN are erased")?;
            }
            ClientCommand::Config(command) => {
                let pin_set = map_get(&self.get_info()?, 4)
                    .and_then(|o| text_get(o, "clientPin"))
                    .is_some_and(|v| *v == Value::Bool(true));
                let pin = if pin_set { Some(pin()?) } else { None };
                match command {
                    ConfigCommand::AlwaysUv => self.config(pin.as_deref(), 2, None)?,
                    ConfigCommand::MinPin {
                        length,
                        rp_ids,
                        force_change,
                    } => {
                        let mut params = Vec::new();
                        if let Some(length) = length {
                            params.push((int(1), int(i64::from(length))));
                        }
                        if !rp_ids.is_empty() {
                            params.push((
                                int(2),
                                Value::Array(rp_ids.iter().map(|r| text(r)).collect()),
                            ));
                        }
                        if force_change {
                            params.push((int(3), Value::Bool(true)));
                        }
                        self.config(pin.as_deref(), 3, Some(Value::Map(params)))?;
                    }
                    ConfigCommand::PinComplexity => {
                        let params = Value::Map(vec![(int(4), Value::Bool(true))]);
                        self.config(pin.as_deref(), 3, Some(params))?;
                    }
                    ConfigCommand::EnterpriseAttestation => self.config(pin.as_deref(), 1, None)?,
                }
                writeln!(out, "configured")?;
            }
        }
        Ok(())
    }
}

fn map_get(value: &Value, key: i64) -> Option<&Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(i128::from(key)))
        .map(|(_, v)| v)
}

fn text_get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn as_i64(value: &Value) -> Option<i64> {
    value.as_integer().and_then(|i| i64::try_from(i).ok())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// CBOR diagnostic notation (RFC 8949 §8), for printing replies.
pub fn diagnostic(value: &Value) -> String {
    match value {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Bytes(b) => format!("h'{}'", hex_encode(b)),
        Value::Text(t) => format!("{t:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Float(f) => f.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(diagnostic).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", diagnostic(k), diagnostic(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tag(tag, inner) => format!("{tag}({})", diagnostic(inner)),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hex_and_diagnostic() {
        assert_eq!(hex_decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
        let value = Value::Map(vec![(
            int(1),
            Value::Array(vec![text("FIDO_2_0"), bytes(&[1, 2])]),
        )]);
        assert_eq!(diagnostic(&value), "{1: [\"FIDO_2_0\", h'0102']}");
    }

    /// The whole client against a softkey served on loopback UDP.
    #[test]
    fn manages_a_key_over_udp() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::{Duration, Instant};

        use rand::SeedableRng;
        use softkey_authenticator::secret::Secret32;
        use softkey_authenticator::store::MemoryStore;
        use softkey_authenticator::{Authenticator, Config};
        use softkey_transport::ctaphid::{CAPABILITY_CBOR, CAPABILITY_NMSG};
        use softkey_transport::udp::UdpDevice;
        use softkey_transport::{DeviceConfig, HidDevice};

        let auth = Authenticator::new(
            Config {
                reset_window: None,
                ..Config::default()
            },
            MemoryStore::new(Secret32::new([3; 32])),
            rand::rngs::StdRng::seed_from_u64(3),
            Instant::now(),
        );
        let hid = HidDevice::new(DeviceConfig {
            capabilities: CAPABILITY_CBOR | CAPABILITY_NMSG,
            device_version: (0, 1, 0),
            msg_enabled: false,
            cid_seed: 3,
        });
        let mut device = crate::runtime::KeyDevice::new(
            hid,
            auth,
            Box::new(crate::presence::danger::AutoApprove),
            Duration::from_secs(5),
        );
        let mut socket = UdpDevice::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let serving = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || crate::udp::serve(&mut device, &mut socket, &stop))
        };
        let result = (|| -> anyhow::Result<Vec<String>> {
            let mut client = Client::new(HostClient::new(UdpHost::connect(addr)?))?;
            let mut out = Vec::new();
            let mut run = |client: &mut Client<UdpHost>, command, pin: Option<&str>| {
                client.run(command, pin.map(str::to_owned), &mut out)
            };
            run(&mut client, ClientCommand::Info, None)?;
            run(
                &mut client,
                ClientCommand::Pin(PinCommand::Set),
                Some("1234"),
            )?;
            run(&mut client, ClientCommand::Pin(PinCommand::Retries), None)?;
            run(
                &mut client,
                ClientCommand::Pin(PinCommand::Change {
                    new: "56789".into(),
                }),
                Some("1234"),
            )?;
            let wrong = run(
                &mut client,
                ClientCommand::Creds(CredsCommand::List),
                Some("1234"),
            );
            assert!(wrong.unwrap_err().to_string().contains("PIN_INVALID"));
            run(
                &mut client,
                ClientCommand::Creds(CredsCommand::List),
                Some("56789"),
            )?;
            run(
                &mut client,
                ClientCommand::Config(ConfigCommand::AlwaysUv),
                Some("56789"),
            )?;
            run(
                &mut client,
                ClientCommand::Config(ConfigCommand::PinComplexity),
                Some("56789"),
            )?;
            let not_capable = run(
                &mut client,
                ClientCommand::Config(ConfigCommand::EnterpriseAttestation),
                Some("56789"),
            );
            assert!(
                not_capable
                    .unwrap_err()
                    .to_string()
                    .contains("INVALID_SUBCOMMAND")
            );
            run(
                &mut client,
                ClientCommand::Config(ConfigCommand::MinPin {
                    length: Some(6),
                    rp_ids: vec![],
                    force_change: false,
                }),
                Some("56789"),
            )?;
            run(&mut client, ClientCommand::Info, None)?;
            run(&mut client, ClientCommand::Reset, None)?;
            let retries = run(&mut client, ClientCommand::Pin(PinCommand::Retries), None);
            assert!(retries.unwrap_err().to_string().contains("PIN_NOT_SET"));
            Ok(String::from_utf8(out)?.lines().map(str::to_owned).collect())
        })();
        stop.store(true, Ordering::Relaxed);
        serving.join().unwrap().unwrap();
        let lines = result.unwrap();
        assert!(lines[0].contains("\"clientPin\": false"), "{}", lines[0]);
        assert_eq!(lines[1..4], ["PIN set", "8", "PIN changed"]);
        // No discoverable credentials: creds list prints nothing.
        assert_eq!(lines[4..7], ["configured", "configured", "configured"]);
        assert!(lines[7].contains("\"alwaysUv\": true"), "{}", lines[7]);
        assert!(lines[7].contains("13: 6"), "minPINLength 6: {}", lines[7]);
        assert!(
            lines[7].contains("12: true"),
            "forcePINChange: {}",
            lines[7]
        );
        assert!(
            lines[7].contains("27: true"),
            "pinComplexityPolicy: {}",
            lines[7]
        );
        assert!(lines[8].starts_with("reset"));
    }
}
