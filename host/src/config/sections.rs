//! The listener, Kafka, replay, filter limits, delivery, tenants and development keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::FailurePolicy;

/// The public listener: the live page, the WebSocket endpoint, metrics and health.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on. Default `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest WebSocket message a client may send, in bytes. Default 16 KiB.
    pub max_message_bytes: usize,
    /// Most subscriptions one connection may hold at once. Default 64.
    pub max_subscriptions: usize,
    /// How long a closing connection may take to flush, in milliseconds. Default 2000.
    pub shutdown_grace_ms: u64,
    /// Interval of WebSocket pings to JSON clients, in milliseconds: well under the 60 s idle
    /// timeout common in proxies and load balancers. Default 25000.
    pub ping_interval_ms: u64,
    /// A connection from which nothing (not even a pong or heart-beat) arrives for this long
    /// is closed, in milliseconds. Default 75000.
    pub idle_timeout_ms: u64,
    /// Time a STOMP client has from the WebSocket handshake to its CONNECT frame, in
    /// milliseconds. Default 10000.
    pub connect_timeout_ms: u64,
    /// Kernel send buffer of each client socket, in bytes; 0 keeps the system's default
    /// (which grows to megabytes). Default 131072: enough for a steady stream, small enough
    /// that a slow client's backlog stays in its bounded queue, where it is counted.
    pub send_buffer_bytes: usize,
    /// Time a client has to send a request's headers (the WebSocket handshake included), in
    /// milliseconds. Default 10000.
    pub handshake_timeout_ms: u64,
}

/// Where flight events come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers (`host:port,…`). Empty (the default) starts the embedded broker.
    pub brokers: String,
    /// Topic holding flight events, keyed by flight. Default `flight-events`.
    pub topic: String,
    /// Where to start reading when the service starts: `earliest` or `latest` (default).
    /// The embedded broker always starts from `earliest`, since it begins empty.
    pub start_from: StartFrom,
    /// Most events routed in one filter call. Default 256.
    pub batch_max_events: usize,
    /// Partitions of the topic the embedded broker creates. Default 4.
    pub embedded_partitions: i32,
    /// Extra librdkafka consumer properties, passed through unchanged.
    pub consumer_properties: BTreeMap<String, String>,
}

/// Consumer start position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    Earliest,
    Latest,
}

/// The replay of bundled real flight data into the embedded broker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// JSON-lines file to replay, plain or gzip. Default: the data bundled in the binary.
    pub file: Option<PathBuf>,
    /// Event-time speed-up: 20 plays three hours of flights in nine minutes. 0 means as fast
    /// as the broker takes them. Default 20.
    pub speedup: f64,
    /// How many times to play the file; 0 (the default) loops forever.
    pub loops: u64,
}

/// Limits on every filter call. See `filter::runtime` for how each is enforced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterLimits {
    /// Wall-clock budget of one filter call, in milliseconds. Default 100.
    pub call_timeout_ms: u64,
    /// Linear memory one filter instance may grow to, in bytes. Default 32 MiB.
    pub memory_limit_bytes: usize,
    /// Directory for compiled filter artefacts, so a restart does not recompile.
    /// Default: `compiled/` in the version store (`admin.store_dir`).
    pub cache_dir: Option<PathBuf>,
    /// Largest answer one `route` call may return (keys and payloads together), in bytes.
    /// A bigger answer is a trap. Default 4 MiB.
    pub max_output_bytes: usize,
    /// Largest replacement payload of one delivery, in bytes; a bigger one is dropped and
    /// counted. Default 64 KiB.
    pub max_payload_bytes: usize,
    /// Trapping calls within a minute after which a tenant's filter is quarantined and the
    /// tenant's failure policy applies. Default 5.
    pub quarantine_after_traps: u32,
}

/// Per-connection delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Messages queued for one connection before new events are dropped for it (each drop
    /// counted, and the client sent a gap notice). Default 1024.
    pub queue_capacity: usize,
    /// Recent events kept per partition to serve resuming subscriptions. Default 10000.
    pub window_events_per_partition: usize,
}

/// One tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Path of the tenant's filter component (`.wasm`); relative paths are relative to the
    /// configuration file's folder (to the working directory for the built-in demo).
    pub filter: PathBuf,
    /// What subscribers get once the filter is quarantined: `closed` (nothing, the default),
    /// `open` (the standard grammar's routing, unfiltered and untransformed) or `rollback`
    /// (the previous version is activated again).
    #[serde(default)]
    pub policy: FailurePolicy,
}

/// A static credential for development. Signed tokens replace these in production.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The secret a client presents as `?token=` or `Authorization: Bearer`.
    pub key: String,
    /// The tenant the connection belongs to.
    pub tenant: String,
    /// Who the connection is, for logs and the filter.
    pub subject: String,
    /// Roles handed to the filter.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Further claims handed to the filter, such as `airline = "AFR"`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8080).into(),
            max_message_bytes: 16 * 1024,
            max_subscriptions: 64,
            shutdown_grace_ms: 2000,
            ping_interval_ms: 25_000,
            idle_timeout_ms: 75_000,
            connect_timeout_ms: 10_000,
            send_buffer_bytes: 128 * 1024,
            handshake_timeout_ms: 10_000,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: String::new(),
            topic: "flight-events".into(),
            start_from: StartFrom::Latest,
            batch_max_events: 256,
            embedded_partitions: 4,
            consumer_properties: BTreeMap::new(),
        }
    }
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            file: None,
            speedup: 20.0,
            loops: 0,
        }
    }
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            call_timeout_ms: 100,
            memory_limit_bytes: 32 << 20,
            cache_dir: None,
            max_output_bytes: 4 << 20,
            max_payload_bytes: 64 << 10,
            quarantine_after_traps: 5,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            window_events_per_partition: 10_000,
        }
    }
}
