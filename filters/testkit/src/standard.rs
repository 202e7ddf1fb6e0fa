//! The standard filter's behaviour, as the test components reuse it: one
//! [`Router`](flightcast_grammar::Router) per instance, raw payloads.

use std::cell::RefCell;

use flightcast_grammar::{EventView, Router};

use crate::{log, Admission, Delivery, Event, Level};

thread_local! {
    /// The boxes in use, as in the standard filter.
    static ROUTER: RefCell<Router> = const { RefCell::new(Router::new()) };
}

/// Admits a topic of the standard grammar, or refuses it with the grammar's reason.
pub fn admit(subscription: &str) -> Admission {
    match ROUTER.with_borrow_mut(|router| router.admit(subscription)) {
        Ok(admitted) => {
            if admitted.new_box {
                log(Level::Info, &format!("box in use: {}", admitted.key));
            }
            Admission::Accept(vec![admitted.key])
        }
        Err(reason) => Admission::Reject(reason.to_string()),
    }
}

/// Forgets a released key (only boxes are state).
pub fn release(key: &str) {
    ROUTER.with_borrow_mut(|router| router.release(key));
}

/// The standard grammar's keys `event` matches, `all` first.
pub fn keys(event: &Event) -> Vec<String> {
    ROUTER.with_borrow(|router| router.keys(&view(event)))
}

/// What the standard filter returns for one event: one group, its keys, the raw record.
pub fn deliveries(event: &Event) -> Vec<Delivery> {
    vec![Delivery {
        keys: keys(event),
        payload: None,
    }]
}

/// What the standard filter returns for a batch.
pub fn route(events: &[Event]) -> Vec<Vec<Delivery>> {
    events.iter().map(deliveries).collect()
}

/// The grammar's view of a generated event record.
pub fn view(event: &Event) -> EventView<'_> {
    EventView {
        kind: &event.kind,
        status: event.status.as_deref(),
        callsign: event.callsign.as_deref(),
        airline_icao: event.airline_icao.as_deref(),
        origin: event.origin.as_deref(),
        origin_iata: event.origin_iata.as_deref(),
        destination: event.destination.as_deref(),
        destination_iata: event.destination_iata.as_deref(),
        lat: event.lat,
        lon: event.lon,
    }
}
