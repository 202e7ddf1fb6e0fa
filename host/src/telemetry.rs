//! Logs and Prometheus metrics.
//!
//! Metric names follow `flightcast_<noun>_<unit>[_total]`; labels come only from small closed
//! sets (tenant, partition, reason, outcome), never from client input.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// Records read from Kafka, by partition.
    pub events_consumed: IntCounterVec,
    /// Records skipped because they could not be decoded, by reason.
    pub decode_failures: IntCounterVec,
    /// Events a tenant worker has finished routing (with or without recipients), by tenant.
    pub events_routed: IntCounterVec,
    /// Event messages queued to a connection, by tenant.
    pub deliveries: IntCounterVec,
    /// Events not delivered to a connection that should have had them, by tenant and reason.
    pub drops: IntCounterVec,
    /// Filter calls by tenant, call (admit, route, release) and outcome (ok, guest_error, trap).
    pub filter_calls: IntCounterVec,
    /// Time spent in filter calls, by tenant.
    pub filter_call_seconds: HistogramVec,
    /// Subscription requests by tenant and outcome (accepted, rejected).
    pub subscription_requests: IntCounterVec,
    /// Live subscriptions, by tenant.
    pub subscriptions: IntGaugeVec,
    /// Open WebSocket connections, by tenant and protocol.
    pub connections: IntGaugeVec,
    /// Handshakes refused, by reason.
    pub handshake_refusals: IntCounterVec,
    /// Client messages answered with an error, by reason.
    pub client_errors: IntCounterVec,
    /// From the Kafka record's timestamp to the socket write of the event.
    pub delivery_latency: Histogram,
    /// Records the embedded replay produced.
    pub replay_records: IntCounter,
    /// Filter log lines dropped by the rate limit, by tenant.
    pub filter_log_lines_dropped: IntCounterVec,
    /// 1 while a tenant's filter is quarantined, by tenant.
    pub filter_quarantined: IntGaugeVec,
    /// Versions activated (hot swaps), by tenant.
    pub filter_activations: IntCounterVec,
    /// Components made ready to run, by source: `compiled` or `cache` (no compilation).
    pub filter_compiles: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

/// Latency buckets from 0.1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let filter_call_seconds = HistogramVec::new(
            HistogramOpts::new(
                "flightcast_filter_call_seconds",
                "Time spent in filter calls",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["tenant"],
        )
        .expect("valid metric");
        r.register(Box::new(filter_call_seconds.clone()))
            .expect("metric registered once");
        let delivery_latency = Histogram::with_opts(
            HistogramOpts::new(
                "flightcast_delivery_latency_seconds",
                "Kafka record timestamp to WebSocket write",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        r.register(Box::new(delivery_latency.clone()))
            .expect("metric registered once");
        let replay_records = IntCounter::new(
            "flightcast_replay_records_total",
            "Records the embedded replay produced",
        )
        .expect("valid metric");
        r.register(Box::new(replay_records.clone()))
            .expect("metric registered once");
        let decode_failures = counter(
            &r,
            "flightcast_decode_failures_total",
            "Records skipped as undecodable",
            &["reason"],
        );
        // Exported at zero from the start, so an alert can tell "none" from "not running".
        for reason in ["empty", "not_utf8", "not_json", "not_event"] {
            decode_failures.with_label_values(&[reason]);
        }
        Self {
            decode_failures,
            events_consumed: counter(
                &r,
                "flightcast_events_consumed_total",
                "Kafka records read",
                &["partition"],
            ),
            events_routed: counter(
                &r,
                "flightcast_events_routed_total",
                "Events routed by tenant workers",
                &["tenant"],
            ),
            deliveries: counter(
                &r,
                "flightcast_deliveries_total",
                "Event messages queued to connections",
                &["tenant"],
            ),
            drops: counter(
                &r,
                "flightcast_drops_total",
                "Events not delivered, by reason",
                &["tenant", "reason"],
            ),
            filter_calls: counter(
                &r,
                "flightcast_filter_calls_total",
                "Filter calls",
                &["tenant", "call", "outcome"],
            ),
            filter_call_seconds,
            subscription_requests: counter(
                &r,
                "flightcast_subscription_requests_total",
                "Subscription requests",
                &["tenant", "outcome"],
            ),
            subscriptions: gauge(
                &r,
                "flightcast_subscriptions",
                "Live subscriptions",
                &["tenant"],
            ),
            connections: gauge(
                &r,
                "flightcast_connections",
                "Open WebSocket connections",
                &["tenant", "protocol"],
            ),
            handshake_refusals: counter(
                &r,
                "flightcast_handshake_refusals_total",
                "WebSocket handshakes refused",
                &["reason"],
            ),
            client_errors: counter(
                &r,
                "flightcast_client_errors_total",
                "Client messages answered with an error",
                &["reason"],
            ),
            filter_log_lines_dropped: counter(
                &r,
                "flightcast_filter_log_lines_dropped_total",
                "Filter log lines over the rate limit",
                &["tenant"],
            ),
            filter_quarantined: gauge(
                &r,
                "flightcast_filter_quarantined",
                "1 while the tenant's filter is quarantined",
                &["tenant"],
            ),
            filter_activations: counter(
                &r,
                "flightcast_filter_activations_total",
                "Filter versions activated",
                &["tenant"],
            ),
            filter_compiles: counter(
                &r,
                "flightcast_filter_compiles_total",
                "Components made ready to run, by source",
                &["source"],
            ),
            delivery_latency,
            replay_records,
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Structured logs to stderr; `RUST_LOG` sets the filter (default `info`), and
/// `FLIGHTCAST_LOG_FORMAT=json` switches to one JSON object per line.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only on a terminal: a log file or a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match std::env::var("FLIGHTCAST_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().init(),
        Ok("text") | Err(_) => builder.init(),
        Ok(other) => {
            builder.init();
            tracing::warn!(
                format = other,
                "FLIGHTCAST_LOG_FORMAT is json or text; using text"
            );
        }
    }
}
