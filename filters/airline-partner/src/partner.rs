//! The partner grammar: the standard topics, confined to the airline in the client's token.

use std::collections::BTreeMap;

use flightcast_grammar::{codes, matching_keys, BoxRegistry, EventView, Topic};

/// The reason every subscription is refused when the token names no single valid airline.
pub const NO_AIRLINE_CLAIM: &str = "token carries no valid \"airline\" claim";

/// The name of the claim attribute that holds the partner's airline.
pub const AIRLINE_CLAIM: &str = "airline";

/// The boxes in use, per airline, and what the filter does with them.
///
/// Every key is the standard key prefixed by the airline and a slash (`AFR/airport:CDG`), and
/// `airline:<A>` is held by `<A>/all`: a partner sees its own airline's events and no other.
#[derive(Debug, Default)]
pub struct Partner {
    boxes: BTreeMap<String, BoxRegistry>,
}

/// An accepted subscription.
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The one interest key the subscription listens to.
    pub key: String,
    /// Whether it is a box not in use before.
    pub new_box: bool,
}

/// The single airline that the claim attributes name, upper case. `None` when there is no
/// `airline` attribute, when one is not 3 letters, or when several disagree.
pub fn airline_claim(attributes: &[(String, String)]) -> Option<String> {
    let mut claimed = attributes
        .iter()
        .filter(|(name, _)| name == AIRLINE_CLAIM)
        .map(|(_, value)| codes::airline(value));
    let airline = claimed.next()??;
    claimed
        .all(|other| other.as_ref() == Some(&airline))
        .then_some(airline)
}

impl Partner {
    /// A filter with no box in use.
    pub const fn new() -> Partner {
        Partner {
            boxes: BTreeMap::new(),
        }
    }

    /// Accepts a subscription of a client whose token names `airline` (as returned by
    /// [`airline_claim`]), or says why not.
    pub fn admit(&mut self, subscription: &str, airline: &str) -> Result<Admitted, String> {
        let topic = Topic::parse(subscription).map_err(|reason| reason.to_string())?;
        let key = match &topic {
            Topic::Airline(other) if other != airline => {
                return Err(format!("airline {other} is outside your airline {airline}"));
            }
            Topic::Flight(callsign) if !callsign.starts_with(airline) => {
                return Err(format!(
                    "flight {callsign} is outside your airline {airline}"
                ));
            }
            Topic::Airline(_) => Topic::All.key(),
            _ => topic.key(),
        };

        let new_box = match topic {
            Topic::Box(geobox) => self
                .boxes
                .entry(airline.to_owned())
                .or_default()
                .insert(geobox),
            _ => false,
        };
        Ok(Admitted {
            key: format!("{airline}/{key}"),
            new_box,
        })
    }

    /// Forgets a key no live subscription holds. Only boxes are state.
    pub fn release(&mut self, key: &str) {
        let Some((airline, key)) = key.split_once('/') else {
            return;
        };
        if let Some(boxes) = self.boxes.get_mut(airline) {
            boxes.remove(key);
            if boxes.is_empty() {
                self.boxes.remove(airline);
            }
        }
    }

