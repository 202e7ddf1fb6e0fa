//! The hot-swap pair: two versions of one filter whose outputs tell them apart.

use crate::{json_string, standard, topic_is, Admission, Claims, Delivery, Event, Guest};

/// Version `VERSION` (`'a'` or `'b'`) of the hot-swap test filter.
///
/// - `admit`: the topic `everything` is accepted with the key `all`; the topic `only-a` is
///   accepted with the key `all` by version a and refused by version b with the reason
///   `only-a is not offered by version b`; any other topic as the standard filter (so `all`
///   also gives the key `all`). Topics are trimmed and compared ignoring ASCII case.
/// - `route`: the standard grammar's keys other than `all` get the raw record, in one group
///   (left out when there is no such key). The key `all` gets the payload
///   [`swap_payload`] `{"v":"<version>","id":"<event_id>"}`, in a second group, for the events
///   [`swap_selects`] keeps: every event in version a; in version b only those whose
///   `event_id`'s UTF-8 bytes add up to an even number.
pub struct Swap<const VERSION: char>;

/// Whether version `version` of the swap filter delivers the event `event_id` to `all`:
/// version a always; version b when the sum of the id's UTF-8 bytes is even.
pub fn swap_selects(version: char, event_id: &str) -> bool {
    version != 'b' || event_id.bytes().map(u64::from).sum::<u64>() % 2 == 0
}

/// The payload version `version` delivers to `all`: `{"v":"a","id":"<event_id>"}`, no
/// spaces, the id as a JSON string (escaped only if it holds `"`, `\` or control characters).
pub fn swap_payload(version: char, event_id: &str) -> String {
    format!(r#"{{"v":"{version}","id":{}}}"#, json_string(event_id))
}

impl<const VERSION: char> Guest for Swap<VERSION> {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        if topic_is(&subscription, "everything") {
            return Admission::Accept(vec!["all".to_owned()]);
        }
        if topic_is(&subscription, "only-a") {
            return match VERSION {
                'a' => Admission::Accept(vec!["all".to_owned()]),
                version => Admission::Reject(format!("only-a is not offered by version {version}")),
            };
        }
        standard::admit(&subscription)
    }

    fn release(key: String) {
        standard::release(&key);
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        let route_one = |event: &Event| {
            let mut groups = Vec::with_capacity(2);
            let mut keys = standard::keys(event);
            keys.retain(|key| key != "all");
            if !keys.is_empty() {
                groups.push(Delivery {
                    keys,
                    payload: None,
                });
            }
            if swap_selects(VERSION, &event.event_id) {
                groups.push(Delivery {
                    keys: vec!["all".to_owned()],
                    payload: Some(swap_payload(VERSION, &event.event_id)),
                });
            }
            groups
        };
        Ok(events.iter().map(route_one).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_a_selects_everything_and_b_even_byte_sums() {
        // "ab": 97 + 98 = 195, odd; "ac": 97 + 99 = 196, even.
        assert!(swap_selects('a', "ab") && swap_selects('a', "ac"));
        assert!(!swap_selects('b', "ab"));
        assert!(swap_selects('b', "ac"));
        assert!(swap_selects('b', ""));
    }

    #[test]
    fn payloads_name_the_version_and_the_id() {
        assert_eq!(swap_payload('a', "ev-1"), r#"{"v":"a","id":"ev-1"}"#);
        assert_eq!(swap_payload('b', "x\"y"), r#"{"v":"b","id":"x\"y"}"#);
    }
}
