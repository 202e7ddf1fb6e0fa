//! The encoder: frames to bytes for one WebSocket message each.

use super::escape;
use super::frame::{parse_length, Frame, Version, CONTENT_LENGTH};

/// Why a frame cannot be written: it holds something the version cannot carry, which would
/// otherwise reach the peer as a different frame (or as two).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The command is empty or is not a single line.
    #[error("cannot encode command {command:?}: expected non-empty text without CR, LF or NUL")]
    InvalidCommand { command: String },
    /// A header name or value the version (or the command) cannot carry.
    #[error("cannot encode header {name:?} of a {command} frame in STOMP {version}: {reason}")]
    Header {
        command: String,
        name: String,
        version: Version,
        reason: &'static str,
    },
    /// A `content-length` header that is not the body's size in bytes.
    #[error(
        "cannot encode {command}: content-length is {declared:?} but the body has {actual} bytes"
    )]
    ContentLengthMismatch {
        command: String,
        declared: String,
        actual: usize,
    },
    /// A body with NUL but no `content-length`: the peer would stop at the NUL.
    #[error("cannot encode {command}: its body holds NUL, so it needs a content-length header")]
    NulWithoutLength { command: String },
}

/// Writes `frame` for a peer speaking `version`: the command, the headers escaped as the
/// version requires (CONNECT, STOMP and CONNECTED never are), a blank line, the body and NUL.
///
/// Lines end with LF. The encoder adds no header: a body that may hold NUL needs a
/// `content-length`, which [`Frame::with_body_and_length`] sets. A frame the peer would read
/// differently from what was meant is refused rather than sent.
pub fn encode(frame: &Frame, version: Version) -> Result<Vec<u8>, EncodeError> {
    check_command(&frame.command)?;
    check_body(frame)?;
    let rules = escape::rules(&frame.command, version);

    let head_guess: usize = frame
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 2)
        .sum();
    let mut out = Vec::with_capacity(frame.command.len() + head_guess + frame.body.len() + 3);
    out.extend_from_slice(frame.command.as_bytes());
    out.push(b'\n');
    for (name, value) in &frame.headers {
        let reason = escape::unrepresentable(name, true, rules)
            .or_else(|| escape::unrepresentable(value, false, rules));
        if let Some(reason) = reason {
            return Err(EncodeError::Header {
                command: frame.command.clone(),
                name: name.clone(),
                version,
                reason,
            });
        }
        escape::escape_into(name, rules, &mut out);
        out.push(b':');
        escape::escape_into(value, rules, &mut out);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(&frame.body);
    out.push(0);
    Ok(out)
}

fn check_command(command: &str) -> Result<(), EncodeError> {
    if command.is_empty() || command.contains(['\r', '\n', '\0']) {
        return Err(EncodeError::InvalidCommand {
            command: command.to_string(),
        });
    }
    Ok(())
}

/// The body must end where the peer will think it ends.
fn check_body(frame: &Frame) -> Result<(), EncodeError> {
    match frame.header(CONTENT_LENGTH) {
        Some(declared) if parse_length(declared) != Ok(frame.body.len()) => {
            Err(EncodeError::ContentLengthMismatch {
                command: frame.command.clone(),
                declared: declared.to_string(),
                actual: frame.body.len(),
            })
        }
        None if frame.body.contains(&0) => Err(EncodeError::NulWithoutLength {
            command: frame.command.clone(),
        }),
        _ => Ok(()),
    }
}
