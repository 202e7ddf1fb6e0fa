//! A frame's head: finding where it ends as bytes arrive, then parsing its lines.

use super::error::{excerpt, FrameError, Limits};
use super::escape;
use super::frame::{Frame, Version};

/// Progress through a head, kept so a head that arrives a byte at a time is read once.
#[derive(Debug, Default)]
pub(crate) struct HeadScan {
    /// Bytes of the buffer already searched for line endings.
    scanned: usize,
    /// Where the line being read starts.
    line_start: usize,
    /// Complete lines so far, the command line included.
    lines: usize,
}

/// How far the head has come.
pub(crate) enum HeadEnd {
    /// A bare line ending of this many bytes before any command: a heart-beat.
    HeartBeat(usize),
    /// The head is complete and this many bytes long, its blank line included.
    Complete(usize),
    Incomplete,
}

impl HeadScan {
    /// Searches the bytes of `buf` not yet searched for the end of the head, which starts at
    /// `buf[0]`. The head limits are enforced as lines arrive, so a peer cannot stream an
    /// endless head.
    pub(crate) fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<HeadEnd, FrameError> {
        let ends = |b: &u8| *b == b'\n' || *b == 0;
        while let Some(offset) = buf[self.scanned..].iter().position(ends) {
            let at = self.scanned + offset;
            if buf[at] == 0 {
                return Err(FrameError::NulInHead {
                    line: self.lines + 1,
                });
            }
            let line = &buf[self.line_start..at];
            let blank = line.is_empty() || line == b"\r";
            self.scanned = at + 1;
            self.line_start = at + 1;

            if blank && self.lines == 0 {
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
            // The command line came first, so this is header number `self.lines`.
            if self.lines > limits.max_headers {
                return Err(FrameError::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            self.lines += 1;
        }

        // Everything buffered belongs to the unfinished head, which will be longer still.
        self.scanned = buf.len();
        if buf.len() > limits.max_header_bytes {
            return Err(FrameError::HeadersTooLarge {
                limit: limits.max_header_bytes,
            });
        }
        if buf.len() > limits.max_frame_bytes {
            return Err(FrameError::FrameTooLarge {
                limit: limits.max_frame_bytes,
            });
        }
        Ok(HeadEnd::Incomplete)
    }
}

/// Parses a complete head (ending with its blank line) into a frame without a body.
pub(crate) fn parse(head: &[u8], version: Version) -> Result<Frame, FrameError> {
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
