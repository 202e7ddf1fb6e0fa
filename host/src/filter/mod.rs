//! Hosting tenant filters: WebAssembly components that implement `wit/filter.wit`.
//!
//! `engine` compiles and links components once; `runtime` runs one instance per tenant with
//! every call bounded in time, memory and output; `validate` decides whether a candidate may
//! be activated; `guest_log` carries what a filter writes to the host's log.

mod engine;
mod guest_log;
mod runtime;
mod validate;

pub use engine::{FilterEngine, LoadError, LoadedFilter};
pub use runtime::{FilterFailure, FilterInstance, Purpose};
pub use validate::{validate, Smoke, Validation};

/// Host bindings generated from the WIT contract.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "tenant-filter",
    });
}

pub use bindings::flightcast::filter::types::{Admission, Claims, Delivery, Event, Level};
