//! The hostile filters' common shape: the standard filter until armed, then a misbehaving
//! `route`.

use std::cell::Cell;
use std::marker::PhantomData;

use crate::{standard, topic_is, Admission, Claims, Delivery, Event, Guest};

/// The topic that arms a hostile filter, and the interest key it is accepted with.
///
/// Compared like the grammar's topics: trimmed, ASCII case ignored (`" ARM"` arms too).
pub const ARM: &str = "arm";

thread_local! {
    /// Whether a live subscription holds the key `arm`.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// What a hostile filter does instead of routing once armed.
pub trait Misbehaviour {
    /// Handles a batch while armed.
    fn route_armed(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String>;
}

/// A hostile test filter: exactly the standard filter, so that it passes the host's
/// validation run, until the topic [`ARM`] is admitted (accepted with the key `arm`). From
/// then on, until the host releases the key `arm`, `route` is `M::route_armed`. A new
/// instance starts unarmed; the host re-admits live subscriptions, which arms it again.
pub struct Hostile<M>(PhantomData<M>);

impl<M: Misbehaviour> Guest for Hostile<M> {
    fn admit(subscription: String, _claims: Claims) -> Admission {
        if topic_is(&subscription, ARM) {
            ARMED.set(true);
            return Admission::Accept(vec![ARM.to_owned()]);
        }
        standard::admit(&subscription)
    }

    fn release(key: String) {
        if key == ARM {
            ARMED.set(false);
        } else {
            standard::release(&key);
        }
    }

    fn route(events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        if ARMED.get() {
            M::route_armed(events)
        } else {
            Ok(standard::route(&events))
        }
    }
}
