//! The admin API's shapes, as the client reads and sends them (host/assets/openapi.json has
//! the full contract). Where the server answers with a type of its own the client reads that
//! type back; the views below are for answers built from several. Their fields the client
//! does not show are left out: unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// Answers the server builds from these types are read back into them.
pub use crate::filter::Validation;
pub use crate::hub::ShadowReport as Shadow;
pub use crate::platform::store::AuditEntry;

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
