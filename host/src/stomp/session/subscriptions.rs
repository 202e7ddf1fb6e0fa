//! SUBSCRIBE, UNSUBSCRIBE, ACK and NACK, and the MESSAGE frames subscriptions receive.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::{truncate, Stomp, MAX_UNACKED, TOPIC_PREFIX};
use crate::stomp::{Frame, Version};
use crate::telemetry::metrics;
use crate::ws::session::{Effect, CLOSE_POLICY};

/// How a subscription's messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckMode {
    Auto,
    /// Cumulative: an ACK covers every earlier message of the subscription.
    Client,
    /// Each message on its own.
    ClientIndividual,
}

pub(super) struct Subscription {
    pub(super) destination: String,
    pub(super) ack: AckMode,
    /// Numbers of the messages delivered and not yet acknowledged, oldest first (client ack
    /// modes); a message id is `<session>-<number>`.
    pub(super) unacked: VecDeque<u64>,
    /// Messages up to this number that overflowed `unacked` count as acknowledged.
    pub(super) forgotten_through: u64,
}

impl Subscription {
    /// Records message `number` as awaiting acknowledgement; past `MAX_UNACKED`, the oldest
    /// one counts as acknowledged.
    pub(super) fn remember(&mut self, number: u64) {
        if self.unacked.len() == MAX_UNACKED {
            let oldest = self.unacked.pop_front().unwrap_or_default();
            self.forgotten_through = self.forgotten_through.max(oldest);
        }
        self.unacked.push_back(number);
    }
}

/// A SUBSCRIBE or UNSUBSCRIBE waiting for the hub's answer, with its receipt if it asked.
pub(super) enum Pending {
    Subscribe(Option<String>, Subscription),
    Unsubscribe(Option<String>),
}

impl Pending {
    pub(super) fn receipt(self) -> Option<String> {
        match self {
            Pending::Subscribe(receipt, _) | Pending::Unsubscribe(receipt) => receipt,
        }
    }
}

impl Stomp {
    pub(super) fn subscribe(&mut self, frame: Frame, fx: &mut Vec<Effect>) {
        let receipt = frame.header("receipt").map(String::from);
        let Some(destination) = frame.header("destination").map(String::from) else {
            return self.error(
                "SUBSCRIBE needs a destination header",
                receipt.as_deref(),
                "",
                CLOSE_POLICY,
                fx,
            );
        };
        // STOMP 1.0 made the id optional; the destination then names the subscription.
        let id = match frame.header("id") {
            Some(id) => id.to_string(),
            None if self.version() == Version::V1_0 => destination.clone(),
            None => {
                return self.error(
                    "SUBSCRIBE needs an id header",
                    receipt.as_deref(),
                    "",
                    CLOSE_POLICY,
                    fx,
                )
            }
        };
        let ack = match frame.header("ack").unwrap_or("auto") {
            "auto" => AckMode::Auto,
            "client" => AckMode::Client,
            "client-individual" => AckMode::ClientIndividual,
            other => {
                let message = format!("unknown ack mode {}", truncate(other, 32));
                return self.error(&message, receipt.as_deref(), "", CLOSE_POLICY, fx);
            }
        };
        let from = match frame.header("from").map(positions).transpose() {
            Ok(from) => from,
            Err(()) => {
                let message = "the from header must list partition:offset pairs, e.g. 0:120,1:87";
                return self.error(message, receipt.as_deref(), "", CLOSE_POLICY, fx);
            }
        };
        let topic = destination
            .strip_prefix(TOPIC_PREFIX)
            .unwrap_or(&destination)
            .to_string();
        if let Err(why) = self.encodable(&[id.as_str(), destination.as_str()]) {
            return self.error(&why, None, "", CLOSE_POLICY, fx);
        }
        let id: Arc<str> = id.into();
        let sub = Subscription {
            destination,
            ack,
            unacked: VecDeque::new(),
            forgotten_through: 0,
        };
        self.pending
            .entry(id.clone())
            .or_default()
            .push_back(Pending::Subscribe(receipt, sub));
        fx.push(Effect::Subscribe { id, topic, from });
    }

    pub(super) fn unsubscribe(&mut self, frame: Frame, fx: &mut Vec<Effect>) {
        let receipt = frame.header("receipt").map(String::from);
        let id = frame.header("id").or_else(|| {
            (self.version() == Version::V1_0)
                .then(|| frame.header("destination"))
                .flatten()
        });
        let Some(id) = id else {
            return self.error(
                "UNSUBSCRIBE needs an id header",
                receipt.as_deref(),
                "",
                CLOSE_POLICY,
                fx,
            );
        };
        let id: Arc<str> = id.into();
        self.pending
            .entry(id.clone())
            .or_default()
            .push_back(Pending::Unsubscribe(receipt));
        fx.push(Effect::Unsubscribe { id });
    }

