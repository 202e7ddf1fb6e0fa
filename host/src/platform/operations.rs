//! What the admin API can ask of the platform. Authorization is the caller's business
//! (`admin`); every change here is audited.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::store::{now_rfc3339, AuditEntry, VersionMeta};
use super::{Activation, Actor, Platform, PlatformError, TenantView, VersionView, HISTORY};
use crate::filter::{Admission, Claims, FilterInstance, Purpose, Validation};
use crate::hub::{ShadowReport, SwapOutcome};
use crate::telemetry::metrics;

/// Events routed per call in a dry run.
const DRY_RUN_BATCH: usize = 256;
/// Sample deliveries kept per subscription in a dry run.
const DRY_RUN_SAMPLES: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    pub subscriptions: Vec<DryRunSubscription>,
    /// How many of the most recent events to route. Default 1000.
    #[serde(default = "default_dry_run_events")]
    pub events: usize,
}

fn default_dry_run_events() -> usize {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunSubscription {
    pub topic: String,
    #[serde(default)]
    pub claims: DryRunClaims,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunClaims {
    pub subject: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub version: String,
    pub events: u64,
    pub subscriptions: Vec<DryRunOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DryRunOutcome {
    pub topic: String,
    pub admitted: bool,
    pub reason: Option<String>,
    pub keys: Vec<String>,
    pub delivered: u64,
    pub samples: Vec<DryRunSample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DryRunSample {
    pub partition: i32,
    pub offset: i64,
    pub event_id: String,
    pub payload: Box<serde_json::value::RawValue>,
}

/// What an upload answers: the stored version and its validation.
#[derive(Debug, Clone, Serialize)]
pub struct Uploaded {
    #[serde(flatten)]
    pub version: VersionView,
    pub validation: Validation,
}

impl Platform {
    /// Validates `bytes` as a filter for `tenant` without storing anything.
    pub async fn validate(
        self: &Arc<Self>,
        tenant: &str,
        bytes: bytes::Bytes,
    ) -> Result<Validation, PlatformError> {
        self.known_tenant(tenant)?;
        let this = self.clone();
        let tenant = tenant.to_owned();
        let validation = tokio::task::spawn_blocking(move || {
            crate::filter::validate(
                &this.engine,
                &tenant,
                &bytes,
                this.config.admin.max_upload_bytes,
                &this.samples,
            )
            .0
        })
        .await
        .map_err(|e| PlatformError::Unavailable(format!("validation stopped: {e}")))?;
        Ok(validation)
    }

    /// Validates and stores a version, and sends it to every instance. Nothing is stored when
    /// validation fails.
    pub async fn upload(
        self: &Arc<Self>,
        actor: &Actor,
        tenant: &str,
        bytes: bytes::Bytes,
    ) -> Result<Uploaded, PlatformError> {
        let validation = self.validate(tenant, bytes.clone()).await?;
        if !validation.ok {
            let reason = validation.reason.clone().unwrap_or_default();
            return Err(PlatformError::Invalid(reason, Some(Box::new(validation))));
        }
        let meta = self.store.put(
            &bytes,
            VersionMeta {
                sha256: validation.sha256.clone(),
                tenant: tenant.into(),
                size_bytes: bytes.len() as u64,
                uploaded_at: now_rfc3339(),
                uploader: actor.name.clone(),
            },
        )?;
        self.control
            .publish_version(&meta, &bytes)
            .await
            .map_err(|e| PlatformError::Unavailable(e.to_string()))?;
        self.audit(actor, tenant, "upload", Some(&meta.sha256), "ok", None);
        let active = self.record(tenant).active.as_deref() == Some(&meta.sha256);
        Ok(Uploaded {
            version: VersionView { meta, active },
            validation,
        })
    }

    pub fn versions(&self, tenant: &str) -> Result<Vec<VersionView>, PlatformError> {
        self.known_tenant(tenant)?;
        let active = self.record(tenant).active;
        Ok(self
            .store
            .list(tenant)?
            .into_iter()
            .map(|meta| VersionView {
                active: active.as_deref() == Some(&meta.sha256),
                meta,
            })
            .collect())
    }

    /// Activates a stored version on every instance; answers once it is active here.
    pub async fn activate(
        &self,
        actor: &Actor,
        tenant: &str,
        version: &str,
    ) -> Result<Activation, PlatformError> {
        let link = self.known_tenant(tenant)?;
        let meta = self.store.resolve(tenant, version)?;
        let _serial = self.changing.lock().await;
        let mut record = self.record(tenant);
        // Activating the active version again changes nothing, unless it was quarantined:
        // then a fresh instance is what the caller asks for.
        if record.active.as_deref() == Some(&meta.sha256) && !link.status.is_quarantined() {
            self.audit(
                actor,
                tenant,
                "activate",
                Some(&meta.sha256),
                "unchanged",
                None,
            );
            return Ok(Activation {
                tenant: tenant.into(),
                active: meta.sha256,
                previous: None,
                changed: false,
                outcome: SwapOutcome::default(),
            });
        }
        let previous = record.active.take();
        if let Some(previous) = previous.clone().filter(|p| *p != meta.sha256) {
            record.history.push(previous);
            let excess = record.history.len().saturating_sub(HISTORY);
            record.history.drain(..excess);
        }
        record.active = Some(meta.sha256.clone());
        record.actor = actor.name.clone();
        record.action = "activate".into();
        self.change(actor, tenant, record, "activate", previous)
            .await
    }

    /// Activates the version that was active before the current one.
    pub async fn rollback(&self, actor: &Actor, tenant: &str) -> Result<Activation, PlatformError> {
        self.known_tenant(tenant)?;
        let _serial = self.changing.lock().await;
        let mut record = self.record(tenant);
        let previous = record.active.clone();
        let Some(target) = record.history.pop() else {
            return Err(PlatformError::Conflict(format!(
                "tenant {tenant} has no earlier version to roll back to"
            )));
        };
        record.active = Some(target);
        record.actor = actor.name.clone();
        record.action = "rollback".into();
        self.change(actor, tenant, record, "rollback", previous)
            .await
    }

    async fn change(
        &self,
        actor: &Actor,
        tenant: &str,
        record: super::TenantRecord,
        action: &str,
        previous: Option<String>,
    ) -> Result<Activation, PlatformError> {
        let active = record.active.clone().expect("a change names a version");
        let outcome = self.publish_and_apply(tenant, record).await?;
        let detail = format!(
            "from {}; {} subscriptions re-admitted, {} ended",
            previous.as_deref().unwrap_or("nothing"),
            outcome.readmitted,
            outcome.ended
        );
        self.audit(actor, tenant, action, Some(&active), "ok", Some(detail));
        Ok(Activation {
            tenant: tenant.into(),
            active,
            previous,
            changed: true,
            outcome,
        })
    }

    /// Deletes a version that is neither active, nor shadowed, nor the rollback target.
    pub async fn delete(
        &self,
        actor: &Actor,
        tenant: &str,
        version: &str,
    ) -> Result<(), PlatformError> {
        self.known_tenant(tenant)?;
        let meta = self.store.resolve(tenant, version)?;
        let _serial = self.changing.lock().await;
        let record = self.record(tenant);
        let shadowed = self
            .shadows
            .lock()
            .expect("shadows lock")
            .get(tenant)
            .cloned();
        let in_use = if record.active.as_deref() == Some(&meta.sha256) {
            Some("active")
        } else if record.history.last() == Some(&meta.sha256) {
            Some("the rollback target")
        } else if shadowed.as_deref() == Some(&meta.sha256) {
            Some("shadowed")
        } else {
            None
        };
        if let Some(why) = in_use {
            return Err(PlatformError::Conflict(format!(
                "version {} is {why}, so it is kept; a version can be deleted when it is \
                 neither active, nor shadowed, nor the rollback target",
                meta.sha256
            )));
        }
        self.store.delete(tenant, &meta.sha256)?;
        self.control
            .delete_version(tenant, &meta.sha256)
            .await
            .map_err(|e| PlatformError::Unavailable(e.to_string()))?;
        self.audit(actor, tenant, "delete", Some(&meta.sha256), "ok", None);
        Ok(())
    }

    /// Runs `version` beside the active one on this instance's live traffic.
    pub async fn shadow_start(
        &self,
        actor: &Actor,
        tenant: &str,
        version: &str,
    ) -> Result<ShadowReport, PlatformError> {
        let link = self.known_tenant(tenant)?;
        let meta = self.store.resolve(tenant, version)?;
        let _serial = self.changing.lock().await;
        let running = self
            .shadows
            .lock()
            .expect("shadows lock")
            .get(tenant)
            .cloned();
        if let Some(running) = running {
            return Err(PlatformError::Conflict(format!(
                "tenant {tenant} already shadows {running}; stop that shadow first"
            )));
        }
        if self.record(tenant).active.as_deref() == Some(&meta.sha256) {
            return Err(PlatformError::Conflict(format!(
                "{} is the active version; a shadow runs another version beside it",
                meta.sha256
            )));
        }
        let filter = self
            .engine
            .load_bytes(&self.store.component(&meta.sha256)?)
            .map_err(|e| PlatformError::Invalid(e.to_string(), None))?;
        let report = link
            .shadow(Some(filter))
            .await
            .map_err(PlatformError::Conflict)?
            .ok_or_else(|| PlatformError::Unavailable("the shadow did not start".into()))?;
        self.shadows
            .lock()
            .expect("shadows lock")
            .insert(tenant.into(), meta.sha256.clone());
        self.audit(
            actor,
            tenant,
            "shadow-start",
            Some(&meta.sha256),
            "ok",
            None,
        );
        Ok(report)
    }

    pub async fn shadow_report(&self, tenant: &str) -> Result<ShadowReport, PlatformError> {
        self.known_tenant(tenant)?
            .shadow_report()
            .await
            .ok_or_else(|| PlatformError::NotFound(format!("tenant {tenant} has no shadow")))
    }

    pub async fn shadow_stop(
        &self,
        actor: &Actor,
        tenant: &str,
    ) -> Result<ShadowReport, PlatformError> {
        let link = self.known_tenant(tenant)?;
        let _serial = self.changing.lock().await;
        let report = link
            .shadow(None)
            .await
            .map_err(PlatformError::Conflict)?
            .ok_or_else(|| PlatformError::NotFound(format!("tenant {tenant} has no shadow")))?;
        self.shadows.lock().expect("shadows lock").remove(tenant);
        self.audit(
            actor,
            tenant,
            "shadow-stop",
            Some(&report.version),
            "ok",
            None,
        );
        Ok(report)
    }

    /// What `version` would have delivered to these subscriptions over the recent events.
    pub async fn dry_run(
        self: &Arc<Self>,
        tenant: &str,
        version: &str,
        request: DryRunRequest,
    ) -> Result<DryRun, PlatformError> {
        self.known_tenant(tenant)?;
        if request.subscriptions.is_empty() || request.subscriptions.len() > 64 {
            return Err(PlatformError::BadRequest(
                "a dry run takes 1 to 64 subscriptions".into(),
            ));
        }
        let meta = self.store.resolve(tenant, version)?;
        let filter = self
            .engine
            .load_bytes(&self.store.component(&meta.sha256)?)
            .map_err(|e| PlatformError::Invalid(e.to_string(), None))?;
        let slots = self.hub.window().latest(request.events.min(100_000));
        let this = self.clone();
        let tenant: Arc<str> = tenant.into();
        tokio::task::spawn_blocking(move || {
            this.dry_run_blocking(tenant, &filter, &request, &slots)
        })
        .await
        .map_err(|e| PlatformError::Unavailable(format!("dry run stopped: {e}")))?
    }

    fn dry_run_blocking(
        &self,
        tenant: Arc<str>,
        filter: &crate::filter::LoadedFilter,
        request: &DryRunRequest,
        slots: &[crate::hub::Slot],
    ) -> Result<DryRun, PlatformError> {
        let failed =
            |e: crate::filter::FilterFailure| PlatformError::Invalid(format!("dry run: {e}"), None);
        let mut instance =
            FilterInstance::new(&self.engine, filter, tenant.clone(), Purpose::DryRun)
                .map_err(failed)?;
        let mut outcomes = Vec::new();
        for sub in &request.subscriptions {
            let claims = Claims {
                tenant: tenant.to_string(),
                subject: sub
                    .claims
                    .subject
                    .clone()
                    .unwrap_or_else(|| "dry-run".into()),
                roles: sub.claims.roles.clone(),
                attributes: sub.claims.attributes.clone().into_iter().collect(),
            };
            let (admitted, reason, keys) =
                match instance.admit(&sub.topic, &claims).map_err(failed)? {
                    Admission::Accept(keys) => (true, None, keys),
                    Admission::Reject(reason) => (false, Some(reason), Vec::new()),
                };
            outcomes.push(DryRunOutcome {
                topic: sub.topic.clone(),
                admitted,
                reason,
                keys,
                delivered: 0,
                samples: Vec::new(),
            });
        }
        for chunk in slots.chunks(DRY_RUN_BATCH) {
            let events: Vec<_> = chunk
                .iter()
                .map(|s| s.batch.events[s.index].clone())
                .collect();
            let routed = instance.route(&events).map_err(failed)?;
            for (slot, deliveries) in chunk.iter().zip(routed) {
                let meta = &slot.batch.meta[slot.index];
                for outcome in outcomes.iter_mut().filter(|o| o.admitted) {
                    let Some(delivery) = deliveries
                        .iter()
                        .find(|d| d.keys.iter().any(|k| outcome.keys.contains(k)))
                    else {
                        continue;
                    };
                    outcome.delivered += 1;
                    if outcome.samples.len() < DRY_RUN_SAMPLES {
                        let text = match &delivery.payload {
                            Some(p) => p.clone(),
                            None => String::from_utf8_lossy(&meta.payload).into_owned(),
                        };
                        let payload = serde_json::value::RawValue::from_string(text)
                            .unwrap_or_else(|_| {
                                serde_json::value::RawValue::from_string("null".into())
                                    .expect("null is JSON")
                            });
                        outcome.samples.push(DryRunSample {
                            partition: meta.partition,
                            offset: meta.offset,
                            event_id: slot.batch.events[slot.index].event_id.clone(),
                            payload,
                        });
                    }
                }
            }
        }
        Ok(DryRun {
            version: filter.sha256.clone(),
            events: slots.len() as u64,
            subscriptions: outcomes,
        })
    }

    /// Every tenant the actor may see, by name.
    pub fn tenants(&self, actor: &Actor) -> Vec<TenantView> {
        let mut views: Vec<TenantView> = self
            .hub
            .tenants()
            .filter(|link| actor.tenant.as_deref().is_none_or(|t| t == &*link.name))
            .map(|link| self.tenant_view(link))
            .collect();
        views.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        views
    }

    pub fn tenant(&self, tenant: &str) -> Result<TenantView, PlatformError> {
        Ok(self.tenant_view(&self.known_tenant(tenant)?))
    }

    fn tenant_view(&self, link: &crate::hub::TenantLink) -> TenantView {
        let tenant = link.name.to_string();
        let record = self.record(&tenant);
        let active_sha = link.status.active();
        let active = self
            .store
            .get(&tenant, &active_sha)
            .ok()
            .flatten()
            .map(|meta| VersionView { meta, active: true });
        let (calls, traps) = call_counts(&tenant);
        TenantView {
            active,
            rollback_to: record.history.last().cloned(),
            health: if link.status.is_quarantined() {
                "quarantined"
            } else {
                "healthy"
            },
            policy: self
                .config
                .tenants
                .get(&tenant)
                .map(|t| t.policy)
                .unwrap_or_default(),
            calls,
            traps,
            subscriptions: link.status.subscriptions(),
            connections: link.status.connections(),
            shadow: self
                .shadows
                .lock()
                .expect("shadows lock")
                .get(&tenant)
                .cloned(),
            tenant,
        }
    }

    pub fn audit_log(&self, tenant: Option<&str>) -> Result<Vec<AuditEntry>, PlatformError> {
        Ok(self.store.audit_entries(tenant)?)
    }
}

/// Filter calls and trapped calls of a tenant so far, from the metrics.
fn call_counts(tenant: &str) -> (u64, u64) {
    let mut calls = 0;
    let mut traps = 0;
    for call in ["admit", "route", "release"] {
        for outcome in ["ok", "trap", "guest_error", "contract_violation"] {
            let n = metrics()
                .filter_calls
                .with_label_values(&[tenant, call, outcome])
                .get();
            calls += n;
            if outcome == "trap" {
                traps += n;
            }
        }
    }
    (calls, traps)
}
