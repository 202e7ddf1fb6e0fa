//! Hosting tenant filters: WebAssembly components that implement `wit/filter.wit`.
//!
//! `engine` compiles and links components once; `runtime` runs one instance per tenant with
//! every call bounded in time and memory.

mod engine;
mod runtime;

pub use engine::{FilterEngine, LoadError, LoadedFilter};
pub use runtime::{FilterFailure, FilterInstance};

/// Host bindings generated from the WIT contract.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "tenant-filter",
    });
}

pub use bindings::flightcast::filter::types::{Admission, Claims, Delivery, Event, Level};
