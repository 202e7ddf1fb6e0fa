//! The one part of the client that touches the network: sends an `ApiRequest`, returns the
//! status and body. Deciding what they mean is left to the caller.

use std::time::Duration;

use ureq::http::{header, Method, Request};
use ureq::Agent;

use super::api::{self, ApiRequest, Body};
use super::error::CliError;

/// How long to wait for a connection: the admin listener is on loopback or an intranet.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole request may take. Generous, because an activation answers only once the
/// instance has applied it from the control topic, and a dry run routes up to the whole
/// recent window.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest answer read, in bytes: far above any audit log or listing the API returns.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// A status and a body, whatever the status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A client of one admin API with one token.
pub struct Client {
    agent: Agent,
    base_url: String,
    token: Option<String>,
}

impl Client {
    /// `base_url` such as `http://127.0.0.1:8081`; `token` is sent as a bearer token.
    pub fn new(base_url: &str, token: Option<&str>) -> Self {
        let config = Agent::config_builder()
            // Refusals are answers to report, not transport errors.
            .http_status_as_error(false)
            // The API never redirects; following one could carry the token elsewhere.
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("flightcast/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            base_url: base_url.to_owned(),
            token: token.map(str::to_owned),
        }
    }

    /// Sends `request` and reads the whole answer. Fails only when no answer came.
    pub fn send(&self, request: ApiRequest) -> Result<Answer, CliError> {
        let url = api::url(&self.base_url, &request.path);
        let unreachable = |reason: String| CliError::Unreachable {
            url: url.clone(),
            reason,
        };

        let mut builder = Request::builder().method(request.method.clone()).uri(&url);
        if let Some(token) = &self.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let sent = match request.body {
            Body::Empty if matches!(request.method, Method::GET | Method::DELETE) => {
                builder.body(()).map(|r| self.agent.run(r))
            }
            Body::Empty => builder.body(Vec::new()).map(|r| self.agent.run(r)),
            Body::Json(bytes) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes)
                .map(|r| self.agent.run(r)),
            Body::Wasm(bytes) => builder
                .header(header::CONTENT_TYPE, "application/wasm")
                .body(bytes)
                .map(|r| self.agent.run(r)),
        };

        // A request that cannot be built has a malformed URL or token.
        let mut response = sent
            .map_err(|e| unreachable(format!("invalid request: {e}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?;
        Ok(Answer {
            status: response.status().as_u16(),
            body,
        })
    }
}
