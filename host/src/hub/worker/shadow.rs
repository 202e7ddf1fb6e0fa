//! A shadow: a candidate version that routes the live stream beside the active one. Nothing it
//! decides is delivered; the worker counts where its recipients or payloads differ.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::lifecycle::Readmission;
use super::{SubKey, TenantWorker};
use crate::event::Batch;
use crate::filter::{Claims, Delivery, FilterInstance, LoadedFilter, Purpose};

/// Differing events kept as examples in the report.
const SAMPLES: usize = 20;

pub(super) struct Shadow {
    filter: LoadedFilter,
    instance: Option<FilterInstance>,
    /// Each live subscription's keys under the shadow.
    keys: HashMap<SubKey, Vec<String>>,
    index: HashMap<String, Vec<SubKey>>,
    report: ShadowReport,
}

/// How the shadow's decisions compare with the active version's, since it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShadowReport {
    pub tenant: String,
    pub version: String,
    pub since: String,
    /// Events both versions routed.
    pub events: u64,
    /// Events for which the recipients or payloads differ.
    pub differing_events: u64,
    /// Deliveries only the active version made, only the shadow would make, and made by both
    /// with different payloads.
    pub only_active: u64,
    pub only_shadow: u64,
    pub payload_differs: u64,
    /// Live subscriptions the shadow refused when it started or when they were made.
    pub refused_subscriptions: u64,
    /// Shadow calls that trapped or failed (the active version is unaffected).
    pub failures: u64,
    pub samples: Vec<ShadowSample>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShadowSample {
    pub partition: i32,
    pub offset: i64,
    pub event_id: String,
    /// The subscriptions (`id topic`) each version delivers the event to.
    pub active_to: Vec<String>,
    pub shadow_to: Vec<String>,
}

/// Recipients of one event: subscription to payload (`None`: the record unchanged).
type Recipients<'a> = HashMap<&'a SubKey, Option<&'a str>>;

impl Shadow {
    pub(super) fn report(&self) -> ShadowReport {
        self.report.clone()
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        for (sub, keys) in &self.keys {
            for key in keys {
                self.index.entry(key.clone()).or_default().push(sub.clone());
            }
        }
    }

    fn adopt(&mut self, instance: FilterInstance, readmitted: Readmission) {
        self.keys.clear();
        for (sub, outcome) in readmitted {
            match outcome {
                Ok(keys) => {
                    self.keys.insert(sub, keys);
                }
                Err(_) => self.report.refused_subscriptions += 1,
            }
        }
        self.rebuild_index();
        self.instance = Some(instance);
    }
}

impl TenantWorker {
    /// Starts a shadow of `filter`, replacing any earlier one, or stops it (`None`). The reply
    /// is the report of the shadow that was running, or of the new one.
    pub(super) fn set_shadow(
        &mut self,
        filter: Option<LoadedFilter>,
    ) -> Result<Option<ShadowReport>, String> {
        let Some(filter) = filter else {
            return Ok(self.shadow.take().map(|s| s.report));
        };
        let (instance, readmitted) = self
            .readmit(&filter, Purpose::Shadow)
            .map_err(|e| format!("the shadow could not admit the live subscriptions: {e}"))?;
        let mut shadow = Shadow {
            report: ShadowReport {
                tenant: self.tenant.to_string(),
                version: filter.sha256.clone(),
                since: crate::platform::store::now_rfc3339(),
                events: 0,
                differing_events: 0,
                only_active: 0,
                only_shadow: 0,
                payload_differs: 0,
                refused_subscriptions: 0,
                failures: 0,
                samples: Vec::new(),
            },
            filter,
            instance: None,
            keys: HashMap::new(),
            index: HashMap::new(),
        };
        shadow.adopt(instance, readmitted);
        tracing::info!(tenant = %self.tenant, version = %shadow.filter.sha256, "shadow started");
        let report = shadow.report();
        self.shadow = Some(shadow);
        Ok(Some(report))
    }

