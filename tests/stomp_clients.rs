//! Real STOMP clients against the real binary: `@stomp/stompjs` 7 under Node (with `ws`) and
//! in headless Chromium, as existing frontends use it, must work unchanged.
//!
//! Each test starts the service with the bundled data (all 26,448 events produced at once, a
//! window holding all of them, heart-beats offered at 1000 ms), waits until every event is
//! routed, then runs one script of `tests/stomp/` (a Node package: `npm ci` there first) as a
//! child process under a time limit. The script checks what it saw and prints a one-line JSON
//! summary; the test requires exit code 0 and asserts the summary's key facts again here,
//! comparing the event counts with the ones the Rust grammar model (`support::expect`) gives,
//! so the JavaScript model of the grammar is checked too.
//!
//! The tests run one at a time (a lock), since they time heart-beats, reconnections and
//! disconnections and a loaded two-core machine would blur those numbers.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::expect::expected;
use support::{config, dataset, Service};

/// How long the whole data set may take to be routed after the service starts.
const ROUTE_LIMIT: Duration = Duration::from_secs(120);

/// The server's heart-beat offer, small enough for several intervals to pass in a test.
const HEARTBEAT_MS: u64 = 1000;

/// One test at a time, whatever the harness's thread count.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Node package of the clients.
fn package() -> PathBuf {
    let dir = support::root().join("tests/stomp");
    assert!(
        dir.join("node_modules/@stomp/stompjs/bundles/stomp.umd.js")
            .exists()
            && dir.join("node_modules/ws").exists(),
        "the STOMP client packages are missing: run `npm ci` in {}",
        dir.display()
    );
    dir
}

/// The service with both example tenants and STOMP heart-beats at `HEARTBEAT_MS`, once every
/// event has been routed for both tenants (so a resume from offset 0 replays all of them and
/// nothing live follows the catch-up).
async fn service(name: &str) -> Service {
    let config = format!(
        "{}\n[stomp]\nheartbeat_ms = {HEARTBEAT_MS}\n",
        config("embedded_partitions = 4", "")
    );
    let service = Service::start(name, &config);
    let total = dataset().len() as f64;
    for tenant in ["demo", "partner"] {
        service
            .wait_metric(
                "flightcast_events_routed_total",
                &[("tenant", tenant)],
                total,
                ROUTE_LIMIT,
            )
            .await;
    }
    service
}

/// Runs `node tests/stomp/<script> <args>` (killed after `limit`), requires exit code 0 and
/// returns the JSON summary from the last line of its stdout.
async fn node(script: &str, args: &[&str], limit: Duration) -> Value {
    let dir = package();
    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, child)
        .await
        .unwrap_or_else(|_| panic!("node {script} did not finish within {limit:?} (killed)"))
        .expect("running node (install Node.js, then `npm ci` in tests/stomp)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "node {script}: {:?}, {:?}",
        output.status,
        started.elapsed()
    );
    assert!(
        output.status.success(),
        "node {script} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("node {script}: no JSON summary ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["failures"], serde_json::json!([]), "{summary}");
    summary
}

/// The events the Rust model of the grammar gives for `destination` (optionally only one
/// airline's, as the partner filter does).
fn expected_count(destination: &str, airline: Option<&str>) -> u64 {
    let topic = destination.strip_prefix("/topic/").unwrap();
    expected(topic, airline, dataset()).len() as u64
}

/// Asserts one subscription's summary: exactly the expected events, each once, with sound
/// positions and payloads, then caught_up and nothing after it.
fn assert_exact(what: &str, sub: &Value, airline: Option<&str>) {
    let destination = sub["destination"].as_str().unwrap();
    let want = expected_count(destination, airline);
    assert!(want > 0, "{what} {destination}: the model expects no event");
    assert_eq!(
        sub["expected"], want,
        "{what} {destination}: the JavaScript and Rust grammar models disagree"
    );
    for (field, value) in [
        ("received", want),
        ("unique", want),
        ("missing", 0),
        ("extra", 0),
        ("duplicates", 0),
        ("bad_position", 0),
        ("bad_payload", 0),
        ("out_of_order_flights", 0),
        ("gaps", 0),
        ("after_caught_up", 0),
    ] {
        assert_eq!(sub[field], value, "{what} {destination}: {field}: {sub}");
    }
    assert_eq!(sub["caught_up"], true, "{what} {destination}: {sub}");
    assert_eq!(sub["ok"], true, "{what} {destination}: {sub}");
}

