//! The filter platform: versions, validation, activation across the fleet, rollback, shadows,
//! dry runs and quarantine policies. `admin` is its HTTP face; `store` keeps versions on disk;
//! `control` carries uploads and activations through Kafka to every instance.

pub mod admin;
pub mod control;
mod operations;
pub mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{AdminRole, Config};
use crate::filter::{Event, FilterEngine, LoadedFilter, Validation};
use crate::hub::{Hub, SwapOutcome, TenantEvent};
use control::{Assembler, ControlProducer, ControlRecord};
use store::{now_rfc3339, sha256_hex, AuditEntry, TenantRecord, VersionMeta, VersionStore};

/// Sample events in a validation's smoke run.
const SMOKE_EVENTS: usize = 512;
/// Earlier versions remembered for rollback, per tenant.
const HISTORY: usize = 20;
/// How long an activation may take to come back from the control topic and be applied.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is calling, as their admin token says.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: AdminRole,
    /// For tenant tokens, their tenant.
    pub tenant: Option<String>,
}

impl Actor {
    /// The role as the audit log names it.
    pub fn role_name(&self) -> &'static str {
        match self.role {
            AdminRole::Operator => "operator",
            AdminRole::Tenant => "tenant",
        }
    }
}

/// Why an operation was refused. Each maps to one HTTP status in `admin`.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String, Option<Box<Validation>>),
    #[error("{0}")]
    Unavailable(String),
}

impl From<store::StoreError> for PlatformError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::NotFound(_) => PlatformError::NotFound(error.to_string()),
            store::StoreError::Ambiguous(_) | store::StoreError::BadName(_) => {
                PlatformError::BadRequest(error.to_string())
            }
            _ => PlatformError::Unavailable(error.to_string()),
        }
    }
}

/// A tenant as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub tenant: String,
    pub active: Option<VersionView>,
    /// The version a rollback would activate.
    pub rollback_to: Option<String>,
    pub health: &'static str,
    pub policy: crate::config::FailurePolicy,
    pub calls: u64,
    pub traps: u64,
    pub subscriptions: u64,
    pub connections: u64,
    pub shadow: Option<String>,
}

/// A version as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    #[serde(flatten)]
    pub meta: VersionMeta,
    pub active: bool,
}

/// The answer to an activation or rollback.
#[derive(Debug, Clone, Serialize)]
pub struct Activation {
    pub tenant: String,
    pub active: String,
    /// The version it replaced; none when nothing changed.
    pub previous: Option<String>,
    /// False when the version was already active (and healthy): nothing was done.
    pub changed: bool,
    #[serde(flatten)]
    pub outcome: SwapOutcome,
}

/// The running platform, shared by the admin API and the control-topic follower.
pub struct Platform {
    config: Arc<Config>,
    pub store: VersionStore,
    engine: FilterEngine,
    hub: Arc<Hub>,
    control: ControlProducer,
    samples: Vec<Event>,
    /// The latest record of every tenant, as applied here.
    records: Mutex<HashMap<String, TenantRecord>>,
    /// Per tenant, the id of the last record applied here and how its swap went.
    applied: Mutex<HashMap<String, Applied>>,
    applied_changed: watch::Sender<u64>,
    /// Shadowed version per tenant.
    shadows: Mutex<HashMap<String, String>>,
    /// Held by each change to a tenant (activation, rollback, deletion, shadow), so that on
    /// one instance each sees the state the one before left, and its audit entry says so.
    changing: tokio::sync::Mutex<()>,
    instance: String,
    next_id: AtomicU64,
}

/// The id of a tenant record applied here, and how its swap went.
type Applied = (String, Result<SwapOutcome, String>);

/// What start-up decided: the filter each tenant starts on, and what the control topic lacks.
pub struct Initial {
    pub filters: HashMap<String, LoadedFilter>,
    records: HashMap<String, TenantRecord>,
    /// Tenants whose record (and active version) must be published.
    publish: Vec<String>,
}

