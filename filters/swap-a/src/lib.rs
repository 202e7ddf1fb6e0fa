//! Version a of the hot-swap pair, a **test component** never to be deployed: tests
//! activate one version, then the other, and tell from each delivery which one routed it.
//! The rules of both versions are documented on [`Swap`]; in short, version a delivers
//! every event to the key `all` with the payload `{"v":"a","id":"<event_id>"}`, and
//! version b only the events whose `event_id` bytes add up to an even number, with
//! `{"v":"b","id":"<event_id>"}`, and refuses the topic `only-a`.

pub use flightcast_filter_testkit::Swap;

flightcast_filter_testkit::export_filter!(Swap<'a'>);
