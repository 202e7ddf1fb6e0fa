//! The STOMP dialect: STOMP 1.0, 1.1 and 1.2 frames over the WebSocket, as `@stomp/stompjs`
//! speaks them. `docs/stomp.md` gives the mapping for frontend developers.
//!
//! Destinations are topics of the tenant's filter, optionally behind `/topic/`. Every MESSAGE
//! carries the event's Kafka position in `partition` and `offset` headers. Things the
//! specification lets a server refuse (SEND, transactions) are answered with an ERROR frame,
//! as are protocol errors; an ERROR always ends the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Message;

use super::{encode, Decoder, Frame, Item, Limits, Version};
use crate::auth::{AuthError, Authenticator, Identity};
use crate::config::StompConfig;
use crate::hub::{Gap, Outbound};
use crate::telemetry::metrics;
use crate::ws::session::{Dialect, Effect, CLOSE_NORMAL, CLOSE_POLICY};

mod subscriptions;

use subscriptions::{Pending, Subscription};

/// Unacknowledged messages remembered per subscription in the client ack modes. Beyond this
/// the oldest are taken as acknowledged: events are a live stream and are never redelivered.
const MAX_UNACKED: usize = 4096;
/// Prefix a destination may carry before the filter's topic.
const TOPIC_PREFIX: &str = "/topic/";

pub struct Stomp {
    auth: Arc<Authenticator>,
    /// The server's heart-beat offer, both ways, in milliseconds (0: none).
    heartbeat_ms: u64,
    decoder: Decoder,
    /// Set by CONNECT; `None` before.
    version: Option<Version>,
    /// Identity from the WebSocket handshake, used when CONNECT carries no credential.
    handshake_identity: Option<Identity>,
    /// The subprotocol the handshake agreed on, which caps the version.
    subprotocol: Option<Version>,
    session: String,
    subs: HashMap<Arc<str>, Subscription>,
    /// RECEIPTs owed once the hub confirms an UNSUBSCRIBE.
    /// Requests the hub has not answered yet, per subscription id, oldest first. The hub
    /// answers an id's requests in order, so each answer settles the front one; this keeps
    /// receipts right when a client re-uses an id or pipelines requests.
    pending: HashMap<Arc<str>, VecDeque<Pending>>,
    /// A DISCONNECT's receipt, sent once the frames before it are answered.
    disconnect_receipt: Option<String>,
    /// Set by DISCONNECT: further frames and events are ignored until the close.
    disconnecting: bool,
    messages_sent: u64,

    send_heartbeat_every: Option<Duration>,
    next_heartbeat: Instant,
}

impl Stomp {
    pub fn new(
        auth: Arc<Authenticator>,
        config: &StompConfig,
        handshake_identity: Option<Identity>,
        subprotocol: Option<Version>,
    ) -> Self {
        let now = Instant::now();
        let limits = Limits {
            max_frame_bytes: config.max_frame_bytes,
            max_headers: config.max_headers,
            ..Limits::default()
        };
        Self {
            auth,
            heartbeat_ms: config.heartbeat_ms,
            decoder: Decoder::new(limits),
            version: None,
            handshake_identity,
            subprotocol,
            session: String::new(),
            subs: HashMap::new(),
            pending: HashMap::new(),
            disconnect_receipt: None,
            disconnecting: false,
            messages_sent: 0,

            send_heartbeat_every: None,
            next_heartbeat: now,
        }
    }

    fn version(&self) -> Version {
        self.version.unwrap_or(Version::V1_2)
    }

