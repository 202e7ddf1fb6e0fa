//! Routing a batch through the tenant's filter and handing each event to its subscribers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use super::{SubKey, TenantWorker, MAX_TRAPS_PER_BATCH};
use crate::event::{Batch, RecordMeta};
use crate::filter::{Delivery, Event, FilterFailure};
use crate::hub::conn::{ConnId, EventOut};
use crate::telemetry::metrics;

impl TenantWorker {
    /// Routes a batch and delivers it. An event the filter could not route is counted and
    /// reported as a gap to every connection of the tenant.
    pub(super) fn route(&mut self, batch: &Batch) {
        if self.fallback.is_some() {
            self.route_open(batch);
        } else if !self.index.is_empty() {
            let routed = self.route_events(&batch.events);
            self.compare_shadow(batch, &routed);
            for (i, deliveries) in routed.into_iter().enumerate() {
                match deliveries {
                    Ok(groups) => self.deliver(&batch.meta[i], groups, None),
                    Err(reason) => self.lost_by_filter(&batch.meta[i], reason),
                }
            }
        }
        for meta in &batch.meta {
            let through = self
                .routed_through
                .entry(meta.partition)
                .or_insert(meta.offset);
            *through = (*through).max(meta.offset);
        }
        metrics()
            .events_routed
            .with_label_values(&[&self.tenant])
            .inc_by(batch.len() as u64);
    }

    /// Calls the filter on `events`, one answer per event. When the batch call traps, the
    /// events are retried one by one so that a poison event costs only itself; the error is the
    /// drop reason of an event that could not be routed.
    pub(super) fn route_events(
        &mut self,
        events: &[Event],
    ) -> Vec<Result<Vec<Delivery>, &'static str>> {
        let failure = match self.with_instance(|instance| instance.route(events)) {
            Ok(routed) => return routed.into_iter().map(Ok).collect(),
            Err(failure) => failure,
        };
        tracing::warn!(tenant = %self.tenant, %failure, events = events.len(), "batch not routed");
        if !matches!(failure, FilterFailure::Trap(_)) || events.len() == 1 {
            return events
                .iter()
                .map(|_| Err(failure_reason(&failure)))
                .collect();
        }
        let mut traps = 0;
        let mut answers = Vec::with_capacity(events.len());
        for event in events.chunks(1) {
            if traps >= MAX_TRAPS_PER_BATCH {
                answers.push(Err("filter_trap"));
                continue;
            }
            match self.with_instance(|instance| instance.route(event)) {
                Ok(mut routed) => answers.push(Ok(routed.pop().unwrap_or_default())),
                Err(failure) => {
                    traps += matches!(failure, FilterFailure::Trap(_)) as usize;
                    tracing::warn!(tenant = %self.tenant, %failure, event = %event[0].event_id, "event not routed");
                    answers.push(Err(failure_reason(&failure)));
                }
            }
        }
        answers
    }

    /// Counts an event the filter could not route and tells every subscribed connection.
    fn lost_by_filter(&self, meta: &RecordMeta, reason: &'static str) {
        metrics()
            .drops
            .with_label_values(&[&self.tenant, reason])
            .inc();
        let mut told = HashSet::new();
        for (conn, _) in self.subs.keys() {
            if told.insert(*conn) {
                if let Some(c) = self.conns.get(conn) {
                    c.handle.note_gap(meta.partition, meta.offset, reason);
                }
            }
        }
    }

    /// Sends one routed event to its subscribers, once per connection and payload, naming
    /// every subscription of that connection it matched. With `only`, just that subscription
    /// (a resuming one) receives it.
    pub(super) fn deliver(&self, meta: &RecordMeta, groups: Vec<Delivery>, only: Option<&SubKey>) {
        let mut recipients: HashMap<ConnId, Vec<Arc<str>>> = HashMap::new();
        for group in groups {
            for key in &group.keys {
                for sub in self.index.get(key).into_iter().flatten() {
                    let wanted = match only {
                        Some(only) => only == sub,
                        None => self.subs.get(sub).is_some_and(|s| s.is_live_for(meta)),
                    };
                    if wanted {
                        recipients.entry(sub.0).or_default().push(sub.1.clone());
                    }
                }
            }
            if recipients.is_empty() {
                continue;
            }
            let Some(payload) = self.payload(meta, group.payload) else {
                recipients.clear();
                continue;
            };
            for (conn, mut subs) in recipients.drain() {
                subs.sort_unstable();
                subs.dedup();
                if let Some(c) = self.conns.get(&conn) {
                    c.handle
                        .send_event(event_out(meta, subs, payload.clone(), only.is_none()));
                }
            }
            if only.is_some() {
                // A catching-up subscription gets the event once, with the first matching payload.
                return;
            }
        }
    }

    /// The payload for a delivery group: the record itself, or the filter's replacement if it
    /// is valid JSON within the size limit (otherwise the group is dropped and counted).
    fn payload(&self, meta: &RecordMeta, replacement: Option<String>) -> Option<Bytes> {
        let Some(text) = replacement else {
            return Some(meta.payload.clone());
        };
        let reason = if text.len() > self.engine.limits.max_payload_bytes {
            "filter_payload_too_large"
        } else if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
            "filter_payload_not_json"
        } else {
            return Some(Bytes::from(text));
        };
        metrics()
            .drops
            .with_label_values(&[&self.tenant, reason])
            .inc();
        None
    }
}

fn failure_reason(failure: &FilterFailure) -> &'static str {
    match failure {
        FilterFailure::Trap(_) => "filter_trap",
        FilterFailure::Quarantined => "filter_quarantined",
        _ => "filter_error",
    }
}

fn event_out(meta: &RecordMeta, subs: Vec<Arc<str>>, payload: Bytes, live: bool) -> EventOut {
    EventOut {
        subs,
        partition: meta.partition,
        offset: meta.offset,
        kafka_ts_ms: meta.kafka_ts_ms,
        payload,
        live,
    }
}
