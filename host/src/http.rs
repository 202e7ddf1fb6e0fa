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