    /// Queues a frame as one text message.
    fn send(&self, frame: Frame, fx: &mut Vec<Effect>) {
        match encode(&frame, self.version()) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into());
                fx.push(Effect::Send(Message::Text(text.into())));
            }
            Err(error) => {
                tracing::error!(%error, command = %frame.command, "STOMP frame not encodable")
            }
        }
    }

    /// Sends an ERROR frame and ends the connection, as the specification requires.
    fn error(
        &self,
        message: &str,
        receipt: Option<&str>,
        detail: &str,
        code: u16,
        fx: &mut Vec<Effect>,
    ) {
        metrics()
            .client_errors
            .with_label_values(&["stomp_error"])
            .inc();
        let mut frame = Frame::new("ERROR").with_header("message", message);
        if let Some(receipt) = receipt {
            frame = frame.with_header("receipt-id", receipt);
        }
        let frame = frame
            .with_header("content-type", "text/plain")
            .with_body_and_length(detail.to_string());
        self.send(frame, fx);
        fx.push(Effect::Close(code, truncate(message, 120)));
    }

    /// The oldest unanswered request of subscription `id`.
    fn settle(&mut self, id: &Arc<str>) -> Option<Pending> {
        let queue = self.pending.get_mut(id)?;
        let front = queue.pop_front();
        if queue.is_empty() {
            self.pending.remove(id);
        }
        front
    }

    fn receipt_for(&self, receipt: Option<String>, fx: &mut Vec<Effect>) {
        if let Some(receipt) = receipt {
            self.send(Frame::new("RECEIPT").with_header("receipt-id", receipt), fx);
        }
    }

    /// Checks that client-chosen values can be written back in this version's headers (1.0
    /// and 1.1 cannot carry a carriage return, for example), so that no later MESSAGE or
    /// RECEIPT fails to encode.
    fn encodable(&self, values: &[&str]) -> Result<(), String> {
        let mut probe = Frame::new("MESSAGE");
        for value in values {
            probe = probe.with_header("subscription", *value);
        }
        encode(&probe, self.version())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn receipt(&self, frame: &Frame, fx: &mut Vec<Effect>) {
        if let Some(receipt) = frame.header("receipt") {
            self.send(Frame::new("RECEIPT").with_header("receipt-id", receipt), fx);
        }
    }

    fn frame(&mut self, frame: Frame, fx: &mut Vec<Effect>) {
        if self.version.is_none() {
            return self.connect(frame, fx);
        }
        if self.disconnecting {
            return; // Nothing after DISCONNECT counts.
        }
        let receipt = frame.header("receipt").map(String::from);
        if let Some(Err(why)) = receipt.as_deref().map(|r| self.encodable(&[r])) {
            return self.error(
                &format!("receipt header: {why}"),
                None,
                "",
                CLOSE_POLICY,
                fx,
            );
        }
        match frame.command.as_str() {
            "SUBSCRIBE" => self.subscribe(frame, fx),
            "UNSUBSCRIBE" => self.unsubscribe(frame, fx),
            "ACK" | "NACK" => self.acknowledge(frame, fx),
            "DISCONNECT" => {
                // The receipt, and the close, follow the answers to every earlier frame.
                self.disconnecting = true;
                self.disconnect_receipt = receipt;
                fx.push(Effect::Barrier);
            }

            "CONNECT" | "STOMP" => self.error(
                "already connected",
                receipt.as_deref(),
                "",
                CLOSE_POLICY,
                fx,
            ),
            "SEND" => self.error(
                "SEND is not supported",
                receipt.as_deref(),
                "flightcast only delivers flight events from Kafka; produce to Kafka to publish",
                CLOSE_POLICY,
                fx,
            ),
            "BEGIN" | "COMMIT" | "ABORT" => self.error(
                "transactions are not supported",
                receipt.as_deref(),
                "",
                CLOSE_POLICY,
                fx,
            ),
            other => {
                let message = format!("unknown command {}", truncate(other, 32));
                self.error(&message, receipt.as_deref(), "", CLOSE_POLICY, fx)
            }
        }
    }

    fn connect(&mut self, frame: Frame, fx: &mut Vec<Effect>) {
        let receipt = frame.header("receipt");
        if frame.command != "CONNECT" && frame.command != "STOMP" {
            let message = format!("expected CONNECT, got {}", truncate(&frame.command, 32));
            return self.error(&message, receipt, "", CLOSE_POLICY, fx);
        }
        let mut version = Version::negotiate(frame.header("accept-version"));
        if let (Some(v), Some(cap)) = (version, self.subprotocol) {
            version = Some(v.min(cap));
        }
        let Some(version) = version else {
            let mut error = Frame::new("ERROR")
                .with_header("version", "1.0,1.1,1.2")
                .with_header(
                    "message",
                    "supported protocol versions are 1.0, 1.1 and 1.2",
                );
            error = error
                .with_header("content-type", "text/plain")
                .with_body_and_length("");
            self.send(error, fx);
            return fx.push(Effect::Close(
                CLOSE_POLICY,
                "unsupported STOMP version".into(),
            ));
        };
        self.version = Some(version);
        self.decoder.set_version(version);
        self.negotiate_heartbeat(frame.header("heart-beat"));

        let present = |name: &str| frame.header(name).filter(|t| !t.is_empty());
        let token = present("passcode")
            .or(present("token"))
            .or(frame.header("Authorization").and_then(crate::auth::bearer));
        let identity = match (token, self.handshake_identity.take()) {
            (Some(token), _) => self.auth.verify(token),
            (None, Some(identity)) => Ok(identity),
            (None, None) => Err(AuthError::Missing),
        };
        match identity {
            Ok(identity) => fx.push(Effect::Attach(identity)),
            Err(error) => self.auth_failed(error, fx),
        }
    }

    /// Heart-beats as the specification negotiates them: each side sends at the larger of
    /// what it can do and what the other wants, or not at all if either says 0.
    fn negotiate_heartbeat(&mut self, header: Option<&str>) {
        // Only the second value matters here: how often the client wants to hear from us.
        // The client's own heart-beats need no timer: any traffic, heart-beat or pong, keeps
        // the connection out of the idle timeout, and the WebSocket pings make that safe for
        // browsers whose background tabs throttle timers. An unreadable header means none.
        let wanted = header
            .and_then(|h| h.split_once(','))
            .and_then(|(_, y)| y.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // STOMP 1.0 has no heart-beating.
        let both = wanted > 0 && self.heartbeat_ms > 0 && self.version() != Version::V1_0;
        // Capped at an hour so that an absurd value cannot overflow the timer.
        let every = wanted.max(self.heartbeat_ms).min(3_600_000);
        self.send_heartbeat_every = both.then(|| Duration::from_millis(every));
        self.next_heartbeat = Instant::now() + self.send_heartbeat_every.unwrap_or_default();
    }
}

impl Dialect for Stomp {
    fn name(&self) -> &'static str {
        "stomp"
    }

    fn attached(&mut self, identity: &Identity, session: &str, fx: &mut Vec<Effect>) {
        self.session = session.to_string();
        let heartbeat = format!(
            "{},{}",
            self.send_heartbeat_every
                .map_or(0, |d| d.as_millis() as u64),
            if self.version() == Version::V1_0 {
                0
            } else {
                self.heartbeat_ms
            }
        );
        let connected = Frame::new("CONNECTED")
            .with_header("version", self.version().as_str())
            .with_header("heart-beat", heartbeat)
            .with_header("server", concat!("flightcast/", env!("CARGO_PKG_VERSION")))
            .with_header("session", session)
            .with_header("user-name", identity.claims.subject.clone());
        self.send(connected, fx);
    }

    fn auth_failed(&mut self, error: AuthError, fx: &mut Vec<Effect>) {
        metrics()
            .handshake_refusals
            .with_label_values(&[error.reason()])
            .inc();
        self.error(&error.to_string(), None, "", CLOSE_POLICY, fx);
    }

    fn receive(&mut self, message: Message, fx: &mut Vec<Effect>) {
        match &message {
            Message::Text(text) => self.decoder.push(text.as_bytes()),
            Message::Binary(bytes) => self.decoder.push(bytes),
            _ => return,
        }
        loop {
            match self.decoder.next() {
                Ok(Some(Item::Frame(frame))) => self.frame(frame, fx),
                Ok(Some(Item::HeartBeat)) => {}
                Ok(None) => return,
                Err(error) => return self.error(&error.to_string(), None, "", CLOSE_POLICY, fx),
            }
            if fx.iter().any(|e| matches!(e, Effect::Close(..))) {
                return;
            }
        }
    }

    fn deliver(&mut self, message: Outbound, fx: &mut Vec<Effect>) {
        match message {
            // After DISCONNECT the client wants its receipt, not the rest of a backlog.
            Outbound::Event(_) if self.disconnecting => {}
            Outbound::Event(event) => self.message(&event, fx),
            Outbound::Subscribed { id, .. } => {
                if let Some(Pending::Subscribe(receipt, sub)) = self.settle(&id) {
                    self.subs.insert(id, sub);
                    self.receipt_for(receipt, fx);
                }
            }
            Outbound::Rejected { id, topic, reason } => {
                let receipt = self.settle(&id).and_then(Pending::receipt);
                let message = format!(
                    "subscription to {} refused: {}",
                    truncate(&topic, 64),
                    reason
                );
                self.error(&message, receipt.as_deref(), &reason, CLOSE_POLICY, fx);
            }
            Outbound::Refused { id, message, .. } => {
                let receipt = self.settle(&id).and_then(Pending::receipt);
                self.error(
                    &format!("{message}: {id}"),
                    receipt.as_deref(),
                    "",
                    CLOSE_POLICY,
                    fx,
                );
            }
            Outbound::Unsubscribed { id } => {
                self.subs.remove(&id);
                if let Some(Pending::Unsubscribe(receipt)) = self.settle(&id) {
                    self.receipt_for(receipt, fx);
                }
            }
            Outbound::Ended { id, reason } => {
                self.subs.remove(&id);
                self.error(
                    &format!("subscription {id} ended: {reason}"),
                    None,
                    &reason,
                    CLOSE_POLICY,
                    fx,
                );
            }
            Outbound::CaughtUp { id } => self.notice(vec![id], "caught_up", &[], "{}".into(), fx),
            Outbound::Gap(gap) => self.gap(&gap, fx),
            Outbound::Barrier if self.disconnecting => {
                let receipt = self.disconnect_receipt.take();
                self.receipt_for(receipt, fx);
                fx.push(Effect::Close(CLOSE_NORMAL, "disconnected".into()));
            }
            Outbound::Barrier => {}
        }
    }

    fn gap(&mut self, gap: &Gap, fx: &mut Vec<Effect>) {
        let ids: Vec<Arc<str>> = self.subs.keys().cloned().collect();
        let headers = [
            ("reason", gap.reason.to_string()),
            ("partition", gap.partition.to_string()),
            ("from", gap.from.to_string()),
            ("to", gap.to.to_string()),
        ];
        let body = crate::ws::protocol::gap_json(gap);
        self.notice(ids, "gap", &headers, body, fx);
    }

    fn next_timer(&self) -> Option<Instant> {
        self.send_heartbeat_every.map(|_| self.next_heartbeat)
    }

    fn timer(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if let Some(every) = self.send_heartbeat_every {
            if now >= self.next_heartbeat {
                self.next_heartbeat = now + every;
                fx.push(Effect::Send(Message::Text("\n".into())));
            }
        }
    }

    fn expiring(&mut self, remaining: Duration, fx: &mut Vec<Effect>) {
        if remaining.is_zero() {
            self.error("token expired", None, "", CLOSE_POLICY, fx);
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
