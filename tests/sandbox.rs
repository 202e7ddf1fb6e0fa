//! Hostile filters, built from source in filters/: an infinite loop, a memory bomb, a trap on
//! every call, an oversized answer and a slow one. The host stays up, the other tenants keep
//! receiving on time, and each offender is contained under its tenant's policy. Then each limit
//! on both sides: just under passes, just over is stopped.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::producer::FutureRecord;
use serde_json::{json, Value};
use support::broker::Tansu;
use support::{admin, Client, Closed, Service};

/// The bound this test holds the well-behaved tenant to while the hostile ones misbehave: its
/// p99 delivery latency (produce to receive) stays under this, and under five times its own
/// p99 before they were armed, whichever is larger.
const LATENCY_BOUND: Duration = Duration::from_millis(300);

/// Hostile tenants: (tenant, component, policy).
const HOSTILE: &[(&str, &str, &str)] = &[
    ("loop", "hostile-loop", "closed"),
    ("bomb", "hostile-bomb", "closed"),
    ("trap", "hostile-trap", "open"),
    ("oversized", "hostile-oversized", "closed"),
    ("slow", "hostile-slow", "closed"),
];

fn tenant_section(tenant: &str, component: &str, policy: &str) -> String {
    format!(
        "[tenants.{tenant}]\nfilter = \"{}\"\npolicy = \"{policy}\"\n\n[[api_keys]]\nkey = \"{tenant}-key\"\ntenant = \"{tenant}\"\nsubject = \"{tenant}-user\"\n",
        support::filter(component).display()
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What a client read: each event with its arrival time, and the other messages.
type Recorded = (Vec<(Instant, Value)>, Vec<Value>);

/// Reads a client until `until`, recording each event's payload and arrival time.
fn record(mut client: Client, until: Instant) -> tokio::task::JoinHandle<Recorded> {
    tokio::spawn(async move {
        let mut events = Vec::new();
        let mut notices = Vec::new();
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, client.try_next()).await {
                Ok(Ok(message)) if message["type"] == "event" => {
                    events.push((Instant::now(), message))
                }
                Ok(Ok(message)) => notices.push(message),
                Ok(Err(Closed::Timeout)) | Err(_) => break,
                Ok(Err(closed)) => panic!("a client was disconnected: {closed:?}"),
            }
        }
        (events, notices)
    })
}

