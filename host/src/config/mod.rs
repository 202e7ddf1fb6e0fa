//! Service configuration: a TOML file plus `FLIGHTCAST_` environment overrides.
//!
//! Every struct rejects unknown keys, so a misspelt setting is an error at start-up instead of a
//! silently ignored line. Nested keys are separated by `__` in the environment, for example
//! `FLIGHTCAST_KAFKA__BROKERS=127.0.0.1:9092` or `FLIGHTCAST_HTTP__LISTEN=0.0.0.0:8080`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod access;
mod admin;
mod sections;

pub use access::{AuthConfig, KeyConfig, KeyKind, StompConfig};
pub use admin::{AdminConfig, AdminRole, AdminToken, FailurePolicy};
pub use sections::{
    ApiKey, DeliveryConfig, FilterLimits, HttpConfig, KafkaConfig, ReplayConfig, StartFrom,
    TenantConfig,
};

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
    /// The filter platform's admin API, version store and control topic.
    pub admin: AdminConfig,
}

impl Default for Config {
    /// The newcomer's configuration: embedded broker, bundled data, and two tenants on the
    /// example filters that `./dev filters` builds into `target/filters/`.
    fn default() -> Self {
        let tenant = |file: &str| TenantConfig {
            filter: Path::new("target/filters").join(file),
            policy: FailurePolicy::default(),
        };
        let admin_token = |token: &str, role, tenant: Option<&str>| AdminToken {
            token: token.into(),
            name: token.into(),
            role,
            tenant: tenant.map(Into::into),
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
            admin: AdminConfig {
                tokens: vec![
                    admin_token("operator-dev", AdminRole::Operator, None),
                    admin_token("demo-admin", AdminRole::Tenant, Some("demo")),
                    admin_token("partner-admin", AdminRole::Tenant, Some("partner")),
                ],
                ..AdminConfig::default()
            },
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
            base.admin.tokens.clear();
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
        resolve(&mut self.admin.store_dir);
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
        let mut seen = std::collections::HashSet::new();
        for token in &self.admin.tokens {
            if token.token.is_empty() || !seen.insert(&token.token) {
                return invalid(format!(
                    "admin token of {} is empty or used twice",
                    token.name
                ));
            }
            match (token.role, &token.tenant) {
                (AdminRole::Operator, None) => {}
                (AdminRole::Tenant, Some(t)) if self.tenants.contains_key(t) => {}
                (AdminRole::Operator, Some(_)) => {
                    return invalid(format!(
                        "admin token of {}: an operator token names no tenant",
                        token.name
                    ))
                }
                (AdminRole::Tenant, _) => {
                    return invalid(format!(
                        "admin token of {}: a tenant token must name a configured tenant",
                        token.name
                    ))
                }
            }
        }
        if self.admin.control_topic.trim().is_empty() || self.admin.max_upload_bytes == 0 {
            return invalid(
                "admin.control_topic must not be empty and admin.max_upload_bytes must be > 0"
                    .into(),
            );
        }
        if self.filter.quarantine_after_traps == 0 || self.filter.max_output_bytes == 0 {
            return invalid(
                "filter.quarantine_after_traps and filter.max_output_bytes must be > 0".into(),
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configurations_load() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/flightcast.toml");
        let config = Config::load(Some(&deploy)).expect("deploy/flightcast.toml loads");
        assert_eq!(config.admin.tokens.len(), 1);
        assert_eq!(config.admin.listen.port(), 8081);
        let demo = Config::default();
        demo.validate()
            .expect("the built-in demo configuration is valid");
    }

    #[test]
    fn admin_tokens_are_checked() {
        let mut config = Config::default();
        config.admin.tokens[1].tenant = Some("nobody".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("must name a configured tenant"), "{error}");
        let mut config = Config::default();
        config.admin.tokens[0].tenant = Some("demo".into());
        assert!(
            config.validate().is_err(),
            "an operator token names no tenant"
        );
        let mut config = Config::default();
        config.admin.tokens[1].token = config.admin.tokens[0].token.clone();
        assert!(config.validate().is_err(), "a token used twice");
    }
}
