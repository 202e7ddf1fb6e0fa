//! One WebSocket connection on its own task, whatever its dialect (JSON or STOMP).
//!
//! The session owns the socket, the connection's queue from the hub, its timers (pings or
//! heart-beats, idle and connect timeouts, token expiry) and the bookkeeping of subscription
//! ids. The dialect turns client messages into effects and hub messages into frames.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::mpsc;

use crate::auth::{jwt, AuthError, Identity};
use crate::http::AppState;
use crate::hub::{ConnHandle, Gap, Outbound, TenantLink};
use crate::telemetry::metrics;

/// How often a connection reports losses that no later message has carried yet.
const GAP_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Close codes (RFC 6455 and the IANA registry).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL: u16 = 1002;
pub const CLOSE_INVALID_DATA: u16 = 1007;
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_TOO_BIG: u16 = 1009;
pub const CLOSE_RESTART: u16 = 1012;

/// What a dialect asks the session to do, in order.
pub enum Effect {
    /// Write a message to the client.
    Send(Message),
    /// The client has proved who it is: join its tenant.
    Attach(Identity),
    /// Verify a new credential for an attached connection (same tenant), extending its expiry.
    Reauth(String),
    Subscribe {
        id: Arc<str>,
        topic: String,
        from: Option<BTreeMap<i32, i64>>,
    },
    Unsubscribe {
        id: Arc<str>,
    },
    /// Ask for `Outbound::Barrier` once every earlier request has been answered.
    Barrier,
    /// Close with this code and reason after writing what came before.
    Close(u16, String),
}

/// A wire protocol spoken over the WebSocket.
pub trait Dialect: Send + 'static {
    /// The `protocol` label of the connection metrics.
    fn name(&self) -> &'static str;
    /// The connection now has an identity (at the handshake, or after a STOMP CONNECT).
    fn attached(&mut self, identity: &Identity, session: &str, fx: &mut Vec<Effect>);
    /// A credential was refused (at CONNECT or on re-authentication).
    fn auth_failed(&mut self, error: AuthError, fx: &mut Vec<Effect>);
    /// A text or binary message from the client.
    fn receive(&mut self, message: Message, fx: &mut Vec<Effect>);
    /// A message from the hub.
    fn deliver(&mut self, message: Outbound, fx: &mut Vec<Effect>);
    /// Events lost for this connection.
    fn gap(&mut self, gap: &Gap, fx: &mut Vec<Effect>);
    /// When `timer` should next run, if ever.
    fn next_timer(&self) -> Option<Instant>;
    /// The dialect's own periodic duties (STOMP heart-beats). Pings and the idle timeout are
    /// the session's.
    fn timer(&mut self, now: Instant, fx: &mut Vec<Effect>);
    /// The credential expires in `remaining`; `remaining` zero means it has expired.
    fn expiring(&mut self, remaining: Duration, fx: &mut Vec<Effect>);
}

/// Why the session loop ended.
enum End {
    ClientGone,
    /// The client sent a close frame; the library has queued the reply, which must be flushed.
    ClientClosed,
    Close(u16, String),
}

struct Attached {
    link: TenantLink,
    handle: Arc<ConnHandle>,
    queue: mpsc::Receiver<Outbound>,
    tenant: Arc<str>,
    expires_at: Option<std::time::SystemTime>,
    warned: bool,
}

pub struct Session<D: Dialect> {
    socket: WebSocket,
    app: AppState,
    dialect: D,
    attached: Option<Attached>,
    /// Subscription ids held or asked for, for duplicate and limit checks.
    ids: HashSet<Arc<str>>,
    heard: Instant,
    /// When the next WebSocket ping is due. Browsers answer pings without running page
    /// code, so they prove a connection alive even from a throttled background tab.
    next_ping: Instant,
    /// Until when a connection may stay without an identity.
    connect_deadline: Instant,
}

