//! A hostile **test component**, never to be deployed: the standard filter until armed (see
//! [`Hostile`]: admitting the topic `arm` arms it, releasing the key `arm` disarms it); armed,
//! `route` panics, and so traps (`panic = "abort"`), on every call.

use flightcast_filter_testkit::{Delivery, Event, Hostile, Misbehaviour};

/// Traps on every batch.
pub struct Trap;

impl Misbehaviour for Trap {
    fn route_armed(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        panic!(
            "hostile-trap: armed, trapping on a batch of {}",
            events.len()
        );
    }
}

flightcast_filter_testkit::export_filter!(Hostile<Trap>);
