//! A hostile **test component**, never to be deployed: the standard filter until armed (see
//! [`Hostile`]: admitting the topic `arm` arms it, releasing the key `arm` disarms it); armed,
//! each `route` call first busy-waits [`DELAY_MS`] (40 ms) of wall time, read from the host's
//! `now-ms`, then routes as the standard filter with the key `arm` added to every event's
//! keys (so `arm` receives every event, raw).

use flightcast_filter_testkit::{
    busy_wait_ms, standard, Delivery, Event, Hostile, Misbehaviour, ARM,
};

/// The wall time each armed `route` call spends before routing.
pub const DELAY_MS: u64 = 40;

/// Routes correctly, slowly.
pub struct Slow;

impl Misbehaviour for Slow {
    fn route_armed(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        busy_wait_ms(DELAY_MS);
        let with_arm = |event: &Event| {
            let mut groups = standard::deliveries(event);
            groups[0].keys.push(ARM.to_owned());
            groups
        };
        Ok(events.iter().map(with_arm).collect())
    }
}

flightcast_filter_testkit::export_filter!(Hostile<Slow>);
