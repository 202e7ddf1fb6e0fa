//! The incremental decoder: bytes in, in whatever pieces the WebSocket delivers them, frames
//! and heart-beats out.

use bytes::{Buf, BytesMut};

use super::error::{excerpt, FrameError, Limits};
use super::escape;
use super::frame::{parse_length, BadLength, Frame, Item, Version, CONTENT_LENGTH};

/// Turns one connection's byte stream into frames and heart-beats.
///
/// Feed every WebSocket message payload, text or binary, to [`Decoder::push`], then call
/// [`Decoder::next`] until it returns `Ok(None)`. A frame may span several pushes and one
/// push may hold several frames. Done that way, the decoder never holds more than
/// [`Limits::max_frame_bytes`] plus one push.
///
/// Line endings may be LF or CRLF in every version: only a CR right before an LF belongs to
/// the line ending, any other CR is content.
///
/// After an error the decoder is poisoned: `next` returns the same error again, `push`
/// discards its input, and the buffer is freed. The stream cannot be resynchronised, so the
/// connection is to be closed, after an ERROR frame if the caller wishes.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    version: Version,
    buf: BytesMut,
    state: State,
    failed: Option<FrameError>,
}

#[derive(Debug)]
enum State {
    /// Looking for the blank line that ends a frame's head.
    Head(HeadScan),
    /// The head is parsed into `frame`; the body starts at `head_len`.
    Body {
        frame: Frame,
        head_len: usize,
        length: Option<usize>,
        /// Bytes of `buf` already searched for the closing NUL.
        scanned: usize,
    },
}

/// Progress through a head, kept so a head that arrives a byte at a time is read once.
#[derive(Debug, Default)]
struct HeadScan {
    /// Bytes of `buf` already searched for line endings.
    scanned: usize,
    /// Where the line being read starts.
    line_start: usize,
    /// Complete lines so far, the command line included.
    lines: usize,
}

/// How far the head has come.
enum HeadEnd {
    /// A bare line ending of this many bytes before any command: a heart-beat.
    HeartBeat(usize),
    /// The head is complete and this many bytes long.
    Complete(usize),
    Incomplete,
}

