//! Fan-out benchmark: how fast flightcast delivers the bundled data set to many WebSocket
//! clients at once, against a bare WebSocket server on the same machine in the same run that
//! writes the same frames with no Kafka, filter, index or queue in the way.
//!
//!     cargo bench -p flightcast --bench fanout            # BENCH_CLIENTS=100 by default
//!
//! Prints figures; asserts nothing about speed (these machines are shared and noisy: read
//! the ratio, not the absolute numbers).

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use support::{config, dataset, Service};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let events = dataset().len();
    println!("fan-out of {events} real flight events to {clients} clients each");

    let (flightcast, rss) = flightcast(clients).await;
    let bare = bare(clients).await;
    let report = |name: &str, took: Duration| {
        let rate = (clients * events) as f64 / took.as_secs_f64();
        println!(
            "{name:>10}: {:>7.2} s, {:>10.0} events/s delivered",
            took.as_secs_f64(),
            rate
        );
    };
    report("flightcast", flightcast);
    report("bare ws", bare);
    println!(
        "     ratio: flightcast delivers at {:.2}x the bare server's rate",
        bare.as_secs_f64() / flightcast.as_secs_f64()
    );
    if let Some((idle, loaded)) = rss {
        let per = (loaded.saturating_sub(idle)) as f64 / clients as f64;
        println!("    memory: {idle} KiB before clients, {loaded} KiB with {clients} subscribed: {per:.1} KiB each");
    }
    live(clients).await;
}

/// Live delivery: clients subscribed to `all` while the replay plays three hours of flights in
/// about fifteen seconds; prints the Kafka-timestamp-to-socket-write latency the service
/// measured (quantiles read from its histogram buckets).
async fn live(clients: usize) {
    let config = config("embedded_partitions = 4", "").replace("speedup = 0.0", "speedup = 700.0");
    let service = Service::start("bench-live", &config);
    let mut readers = Vec::new();
    for _ in 0..clients {
        let url = format!("ws://{}/ws?token=demo-key", service.addr);
        let mut socket = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect")
            .0;
        let request = json!({"op": "subscribe", "id": "all", "topic": "all"});
        socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {}
        }));
    }
    service.wait_all_routed("demo").await;
    tokio::time::sleep(Duration::from_secs(1)).await; // let the last writes land
    let text = support::http_get(&service.addr, "/metrics").await.1;
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("flightcast_delivery_latency_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, count) = l.split_once("\"} ")?;
            Some((le.parse().unwrap_or(f64::INFINITY), count.parse().ok()?))
        })
        .collect();
    let count = buckets.last().map_or(0.0, |b| b.1);
    let quantile = |q: f64| {
        buckets
            .iter()
            .find(|(_, c)| *c >= q * count)
            .map_or(f64::NAN, |b| b.0)
    };
    println!(
        "      live: {count:.0} deliveries to {clients} clients; latency p50 <= {} ms, p99 <= {} ms",
        quantile(0.5) * 1000.0,
        quantile(0.99) * 1000.0
    );
    for reader in readers {
        reader.abort();
    }
}

/// flightcast with every event already in its window: each client subscribes to `all` from
/// the start and reads until `caught_up`. Returns the time and the server's RSS (KiB) before
/// and after the clients connected.
async fn flightcast(clients: usize) -> (Duration, Option<(u64, u64)>) {
    let service = Service::start("bench", &config("embedded_partitions = 4", ""));
    service.wait_all_routed("demo").await;
    let idle = rss(service.pid());
    let mut sockets = Vec::new();
    for _ in 0..clients {
        let url = format!("ws://{}/ws?token=demo-key", service.addr);
        sockets.push(
            tokio_tungstenite::connect_async(url)
                .await
                .expect("connect")
                .0,
        );
    }
    let loaded = rss(service.pid());
    let started = Instant::now();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let from = json!({"0": 0, "1": 0, "2": 0, "3": 0});
                let request = json!({"op": "subscribe", "id": "all", "topic": "all", "from": from});
                socket
                    .send(Message::text(request.to_string()))
                    .await
                    .unwrap();
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        if text.contains(r#""type":"caught_up""#) {
                            return;
                        }
                    }
                }
                panic!("connection ended before catching up");
            })
        })
        .collect();
    for reader in readers {
        reader.await.unwrap();
    }
    (started.elapsed(), idle.zip(loaded))
}

/// A bare WebSocket server that writes the same event frames to each client as fast as the
/// socket takes them.
async fn bare(clients: usize) -> Duration {
    let frames: Vec<String> = dataset()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(r#"{{"type":"event","subs":["all"],"partition":0,"offset":{i},"payload":{e}}}"#)
        })
        .collect();
    let frames = std::sync::Arc::new(frames);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let frames = frames.clone();
            tokio::spawn(async move {
                let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
                let _ = socket.next().await; // the subscribe request
                for frame in frames.iter() {
                    socket.feed(Message::text(frame.clone())).await.unwrap();
                }
                socket
                    .send(Message::text(r#"{"type":"caught_up","id":"all"}"#))
                    .await
                    .unwrap();
                let _ = socket.next().await;
            });
        }
    });
    let mut sockets = Vec::new();
    for _ in 0..clients {
        sockets.push(
            tokio_tungstenite::connect_async(format!("ws://{addr}/"))
                .await
                .unwrap()
                .0,
        );
    }
    let started = Instant::now();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                socket.send(Message::text("{}")).await.unwrap();
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        if text.contains(r#""type":"caught_up""#) {
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.unwrap();
    }
    let took = started.elapsed();
    server.abort();
    took
}

/// Resident memory of a process, in KiB, from /proc.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