/// Decides each tenant's first version: the control topic's record, else this instance's
/// last record, else the configured file; a configured file that changed since the record was
/// made is activated over it.
pub fn initial_versions(
    config: &Config,
    store: &VersionStore,
    engine: &FilterEngine,
    from_topic: HashMap<String, TenantRecord>,
) -> anyhow::Result<Initial> {
    let mut initial = Initial {
        filters: HashMap::new(),
        records: HashMap::new(),
        publish: Vec::new(),
    };
    for (tenant, settings) in &config.tenants {
        let bytes = std::fs::read(&settings.filter).map_err(|e| {
            anyhow::anyhow!(
                "reading the filter of tenant {tenant}, {}: {e}",
                settings.filter.display()
            )
        })?;
        let configured = sha256_hex(&bytes);
        store.put(
            &bytes,
            VersionMeta {
                sha256: configured.clone(),
                tenant: tenant.clone(),
                size_bytes: bytes.len() as u64,
                uploaded_at: now_rfc3339(),
                uploader: "configuration".into(),
            },
        )?;
        let topic_record = from_topic
            .get(tenant)
            .filter(|r| r.active.as_deref().is_some_and(|a| store.has_component(a)));
        let mut publish = topic_record.is_none();
        let mut record = match topic_record {
            Some(record) => record.clone(),
            None => store.tenant_record(tenant)?.unwrap_or_default(),
        };
        if record.config_version.as_deref() != Some(&configured) || record.active.is_none() {
            let previous = record.active.take().filter(|a| *a != configured);
            record.history.extend(previous);
            record.active = Some(configured.clone());
            record.config_version = Some(configured.clone());
            record.action = "configuration".into();
            record.actor = "configuration".into();
            record.at = now_rfc3339();
            record.id = format!("config-{configured}");
            publish = true;
        }
        let active = record.active.clone().expect("record has an active version");
        let filter = engine
            .load_bytes(&store.component(&active)?)
            .map_err(|e| anyhow::anyhow!("loading the filter of tenant {tenant}: {e}"))?;
        store.set_tenant_record(tenant, &record)?;
        if publish {
            initial.publish.push(tenant.clone());
        }
        initial.filters.insert(tenant.clone(), filter);
        initial.records.insert(tenant.clone(), record);
    }
    Ok(initial)
}