fn ms(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a duration: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_node_client_gets_exact_events_over_split_frames_keeps_heartbeats_and_disconnects_promptly(
) {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-delivery").await;
    let summary = node(
        "node-delivery.mjs",
        &["--addr", &service.addr, "--token", "demo-key"],
        Duration::from_secs(180),
    )
    .await;

    // Connected as a browser frontend would: subprotocol, version, heart-beats.
    assert_eq!(summary["subprotocol"], "v12.stomp", "{summary}");
    assert_eq!(summary["connected"]["version"], "1.2", "{summary}");
    assert_eq!(summary["connected"]["heart-beat"], "1000,1000", "{summary}");
    assert_eq!(summary["connected"]["user-name"], "tester", "{summary}");

    // Exactly the events of each destination.
    let subs = summary["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 4, "{summary}");
    for sub in subs {
        assert_exact("demo", sub, None);
    }

    // Every SUBSCRIBE crossed in many WebSocket messages of at most 7 characters.
    let subscribes: Vec<&Value> = summary["frames_sent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["command"] == "SUBSCRIBE")
        .collect();
    assert_eq!(subscribes.len(), 4, "{summary}");
    for frame in subscribes {
        assert!(
            ms(&frame["messages"]) >= 10 && ms(&frame["longest"]) <= 7,
            "SUBSCRIBE not split as asked: {frame}"
        );
    }

    // Heart-beats kept both ways over more than three intervals, the connection untouched.
    let hb = &summary["heartbeats"];
    assert!(ms(&hb["quiet_ms"]) > 3 * HEARTBEAT_MS, "{hb}");
    assert!(
        ms(&hb["pings_sent"]) >= 3 && ms(&hb["raw_out"]) >= 3,
        "client heart-beats: {hb}"
    );
    assert!(
        ms(&hb["pongs_received"]) >= 3 && ms(&hb["raw_in"]) >= 3,
        "server heart-beats: {hb}"
    );
    assert_eq!(hb["lost"], 0, "{hb}");
    assert_eq!(summary["closes_before_deactivate"], 0, "{summary}");

    // deactivate() is prompt because the DISCONNECT's RECEIPT comes back.
    assert!(ms(&summary["deactivate_ms"]) < 1000, "{summary}");
    let disconnect = &summary["disconnect"];
    let receipt = disconnect["receipt_header"]
        .as_str()
        .expect("a DISCONNECT receipt");
    assert_eq!(disconnect["on_disconnect_receipt"], receipt, "{disconnect}");
    assert_eq!(
        disconnect["receipt_ids"],
        serde_json::json!([receipt]),
        "{disconnect}"
    );
    assert_eq!(disconnect["closes"][0]["code"], 1000, "{disconnect}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_reconnects_by_itself_after_an_error_frame_closes_the_connection() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-reconnect").await;
    let summary = node(
        "node-reconnect.mjs",
        &["--addr", &service.addr, "--scenario", "demo"],
        Duration::from_secs(120),
    )
    .await;
    let message = summary["error"]["headers"]["message"].as_str().unwrap();
    assert!(message.contains("unknown topic"), "{message}");
    assert_eq!(summary["first_close"]["code"], 1008, "{summary}");
    let reconnect = ms(&summary["reconnect_ms"]);
    assert!(
        (180..2000).contains(&reconnect),
        "reconnected after {reconnect} ms"
    );
    assert_eq!(summary["connections"], 2, "{summary}");
    assert_exact("after reconnecting", &summary["subscription"], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_stompjs_client_is_refused_another_airline_and_gets_redacted_air_france_events() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-partner").await;
    let summary = node(
        "node-reconnect.mjs",
        &["--addr", &service.addr, "--scenario", "partner"],
        Duration::from_secs(120),
    )
    .await;
    let error = &summary["error"];
    let message = error["headers"]["message"].as_str().unwrap();
    assert!(message.contains("outside your airline"), "{message}");
    assert!(message.contains("airline:BAW"), "{message}");
    assert_eq!(summary["first_close"]["code"], 1008, "{summary}");
    assert_eq!(summary["connections"], 2, "{summary}");
    let sub = &summary["subscription"];
    assert_eq!(sub["destination"], "/topic/all", "{sub}");
    assert_exact("partner", sub, Some("AFR"));
    assert_eq!(summary["bodies_with_icao24_or_squawk"], 0, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_limited_to_stomp_1_1_or_1_0_and_with_a_query_token_receives_its_events() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-versions").await;
    let summary = node(
        "node-versions.mjs",
        &["--addr", &service.addr, "--token", "demo-key"],
        Duration::from_secs(150),
    )
    .await;
    let clients = summary["clients"].as_array().unwrap();
    let names: Vec<&str> = clients
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1.1", "1.0", "query-token"], "{summary}");
    for (client, (subprotocol, version)) in clients.iter().zip([
        ("v11.stomp", "1.1"),
        ("v10.stomp", "1.0"),
        ("v12.stomp", "1.2"),
    ]) {
        let name = &client["name"];
        assert_eq!(client["subprotocol"], subprotocol, "{name}: {client}");
        assert_eq!(client["connected"]["version"], version, "{name}: {client}");
        assert_eq!(client["errors"], serde_json::json!([]), "{name}: {client}");
        let subs = client["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 2, "{name}: {client}");
        for sub in subs {
            assert_exact(&format!("STOMP client {name}"), sub, None);
        }
        assert!(ms(&client["deactivate_ms"]) < 1000, "{name}: {client}");
    }
    // Heart-beats where the version has them (1.1 and 1.2), none set up by stompjs in 1.0.
    for client in [&clients[0], &clients[2]] {
        let hb = &client["heartbeats"];
        assert_eq!(hb["send_ping_every"], "send PING every 1000ms", "{hb}");
        assert_eq!(hb["check_pong_every"], "check PONG every 1000ms", "{hb}");
        assert!(
            ms(&hb["pings_sent"]) >= 3 && ms(&hb["pongs_received"]) >= 3,
            "{hb}"
        );
    }
    assert_eq!(clients[1]["heartbeats"]["pings_sent"], 0, "{}", clients[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_in_headless_chromium_receives_air_france_messages_with_proper_headers() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-browser").await;
    let screenshot = support::artifacts().join("stomp-browser.png");
    let _ = std::fs::remove_file(&screenshot);
    let summary = node(
        "browser.mjs",
        &[
            "--addr",
            &service.addr,
            "--token",
            "demo-key",
            "--screenshot",
            screenshot.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(summary["stompjs_loaded"], true, "{summary}");
    assert_eq!(summary["subprotocol"], "v12.stomp", "{summary}");
    assert_eq!(summary["connected"]["version"], "1.2", "{summary}");
    assert_eq!(summary["connected"]["heart-beat"], "1000,1000", "{summary}");
    let sub = &summary["subscription"];
    assert_eq!(sub["destination"], "/topic/airline:AFR", "{sub}");
    assert_exact("chromium", sub, None);
    assert_eq!(summary["events_not_afr"], 0, "{summary}");
    // The caught_up notice is the one message that is not an event.
    assert_eq!(summary["messages"], ms(&sub["received"]) + 1, "{summary}");
    assert!(ms(&summary["deactivate_ms"]) < 1000, "{summary}");
    assert_eq!(summary["receipt"], "close-0", "{summary}");
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_client_acknowledgements_in_1_2_and_1_1_are_accepted() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-acks").await;
    let summary = node(
        "node-edge-cases.mjs",
        &["--addr", &service.addr, "--scenario", "client-acks"],
        Duration::from_secs(120),
    )
    .await;
    let clients = summary["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "{summary}");
    for (client, (version, ack, headers)) in clients.iter().zip([
        ("1.2", "client-individual", ["id", "subscription"]),
        ("1.1", "client", ["message-id", "subscription"]),
    ]) {
        assert_eq!(client["version"], version, "{client}");
        assert_eq!(client["ack"], ack, "{client}");
        assert_eq!(
            client["ack_headers"],
            serde_json::json!(headers),
            "{client}"
        );
        assert!(ms(&client["acks_sent"]) > 0, "{client}");
        assert_eq!(client["errors"], serde_json::json!([]), "{client}");
        assert_exact(
            &format!("{version} {ack} acks"),
            &client["subscription"],
            None,
        );
    }
}

// Server bugs found by these clients: each test below fails until its bug is fixed (see the
// ignore reason), then should run with the others.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_acknowledging_every_message_of_a_large_catch_up_keeps_its_connection() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-ack-backlog").await;
    let summary = node(
        "node-edge-cases.mjs",
        &["--addr", &service.addr, "--scenario", "client-ack-backlog"],
        Duration::from_secs(150),
    )
    .await;
    assert_eq!(summary["received"], dataset().len() as u64, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_sees_the_error_of_a_refused_subscription_sent_among_several() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-refusal-among-several").await;
    let summary = node(
        "node-edge-cases.mjs",
        &[
            "--addr",
            &service.addr,
            "--scenario",
            "refusal-among-several",
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(summary["closes"][0]["code"], 1008, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_gets_a_clean_close_after_a_refusal_with_a_long_non_ascii_reason() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-long-reason").await;
    let summary = node(
        "node-edge-cases.mjs",
        &["--addr", &service.addr, "--scenario", "long-refusal-reason"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(summary["closes"][0]["code"], 1008, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_deactivates_promptly_in_the_middle_of_a_large_catch_up() {
    let _serial = SERIAL.lock().await;
    let service = service("stomp-node-disconnect-catch-up").await;
    let summary = node(
        "node-edge-cases.mjs",
        &[
            "--addr",
            &service.addr,
            "--scenario",
            "disconnect-during-catch-up",
        ],
        Duration::from_secs(90),
    )
    .await;
    assert!(ms(&summary["deactivate_ms"]) < 2000, "{summary}");
}
