//! Properties over arbitrary frames and bytes: encoding round-trips, splitting never matters,
//! and no input panics the decoder, grows its buffer past the limit, or yields a frame that
//! reads back differently once encoded.

use proptest::prelude::*;

use super::super::escape;
use super::*;

/// Characters with the ones escaping is about well represented.
fn any_text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![':', '\n', '\r', '\\', 'c', 'n', 'r', 't', '\0']);
    let char = prop_oneof![3 => any::<char>(), 2 => special];
    prop::collection::vec(char, 0..12).prop_map(|chars| chars.into_iter().collect())
}

/// `text` with what `rules` cannot carry replaced, so every frame built from it encodes.
fn representable(text: &str, is_name: bool, rules: Version) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            let line_break = c == '\n' || c == '\r';
            let refused = c == '\0'
                || (rules == Version::V1_0 && (line_break || (is_name && c == ':')))
                || (rules == Version::V1_1 && c == '\r');
            if refused {
                '_'
            } else {
                c
            }
        })
        .collect();
    if is_name && cleaned.is_empty() {
        return "h".into();
    }
    cleaned
}

fn any_command() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec!["CONNECT", "STOMP", "CONNECTED", "SEND", "MESSAGE"]);
    let odd = any_text().prop_map(|text| {
        let line: String = text.chars().filter(|c| !"\r\n\0".contains(*c)).collect();
        format!("X{line}")
    });
    prop_oneof![known.prop_map(String::from), odd]
}

/// A frame that `version` can carry: headers made representable, and a binary body with
/// content-length, or a body without NUL and without it.
fn any_frame(version: Version) -> impl Strategy<Value = Frame> {
    let headers = prop::collection::vec((any_text(), any_text()), 0..6);
    let body = prop::collection::vec(any::<u8>(), 0..40);
    (any_command(), headers, body, any::<bool>()).prop_map(
        move |(command, headers, mut body, with_length)| {
            let rules = escape::rules(&command, version);
            let mut frame = Frame::new(command);
            for (name, value) in headers {
                let name = representable(&name, true, rules);
                let value = representable(&value, false, rules);
                frame = frame.with_header(name, value);
            }
            if with_length {
                return frame.with_body_and_length(body);
            }
            body.retain(|&b| b != 0);
            frame.headers.retain(|(name, _)| name != CONTENT_LENGTH);
            frame.with_body(body)
        },
    )
}

fn any_version() -> impl Strategy<Value = Version> {
    prop::sample::select(Version::ALL.to_vec())
}

/// A version and up to four frames it can carry, each followed by zero to two heart-beats.
fn any_stream() -> impl Strategy<Value = (Version, Vec<(Frame, Vec<bool>)>)> {
    any_version().prop_flat_map(|version| {
        let beats = prop::collection::vec(any::<bool>(), 0..3);
        let frames = prop::collection::vec((any_frame(version), beats), 0..5);
        (Just(version), frames)
    })
}

/// Pushes `bytes` in pieces of the given sizes (cycled), draining after each.
fn decode_in_pieces(decoder: &mut Decoder, bytes: &[u8], sizes: &[usize]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        decoder.push(piece);
        items.extend(drain(decoder).expect("a valid stream decodes"));
        rest = tail;
    }
    items
}

proptest! {
    #[test]
    fn encoded_frame_decodes_to_itself(
        (version, frame) in any_version().prop_flat_map(|v| (Just(v), any_frame(v)))
    ) {
        let bytes = encode(&frame, version).expect("representable frames encode");
        prop_assert_eq!(
            decode_as(version, &bytes),
            Ok(vec![Item::Frame(frame)])
        );
    }

    #[test]
    fn stream_in_arbitrary_pieces_decodes_to_its_frames(
        (version, frames) in any_stream(),
        sizes in prop::collection::vec(1..24usize, 1..8),
    ) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (frame, beats) in frames {
            bytes.extend(encode(&frame, version).unwrap());
            expected.push(Item::Frame(frame));
            for crlf in beats {
                bytes.extend_from_slice(if crlf { b"\r\n" } else { HEARTBEAT });
                expected.push(Item::HeartBeat);
            }
        }
        let mut decoder = Decoder::new(Limits::default());
        decoder.set_version(version);
        prop_assert_eq!(decode_in_pieces(&mut decoder, &bytes, &sizes), expected);
        prop_assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_outgrow_the_frame_limit(
        version in any_version(),
        pieces in prop::collection::vec(any_piece(), 0..24),
    ) {
        let limits = Limits { max_frame_bytes: 96, max_headers: 4, max_header_bytes: 48 };
        let mut decoder = Decoder::new(limits);
        decoder.set_version(version);
        for piece in &pieces {
            decoder.push(piece);
            prop_assert!(decoder.buffered_bytes() <= limits.max_frame_bytes + piece.len());
            match drain(&mut decoder) {
                Ok(items) => {
                    for item in items {
                        let Item::Frame(frame) = item else { continue };
                        prop_assert!(frame.headers.len() <= limits.max_headers);
                        prop_assert!(frame.body.len() < limits.max_frame_bytes);
                        // Whatever was accepted and can be written reads back the same.
                        if let Ok(bytes) = encode(&frame, version) {
                            prop_assert_eq!(
                                decode_as(version, &bytes),
                                Ok(vec![Item::Frame(frame)])
                            );
                        }
                    }
                    prop_assert!(decoder.buffered_bytes() <= limits.max_frame_bytes);
                }
                Err(error) => {
                    prop_assert_eq!(decoder.next(), Err(error));
                    prop_assert_eq!(decoder.buffered_bytes(), 0);
                }
            }
        }
    }
}

/// Raw bytes, or fragments of real frames so the decoder gets past the first line often.
fn any_piece() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop::sample::select(vec![
        &b"SEND\n"[..],
        b"CONNECT\n",
        b"content-length:5\n",
        b"content-length:70\n",
        b"k:a\\cb\n",
        b"\n",
        b"\r\n",
        b"\0",
        b"xxxxxxxxxxxxxxxxxxxxxxxx",
    ]);
    let byte = prop_oneof![any::<u8>(), prop::sample::select(b"\n\r\0:\\".to_vec())];
    prop_oneof![
        fragment.prop_map(<[u8]>::to_vec),
        prop::collection::vec(byte, 0..40),
    ]
}
