//! The public HTTP listener: the live page, the WebSocket endpoint, metrics and health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::hub::Hub;
use crate::telemetry::metrics;

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub auth: Arc<Authenticator>,
    /// Set once the consumer has its partitions.
    pub ready: Arc<AtomicBool>,
    /// Cancelled at shutdown: every session closes with code 1012.
    pub shutdown: CancellationToken,
    /// Tracks sessions so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
}

/// The live demo page.
static INDEX_HTML: &str = include_str!("../assets/index.html");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/ws", get(crate::ws::handler))
        .route("/stomp", get(crate::ws::stomp_handler))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics().render(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Acquire) && !state.shutdown.is_cancelled() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Accepts connections until `shutdown`, then lets open requests finish (at most `grace`).
///
/// A hand-made accept loop rather than `axum::serve`, for two things it does not offer: a
/// deadline on reading a request's headers (a client that opens a connection and never
/// finishes its handshake is dropped) and per-socket options (TCP_NODELAY, and a small send
/// buffer so that a slow reader's backlog stays in its bounded, counted queue).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    http: &crate::config::HttpConfig,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_millis(http.handshake_timeout_ms));
    loop {
        let (tcp, _) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        if http.send_buffer_bytes > 0 {
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(http.send_buffer_bytes);
        }
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                router.clone().oneshot(request)
            });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    let grace = std::time::Duration::from_millis(http.shutdown_grace_ms);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}
