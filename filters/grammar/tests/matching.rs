//! Which events each topic selects, and the keys an event is routed to.

use flightcast_grammar::{matching_keys, BoxRegistry, EventView, GeoBox, Topic};

/// A departure from Paris CDG to London Heathrow, over Paris.
fn departure() -> EventView<'static> {
    EventView {
        kind: "position",
        callsign: Some("AFR1380"),
        airline_icao: Some("AFR"),
        origin: Some("LFPG"),
        origin_iata: Some("CDG"),
        destination: Some("EGLL"),
        destination_iata: Some("LHR"),
        lat: Some(49.0),
        lon: Some(2.5),
        ..EventView::default()
    }
}

fn geobox(value: &str) -> GeoBox {
    GeoBox::parse(value).unwrap_or_else(|problem| panic!("{value}: {problem:?}"))
}

fn registry(values: &[&str]) -> BoxRegistry {
    let mut boxes = BoxRegistry::new();
    for value in values {
        boxes.insert(geobox(value));
    }
    boxes
}

#[test]
fn box_edges_are_inside() {
    let paris = geobox("48,2,49,3");
    for (lat, lon) in [
        (48.0, 2.0),
        (49.0, 3.0),
        (48.0, 3.0),
        (49.0, 2.0),
        (48.5, 2.5),
    ] {
        assert!(paris.contains(lat, lon), "({lat}, {lon})");
    }
    for (lat, lon) in [
        (47.9999, 2.5),
        (49.0001, 2.5),
        (48.5, 1.9999),
        (48.5, 3.0001),
    ] {
        assert!(!paris.contains(lat, lon), "({lat}, {lon})");
    }
}

#[test]
fn antimeridian_box_spans_both_sides_of_180() {
    let pacific = geobox("-10,170,10,-170");
    for lon in [170.0, 175.0, 180.0, -180.0, -175.0, -170.0] {
        assert!(pacific.contains(0.0, lon), "lon {lon}");
    }
    for lon in [169.9999, -169.9999, 0.0] {
        assert!(!pacific.contains(0.0, lon), "lon {lon}");
    }
    assert!(!pacific.contains(10.0001, 175.0));
}

#[test]
fn degenerate_boxes_hold_their_edges() {
    let meridian = geobox("-90,5,90,5");
    assert!(meridian.contains(12.0, 5.0));
    assert!(!meridian.contains(12.0, 5.0001));
    let point = geobox("45,5,45,5");
    assert!(point.contains(45.0, 5.0));
    assert!(!point.contains(45.0001, 5.0));
}

#[test]
fn nothing_is_inside_at_an_unknown_position() {
    let world = geobox("-90,-180,90,180");
    assert!(world.contains(-90.0, 180.0));
    assert!(!world.contains(f64::NAN, 0.0));
    let no_lon = EventView {
        lat: Some(1.0),
        ..EventView::default()
    };
    assert!(!Topic::Box(world).matches(&no_lon));
}

#[test]
fn each_topic_matches_its_own_field_ignoring_case() {
    let event = EventView {
        callsign: Some("afr1380"),
        airline_icao: Some("afr"),
        origin_iata: Some("cdg"),
        ..departure()
    };
    let matches = |topic: &str| Topic::parse(topic).unwrap().matches(&event);
    assert!(matches("all"));
    assert!(matches("flight:AFR1380"));
    assert!(!matches("flight:AFR138"));
    assert!(matches("airline:AFR"));
    assert!(!matches("airline:EZY"));
    for airport in ["LFPG", "CDG", "EGLL", "LHR"] {
        assert!(matches(&format!("airport:{airport}")), "{airport}");
    }
    assert!(!matches("airport:ORY"));
    assert!(matches("box:48,2,49,3"));
    assert!(!matches("box:50,2,51,3"));
}

#[test]
fn event_keys_list_every_matching_topic_once() {
    let boxes = registry(&["48,2,49,3", "50,2,51,3", "-90,-180,90,180"]);
    assert_eq!(
        matching_keys(&departure(), &boxes),
        [
            "all",
            "flight:AFR1380",
            "airline:AFR",
            "airport:LFPG",
            "airport:CDG",
            "airport:EGLL",
            "airport:LHR",
            "box:-90,-180,90,180",
            "box:48,2,49,3",
        ]
    );
}

#[test]
fn event_without_fields_matches_only_all() {
    let boxes = registry(&["-90,-180,90,180"]);
    assert_eq!(matching_keys(&EventView::default(), &boxes), ["all"]);
}

#[test]
fn event_keys_are_upper_cased_and_airports_deduplicated() {
    let round_trip = EventView {
        callsign: Some("fhmac"),
        airline_icao: None,
        origin: Some("lfpn"),
        origin_iata: Some("TNF"),
        destination: Some("LFPN"),
        destination_iata: Some("tnf"),
        ..departure()
    };
    assert_eq!(
        matching_keys(&round_trip, &BoxRegistry::new()),
        ["all", "flight:FHMAC", "airport:LFPN", "airport:TNF"]
    );
}

#[test]
fn event_values_no_topic_could_name_give_no_key() {
    let odd = EventView {
        callsign: Some("F-HMAC"),
        airline_icao: Some("AF"),
        origin: Some("LFPGX"),
        origin_iata: Some(""),
        destination: None,
        destination_iata: Some("CD1"),
        ..departure()
    };
    assert_eq!(matching_keys(&odd, &BoxRegistry::new()), ["all"]);
}

#[test]
fn released_boxes_are_no_longer_matched() {
    let mut boxes = registry(&["48,2,49,3"]);
    assert!(boxes.remove("box:48,2,49,3"));
    assert!(!boxes.remove("box:48,2,49,3"));
    assert!(boxes.is_empty());
    assert_eq!(matching_keys(&departure(), &boxes).len(), 7);
}

/// The keys an event is routed to are exactly the keys of the topics it matches, so a
/// subscriber receives an event if and only if its topic selects it.
#[test]
fn routing_keys_agree_with_topic_matching() {
    let topics = [
        "all",
        "flight:AFR1380",
        "flight:fhmac",
        "flight:AFR138",
        "airline:AFR",
        "airline:EZY",
        "airport:CDG",
        "airport:lfpg",
        "airport:LHR",
        "airport:ORY",
        "box:48,2,49,3",
        "box:49,2.5,50,3",
        "box:49.0001,2,50,3",
        "box:-10,170,10,-170",
        "box:-90,-180,90,180",
    ];
    let topics: Vec<Topic> = topics.iter().map(|t| Topic::parse(t).unwrap()).collect();
    let mut boxes = BoxRegistry::new();
    for topic in &topics {
        if let Topic::Box(geobox) = topic {
            boxes.insert(*geobox);
        }
    }

    let events = [
        departure(),
        EventView {
            lat: Some(0.0),
            lon: Some(-175.0),
            ..departure()
        },
        EventView {
            callsign: Some("FHMAC"),
            airline_icao: None,
            ..EventView::default()
        },
        EventView {
            origin: None,
            destination_iata: Some("ory"),
            lon: None,
            ..departure()
        },
    ];
    for event in &events {
        let keys = matching_keys(event, &boxes);
        for topic in &topics {
            let routed = keys.contains(&topic.key());
            assert_eq!(routed, topic.matches(event), "{topic:?} for {event:?}");
        }
    }
}
