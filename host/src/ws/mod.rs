//! The WebSocket endpoint: the handshake (authentication, dialect), then a `Session` task per
//! connection.

pub mod json;
pub mod protocol;
pub mod session;

use std::collections::HashMap;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Authenticator;
use crate::stomp::session::Stomp;
use crate::stomp::Version;

use crate::http::AppState;
use crate::telemetry::metrics;
use session::Session;

/// Bytes tungstenite reads from the socket at a time. Its default (128 KiB per connection)
/// would dominate memory with thousands of mostly idle clients.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// STOMP subprotocols, preferred first.
const STOMP_SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];

/// `GET /ws`: the JSON protocol, or STOMP when the client offers a STOMP subprotocol (as
/// browsers using stompjs do). JSON needs the token at the handshake.
pub async fn handler(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    State(app): State<AppState>,
) -> Response {
    let token = Authenticator::from_handshake(query.get("token").map(String::as_str), &headers);
    let ws = ws.protocols(STOMP_SUBPROTOCOLS);
    if ws.selected_protocol().is_some() {
        return stomp(ws, app, token);
    }

    let identity = match app.auth.verify(token.unwrap_or_default()) {
        Ok(identity) if app.hub.tenant(&identity.tenant).is_some() => identity,
        Ok(_) => return refuse(crate::auth::AuthError::UnknownTenant),
        Err(error) => return refuse(error),
    };
    upgrade(ws, &app).on_upgrade(move |socket| {
        let tracker = app.tracker.clone();
        tracker.track_future(Session::run(socket, app, json::Json, Some(identity)))
    })
}

/// `GET /stomp`: STOMP for clients that offer no subprotocol (they get STOMP 1.2 at most).
pub async fn stomp_handler(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    State(app): State<AppState>,
) -> Response {
    let token = Authenticator::from_handshake(query.get("token").map(String::as_str), &headers);
    stomp(ws.protocols(STOMP_SUBPROTOCOLS), app, token)
}

/// Upgrades to STOMP. A token at the handshake is optional (CONNECT may carry one) but is
/// refused with 401 when present and invalid.
fn stomp(ws: WebSocketUpgrade, app: AppState, token: Option<&str>) -> Response {
    let identity = match token.map(|t| app.auth.verify(t)) {
        Some(Ok(identity)) => Some(identity),
        Some(Err(error)) => return refuse(error),
        None => None,
    };
    let subprotocol = ws.selected_protocol().and_then(|p| match p.as_bytes() {
        b"v10.stomp" => Some(Version::V1_0),
        b"v11.stomp" => Some(Version::V1_1),
        b"v12.stomp" => Some(Version::V1_2),
        _ => None,
    });
    let dialect = Stomp::new(app.auth.clone(), &app.config.stomp, identity, subprotocol);
    // A STOMP frame may fill a WebSocket message up to the frame limit.
    let max = app
        .config
        .http
        .max_message_bytes
        .max(app.config.stomp.max_frame_bytes);
    upgrade(ws, &app)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tracker = app.tracker.clone();
            tracker.track_future(Session::run(socket, app, dialect, None))
        })
}

/// Answers a handshake with 401 and the reason, counting it.
fn refuse(error: crate::auth::AuthError) -> Response {
    metrics()
        .handshake_refusals
        .with_label_values(&[error.reason()])
        .inc();
    let challenge = [(axum::http::header::WWW_AUTHENTICATE, "Bearer")];
    (StatusCode::UNAUTHORIZED, challenge, error.to_string()).into_response()
}

/// The upgrade with the per-connection limits applied.
fn upgrade(ws: WebSocketUpgrade, app: &AppState) -> WebSocketUpgrade {
    let max = app.config.http.max_message_bytes;
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
}
