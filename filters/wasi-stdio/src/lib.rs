//! A **test component**, never to be deployed, shaped like an ordinary tenant's build with
//! the upstream toolchain: `filters/build.sh` builds it for `wasm32-wasip1` (Rust's std on
//! WASI, with Debian's wasi-libc) and `wasm-component-ld` applies the WASI preview-1 reactor
//! adapter, so the component imports `wasi:*` preview-2 interfaces (`wasi:cli/stdout`,
//! `wasi:cli/stderr`, `wasi:io/streams`, …) besides `flightcast:filter/host`.
//!
//! It is the standard filter, except that `admit` and `route` write a line to stdout
//! (`println!`) and one to stderr (`eprintln!`) on every call; a host links WASI to a
//! context of its choosing, so where the lines go (or whether they vanish) is the host's
//! decision.

use flightcast_filter_testkit::{standard, Admission, Claims, Delivery, Event, Guest};

/// The standard filter, chatty.
pub struct WasiStdio;

impl Guest for WasiStdio {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        println!("wasi-stdio: admit {subscription:?}");
        let admission = standard::admit(&subscription);
        if let Admission::Reject(reason) = &admission {
            eprintln!("wasi-stdio: refused {subscription:?}: {reason}");
        } else {
            eprintln!("wasi-stdio: accepted {subscription:?}");
        }
        admission
    }

    fn release(key: String) {
        standard::release(&key);
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        println!("wasi-stdio: routing {} events", events.len());
        eprintln!("wasi-stdio: stderr works too");
        Ok(standard::route(&events))
    }
}

flightcast_filter_testkit::export_filter!(WasiStdio);
