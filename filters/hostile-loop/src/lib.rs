//! A hostile **test component**, never to be deployed: the standard filter until armed (see
//! [`Hostile`]: admitting the topic `arm` arms it, releasing the key `arm` disarms it); armed,
//! `route` never returns. The loop calls the host's `now-ms` on every turn, so the optimiser
//! cannot remove it: only the host's CPU limit (fuel, epoch deadline) ends the call.

use flightcast_filter_testkit::{now_ms, Delivery, Event, Hostile, Misbehaviour};

/// Loops forever.
pub struct Loop;

impl Misbehaviour for Loop {
    fn route_armed(_events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        loop {
            std::hint::black_box(now_ms());
        }
    }
}

flightcast_filter_testkit::export_filter!(Hostile<Loop>);
