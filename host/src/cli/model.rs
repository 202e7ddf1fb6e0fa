//! The admin API's shapes, as the client reads and sends them (host/assets/openapi.json has
//! the full contract). Fields the client does not show are left out: unknown fields are
//! ignored, so a server that adds some does not break it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tenant's filter state: `GET /v1/tenants`.
#[derive(Debug, Deserialize)]
pub struct Tenant {
    pub tenant: String,
    pub active: Option<Version>,
    pub health: String,
    pub policy: String,
    pub calls: u64,
    pub traps: u64,
    pub subscriptions: u64,
    pub connections: u64,
    pub shadow: Option<String>,
}

/// An uploaded component: `GET /v1/tenants/{tenant}/versions`, and uploads.
#[derive(Debug, Deserialize)]
pub struct Version {
    pub sha256: String,
    pub size_bytes: u64,
    pub uploaded_at: String,
    pub uploader: String,
    pub active: bool,
}

/// The outcome of `POST /v1/tenants/{tenant}/validate`.
#[derive(Debug, Deserialize)]
pub struct Validation {
    pub ok: bool,
    pub sha256: String,
    pub size_bytes: u64,
    pub reason: Option<String>,
    pub world: Option<String>,
    pub smoke: Option<Smoke>,
}

/// The smoke run of a validation.
#[derive(Debug, Deserialize)]
pub struct Smoke {
    pub events: u64,
    pub deliveries: u64,
    pub admitted: u64,
    pub rejected: u64,
}

/// The answer to an activation or a rollback.
#[derive(Debug, Deserialize)]
pub struct Activation {
    pub tenant: String,
    pub active: String,
    pub previous: Option<String>,
    /// False when the version was already active: nothing was done.
    pub changed: bool,
    /// Live subscriptions the new version took over.
    pub readmitted: u64,
    /// Live subscriptions the new version refused; their clients were told.
    pub ended: u64,
}

/// The body of `PUT /v1/tenants/{tenant}/shadow`.
#[derive(Debug, Serialize)]
pub struct ShadowRequest {
    pub version: String,
}

/// A shadow's report.
#[derive(Debug, Deserialize)]
pub struct Shadow {
    pub tenant: String,
    pub version: String,
    pub since: String,
    pub events: u64,
    pub differing_events: u64,
    pub only_active: u64,
    pub only_shadow: u64,
    pub payload_differs: u64,
    pub refused_subscriptions: u64,
    pub failures: u64,
    pub samples: Vec<ShadowSample>,
}

/// An event the active version and the shadow routed differently.
#[derive(Debug, Deserialize)]
pub struct ShadowSample {
    pub partition: i32,
    pub offset: i64,
    pub event_id: String,
    /// The subscriptions (`id topic`) each version delivers the event to.
    pub active_to: Vec<String>,
    pub shadow_to: Vec<String>,
}

/// The body of `POST /v1/tenants/{tenant}/versions/{version}/dry-run`.
#[derive(Debug, Serialize, PartialEq)]
pub struct DryRunRequest {
    pub subscriptions: Vec<DryRunSubscription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u32>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DryRunSubscription {
    pub topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Claims>,
}

/// The claims of the connection a dry run pretends asks for the subscriptions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// What a version would have delivered.
#[derive(Debug, Deserialize)]
pub struct DryRun {
    pub version: String,
    pub events: u64,
    pub subscriptions: Vec<DryRunOutcome>,
}

/// One subscription's outcome in a dry run.
#[derive(Debug, Deserialize)]
pub struct DryRunOutcome {
    pub topic: String,
    pub admitted: bool,
    pub reason: Option<String>,
    pub keys: Vec<String>,
    pub delivered: u64,
    pub samples: Vec<DryRunSample>,
}

/// An event a subscription would have received, with its payload (any JSON).
#[derive(Debug, Deserialize)]
pub struct DryRunSample {
    pub partition: i32,
    pub offset: i64,
    pub event_id: String,
    pub payload: serde_json::Value,
}

/// One line of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub role: String,
    pub tenant: String,
    pub action: String,
    pub version: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}
