//! The airline-partner flightcast filter: an airline's partners see that airline's flights
//! only, with the transponder address and squawk code removed.
//!
//! The connection's token must carry an `airline` claim attribute (3 letters). Topics are
//! those of the standard grammar, confined to that airline: `all` and `airline:<own>` give
//! every flight of the airline, `flight:` only its own callsigns, and `airport:` and `box:`
//! its flights there. Interest keys are the standard keys prefixed by the airline
//! (`AFR/flight:AFR9455`). Events with no airline reach nobody.

mod partner;
mod redact;

use std::cell::RefCell;

use flightcast_grammar::EventView;

use partner::{airline_claim, Partner, NO_AIRLINE_CLAIM};
use redact::redact;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tenant-filter",
});

use exports::flightcast::filter::filter::Guest;
use flightcast::filter::host::log;
use flightcast::filter::types::{Admission, Claims, Delivery, Event, Level};

thread_local! {
    /// The boxes in use per airline. A new instance starts with none; the host then admits
    /// every live subscription again, which registers them before any event is routed.
    static PARTNER: RefCell<Partner> = const { RefCell::new(Partner::new()) };
}

struct AirlinePartner;

impl Guest for AirlinePartner {
    fn admit(subscription: String, claims: Claims) -> Admission {
        let Some(airline) = airline_claim(&claims.attributes) else {
            return Admission::Reject(NO_AIRLINE_CLAIM.to_owned());
        };
        match PARTNER.with_borrow_mut(|partner| partner.admit(&subscription, &airline)) {
            Ok(admitted) => {
                if admitted.new_box {
                    log(Level::Info, &format!("box in use: {}", admitted.key));
                }
                Admission::Accept(vec![admitted.key])
            }
            Err(reason) => Admission::Reject(reason),
        }
    }

    fn release(key: String) {
        PARTNER.with_borrow_mut(|partner| partner.release(&key));
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        PARTNER.with_borrow(|partner| events.iter().map(|e| deliveries(partner, e)).collect())
    }
}

/// One group with the redacted record for an airline's event; nothing for any other.
fn deliveries(partner: &Partner, event: &Event) -> Result<Vec<Delivery>, String> {
    let Some(keys) = partner.keys(&view(event)) else {
        return Ok(Vec::new());
    };
    let payload = redact(&event.raw).map_err(|error| {
        let id = &event.event_id;
        format!("cannot redact event {id}: its raw record is not a JSON object: {error}")
    })?;
    Ok(vec![Delivery {
        keys,
        payload: Some(payload),
    }])
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
export!(AirlinePartner);
