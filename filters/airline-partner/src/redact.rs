//! Removal of the fields a partner must not see from an event's JSON record.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The fields removed from every record, in the order the `redacted` field lists them.
pub const REDACTED: [&str; 2] = ["icao24", "squawk"];

/// The field added to say what was removed.
const REDACTED_FIELD: &str = "redacted";

/// The record without the [`REDACTED`] fields, with `"redacted":["icao24","squawk"]` added
/// last. Every other field keeps its place and its exact JSON text. Fails when `raw` is not
/// one JSON object.
pub fn redact(raw: &str) -> Result<String, serde_json::Error> {
    let Fields(fields) = serde_json::from_str(raw)?;

    // A record that already has a `redacted` field would otherwise end up with two.
    let dropped = |name: &str| name == REDACTED_FIELD || REDACTED.contains(&name);
    let mut out = String::with_capacity(raw.len() + 32);
    out.push('{');
    for (name, value) in fields.iter().filter(|(name, _)| !dropped(name)) {
        out.push_str(&serde_json::to_string(name)?);
        out.push(':');
        out.push_str(value.get());
        out.push(',');
    }
    out.push_str(&serde_json::to_string(REDACTED_FIELD)?);
    out.push(':');
    out.push_str(&serde_json::to_string(&REDACTED)?);
    out.push('}');
    Ok(out)
}

/// The fields of one JSON object in their order, each value as its unparsed JSON text:
/// copying values as text keeps numbers exactly as written and needs no float parser.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(field) = map.next_entry::<String, &'de RawValue>()? {
            fields.push(field);
        }
        Ok(Fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_fields_and_keeps_the_others_in_order_verbatim() {
        let raw = concat!(
            r#"{"event_id":"e1","icao24":"398564","lat":48.36340,"alt_ft":20250.0,"#,
            r#""squawk":"1054","detail":{"on_ground":false},"seq":0}"#,
        );
        let redacted = concat!(
            r#"{"event_id":"e1","lat":48.36340,"alt_ft":20250.0,"#,
            r#""detail":{"on_ground":false},"seq":0,"redacted":["icao24","squawk"]}"#,
        );
        assert_eq!(redact(raw).unwrap(), redacted);
    }

    #[test]
    fn says_what_was_redacted_even_when_absent() {
        assert_eq!(redact("{}").unwrap(), r#"{"redacted":["icao24","squawk"]}"#);
        assert_eq!(
            redact(r#" {"a" : [1, 2]} "#).unwrap(),
            r#"{"a":[1, 2],"redacted":["icao24","squawk"]}"#
        );
    }

    #[test]
    fn nested_fields_of_the_same_name_are_kept() {
        let raw = r#"{"detail":{"squawk":"7700"}}"#;
        assert_eq!(
            redact(raw).unwrap(),
            r#"{"detail":{"squawk":"7700"},"redacted":["icao24","squawk"]}"#
        );
    }

    #[test]
    fn an_existing_redacted_field_is_replaced() {
        let raw = r#"{"redacted":[],"icao24":"abc"}"#;
        assert_eq!(redact(raw).unwrap(), r#"{"redacted":["icao24","squawk"]}"#);
    }

    #[test]
    fn escaped_names_and_values_stay_valid_json() {
        let raw = r#"{"na\"me":"va\"lue\u00e9","squ\u0061wk":"1"}"#;
        let redacted = redact(raw).unwrap();
        assert_eq!(
            redacted,
            r#"{"na\"me":"va\"lue\u00e9","redacted":["icao24","squawk"]}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&redacted).is_ok());
    }

    #[test]
    fn anything_but_one_json_object_is_an_error() {
        for raw in ["", "[]", "null", "\"x\"", "{", r#"{"a":1} {}"#, r#"{"a":}"#] {
            assert!(redact(raw).is_err(), "{raw:?}");
        }
    }
}