    /// ACK and NACK: the message must be one delivered on a client-acknowledged subscription
    /// and not yet acknowledged. Nothing is redelivered either way (see `docs/stomp.md`).
    pub(super) fn acknowledge(&mut self, frame: Frame, fx: &mut Vec<Effect>) {
        let receipt = frame.header("receipt").map(String::from);
        let message_id = match self.version() {
            Version::V1_2 => frame.header("id"),
            _ => frame.header("message-id"),
        };
        let Some(message_id) = message_id.map(String::from) else {
            let message = format!("{} needs the message's id", frame.command);
            return self.error(&message, receipt.as_deref(), "", CLOSE_POLICY, fx);
        };
        let number = message_id
            .strip_prefix(self.session.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse::<u64>().ok());
        let Some(number) = number else {
            let message = format!("no unacknowledged message {}", truncate(&message_id, 64));
            return self.error(&message, receipt.as_deref(), "", CLOSE_POLICY, fx);
        };
        let forgotten = self.subs.values().any(|s| number <= s.forgotten_through);
        let found = self.subs.values_mut().find_map(|sub| {
            let at = sub.unacked.iter().position(|m| *m == number)?;
            Some((sub.ack, &mut sub.unacked, at))
        });
        match found {
            Some((AckMode::Client, unacked, at)) => drop(unacked.drain(..=at)),
            Some((_, unacked, at)) => drop(unacked.remove(at)),
            // Taken as acknowledged when the list overflowed: nothing left to do.
            None if forgotten => {}
            None => {
                let message = format!("no unacknowledged message {}", truncate(&message_id, 64));
                return self.error(&message, receipt.as_deref(), "", CLOSE_POLICY, fx);
            }
        }
        if frame.command == "NACK" {
            metrics()
                .client_errors
                .with_label_values(&["stomp_nack"])
                .inc();
        }
        self.receipt(&frame, fx);
    }

    /// One MESSAGE per subscription the event matched.
    pub(super) fn message(&mut self, event: &crate::hub::EventOut, fx: &mut Vec<Effect>) {
        for id in &event.subs {
            let Some(sub) = self.subs.get_mut(id) else {
                continue;
            };
            self.messages_sent += 1;
            let message_id = format!("{}-{}", self.session, self.messages_sent);
            let mut frame = Frame::new("MESSAGE")
                .with_header("subscription", id.as_ref())
                .with_header("message-id", message_id.clone())
                .with_header("destination", sub.destination.clone())
                .with_header("content-type", "application/json")
                .with_header("partition", event.partition.to_string())
                .with_header("offset", event.offset.to_string());
            if sub.ack != AckMode::Auto {
                sub.remember(self.messages_sent);
                frame = frame.with_header("ack", message_id);
            }
            self.send(frame.with_body_and_length(event.payload.clone()), fx);
        }
    }

    /// A notice (gap, caught-up) as a MESSAGE on `ids`, with a `notice` header and JSON body.
    pub(super) fn notice(
        &mut self,
        ids: Vec<Arc<str>>,
        kind: &str,
        headers: &[(&str, String)],
        body: String,
        fx: &mut Vec<Effect>,
    ) {
        for id in ids {
            let Some(sub) = self.subs.get_mut(&id) else {
                continue;
            };
            self.messages_sent += 1;
            let mut frame = Frame::new("MESSAGE")
                .with_header("subscription", id.as_ref())
                .with_header(
                    "message-id",
                    format!("{}-{}", self.session, self.messages_sent),
                )
                .with_header("destination", sub.destination.clone())
                .with_header("content-type", "application/json")
                .with_header("notice", kind);
            for (name, value) in headers {
                frame = frame.with_header(*name, value.clone());
            }
            // In the client ack modes a notice is a message like any other: clients ack it.
            if sub.ack != AckMode::Auto {
                sub.remember(self.messages_sent);
                frame =
                    frame.with_header("ack", format!("{}-{}", self.session, self.messages_sent));
            }
            self.send(frame.with_body_and_length(body.clone()), fx);
        }
    }
}

/// Parses a `from` header: `partition:offset` pairs separated by commas.
pub(super) fn positions(header: &str) -> Result<BTreeMap<i32, i64>, ()> {
    header
        .split(',')
        .map(|pair| {
            let (p, o) = pair.trim().split_once(':').ok_or(())?;
            let (p, o) = (
                p.parse::<i32>().map_err(|_| ())?,
                o.parse::<i64>().map_err(|_| ())?,
            );
            if p < 0 || o < 0 {
                return Err(());
            }
            Ok((p, o))
        })
        .collect()
}
