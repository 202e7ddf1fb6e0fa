//! Kafka: the consumer that feeds the hub, and the embedded broker with its data replay.

pub mod consumer;
pub mod embedded;
