//! Hot swap under a continuous stream: versions are swapped repeatedly while clients receive,
//! and each client gets exactly what the old version routes up to a cut and what the new one
//! routes after it: no gap, no duplicate, no disconnect.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use support::admin;
use support::expect::Received;
use support::{config, Client, Service};

/// swap-b's rule (see filters/swap-b): it delivers an event to `all` only when the bytes of its
/// event id add up to an even number.
fn b_delivers(event_id: &str) -> bool {
    event_id.bytes().map(u64::from).sum::<u64>() % 2 == 0
}

const SWAPS: usize = 8;

#[tokio::test]
async fn swapping_versions_under_a_stream_loses_and_doubles_nothing() {
    let extra = format!(
        "[tenants.mirror]\nfilter = \"{}\"\n\n[[api_keys]]\nkey = \"mirror-key\"\ntenant = \"mirror\"\nsubject = \"m\"\n{}",
        support::filter("standard").display(),
        admin::tokens()
    );
    // About half a minute of stream: long enough for every swap to land inside it.
    let config =
        config("", &extra).replace("speedup = 0.0\nloops = 1", "speedup = 300.0\nloops = 1");
    let service = Service::start("hot-swap", &config);
    let addr = service.admin.clone();
    let a = admin::deploy(&addr, "demo", &admin::component("swap-a")).await;
    let uploaded = admin::upload(&addr, "demo", admin::OPERATOR, &admin::component("swap-b")).await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let b = uploaded.body["sha256"].as_str().unwrap().to_string();

    // The ground truth: every event's position and id, from a tenant that is never swapped.
    let mut mirror = Client::connect(&service.addr, "mirror-key").await;
    mirror.subscribe_from_start("all", "all", 4).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(&service.addr, "demo-key").await;
        client.subscribe_from_start("s", "everything", 4).await;
        clients.push(client);
    }
    let mut only_a = Client::connect(&service.addr, "demo-key").await;
    only_a
        .send(json!({"op": "subscribe", "id": "oa", "topic": "only-a"}))
        .await;
    only_a.until("subscribed", "oa").await;
    // Swaps start once every client has caught up and routing is live for all of them.
    let mut early: Vec<Vec<Value>> = Vec::new();
    for client in &mut clients {
        let (_, before) = client.until("caught_up", "s").await;
        early.push(before);
    }

    for i in 0..SWAPS {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let target = if i % 2 == 0 { &b } else { &a };
        let answer = admin::post(
            &addr,
            &format!("/v1/tenants/demo/versions/{target}/activate"),
            admin::OPERATOR,
        )
        .await;
        assert_eq!(answer.status, 200, "swap {i}: {:?}", answer.body);
    }
    let routed = service
        .metric("flightcast_events_routed_total", &[("tenant", "demo")])
        .await;
    assert!(
        routed < support::dataset().len() as f64,
        "the stream ended before the last swap; the test proves nothing"
    );
    service.wait_all_routed("demo").await;
    service.wait_all_routed("mirror").await;

    // Ground truth by position.
    let truth = Received::collect_through_barrier(&mut mirror).await;
    let mut ids: BTreeMap<(i64, i64), String> = BTreeMap::new();
    for got in &truth.by_sub["all"] {
        ids.insert(
            (got.partition, got.offset),
            got.payload["event_id"].as_str().unwrap().into(),
        );
    }
    assert_eq!(
        ids.len(),
        support::dataset().len(),
        "the mirror got every event once"
    );

    // The only-a subscription was ended, with a notice, by the first swap to b.
    let (ended, _) = only_a.until("ended", "oa").await;
    assert!(
        ended["reason"].as_str().unwrap().contains("version b"),
        "{ended}"
    );

    let mut sequences = Vec::new();
    for (client, early) in clients.iter_mut().zip(early) {
        let rest = Received::collect_through_barrier(client).await;
        let mut received = Received::default();
        for message in early {
            received.add(message);
        }
        for (sub, events) in rest.by_sub {
            received.by_sub.entry(sub).or_default().extend(events);
        }
        received.notices.extend(rest.notices);
        assert!(
            received
                .notices
                .iter()
                .all(|n| n["type"] != "gap" && n["type"] != "ended"),
            "notices: {:?}",
            received.notices
        );
        sequences.push(check_one_client(&received, &ids));
    }
    // One routing per event: every client saw the same version route each event.
    assert!(
        sequences.windows(2).all(|w| w[0] == w[1]),
        "clients disagree on which version routed an event"
    );
    let changes: usize = sequences[0]
        .values()
        .map(|tags| tags.windows(2).filter(|w| w[0].1 != w[1].1).count())
        .sum();
    assert!(
        changes >= SWAPS / 2,
        "only {changes} version changes seen across partitions"
    );
    println!(
        "hot swap: {SWAPS} swaps, {changes} version changes seen across partitions, {} events",
        ids.len()
    );
}

/// Checks one client's events against the truth and returns, per partition, the version that
/// routed each received offset.
fn check_one_client(
    received: &Received,
    ids: &BTreeMap<(i64, i64), String>,
) -> HashMap<i64, Vec<(i64, String)>> {
    let mut by_partition: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for got in &received.by_sub["s"] {
        let position = (got.partition, got.offset);
        assert!(seen.insert(position), "{position:?} delivered twice");
        let id = &ids[&position];
        let version = got.payload["v"]
            .as_str()
            .expect("a version tag")
            .to_string();
        assert_eq!(
            got.payload["id"].as_str(),
            Some(id.as_str()),
            "payload of another event at {position:?}"
        );
        if version == "b" {
            assert!(
                b_delivers(id),
                "version b delivered {id}, which it never routes"
            );
        }
        by_partition
            .entry(got.partition)
            .or_default()
            .push((got.offset, version));
    }
    for (partition, tags) in &mut by_partition {
        assert!(
            tags.windows(2).all(|w| w[0].0 < w[1].0),
            "partition {partition} out of order"
        );
    }
    // A missing event is one version b did not route to `all`, inside a stretch b routed:
    // never between two events version a routed (a routes everything).
    for ((partition, offset), id) in ids {
        if seen.contains(&(*partition, *offset)) {
            continue;
        }
        assert!(
            !b_delivers(id),
            "event {id} at {partition}/{offset} lost: both versions route it"
        );
        let tags = &by_partition[partition];
        let after = tags.partition_point(|(o, _)| o < offset);
        let before_tag = after.checked_sub(1).map(|i| tags[i].1.as_str());
        let after_tag = tags.get(after).map(|t| t.1.as_str());
        assert!(
            !(before_tag == Some("a") && after_tag == Some("a")),
            "event {id} at {partition}/{offset} lost between two events version a routed"
        );
    }
    by_partition
}
