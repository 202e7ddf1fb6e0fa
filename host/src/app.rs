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
use crate::platform::store::VersionStore;
use crate::platform::{self, admin, control, Platform};

/// Runs the service until SIGINT or SIGTERM. `on_listen` is told the bound addresses of the
/// public and the admin listener (the binary prints them, so a user with port 0, or a test,
/// can find the service).
pub async fn run(
    mut config: Config,
    on_listen: impl FnOnce(std::net::SocketAddr, std::net::SocketAddr),
) -> anyhow::Result<()> {
    // Compiled components live beside the versions unless configured elsewhere.
    if config.filter.cache_dir.is_none() {
        config.filter.cache_dir = Some(config.admin.store_dir.join("compiled"));
    }
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let listener = TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("binding http.listen {}: {e}", config.http.listen))?;
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .map_err(|e| anyhow::anyhow!("binding admin.listen {}: {e}", config.admin.listen))?;
    let admin_listener_addr = admin_listener.local_addr()?;
    let auth = Arc::new(Authenticator::new(&config.api_keys, &config.auth)?);
    let engine = FilterEngine::new(config.filter.clone())?;
    let ready = Arc::new(AtomicBool::new(false));

    // With no brokers configured, an embedded one is started (and fed with bundled data below).
    let mut broker = None;
    let (brokers, start_from) = if config.embedded() {
        let embedded = embedded::start(&config.kafka, &config.admin.control_topic)?;
        let bootstrap = embedded.bootstrap.clone();
        broker = Some(embedded);
        (bootstrap, StartFrom::Earliest)
    } else {
        (config.kafka.brokers.clone(), config.kafka.start_from)
    };

    // The filter platform: versions on disk, the control topic read to its end, then every
    // tenant started on the version the fleet agrees on.
    let store = VersionStore::open(&config.admin.store_dir).map_err(|e| {
        anyhow::anyhow!(
            "opening admin.store_dir {}: {e}",
            config.admin.store_dir.display()
        )
    })?;
    let topic = &config.admin.control_topic;
    if !config.embedded() {
        if let Err(error) = control::ensure_topic(&brokers, topic).await {
            tracing::warn!(%error, topic, "could not create the control topic; expecting it to exist");
        }
    }
    let control_consumer = control::consumer(&brokers, topic)?;
    let mut assembler = control::Assembler::default();
    let from_topic = control::catch_up(&control_consumer, &store, &mut assembler).await;
    let initial = platform::initial_versions(&config, &store, &engine, from_topic)?;
    // Unbounded on purpose, and bounded in practice: a worker reports a quarantine once, and
    // is not quarantined again before another activation, so there are at most as many
    // events as activations. A bounded channel would make a worker thread (not async) choose
    // between blocking its tenant's routing and losing an automatic rollback.
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let hub = Hub::start(&config, &engine, initial.filters.clone(), events_tx)?;
    let producer = control::ControlProducer::new(&brokers, topic)?;
    let platform = Platform::new(
        config.clone(),
        store,
        engine,
        hub.clone(),
        producer,
        &initial,
    );
    platform.publish_initial(&initial).await?;
    tokio::spawn(
        platform
            .clone()
            .follow(control_consumer, assembler, shutdown.clone()),
    );
    tokio::spawn(platform.clone().watch_quarantines(events_rx));

    let replay_task = config.embedded().then(|| {
        let replay = embedded::replay(
            config.replay.clone(),
            config.kafka.clone(),
            brokers.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            if let Err(error) = replay.await {
                tracing::error!(%error, "replay stopped");
            }
        })
    });
    let mut consumer = tokio::spawn(consumer::run(
        config.kafka.clone(),
        brokers,
        start_from,
        hub.clone(),
        ready.clone(),
        shutdown.clone(),
    ));

    let admin_server = tokio::spawn({
        let router = admin::router(
            platform,
            &config.admin.tokens,
            config.admin.max_upload_bytes,
        );
        let (http, shutdown) = (config.http.clone(), shutdown.clone());
        async move { crate::http::serve(admin_listener, router, &http, shutdown).await }
    });
    on_listen(listener.local_addr()?, admin_listener_addr);
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
    let _ = tokio::time::timeout(grace, admin_server).await;
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
