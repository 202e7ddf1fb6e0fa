//! A tenant worker: one thread per tenant that owns the tenant's filter instance, its
//! subscriptions and the interest-key index, and turns each batch into per-connection sends.
//!
//! Everything a tenant does passes through its worker's queue in order, so an admission is
//! always settled before the next batch is routed, and no locks guard the index.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;

mod catchup;
mod route;

use super::conn::{ConnHandle, ConnId, Outbound};
use super::window::Window;
use crate::event::{Batch, RecordMeta};
use crate::filter::{Admission, Claims, FilterEngine, FilterFailure, FilterInstance, LoadedFilter};
use crate::telemetry::metrics;

/// After this many traps in one batch, the rest of the batch is dropped for the tenant instead
/// of retried event by event: a filter that traps on everything must not stall the worker.
const MAX_TRAPS_PER_BATCH: usize = 8;
/// Largest replacement payload a filter may return for one delivery, in bytes.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

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
    ) -> Self {
        Self {
            tenant,
            engine,
            filter,
            instance: None,
            conns: HashMap::new(),
            subs: HashMap::new(),
            index: HashMap::new(),
            window,
            routed_through: HashMap::new(),
        }
    }

    /// Serves commands until every sender is gone.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.blocking_recv() {
            match command {
                Command::Attach { conn, claims } => {
                    self.conns.insert(
                        conn.id,
                        Connection {
                            handle: conn,
                            claims,
                        },
                    );
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
            }
        }
        tracing::info!(tenant = %self.tenant, "tenant worker stopped");
    }

    /// Makes a fresh instance if the last one trapped, and re-admits every live subscription
    /// in it, since a new instance knows nothing of earlier admissions.
    fn instance(&mut self) -> Result<&mut FilterInstance, FilterFailure> {
        if self.instance.is_none() {
            let mut fresh = FilterInstance::new(&self.engine, &self.filter, self.tenant.clone())?;
            let mut ended = Vec::new();
            for ((conn, id), sub) in &mut self.subs {
                let claims = &self.conns[conn].claims;
                match fresh.admit(&sub.topic, claims)? {
                    Admission::Accept(keys) => sub.keys = keys,
                    Admission::Reject(reason) => ended.push(((*conn, id.clone()), reason)),
                }
            }
            self.rebuild_index();
            for (key, reason) in ended {
                self.remove_subscription(&key);
                if let Some(conn) = self.conns.get(&key.0) {
                    conn.handle
                        .send_control(Outbound::Ended { id: key.1, reason });
                }
            }
            self.instance = Some(fresh);
        }
        Ok(self.instance.as_mut().expect("instance just made"))
    }

    /// Runs `f` on the instance; a trap discards the instance so the next call starts afresh.
    fn with_instance<T>(
        &mut self,
        f: impl FnOnce(&mut FilterInstance) -> Result<T, FilterFailure>,
    ) -> Result<T, FilterFailure> {
        let result = self.instance().and_then(f);
        if let Err(failure @ FilterFailure::Trap(_)) = &result {
            tracing::warn!(tenant = %self.tenant, %failure, "filter instance discarded");
            self.instance = None;
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
        } else {
            self.with_instance(|instance| instance.admit(&topic, &claims))
        };
        let reply = match outcome {
            Ok(Admission::Accept(keys)) => {
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

    fn rebuild_index(&mut self) {
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
