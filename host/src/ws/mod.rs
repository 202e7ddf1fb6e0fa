//! The WebSocket endpoint: handshake with authentication, then one task per connection that
//! reads client requests and writes what the hub queued for it.

pub mod protocol;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Identity;
use crate::http::AppState;
use crate::hub::{ConnHandle, Outbound, TenantLink};
use crate::telemetry::metrics;
use protocol::{Notice, Request};

/// Bytes tungstenite reads from the socket at a time. Its default (128 KiB per connection)
/// would dominate memory with thousands of mostly idle clients.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How often a connection reports losses that no later message has carried yet.
const GAP_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Close codes (RFC 6455 and IANA registry).
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_RESTART: u16 = 1012;

/// `GET /ws`: authenticates, then upgrades.
pub async fn handler(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    State(app): State<AppState>,
) -> Response {
    let identity = match app
        .auth
        .identify(query.get("token").map(String::as_str), &headers)
    {
        Ok(identity) => identity,
        Err(error) => {
            metrics()
                .handshake_refusals
                .with_label_values(&[error.reason()])
                .inc();
            return (StatusCode::UNAUTHORIZED, error.to_string()).into_response();
        }
    };
    let Some(link) = app.hub.tenant(&identity.tenant) else {
        metrics()
            .handshake_refusals
            .with_label_values(&["unknown_tenant"])
            .inc();
        return (StatusCode::UNAUTHORIZED, "token names an unknown tenant").into_response();
    };
    let max = app.config.http.max_message_bytes;
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tracker = app.tracker.clone();
            tracker.track_future(Session::run(socket, app, identity, link))
        })
}

/// One connection's state on its own task.
struct Session {
    socket: WebSocket,
    app: AppState,
    link: TenantLink,
    handle: Arc<ConnHandle>,
    /// Subscription ids the client holds or has asked for, so duplicates and the
    /// per-connection limit are answered at once.
    ids: HashSet<Arc<str>>,
}

/// Why the session loop ended.
enum End {
    ClientGone,
    Close(u16, &'static str),
}

impl Session {
    async fn run(socket: WebSocket, app: AppState, identity: Identity, link: TenantLink) {
        let conn = app.hub.next_conn_id();
        let (handle, mut queue) = ConnHandle::new(
            conn,
            identity.tenant.clone(),
            app.config.delivery.queue_capacity,
        );
        link.attach(handle.clone(), identity.claims.clone()).await;
        let gauge = metrics()
            .connections
            .with_label_values(&[&identity.tenant, "json"]);
        gauge.inc();
        tracing::debug!(conn, tenant = %identity.tenant, subject = %identity.claims.subject, "connected");

        let mut session = Session {
            socket,
            app,
            link,
            handle,
            ids: HashSet::new(),
        };
        let welcome = Notice::Welcome {
            session: format!("{conn:x}"),
            tenant: &identity.tenant,
            subject: &identity.claims.subject,
            protocol: 1,
        };
        let end = match session.write(welcome.to_json()).await {
            Ok(()) => session.serve(&mut queue).await,
            Err(()) => End::ClientGone,
        };
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = session.socket.send(Message::Close(Some(frame))).await;
        }
        session.link.detach(conn).await;
        gauge.dec();
        tracing::debug!(conn, "disconnected");
    }

    async fn serve(&mut self, queue: &mut tokio::sync::mpsc::Receiver<Outbound>) -> End {
        let shutdown = self.app.shutdown.clone();
        let mut gap_flush = tokio::time::interval(GAP_FLUSH_INTERVAL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return End::Close(CLOSE_RESTART, "server restarting"),
                out = queue.recv() => {
                    let Some(out) = out else { return End::ClientGone };
                    if self.deliver(out).await.is_err() {
                        return End::ClientGone;
                    }
                    if self.handle.is_overloaded() {
                        metrics().client_errors.with_label_values(&["overloaded"]).inc();
                        return End::Close(CLOSE_POLICY, "client too slow to read its replies");
                    }
                }
                _ = gap_flush.tick() => {
                    if self.flush_gaps().await.is_err() {
                        return End::ClientGone;
                    }
                }
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if self.request(&text).await.is_err() {
                            return End::ClientGone;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if self.error("bad_request", "binary messages are not supported; send JSON text", None).await.is_err() {
                            return End::ClientGone;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => return End::ClientGone,
                    Some(Ok(_)) => {} // pings are answered by the library
                    Some(Err(error)) => return self.read_failed(error),
                },
            }
        }
    }

