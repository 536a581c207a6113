//! A minimal Chrome DevTools Protocol client over a minimal WebSocket client
//! (RFC 6455: client handshake, masked text frames out, unmasked frames in), enough to
//! drive a local headless Chromium from a test without pulling a WebSocket stack into
//! the workspace.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

/// A WebSocket connection to a loopback DevTools endpoint.
struct WebSocket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    mask_counter: u32,
}

impl WebSocket {
    fn connect(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or("DevTools URL is not ws://")?;
        let (host, path) = rest.split_once('/').ok_or("DevTools URL has no path")?;
        let stream =
            TcpStream::connect(host).map_err(|error| format!("connect {host}: {error}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|error| error.to_string())?;
        let mut writer = stream.try_clone().map_err(|error| error.to_string())?;
        // The key only has to be 16 bytes base64; the server's accept is not security-relevant here.
        write!(
            writer,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c29mdGtleS1ycC10ZXN0IQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .map_err(|error| error.to_string())?;
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader
            .read_line(&mut status)
            .map_err(|error| error.to_string())?;
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("WebSocket upgrade refused: {status}"));
        }
        loop {
            let mut line = String::new();
            reader
                .read_line(&mut line)
                .map_err(|error| error.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Ok(Self {
            reader,
            writer,
            mask_counter: 0x5eed_1234,
        })
    }

    fn send_text(&mut self, text: &str) -> Result<(), String> {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8]; // FIN, text
        match payload.len() {
            length @ 0..=125 => frame.push(0x80 | u8::try_from(length).expect("≤125")),
            length @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(length).expect("≤65535").to_be_bytes());
            }
            length => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&u64::try_from(length).expect("fits u64").to_be_bytes());
            }
        }
        // Clients must mask; the key need not be secret against a local browser.
        self.mask_counter = self
            .mask_counter
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12_345);
        let mask = self.mask_counter.to_be_bytes();
        frame.extend_from_slice(&mask);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(index, byte)| byte ^ mask[index % 4]),
        );
        self.writer
            .write_all(&frame)
            .map_err(|error| error.to_string())
    }

    fn read_exact(&mut self, count: usize) -> Result<Vec<u8>, String> {
        let mut buffer = vec![0; count];
        self.reader
            .read_exact(&mut buffer)
            .map_err(|error| format!("DevTools read: {error}"))?;
        Ok(buffer)
    }

    /// Reads one complete text message (reassembling fragments, skipping pings).
    fn receive_text(&mut self) -> Result<String, String> {
        let mut message = Vec::new();
        loop {
            let header = self.read_exact(2)?;
            let (fin, opcode) = (header[0] & 0x80 != 0, header[0] & 0x0f);
            let length = match header[1] & 0x7f {
                126 => usize::from(u16::from_be_bytes(
                    self.read_exact(2)?.try_into().expect("2 bytes"),
                )),
                127 => usize::try_from(u64::from_be_bytes(
                    self.read_exact(8)?.try_into().expect("8 bytes"),
                ))
                .map_err(|_| "frame too large")?,
                length => usize::from(length),
            };
            let payload = self.read_exact(length)?;
            match opcode {
                0x0 | 0x1 => message.extend_from_slice(&payload),
                0x8 => return Err("DevTools closed the connection".into()),
                _ => continue, // ping/pong/binary: not used by DevTools here
            }
            if fin {
                return String::from_utf8(message)
                    .map_err(|_| "DevTools sent non-UTF-8 text".into());
            }
        }
    }
}

/// A DevTools session: the browser connection, optionally attached to one page.
pub struct Cdp {
    socket: WebSocket,
    next_id: u64,
    session_id: Option<String>,
}

impl Cdp {
    /// Connects to the browser-level endpoint `ws://127.0.0.1:PORT/devtools/browser/…`.
    pub fn connect(url: &str) -> Result<Self, String> {
        Ok(Self {
            socket: WebSocket::connect(url)?,
            next_id: 1,
            session_id: None,
        })
    }

    /// Opens a new page and attaches to it (flattened session), so later calls go to the page.
    pub fn attach_new_page(&mut self) -> Result<(), String> {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_owned();
        let session = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        self.session_id = Some(
            session["sessionId"]
                .as_str()
                .ok_or("no sessionId")?
                .to_owned(),
        );
        Ok(())
    }

    /// Sends a command and waits for its result (events in between are ignored).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session_id) = &self.session_id {
            message["sessionId"] = json!(session_id);
        }
        self.socket.send_text(&message.to_string())?;
        loop {
            let reply: Value = serde_json::from_str(&self.socket.receive_text()?)
                .map_err(|error| error.to_string())?;
            if reply["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(reply["result"].clone());
        }
    }

    /// Evaluates a JavaScript expression in the page (awaiting promises) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(format!(
                "JavaScript exception in {expression:?}: {exception}"
            ));
        }
        Ok(result["result"]["value"].clone())
    }
}
