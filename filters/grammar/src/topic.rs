//! Subscription topics: parsing, canonical keys and matching one event.

use std::fmt;

use crate::{codes, EventView, GeoBox};

/// The grammar as a client is shown it when a topic has no known form.
pub const GRAMMAR: &str = concat!(
    "all, flight:<callsign>, airline:<icao>, airport:<iata|icao>, ",
    "box:<south>,<west>,<north>,<east>",
);

/// A valid subscription topic, values already normalised.
#[derive(Debug, Clone, PartialEq)]
pub enum Topic {
    /// Every event.
    All,
    /// Events whose callsign is this one (upper case).
    Flight(String),
    /// Events whose ICAO airline designator is this one (upper case).
    Airline(String),
    /// Events departing from or arriving at this airport, by IATA or ICAO code (upper case).
    Airport(String),
    /// Events positioned inside this box.
    Box(GeoBox),
}

/// Why a topic was refused. Its `Display` is the reason shown to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicError {
    /// The topic has none of the grammar's forms; holds the trimmed topic.
    Unknown(String),
    /// A `flight:` topic whose value is not 2 to 8 letters or digits; holds the value.
    Callsign(String),
    /// An `airline:` topic whose value is not 3 letters; holds the value.
    Airline(String),
    /// An `airport:` topic whose value is not an IATA or ICAO code; holds the value.
    Airport(String),
    /// A `box:` topic that is not a valid box; holds the trimmed topic.
    Box(String, BoxProblem),
}

/// What is wrong with a `box:` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxProblem {
    /// Not four plain decimal numbers separated by commas.
    Malformed,
    /// A latitude outside -90..=90.
    Latitude,
    /// A longitude outside -180..=180.
    Longitude,
    /// The south edge lies north of the north edge.
    SouthOfNorth,
}

impl Topic {
    /// Parses a client's topic. Surrounding whitespace is ignored, and so is the case of
    /// both the form (`FLIGHT:`) and the value (`afr9455`).
    pub fn parse(topic: &str) -> Result<Topic, TopicError> {
        let topic = topic.trim();
        if topic.eq_ignore_ascii_case("all") {
            return Ok(Topic::All);
        }
        let unknown = || TopicError::Unknown(topic.to_owned());
        let (form, value) = topic.split_once(':').ok_or_else(unknown)?;

        // Lower-casing a long unknown prefix would copy it for nothing: compare in place.
        let is = |name: &str| form.eq_ignore_ascii_case(name);
        if is("flight") {
            let code = codes::callsign(value).ok_or_else(|| TopicError::Callsign(value.into()))?;
            Ok(Topic::Flight(code))
        } else if is("airline") {
            let code = codes::airline(value).ok_or_else(|| TopicError::Airline(value.into()))?;
            Ok(Topic::Airline(code))
        } else if is("airport") {
            let code = codes::airport(value).ok_or_else(|| TopicError::Airport(value.into()))?;
            Ok(Topic::Airport(code))
        } else if is("box") {
            let geobox = GeoBox::parse(value).map_err(|p| TopicError::Box(topic.into(), p))?;
            Ok(Topic::Box(geobox))
        } else {
            Err(unknown())
        }
    }

    /// The canonical interest key: equal topics, however written, give equal keys.
    pub fn key(&self) -> String {
        match self {
            Topic::All => "all".to_owned(),
            Topic::Flight(callsign) => format!("flight:{callsign}"),
            Topic::Airline(icao) => format!("airline:{icao}"),
            Topic::Airport(code) => format!("airport:{code}"),
            Topic::Box(geobox) => geobox.key(),
        }
    }

    /// Whether `event` is one this topic selects.
    pub fn matches(&self, event: &EventView<'_>) -> bool {
        let same = |wanted: &str, value: Option<&str>| {
            value.is_some_and(|value| value.eq_ignore_ascii_case(wanted))
        };
        match self {
            Topic::All => true,
            Topic::Flight(callsign) => same(callsign, event.callsign),
            Topic::Airline(icao) => same(icao, event.airline_icao),
            Topic::Airport(code) => event.airports().into_iter().any(|a| same(code, a)),
            Topic::Box(geobox) => event
                .position()
                .is_some_and(|(lat, lon)| geobox.contains(lat, lon)),
        }
    }
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` quotes the client's text and escapes quotes and control characters in it.
        match self {
            TopicError::Unknown(topic) => write!(f, "unknown topic {topic:?}: expected {GRAMMAR}"),
            TopicError::Callsign(value) => {
                write!(
                    f,
                    "callsign must be 2 to 8 letters or digits, got {value:?}"
                )
            }
            TopicError::Airline(value) => {
                write!(f, "airline code must be 3 letters, got {value:?}")
            }
            TopicError::Airport(value) => write!(
                f,
                "airport code must be 3 letters (IATA) or 4 letters or digits (ICAO), got {value:?}"
            ),
            TopicError::Box(topic, BoxProblem::Malformed) => write!(
                f,
                "malformed box {topic:?}: expected four numbers south,west,north,east"
            ),
            TopicError::Box(topic, BoxProblem::Latitude) => {
                write!(f, "box {topic:?}: latitudes must lie between -90 and 90")
            }
            TopicError::Box(topic, BoxProblem::Longitude) => {
                write!(f, "box {topic:?}: longitudes must lie between -180 and 180")
            }
            TopicError::Box(topic, BoxProblem::SouthOfNorth) => {
                write!(f, "box {topic:?}: south must not be greater than north")
            }
        }
    }
}

impl std::error::Error for TopicError {}
