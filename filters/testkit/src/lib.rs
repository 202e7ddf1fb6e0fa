//! Guest code shared by the flightcast **test components**: the hostile filters, the limits
//! probe, the hot-swap pair and the WASI stdio filter. None of them may ever be deployed for a
//! real tenant; they exist so that the host's tests can exercise its limits and validation.
//!
//! The crate holds the `tenant-filter` bindings (generated once, here, with a public
//! `export!` macro), the standard filter's behaviour on top of [`flightcast_grammar::Router`],
//! the arming switch of the hostile filters ([`Hostile`]), the hot-swap pair ([`Swap`]) and a
//! few helpers (busy waits, committed memory, JSON payloads of an exact size).
//!
//! A component crate implements [`Guest`] (or picks one of the generic filters here) and
//! exports it with [`export_filter!`]:
//!
//! ```ignore
//! flightcast_filter_testkit::export_filter!(flightcast_filter_testkit::Hostile<Loop>);
//! ```
//!
//! The generic filters read the host's clock and write its log only on the paths that need
//! them, so everything else (and every helper without a host call) also runs natively, as the
//! workspace's tests do.

mod hostile;
pub mod standard;
mod swap;

/// The bindings of the `tenant-filter` world of `wit/filter.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "tenant-filter",
        pub_export_macro: true,
        default_bindings_module: "flightcast_filter_testkit::bindings",
    });
}

pub use bindings::exports::flightcast::filter::filter::Guest;
pub use bindings::flightcast::filter::host::{log, now_ms};
pub use bindings::flightcast::filter::types::{Admission, Claims, Delivery, Event, Level};
pub use hostile::{Hostile, Misbehaviour, ARM};
pub use swap::{swap_payload, swap_selects, Swap};

/// The generated `export!` macro; [`export_filter!`] wraps it.
#[doc(hidden)]
pub use bindings::export;

/// Spins until at least `ms` milliseconds of wall time have passed since the call, read from
/// the host's `now-ms`: it waits for the clock to advance by more than `ms`, since the call
/// may start anywhere within a millisecond (so the wait lasts between `ms` and `ms + 1`
/// ms). Each iteration calls the host, so the loop cannot be optimised away.
pub fn busy_wait_ms(ms: u64) {
    if ms == 0 {
        return;
    }
    let start = now_ms();
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    while now_ms().saturating_sub(start) <= ms {}
}

/// `len` bytes of freshly allocated memory, every byte (so every page) written, so that the
/// memory is really committed to linear memory. Aborts, and so traps, when the allocator
/// cannot grow the memory.
pub fn committed_bytes(len: usize) -> Vec<u8> {
    // A non-zero fill: `vec![0; n]` may rely on fresh pages being zero and write nothing.
    vec![0xA5; len]
}

/// The JSON text `{"<field>":"xx…x"}`, padded with `x` to exactly `len` bytes; `None` when
/// `len` is below the `len` of the object with an empty string. `field` must need no escape.
pub fn padded_json(field: &str, len: usize) -> Option<String> {
    let empty = field.len() + 7; // {"" : ""} around the field: {"F":""}
    let pad = len.checked_sub(empty)?;
    let mut json = String::with_capacity(len);
    json.push_str("{\"");
    json.push_str(field);
    json.push_str("\":\"");
    json.extend(std::iter::repeat_n('x', pad));
    json.push_str("\"}");
    Some(json)
}

/// `text` as a JSON string literal, quotes included.
pub fn json_string(text: &str) -> String {
    let mut json = String::with_capacity(text.len() + 2);
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            c if u32::from(c) < 0x20 => json.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => json.push(c),
        }
    }
    json.push('"');
    json
}

/// Whether a trimmed `topic` is `name`, ignoring ASCII case, as the standard grammar
/// compares topic forms.
pub fn topic_is(topic: &str, name: &str) -> bool {
    topic.trim().eq_ignore_ascii_case(name)
}

/// Exports `$filter`, any type implementing [`Guest`] (generic ones included), as the
/// component's `filter` interface. Natively it only checks that `$filter` implements
/// [`Guest`]: export names such as `flightcast:filter/filter@1.0.0#admit` cannot be linked
/// into a native library.
#[macro_export]
macro_rules! export_filter {
    ($filter:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type Filter = $filter;
            $crate::export!(Filter);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn guest<G: $crate::Guest>() {}
            guest::<$filter>();
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_json_has_the_exact_length_and_parses_as_an_object() {
        assert_eq!(padded_json("p", 8).as_deref(), Some(r#"{"p":""}"#));
        assert_eq!(padded_json("p", 11).as_deref(), Some(r#"{"p":"xxx"}"#));
        assert_eq!(padded_json("p", 7), None);
        let big = padded_json("pad", 2 << 20).unwrap();
        assert_eq!(big.len(), 2 << 20);
        assert!(big.starts_with(r#"{"pad":"xx"#) && big.ends_with(r#"xx"}"#));
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string("ev-1"), r#""ev-1""#);
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn committed_bytes_are_written() {
        let bytes = committed_bytes(3 * 65536 + 1);
        assert_eq!(bytes.len(), 3 * 65536 + 1);
        assert!(bytes.iter().all(|&b| b == 0xA5));
    }

    #[test]
    fn topics_compare_trimmed_and_case_blind() {
        assert!(topic_is(" ARM ", "arm"));
        assert!(!topic_is("arms", "arm"));
    }
}
