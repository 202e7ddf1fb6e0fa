//! Start-up and shutdown: wires configuration, filters, the hub, Kafka and the listener.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::config::{Config, StartFrom};
use crate::filter::FilterEngine;
use crate::http::{router, AppState};
use crate::hub::Hub;
use crate::kafka::{consumer, embedded};

/// Runs the service until SIGINT or SIGTERM. `on_listen` is told the bound address (the
/// binary prints it, so a user with port 0, or a test, can find the service).
pub async fn run(
    config: Config,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let listener = TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("binding http.listen {}: {e}", config.http.listen))?;
    let auth = Arc::new(Authenticator::new(&config.api_keys, &config.auth)?);
    let engine = FilterEngine::new(config.filter.clone())?;
    let hub = Hub::start(&config, &engine)?;
    let ready = Arc::new(AtomicBool::new(false));

    // With no brokers configured, an embedded one is started and fed with bundled data.
    let mut broker = None;
    let mut replay_task = None;
    let (brokers, start_from) = if config.embedded() {
        let embedded = embedded::start(&config.kafka)?;
        let bootstrap = embedded.bootstrap.clone();
        broker = Some(embedded);
        let replay = embedded::replay(
            config.replay.clone(),
            config.kafka.clone(),
            bootstrap.clone(),
            shutdown.clone(),
        );
        replay_task = Some(tokio::spawn(async move {
            if let Err(error) = replay.await {
                tracing::error!(%error, "replay stopped");
            }
        }));
        (bootstrap, StartFrom::Earliest)
    } else {
        (config.kafka.brokers.clone(), config.kafka.start_from)
    };
    let mut consumer = tokio::spawn(consumer::run(
        config.kafka.clone(),
        brokers,
        start_from,
        hub.clone(),
        ready.clone(),
        shutdown.clone(),
    ));

    on_listen(listener.local_addr()?);
    let tracker = TaskTracker::new();
    let state = AppState {
        config: config.clone(),
        hub,
        auth,
        ready,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    };
    let server = tokio::spawn({
        let (http, shutdown) = (config.http.clone(), shutdown.clone());
        async move { crate::http::serve(listener, router(state), &http, shutdown).await }
    });

    tokio::select! {
        _ = termination() => tracing::info!("shutting down: closing sessions with code 1012"),
        result = &mut consumer => {
            shutdown.cancel();
            result??;
        }
    }
    shutdown.cancel();
    tracker.close();
    let grace = Duration::from_millis(config.http.shutdown_grace_ms);
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!("sessions still open after the shutdown grace period");
    }
    let _ = tokio::time::timeout(grace, server).await;
    // Kafka clients go before the embedded broker, so they do not log its disappearance.
    let _ = tokio::time::timeout(grace, consumer).await;
    if let Some(replay) = replay_task {
        let _ = tokio::time::timeout(grace, replay).await;
    }
    drop(broker);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn termination() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
