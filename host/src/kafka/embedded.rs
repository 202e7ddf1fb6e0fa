//! The embedded broker for a first run: librdkafka's in-process mock cluster, with the bundled
//! real flight data replayed into it.
//!
//! Limits, stated to the user at start-up: it lives in memory and is gone on exit, and it keeps
//! at most 100,000 messages or 5 MiB per partition, deleting older ones. A resume from an offset
//! it no longer has is answered with a gap notice.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::config::{KafkaConfig, ReplayConfig};
use crate::telemetry::metrics;

/// Real ADS-B flight events around Paris (see `data/README.md` for provenance and licence).
static BUNDLED_EVENTS: &[u8] = include_bytes!("../../../data/flight-events.jsonl.gz");

/// The running mock cluster. It is not `Send`, so it lives on a thread of its own until the
/// returned guard is dropped.
pub struct EmbeddedBroker {
    pub bootstrap: String,
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The first `n` events of the bundled data, decoded: what a candidate filter's smoke run
/// routes.
pub fn sample_events(n: usize) -> Vec<crate::filter::Event> {
    let lines = BufReader::new(flate2::read::GzDecoder::new(BUNDLED_EVENTS)).lines();
    lines
        .map_while(Result::ok)
        .filter_map(|line| crate::event::decode(Some(line.as_bytes())).ok())
        .take(n)
        .collect()
}

/// Starts the mock cluster and creates the flight topic with `config.embedded_partitions`,
/// and the one-partition control topic.
pub fn start(config: &KafkaConfig, control_topic: &str) -> anyhow::Result<EmbeddedBroker> {
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();
    let topic = config.topic.clone();
    let control_topic = control_topic.to_owned();
    let partitions = config.embedded_partitions;
    let thread = std::thread::Builder::new()
        .name("embedded-kafka".into())
        .spawn(move || {
            let cluster = MockCluster::new(1).and_then(|cluster| {
                cluster.create_topic(&topic, partitions, 1)?;
                cluster.create_topic(&control_topic, 1, 1)?;
                Ok(cluster)
            });
            match cluster {
                Ok(cluster) => {
                    let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                    // Returns when the guard's sender is dropped.
                    let _ = stop_rx.recv();
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            }
        })?;
    let bootstrap = ready_rx.recv()??;
    tracing::info!(
        %bootstrap, partitions,
        "embedded Kafka started: in memory, gone on exit, at most 100000 messages or 5 MiB per \
         partition (older ones are deleted)"
    );
    Ok(EmbeddedBroker {
        bootstrap,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// The two fields the replay needs from each line.
#[derive(Deserialize)]
struct Timing<'a> {
    ts_ms: i64,
    #[serde(borrow)]
    flight_id: &'a str,
}

/// Produces the replay file into `topic`, keyed by flight, paced by event time divided by
/// `config.speedup`, for `config.loops` loops (0: forever) or until `shutdown`.
pub async fn replay(
    config: ReplayConfig,
    kafka: KafkaConfig,
    bootstrap: String,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let lines = load_lines(&config)?;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "5")
        .create()?;
    tracing::info!(
        records = lines.len(),
        speedup = config.speedup,
        loops = config.loops,
        "replay started"
    );
    let mut round = 0u64;
    while config.loops == 0 || round < config.loops {
        round += 1;
        let started = Instant::now();
        let first_ts = lines.first().map_or(0, |(ts, _)| *ts);
        for (ts_ms, line) in &lines {
            if config.speedup > 0.0 {
                let due =
                    Duration::from_secs_f64((ts_ms - first_ts) as f64 / 1000.0 / config.speedup);
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until((started + due).into()) => {}
                }
            } else if shutdown.is_cancelled() {
                return Ok(());
            }
            produce(&producer, &kafka.topic, line, &shutdown).await;
        }
        tracing::info!(round, "replay round finished");
    }
    producer.flush(Duration::from_secs(5))?;
    Ok(())
}

/// Sends one record, waiting while librdkafka's local queue is full.
async fn produce(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    line: &str,
    shutdown: &CancellationToken,
) {
    let key = serde_json::from_str::<Timing>(line)
        .map(|t| t.flight_id)
        .unwrap_or_default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut record = BaseRecord::to(topic)
        .key(key)
        .payload(line)
        .timestamp(now_ms);
    loop {
        match producer.send(record) {
            Ok(()) => break metrics().replay_records.inc(),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                back,
            )) if !shutdown.is_cancelled() => {
                record = back;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err((error, _)) => break tracing::warn!(%error, "replay record not produced"),
        }
    }
}

/// Reads the replay file (gzip or plain) into (event time, line) pairs. A line without a
/// readable time is still produced (it tests the consumer's handling of bad records), paced
/// like the line before it.
fn load_lines(config: &ReplayConfig) -> anyhow::Result<Vec<(i64, String)>> {
    let raw: Box<dyn Read> = match &config.file {
        Some(path) => Box::new(
            std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("opening replay file {}: {e}", path.display()))?,
        ),
        None => Box::new(BUNDLED_EVENTS),
    };
    let mut reader = BufReader::new(raw);
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    let mut lines = Vec::new();
    let mut last_ts = 0;
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let ts = serde_json::from_str::<Timing>(&line).map_or(last_ts, |t| t.ts_ms);
        last_ts = ts;
        lines.push((ts, line));
    }
    Ok(lines)
}
