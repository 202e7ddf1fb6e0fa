//! Service configuration: a TOML file plus `FLIGHTCAST_` environment overrides.
//!
//! Every struct rejects unknown keys, so a misspelt setting is an error at start-up instead of a
//! silently ignored line. Nested keys are separated by `__` in the environment, for example
//! `FLIGHTCAST_KAFKA__BROKERS=127.0.0.1:9092` or `FLIGHTCAST_HTTP__LISTEN=0.0.0.0:8080`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub kafka: KafkaConfig,
    pub replay: ReplayConfig,
    pub filter: FilterLimits,
    pub delivery: DeliveryConfig,
    /// Tenants by name. Each names the filter component that routes its events.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Static API keys for development: each maps a bearer string to a tenant and claims.
    pub api_keys: Vec<ApiKey>,
    /// Signed-token (JWT) authentication.
    pub auth: AuthConfig,
    /// The STOMP dialect.
    pub stomp: StompConfig,
}

/// STOMP over WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StompConfig {
    /// The server's heart-beat offer, in milliseconds: it sends no more often than this and
    /// asks the client for no more than this. 0 turns heart-beats off. Default 10000.
    pub heartbeat_ms: u64,
    /// Largest frame a client may send, in bytes (across WebSocket messages). Default 64 KiB.
    pub max_frame_bytes: usize,
    /// Most header lines in a client frame. Default 64.
    pub max_headers: usize,
}

impl Default for StompConfig {
    fn default() -> Self {
        Self {
            heartbeat_ms: 10_000,
            max_frame_bytes: 64 * 1024,
            max_headers: 64,
        }
    }
}

/// Signed-token (JWT) authentication. Tokens must carry `exp`; the connection closes then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Claim naming the tenant. Default `tenant`.
    pub tenant_claim: String,
    /// Claim holding the roles: an array of strings, or one space-separated string.
    /// Default `roles`.
    pub roles_claim: String,
    /// Required issuer (`iss`). Default: not checked.
    pub issuer: Option<String>,
    /// Required audience (`aud`). Default: not checked.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds. Default 30.
    pub leeway_s: u64,
    /// How long before its token expires a connection is told, in seconds. Default 60.
    pub expiry_notice_s: u64,
    /// Verification keys. Without any, only API keys are accepted.
    pub keys: Vec<KeyConfig>,
}

/// One verification key, or a JWKS document of several.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub kind: KeyKind,
    /// File holding the key: the raw secret (hmac), a PEM public key (rsa, ec, ed) or a JWKS
    /// JSON document (jwks).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The secret itself, for hmac keys in development; prefer `file`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Algorithms this key accepts, e.g. `["RS256"]`. Default: HS256, RS256, ES256 or EdDSA
    /// by kind; for JWKS, each key's own `alg`.
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Key id (`kid`) of this key; a token that names a kid is only checked against it.
    #[serde(default)]
    pub kid: Option<String>,
}

/// The kind of a verification key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Hmac,
    Rsa,
    Ec,
    Ed,
    Jwks,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            issuer: None,
            audience: None,
            leeway_s: 30,
            expiry_notice_s: 60,
            keys: Vec::new(),
        }
    }
}

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
    /// Default: none (compile in memory at start-up).
    pub cache_dir: Option<PathBuf>,
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

