//! A contract-violating **test component**, never to be deployed: it is built against the
//! world `tenant-filter` of a made-up `flightcast:filter@2.0.0` (`wit/world.wit`), whose
//! `route` takes `list<string>`. It imports `flightcast:filter/host@2.0.0` and exports
//! `flightcast:filter/filter@2.0.0` only, so a host expecting `flightcast:filter@1.0.0` must
//! refuse it. Its behaviour (every topic accepted as its own key, every event to `all`) does
//! not matter.

wit_bindgen::generate!({
    path: "wit",
    world: "tenant-filter",
});

use exports::flightcast::filter::filter::Guest;
use flightcast::filter::host::now_ms;

/// Anything at all: the world is what is wrong.
pub struct WrongWorld;

impl Guest for WrongWorld {
    fn admit(subscription: String) -> Result<Vec<String>, String> {
        Ok(vec![subscription.trim().to_owned()])
    }

    fn release(_key: String) {}

    fn route(events: Vec<String>) -> Result<Vec<Vec<String>>, String> {
        // Uses the import, so that the component really imports the version-2 host.
        if now_ms() < 0 {
            return Err("the clock is before 1970".to_owned());
        }
        Ok(events.iter().map(|_| vec!["all".to_owned()]).collect())
    }
}

#[cfg(target_arch = "wasm32")]
export!(WrongWorld);
