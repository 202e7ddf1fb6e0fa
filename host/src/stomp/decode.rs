//! The incremental decoder: bytes in, in whatever pieces the WebSocket delivers them, frames
//! and heart-beats out.

use bytes::{Buf, BytesMut};

use super::error::{excerpt, FrameError, Limits};
use super::frame::{parse_length, BadLength, Frame, Item, Version, CONTENT_LENGTH};
use super::head::{self, HeadEnd, HeadScan};

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

/// Where the decoder is in the current frame.
#[derive(Debug)]
enum State {
    /// Looking for the blank line that ends the head.
    Head(HeadScan),
    /// The head is parsed; waiting for the body and its NUL.
    Body(Pending),
}

impl Default for State {
    fn default() -> State {
        State::Head(HeadScan::default())
    }
}

/// A frame whose head is parsed and whose body is still arriving.
#[derive(Debug)]
struct Pending {
    frame: Frame,
    /// Where the body starts in the buffer.
    head_len: usize,
    /// The body's size from `content-length`, if the head gave one.
    length: Option<usize>,
    /// Bytes of the buffer already searched for the closing NUL.
    scanned: usize,
}

impl Decoder {
    /// A decoder that reads unescaped headers, as CONNECT and STOMP frames are, until
    /// [`Decoder::set_version`] is called.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            version: Version::V1_0,
            buf: BytesMut::new(),
            state: State::default(),
            failed: None,
        }
    }

    /// Sets the version agreed in CONNECTED, which decides how later headers are unescaped.
    /// It applies to frames whose head `next` has not parsed yet, so call it before asking
    /// for the frame after CONNECT.
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

    /// One step of the state machine. The state is taken out and put back only when the
    /// frame is unfinished, so a completed frame or heart-beat leaves a fresh head scan.
    fn step(&mut self) -> Result<Option<Item>, FrameError> {
        let mut pending = match std::mem::take(&mut self.state) {
            State::Body(pending) => pending,
            State::Head(mut scan) => match scan.advance(&self.buf, &self.limits)? {
                HeadEnd::HeartBeat(len) => {
                    self.buf.advance(len);
                    return Ok(Some(Item::HeartBeat));
                }
                HeadEnd::Incomplete => {
                    self.state = State::Head(scan);
                    return Ok(None);
                }
                HeadEnd::Complete(head_len) => {
                    let frame = head::parse(&self.buf[..head_len], self.version)?;
                    let length = body_length(&frame, head_len, &self.limits)?;
                    Pending {
                        frame,
                        head_len,
                        length,
                        scanned: head_len,
                    }
                }
            },
        };

        let Some(nul_at) = find_end(&self.buf, &mut pending, &self.limits)? else {
            self.state = State::Body(pending);
            return Ok(None);
        };
        let bytes = self.buf.split_to(nul_at + 1).freeze();
        pending.frame.body = bytes.slice(pending.head_len..nul_at);
        Ok(Some(Item::Frame(pending.frame)))
    }
}

/// The body length the head declares, checked against the frame limit before any of the
/// body is waited for.
fn body_length(
    frame: &Frame,
    head_len: usize,
    limits: &Limits,
) -> Result<Option<usize>, FrameError> {
    let limit = limits.max_frame_bytes;
    let Some(value) = frame.header(CONTENT_LENGTH) else {
        // The closing NUL alone may already break the limit.
        if head_len + 1 > limit {
            return Err(FrameError::FrameTooLarge { limit });
        }
        return Ok(None);
    };
    match parse_length(value) {
        Ok(length) if length.saturating_add(head_len + 1) <= limit => Ok(Some(length)),
        Ok(_) | Err(BadLength::TooLarge) => Err(FrameError::ContentLengthTooLarge {
            declared: excerpt(value),
            limit,
        }),
        Err(BadLength::NotANumber) => Err(FrameError::InvalidContentLength {
            value: excerpt(value),
        }),
    }
}

/// Where the closing NUL of `pending` is in `buf`, once it has arrived.
fn find_end(
    buf: &[u8],
    pending: &mut Pending,
    limits: &Limits,
) -> Result<Option<usize>, FrameError> {
    let limit = limits.max_frame_bytes;
    let nul_at = match pending.length {
        // With a length the body may hold NULs: the one that counts comes right after it.
        Some(length) => {
            let nul_at = pending.head_len + length;
            match buf.get(nul_at) {
                None => return Ok(None),
                Some(0) => nul_at,
                Some(&found) => return Err(FrameError::MissingNul { length, found }),
            }
        }
        None => match buf[pending.scanned..].iter().position(|&b| b == 0) {
            Some(offset) => pending.scanned + offset,
            None => {
                pending.scanned = buf.len();
                if buf.len() > limit {
                    return Err(FrameError::FrameTooLarge { limit });
                }
                return Ok(None);
            }
        },
    };
    if nul_at + 1 > limit {
        return Err(FrameError::FrameTooLarge { limit });
    }
    Ok(Some(nul_at))
}
