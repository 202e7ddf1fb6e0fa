//! A tenant worker: one thread per tenant that owns the tenant's filter instance, its
//! subscriptions and the interest-key index, and turns each batch into per-connection sends.
//!
//! Everything a tenant does passes through its worker's queue in order, so an admission is
//! always settled before the next batch is routed, and no locks guard the index.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;

mod catchup;
mod lifecycle;
mod route;
mod shadow;

pub use lifecycle::{SwapOutcome, TenantEvent, TenantStatus};
pub use shadow::ShadowReport;

use super::conn::{ConnHandle, ConnId, Outbound};
use super::window::Window;
use crate::config::FailurePolicy;
use crate::event::{Batch, RecordMeta};
use crate::filter::{
    Admission, Claims, FilterEngine, FilterFailure, FilterInstance, LoadedFilter, Purpose,
};
use crate::telemetry::metrics;

/// After this many traps in one batch, the rest of the batch is dropped for the tenant instead
/// of retried event by event: a filter that traps on everything must not stall the worker.
const MAX_TRAPS_PER_BATCH: usize = 8;
/// Traps counted towards quarantine are the ones within this window.
const TRAP_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// A request to a tenant worker.
pub enum Command {
    Attach {
        conn: Arc<ConnHandle>,
        claims: Claims,
    },
    Detach {
        conn: ConnId,
    },
    Subscribe {
        conn: ConnId,
        id: Arc<str>,
        topic: String,
        from: Option<BTreeMap<i32, i64>>,
    },
    Unsubscribe {
        conn: ConnId,
        id: Arc<str>,
    },
    Route(Arc<Batch>),
    /// The connection's queue has room again: continue its catching-up subscriptions.
    Drained {
        conn: ConnId,
    },
    /// Send a message to the connection in order with the replies to its earlier requests.
    Echo {
        conn: ConnId,
        message: Outbound,
    },
    /// Activate another version: every later batch is routed by it.
    Swap {
        filter: LoadedFilter,
        reply: tokio::sync::oneshot::Sender<Result<SwapOutcome, String>>,
    },
    /// Start (with a filter) or stop (without) a shadow; the reply is the report so far.
    Shadow {
        filter: Option<LoadedFilter>,
        reply: tokio::sync::oneshot::Sender<Result<Option<ShadowReport>, String>>,
    },
    /// The shadow's report so far.
    ShadowReport {
        reply: tokio::sync::oneshot::Sender<Option<ShadowReport>>,
    },
}

struct Connection {
    handle: Arc<ConnHandle>,
    claims: Claims,
}

struct Subscription {
    topic: String,
    keys: Vec<String>,
    /// Per partition, the first offset the client wants (its `from`): it has seen the rest.
    floor: BTreeMap<i32, i64>,
    /// While the subscription catches up from the window: the next offset to send, per
    /// partition. Live routing passes it by until the cursor reaches the live position.
    cursor: Option<BTreeMap<i32, i64>>,
}

type SubKey = (ConnId, Arc<str>);

/// State of one tenant, owned by its thread.
pub struct TenantWorker {
    tenant: Arc<str>,
    engine: FilterEngine,
    filter: LoadedFilter,
    policy: FailurePolicy,
    status: Arc<TenantStatus>,
    /// Where quarantines are reported.
    events: tokio::sync::mpsc::UnboundedSender<TenantEvent>,
    /// When recent calls trapped; that many within `TRAP_WINDOW` quarantine the filter.
    recent_traps: std::collections::VecDeque<std::time::Instant>,
    /// The standard grammar, routing for an `open` tenant while its filter is quarantined.
    fallback: Option<flightcast_grammar::Router>,
    shadow: Option<shadow::Shadow>,
    /// Most events routed in one call when queued batches are merged (`kafka.batch_max_events`).
    merge_max: usize,
    /// `None` after a trap until the next call makes a fresh instance.
    instance: Option<FilterInstance>,
    conns: HashMap<ConnId, Connection>,
    subs: HashMap<SubKey, Subscription>,
    /// Interest key to the subscriptions listening to it.
    index: HashMap<String, Vec<SubKey>>,
    window: Arc<Window>,
    /// Highest offset routed so far, per partition.
    routed_through: HashMap<i32, i64>,
}

impl Subscription {
    /// Whether a live event goes to this subscription: not while it catches up, and not
    /// below the position its client resumed from.
    fn is_live_for(&self, meta: &RecordMeta) -> bool {
        self.cursor.is_none()
            && self
                .floor
                .get(&meta.partition)
                .is_none_or(|f| meta.offset >= *f)
    }
}

