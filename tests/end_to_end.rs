//! End to end: the real binary, real WebSocket clients, real filter components built from
//! source, real flight data, through the embedded broker and through a separate broker process.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::broker::Tansu;
use support::expect::{check_exact, expected, Positions, Received, Shape};
use support::{config, dataset, filter, Client, Service};
use tokio_tungstenite::tungstenite::Message;

/// How long a test may wait for the whole data set to be routed.
const ROUTE_LIMIT: Duration = Duration::from_secs(240);

/// Subscriptions of every kind in the grammar, on three demo connections and one partner
/// connection; checks each receives exactly the events the grammar says, and that the partner's
/// out-of-airline subscriptions are refused with a reason.
async fn every_subscription_gets_exactly_its_events(service: &Service, partitions: i32) {
    let data = dataset();
    let demo = [
        vec![("flight", "flight:AFR9455"), ("airline", "airline:AFR")],
        vec![
            ("iata", "airport:ORY"),
            ("icao", "airport:LFPB"),
            ("box", "box:48.8,2.2,49.0,2.6"),
        ],
        vec![("all", "all")],
    ];
    let mut clients = Vec::new();
    for subs in &demo {
        let mut client = Client::connect(&service.addr, "demo-key").await;
        for (id, topic) in subs {
            client.subscribe_from_start(id, topic, partitions).await;
        }
        clients.push(client);
    }
    let mut partner = Client::connect(&service.addr, "partner-key").await;
    for (id, topic) in [
        ("all", "all"),
        ("ory", "airport:ORY"),
        ("baw", "airline:BAW"),
        ("ezy", "flight:EZY12AB"),
    ] {
        partner.subscribe_from_start(id, topic, partitions).await;
    }

    for tenant in ["demo", "partner"] {
        let labels = [("tenant", tenant)];
        service
            .wait_metric(
                "flightcast_events_routed_total",
                &labels,
                data.len() as f64,
                ROUTE_LIMIT,
            )
            .await;
    }

    let mut positions = Positions::default();
    for (client, subs) in clients.iter_mut().zip(&demo) {
        let received = Received::collect_through_barrier(client).await;
        for (id, topic) in subs {
            assert!(
                received.notice("subscribed", id).is_some(),
                "{topic} not acknowledged"
            );
            let got = received
                .by_sub
                .get(*id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            check_exact(
                topic,
                got,
                &expected(topic, None, data),
                Shape::Raw,
                &mut positions,
            );
        }
        assert!(
            received.notices.iter().all(|n| n["type"] != "gap"),
            "unexpected gap: {:?}",
            received.notices
        );
    }

    let received = Received::collect_through_barrier(&mut partner).await;
    for (id, topic) in [("all", "all"), ("ory", "airport:ORY")] {
        let got = received
            .by_sub
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        check_exact(
            &format!("partner {topic}"),
            got,
            &expected(topic, Some("AFR"), data),
            Shape::Redacted,
            &mut positions,
        );
    }
    for (id, needle) in [
        ("baw", "outside your airline"),
        ("ezy", "outside your airline"),
    ] {
        let rejected = received
            .notice("rejected", id)
            .unwrap_or_else(|| panic!("{id} not rejected"));
        assert!(
            rejected["reason"].as_str().unwrap().contains(needle),
            "{rejected}"
        );
        assert!(!received.by_sub.contains_key(id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_delivers_exactly_what_each_filter_routes() {
    let service = Service::start("embedded", &config("embedded_partitions = 4", ""));
    every_subscription_gets_exactly_its_events(&service, 4).await;
    assert_eq!(
        service
            .metric("flightcast_events_consumed_total", &[])
            .await,
        dataset().len() as f64
    );
    assert_eq!(
        service
            .metric("flightcast_decode_failures_total", &[])
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_broker_process_delivers_exactly_and_skips_poison_records() {
    let tansu = Tansu::start();
    let topic = "flights";
    tansu.create_topic(topic, 3).await;

    // The real data, with three poison records among it: not JSON, JSON that is not a flight
    // event, and a record with no value.
    let mut records: Vec<(String, Option<Vec<u8>>)> = dataset()
        .iter()
        .map(|e| {
            (
                e["flight_id"].as_str().unwrap().to_string(),
                Some(e.to_string().into_bytes()),
            )
        })
        .collect();
    records.insert(100, ("poison-1".into(), Some(b"this is not json".to_vec())));
    records.insert(
        5_000,
        ("poison-2".into(), Some(br#"{"kind":"position"}"#.to_vec())),
    );
    records.insert(10_000, ("poison-3".into(), None));
    Tansu::produce_all(&tansu.producer(), topic, &records).await;

    let kafka = format!(
        "brokers = \"{}\"\ntopic = \"{topic}\"\nstart_from = \"earliest\"",
        tansu.addr
    );
    let service = Service::start("tansu", &config(&kafka, ""));
    every_subscription_gets_exactly_its_events(&service, 3).await;
    for reason in ["not_json", "not_event", "empty"] {
        let count = service
            .metric("flightcast_decode_failures_total", &[("reason", reason)])
            .await;
        assert_eq!(count, 1.0, "decode failures for {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapping_filter_loses_only_its_poison_events_and_disturbs_no_one() {
    // Every landing traps, far more often than the default quarantine threshold: this test is
    // about the per-event retry that contains a poison event, so quarantine is set out of
    // reach (tests/sandbox.rs covers quarantine).
    let faulty = format!(
        "\n[tenants.faulty]\nfilter = \"{}\"\n\n[filter]\nquarantine_after_traps = 1000000\n",
        filter("faulty").display()
    );
    let keys = "\n[[api_keys]]\nkey = \"faulty-key\"\ntenant = \"faulty\"\nsubject = \"f\"\n";
    let service = Service::start(
        "faulty",
        &format!("{}{keys}", config("embedded_partitions = 4", &faulty)),
    );
    let data = dataset();

    let mut victim = Client::connect(&service.addr, "faulty-key").await;
    victim.subscribe_from_start("all", "all", 4).await;
    let mut bystander = Client::connect(&service.addr, "demo-key").await;
    bystander.subscribe_from_start("all", "all", 4).await;
    for tenant in ["demo", "faulty"] {
        let labels = [("tenant", tenant)];
        service
            .wait_metric(
                "flightcast_events_routed_total",
                &labels,
                data.len() as f64,
                ROUTE_LIMIT,
            )
            .await;
    }

    // The faulty filter panics on any batch holding a "landed" event: exactly those are lost.
    let poison: Vec<&Value> = data.iter().filter(|e| e["status"] == "landed").collect();
    assert!(!poison.is_empty());
    let survivors: Vec<&Value> = data.iter().filter(|e| e["status"] != "landed").collect();
    let mut positions = Positions::default();
    let received = Received::collect_through_barrier(&mut victim).await;
    check_exact(
        "faulty all",
        &received.by_sub["all"],
        &survivors,
        Shape::Raw,
        &mut positions,
    );
    let told: usize = received
        .notices
        .iter()
        .filter(|n| n["type"] == "gap" && n["reason"] == "filter_trap")
        .map(|n| n["dropped"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(
        told,
        poison.len(),
        "gap notices should cover every lost event: {:?}",
        received.notices
    );
    let drops = service
        .metric(
            "flightcast_drops_total",
            &[("tenant", "faulty"), ("reason", "filter_trap")],
        )
        .await;
    assert_eq!(drops, poison.len() as f64);
    let traps = service
        .metric(
            "flightcast_filter_calls_total",
            &[("tenant", "faulty"), ("outcome", "trap")],
        )
        .await;
    assert!(traps >= poison.len() as f64, "traps counted: {traps}");

    let received = Received::collect_through_barrier(&mut bystander).await;
    check_exact(
        "bystander all",
        &received.by_sub["all"],
        &data.iter().collect::<Vec<_>>(),
        Shape::Raw,
        &mut positions,
    );
    assert_eq!(
        service
            .metric(
                "flightcast_filter_calls_total",
                &[("tenant", "demo"), ("outcome", "trap")]
            )
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_input_gets_clear_answers_and_the_connection_keeps_working() {
    let service = Service::start("bad-input", &config("embedded_partitions = 4", ""));
    let mut client = Client::connect(&service.addr, "demo-key").await;

    client.send_raw(Message::text("this is not json")).await;
    let reply = client.next().await;
    assert_eq!(reply["type"], "error");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("not a valid request"),
        "{reply}"
    );

    client.send(json!({"op": "publish", "id": "x"})).await;
    let reply = client.next().await;
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant `publish`"),
        "{reply}"
    );

    client.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert!(client.next().await["message"]
        .as_str()
        .unwrap()
        .contains("binary"));

    client
        .send(json!({"op": "unsubscribe", "id": "never"}))
        .await;
    assert_eq!(client.next().await["code"], "unknown_subscription");

    for (topic, needle) in [
        ("nonsense", "unknown topic"),
        ("box:1,2", "box"),
        ("airline:AF", "airline"),
    ] {
        client
            .send(json!({"op": "subscribe", "id": topic, "topic": topic}))
            .await;
        let (reply, _) = client.until("rejected", topic).await;
        assert!(
            reply["reason"].as_str().unwrap().contains(needle),
            "{topic}: {reply}"
        );
    }

    // After all that, the same connection subscribes and receives events.
    client.subscribe_from_start("ok", "all", 4).await;
    let (_, _) = client.until("subscribed", "ok").await;
    let event = client.next_event().await;
    assert_eq!(event["type"], "event", "{event}");
    assert_eq!(event["subs"], json!(["ok"]));

    // A second subscription with the same id is refused, the first keeps running.
    client
        .send(json!({"op": "subscribe", "id": "ok", "topic": "all"}))
        .await;
    loop {
        let message = client.next().await;
        if message["type"] == "error" {
            assert_eq!(message["code"], "duplicate_id");
            break;
        }
    }

    // An unknown token is refused at the handshake with 401.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?token=wrong", service.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("handshake with a wrong token: {other:?}"),
    }

    // A message over the size limit closes only that connection, with code 1009.
    let mut other = Client::connect(&service.addr, "demo-key").await;
    other.send_raw(Message::text("x".repeat(64 * 1024))).await;
    match other.try_next().await {
        Err(support::Closed::Frame(code, _)) => assert_eq!(code, Some(1009)),
        Ok(message) => panic!("oversized message answered with {message}"),
        Err(closed) => panic!("oversized message: {closed:?}"),
    }
    client.send(json!({"op": "unsubscribe", "id": "ok"})).await;
    client.until("unsubscribed", "ok").await;

    let errors = service
        .metric(
            "flightcast_client_errors_total",
            &[("reason", "bad_request")],
        )
        .await;
    assert!(errors >= 2.0, "bad requests counted: {errors}");
    assert_eq!(
        service
            .metric(
                "flightcast_handshake_refusals_total",
                &[("reason", "unknown_token")]
            )
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_with_1012() {
    let mut service = Service::start("shutdown", &config("embedded_partitions = 1", ""));
    let mut client = Client::connect(&service.addr, "demo-key").await;
    service.wait_ready().await;
    let exit = tokio::task::spawn_blocking(move || {
        let status = service.terminate();
        (service, status)
    });
    loop {
        match client.try_next().await {
            Ok(_) => continue,
            Err(support::Closed::Frame(code, reason)) => {
                assert_eq!(code, Some(1012), "{reason}");
                break;
            }
            Err(closed) => panic!("{closed:?}"),
        }
    }
    let (_service, status) = exit.await.unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_shows_flights_updating_in_headless_chromium() {
    let kafka = "embedded_partitions = 4";
    let config = config(kafka, "").replace("speedup = 0.0\nloops = 1", "speedup = 60.0\nloops = 0");
    let service = Service::start("browser", &config);
    let screenshot = support::artifacts().join("live-page.png");
    let output = tokio::process::Command::new("node")
        .arg(support::root().join("tests/browser/check-page.mjs"))
        .arg(service.url("/?token=demo-key"))
        .arg(&screenshot)
        .output()
        .await
        .expect("running node (install it, then ./dev setup)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser check failed:\n{stdout}\n{stderr}"
    );
    assert!(screenshot.exists());
    let metrics = support::http_get(&service.addr, "/metrics").await.1;
    for name in [
        "flightcast_events_consumed_total",
        "flightcast_decode_failures_total",
        "flightcast_deliveries_total",
        "flightcast_filter_calls_total",
        "flightcast_connections",
        "flightcast_delivery_latency_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
}
