//! The keys an event matches, and the registry of boxes that makes boxes matchable.

use std::collections::BTreeMap;

use crate::{codes, EventView, GeoBox, Topic};

/// The boxes some live subscription listens to, by canonical key.
///
/// A filter adds a box when it admits a `box:` topic and removes it when the host releases
/// the key. Routing tests every registered box, so its cost grows with the number of
/// distinct boxes in use (not with the number of subscribers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxRegistry {
    boxes: BTreeMap<String, GeoBox>,
}

impl BoxRegistry {
    /// An empty registry.
    pub const fn new() -> BoxRegistry {
        BoxRegistry {
            boxes: BTreeMap::new(),
        }
    }

    /// Registers `geobox` under its key; returns whether it was not registered before.
    pub fn insert(&mut self, geobox: GeoBox) -> bool {
        self.boxes.insert(geobox.key(), geobox).is_none()
    }

    /// Forgets the box with this key; returns whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        self.boxes.remove(key).is_some()
    }

    /// Whether a box with this key is registered.
    pub fn contains(&self, key: &str) -> bool {
        self.boxes.contains_key(key)
    }

    /// How many boxes are registered.
    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    /// Whether no box is registered.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// The registered boxes with their keys, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GeoBox)> {
        self.boxes
            .iter()
            .map(|(key, geobox)| (key.as_str(), geobox))
    }
}

/// Every key of the standard grammar that `event` matches, given the boxes in use.
///
/// The keys are exactly those of the admissible topics that match the event: `all`, then
/// `flight:`, `airline:` and one `airport:` per distinct code, each only when the event's
/// value is a valid code of its kind (no topic could name an invalid one), then every
/// registered box containing the event's position, in key order. No key appears twice.
pub fn matching_keys(event: &EventView<'_>, boxes: &BoxRegistry) -> Vec<String> {
    let mut keys = vec![Topic::All.key()];
    if let Some(callsign) = event.callsign.and_then(codes::callsign) {
        keys.push(Topic::Flight(callsign).key());
    }
    if let Some(icao) = event.airline_icao.and_then(codes::airline) {
        keys.push(Topic::Airline(icao).key());
    }

    // A flight that lands where it took off names the same codes twice; list each once.
    let airports_from = keys.len();
    for code in event
        .airports()
        .into_iter()
        .flatten()
        .filter_map(codes::airport)
    {
        let key = Topic::Airport(code).key();
        if !keys[airports_from..].contains(&key) {
            keys.push(key);
        }
    }

    if let Some((lat, lon)) = event.position() {
        let inside = boxes.iter().filter(|(_, geobox)| geobox.contains(lat, lon));
        keys.extend(inside.map(|(key, _)| key.to_owned()));
    }
    keys
}
