//! A deliberately faulty flightcast filter, for tests that prove a trapping filter is
//! contained: it is the standard filter, except that `route` panics, and so traps, on any
//! batch that holds a `landed` status event.
//!
//! Never deploy it for a real tenant.

use std::cell::RefCell;

use flightcast_grammar::{EventView, Router};

wit_bindgen::generate!({
    path: "../../wit",
    world: "tenant-filter",
});

use exports::flightcast::filter::filter::Guest;
use flightcast::filter::host::log;
use flightcast::filter::types::{Admission, Claims, Delivery, Event, Level};

thread_local! {
    /// The boxes in use, as in the standard filter.
    static ROUTER: RefCell<Router> = const { RefCell::new(Router::new()) };
}

struct Faulty;

impl Guest for Faulty {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        match ROUTER.with_borrow_mut(|router| router.admit(&subscription)) {
            Ok(admitted) => {
                if admitted.new_box {
                    log(Level::Info, &format!("box in use: {}", admitted.key));
                }
                Admission::Accept(vec![admitted.key])
            }
            Err(reason) => Admission::Reject(reason.to_string()),
        }
    }

    fn release(key: String) {
        ROUTER.with_borrow_mut(|router| router.release(&key));
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        // The fault comes before any routing, so a trapping batch delivers nothing at all.
        if let Some(landed) = events.iter().find(|event| is_landing(&view(event))) {
            let id = &landed.event_id;
            log(
                Level::Error,
                &format!("faulty filter: trapping on landed event {id}"),
            );
            panic!("faulty filter: landed event {id}");
        }

        let routed = ROUTER.with_borrow(|router| {
            let deliver = |event: &Event| {
                let keys = router.keys(&view(event));
                vec![Delivery {
                    keys,
                    payload: None,
                }]
            };
            events.iter().map(deliver).collect()
        });
        Ok(routed)
    }
}

/// The events this filter traps on: status events whose status is `landed` (the spelling
/// used by the flight data, where statuses are written with underscores: `first_seen`).
fn is_landing(event: &EventView<'_>) -> bool {
    event.kind == "status" && event.status == Some("landed")
}

/// The grammar's view of a generated event record.
fn view(event: &Event) -> EventView<'_> {
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

// Exports only exist in a component, as in the standard filter.
#[cfg(target_arch = "wasm32")]
export!(Faulty);

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kind: &'static str, status: Option<&'static str>) -> EventView<'static> {
        EventView {
            kind,
            status,
            ..EventView::default()
        }
    }

    #[test]
    fn traps_only_on_landed_status_events() {
        assert!(is_landing(&status("status", Some("landed"))));
        assert!(!is_landing(&status("status", Some("departed"))));
        assert!(!is_landing(&status("status", Some("first_seen"))));
        assert!(!is_landing(&status("status", None)));
        assert!(!is_landing(&status("position", Some("landed"))));
    }
}
