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

use tokio::sync::mpsc;

pub use conn::{ConnHandle, ConnId, EventOut, Gap, Outbound};
pub use window::Window;
use worker::{Command, TenantWorker};

use crate::config::Config;
use crate::event::Batch;
use crate::filter::{Claims, FilterEngine, FilterInstance};

/// Commands waiting for one tenant worker. When full, the consumer waits (backpressure):
/// every filter call is bounded by its deadline, so a worker always makes progress.
const WORKER_QUEUE: usize = 64;

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
}

impl Hub {
    /// Loads every tenant's filter (failing start-up if one is unusable) and starts a worker
    /// thread per tenant.
    pub fn start(config: &Config, engine: &FilterEngine) -> anyhow::Result<Arc<Self>> {
        let window = Arc::new(Window::new(config.delivery.window_events_per_partition));
        let mut tenants = HashMap::new();
        for (name, tenant) in &config.tenants {
            let filter = engine
                .load(&tenant.filter)
                .map_err(|e| anyhow::anyhow!("loading the filter of tenant {name}: {e}"))?;
            let name: Arc<str> = name.as_str().into();
            // Instantiate once now so a filter that cannot even start fails start-up.
            FilterInstance::new(engine, &filter, name.clone())
                .map_err(|e| anyhow::anyhow!("starting filter of tenant {name}: {e}"))?;
            tracing::info!(tenant = %name, sha256 = %filter.sha256, "tenant filter loaded");
            let worker = TenantWorker::new(name.clone(), engine.clone(), filter, window.clone());
            let (tx, rx) = mpsc::channel(WORKER_QUEUE);
            std::thread::Builder::new()
                .name(format!("tenant-{name}"))
                .spawn(move || worker.run(rx))?;
            tenants.insert(name.to_string(), TenantLink { name, tx });
        }
        Ok(Arc::new(Self {
            tenants,
            window,
            next_conn: AtomicU64::new(1),
        }))
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
}