impl<D: Dialect> Session<D> {
    /// Runs a connection to its end. `identity` is known when the handshake carried a token.
    pub async fn run(socket: WebSocket, app: AppState, dialect: D, identity: Option<Identity>) {
        let connect_timeout = Duration::from_millis(app.config.http.connect_timeout_ms);
        let ping_interval = Duration::from_millis(app.config.http.ping_interval_ms);
        let now = Instant::now();
        let mut session = Session {
            socket,
            app,
            dialect,
            attached: None,
            ids: HashSet::new(),
            heard: now,
            next_ping: now + ping_interval,
            connect_deadline: now + connect_timeout,
        };
        let mut fx = Vec::new();
        if let Some(identity) = identity {
            fx.push(Effect::Attach(identity));
        }
        let end = match session.apply(fx).await {
            Some(end) => end,
            None => session.serve().await,
        };
        match end {
            End::Close(code, reason) => {
                let reason = Utf8Bytes::from(close_reason(reason));
                let _ = session
                    .socket
                    .send(Message::Close(Some(CloseFrame { code, reason })))
                    .await;
                session.await_close().await;
            }
            // The library queued the reply to the client's close frame; closing sends it.
            End::ClientClosed => {
                let _ = futures::SinkExt::close(&mut session.socket).await;
            }
            End::ClientGone => {}
        }
        if let Some(attached) = session.attached.take() {
            attached.link.detach(attached.handle.id).await;
            let name = session.dialect.name();
            metrics()
                .connections
                .with_label_values(&[&attached.tenant, name])
                .dec();
        }
    }

    /// After sending a close frame, reads (and drops) what the client still sends until its
    /// own close arrives, for at most the shutdown grace: closing the socket with unread
    /// data would make the kernel reset it, and the client would lose the last frames (a
    /// STOMP ERROR among them).
    async fn await_close(&mut self) {
        let grace = Duration::from_millis(self.app.config.http.shutdown_grace_ms);
        let drain = async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(grace, drain).await;
    }

