//! A tenant filter's life: re-admission into a fresh instance, hot swap to another version,
//! and quarantine once it keeps trapping.
//!
//! Every one of these runs on the worker's thread between two commands, so a batch is routed
//! entirely by the version before a swap or entirely by the one after it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::{SubKey, TenantWorker};
use crate::config::FailurePolicy;
use crate::event::Batch;
use crate::filter::{Admission, Delivery, FilterFailure, FilterInstance, LoadedFilter, Purpose};
use crate::hub::conn::Outbound;
use crate::telemetry::metrics;

/// What the admin API can see of a tenant without asking its worker.
#[derive(Debug, Default)]
pub struct TenantStatus {
    active: RwLock<String>,
    quarantined: AtomicBool,
    connections: AtomicU64,
    subscriptions: AtomicU64,
}

impl TenantStatus {
    pub fn active(&self) -> String {
        self.active.read().expect("status lock").clone()
    }

    pub(super) fn set_active(&self, sha256: &str) {
        *self.active.write().expect("status lock") = sha256.to_owned();
    }

    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Acquire)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }

    pub(super) fn set_counts(&self, connections: usize, subscriptions: usize) {
        self.connections
            .store(connections as u64, Ordering::Relaxed);
        self.subscriptions
            .store(subscriptions as u64, Ordering::Relaxed);
    }
}

/// Something a worker reports to the filter platform.
#[derive(Debug, Clone)]
pub enum TenantEvent {
    /// The tenant's filter was quarantined after traps in a row.
    Quarantined {
        tenant: Arc<str>,
        version: String,
        policy: FailurePolicy,
        reason: String,
    },
}

/// What a swap did to the tenant's live subscriptions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SwapOutcome {
    pub readmitted: u64,
    /// Subscriptions the new version refused; each client was sent an `ended` notice.
    pub ended: u64,
}

/// Per subscription, its keys under a fresh instance, or why that instance refused it.
pub(super) type Readmission = HashMap<SubKey, Result<Vec<String>, String>>;

impl TenantWorker {
    /// A fresh instance of `filter` with every live subscription admitted again. Nothing of the
    /// worker changes, so a failure leaves the current version in place.
    pub(super) fn readmit(
        &self,
        filter: &LoadedFilter,
        purpose: Purpose,
    ) -> Result<(FilterInstance, Readmission), FilterFailure> {
        let mut fresh = FilterInstance::new(&self.engine, filter, self.tenant.clone(), purpose)?;
        let mut readmitted = HashMap::with_capacity(self.subs.len());
        for (key, sub) in &self.subs {
            let claims = &self.conns[&key.0].claims;
            let outcome = match fresh.admit(&sub.topic, claims)? {
                Admission::Accept(keys) => Ok(keys),
                Admission::Reject(reason) => Err(reason),
            };
            readmitted.insert(key.clone(), outcome);
        }
        Ok((fresh, readmitted))
    }

    /// Makes `fresh` the instance, with the subscriptions' new keys; the ones it refused are
    /// ended with a notice to their clients. Returns how many were ended.
    pub(super) fn install(&mut self, fresh: FilterInstance, readmitted: Readmission) -> u64 {
        let mut ended = Vec::new();
        for (key, outcome) in readmitted {
            match (self.subs.get_mut(&key), outcome) {
                (Some(sub), Ok(keys)) => sub.keys = keys,
                (Some(_), Err(reason)) => ended.push((key, reason)),
                (None, _) => {}
            }
        }
        self.rebuild_index();
        self.instance = Some(fresh);
        let count = ended.len() as u64;
        for (key, reason) in ended {
            self.remove_subscription(&key);
            if let Some(conn) = self.conns.get(&key.0) {
                conn.handle
                    .send_control(Outbound::Ended { id: key.1, reason });
            }
        }
        count
    }

