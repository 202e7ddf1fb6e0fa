//! The limits probe, a **test component** never to be deployed: it lets a host test drive
//! each of the host's limits from just below to just above, one subscription at a time.
//!
//! It is the standard filter for the standard grammar, plus three topic forms (trimmed, form
//! compared ignoring ASCII case; `N` is 1 to 20 decimal digits, nothing else):
//!
//! - `alloc/N`: `admit` allocates `N` bytes, writes every byte (so every page of linear
//!   memory is committed) and keeps them until the key is released; then accepts with the
//!   key `alloc/N`. Each admission allocates anew. When the memory cannot grow, the
//!   allocation aborts: `admit` traps. Releasing the key frees the blocks for the
//!   allocator's reuse, but linear memory never shrinks (and freed blocks separated by
//!   live ones do not merge), so measure limits on fresh instances.
//! - `spin/N`: `admit` busy-waits `N` milliseconds of wall time (the host's `now-ms`), then
//!   accepts with the key `spin/N`.
//! - `payload/N`: accepted with the key `payload/N` (refused when `N` < 8). Until the key is
//!   released, `route` adds for every event one delivery to `payload/N` whose replacement
//!   payload is the valid JSON `{"p":"xx…x"}` of exactly `N` bytes.
//!
//! Keys write `N` without leading zeros (`alloc/007` gives `alloc/7`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use flightcast_filter_testkit::{
    busy_wait_ms, committed_bytes, padded_json, standard, Admission, Claims, Delivery, Event, Guest,
};

/// The smallest payload `payload/N` can produce: `{"p":""}`.
pub const MIN_PAYLOAD: usize = 8;

/// The field name of the padded payloads.
const PAD_FIELD: &str = "p";

/// A probe topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `alloc/N`: commit and hold `N` bytes.
    Alloc(usize),
    /// `spin/N`: busy-wait `N` ms in `admit`.
    Spin(u64),
    /// `payload/N`: payloads of exactly `N` bytes.
    Payload(usize),
}

impl Probe {
    /// Parses a probe topic: `None` when `topic` has none of the probe forms (the standard
    /// grammar then decides), `Some(Err(reason))` when it has one but a bad `N`.
    pub fn parse(topic: &str) -> Option<Result<Probe, String>> {
        let topic = topic.trim();
        let (form, value) = topic.split_once('/')?;
        let is = |name: &str| form.eq_ignore_ascii_case(name);
        let kind = if is("alloc") {
            "alloc"
        } else if is("spin") {
            "spin"
        } else if is("payload") {
            "payload"
        } else {
            return None;
        };
        let Some(n) = number(value) else {
            return Some(Err(format!(
                "{kind}/N needs N as 1 to 20 decimal digits, got {value:?}"
            )));
        };
        let size = || usize::try_from(n).map_err(|_| format!("{kind}/{n}: too large"));
        Some(match kind {
            "alloc" => size().map(Probe::Alloc),
            "spin" => Ok(Probe::Spin(n)),
            _ => size().and_then(|n| match n {
                n if n < MIN_PAYLOAD => Err(format!(
                    "payload/{n}: the size must be at least {MIN_PAYLOAD} bytes, the length of {{\"p\":\"\"}}"
                )),
                n => Ok(Probe::Payload(n)),
            }),
        })
    }

    /// The interest key: the form in lower case, `/`, `N` in decimal.
    pub fn key(&self) -> String {
        match self {
            Probe::Alloc(n) => format!("alloc/{n}"),
            Probe::Spin(n) => format!("spin/{n}"),
            Probe::Payload(n) => format!("payload/{n}"),
        }
    }
}

/// `text` as a number, when it is 1 to 20 ASCII digits that fit in a `u64`.
fn number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

thread_local! {
    /// The memory held for each `alloc/N` key: one block per admission.
    static HELD: RefCell<BTreeMap<String, Vec<Vec<u8>>>> = const { RefCell::new(BTreeMap::new()) };
    /// The payload size of each live `payload/N` key.
    static PAYLOADS: RefCell<BTreeMap<String, usize>> = const { RefCell::new(BTreeMap::new()) };
}

/// The probe filter.
pub struct LimitsProbe;

impl Guest for LimitsProbe {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        let probe = match Probe::parse(&subscription) {
            None => return standard::admit(&subscription),
            Some(Err(reason)) => return Admission::Reject(reason),
            Some(Ok(probe)) => probe,
        };
        let key = probe.key();
        match probe {
            Probe::Alloc(n) => {
                let block = committed_bytes(n);
                HELD.with_borrow_mut(|held| held.entry(key.clone()).or_default().push(block));
            }
            Probe::Spin(ms) => busy_wait_ms(ms),
            Probe::Payload(n) => {
                PAYLOADS.with_borrow_mut(|payloads| payloads.insert(key.clone(), n));
            }
        }
        Admission::Accept(vec![key])
    }

    fn release(key: String) {
        let held = HELD.with_borrow_mut(|held| held.remove(&key)).is_some();
        let payload = PAYLOADS
            .with_borrow_mut(|payloads| payloads.remove(&key))
            .is_some();
        if !held && !payload {
            standard::release(&key);
        }
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        let routed = PAYLOADS.with_borrow(|payloads| {
            let route_one = |event: &Event| {
                let mut groups = standard::deliveries(event);
                groups.extend(payloads.iter().map(|(key, &n)| Delivery {
                    keys: vec![key.clone()],
                    payload: padded_json(PAD_FIELD, n),
                }));
                groups
            };
            events.iter().map(route_one).collect()
        });
        Ok(routed)
    }
}

flightcast_filter_testkit::export_filter!(LimitsProbe);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_with_canonical_keys() {
        let parsed = |topic| Probe::parse(topic).unwrap().unwrap();
        assert_eq!(parsed("alloc/1048576"), Probe::Alloc(1 << 20));
        assert_eq!(parsed(" SPIN/250 "), Probe::Spin(250));
        assert_eq!(parsed("payload/8"), Probe::Payload(8));
        assert_eq!(parsed("alloc/007").key(), "alloc/7");
        assert_eq!(parsed("Payload/65536").key(), "payload/65536");
    }

    #[test]
    fn leaves_other_topics_to_the_grammar() {
        for topic in ["all", "flight:AFR1234", "airport:CDG", "box/1", "alloc:5"] {
            assert_eq!(Probe::parse(topic), None, "{topic}");
        }
    }

    #[test]
    fn refuses_bad_numbers_and_small_payloads() {
        for topic in [
            "alloc/",
            "alloc/-1",
            "alloc/+1",
            "spin/1.5",
            "spin/ 1",
            "payload/99999999999999999999",
            "payload/7",
            "payload/0",
        ] {
            assert!(matches!(Probe::parse(topic), Some(Err(_))), "{topic}");
        }
    }

    #[test]
    fn payloads_are_json_of_exactly_n_bytes() {
        for n in [MIN_PAYLOAD, 9, 100, 65536] {
            let json = padded_json(PAD_FIELD, n).unwrap();
            assert_eq!(json.len(), n);
            assert!(json.starts_with(r#"{"p":""#) && json.ends_with(r#""}"#));
        }
    }
}
