//! The plain JSON protocol: what clients send, and how hub messages are written to them.
//! `docs/protocol.md` describes it for frontend developers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hub::{EventOut, Gap, Outbound};

/// Longest subscription id, in bytes.
pub const MAX_ID_BYTES: usize = 64;
/// Longest topic string, in bytes.
pub const MAX_TOPIC_BYTES: usize = 256;

/// A client request.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    Subscribe {
        id: String,
        topic: String,
        /// Resume: for each partition, the next offset the client wants.
        #[serde(default)]
        from: Option<BTreeMap<String, i64>>,
    },
    Unsubscribe {
        id: String,
    },
    /// A fresh token for the same tenant, replacing one about to expire.
    Auth {
        token: String,
    },
}

/// A request that cannot be served, with the message the client is shown.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadRequest {
    #[error("not a valid request: {0}")]
    Syntax(String),
    #[error("subscription id must be 1 to {MAX_ID_BYTES} bytes")]
    Id,
    #[error("topic must be 1 to {MAX_TOPIC_BYTES} bytes")]
    Topic,
    #[error("\"from\" must map partition numbers to offsets >= 0, got {0:?}")]
    From(String),
}

/// Parses and checks one text message.
pub fn parse(text: &str) -> Result<Request, BadRequest> {
    let request: Request =
        serde_json::from_str(text).map_err(|e| BadRequest::Syntax(e.to_string()))?;
    let id = match &request {
        Request::Subscribe { id, topic, .. } => {
            if topic.is_empty() || topic.len() > MAX_TOPIC_BYTES {
                return Err(BadRequest::Topic);
            }
            id
        }
        Request::Unsubscribe { id } => id,
        Request::Auth { .. } => return Ok(request),
    };
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(BadRequest::Id);
    }
    Ok(request)
}

/// The `id` a request names, if it is a JSON object with a string `id`, so that an error
/// about an otherwise bad request can still name it.
pub fn request_id(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        id: String,
    }
    serde_json::from_str::<Named>(text).ok().map(|n| n.id)
}

/// Turns the `from` object's string keys into partitions.
pub fn positions(from: BTreeMap<String, i64>) -> Result<BTreeMap<i32, i64>, BadRequest> {
    from.into_iter()
        .map(|(partition, offset)| match partition.parse::<i32>() {
            Ok(p) if p >= 0 && offset >= 0 => Ok((p, offset)),
            _ => Err(BadRequest::From(format!("{partition}: {offset}"))),
        })
        .collect()
}

/// Server messages other than events, serialized with serde.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Notice<'a> {
    Welcome {
        session: String,
        tenant: &'a str,
        subject: &'a str,
        protocol: u32,
    },
    Subscribed {
        id: &'a str,
        topic: &'a str,
    },
    Rejected {
        id: &'a str,
        topic: &'a str,
        reason: &'a str,
    },
    Unsubscribed {
        id: &'a str,
    },
    Ended {
        id: &'a str,
        reason: &'a str,
    },
    /// A resuming subscription has received everything it missed; what follows is live.
    #[serde(rename = "caught_up")]
    CaughtUp {
        id: &'a str,
    },
    /// The connection's token expires in `in_ms`; send `{"op":"auth"}` with a new one.
    Expiring {
        in_ms: u64,
    },
    Gap {
        reason: &'a str,
        partition: i32,
        from: i64,
        to: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        dropped: Option<u64>,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    },
}

impl Notice<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("notices always serialize")
    }
}

/// Writes an event message. The payload is already JSON, so it is copied in as it is rather
/// than parsed and re-encoded for every recipient.
pub fn event_json(event: &EventOut) -> String {
    let subs = serde_json::to_string(&event.subs).expect("ids serialize");
    let payload = std::str::from_utf8(&event.payload).unwrap_or("null");
    format!(
        r#"{{"type":"event","subs":{subs},"partition":{},"offset":{},"payload":{payload}}}"#,
        event.partition, event.offset
    )
}

/// The JSON text for a hub message; `None` for those the client never sees.
pub fn outbound_json(message: &Outbound) -> Option<String> {
    let json = match message {
        Outbound::Event(event) => event_json(event),
        Outbound::Subscribed { id, topic } => Notice::Subscribed { id, topic }.to_json(),
        Outbound::Rejected { id, topic, reason } => {
            Notice::Rejected { id, topic, reason }.to_json()
        }
        Outbound::Unsubscribed { id } => Notice::Unsubscribed { id }.to_json(),
        Outbound::Ended { id, reason } => Notice::Ended { id, reason }.to_json(),
        Outbound::Gap(gap) => gap_json(gap),
        Outbound::CaughtUp { id } => Notice::CaughtUp { id }.to_json(),
        Outbound::Barrier => return None,
        Outbound::Refused { id, code, message } => Notice::Error {
            code,
            message,
            id: Some(id),
        }
        .to_json(),
    };
    Some(json)
}

pub fn gap_json(gap: &Gap) -> String {
    Notice::Gap {
        reason: gap.reason,
        partition: gap.partition,
        from: gap.from,
        to: gap.to,
        dropped: gap.dropped,
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subscribe_with_resume_positions() {
        let r = parse(r#"{"op":"subscribe","id":"s1","topic":"all","from":{"0":5}}"#).unwrap();
        let Request::Subscribe {
            from: Some(from), ..
        } = r
        else {
            panic!("not a subscribe")
        };
        assert_eq!(positions(from).unwrap(), BTreeMap::from([(0, 5)]));
    }

    #[test]
    fn rejects_malformed_requests_with_reason() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("hello").contains("not a valid request"));
        assert!(err(r#"{"op":"publish","id":"a"}"#).contains("unknown variant `publish`"));
        assert!(err(r#"{"op":"subscribe","id":"a"}"#).contains("missing field `topic`"));
        assert!(err(r#"{"op":"subscribe","id":"a","topic":"all","x":1}"#).contains("unknown field"));
        assert_eq!(
            parse(r#"{"op":"subscribe","id":"","topic":"all"}"#),
            Err(BadRequest::Id)
        );
        let long_id = format!(
            r#"{{"op":"unsubscribe","id":"{}"}}"#,
            "a".repeat(MAX_ID_BYTES + 1)
        );
        assert_eq!(parse(&long_id), Err(BadRequest::Id));
        let max_id = format!(
            r#"{{"op":"unsubscribe","id":"{}"}}"#,
            "a".repeat(MAX_ID_BYTES)
        );
        assert!(parse(&max_id).is_ok());
        assert!(positions(BTreeMap::from([("x".into(), 1)])).is_err());
        assert!(positions(BTreeMap::from([("0".into(), -1)])).is_err());
    }

    #[test]
    fn event_message_embeds_payload_verbatim() {
        let event = EventOut {
            subs: vec!["a\"b".into()],
            partition: 1,
            offset: 7,
            kafka_ts_ms: None,
            live: true,
            payload: bytes::Bytes::from_static(br#"{"k":1}"#),
        };
        let json: serde_json::Value = serde_json::from_str(&event_json(&event)).unwrap();
        assert_eq!(json["subs"][0], "a\"b");
        assert_eq!(json["payload"]["k"], 1);
        assert_eq!(json["offset"], 7);
    }
}
