//! The hub: from decoded batches to per-connection queues, through each tenant's filter.
//!
//! `Hub::dispatch` appends a batch to the recent window and hands it to every tenant worker;
//! connections reach their tenant's worker through a `TenantLink`.

mod conn;
mod window;
mod worker;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use conn::{ConnHandle, ConnId, EventOut, Gap, Outbound};
pub use window::{Slot, Window};
use worker::{Command, TenantWorker};
pub use worker::{ShadowReport, SwapOutcome, TenantEvent, TenantStatus};

use crate::config::Config;
use crate::event::Batch;
use crate::filter::{Claims, FilterEngine, FilterInstance, LoadedFilter, Purpose};

/// Commands waiting for one tenant worker. When full, the consumer waits (backpressure):
/// every filter call is bounded by its deadline, so a worker always makes progress. Deep
/// enough that a tenant whose filter is slow per call (and so merges queued batches into one
/// call) or is on its way to quarantine does not hold up the others; an entry is a pointer to
/// a batch every tenant shares.
const WORKER_QUEUE: usize = 1024;

/// Routes batches to tenants and connections to their tenant.
pub struct Hub {
    tenants: HashMap<String, TenantLink>,
    window: Arc<Window>,
    next_conn: AtomicU64,
}

/// A connection's way to its tenant's worker.
#[derive(Clone)]
pub struct TenantLink {
    pub name: Arc<str>,
    tx: mpsc::Sender<Command>,
    pub status: Arc<TenantStatus>,
}

impl Hub {
    /// Starts a worker thread per tenant, each on its first filter version. Workers report
    /// quarantines on `events`.
    pub fn start(
        config: &Config,
        engine: &FilterEngine,
        filters: HashMap<String, LoadedFilter>,
        events: mpsc::UnboundedSender<TenantEvent>,
    ) -> anyhow::Result<Arc<Self>> {
        let window = Arc::new(Window::new(config.delivery.window_events_per_partition));
        let mut tenants = HashMap::new();
        for (name, filter) in filters {
            let policy = config
                .tenants
                .get(&name)
                .map(|t| t.policy)
                .unwrap_or_default();
            let name: Arc<str> = name.as_str().into();
            // Instantiate once now so a filter that cannot even start fails start-up.
            FilterInstance::new(engine, &filter, name.clone(), Purpose::Validation)
                .map_err(|e| anyhow::anyhow!("starting filter of tenant {name}: {e}"))?;
            tracing::info!(tenant = %name, sha256 = %filter.sha256, "tenant filter loaded");
            let status = Arc::new(TenantStatus::default());
            let worker = TenantWorker::new(
                name.clone(),
                engine.clone(),
                filter,
                window.clone(),
                policy,
                status.clone(),
                events.clone(),
            )
            .with_merge_max(config.kafka.batch_max_events);
            let (tx, rx) = mpsc::channel(WORKER_QUEUE);
            std::thread::Builder::new()
                .name(format!("tenant-{name}"))
                .spawn(move || worker.run(rx))?;
            tenants.insert(name.to_string(), TenantLink { name, tx, status });
        }
        Ok(Arc::new(Self {
            tenants,
            window,
            next_conn: AtomicU64::new(1),
        }))
    }

    /// The tenants, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &TenantLink> {
        self.tenants.values()
    }

    pub fn window(&self) -> &Arc<Window> {
        &self.window
    }

    /// Makes a batch visible to resuming subscriptions, then routes it for every tenant.
    pub async fn dispatch(&self, batch: Batch) {
        let batch = Arc::new(batch);
        self.window.append(&batch);
        for link in self.tenants.values() {
            // A closed worker only happens at shutdown; nothing is left to deliver to.
            let _ = link.tx.send(Command::Route(batch.clone())).await;
        }
    }

    pub fn tenant(&self, name: &str) -> Option<TenantLink> {
        self.tenants.get(name).cloned()
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

impl TenantLink {
    async fn command(&self, command: Command) {
        // The worker only stops when the hub is dropped at shutdown.
        let _ = self.tx.send(command).await;
    }

    pub async fn attach(&self, conn: Arc<ConnHandle>, claims: Claims) {
        self.command(Command::Attach { conn, claims }).await;
    }

    pub async fn detach(&self, conn: ConnId) {
        self.command(Command::Detach { conn }).await;
    }

    pub async fn subscribe(
        &self,
        conn: ConnId,
        id: Arc<str>,
        topic: String,
        from: Option<BTreeMap<i32, i64>>,
    ) {
        self.command(Command::Subscribe {
            conn,
            id,
            topic,
            from,
        })
        .await;
    }

    /// The connection's queue has room again for catching-up subscriptions.
    pub async fn drained(&self, conn: ConnId) {
        self.command(Command::Drained { conn }).await;
    }

    /// Sends `message` to the connection after the replies to its earlier requests.
    pub async fn echo(&self, conn: ConnId, message: Outbound) {
        self.command(Command::Echo { conn, message }).await;
    }

    pub async fn unsubscribe(&self, conn: ConnId, id: Arc<str>) {
        self.command(Command::Unsubscribe { conn, id }).await;
    }

    /// Activates `filter` between two batches; see `TenantWorker::swap`.
    pub async fn swap(&self, filter: LoadedFilter) -> Result<SwapOutcome, String> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Swap { filter, reply }).await;
        answer
            .await
            .map_err(|_| "the tenant worker stopped".to_string())?
    }

    /// Starts a shadow of `filter`, or stops the running one (`None`).
    pub async fn shadow(
        &self,
        filter: Option<LoadedFilter>,
    ) -> Result<Option<ShadowReport>, String> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Shadow { filter, reply }).await;
        answer
            .await
            .map_err(|_| "the tenant worker stopped".to_string())?
    }

    /// The running shadow's report.
    pub async fn shadow_report(&self) -> Option<ShadowReport> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::ShadowReport { reply }).await;
        answer.await.ok().flatten()
    }
}
