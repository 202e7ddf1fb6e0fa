//! The standard flightcast topic grammar, shared by every example filter.
//!
//! A subscription topic is parsed into a [`Topic`], which names one canonical interest key
//! ([`Topic::key`]). For each event, [`matching_keys`] names every key of the grammar the event
//! matches, so the host can deliver it to the subscribers of those keys. Boxes cannot be
//! enumerated from an event, so a filter keeps the boxes in use in a [`BoxRegistry`]; a
//! [`Router`] holds one and does all the standard filter does.
//!
//! | topic | value | an event matches when |
//! | --- | --- | --- |
//! | `all` | | always |
//! | `flight:<callsign>` | 2–8 letters or digits | its callsign is equal |
//! | `airline:<icao>` | 3 letters | its airline is equal |
//! | `airport:<code>` | 3 letters, or 4 letters or digits | any of its 4 airport codes is |
//! | `box:<s>,<w>,<n>,<e>` | 4 decimal degrees | it lies inside or on an edge |
//!
//! The key of a topic is its form and its value in upper case (`flight:AFR9455`), or for a
//! box `box:` and its four numbers in shortest form (`box:48.5,2,49.5,3`).
//!
//! Topics are trimmed and case-insensitive; keys carry values in upper case, and event values
//! are compared after ASCII upper-casing. The crate has no dependencies and knows nothing of
//! WebAssembly: filters convert their generated event record into an [`EventView`].

pub mod codes;
mod event;
mod geobox;
mod keys;
mod router;
mod topic;

pub use event::EventView;
pub use geobox::GeoBox;
pub use keys::{matching_keys, BoxRegistry};
pub use router::{Admitted, Router};
pub use topic::{BoxProblem, Topic, TopicError, GRAMMAR};
