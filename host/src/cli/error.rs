//! What can go wrong in talking to the admin API, and how a refusal becomes a message.

use std::io;
use std::path::PathBuf;

use serde::Deserialize;

use super::render::shorten;

/// The longest piece of an unexpected answer quoted in a message, in characters.
const QUOTE_CHARS: usize = 200;

/// Why a `flightcast filter` command failed. Each variant prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with a status other than 2xx.
    #[error("{message} (HTTP {status})")]
    Api {
        status: u16,
        /// The API's error code (`forbidden`, `invalid_filter`…) when the body had one.
        code: Option<String>,
        message: String,
    },
    /// No answer: the connection failed, timed out or broke.
    #[error("could not reach the admin API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// An answer that is not what the API describes: not JSON, or a missing field.
    #[error("unexpected answer to {operation}: {reason}")]
    BadAnswer { operation: String, reason: String },
    #[error("--admin {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("could not read {}: {source}", path.display())]
    ReadFile { path: PathBuf, source: io::Error },
    #[error("could not write the output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// True for a `401`: no token, or one the server does not know.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, CliError::Api { status: 401, .. })
    }

    /// True for a `404` that is not the API's: the URL likely points at another server.
    pub fn is_foreign_not_found(&self) -> bool {
        matches!(
            self,
            CliError::Api {
                status: 404,
                code: None,
                ..
            }
        )
    }
}

/// The API's error body: `{"error": "<code>", "message": "<human text>"}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    message: String,
}

/// Turns a refusal into an error, whatever its body holds: the API's error body, plain text
/// (from a proxy, say), or nothing.
pub fn from_response(status: u16, body: &[u8]) -> CliError {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let message = if parsed.message.trim().is_empty() {
            parsed.error.clone()
        } else {
            parsed.message
        };
        return CliError::Api {
            status,
            code: Some(parsed.error),
            message,
        };
    }

    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if !text.is_empty() {
        shorten(text, QUOTE_CHARS)
    } else {
        ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("no message")
            .to_owned()
    };
    CliError::Api {
        status,
        code: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_body_gives_its_message_and_the_status() {
        let body = br#"{"error": "forbidden", "message": "token partner-ci may not act on acme"}"#;
        let error = from_response(403, body);
        assert_eq!(
            error.to_string(),
            "token partner-ci may not act on acme (HTTP 403)"
        );
        assert!(matches!(error, CliError::Api { code: Some(c), .. } if c == "forbidden"));
    }

    #[test]
    fn error_body_without_message_falls_back_to_its_code() {
        let error = from_response(409, br#"{"error": "conflict", "message": ""}"#);
        assert_eq!(error.to_string(), "conflict (HTTP 409)");
    }

    #[test]
    fn plain_text_body_is_quoted_shortened() {
        let body = format!("Bad Gateway {}", "x".repeat(500));
        let message = from_response(502, body.as_bytes()).to_string();
        assert!(message.starts_with("Bad Gateway xxx"));
        assert!(message.ends_with("… (HTTP 502)"));
        assert!(message.chars().count() < QUOTE_CHARS + 20);
    }

    #[test]
    fn empty_body_gives_the_status_reason() {
        assert_eq!(from_response(404, b"").to_string(), "Not Found (HTTP 404)");
        assert_eq!(
            from_response(599, b" ").to_string(),
            "no message (HTTP 599)"
        );
    }

    #[test]
    fn only_401_counts_as_unauthorized() {
        assert!(from_response(401, b"").is_unauthorized());
        assert!(!from_response(403, b"").is_unauthorized());
    }
}