#[tokio::test]
async fn hostile_filters_are_contained_and_other_tenants_keep_their_latency() {
    let tansu = Tansu::start();
    let topic = "flights-sandbox";
    tansu.create_topic(topic, 2).await;
    let mut sections: String = HOSTILE
        .iter()
        .map(|(t, c, p)| tenant_section(t, c, p))
        .collect();
    sections.push_str(&tenant_section("fragile", "standard", "rollback"));
    let kafka = format!(
        "brokers = \"{}\"\ntopic = \"{topic}\"\nstart_from = \"earliest\"",
        tansu.addr
    );
    let config = support::config(&kafka, &format!("{sections}\n{}", admin::tokens()));
    let service = Service::start("sandbox-hostile", &config);
    service.wait_ready().await;

    // A steady stream at 100 events per second for 24 s, each produce time remembered.
    let produced: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = 2400;
    let producer_task = {
        let producer = tansu.producer();
        let produced = produced.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            for (i, event) in support::dataset().iter().take(total).enumerate() {
                let due = started + Duration::from_millis(10 * i as u64);
                tokio::time::sleep_until(due.into()).await;
                let id = event["event_id"].as_str().unwrap().to_string();
                let key = event["flight_id"].as_str().unwrap().to_string();
                let value = event.to_string();
                produced.lock().unwrap().insert(id, Instant::now());
                producer
                    .send(
                        FutureRecord::to(topic).key(&key).payload(&value),
                        Duration::from_secs(5),
                    )
                    .await
                    .expect("produced");
            }
        })
    };
    let end = Instant::now() + Duration::from_secs(30);
    let arm_at = Instant::now() + Duration::from_secs(8);

    // The well-behaved tenant, measured.
    let mut demo = Client::connect(&service.addr, "demo-key").await;
    demo.send(json!({"op": "subscribe", "id": "all", "topic": "all"}))
        .await;
    demo.until("subscribed", "all").await;
    let demo_task = record(demo, end);
    // One watcher per hostile tenant, on everything its filter routes.
    let mut watchers = HashMap::new();
    for (tenant, _, _) in HOSTILE {
        let mut client = Client::connect(&service.addr, &format!("{tenant}-key")).await;
        client
            .send(json!({"op": "subscribe", "id": "all", "topic": "all"}))
            .await;
        client.until("subscribed", "all").await;
        watchers.insert(*tenant, record(client, end));
    }
    // The rollback tenant runs the trapping filter as its second version.
    let standard_sha = admin::get(&service.admin, "/v1/tenants/fragile", admin::OPERATOR)
        .await
        .body["active"]["sha256"]
        .clone();
    admin::deploy(&service.admin, "fragile", &admin::component("hostile-trap")).await;

    tokio::time::sleep_until(arm_at.into()).await;
    let armed_at = Instant::now();
    let mut arms = Vec::new();
    for tenant in HOSTILE.iter().map(|h| h.0).chain(["fragile"]) {
        let mut client = Client::connect(&service.addr, &format!("{tenant}-key")).await;
        client
            .send(json!({"op": "subscribe", "id": "arm", "topic": "arm"}))
            .await;
        client.until("subscribed", "arm").await;
        arms.push(client);
    }

    // Every offender but the slow one is quarantined, bounded in time.
    for tenant in ["loop", "bomb", "trap", "oversized"] {
        service
            .wait_metric(
                "flightcast_filter_quarantined",
                &[("tenant", tenant)],
                1.0,
                Duration::from_secs(20),
            )
            .await;
    }
    // The rollback tenant is back on its first version, healthy, and the armed subscription,
    // which that version refuses, was ended with a notice.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fragile = admin::get(&service.admin, "/v1/tenants/fragile", admin::OPERATOR)
            .await
            .body;
        if fragile["active"]["sha256"] == standard_sha && fragile["health"] == "healthy" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fragile was not rolled back: {fragile}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fragile_arm = arms.last_mut().unwrap();
    let (ended, _) = fragile_arm.until("ended", "arm").await;
    assert!(
        ended["reason"].as_str().unwrap().contains("unknown topic"),
        "{ended}"
    );
    let audit = admin::get(&service.admin, "/v1/audit?tenant=fragile", admin::OPERATOR)
        .await
        .body;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"quarantine") && actions.contains(&"auto-rollback"),
        "{actions:?}"
    );

    producer_task.await.unwrap();
    let (demo_events, demo_notices) = demo_task.await.unwrap();
    assert!(
        demo_notices.iter().all(|n| n["type"] != "gap"),
        "demo lost events: {demo_notices:?}"
    );
    let produced = produced.lock().unwrap().clone();
    assert_eq!(demo_events.len(), total, "demo received every event once");
    let mut before = Vec::new();
    let mut during = Vec::new();
    for (at, message) in &demo_events {
        let id = message["payload"]["event_id"].as_str().unwrap();
        let latency = at.saturating_duration_since(produced[id]);
        if produced[id] < armed_at {
            before.push(latency)
        } else {
            during.push(latency)
        }
    }
    before.sort();
    during.sort();
    let (p50_before, p99_before) = (percentile(&before, 0.5), percentile(&before, 0.99));
    let (p50_during, p99_during) = (percentile(&during, 0.5), percentile(&during, 0.99));
    println!(
        "demo tenant latency, produce to receive: before arming p50 {p50_before:?} p99 {p99_before:?} ({} events); \
         with five hostile filters armed p50 {p50_during:?} p99 {p99_during:?} ({} events)",
        before.len(),
        during.len()
    );
    let bound = LATENCY_BOUND.max(p99_before * 5);
    assert!(
        p99_during <= bound,
        "demo p99 {p99_during:?} over the bound {bound:?}"
    );

    // Each offender's policy, seen by its watcher on `all`.
    for (tenant, task) in watchers {
        let (events, notices) = task.await.unwrap();
        let after_quarantine = events
            .iter()
            .filter(|(at, _)| *at > armed_at + Duration::from_secs(5))
            .count();
        match tenant {
            "trap" => {
                // open: the stream goes on, unfiltered and untransformed.
                assert!(
                    after_quarantine > 500,
                    "open tenant got {after_quarantine} events after quarantine"
                );
                let (_, last) = events.last().unwrap();
                assert!(
                    last["payload"]["event_id"].is_string() && last["payload"]["ts_ms"].is_number(),
                    "{last}"
                );
            }
            "slow" => assert!(
                after_quarantine > 500,
                "the slow tenant stalled: {after_quarantine}"
            ),
            _ => {
                // closed: nothing, and the client is told.
                assert_eq!(after_quarantine, 0, "{tenant} delivered while quarantined");
                assert!(
                    notices
                        .iter()
                        .any(|n| n["type"] == "gap" && n["reason"] == "filter_quarantined"),
                    "{tenant}: no quarantine gap notice in {notices:?}"
                );
            }
        }
    }
    assert_eq!(
        service
            .metric("flightcast_filter_quarantined", &[("tenant", "slow")])
            .await,
        0.0
    );
    assert_eq!(
        service
            .metric("flightcast_filter_quarantined", &[("tenant", "demo")])
            .await,
        0.0
    );
    let tenants = admin::get(&service.admin, "/v1/tenants", admin::OPERATOR)
        .await
        .body;
    for view in tenants.as_array().unwrap() {
        let expected =
            if ["loop", "bomb", "trap", "oversized"].contains(&view["tenant"].as_str().unwrap()) {
                "quarantined"
            } else {
                "healthy"
            };
        assert_eq!(view["health"], expected, "{view}");
    }
    assert!(
        service
            .metric(
                "flightcast_drops_total",
                &[("tenant", "loop"), ("reason", "filter_quarantined")]
            )
            .await
            > 0.0
    );
    assert_eq!(support::http_get(&service.addr, "/healthz").await.0, 200);
}