    /// Maps a read error to how the connection ends: an oversized message gets close code 1009.
    fn read_failed(&self, error: axum::Error) -> End {
        let text = error.to_string();
        if text.contains("too long") || text.contains("Space limit") {
            metrics()
                .client_errors
                .with_label_values(&["too_large"])
                .inc();
            return End::Close(CLOSE_TOO_BIG, "message too large");
        }
        tracing::debug!(conn = self.handle.id, %error, "read failed");
        End::ClientGone
    }

    /// Writes one hub message, keeping the local subscription ids in step with the hub. Losses
    /// recorded before the message was queued are reported first.
    async fn deliver(&mut self, out: Outbound) -> Result<(), ()> {
        self.flush_gaps().await?;
        match &out {
            Outbound::Event(event) => {
                self.handle.event_dequeued();
                let text = protocol::event_json(event);
                self.write(text).await?;
                if let Some(ts) = event.kafka_ts_ms {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    metrics()
                        .delivery_latency
                        .observe((now - ts).max(0) as f64 / 1000.0);
                }
                return Ok(());
            }
            Outbound::Rejected { id, .. }
            | Outbound::Unsubscribed { id }
            | Outbound::Ended { id, .. } => {
                self.ids.remove(id);
            }
            _ => {}
        }
        self.write(protocol::outbound_json(&out)).await
    }

    async fn flush_gaps(&mut self) -> Result<(), ()> {
        for gap in self.handle.take_gaps() {
            self.write(protocol::gap_json(&gap)).await?;
        }
        Ok(())
    }

    /// Handles one client request; protocol errors are answered and the connection stays.
    async fn request(&mut self, text: &str) -> Result<(), ()> {
        let request = match protocol::parse(text) {
            Ok(request) => request,
            Err(error) => {
                metrics()
                    .client_errors
                    .with_label_values(&["bad_request"])
                    .inc();
                return self.error("bad_request", &error.to_string(), None).await;
            }
        };
        match request {
            Request::Subscribe { id, topic, from } => {
                let from = match from.map(protocol::positions).transpose() {
                    Ok(from) => from,
                    Err(error) => {
                        return self
                            .error("bad_request", &error.to_string(), Some(&id))
                            .await
                    }
                };
                if self.ids.contains(id.as_str()) {
                    return self
                        .error("duplicate_id", "subscription id already in use", Some(&id))
                        .await;
                }
                if self.ids.len() >= self.app.config.http.max_subscriptions {
                    metrics()
                        .client_errors
                        .with_label_values(&["subscription_limit"])
                        .inc();
                    let message = format!(
                        "at most {} subscriptions per connection",
                        self.app.config.http.max_subscriptions
                    );
                    return self.error("limit", &message, Some(&id)).await;
                }
                let id: Arc<str> = id.into();
                self.ids.insert(id.clone());
                self.link.subscribe(self.handle.id, id, topic, from).await;
            }
            Request::Unsubscribe { id } => {
                if !self.ids.contains(id.as_str()) {
                    return self
                        .error(
                            "unknown_subscription",
                            "no subscription with this id",
                            Some(&id),
                        )
                        .await;
                }
                self.link.unsubscribe(self.handle.id, id.into()).await;
            }
        }
        Ok(())
    }

    async fn error(&mut self, code: &str, message: &str, id: Option<&str>) -> Result<(), ()> {
        self.write(Notice::Error { code, message, id }.to_json())
            .await
    }

    async fn write(&mut self, text: String) -> Result<(), ()> {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ())
    }
}
