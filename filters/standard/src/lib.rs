//! The standard flightcast filter: the topic grammar of `flightcast-grammar`, every event
//! delivered raw.
//!
//! Any tenant may copy this crate as the start of its own filter. It accepts the topics
//! `all`, `flight:<callsign>`, `airline:<icao>`, `airport:<iata|icao>` and
//! `box:<south>,<west>,<north>,<east>` from any connection, whatever its claims.

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
    /// The boxes in use. A new instance starts with none; the host then admits every live
    /// subscription again, which registers them before any event is routed.
    static ROUTER: RefCell<Router> = const { RefCell::new(Router::new()) };
}

struct Standard;

impl Guest for Standard {
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
        // `all` matches every event, so each one gets exactly one group, with the raw record.
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

// Exports only exist in a component: natively, names such as
// `flightcast:filter/filter@1.0.0#admit` cannot even be linked into a shared library.
#[cfg(target_arch = "wasm32")]
export!(Standard);
