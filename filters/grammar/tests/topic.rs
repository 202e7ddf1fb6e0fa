//! Parsing of each topic form, on both sides of every rule, and the reasons given.

use flightcast_grammar::{BoxProblem, GeoBox, Topic, TopicError};

fn key(topic: &str) -> String {
    match Topic::parse(topic) {
        Ok(parsed) => parsed.key(),
        Err(reason) => panic!("{topic:?} was refused: {reason}"),
    }
}

fn reason(topic: &str) -> String {
    match Topic::parse(topic) {
        Ok(parsed) => panic!("{topic:?} was accepted as {parsed:?}"),
        Err(reason) => reason.to_string(),
    }
}

#[test]
fn all_is_accepted_in_any_case_and_nothing_may_follow_it() {
    assert_eq!(key("all"), "all");
    assert_eq!(key("ALL"), "all");
    assert_eq!(key("  All\t"), "all");
    assert!(matches!(Topic::parse("all:"), Err(TopicError::Unknown(_))));
    assert!(matches!(Topic::parse("alll"), Err(TopicError::Unknown(_))));
}

#[test]
fn topics_are_trimmed_and_case_insensitive_with_values_upper_cased() {
    assert_eq!(key(" Flight:afr9455 \n"), "flight:AFR9455");
    assert_eq!(key("FLIGHT:AfR9455"), "flight:AFR9455");
    assert_eq!(key("AIRLINE:afr"), "airline:AFR");
    assert_eq!(key("Airport:cdg"), "airport:CDG");
    assert_eq!(key("BOX:1,2,3,4"), "box:1,2,3,4");
}

#[test]
fn whitespace_inside_a_topic_is_not_trimmed() {
    assert_eq!(
        reason("flight: AFR9455"),
        r#"callsign must be 2 to 8 letters or digits, got " AFR9455""#
    );
    assert!(matches!(
        Topic::parse("flight :AFR9455"),
        Err(TopicError::Unknown(_))
    ));
}

#[test]
fn callsign_takes_2_to_8_letters_or_digits() {
    assert_eq!(key("flight:AF"), "flight:AF");
    assert_eq!(key("flight:ABCDEF78"), "flight:ABCDEF78");
    assert_eq!(key("flight:fhmac"), "flight:FHMAC");
    assert_eq!(key("flight:12"), "flight:12");

    assert_eq!(
        reason("flight:A"),
        r#"callsign must be 2 to 8 letters or digits, got "A""#
    );
    assert_eq!(
        reason("flight:ABCDEF789"),
        r#"callsign must be 2 to 8 letters or digits, got "ABCDEF789""#
    );
    assert_eq!(
        reason("flight:"),
        r#"callsign must be 2 to 8 letters or digits, got """#
    );
    assert_eq!(
        reason("flight:F-HMAC"),
        r#"callsign must be 2 to 8 letters or digits, got "F-HMAC""#
    );
    assert!(Topic::parse("flight:ÅFR1").is_err());
}

#[test]
fn airline_takes_exactly_3_letters() {
    assert_eq!(key("airline:AFR"), "airline:AFR");
    assert_eq!(key("airline:ezy"), "airline:EZY");

    assert_eq!(
        reason("airline:AF"),
        r#"airline code must be 3 letters, got "AF""#
    );
    assert_eq!(
        reason("airline:AFRX"),
        r#"airline code must be 3 letters, got "AFRX""#
    );
    assert_eq!(
        reason("airline:AF1"),
        r#"airline code must be 3 letters, got "AF1""#
    );
}

#[test]
fn airport_takes_3_letters_or_4_letters_or_digits() {
    assert_eq!(key("airport:CDG"), "airport:CDG");
    assert_eq!(key("airport:lfpg"), "airport:LFPG");
    assert_eq!(key("airport:K0B1"), "airport:K0B1");

    let expected = |value: &str| {
        format!(
            "airport code must be 3 letters (IATA) or 4 letters or digits (ICAO), got {value:?}"
        )
    };
    assert_eq!(reason("airport:CD"), expected("CD"));
    assert_eq!(reason("airport:CD1"), expected("CD1"));
    assert_eq!(reason("airport:LFPGX"), expected("LFPGX"));
    assert_eq!(reason("airport:LF-G"), expected("LF-G"));
}

