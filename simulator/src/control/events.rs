//! The live event stream of the control API: decoded CTAP traffic, presence
//! verdicts, injected faults and power cycles, as JSON, to Server-Sent Events
//! subscribers and a short history.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;
use tokio::sync::broadcast;

/// How many past events are kept for `GET …/events?history`.
const HISTORY: usize = 512;

/// One event, serialized once.
#[derive(Clone, Debug)]
pub struct Event {
    /// The authenticator it concerns.
    pub authenticator_id: String,
    /// Its JSON text.
    pub json: Arc<str>,
}

/// Where events go: cheap to clone, shared by every device.
#[derive(Clone)]
pub struct EventSink {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
    sequence: AtomicU64,
    started: Instant,
}

impl Default for EventSink {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                sender,
                history: Mutex::new(VecDeque::new()),
                sequence: AtomicU64::new(0),
                started: Instant::now(),
            }),
        }
    }
}

impl EventSink {
    /// Records and broadcasts an event of `kind` about `authenticator_id`.
    pub fn emit(&self, authenticator_id: &str, kind: &str, data: serde_json::Value) {
        let sequence = self.inner.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let elapsed = self.inner.started.elapsed().as_millis();
        let json = json!({
            "seq": sequence,
            "authenticatorId": authenticator_id,
            "type": kind,
            "timeMs": u64::try_from(elapsed).unwrap_or(u64::MAX),
            "data": data,
        });
        let event = Event {
            authenticator_id: authenticator_id.to_owned(),
            json: Arc::from(json.to_string()),
        };
        {
            let mut history = self.inner.history.lock().unwrap_or_else(|e| e.into_inner());
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(event.clone());
        }
        // No subscriber is not an error.
        let _ = self.inner.sender.send(event);
    }

    /// A new live subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.sender.subscribe()
    }

    /// Recent events of one authenticator (or all), oldest first.
    pub fn history(&self, authenticator_id: Option<&str>) -> Vec<Event> {
        let history = self.inner.history.lock().unwrap_or_else(|e| e.into_inner());
        history
            .iter()
            .filter(|e| authenticator_id.is_none_or(|id| e.authenticator_id == id))
            .cloned()
            .collect()
    }
}
