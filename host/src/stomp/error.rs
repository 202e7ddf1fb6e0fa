//! What can go wrong reading frames, and the limits that bound a frame.

/// Bounds on what one frame may hold, so a peer cannot make the decoder buffer without end.
/// The spec lets a server set such limits and expects it to answer a violation with an ERROR
/// frame and a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame, in bytes on the wire: from the command's first byte through the
    /// closing NUL, after any escaping. Default 64 KiB, far above the SUBSCRIBE, ACK and
    /// DISCONNECT frames a browser sends.
    pub max_frame_bytes: usize,
    /// Most header lines in one frame, counting repeats. Default 64.
    pub max_headers: usize,
    /// Largest frame head, in bytes on the wire: the command line, the header lines and the
    /// blank line that ends them, line endings included. Default 8 KiB.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: 64 * 1024,
            max_headers: 64,
            max_header_bytes: 8 * 1024,
        }
    }
}

/// Why the decoder gave up on a connection's byte stream. The message is written for the
/// peer: a server puts it in the `message` header of its ERROR frame. Text copied from the
/// peer is cut to [`EXCERPT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame, complete or not, is longer than `max_frame_bytes`.
    #[error("frame exceeds the limit of {limit} bytes (max_frame_bytes)")]
    FrameTooLarge { limit: usize },
    /// The declared body would take the frame past `max_frame_bytes`.
    #[error(
        "content-length {declared} makes the frame exceed the limit of {limit} bytes \
         (max_frame_bytes)"
    )]
    ContentLengthTooLarge { declared: String, limit: usize },
    /// More header lines than `max_headers`.
    #[error("frame has more than {limit} headers (max_headers)")]
    TooManyHeaders { limit: usize },
    /// The head, complete or not, is longer than `max_header_bytes`.
    #[error("frame headers exceed the limit of {limit} bytes (max_header_bytes)")]
    HeadersTooLarge { limit: usize },
    /// The command line holds a carriage return that is not part of its line ending.
    #[error("expected a command such as SEND on line 1, got {command:?}")]
    InvalidCommand { command: String },
    /// NUL before the blank line that ends the head; lines are counted from 1.
    #[error("expected a line ending on line {line} of the frame, got a NUL byte")]
    NulInHead { line: usize },
    /// The command or a header is not UTF-8, as the spec requires.
    #[error("expected UTF-8 on line {line} of the frame, got other bytes")]
    NotUtf8 { line: usize },
    /// A header line without a colon.
    #[error("expected name:value on line {line} of the frame, got {text:?}")]
    MissingColon { line: usize, text: String },
    /// A header line that starts with its colon.
    #[error("expected a header name before the colon on line {line} of the frame")]
    EmptyHeaderName { line: usize },
    /// A backslash sequence the version does not define, which the spec makes fatal.
    #[error(
        "expected one of the escapes {allowed} (STOMP {version}) on line {line} \
         of the frame, got {found:?}"
    )]
    InvalidEscape {
        line: usize,
        found: String,
        version: &'static str,
        allowed: &'static str,
    },
    /// A `content-length` that is not a plain decimal number.
    #[error("expected content-length to be a number of bytes, got {value:?}")]
    InvalidContentLength { value: String },
    /// The byte after a `content-length` body is not the closing NUL.
    #[error(
        "expected NUL after the {length} body bytes given by content-length, got byte {found:#04x}"
    )]
    MissingNul { length: usize, found: u8 },
}

/// Most characters of peer-supplied text an error message repeats.
pub const EXCERPT_CHARS: usize = 64;

/// `text` cut to [`EXCERPT_CHARS`] characters, marked with `…` when cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_text_only() {
        let short = "x".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(&short), short);
        let long = "é".repeat(EXCERPT_CHARS + 1);
        assert_eq!(excerpt(&long), format!("{}…", "é".repeat(EXCERPT_CHARS)));
    }

    #[test]
    fn limit_errors_name_the_limit_and_its_value() {
        let limits = Limits::default();
        let message = FrameError::FrameTooLarge {
            limit: limits.max_frame_bytes,
        }
        .to_string();
        assert!(message.contains("max_frame_bytes"), "{message}");
        assert!(message.contains("65536"), "{message}");
    }
}
