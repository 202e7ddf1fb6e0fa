//! The plain JSON dialect (see `docs/protocol.md`).

use std::time::{Duration, Instant};

use axum::extract::ws::Message;

use super::protocol::{self, Notice, Request};
use super::session::{Dialect, Effect, CLOSE_POLICY};
use crate::auth::{AuthError, Identity};
use crate::hub::{Gap, Outbound};
use crate::telemetry::metrics;

/// The JSON dialect has no state of its own: requests map straight to effects.
pub struct Json;

fn text(json: String) -> Effect {
    Effect::Send(Message::Text(json.into()))
}

fn error(code: &str, message: &str, id: Option<&str>) -> Effect {
    text(Notice::Error { code, message, id }.to_json())
}

impl Dialect for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn attached(&mut self, identity: &Identity, session: &str, fx: &mut Vec<Effect>) {
        let welcome = Notice::Welcome {
            session: session.to_string(),
            tenant: &identity.tenant,
            subject: &identity.claims.subject,
            protocol: 1,
        };
        fx.push(text(welcome.to_json()));
    }

    fn auth_failed(&mut self, failure: AuthError, fx: &mut Vec<Effect>) {
        metrics()
            .handshake_refusals
            .with_label_values(&[failure.reason()])
            .inc();
        fx.push(error("auth", &failure.to_string(), None));
    }

    fn receive(&mut self, message: Message, fx: &mut Vec<Effect>) {
        let Message::Text(body) = message else {
            metrics()
                .client_errors
                .with_label_values(&["bad_request"])
                .inc();
            return fx.push(error(
                "bad_request",
                "binary messages are not supported; send JSON text",
                None,
            ));
        };
        let request = match protocol::parse(&body) {
            Ok(request) => request,
            Err(bad) => {
                metrics()
                    .client_errors
                    .with_label_values(&["bad_request"])
                    .inc();
                let id = protocol::request_id(&body);
                return fx.push(error("bad_request", &bad.to_string(), id.as_deref()));
            }
        };
        match request {
            Request::Subscribe { id, topic, from } => {
                match from.map(protocol::positions).transpose() {
                    Ok(from) => fx.push(Effect::Subscribe {
                        id: id.into(),
                        topic,
                        from,
                    }),
                    Err(bad) => fx.push(error("bad_request", &bad.to_string(), Some(&id))),
                }
            }
            Request::Unsubscribe { id } => fx.push(Effect::Unsubscribe { id: id.into() }),
            Request::Auth { token } => fx.push(Effect::Reauth(token)),
        }
    }

    fn deliver(&mut self, message: Outbound, fx: &mut Vec<Effect>) {
        if let Some(json) = protocol::outbound_json(&message) {
            fx.push(text(json));
        }
    }

    fn gap(&mut self, gap: &Gap, fx: &mut Vec<Effect>) {
        fx.push(text(protocol::gap_json(gap)));
    }

    fn next_timer(&self) -> Option<Instant> {
        None
    }

    fn timer(&mut self, _now: Instant, _fx: &mut Vec<Effect>) {}

    fn expiring(&mut self, remaining: Duration, fx: &mut Vec<Effect>) {
        if remaining.is_zero() {
            fx.push(Effect::Close(CLOSE_POLICY, "token expired".into()));
        } else {
            fx.push(text(
                Notice::Expiring {
                    in_ms: remaining.as_millis() as u64,
                }
                .to_json(),
            ));
        }
    }
}