#[test]
fn box_key_is_the_shortest_form_of_each_number() {
    assert_eq!(key("box:48.50,2,49.5,3.0"), "box:48.5,2,49.5,3");
    assert_eq!(key("box:48.5,2.0,49.50,3"), "box:48.5,2,49.5,3");
    assert_eq!(key("box:+.5,-2.25,1.,5"), "box:0.5,-2.25,1,5");
    assert_eq!(key("box:-0,-0.0,0,0"), "box:0,0,0,0");
    assert_eq!(key("box:-10,170,10,-170"), "box:-10,170,10,-170");
}

#[test]
fn box_needs_four_plain_decimal_numbers() {
    let malformed = |topic: &str| {
        format!("malformed box {topic:?}: expected four numbers south,west,north,east")
    };
    assert_eq!(reason("box:1,2"), malformed("box:1,2"));
    assert_eq!(reason("box:1,2,3,4,5"), malformed("box:1,2,3,4,5"));
    assert_eq!(reason("box:1,,3,4"), malformed("box:1,,3,4"));
    assert_eq!(reason("box:"), malformed("box:"));
    assert_eq!(reason("box:1, 2,3,4"), malformed("box:1, 2,3,4"));
    assert_eq!(reason("box:1e1,2,3,4"), malformed("box:1e1,2,3,4"));
    assert_eq!(reason("box:NaN,2,3,4"), malformed("box:NaN,2,3,4"));
    assert_eq!(reason("box:1,inf,3,4"), malformed("box:1,inf,3,4"));
    assert_eq!(reason("box:1.2.3,2,3,4"), malformed("box:1.2.3,2,3,4"));
    assert_eq!(reason("box:--1,2,3,4"), malformed("box:--1,2,3,4"));
}

#[test]
fn box_latitudes_lie_between_minus_90_and_90() {
    assert!(Topic::parse("box:-90,0,90,1").is_ok());
    assert_eq!(
        Topic::parse("box:-90.0001,0,90,1"),
        Err(TopicError::Box(
            "box:-90.0001,0,90,1".into(),
            BoxProblem::Latitude
        ))
    );
    assert_eq!(
        reason("box:0,0,90.5,1"),
        r#"box "box:0,0,90.5,1": latitudes must lie between -90 and 90"#
    );
}

#[test]
fn box_longitudes_lie_between_minus_180_and_180() {
    assert!(Topic::parse("box:0,-180,1,180").is_ok());
    assert_eq!(
        reason("box:0,-180.5,1,180"),
        r#"box "box:0,-180.5,1,180": longitudes must lie between -180 and 180"#
    );
    assert_eq!(
        Topic::parse("box:0,-180,1,180.01"),
        Err(TopicError::Box(
            "box:0,-180,1,180.01".into(),
            BoxProblem::Longitude
        ))
    );
}

#[test]
fn box_south_may_equal_but_not_exceed_north() {
    assert!(Topic::parse("box:45,0,45,1").is_ok());
    assert_eq!(
        reason("box:45.1,0,45,1"),
        r#"box "box:45.1,0,45,1": south must not be greater than north"#
    );
}

#[test]
fn box_west_greater_than_east_crosses_the_antimeridian() {
    let Ok(Topic::Box(geobox)) = Topic::parse("box:-10,170,10,-170") else {
        panic!("antimeridian box refused");
    };
    assert!(geobox.crosses_antimeridian());
    assert_eq!(
        geobox,
        GeoBox {
            south: -10.0,
            west: 170.0,
            north: 10.0,
            east: -170.0
        }
    );
    assert!(!GeoBox::parse("-10,-170,10,170")
        .unwrap()
        .crosses_antimeridian());
}

#[test]
fn unknown_topics_are_refused_with_the_grammar() {
    let grammar = "expected all, flight:<callsign>, airline:<icao>, airport:<iata|icao>, \
                   box:<south>,<west>,<north>,<east>";
    assert_eq!(reason("foo"), format!(r#"unknown topic "foo": {grammar}"#));
    assert_eq!(
        reason("  foo  "),
        format!(r#"unknown topic "foo": {grammar}"#)
    );
    assert_eq!(reason(""), format!(r#"unknown topic "": {grammar}"#));
    assert_eq!(
        reason("flights:AFR1"),
        format!(r#"unknown topic "flights:AFR1": {grammar}"#)
    );
    assert_eq!(
        reason("say \"hi\""),
        format!(r#"unknown topic "say \"hi\"": {grammar}"#)
    );
}