    /// The keys `event` matches, or `None` when it belongs to no airline: nobody may see it.
    pub fn keys(&self, event: &EventView<'_>) -> Option<Vec<String>> {
        static NO_BOXES: BoxRegistry = BoxRegistry::new();

        let airline = event.airline_icao.and_then(codes::airline)?;
        let boxes = self.boxes.get(&airline).unwrap_or(&NO_BOXES);
        // The partner's `all` already stands for its airline: drop the standard airline key.
        let airline_key = Topic::Airline(airline.clone()).key();
        let keys = matching_keys(event, boxes)
            .into_iter()
            .filter(|key| *key != airline_key)
            .map(|key| format!("{airline}/{key}"))
            .collect();
        Some(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn admit(partner: &mut Partner, subscription: &str) -> Result<String, String> {
        partner
            .admit(subscription, "AFR")
            .map(|admitted| admitted.key)
    }

    fn air_france() -> EventView<'static> {
        EventView {
            kind: "position",
            callsign: Some("AFR1380"),
            airline_icao: Some("AFR"),
            origin: Some("LFPG"),
            origin_iata: Some("CDG"),
            lat: Some(49.0),
            lon: Some(2.5),
            ..EventView::default()
        }
    }

    #[test]
    fn airline_claim_is_3_letters_upper_cased() {
        assert_eq!(
            airline_claim(&attributes(&[("airline", "afr")])),
            Some("AFR".into())
        );
        assert_eq!(
            airline_claim(&attributes(&[("team", "ops"), ("airline", "AFR")])),
            Some("AFR".into())
        );
        assert_eq!(airline_claim(&attributes(&[("airline", "AF")])), None);
        assert_eq!(airline_claim(&attributes(&[("airline", "AFR1")])), None);
        assert_eq!(airline_claim(&attributes(&[("Airline", "AFR")])), None);
        assert_eq!(airline_claim(&[]), None);
    }

    #[test]
    fn several_airline_claims_must_agree() {
        let same = attributes(&[("airline", "AFR"), ("airline", "afr")]);
        assert_eq!(airline_claim(&same), Some("AFR".into()));
        let different = attributes(&[("airline", "AFR"), ("airline", "EZY")]);
        assert_eq!(airline_claim(&different), None);
        let one_invalid = attributes(&[("airline", "AFR"), ("airline", "??")]);
        assert_eq!(airline_claim(&one_invalid), None);
    }

    #[test]
    fn own_airline_topics_are_prefixed_and_airline_means_all() {
        let mut partner = Partner::new();
        assert_eq!(admit(&mut partner, "all"), Ok("AFR/all".into()));
        assert_eq!(admit(&mut partner, "airline:afr"), Ok("AFR/all".into()));
        assert_eq!(
            admit(&mut partner, "flight:afr1380"),
            Ok("AFR/flight:AFR1380".into())
        );
        assert_eq!(
            admit(&mut partner, "airport:cdg"),
            Ok("AFR/airport:CDG".into())
        );
        assert_eq!(
            admit(&mut partner, "box:48.0,2,49,3"),
            Ok("AFR/box:48,2,49,3".into())
        );
    }

    #[test]
    fn other_airlines_are_refused() {
        let mut partner = Partner::new();
        assert_eq!(
            admit(&mut partner, "airline:EZY"),
            Err("airline EZY is outside your airline AFR".into())
        );
        assert_eq!(
            admit(&mut partner, "flight:ezy12"),
            Err("flight EZY12 is outside your airline AFR".into())
        );
        assert_eq!(
            admit(&mut partner, "flight:AF"),
            Err("flight AF is outside your airline AFR".into())
        );
    }

    #[test]
    fn invalid_topics_get_the_standard_reasons() {
        let mut partner = Partner::new();
        assert_eq!(
            admit(&mut partner, "airline:AF"),
            Err(r#"airline code must be 3 letters, got "AF""#.into())
        );
        assert!(admit(&mut partner, "foo")
            .unwrap_err()
            .starts_with(r#"unknown topic "foo""#));
        assert!(admit(&mut partner, "box:1,2")
            .unwrap_err()
            .starts_with("malformed box"));
    }

    #[test]
    fn events_get_the_standard_keys_prefixed_by_their_airline() {
        let mut partner = Partner::new();
        partner.admit("box:48,2,49,3", "AFR").unwrap();
        partner.admit("box:-90,-180,90,180", "EZY").unwrap();
        assert_eq!(
            partner.keys(&air_france()),
            Some(vec![
                "AFR/all".to_owned(),
                "AFR/flight:AFR1380".to_owned(),
                "AFR/airport:LFPG".to_owned(),
                "AFR/airport:CDG".to_owned(),
                "AFR/box:48,2,49,3".to_owned(),
            ])
        );
    }

    #[test]
    fn events_without_a_valid_airline_reach_nobody() {
        let partner = Partner::new();
        let private = EventView {
            airline_icao: None,
            ..air_france()
        };
        assert_eq!(partner.keys(&private), None);
        let odd = EventView {
            airline_icao: Some("A1"),
            ..air_france()
        };
        assert_eq!(partner.keys(&odd), None);
    }

    #[test]
    fn released_boxes_stop_matching_for_their_airline_only() {
        let mut partner = Partner::new();
        assert!(partner.admit("box:48,2,49,3", "AFR").unwrap().new_box);
        assert!(partner.admit("box:48,2,49,3", "EZY").unwrap().new_box);
        assert!(!partner.admit("box:48,2,49,3", "AFR").unwrap().new_box);

        partner.release("AFR/box:48,2,49,3");
        partner.release("AFR/all");
        partner.release("nonsense");
        assert_eq!(partner.keys(&air_france()).unwrap().len(), 4);
        let easyjet = EventView {
            airline_icao: Some("EZY"),
            ..air_france()
        };
        assert!(partner
            .keys(&easyjet)
            .unwrap()
            .contains(&"EZY/box:48,2,49,3".to_owned()));
    }
}
