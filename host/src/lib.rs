//! flightcast: live flight events from Kafka to browser WebSockets, routed per tenant by
//! sandboxed WebAssembly filters.
//!
//! The modules follow the data: `kafka` reads and decodes, `hub` routes batches through each
//! tenant's `filter` into per-connection queues, `ws` writes them to clients; `http` serves the
//! endpoints, `config` and `telemetry` serve everything. `stomp` is the frame codec for
//! STOMP clients. `cli` is the command line: the service's flags and `flightcast filter`, the
//! admin API's client.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod event;
pub mod filter;
pub mod http;
pub mod hub;
pub mod kafka;
pub mod platform;
pub mod stomp;
pub mod telemetry;
pub mod ws;
