//! Reads every partition of the flight topic (assign, not a consumer group, so every instance
//! sees every event and any instance can serve any client), decodes each record once, and
//! hands batches to the hub.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::config::{KafkaConfig, StartFrom};
use crate::event::{self, Batch, RecordMeta};
use crate::hub::Hub;
use crate::telemetry::metrics;

/// How long to wait for the topic's metadata before asking again.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// A consumer that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("creating Kafka consumer for {brokers}: {source}")]
    Create {
        brokers: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("assigning partitions of topic {topic}: {source}")]
    Assign {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
}

/// Consumes `config.topic` from `brokers` until `shutdown`, dispatching batches to `hub`.
/// `ready` is set once every partition is assigned.
pub async fn run(
    config: KafkaConfig,
    brokers: String,
    start_from: StartFrom,
    hub: Arc<Hub>,
    ready: Arc<AtomicBool>,
    shutdown: CancellationToken,
) -> Result<(), ConsumerError> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &brokers)
        // No group membership: offsets are never committed, positions come from clients.
        .set("group.id", "flightcast-assign-only")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // If retention deletes records before they are read, continue from the oldest left.
        .set("auto.offset.reset", "earliest")
        // Latency over fetch efficiency: the default (500 ms) is how long an idle fetch may
        // wait, and brokers that do not answer early (the embedded one) make every event wait.
        .set("fetch.wait.max.ms", "20");

    for (key, value) in &config.consumer_properties {
        client.set(key, value);
    }
    let consumer: StreamConsumer = client.create().map_err(|source| ConsumerError::Create {
        brokers: brokers.clone(),
        source,
    })?;

    let Some(partitions) = wait_for_partitions(&consumer, &config.topic, &shutdown).await else {
        return Ok(());
    };
    let offset = match start_from {
        StartFrom::Earliest => Offset::Beginning,
        StartFrom::Latest => Offset::End,
    };
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        assignment
            .add_partition_offset(&config.topic, partition, offset)
            .map_err(|source| ConsumerError::Assign {
                topic: config.topic.clone(),
                source,
            })?;
    }
    consumer
        .assign(&assignment)
        .map_err(|source| ConsumerError::Assign {
            topic: config.topic.clone(),
            source,
        })?;
    tracing::info!(topic = %config.topic, partitions = partitions.len(), ?start_from, "consuming");
    ready.store(true, Ordering::Release);

    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = consumer.recv() => message,
        };
        let mut batch = Batch::default();
        add(&mut batch, first);
        // Take whatever else is already fetched, without waiting, up to the batch size.
        while batch.len() < config.batch_max_events {
            match consumer.recv().now_or_never() {
                Some(message) => add(&mut batch, message),
                None => break,
            }
        }
        if !batch.is_empty() {
            hub.dispatch(batch).await;
        }
    }
}

/// Decodes one record into the batch; a record that does not decode is counted and skipped,
/// so a poison record never stalls its partition.
fn add(batch: &mut Batch, message: Result<BorrowedMessage<'_>, rdkafka::error::KafkaError>) {
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(%error, "Kafka consumer error");
            return;
        }
    };
    let partition = message.partition();
    metrics()
        .events_consumed
        .with_label_values(&[&partition.to_string()])
        .inc();
    match event::decode(message.payload()) {
        Ok(event) => {
            let payload = bytes::Bytes::copy_from_slice(event.raw.as_bytes());
            let meta = RecordMeta {
                partition,
                offset: message.offset(),
                kafka_ts_ms: message.timestamp().to_millis(),
                payload,
            };
            batch.push(event, meta);
        }
        Err(error) => {
            metrics()
                .decode_failures
                .with_label_values(&[error.reason()])
                .inc();
            tracing::warn!(partition, offset = message.offset(), %error, "record skipped");
        }
    }
}

/// Asks for the topic's partitions until it exists or shutdown.
async fn wait_for_partitions(
    consumer: &StreamConsumer,
    topic: &str,
    shutdown: &CancellationToken,
) -> Option<Vec<i32>> {
    loop {
        // The metadata call blocks; keep it off the async worker's other tasks.
        let metadata =
            tokio::task::block_in_place(|| consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT));
        match metadata {
            Ok(metadata) => {
                let found = metadata.topics().iter().find(|t| t.name() == topic);
                let partitions: Vec<i32> = found
                    .filter(|t| t.error().is_none())
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect())
                    .unwrap_or_default();
                if !partitions.is_empty() {
                    return Some(partitions);
                }
                tracing::warn!(topic, "topic not found yet, retrying");
            }
            Err(error) => tracing::warn!(topic, %error, "fetching topic metadata failed, retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