    async fn serve(&mut self) -> End {
        let shutdown = self.app.shutdown.clone();
        let mut gap_flush = tokio::time::interval(GAP_FLUSH_INTERVAL);
        loop {
            let mut fx = Vec::new();
            // The Kafka timestamp of a live event being written, for the latency histogram.
            let mut written_at_ms = None;
            let deadline = self.next_deadline();
            tokio::select! {
                _ = shutdown.cancelled() => return End::Close(CLOSE_RESTART, "server restarting".into()),
                out = recv(&mut self.attached) => match out {
                    Some(out) => {
                        if let (Outbound::Event(event), Some(a)) = (&out, &self.attached) {
                            a.handle.event_dequeued();
                            if event.live {
                                written_at_ms = event.kafka_ts_ms;
                            }
                            if a.handle.take_drain_signal() {
                                a.link.drained(a.handle.id).await;
                            }
                        }
                        self.gaps(&mut fx);
                        self.forget_ended(&out);
                        self.dialect.deliver(out, &mut fx);
                        if self.attached.as_ref().is_some_and(|a| a.handle.is_overloaded()) {
                            metrics().client_errors.with_label_values(&["overloaded"]).inc();
                            let reason = "client too slow to read its replies".into();
                            fx.push(Effect::Close(CLOSE_POLICY, reason));
                        }
                    }
                    None => return End::ClientGone,
                },
                _ = gap_flush.tick() => self.gaps(&mut fx),
                _ = tokio::time::sleep_until(deadline.into()) => self.timers(&mut fx),
                incoming = self.socket.recv() => {
                    self.heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Close(_))) => return End::ClientClosed,
                        None => return End::ClientGone,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(message)) => self.dialect.receive(message, &mut fx),
                        Some(Err(error)) => return self.read_failed(error),
                    }
                }
            }
            if let Some(end) = self.apply(fx).await {
                return end;
            }
            if let Some(ts) = written_at_ms {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                let now_ms = now.map_or(0, |d| d.as_millis() as i64);
                metrics()
                    .delivery_latency
                    .observe((now_ms - ts).max(0) as f64 / 1000.0);
            }
        }
    }

    /// The earliest of the dialect's timer, the connect deadline and the token's expiry.
    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut deadline = self.dialect.next_timer().unwrap_or(far).min(self.next_ping);
        match &self.attached {
            None => deadline = deadline.min(self.connect_deadline),
            Some(Attached {
                expires_at: Some(at),
                warned,
                ..
            }) => {
                let notice = Duration::from_secs(self.app.config.auth.expiry_notice_s);
                let remaining = jwt::until(*at);
                let due = if *warned {
                    remaining
                } else {
                    remaining.saturating_sub(notice)
                };
                // At most a day ahead: a token valid for centuries must not overflow the clock.
                deadline = deadline.min(Instant::now() + due.min(Duration::from_secs(86_400)));
            }
            Some(_) => {}
        }
        deadline
    }

    fn timers(&mut self, fx: &mut Vec<Effect>) {
        let now = Instant::now();
        if self.attached.is_none() && now >= self.connect_deadline {
            metrics()
                .client_errors
                .with_label_values(&["connect_timeout"])
                .inc();
            fx.push(Effect::Close(
                CLOSE_POLICY,
                "no CONNECT frame in time".into(),
            ));
            return;
        }
        if let Some(a) = &mut self.attached {
            if let Some(at) = a.expires_at {
                let remaining = jwt::until(at);
                let notice = Duration::from_secs(self.app.config.auth.expiry_notice_s);
                if remaining.is_zero() || (!a.warned && remaining <= notice) {
                    a.warned = true;
                    self.dialect.expiring(remaining, fx);
                }
            }
        }
        let http = &self.app.config.http;
        if now.duration_since(self.heard) >= Duration::from_millis(http.idle_timeout_ms) {
            metrics()
                .client_errors
                .with_label_values(&["idle_timeout"])
                .inc();
            return fx.push(Effect::Close(CLOSE_GOING_AWAY, "idle timeout".into()));
        }
        if now >= self.next_ping {
            self.next_ping = now + Duration::from_millis(http.ping_interval_ms);
            fx.push(Effect::Send(Message::Ping(Default::default())));
        }
        self.dialect.timer(now, fx);
    }

    fn gaps(&mut self, fx: &mut Vec<Effect>) {
        if let Some(a) = &self.attached {
            for gap in a.handle.take_gaps() {
                self.dialect.gap(&gap, fx);
            }
        }
    }

    /// Keeps the id set in step with the hub: ids the hub refused or ended can be reused.
    /// (An unsubscribed id is freed when the client asks, since the worker handles requests
    /// in order.)
    fn forget_ended(&mut self, out: &Outbound) {
        if let Outbound::Rejected { id, .. } | Outbound::Ended { id, .. } = out {
            self.ids.remove(id);
        }
    }

    /// Carries out effects in order; returns how the session ends if one ends it.
    async fn apply(&mut self, fx: Vec<Effect>) -> Option<End> {
        let mut queue = std::collections::VecDeque::from(fx);
        while let Some(effect) = queue.pop_front() {
            let mut more = Vec::new();
            match effect {
                Effect::Send(message) => {
                    // A client that takes no bytes for the idle timeout is not reading at all;
                    // without this bound its task would wait in the write forever.
                    let limit = Duration::from_millis(self.app.config.http.idle_timeout_ms);
                    match tokio::time::timeout(limit, self.socket.send(message)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return Some(End::ClientGone),
                        Err(_) => {
                            metrics()
                                .client_errors
                                .with_label_values(&["write_timeout"])
                                .inc();
                            return Some(End::ClientGone);
                        }
                    }
                }
                Effect::Close(code, reason) => return Some(End::Close(code, reason)),
                Effect::Attach(identity) => self.attach(identity, &mut more).await,
                Effect::Reauth(token) => self.reauth(&token, &mut more),
                Effect::Subscribe { id, topic, from } => self.subscribe(id, topic, from).await,
                Effect::Barrier => match &self.attached {
                    Some(a) => a.link.echo(a.handle.id, Outbound::Barrier).await,
                    None => self.dialect.deliver(Outbound::Barrier, &mut more),
                },
                Effect::Unsubscribe { id } => {
                    if !self.ids.remove(&id) {
                        let message = "no subscription with this id".into();
                        self.refuse(id, "unknown_subscription", message).await;
                    } else if let Some(a) = &self.attached {
                        a.link.unsubscribe(a.handle.id, id).await;
                    }
                }
            }
            // Effects a step caused run before the rest of the queue.
            for effect in more.into_iter().rev() {
                queue.push_front(effect);
            }
        }
        None
    }

    async fn attach(&mut self, identity: Identity, fx: &mut Vec<Effect>) {
        if self.attached.is_some() {
            return;
        }
        let Some(link) = self.app.hub.tenant(&identity.tenant) else {
            metrics()
                .handshake_refusals
                .with_label_values(&["unknown_tenant"])
                .inc();
            return self.dialect.auth_failed(AuthError::UnknownTenant, fx);
        };
        let id = self.app.hub.next_conn_id();
        let capacity = self.app.config.delivery.queue_capacity;
        let (handle, queue) = ConnHandle::new(id, identity.tenant.clone(), capacity);
        link.attach(handle.clone(), identity.claims.clone()).await;
        metrics()
            .connections
            .with_label_values(&[&identity.tenant, self.dialect.name()])
            .inc();
        tracing::debug!(conn = id, tenant = %identity.tenant, subject = %identity.claims.subject, "connected");
        self.dialect.attached(&identity, &format!("{id:x}"), fx);
        self.attached = Some(Attached {
            link,
            handle,
            queue,
            tenant: identity.tenant,
            expires_at: identity.expires_at,
            warned: false,
        });
    }

    fn reauth(&mut self, token: &str, fx: &mut Vec<Effect>) {
        let Some(a) = &mut self.attached else { return };
        match self.app.auth.verify(token) {
            Ok(identity) if identity.tenant == a.tenant => {
                a.expires_at = identity.expires_at;
                a.warned = false;
            }
            Ok(_) => self.dialect.auth_failed(AuthError::UnknownTenant, fx),
            Err(error) => self.dialect.auth_failed(error, fx),
        }
    }

    async fn subscribe(&mut self, id: Arc<str>, topic: String, from: Option<BTreeMap<i32, i64>>) {
        let limit = self.app.config.http.max_subscriptions;
        if self.ids.contains(&id) {
            let message = "subscription id already in use".into();
            return self.refuse(id, "duplicate_id", message).await;
        }
        if self.ids.len() >= limit {
            let message = format!("at most {limit} subscriptions per connection");
            return self.refuse(id, "limit", message).await;
        }
        let Some(a) = &self.attached else { return };
        self.ids.insert(id.clone());
        a.link.subscribe(a.handle.id, id, topic, from).await;
    }

    /// Refuses a request in order with the replies to the connection's earlier requests.
    async fn refuse(&mut self, id: Arc<str>, code: &'static str, message: String) {
        metrics().client_errors.with_label_values(&[code]).inc();
        if let Some(a) = &self.attached {
            a.link
                .echo(a.handle.id, Outbound::Refused { id, code, message })
                .await;
        }
    }

    /// Maps a read error to how the connection ends: an oversized message gets code 1009.
    fn read_failed(&self, error: axum::Error) -> End {
        let text = error.to_string();
        if text.contains("too long") || text.contains("Space limit") {
            metrics()
                .client_errors
                .with_label_values(&["too_large"])
                .inc();
            return End::Close(CLOSE_TOO_BIG, "message too large".into());
        }
        // Broken framing or text that is not UTF-8: say so with the matching close code.
        let (code, label, reason) = if text.contains("UTF-8") || text.contains("utf-8") {
            (
                CLOSE_INVALID_DATA,
                "invalid_utf8",
                "text message is not UTF-8",
            )
        } else if text.contains("protocol") || text.contains("Protocol") {
            (
                CLOSE_PROTOCOL,
                "websocket_protocol",
                "WebSocket protocol violation",
            )
        } else {
            tracing::debug!(%error, "read failed");
            return End::ClientGone;
        };
        metrics().client_errors.with_label_values(&[label]).inc();
        End::Close(code, reason.into())
    }
}

/// The next hub message, or never while the connection has no tenant yet.
async fn recv(attached: &mut Option<Attached>) -> Option<Outbound> {
    match attached {
        Some(a) => a.queue.recv().await,
        None => std::future::pending().await,
    }
}

/// A close reason fits in a control frame: at most 123 bytes, cut on a character boundary.
fn close_reason(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| reason.is_char_boundary(i))
            .unwrap_or(0);
        reason.truncate(cut);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::close_reason;

    #[test]
    fn close_reason_fits_a_control_frame_on_a_character_boundary() {
        assert_eq!(close_reason("ok".into()), "ok");
        let exact = "a".repeat(123);
        assert_eq!(close_reason(exact.clone()), exact);
        let accents = format!("x{}", "é".repeat(80));
        let cut = close_reason(accents);
        assert!(cut.len() <= 123 && cut.len() >= 122);
        assert!(cut.ends_with('é'));
    }
}
