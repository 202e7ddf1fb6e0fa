//! STOMP frames as values: a command, headers in wire order, and a body.

use std::fmt;

use bytes::Bytes;

/// What a peer sends to show it is alive when it has nothing else to say: one end-of-line
/// between frames.
pub const HEARTBEAT: &[u8] = b"\n";

/// The header that gives the body's size, in bytes.
pub const CONTENT_LENGTH: &str = "content-length";

/// A protocol version. Versions differ only in how header names and values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// STOMP 1.0: no escaping, so a header name cannot hold a colon and neither part can hold
    /// a line break.
    V1_0,
    /// STOMP 1.1: `\c`, `\n` and `\\` stand for colon, line feed and backslash.
    V1_1,
    /// STOMP 1.2: as 1.1, plus `\r` for carriage return.
    V1_2,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

    /// The name used in the `accept-version` and `version` headers, such as `"1.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    /// The version named `name` (`"1.0"`, `"1.1"` or `"1.2"`), if there is one.
    pub fn from_name(name: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The newest version in a CONNECT frame's `accept-version` header, a comma-separated
    /// list. A client that sends no such header speaks 1.0, as the spec says; `None` means
    /// the client named no version this codec speaks.
    pub fn negotiate(accept_version: Option<&str>) -> Option<Version> {
        let Some(list) = accept_version else {
            return Some(Version::V1_0);
        };
        list.split(',')
            .filter_map(|name| Version::from_name(name.trim()))
            .max()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One STOMP frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The command, such as `SEND` or `MESSAGE`, case-sensitive as on the wire.
    pub command: String,
    /// Headers in wire order, unescaped. A name may repeat; [`Frame::header`] returns the
    /// first, which is the one the spec says counts.
    pub headers: Vec<(String, String)>,
    /// The body's bytes; empty when the frame has none.
    pub body: Bytes,
}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: impl Into<String>) -> Frame {
        Frame {
            command: command.into(),
            ..Frame::default()
        }
    }

    /// Appends a header. An earlier header of the same name still wins.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Frame {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and leaves the headers alone. A body that contains NUL then needs a
    /// `content-length` header, or the encoder refuses the frame: see
    /// [`Frame::with_body_and_length`].
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Frame {
        self.body = body.into();
        self
    }

    /// Sets the body and a `content-length` header with its size in bytes, replacing any
    /// `content-length` already set. The encoder never adds this header itself: whether a
    /// frame carries it is visible in the frame the caller built.
    pub fn with_body_and_length(mut self, body: impl Into<Bytes>) -> Frame {
        self.body = body.into();
        self.headers.retain(|(name, _)| name != CONTENT_LENGTH);
        let length = self.body.len().to_string();
        self.with_header(CONTENT_LENGTH, length)
    }

    /// The value of the first header called `name`, compared byte for byte.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// An end-of-line between frames: the peer's heart-beat, or padding after a frame. Either
    /// way it shows the peer is alive.
    HeartBeat,
}

/// Why a `content-length` value cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadLength {
    /// Not a plain decimal number: empty, signed, spaced or not digits.
    NotANumber,
    /// Digits, but more than `usize` can hold.
    TooLarge,
}

/// Reads a `content-length` value: decimal digits only, so both sides agree on what a
/// length is (Rust's own parser would also take a leading `+`).
pub(crate) fn parse_length(value: &str) -> Result<usize, BadLength> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadLength::NotANumber);
    }
    value.parse().map_err(|_| BadLength::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_of_repeated_headers_wins() {
        let frame = Frame::new("MESSAGE")
            .with_header("foo", "World")
            .with_header("foo", "Hello");
        assert_eq!(frame.header("foo"), Some("World"));
        assert_eq!(frame.header("bar"), None);
    }

    #[test]
    fn body_and_length_replaces_earlier_content_length() {
        let frame = Frame::new("SEND")
            .with_header(CONTENT_LENGTH, "99")
            .with_body_and_length(&b"a\0b"[..]);
        assert_eq!(frame.headers, [(CONTENT_LENGTH.into(), "3".into())]);
        assert_eq!(&frame.body[..], b"a\0b");
    }

    #[test]
    fn negotiation_picks_newest_common_version() {
        assert_eq!(Version::negotiate(None), Some(Version::V1_0));
        assert_eq!(Version::negotiate(Some("1.0,1.1,1.2")), Some(Version::V1_2));
        assert_eq!(Version::negotiate(Some("1.1, 1.0")), Some(Version::V1_1));
        assert_eq!(Version::negotiate(Some("1.1,2.0")), Some(Version::V1_1));
        assert_eq!(Version::negotiate(Some("2.0")), None);
        assert_eq!(Version::negotiate(Some("")), None);
    }

    #[test]
    fn content_length_must_be_plain_decimal() {
        assert_eq!(parse_length("0"), Ok(0));
        assert_eq!(parse_length("0042"), Ok(42));
        for bad in ["", "+1", "-1", " 1", "1 ", "0x10", "1.0"] {
            assert_eq!(parse_length(bad), Err(BadLength::NotANumber), "{bad:?}");
        }
        assert_eq!(parse_length(&"9".repeat(40)), Err(BadLength::TooLarge));
    }
}
