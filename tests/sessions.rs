//! Session behaviour against the real binary: resuming (from behind, from ahead, with a
//! backlog far larger than the connection's queue), pipelined requests, close handshakes.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::expect::{check_exact, Positions, Received, Shape};
use support::{config, dataset, Client, Service};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_a_backlog_far_larger_than_the_queue_loses_nothing() {
    // A queue of 500 events and a backlog of 26,448: the catch-up must follow the reader.
    let config = config("embedded_partitions = 4", "")
        .replace("queue_capacity = 100000", "queue_capacity = 500");
    let service = Service::start("resume-backlog", &config);
    service.wait_all_routed("demo").await;
    let mut client = Client::connect(&service.addr, "demo-key").await;
    client.subscribe_from_start("all", "all", 4).await;
    let (_, before) = client.until("caught_up", "all").await;
    let mut received = Received::default();
    for message in before {
        received.add(message);
    }
    // Everything was routed before the subscription: nothing is left after the catch-up.
    let after = Received::collect_through_barrier(&mut client).await;
    assert!(after.by_sub.is_empty(), "events after caught_up");
    let gaps: Vec<&Value> = received
        .notices
        .iter()
        .filter(|n| n["type"] == "gap")
        .collect();
    assert!(gaps.is_empty(), "gaps: {gaps:?}");
    let expected: Vec<&Value> = dataset().iter().collect();
    check_exact(
        "resumed all",
        &received.by_sub["all"],
        &expected,
        Shape::Raw,
        &mut Positions::default(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_ahead_of_this_instance_gets_nothing_it_has_seen() {
    // Three hours of flights in about eleven seconds: the client asks for positions the
    // service has not consumed yet, as after reconnecting to a lagging instance.
    let config = config("embedded_partitions = 4", "").replace("speedup = 0.0", "speedup = 1000.0");
    let service = Service::start("resume-ahead", &config);
    let mut everything = Client::connect(&service.addr, "demo-key").await;
    everything.subscribe_from_start("all", "all", 4).await;
    everything.until("subscribed", "all").await;
    let ahead: HashMap<i64, i64> = (0..4).map(|p| (p, 1500)).collect();
    let mut resumer = Client::connect(&service.addr, "demo-key").await;
    let from: serde_json::Map<String, Value> = ahead
        .iter()
        .map(|(p, o)| (p.to_string(), json!(o)))
        .collect();
    resumer
        .send(json!({"op": "subscribe", "id": "all", "topic": "all", "from": from}))
        .await;
    let (_, before) = resumer.until("subscribed", "all").await;
    assert!(before.is_empty(), "{before:?}");

    service.wait_all_routed("demo").await;
    let all = Received::collect_through_barrier(&mut everything).await;
    let resumed = Received::collect_through_barrier(&mut resumer).await;
    let wanted: Vec<&support::expect::Got> = all.by_sub["all"]
        .iter()
        .filter(|g| g.offset >= ahead[&g.partition])
        .collect();
    let got = &resumed.by_sub["all"];
    assert!(
        got.iter().all(|g| g.offset >= ahead[&g.partition]),
        "an event below `from` arrived"
    );
    let key = |g: &support::expect::Got| (g.partition, g.offset);
    let mut got_keys: Vec<_> = got.iter().map(key).collect();
    let mut wanted_keys: Vec<_> = wanted.iter().map(|g| key(g)).collect();
    got_keys.sort();
    wanted_keys.sort();
    assert_eq!(got_keys, wanted_keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let service = Service::start("pipelined", &config("embedded_partitions = 4", ""));
    let mut client = Client::connect(&service.addr, "demo-key").await;
    for round in 0..20 {
        client
            .send(json!({"op": "subscribe", "id": "r", "topic": "airline:AFR"}))
            .await;
        client.send(json!({"op": "unsubscribe", "id": "r"})).await;
        client
            .send(json!({"op": "subscribe", "id": "r", "topic": "flight:ZZ99"}))
            .await;
        client
            .send(json!({"op": "subscribe", "id": "r", "topic": "all"}))
            .await;
        client.send(json!({"op": "unsubscribe", "id": "r"})).await;
        let mut replies = Vec::new();
        while replies.len() < 5 {
            let message = client.next().await;
            if message["type"] != "event" {
                replies.push(format!(
                    "{}:{}",
                    message["type"].as_str().unwrap(),
                    message["code"].as_str().unwrap_or("")
                ));
            }
        }
        let expected = [
            "subscribed:",
            "unsubscribed:",
            "subscribed:",
            "error:duplicate_id",
            "unsubscribed:",
        ];
        assert_eq!(replies, expected, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_close_is_answered_with_a_close_frame() {
    let service = Service::start("close", &config("embedded_partitions = 4", ""));
    let mut client = Client::connect(&service.addr, "demo-key").await;
    let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    };
    client.send_raw(Message::Close(Some(frame))).await;
    match client.try_next().await {
        Err(support::Closed::Frame(code, reason)) => assert_eq!(code, Some(1000), "{reason}"),
        other => panic!("expected the close echoed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_a_reading_client_and_the_idle_timeout_closes_a_silent_one() {
    let config = config("embedded_partitions = 4", "").replace(
        "[http]\n",
        "[http]\nping_interval_ms = 200\nidle_timeout_ms = 700\n",
    );
    let service = Service::start("idle", &config);
    let mut silent = Client::connect(&service.addr, "demo-key").await;
    let mut reading = Client::connect(&service.addr, "demo-key").await;

    // The reading client answers pings (the library does, as browsers do) for 2 s.
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let mut pings = 0;
    while std::time::Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(300), reading.raw_next()).await {
            Ok(Some(Message::Ping(_))) => pings += 1,
            Ok(Some(Message::Close(frame))) => panic!("reading client closed: {frame:?}"),
            _ => {}
        }
    }
    assert!(pings >= 5, "only {pings} pings in 2 s");
    reading.send(json!({"op": "unsubscribe", "id": "x"})).await;
    assert_eq!(reading.next().await["code"], "unknown_subscription");

    // The silent one read nothing, so it answered no ping: closed with 1001.
    match silent.try_next().await {
        Err(support::Closed::Frame(code, reason)) => {
            assert_eq!((code, reason.as_str()), (Some(1001), "idle timeout"))
        }
        other => panic!("silent client: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_finishes_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = config("embedded_partitions = 4", "")
        .replace("[http]\n", "[http]\nhandshake_timeout_ms = 500\n");
    let service = Service::start("handshake", &config);
    let mut tcp = tokio::net::TcpStream::connect(&service.addr).await.unwrap();
    tcp.write_all(b"GET /ws?token=demo-key HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the half-sent handshake was kept open");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // A complete handshake on another connection still works.
    let client = Client::connect(&service.addr, "demo-key").await;
    assert_eq!(client.welcome["tenant"], "demo");
}