impl Platform {
    pub fn new(
        config: Arc<Config>,
        store: VersionStore,
        engine: FilterEngine,
        hub: Arc<Hub>,
        control: ControlProducer,
        initial: &Initial,
    ) -> Arc<Self> {
        let instance = format!(
            "{:x}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        );
        Arc::new(Self {
            config,
            store,
            engine,
            hub,
            control,
            samples: crate::kafka::embedded::sample_events(SMOKE_EVENTS),
            records: Mutex::new(initial.records.clone()),
            applied: Mutex::new(HashMap::new()),
            applied_changed: watch::channel(0).0,
            shadows: Mutex::new(HashMap::new()),
            changing: tokio::sync::Mutex::new(()),
            instance,
            next_id: AtomicU64::new(1),
        })
    }

    /// Publishes what the control topic lacks after start-up, so other instances converge.
    pub async fn publish_initial(&self, initial: &Initial) -> anyhow::Result<()> {
        for tenant in &initial.publish {
            let record = &initial.records[tenant];
            let active = record
                .active
                .as_deref()
                .expect("initial records are active");
            if let Some(meta) = self.store.get(tenant, active)? {
                self.control
                    .publish_version(&meta, &self.store.component(active)?)
                    .await?;
            }
            self.control.publish_tenant(tenant, record).await?;
        }
        Ok(())
    }

    /// Applies control records as they arrive, until `shutdown`.
    pub async fn follow(
        self: Arc<Self>,
        consumer: control::ControlConsumer,
        mut assembler: Assembler,
        shutdown: CancellationToken,
    ) {
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = consumer.recv() => message,
            };
            let record = match message {
                Ok(message) => control::decode(&message),
                Err(rdkafka::error::KafkaError::PartitionEOF(_)) => continue,
                Err(error) => {
                    tracing::warn!(%error, "control topic: read failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            match record {
                Some(ControlRecord::Tenant { tenant, record }) => self.apply(tenant, record).await,
                Some(other) => assembler.apply(&self.store, other),
                None => {}
            }
        }
    }

    /// Makes a tenant record true here: swaps the tenant's worker to its active version.
    async fn apply(&self, tenant: String, record: TenantRecord) {
        let Some(link) = self.hub.tenant(&tenant) else {
            tracing::warn!(%tenant, "control topic: record for a tenant not configured here");
            return;
        };
        let Some(active) = record.active.clone() else {
            return;
        };
        let current = self
            .records
            .lock()
            .expect("records lock")
            .get(&tenant)
            .cloned();
        let unchanged = current.as_ref().is_some_and(|c| c.id == record.id);
        let outcome = if unchanged && link.status.active() == active {
            Ok(SwapOutcome {
                readmitted: link.status.subscriptions(),
                ended: 0,
            })
        } else {
            let filter = self
                .store
                .component(&active)
                .map_err(|e| e.to_string())
                .and_then(|bytes| self.engine.load_bytes(&bytes).map_err(|e| e.to_string()));
            match filter {
                Ok(filter) => link.swap(filter).await,
                Err(error) => Err(format!("loading version {active}: {error}")),
            }
        };
        match &outcome {
            Ok(_) => {
                if let Err(error) = self.store.set_tenant_record(&tenant, &record) {
                    tracing::error!(%tenant, %error, "could not persist the tenant record");
                }
                self.records
                    .lock()
                    .expect("records lock")
                    .insert(tenant.clone(), record.clone());
            }
            Err(error) => {
                tracing::error!(%tenant, version = %active, %error, "activation failed here; the previous version stays active")
            }
        }
        self.applied
            .lock()
            .expect("applied lock")
            .insert(tenant, (record.id, outcome));
        self.applied_changed.send_modify(|n| *n += 1);
    }

    /// Reacts to workers' reports: audits quarantines and, for `rollback` tenants, rolls back.
    pub async fn watch_quarantines(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<TenantEvent>,
    ) {
        while let Some(TenantEvent::Quarantined {
            tenant,
            version,
            policy,
            reason,
        }) = events.recv().await
        {
            let system = Actor {
                name: "flightcast".into(),
                role: AdminRole::Operator,
                tenant: None,
            };
            self.audit(
                &system,
                &tenant,
                "quarantine",
                Some(&version),
                "ok",
                Some(reason),
            );
            if policy == crate::config::FailurePolicy::Rollback {
                let result = self.rollback(&system, &tenant).await;
                let (outcome, detail) = match &result {
                    Ok(a) => ("ok", format!("rolled back to {}", a.active)),
                    Err(e) => ("refused", e.to_string()),
                };
                self.audit(
                    &system,
                    &tenant,
                    "auto-rollback",
                    Some(&version),
                    outcome,
                    Some(detail),
                );
            }
        }
    }

    /// Publishes a new record for `tenant` and waits until this instance has applied it.
    async fn publish_and_apply(
        &self,
        tenant: &str,
        mut record: TenantRecord,
    ) -> Result<SwapOutcome, PlatformError> {
        let id = format!(
            "{}-{}",
            self.instance,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        record.id = id.clone();
        record.at = now_rfc3339();
        let mut changed = self.applied_changed.subscribe();
        self.control
            .publish_tenant(tenant, &record)
            .await
            .map_err(|e| PlatformError::Unavailable(e.to_string()))?;
        let wait = async {
            loop {
                if let Some((applied, outcome)) =
                    self.applied.lock().expect("applied lock").get(tenant)
                {
                    if *applied == id {
                        return outcome.clone();
                    }
                }
                if changed.changed().await.is_err() {
                    return Err("the platform is stopping".into());
                }
            }
        };
        match tokio::time::timeout(APPLY_TIMEOUT, wait).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(reason)) => Err(PlatformError::Conflict(format!(
                "the version could not be activated: {reason}"
            ))),
            Err(_) => Err(PlatformError::Unavailable(format!(
                "the activation was written to the control topic but not applied within {APPLY_TIMEOUT:?}"
            ))),
        }
    }

    /// Writes an audit entry; a failure to write it is logged loudly but does not undo the
    /// change, which has already happened.
    fn audit(
        &self,
        actor: &Actor,
        tenant: &str,
        action: &str,
        version: Option<&str>,
        outcome: &str,
        detail: Option<String>,
    ) {
        let role = actor.role_name();
        self.audit_as(&actor.name, role, tenant, action, version, outcome, detail);
    }

    /// As `audit`, for whoever asked, authenticated or not.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn audit_as(
        &self,
        actor: &str,
        role: &str,
        tenant: &str,
        action: &str,
        version: Option<&str>,
        outcome: &str,
        detail: Option<String>,
    ) {
        let entry = AuditEntry {
            at: now_rfc3339(),
            actor: actor.into(),
            role: role.into(),
            tenant: tenant.into(),
            action: action.into(),
            version: version.map(Into::into),
            outcome: outcome.into(),
            detail,
        };
        if let Err(error) = self.store.audit(&entry) {
            tracing::error!(%error, ?entry, "audit log not written");
        }
    }

    fn record(&self, tenant: &str) -> TenantRecord {
        self.records
            .lock()
            .expect("records lock")
            .get(tenant)
            .cloned()
            .unwrap_or_default()
    }

    fn known_tenant(&self, tenant: &str) -> Result<crate::hub::TenantLink, PlatformError> {
        self.hub
            .tenant(tenant)
            .ok_or_else(|| PlatformError::NotFound(format!("no tenant {tenant:?}")))
    }
}
