//! The control topic: how uploads and activations reach every instance.
//!
//! One partition, compacted, read by every instance from its beginning. Records, by key:
//!
//! ```text
//! version/<tenant>/<sha256>          JSON VersionMeta plus `chunks`; a tombstone deletes it
//! chunk/<sha256>/<index>/<count>     raw bytes of the component, CHUNK_BYTES at most
//! tenant/<tenant>                    JSON TenantRecord: the active version and its history
//! ```
//!
//! A version's chunks follow its metadata record, so a reader assembles the component in
//! order; compaction keeps the latest record of each key, which is all a reader needs.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::store::{sha256_hex, TenantRecord, VersionMeta, VersionStore};

/// Bytes of a component per record: well under Kafka's default message size (1 MB).
const CHUNK_BYTES: usize = 256 * 1024;
/// How long the first read of the topic may go without a record before it counts as done.
const CATCH_UP_IDLE: Duration = Duration::from_secs(10);

/// A version as the control topic carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct VersionRecord {
    #[serde(flatten)]
    meta: VersionMeta,
    chunks: usize,
}

/// One control record, decoded.
#[derive(Debug)]
pub enum ControlRecord {
    Version {
        meta: VersionMeta,
        chunks: usize,
    },
    VersionDeleted {
        tenant: String,
        sha256: String,
    },
    Chunk {
        sha256: String,
        index: usize,
        count: usize,
        bytes: Vec<u8>,
    },
    Tenant {
        tenant: String,
        record: TenantRecord,
    },
}

/// Writes control records.
#[derive(Clone)]
pub struct ControlProducer {
    producer: FutureProducer,
    topic: String,
}

/// Creates the compacted control topic unless it exists.
pub async fn ensure_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let compacted =
        NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact");
    let plain = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    // A broker that refuses the compaction setting still gets a working topic: the readers
    // keep the latest record of each key themselves, compaction only saves space.
    for new in [compacted, plain] {
        match admin.create_topics([&new], &options).await?.pop() {
            Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => return Ok(()),
            Some(Err((name, code))) => {
                tracing::warn!(topic = name, %code, "creating the control topic failed")
            }
            None => {}
        }
    }
    anyhow::bail!("could not create control topic {topic}")
}

impl ControlProducer {
    pub fn new(brokers: &str, topic: &str) -> anyhow::Result<Self> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            // One record per batch: control traffic is rare, and some brokers report the end
            // of a partition wrongly after a batch of several records.
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("message.timeout.ms", "15000")
            .create()?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
        })
    }

    async fn send(&self, key: &str, value: Option<&[u8]>) -> anyhow::Result<()> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic)
            .key(key)
            .partition(0);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.producer
            .send(record, Duration::from_secs(15))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("writing {key} to the control topic: {e}"))?;
        Ok(())
    }

    /// Publishes a version: its metadata, then its bytes in chunks.
    pub async fn publish_version(&self, meta: &VersionMeta, bytes: &[u8]) -> anyhow::Result<()> {
        let chunks = bytes.chunks(CHUNK_BYTES).count().max(1);
        let record = VersionRecord {
            meta: meta.clone(),
            chunks,
        };
        let key = format!("version/{}/{}", meta.tenant, meta.sha256);
        self.send(&key, Some(&serde_json::to_vec(&record)?)).await?;
        for (index, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
            let key = format!("chunk/{}/{index}/{chunks}", meta.sha256);
            self.send(&key, Some(chunk)).await?;
        }
        Ok(())
    }

    /// Tombstones a version of one tenant (its bytes stay while another tenant has it).
    pub async fn delete_version(&self, tenant: &str, sha256: &str) -> anyhow::Result<()> {
        self.send(&format!("version/{tenant}/{sha256}"), None).await
    }

    pub async fn publish_tenant(&self, tenant: &str, record: &TenantRecord) -> anyhow::Result<()> {
        self.send(
            &format!("tenant/{tenant}"),
            Some(&serde_json::to_vec(record)?),
        )
        .await
    }
}

/// The control reader's client context. It asks for end-of-partition events to know when it
/// has caught up, and librdkafka reports each as an error; they are logged as what they are.
pub struct ControlContext;

impl ClientContext for ControlContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!(reason, "control topic: at its end");
        } else {
            tracing::error!(%error, reason, "control topic: client error");
        }
    }
}

impl ConsumerContext for ControlContext {}

/// A reader of the control topic.
pub type ControlConsumer = StreamConsumer<ControlContext>;

/// A reader of the control topic from its beginning.
pub fn consumer(brokers: &str, topic: &str) -> anyhow::Result<ControlConsumer> {
    let consumer: ControlConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "flightcast-control-assign-only")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .create_with_context(ControlContext)?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Reads until the end of the topic and returns the latest record of every tenant, with the
