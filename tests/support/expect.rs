//! What each subscription should receive, computed from the data file with a model of the topic
//! grammar written here independently of the filters, and the check that compares it with
//! what a client actually received.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::Client;

/// How a tenant's filter shapes the payload it delivers.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// The record exactly as produced.
    Raw,
    /// `icao24` and `squawk` removed, `redacted` added.
    Redacted,
}

fn field<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event[name].as_str()
}

/// Whether `event` matches `topic` under the standard grammar.
pub fn matches(topic: &str, event: &Value) -> bool {
    let (kind, value) = topic.split_once(':').unwrap_or((topic, ""));
    match kind {
        "all" => true,
        "flight" => field(event, "callsign").is_some_and(|c| c.eq_ignore_ascii_case(value)),
        "airline" => field(event, "airline_icao") == Some(value),
        "airport" => ["origin", "origin_iata", "destination", "destination_iata"]
            .iter()
            .any(|f| field(event, f) == Some(value)),
        "box" => {
            let b: Vec<f64> = value.split(',').map(|n| n.parse().unwrap()).collect();
            let (Some(lat), Some(lon)) = (event["lat"].as_f64(), event["lon"].as_f64()) else {
                return false;
            };
            let lon_in = if b[1] <= b[3] {
                b[1] <= lon && lon <= b[3]
            } else {
                lon >= b[1] || lon <= b[3]
            };
            b[0] <= lat && lat <= b[2] && lon_in
        }
        _ => panic!("the model does not know topic {topic}"),
    }
}

/// The events a subscription should receive, in file order.
pub fn expected(topic: &str, airline: Option<&str>, data: &'static [Value]) -> Vec<&'static Value> {
    data.iter()
        .filter(|e| airline.is_none_or(|a| field(e, "airline_icao") == Some(a)))
        .filter(|e| matches(topic, e))
        .collect()
}

/// One event as a client received it for one subscription.
#[derive(Debug, Clone)]
pub struct Got {
    pub partition: i64,
    pub offset: i64,
    pub payload: Value,
}

/// Everything one connection received, by subscription id, plus its notices.
#[derive(Default, Debug)]
pub struct Received {
    pub by_sub: HashMap<String, Vec<Got>>,
    pub notices: Vec<Value>,
}

impl Received {
    pub fn add(&mut self, message: Value) {
        if message["type"] != "event" {
            self.notices.push(message);
            return;
        }
        let got = Got {
            partition: message["partition"].as_i64().unwrap(),
            offset: message["offset"].as_i64().unwrap(),
            payload: message["payload"].clone(),
        };
        for sub in message["subs"].as_array().unwrap() {
            self.by_sub
                .entry(sub.as_str().unwrap().to_string())
                .or_default()
                .push(got.clone());
        }
    }

    /// Reads until the reply to a barrier request: a subscription the filter must reject. The
    /// worker answers it only after routing everything before it, so what came before is all
    /// there is.
    pub async fn collect_through_barrier(client: &mut Client) -> Received {
        client
            .send(serde_json::json!({"op": "subscribe", "id": "barrier", "topic": "nonsense"}))
            .await;
        let (reply, before) = client.until("rejected", "barrier").await;
        assert!(
            reply["reason"].as_str().unwrap().contains("unknown topic"),
            "{reply}"
        );
        let mut received = Received::default();
        for message in before {
            received.add(message);
        }
        received
    }

    pub fn notice(&self, kind: &str, id: &str) -> Option<&Value> {
        self.notices
            .iter()
            .find(|n| n["type"] == kind && n["id"] == id)
    }
}

/// Positions seen across all clients, so the same event must have the same position everywhere.
#[derive(Default)]
pub struct Positions(HashMap<String, (i64, i64)>);

/// Checks that `got` is exactly `expected`: no event missing, none extra, none twice; each
/// flight's events in file order and in one partition; offsets rising within each partition;
/// and payloads as the filter should shape them.
pub fn check_exact(
    what: &str,
    got: &[Got],
    expected: &[&Value],
    shape: Shape,
    positions: &mut Positions,
) {
    let id = |v: &Value| v["event_id"].as_str().unwrap().to_string();
    let got_ids: Vec<String> = got.iter().map(|g| id(&g.payload)).collect();
    let unique: HashSet<&String> = got_ids.iter().collect();
    assert_eq!(
        unique.len(),
        got_ids.len(),
        "{what}: an event arrived twice"
    );
    let want: HashSet<String> = expected.iter().map(|e| id(e)).collect();
    let missing: Vec<&String> = want
        .iter()
        .filter(|e| !unique.contains(e))
        .take(5)
        .collect();
    let extra: Vec<&&String> = unique
        .iter()
        .filter(|e| !want.contains(**e))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: got {} events, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        got.len(),
        expected.len()
    );

    let originals: HashMap<String, &Value> = expected.iter().map(|e| (id(e), *e)).collect();
    let mut flights: BTreeMap<String, (Vec<String>, HashSet<i64>)> = BTreeMap::new();
    let mut last_offset: HashMap<i64, i64> = HashMap::new();
    for g in got {
        let event_id = id(&g.payload);
        let original = originals[&event_id];
        assert_eq!(
            g.payload,
            shaped(original, shape),
            "{what}: payload of {event_id}"
        );
        let flight = flights
            .entry(original["flight_id"].as_str().unwrap().to_string())
            .or_default();
        flight.0.push(event_id.clone());
        flight.1.insert(g.partition);
        let last = last_offset.entry(g.partition).or_insert(-1);
        assert!(
            g.offset > *last,
            "{what}: offsets not rising in partition {}",
            g.partition
        );
        *last = g.offset;
        let seen = positions
            .0
            .entry(event_id.clone())
            .or_insert((g.partition, g.offset));
        assert_eq!(
            *seen,
            (g.partition, g.offset),
            "{what}: {event_id} has two positions"
        );
    }
    for (flight, (ids, partitions)) in flights {
        let order: Vec<String> = expected
            .iter()
            .filter(|e| e["flight_id"] == flight.as_str())
            .map(|e| id(e))
            .collect();
        assert_eq!(ids, order, "{what}: events of flight {flight} out of order");
        assert_eq!(
            partitions.len(),
            1,
            "{what}: flight {flight} spread over partitions"
        );
    }
}

/// The payload a client should see for `original`.
pub fn shaped(original: &Value, shape: Shape) -> Value {
    match shape {
        Shape::Raw => original.clone(),
        Shape::Redacted => {
            let mut v = original.clone();
            let map = v.as_object_mut().unwrap();
            map.remove("icao24");
            map.remove("squawk");
            map.insert("redacted".into(), serde_json::json!(["icao24", "squawk"]));
            v
        }
    }
}