    /// Admits a new subscription into the shadow too.
    pub(super) fn shadow_admit(&mut self, sub: &SubKey, topic: &str, claims: &Claims) {
        let Some(shadow) = &mut self.shadow else {
            return;
        };
        let Some(instance) = &mut shadow.instance else {
            return;
        };
        match instance.admit(topic, claims) {
            Ok(crate::filter::Admission::Accept(keys)) => {
                for key in &keys {
                    shadow
                        .index
                        .entry(key.clone())
                        .or_default()
                        .push(sub.clone());
                }
                shadow.keys.insert(sub.clone(), keys);
            }
            Ok(crate::filter::Admission::Reject(_)) => shadow.report.refused_subscriptions += 1,
            Err(_) => {
                shadow.report.failures += 1;
                shadow.instance = None;
            }
        }
    }

    pub(super) fn shadow_remove(&mut self, sub: &SubKey) {
        let Some(shadow) = &mut self.shadow else {
            return;
        };
        for key in shadow.keys.remove(sub).unwrap_or_default() {
            let Some(holders) = shadow.index.get_mut(&key) else {
                continue;
            };
            holders.retain(|h| h != sub);
            if holders.is_empty() {
                shadow.index.remove(&key);
                if let Some(instance) = &mut shadow.instance {
                    let _ = instance.release(&key);
                }
            }
        }
    }

    /// Routes `batch` through the shadow and compares with what the active version routed.
    pub(super) fn compare_shadow(
        &mut self,
        batch: &Batch,
        active: &[Result<Vec<Delivery>, &'static str>],
    ) {
        if self.shadow.as_ref().is_some_and(|s| s.instance.is_none()) {
            let filter = self.shadow.as_ref().map(|s| s.filter.clone());
            let restarted = filter.map(|f| self.readmit(&f, Purpose::Shadow));
            let shadow = self.shadow.as_mut().expect("shadow checked above");
            match restarted {
                Some(Ok((instance, readmitted))) => shadow.adopt(instance, readmitted),
                _ => {
                    shadow.report.failures += 1;
                    return;
                }
            }
        }
        let Some(shadow) = &mut self.shadow else {
            return;
        };
        let instance = shadow
            .instance
            .as_mut()
            .expect("shadow instance made above");
        let routed = match instance.route(&batch.events) {
            Ok(routed) => routed,
            Err(_) => {
                shadow.report.failures += 1;
                shadow.instance = None;
                return;
            }
        };
        for (i, (active, shadowed)) in active.iter().zip(&routed).enumerate() {
            let Ok(active) = active else {
                continue;
            };
            let theirs = recipients(active, &self.index);
            let ours = recipients(shadowed, &shadow.index);
            shadow.report.events += 1;
            let only_active = theirs.keys().filter(|s| !ours.contains_key(*s)).count();
            let only_shadow = ours.keys().filter(|s| !theirs.contains_key(*s)).count();
            let payload_differs = theirs
                .iter()
                .filter(|(s, p)| ours.get(*s).is_some_and(|q| q != *p))
                .count();
            if only_active + only_shadow + payload_differs == 0 {
                continue;
            }
            let report = &mut shadow.report;
            report.differing_events += 1;
            report.only_active += only_active as u64;
            report.only_shadow += only_shadow as u64;
            report.payload_differs += payload_differs as u64;
            if report.samples.len() < SAMPLES {
                let describe = |r: &Recipients| {
                    let mut to: Vec<String> = r
                        .keys()
                        .filter_map(|s| {
                            self.subs
                                .get(*s)
                                .map(|sub| format!("{} {}", s.1, sub.topic))
                        })
                        .collect();
                    to.sort();
                    to
                };
                report.samples.push(ShadowSample {
                    partition: batch.meta[i].partition,
                    offset: batch.meta[i].offset,
                    event_id: batch.events[i].event_id.clone(),
                    active_to: describe(&theirs),
                    shadow_to: describe(&ours),
                });
            }
        }
    }
}

/// Who receives an event under one version's deliveries and index.
fn recipients<'a>(
    deliveries: &'a [Delivery],
    index: &'a HashMap<String, Vec<SubKey>>,
) -> Recipients<'a> {
    let mut to = HashMap::new();
    for delivery in deliveries {
        for key in &delivery.keys {
            for sub in index.get(key).into_iter().flatten() {
                to.entry(sub).or_insert(delivery.payload.as_deref());
            }
        }
    }
    to
}