impl Decoder {
    /// A decoder that reads unescaped headers, as CONNECT and STOMP frames are, until
    /// [`Decoder::set_version`] is called.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            version: Version::V1_0,
            buf: BytesMut::new(),
            state: State::Head(HeadScan::default()),
            failed: None,
        }
    }

    /// Sets the version agreed in CONNECTED, which decides how later headers are unescaped.
    /// It applies to every frame whose head `next` has not yet returned or begun to return a
    /// body for; call it before asking for the frame after CONNECT.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// The version headers are unescaped by: 1.0, meaning none, until one is set.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Bytes received and not yet returned as frames, for gauges and tests.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Adds received bytes. Input after an error is discarded.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next frame or heart-beat, or `None` until more bytes arrive.
    #[allow(clippy::should_implement_trait)] // fallible, so not an Iterator
    pub fn next(&mut self) -> Result<Option<Item>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.step();
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.buf = BytesMut::new();
        }
        result
    }

    fn step(&mut self) -> Result<Option<Item>, FrameError> {
        if let State::Head(_) = self.state {
            let head_len = match self.scan_head()? {
                HeadEnd::HeartBeat(len) => {
                    self.buf.advance(len);
                    self.state = State::Head(HeadScan::default());
                    return Ok(Some(Item::HeartBeat));
                }
                HeadEnd::Incomplete => return Ok(None),
                HeadEnd::Complete(len) => len,
            };
            let frame = parse_head(&self.buf[..head_len], self.version)?;
            let length = self.body_length(&frame, head_len)?;
            self.state = State::Body {
                frame,
                head_len,
                length,
                scanned: head_len,
            };
        }
        self.read_body()
    }

    /// Searches new bytes for the end of the head, enforcing the head limits as it goes so a
    /// peer cannot stream an endless head.
    fn scan_head(&mut self) -> Result<HeadEnd, FrameError> {
        let State::Head(scan) = &mut self.state else {
            unreachable!("scan_head is only called while reading a head");
        };
        let limits = &self.limits;
        while let Some(offset) = self.buf[scan.scanned..]
            .iter()
            .position(|&b| b == b'\n' || b == 0)
        {
            let at = scan.scanned + offset;
            if self.buf[at] == 0 {
                return Err(FrameError::NulInHead {
                    line: scan.lines + 1,
                });
            }
            let line = &self.buf[scan.line_start..at];
            let blank = line.is_empty() || line == b"\r";
            scan.scanned = at + 1;
            scan.line_start = at + 1;

            if blank && scan.lines == 0 {
                return Ok(HeadEnd::HeartBeat(at + 1));
            }
            if at + 1 > limits.max_header_bytes {
                return Err(FrameError::HeadersTooLarge {
                    limit: limits.max_header_bytes,
                });
            }
            if blank {
                return Ok(HeadEnd::Complete(at + 1));
            }
            // The command line came first, so this is header number `scan.lines`.
            if scan.lines > limits.max_headers {
                return Err(FrameError::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            scan.lines += 1;
        }

        // Everything buffered belongs to the unfinished head, which will be longer still.
        scan.scanned = self.buf.len();
        if self.buf.len() > limits.max_header_bytes {
            return Err(FrameError::HeadersTooLarge {
                limit: limits.max_header_bytes,
            });
        }
        if self.buf.len() > limits.max_frame_bytes {
            return Err(FrameError::FrameTooLarge {
                limit: limits.max_frame_bytes,
            });
        }
        Ok(HeadEnd::Incomplete)
    }

    /// The body length the head declares, checked against the frame limit before any of the
    /// body is waited for.
    fn body_length(&self, frame: &Frame, head_len: usize) -> Result<Option<usize>, FrameError> {
        let limit = self.limits.max_frame_bytes;
        let Some(value) = frame.header(CONTENT_LENGTH) else {
            // The closing NUL alone may already break the limit.
            return match head_len + 1 > limit {
                true => Err(FrameError::FrameTooLarge { limit }),
                false => Ok(None),
            };
        };
        let too_large = || FrameError::ContentLengthTooLarge {
            declared: excerpt(value),
            limit,
        };
        match parse_length(value) {
            Ok(length) if length.saturating_add(head_len + 1) <= limit => Ok(Some(length)),
            Ok(_) | Err(BadLength::TooLarge) => Err(too_large()),
            Err(BadLength::NotANumber) => Err(FrameError::InvalidContentLength {
                value: excerpt(value),
            }),
        }
    }

    /// Completes the frame once its body and closing NUL are buffered.
    fn read_body(&mut self) -> Result<Option<Item>, FrameError> {
        let State::Body {
            head_len,
            length,
            scanned,
            ..
        } = &mut self.state
        else {
            unreachable!("read_body is only called after a head");
        };
        let limit = self.limits.max_frame_bytes;
        let nul_at = match *length {
            // With a length the body may hold NULs: the one that counts comes right after it.
            Some(length) => {
                let nul_at = *head_len + length;
                match self.buf.get(nul_at) {
                    None => return Ok(None),
                    Some(0) => nul_at,
                    Some(&found) => return Err(FrameError::MissingNul { length, found }),
                }
            }
            None => match self.buf[*scanned..].iter().position(|&b| b == 0) {
                Some(offset) => *scanned + offset,
                None => {
                    *scanned = self.buf.len();
                    return match self.buf.len() > limit {
                        true => Err(FrameError::FrameTooLarge { limit }),
                        false => Ok(None),
                    };
                }
            },
        };
        if nul_at + 1 > limit {
            return Err(FrameError::FrameTooLarge { limit });
        }

        let head_len = *head_len;
        let State::Body { mut frame, .. } =
            std::mem::replace(&mut self.state, State::Head(HeadScan::default()))
        else {
            unreachable!("matched above");
        };
        let bytes = self.buf.split_to(nul_at + 1).freeze();
        frame.body = bytes.slice(head_len..nul_at);
        Ok(Some(Item::Frame(frame)))
    }
}

/// Parses a complete head (ending with its blank line) into a frame without a body.
fn parse_head(head: &[u8], version: Version) -> Result<Frame, FrameError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty());

    let command = lines.next().unwrap_or_default();
    let command = std::str::from_utf8(command).map_err(|_| FrameError::NotUtf8 { line: 1 })?;
    // A head's first line is never empty (an empty line there is a heart-beat) and never
    // holds NUL (the scan stops at it), so only a stray CR is left to refuse.
    if command.contains('\r') {
        return Err(FrameError::InvalidCommand {
            command: excerpt(command),
        });
    }
    let rules = escape::rules(command, version);

    let mut frame = Frame::new(command);
    for (index, raw) in lines.enumerate() {
        let line = index + 2;
        let text = std::str::from_utf8(raw).map_err(|_| FrameError::NotUtf8 { line })?;
        let Some((name, value)) = text.split_once(':') else {
            return Err(FrameError::MissingColon {
                line,
                text: excerpt(text),
            });
        };
        if name.is_empty() {
            return Err(FrameError::EmptyHeaderName { line });
        }
        let unescape = |raw| {
            escape::unescape(raw, rules).map_err(|found| FrameError::InvalidEscape {
                line,
                found,
                version: version.as_str(),
                allowed: match version {
                    Version::V1_2 => r"\r \n \c \\",
                    _ => r"\n \c \\",
                },
            })
        };
        let header = (unescape(name)?.into_owned(), unescape(value)?.into_owned());
        frame.headers.push(header);
    }
    Ok(frame)
}