impl Default for Config {
    /// The newcomer's configuration: embedded broker, bundled data, and two tenants on the
    /// example filters that `./dev filters` builds into `target/filters/`.
    fn default() -> Self {
        let tenant = |file: &str| TenantConfig {
            filter: Path::new("target/filters").join(file),
        };
        let key = |key: &str, tenant: &str, attributes: &[(&str, &str)]| ApiKey {
            key: key.into(),
            tenant: tenant.into(),
            subject: format!("{key}-user"),
            roles: vec!["viewer".into()],
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        Self {
            http: HttpConfig::default(),
            kafka: KafkaConfig::default(),
            replay: ReplayConfig::default(),
            filter: FilterLimits::default(),
            delivery: DeliveryConfig::default(),
            tenants: BTreeMap::from([
                ("demo".to_string(), tenant("standard.wasm")),
                ("partner".to_string(), tenant("airline-partner.wasm")),
            ]),
            api_keys: vec![
                key("demo", "demo", &[]),
                key("partner-afr", "partner", &[("airline", "AFR")]),
            ],
            auth: AuthConfig::default(),
            stomp: StompConfig::default(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// figment's message already names the key and the source, so it is the whole message.
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` if given, then `FLIGHTCAST_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        // A file replaces the built-in demo tenants and keys instead of adding to them.
        let mut base = Config::default();
        if file.is_some() {
            base.tenants.clear();
            base.api_keys.clear();
        }
        let mut figment = Figment::from(Serialized::defaults(base));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "file {} not found",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Variables of the binary and the build scripts share the prefix but are not settings.
        let not_settings = ["config", "log_format", "build_cache", "filter_target_dir"];
        let config: Config = figment
            .merge(
                Env::prefixed("FLIGHTCAST_")
                    .ignore(&not_settings)
                    .split("__"),
            )
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        let mut config = config;
        if let Some(dir) = file.and_then(Path::parent) {
            config.resolve_paths(dir);
        }
        config.validate()?;
        Ok(config)
    }

    /// Makes relative paths relative to the configuration file's folder, not to wherever the
    /// service happens to be started.
    fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        };
        self.tenants
            .values_mut()
            .for_each(|t| resolve(&mut t.filter));
        self.auth
            .keys
            .iter_mut()
            .filter_map(|k| k.file.as_mut())
            .for_each(resolve);
        self.replay.file.iter_mut().for_each(resolve);
        self.filter.cache_dir.iter_mut().for_each(resolve);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let mut seen = std::collections::HashSet::new();
        for key in &self.api_keys {
            if !self.tenants.contains_key(&key.tenant) {
                return invalid(format!(
                    "api key of {} names unknown tenant {}",
                    key.subject, key.tenant
                ));
            }
            if key.key.is_empty() || !seen.insert(&key.key) {
                return invalid(format!("api key of {} is empty or used twice", key.subject));
            }
        }
        if self.kafka.topic.trim().is_empty() {
            return invalid("kafka.topic must not be empty".into());
        }
        if self.http.max_message_bytes < 256 || self.http.max_subscriptions == 0 {
            return invalid(
                "http.max_message_bytes must be >= 256 and http.max_subscriptions > 0".into(),
            );
        }
        if self.kafka.batch_max_events == 0 || self.delivery.queue_capacity == 0 {
            return invalid(
                "kafka.batch_max_events and delivery.queue_capacity must be > 0".into(),
            );
        }
        if self.replay.speedup < 0.0 || !self.replay.speedup.is_finite() {
            return invalid(format!(
                "replay.speedup must be >= 0, got {}",
                self.replay.speedup
            ));
        }
        if self.http.ping_interval_ms == 0
            || self.http.idle_timeout_ms <= self.http.ping_interval_ms
        {
            return invalid("http.idle_timeout_ms must exceed http.ping_interval_ms > 0".into());
        }
        let day_ms = 86_400_000;
        let durations = [
            self.http.ping_interval_ms,
            self.http.idle_timeout_ms,
            self.http.connect_timeout_ms,
            self.http.handshake_timeout_ms,
            self.http.shutdown_grace_ms,
            self.filter.call_timeout_ms,
            self.stomp.heartbeat_ms,
            self.auth.expiry_notice_s.saturating_mul(1000),
            self.auth.leeway_s.saturating_mul(1000),
        ];
        if durations.iter().any(|&d| d > day_ms) {
            return invalid("durations in the configuration must not exceed a day".into());
        }
        if self.filter.call_timeout_ms == 0 {
            return invalid("filter.call_timeout_ms must be > 0".into());
        }
        Ok(())
    }

    /// True when no brokers are configured and the embedded one must start.
    pub fn embedded(&self) -> bool {
        self.kafka.brokers.trim().is_empty()
    }
}
