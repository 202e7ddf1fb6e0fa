//! Flight events as read from Kafka: decoded once, then shared by every tenant's filter.

use bytes::Bytes;
use serde::Deserialize;

use crate::filter::Event;

/// Where a record sits in Kafka, and when it was written.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    pub partition: i32,
    pub offset: i64,
    /// The Kafka record's timestamp, milliseconds since the epoch, when the broker gave one.
    pub kafka_ts_ms: Option<i64>,
    /// The record's JSON, shared by every recipient that gets it unchanged.
    pub payload: Bytes,
}

/// Decoded records in consumption order; `events[i]` belongs to `meta[i]`.
///
/// The two are kept apart so that a filter call can borrow `events` as one slice.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub meta: Vec<RecordMeta>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn push(&mut self, event: Event, meta: RecordMeta) {
        self.events.push(event);
        self.meta.push(meta);
    }
}

/// Why a record could not be decoded. The reason is a metric label, so the set is closed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record has no value")]
    Empty,
    #[error("record is not UTF-8")]
    NotUtf8,
    #[error("record is not a JSON flight event: {0}")]
    NotEvent(serde_json::Error),
}

impl DecodeError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::NotUtf8 => "not_utf8",
            DecodeError::NotEvent(e) if e.is_syntax() || e.is_eof() => "not_json",
            DecodeError::NotEvent(_) => "not_event",
        }
    }
}

/// The fields of an event record that filters see typed. Everything else stays in `raw`.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    event_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    status: Option<String>,
    ts_ms: i64,
    #[serde(borrow)]
    flight_id: std::borrow::Cow<'a, str>,
    #[serde(default)]
    callsign: Option<String>,
    #[serde(default)]
    icao24: Option<String>,
    #[serde(default)]
    airline_icao: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    origin_iata: Option<String>,
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    destination_iata: Option<String>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default)]
    alt_ft: Option<f64>,
    #[serde(default)]
    on_ground: Option<bool>,
}

/// Decodes one record value into the typed event a filter receives.
pub fn decode(value: Option<&[u8]>) -> Result<Event, DecodeError> {
    let bytes = value.filter(|v| !v.is_empty()).ok_or(DecodeError::Empty)?;
    let raw = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
    let f: Fields = serde_json::from_str(raw).map_err(DecodeError::NotEvent)?;
    Ok(Event {
        event_id: f.event_id.into_owned(),
        kind: f.kind.into_owned(),
        status: f.status,
        ts_ms: f.ts_ms,
        flight_id: f.flight_id.into_owned(),
        callsign: f.callsign.map(|c| c.to_ascii_uppercase()),
        icao24: f.icao24,
        airline_icao: f.airline_icao,
        origin: f.origin,
        origin_iata: f.origin_iata,
        destination: f.destination,
        destination_iata: f.destination_iata,
        lat: f.lat,
        lon: f.lon,
        alt_ft: f.alt_ft,
        on_ground: f.on_ground,
        raw: raw.to_owned(),
    })
}

/// An event with every field empty, for tests that only care about positions.
#[cfg(test)]
pub(crate) fn blank_event() -> Event {
    decode(Some(
        br#"{"event_id":"","kind":"position","ts_ms":0,"flight_id":""}"#,
    ))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"event_id":"c1b7","kind":"position","status":null,"ts_ms":1633608001000,"flight_id":"AFR9455-1","callsign":"AFR9455","icao24":"398564","airline_icao":"AFR","origin":null,"lat":48.36,"lon":1.41,"alt_ft":null,"on_ground":false,"squawk":"1054"}"#;

    #[test]
    fn decodes_real_record_keeping_raw() {
        let event = decode(Some(LINE.as_bytes())).unwrap();
        assert_eq!(event.callsign.as_deref(), Some("AFR9455"));
        assert_eq!(event.alt_ft, None);
        assert_eq!(event.lat, Some(48.36));
        assert_eq!(event.raw, LINE);
    }

    #[test]
    fn names_the_reason_a_record_is_skipped() {
        let reason = |v: &[u8]| decode(Some(v)).unwrap_err().reason();
        assert_eq!(reason(b"not json"), "not_json");
        assert_eq!(reason(b"{\"kind\":\"position\"}"), "not_event");
        assert_eq!(reason(&[0xff, 0xfe]), "not_utf8");
        assert_eq!(decode(None).unwrap_err().reason(), "empty");
        assert_eq!(reason(b"[1,2]"), "not_event");
    }
}