    /// Activates `filter`. Either every later batch is routed by it, or (when it cannot even
    /// re-admit the live subscriptions) nothing changes and the reason is returned.
    pub(super) fn swap(&mut self, filter: LoadedFilter) -> Result<SwapOutcome, String> {
        let (fresh, readmitted) = self
            .readmit(&filter, Purpose::Live)
            .map_err(|e| format!("re-admitting the live subscriptions: {e}"))?;
        let readmitted_count = readmitted.values().filter(|o| o.is_ok()).count() as u64;
        let from = std::mem::replace(&mut self.filter, filter);
        self.fallback = None;
        self.recent_traps.clear();
        self.status.quarantined.store(false, Ordering::Release);
        self.status.set_active(&self.filter.sha256);
        metrics()
            .filter_quarantined
            .with_label_values(&[&self.tenant])
            .set(0);
        let ended = self.install(fresh, readmitted);
        metrics()
            .filter_activations
            .with_label_values(&[&self.tenant])
            .inc();
        tracing::info!(
            tenant = %self.tenant, from = %from.sha256, to = %self.filter.sha256,
            readmitted = readmitted_count, ended, "filter version activated"
        );
        Ok(SwapOutcome {
            readmitted: readmitted_count,
            ended,
        })
    }

    /// Stops calling the filter and applies the tenant's policy.
    pub(super) fn quarantine(&mut self, reason: String) {
        if self.status.quarantined.swap(true, Ordering::AcqRel) {
            return;
        }
        self.instance = None;
        metrics()
            .filter_quarantined
            .with_label_values(&[&self.tenant])
            .set(1);
        tracing::error!(
            tenant = %self.tenant, version = %self.filter.sha256, policy = ?self.policy,
            %reason, "filter quarantined"
        );
        if self.policy == FailurePolicy::Open {
            self.open_fallback();
        }
        let _ = self.events.send(TenantEvent::Quarantined {
            tenant: self.tenant.clone(),
            version: self.filter.sha256.clone(),
            policy: self.policy,
            reason,
        });
    }

    /// Re-admits every subscription under the standard grammar, claims unchecked. Topics the
    /// grammar does not know get no keys: they receive nothing until the next activation.
    fn open_fallback(&mut self) {
        let mut router = flightcast_grammar::Router::new();
        for sub in self.subs.values_mut() {
            sub.keys = router
                .admit(&sub.topic)
                .map(|admitted| vec![admitted.key])
                .unwrap_or_default();
        }
        self.rebuild_index();
        self.fallback = Some(router);
    }

    /// Admission while quarantined: under the standard grammar for an `open` tenant, refused
    /// otherwise.
    pub(super) fn admit_quarantined(&mut self, topic: &str) -> Result<Admission, FilterFailure> {
        match &mut self.fallback {
            Some(router) => Ok(match router.admit(topic) {
                Ok(admitted) => Admission::Accept(vec![admitted.key]),
                Err(reason) => Admission::Reject(reason.to_string()),
            }),
            None => Err(FilterFailure::Quarantined),
        }
    }

    /// Routing of an `open` tenant while quarantined: each event, unchanged, to the keys the
    /// standard grammar gives it.
    pub(super) fn route_open(&self, batch: &Batch) {
        let Some(router) = &self.fallback else {
            return;
        };
        for (event, meta) in batch.events.iter().zip(&batch.meta) {
            let keys = router.keys(&view(event));
            if !keys.is_empty() {
                let groups = vec![Delivery {
                    keys,
                    payload: None,
                }];
                self.deliver(meta, groups, None);
            }
        }
    }
}

/// The standard grammar's view of an event.
fn view(event: &crate::filter::Event) -> flightcast_grammar::EventView<'_> {
    flightcast_grammar::EventView {
        kind: &event.kind,
        status: event.status.as_deref(),
        callsign: event.callsign.as_deref(),
        airline_icao: event.airline_icao.as_deref(),
        origin: event.origin.as_deref(),
        origin_iata: event.origin_iata.as_deref(),
        destination: event.destination.as_deref(),
        destination_iata: event.destination_iata.as_deref(),
        lat: event.lat,
        lon: event.lon,
    }
}
