//! The standard filter's behaviour, apart from any WebAssembly bindings.

use crate::{matching_keys, BoxRegistry, EventView, Topic, TopicError};

/// What the standard filter keeps between calls and does in each one.
///
/// A filter component holds one `Router` and forwards `admit`, `release` and `route` to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Router {
    boxes: BoxRegistry,
}

/// An accepted subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The one interest key the subscription listens to.
    pub key: String,
    /// Whether the subscription is a box no live subscription used before, which routing
    /// now tests every event against.
    pub new_box: bool,
}

impl Router {
    /// A router with no box in use.
    pub const fn new() -> Router {
        Router {
            boxes: BoxRegistry::new(),
        }
    }

    /// Accepts a subscription of the standard grammar, registering its box if it has one.
    pub fn admit(&mut self, subscription: &str) -> Result<Admitted, TopicError> {
        let topic = Topic::parse(subscription)?;
        let key = topic.key();
        let new_box = match topic {
            Topic::Box(geobox) => self.boxes.insert(geobox),
            _ => false,
        };
        Ok(Admitted { key, new_box })
    }

    /// Forgets a key no live subscription holds; returns whether it was a registered box.
    /// Only boxes are state: releasing any other key changes nothing.
    pub fn release(&mut self, key: &str) -> bool {
        self.boxes.remove(key)
    }

    /// The keys `event` matches; see [`matching_keys`].
    pub fn keys(&self, event: &EventView<'_>) -> Vec<String> {
        matching_keys(event, &self.boxes)
    }

    /// The boxes in use.
    pub fn boxes(&self) -> &BoxRegistry {
        &self.boxes
    }
}