impl TenantWorker {
    pub fn new(
        tenant: Arc<str>,
        engine: FilterEngine,
        filter: LoadedFilter,
        window: Arc<Window>,
        policy: FailurePolicy,
        status: Arc<TenantStatus>,
        events: tokio::sync::mpsc::UnboundedSender<TenantEvent>,
    ) -> Self {
        status.set_active(&filter.sha256);
        Self {
            tenant,
            engine,
            filter,
            policy,
            status,
            events,
            recent_traps: std::collections::VecDeque::new(),
            fallback: None,
            shadow: None,
            merge_max: 256,
            instance: None,
            conns: HashMap::new(),
            subs: HashMap::new(),
            index: HashMap::new(),
            window,
            routed_through: HashMap::new(),
        }
    }

    /// Sets how many events one filter call may carry when queued batches are merged.
    pub fn with_merge_max(mut self, events: usize) -> Self {
        self.merge_max = events.max(1);
        self
    }

    /// Serves commands until every sender is gone.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut next = None;
        while let Some(command) = next.take().or_else(|| commands.blocking_recv()) {
            let command = match command {
                Command::Route(batch) => {
                    // Batches that queued up while the filter was busy go in one call, so a
                    // filter whose cost is per call catches up instead of falling behind.
                    let (merged, after) = merge_queued(batch, &mut commands, self.merge_max);
                    next = after;
                    Command::Route(merged)
                }
                other => other,
            };
            match command {
                Command::Attach { conn, claims } => {
                    self.conns.insert(
                        conn.id,
                        Connection {
                            handle: conn,
                            claims,
                        },
                    );
                    self.status.set_counts(self.conns.len(), self.subs.len());
                }
                Command::Detach { conn } => self.detach(conn),
                Command::Subscribe {
                    conn,
                    id,
                    topic,
                    from,
                } => self.subscribe(conn, id, topic, from),
                Command::Unsubscribe { conn, id } => self.unsubscribe(conn, id),
                Command::Route(batch) => self.route(&batch),
                Command::Drained { conn } => self.drained(conn),
                Command::Echo { conn, message } => self.send(conn, message),
                Command::Swap { filter, reply } => {
                    let _ = reply.send(self.swap(filter));
                }
                Command::Shadow { filter, reply } => {
                    let _ = reply.send(self.set_shadow(filter));
                }
                Command::ShadowReport { reply } => {
                    let _ = reply.send(self.shadow.as_ref().map(|s| s.report()));
                }
            }
            self.status.set_counts(self.conns.len(), self.subs.len());
        }
        tracing::info!(tenant = %self.tenant, "tenant worker stopped");
    }

    /// Makes a fresh instance if the last one trapped, and re-admits every live subscription
    /// in it, since a new instance knows nothing of earlier admissions.
    fn instance(&mut self) -> Result<&mut FilterInstance, FilterFailure> {
        if self.instance.is_none() {
            let filter = self.filter.clone();
            let (fresh, readmitted) = self.readmit(&filter, Purpose::Live)?;
            self.install(fresh, readmitted);
        }
        Ok(self.instance.as_mut().expect("instance just made"))
    }

    /// Runs `f` on the instance; a trap discards the instance so the next call starts afresh,
    /// and enough traps within a minute quarantine the filter.
    fn with_instance<T>(
        &mut self,
        f: impl FnOnce(&mut FilterInstance) -> Result<T, FilterFailure>,
    ) -> Result<T, FilterFailure> {
        if self.status.is_quarantined() {
            return Err(FilterFailure::Quarantined);
        }
        let result = self.instance().and_then(f);
        if let Err(failure @ FilterFailure::Trap(_)) = &result {
            tracing::warn!(tenant = %self.tenant, %failure, "filter instance discarded");
            self.instance = None;
            let now = std::time::Instant::now();
            self.recent_traps.push_back(now);
            while self
                .recent_traps
                .front()
                .is_some_and(|t| now.duration_since(*t) > TRAP_WINDOW)
            {
                self.recent_traps.pop_front();
            }
            let limit = self.engine.limits.quarantine_after_traps as usize;
            if self.recent_traps.len() >= limit {
                self.quarantine(format!(
                    "{limit} traps within {TRAP_WINDOW:?}; last: {failure}"
                ));
            }
        }
        result
    }

    fn subscribe(
        &mut self,
        conn: ConnId,
        id: Arc<str>,
        topic: String,
        from: Option<BTreeMap<i32, i64>>,
    ) {
        let Some(claims) = self.conns.get(&conn).map(|c| c.claims.clone()) else {
            return;
        };
        let key = (conn, id.clone());
        let outcome = if self.subs.contains_key(&key) {
            Ok(Admission::Reject(format!(
                "subscription id {id:?} is already in use"
            )))
        } else if self.status.is_quarantined() {
            self.admit_quarantined(&topic)
        } else {
            self.with_instance(|instance| instance.admit(&topic, &claims))
        };
        let reply = match outcome {
            Ok(Admission::Accept(keys)) => {
                self.shadow_admit(&key, &topic, &claims);
                for k in &keys {
                    self.index.entry(k.clone()).or_default().push(key.clone());
                }
                let floor = from.clone().unwrap_or_default();
                let sub = Subscription {
                    topic: topic.clone(),
                    keys,
                    floor,
                    cursor: from,
                };
                let resuming = sub.cursor.is_some();
                self.subs.insert(key.clone(), sub);
                metrics()
                    .subscriptions
                    .with_label_values(&[&self.tenant])
                    .inc();
                self.count_request("accepted");
                self.send(
                    conn,
                    Outbound::Subscribed {
                        id: id.clone(),
                        topic,
                    },
                );
                if resuming {
                    self.pump(&key);
                }
                return;
            }
            Ok(Admission::Reject(reason)) => {
                self.count_request("rejected");
                reason
            }
            Err(failure) => {
                self.count_request("filter_failure");
                format!("the tenant's filter failed to decide: {failure}")
            }
        };
        self.send(
            conn,
            Outbound::Rejected {
                id,
                topic,
                reason: reply,
            },
        );
    }

    fn unsubscribe(&mut self, conn: ConnId, id: Arc<str>) {
        if self.remove_subscription(&(conn, id.clone())) {
            self.send(conn, Outbound::Unsubscribed { id });
        }
    }

    fn detach(&mut self, conn: ConnId) {
        let keys: Vec<SubKey> = self
            .subs
            .keys()
            .filter(|(c, _)| *c == conn)
            .cloned()
            .collect();
        for key in keys {
            self.remove_subscription(&key);
        }
        self.conns.remove(&conn);
    }

    /// Removes a subscription from the index, releasing keys nobody else holds.
    fn remove_subscription(&mut self, key: &SubKey) -> bool {
        let Some(sub) = self.subs.remove(key) else {
            return false;
        };
        self.shadow_remove(key);
        metrics()
            .subscriptions
            .with_label_values(&[&self.tenant])
            .dec();
        for k in sub.keys {
            let Some(holders) = self.index.get_mut(&k) else {
                continue;
            };
            holders.retain(|h| h != key);
            if holders.is_empty() {
                self.index.remove(&k);
                if self.instance.is_some() {
                    // A failed release is counted; the instance is replaced if it trapped.
                    let _ = self.with_instance(|instance| instance.release(&k));
                }
            }
        }
        true
    }

    pub(super) fn rebuild_index(&mut self) {
        self.index.clear();
        for (key, sub) in &self.subs {
            for k in &sub.keys {
                self.index.entry(k.clone()).or_default().push(key.clone());
            }
        }
    }

    fn send(&self, conn: ConnId, message: Outbound) {
        if let Some(c) = self.conns.get(&conn) {
            c.handle.send_control(message);
        }
    }

    fn count_request(&self, outcome: &str) {
        metrics()
            .subscription_requests
            .with_label_values(&[&self.tenant, outcome])
            .inc();
    }
}

/// Appends the batches already queued behind `first` (up to `max_events`) into one.
/// Returns the merged batch and the first command that is not a batch, to run after it.
fn merge_queued(
    first: Arc<Batch>,
    commands: &mut mpsc::Receiver<Command>,
    max_events: usize,
) -> (Arc<Batch>, Option<Command>) {
    let mut merged: Option<Batch> = None;
    let mut size = first.len();
    loop {
        if size >= max_events {
            break;
        }
        match commands.try_recv() {
            Ok(Command::Route(batch)) => {
                let target = merged.get_or_insert_with(|| Batch {
                    events: first.events.clone(),
                    meta: first.meta.clone(),
                });
                target.events.extend(batch.events.iter().cloned());
                target.meta.extend(batch.meta.iter().cloned());
                size += batch.len();
            }
            Ok(other) => return (merged.map_or(first, Arc::new), Some(other)),
            Err(_) => break,
        }
    }
    (merged.map_or(first, Arc::new), None)
}
