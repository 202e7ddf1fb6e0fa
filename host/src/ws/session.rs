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
    /// The session refused a request itself (duplicate id, too many subscriptions).
    fn refused(&mut self, id: &str, code: &str, message: &str, fx: &mut Vec<Effect>);
    /// When `timer` should next run, if ever.
    fn next_timer(&self) -> Option<Instant>;
    /// Periodic duties: pings, heart-beats, idle checks. `heard` is the last time anything
    /// arrived from the client.
    fn timer(&mut self, now: Instant, heard: Instant, fx: &mut Vec<Effect>);
    /// The credential expires in `remaining`; `remaining` zero means it has expired.
    fn expiring(&mut self, remaining: Duration, fx: &mut Vec<Effect>);
}

/// Why the session loop ended.
enum End {
    ClientGone,
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
    /// Until when a connection may stay without an identity.
    connect_deadline: Instant,
}

impl<D: Dialect> Session<D> {
    /// Runs a connection to its end. `identity` is known when the handshake carried a token.
    pub async fn run(socket: WebSocket, app: AppState, dialect: D, identity: Option<Identity>) {
        let connect_timeout = Duration::from_millis(app.config.http.connect_timeout_ms);
        let now = Instant::now();
        let mut session = Session {
            socket,
            app,
            dialect,
            attached: None,
            ids: HashSet::new(),
            heard: now,
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
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            let _ = session.socket.send(Message::Close(Some(frame))).await;
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

    async fn serve(&mut self) -> End {
        let shutdown = self.app.shutdown.clone();
        let mut gap_flush = tokio::time::interval(GAP_FLUSH_INTERVAL);
        loop {
            let mut fx = Vec::new();
            let deadline = self.next_deadline();
            tokio::select! {
                _ = shutdown.cancelled() => return End::Close(CLOSE_RESTART, "server restarting".into()),
                out = recv(&mut self.attached) => match out {
                    Some(out) => {
                        if let (Outbound::Event(_), Some(a)) = (&out, &self.attached) {
                            a.handle.event_dequeued();
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
                        Some(Ok(Message::Close(_))) | None => return End::ClientGone,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(message)) => self.dialect.receive(message, &mut fx),
                        Some(Err(error)) => return self.read_failed(error),
                    }
                }
            }
            if let Some(end) = self.apply(fx).await {
                return end;
            }
        }
    }

    /// The earliest of the dialect's timer, the connect deadline and the token's expiry.
    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut deadline = self.dialect.next_timer().unwrap_or(far);
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
                deadline = deadline.min(Instant::now() + due);
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
        self.dialect.timer(now, self.heard, fx);
    }

    fn gaps(&mut self, fx: &mut Vec<Effect>) {
        if let Some(a) = &self.attached {
            for gap in a.handle.take_gaps() {
                self.dialect.gap(&gap, fx);
            }
        }
    }

    /// Keeps the id set in step with the hub: ids of ended subscriptions can be reused.
    fn forget_ended(&mut self, out: &Outbound) {
        match out {
            Outbound::Rejected { id, .. }
            | Outbound::Unsubscribed { id }
            | Outbound::Ended { id, .. } => {
                self.ids.remove(id);
            }
            _ => {}
        }
    }

    /// Carries out effects in order; returns how the session ends if one ends it.
    async fn apply(&mut self, fx: Vec<Effect>) -> Option<End> {
        let mut queue = std::collections::VecDeque::from(fx);
        while let Some(effect) = queue.pop_front() {
            let mut more = Vec::new();
            match effect {
                Effect::Send(message) => {
                    if self.socket.send(message).await.is_err() {
                        return Some(End::ClientGone);
                    }
                }
                Effect::Close(code, reason) => return Some(End::Close(code, reason)),
                Effect::Attach(identity) => self.attach(identity, &mut more).await,
                Effect::Reauth(token) => self.reauth(&token, &mut more),
                Effect::Subscribe { id, topic, from } => {
                    self.subscribe(id, topic, from, &mut more).await
                }
                Effect::Unsubscribe { id } => {
                    if !self.ids.contains(&id) {
                        self.dialect.refused(
                            &id,
                            "unknown_subscription",
                            "no subscription with this id",
                            &mut more,
                        );
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

    async fn subscribe(
        &mut self,
        id: Arc<str>,
        topic: String,
        from: Option<BTreeMap<i32, i64>>,
        fx: &mut Vec<Effect>,
    ) {
        let limit = self.app.config.http.max_subscriptions;
        if self.ids.contains(&id) {
            return self
                .dialect
                .refused(&id, "duplicate_id", "subscription id already in use", fx);
        }
        if self.ids.len() >= limit {
            metrics()
                .client_errors
                .with_label_values(&["subscription_limit"])
                .inc();
            let message = format!("at most {limit} subscriptions per connection");
            return self.dialect.refused(&id, "limit", &message, fx);
        }
        let Some(a) = &self.attached else { return };
        self.ids.insert(id.clone());
        a.link.subscribe(a.handle.id, id, topic, from).await;
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
        tracing::debug!(%error, "read failed");
        End::ClientGone
    }
}

/// The next hub message, or never while the connection has no tenant yet.
async fn recv(attached: &mut Option<Attached>) -> Option<Outbound> {
    match attached {
        Some(a) => a.queue.recv().await,
        None => std::future::pending().await,
    }
}
