//! The filter platform: the admin listener, its tokens, the version store, the control topic
//! and what happens to a tenant whose filter keeps failing.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The admin API (see `docs/admin-api.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address of the admin listener, apart from the public one. Default `127.0.0.1:8081`;
    /// port 0 picks a free port.
    pub listen: SocketAddr,
    /// Folder of the version store: components by sha256, their metadata, the audit log, and
    /// the compiled cache unless `filter.cache_dir` says otherwise.
    /// Default `target/flightcast-store` (relative to the working directory).
    pub store_dir: PathBuf,
    /// Largest component an upload may carry, in bytes. Default 8 MiB.
    pub max_upload_bytes: usize,
    /// Compacted Kafka topic that carries uploads and activations to every instance.
    /// Default `flightcast-control`.
    pub control_topic: String,
    /// Who may call the admin API.
    pub tokens: Vec<AdminToken>,
}

/// A bearer token of the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    /// The secret presented as `Authorization: Bearer`.
    pub token: String,
    /// Who holds it, for the audit log.
    pub name: String,
    pub role: AdminRole,
    /// For `tenant` tokens: the one tenant they act on.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Everything, for every tenant.
    Operator,
    /// Everything on its own tenant's filters.
    Tenant,
}

/// What a tenant's subscribers get once its filter is quarantined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Nothing: every event is counted as dropped and reported to clients as a gap.
    #[default]
    Closed,
    /// What they subscribed to under the standard topic grammar, unfiltered (no claim checks)
    /// and untransformed (the records as read from Kafka).
    Open,
    /// The previously active version is activated again, on every instance.
    Rollback,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8081).into(),
            store_dir: PathBuf::from("target/flightcast-store"),
            max_upload_bytes: 8 << 20,
            control_topic: "flightcast-control".into(),
            tokens: Vec::new(),
        }
    }
}
