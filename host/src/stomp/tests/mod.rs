//! Tests of the codec as a whole: the decoder's cases, its limits, the encoder, and
//! properties over arbitrary frames and arbitrary bytes.

mod decoding;
mod encoding;
mod limits;
mod properties;
mod splitting;

use super::*;

/// Calls `next` until the decoder wants more bytes, collecting what it yields.
fn drain(decoder: &mut Decoder) -> Result<Vec<Item>, FrameError> {
    let mut items = Vec::new();
    while let Some(item) = decoder.next()? {
        items.push(item);
    }
    Ok(items)
}

/// Everything `bytes` decodes to in one push, as a fresh connection that agreed `version`.
fn decode_as(version: Version, bytes: &[u8]) -> Result<Vec<Item>, FrameError> {
    let mut decoder = Decoder::new(Limits::default());
    decoder.set_version(version);
    decoder.push(bytes);
    drain(&mut decoder)
}

/// The single frame `bytes` holds under STOMP 1.2 rules.
fn one_frame(bytes: &[u8]) -> Frame {
    match decode_as(Version::V1_2, bytes).unwrap().as_slice() {
        [Item::Frame(frame)] => frame.clone(),
        other => panic!("expected one frame, got {other:?}"),
    }
}

/// The first error `bytes` causes under STOMP 1.2 rules.
fn first_error(bytes: &[u8]) -> FrameError {
    decode_as(Version::V1_2, bytes).unwrap_err()
}
