//! One tenant's filter instance and the limits around each call.
//!
//! A call that traps (deadline, memory limit, panic) leaves the instance unusable; the caller
//! makes a fresh one from the same `LoadedFilter`. A guest that returns `err` is a different
//! outcome: the instance is fine, the batch is not routed.

use std::sync::Arc;
use std::time::Instant;

use super::guest_log::GuestLog;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::flightcast::filter::{host, types};
use super::bindings::TenantFilter;
use super::engine::{FilterEngine, LoadedFilter, EPOCH_TICK};
use super::{Admission, Claims, Delivery, Event, Level};
use crate::telemetry::metrics;

/// Why a filter call produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum FilterFailure {
    /// The guest trapped: deadline, memory limit, panic or a bad instruction.
    #[error("filter trapped: {0}")]
    Trap(String),
    /// The guest returned an error on purpose.
    #[error("filter returned an error: {0}")]
    Guest(String),
    /// The guest answered, but not as the contract says.
    #[error("filter broke the contract: {0}")]
    Contract(String),
    /// The filter is quarantined: it is not called until another version is activated.
    #[error("the tenant's filter is quarantined")]
    Quarantined,
}

impl FilterFailure {
    pub fn outcome(&self) -> &'static str {
        match self {
            FilterFailure::Trap(_) => "trap",
            FilterFailure::Guest(_) => "guest_error",
            FilterFailure::Contract(_) => "contract_violation",
            FilterFailure::Quarantined => "quarantined",
        }
    }
}

/// Per-store state: resource limits, the deny-everything WASI context and the log.
pub struct State {
    limits: StoreLimits,
    wasi: WasiCtx,
    table: ResourceTable,
    log: Arc<GuestLog>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for State {}

impl host::Host for State {
    fn log(&mut self, level: Level, message: String) {
        self.log.line(level, "log", &message);
    }

    fn now_ms(&mut self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// What an instance is for. Only the one routing a tenant's live traffic counts in the
/// tenant's metrics; the others would make a test or a trial look like a live failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Live,
    Shadow,
    DryRun,
    Validation,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Live => "live",
            Purpose::Shadow => "shadow",
            Purpose::DryRun => "dry run",
            Purpose::Validation => "validation",
        }
    }
}

/// An instance of one tenant's filter.
pub struct FilterInstance {
    tenant: Arc<str>,
    purpose: Purpose,
    store: Store<State>,
    bindings: TenantFilter,
    deadline_ticks: u64,
    max_output_bytes: usize,
}

impl FilterInstance {
    /// Instantiates `filter` for `tenant` in a fresh store with the engine's limits.
    pub fn new(
        engine: &FilterEngine,
        filter: &LoadedFilter,
        tenant: Arc<str>,
        purpose: Purpose,
    ) -> Result<Self, FilterFailure> {
        let limits = &engine.limits;
        let log = GuestLog::new(match purpose {
            Purpose::Live => tenant.clone(),
            other => format!("{tenant} ({})", other.name()).into(),
        });
        // WASI gets nothing: no files, no network, no environment, empty stdin; what the
        // filter prints goes to the host's log.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(log.stream("stdout"))
            .stderr(log.stream("stderr"))
            .build();
        let state = State {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_limit_bytes)
                // A growth past the limit traps instead of returning -1, so a memory bomb is
                // stopped at once rather than left to handle an allocation failure.
                .trap_on_grow_failure(true)
                .build(),
            wasi,
            table: ResourceTable::new(),
            log,
        };
        let mut store = Store::new(&engine.engine, state);
        store.limiter(|state| &mut state.limits);
        let deadline_ticks = limits
            .call_timeout_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64)
            + 1;
        store.set_epoch_deadline(deadline_ticks);
        let bindings = filter
            .pre
            .instantiate(&mut store)
            .map_err(|e| FilterFailure::Trap(format!("instantiating: {e:#}")))?;
        Ok(Self {
            tenant,
            purpose,
            store,
            bindings,
            deadline_ticks,
            max_output_bytes: limits.max_output_bytes,
        })
    }

    /// Asks the filter whether `subscription` is allowed for `claims`.
    pub fn admit(
        &mut self,
        subscription: &str,
        claims: &Claims,
    ) -> Result<Admission, FilterFailure> {
        let admission = self.call("admit", |b, s| {
            b.flightcast_filter_filter()
                .call_admit(s, subscription, claims)
        })?;
        match &admission {
            Admission::Accept(keys) if keys.is_empty() => Err(FilterFailure::Contract(
                "admit accepted with no interest keys".into(),
            )),
            _ => Ok(admission),
        }
    }

    /// Tells the filter that no subscription holds `key` any more.
    pub fn release(&mut self, key: &str) -> Result<(), FilterFailure> {
        self.call("release", |b, s| {
            b.flightcast_filter_filter().call_release(s, key)
        })
    }

    /// Routes a batch; the answer has one entry per event.
    pub fn route(&mut self, events: &[Event]) -> Result<Vec<Vec<Delivery>>, FilterFailure> {
        let max_output_bytes = self.max_output_bytes;
        let routed = self
            .call("route", |b, s| {
                b.flightcast_filter_filter().call_route(s, events)
            })?
            .map_err(FilterFailure::Guest)
            .and_then(|routed| check_answer(routed, events.len(), max_output_bytes));
        self.count("route", routed)
    }

    /// Runs one export with a fresh deadline, counting and timing it.
    fn call<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&TenantFilter, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, FilterFailure> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        let started = Instant::now();
        let result =
            f(&self.bindings, &mut self.store).map_err(|e| FilterFailure::Trap(trap_reason(&e)));
        if self.purpose == Purpose::Live {
            metrics()
                .filter_call_seconds
                .with_label_values(&[&self.tenant])
                .observe(started.elapsed().as_secs_f64());
        }
        if name == "route" && result.is_ok() {
            // `route` counts itself once the guest's own answer is known.
            return result;
        }
        self.count(name, result)
    }

    fn count<T>(&self, call: &str, result: Result<T, FilterFailure>) -> Result<T, FilterFailure> {
        if self.purpose != Purpose::Live {
            return result;
        }
        let outcome = result
            .as_ref()
            .map_or_else(FilterFailure::outcome, |_| "ok");
        metrics()
            .filter_calls
            .with_label_values(&[&self.tenant, call, outcome])
            .inc();
        result
    }
}

/// Holds a `route` answer to the contract: one entry per event, and no bigger than the limit.
/// An answer over the limit costs the host as much as a trap, so it counts as one.
fn check_answer(
    routed: Vec<Vec<Delivery>>,
    events: usize,
    max_bytes: usize,
) -> Result<Vec<Vec<Delivery>>, FilterFailure> {
    if routed.len() != events {
        let reason = format!(
            "route answered {} entries for {events} events",
            routed.len()
        );
        return Err(FilterFailure::Contract(reason));
    }
    let size: usize = routed
        .iter()
        .flatten()
        .map(|d| {
            d.keys.iter().map(String::len).sum::<usize>()
                + d.payload.as_ref().map_or(0, String::len)
        })
        .sum();
    if size > max_bytes {
        return Err(FilterFailure::Trap(format!(
            "route answered {size} bytes, over the limit of {max_bytes}"
        )));
    }
    Ok(routed)
}

/// A one-line description of a trap: its code when wasmtime gives one, else the error chain.
fn trap_reason(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline exceeded".into(),
        Some(trap) => trap.to_string(),
        // Such as a memory growth refused by the limiter: the cause says it; the context
        // around it is a wasm backtrace of mangled names.
        None => error.root_cause().to_string(),
    }
}
