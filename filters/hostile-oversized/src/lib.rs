//! A hostile **test component**, never to be deployed: the standard filter until armed (see
//! [`Hostile`]: admitting the topic `arm` arms it, releasing the key `arm` disarms it); armed,
//! `route` returns for every event exactly one delivery, to the key `arm`, whose replacement
//! payload is the valid JSON object `{"pad":"xx…x"}` of exactly [`PAYLOAD_BYTES`] (2 MiB).
//! Each payload is its own allocation, so a batch of `n` events needs `n` × 2 MiB of guest
//! memory.

use flightcast_filter_testkit::{padded_json, Delivery, Event, Hostile, Misbehaviour, ARM};

/// The size of every payload: 2 MiB.
pub const PAYLOAD_BYTES: usize = 2 << 20;

/// Returns oversized payloads.
pub struct Oversized;

impl Misbehaviour for Oversized {
    fn route_armed(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        let oversized = |_: &Event| {
            vec![Delivery {
                keys: vec![ARM.to_owned()],
                payload: padded_json("pad", PAYLOAD_BYTES),
            }]
        };
        Ok(events.iter().map(oversized).collect())
    }
}

flightcast_filter_testkit::export_filter!(Hostile<Oversized>);