/// components it carries assembled into `store`.
pub async fn catch_up(
    consumer: &ControlConsumer,
    store: &VersionStore,
    assembler: &mut Assembler,
) -> HashMap<String, TenantRecord> {
    let mut tenants = HashMap::new();
    loop {
        let message = match tokio::time::timeout(CATCH_UP_IDLE, consumer.recv()).await {
            Err(_) => {
                tracing::warn!("control topic: no end-of-partition after {CATCH_UP_IDLE:?} idle; going on with what was read");
                break;
            }
            Ok(Err(KafkaError::PartitionEOF(_))) => break,
            Ok(Err(error)) => {
                tracing::warn!(%error, "control topic: read failed; retrying");
                continue;
            }
            Ok(Ok(message)) => message,
        };
        match decode(&message) {
            Some(ControlRecord::Tenant { tenant, record }) => {
                tenants.insert(tenant, record);
            }
            Some(other) => assembler.apply(store, other),
            None => {}
        }
    }
    tenants
}

/// Decodes a record; a record that cannot be read is logged and skipped.
pub fn decode(message: &BorrowedMessage<'_>) -> Option<ControlRecord> {
    let key = message.key().and_then(|k| std::str::from_utf8(k).ok())?;
    let value = message.payload();
    let parts: Vec<&str> = key.split('/').collect();
    let record =
        match (parts.as_slice(), value) {
            (["version", tenant, sha], None) => Some(ControlRecord::VersionDeleted {
                tenant: tenant.to_string(),
                sha256: sha.to_string(),
            }),
            (["version", ..], Some(value)) => serde_json::from_slice::<VersionRecord>(value)
                .ok()
                .map(|r| ControlRecord::Version {
                    meta: r.meta,
                    chunks: r.chunks,
                }),
            (["chunk", sha, index, count], Some(value)) => match (index.parse(), count.parse()) {
                (Ok(index), Ok(count)) => Some(ControlRecord::Chunk {
                    sha256: sha.to_string(),
                    index,
                    count,
                    bytes: value.to_vec(),
                }),
                _ => None,
            },
            (["chunk", ..], None) => return None,
            (["tenant", tenant], Some(value)) => {
                serde_json::from_slice(value)
                    .ok()
                    .map(|record| ControlRecord::Tenant {
                        tenant: tenant.to_string(),
                        record,
                    })
            }
            _ => None,
        };
    if record.is_none() {
        tracing::warn!(
            key,
            offset = message.offset(),
            "control topic: unreadable record skipped"
        );
    }
    record
}

/// Puts components together from their chunks.
#[derive(Default)]
pub struct Assembler {
    /// Versions whose bytes are still arriving, by sha256.
    pending: HashMap<String, Pending>,
}

/// A version's metadata records (one per tenant) and its chunks so far.
type Pending = (Vec<VersionMeta>, Vec<Option<Vec<u8>>>);

impl Assembler {
    /// Applies a version, chunk or deletion record to the store.
    pub fn apply(&mut self, store: &VersionStore, record: ControlRecord) {
        let result = match record {
            ControlRecord::Version { meta, chunks } => {
                if store.has_component(&meta.sha256) {
                    store
                        .component(&meta.sha256)
                        .and_then(|b| store.put(&b, meta).map(drop))
                } else {
                    let entry = self
                        .pending
                        .entry(meta.sha256.clone())
                        .or_insert_with(|| (Vec::new(), vec![None; chunks]));
                    entry.0.push(meta);
                    Ok(())
                }
            }
            ControlRecord::Chunk {
                sha256,
                index,
                count,
                bytes,
            } => self.chunk(store, sha256, index, count, bytes),
            ControlRecord::VersionDeleted { tenant, sha256 } => {
                self.pending.remove(&sha256);
                store.delete(&tenant, &sha256)
            }
            ControlRecord::Tenant { .. } => Ok(()),
        };
        if let Err(error) = result {
            tracing::error!(%error, "control topic: could not store a version");
        }
    }

    fn chunk(
        &mut self,
        store: &VersionStore,
        sha256: String,
        index: usize,
        count: usize,
        bytes: Vec<u8>,
    ) -> Result<(), super::store::StoreError> {
        let Some((_, chunks)) = self.pending.get_mut(&sha256) else {
            return Ok(());
        };
        if chunks.len() != count || index >= count {
            tracing::warn!(%sha256, index, count, "control topic: chunk does not fit its version");
            return Ok(());
        }
        chunks[index] = Some(bytes);
        if chunks.iter().any(Option::is_none) {
            return Ok(());
        }
        let (metas, chunks) = self.pending.remove(&sha256).expect("pending version");
        let bytes: Vec<u8> = chunks.into_iter().flatten().flatten().collect();
        if sha256_hex(&bytes) != sha256 {
            tracing::error!(%sha256, "control topic: assembled component does not match its sha256; dropped");
            return Ok(());
        }
        for meta in metas {
            store.put(&bytes, meta)?;
        }
        tracing::info!(%sha256, bytes = bytes.len(), "component received from the control topic");
        Ok(())
    }
}