/// A live endless replay on the embedded broker, one event per filter call, with `filter`
/// limits, and the limits probe as tenant `probe`.
fn probe_service(name: &str, limits: &str) -> Service {
    let extra = format!(
        "{}\n[filter]\n{limits}\nquarantine_after_traps = 1000\n",
        tenant_section("probe", "limits-probe", "closed")
    );
    let config = support::config("batch_max_events = 1", &extra)
        .replace("speedup = 0.0\nloops = 1", "speedup = 100.0\nloops = 0");
    Service::start(name, &config)
}

/// Subscribes and returns the reply (`subscribed` or `rejected`).
async fn subscribe(client: &mut Client, id: &str, topic: &str) -> Value {
    client
        .send(json!({"op": "subscribe", "id": id, "topic": topic}))
        .await;
    loop {
        let message = client.next().await;
        if message["id"] == id && (message["type"] == "subscribed" || message["type"] == "rejected")
        {
            return message;
        }
    }
}

/// The next event for subscription `id`.
async fn next_for(client: &mut Client, id: &str) -> Value {
    loop {
        let event = client.next_event().await;
        if event["subs"].as_array().unwrap().iter().any(|s| s == id) {
            return event;
        }
    }
}

#[tokio::test]
async fn each_limit_passes_just_under_and_stops_just_over() {
    let mib = 1 << 20;
    let service = probe_service(
        "sandbox-limits",
        &format!("call_timeout_ms = 100\nmemory_limit_bytes = {}\nmax_payload_bytes = 65536\nmax_output_bytes = 10000000", 32 * mib),
    );
    let mut client = Client::connect(&service.addr, "probe-key").await;

    // Memory: 33 MiB cannot fit in a 32 MiB instance; 28 MiB (plus the probe's own) can.
    let over = subscribe(&mut client, "m-over", &format!("alloc/{}", 33 * mib)).await;
    assert_eq!(over["type"], "rejected", "{over}");
    assert!(
        over["reason"].as_str().unwrap().contains("trapped"),
        "{over}"
    );
    let under = subscribe(&mut client, "m-under", &format!("alloc/{}", 28 * mib)).await;
    assert_eq!(under["type"], "subscribed", "{under}");

    // Time: a 70 ms call finishes within the 100 ms deadline, a 130 ms one is interrupted.
    let under = subscribe(&mut client, "t-under", "spin/70").await;
    assert_eq!(under["type"], "subscribed", "{under}");
    let over = subscribe(&mut client, "t-over", "spin/130").await;
    assert_eq!(over["type"], "rejected", "{over}");
    assert!(
        over["reason"]
            .as_str()
            .unwrap()
            .contains("deadline exceeded"),
        "{over}"
    );

    // Payload: exactly the limit is delivered; one byte more is dropped and counted.
    let at = subscribe(&mut client, "p-at", "payload/65536").await;
    assert_eq!(at["type"], "subscribed", "{at}");
    let event = next_for(&mut client, "p-at").await;
    assert_eq!(
        event["payload"].to_string().len(),
        65536,
        "payload as the filter made it"
    );
    client
        .send(json!({"op": "unsubscribe", "id": "p-at"}))
        .await;
    let over = subscribe(&mut client, "p-over", "payload/65537").await;
    assert_eq!(over["type"], "subscribed", "{over}");
    service
        .wait_metric(
            "flightcast_drops_total",
            &[("tenant", "probe"), ("reason", "filter_payload_too_large")],
            3.0,
            Duration::from_secs(20),
        )
        .await;
    // The instance survived every refusal: the 28 MiB subscription still holds.
    assert_eq!(
        service
            .metric("flightcast_filter_quarantined", &[("tenant", "probe")])
            .await,
        0.0
    );

    // Output: a second service whose answer limit is 100000 bytes, one event per call.
    let service = probe_service(
        "sandbox-output",
        "max_payload_bytes = 1000000\nmax_output_bytes = 100000",
    );
    let mut client = Client::connect(&service.addr, "probe-key").await;
    // 99000 bytes of payload plus the 12-byte key fit.
    let under = subscribe(&mut client, "o-under", "payload/99000").await;
    assert_eq!(under["type"], "subscribed", "{under}");
    let event = next_for(&mut client, "o-under").await;
    assert_eq!(event["payload"].to_string().len(), 99000);
    client
        .send(json!({"op": "unsubscribe", "id": "o-under"}))
        .await;
    let before = service
        .metric(
            "flightcast_filter_calls_total",
            &[("tenant", "probe"), ("call", "route"), ("outcome", "trap")],
        )
        .await;
    let over = subscribe(&mut client, "o-over", "payload/100001").await;
    assert_eq!(over["type"], "subscribed", "{over}");
    service
        .wait_metric(
            "flightcast_filter_calls_total",
            &[("tenant", "probe"), ("call", "route"), ("outcome", "trap")],
            before + 3.0,
            Duration::from_secs(20),
        )
        .await;
    let log = std::fs::read_to_string(&service.log).unwrap();
    assert!(
        log.contains("over the limit of 100000"),
        "the trap names the output limit"
    );
}
