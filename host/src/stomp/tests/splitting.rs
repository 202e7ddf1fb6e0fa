//! Streams: several frames per push, frames across pushes, and heart-beats between them.

use super::*;

/// A stream with a bit of everything: heart-beats of both kinds, CRLF lines, a body with NUL,
/// escapes, and a frame without body.
const STREAM: &[u8] = b"\r\n\
    SEND\r\ndestination:/queue/a\r\n\r\nhello\0\n\n\
    MESSAGE\ncontent-length:3\nk:a\\cb\n\nx\0y\0\
    DISCONNECT\nreceipt:77\n\n\0\r\n";

fn stream_items() -> Vec<Item> {
    let send = Frame::new("SEND")
        .with_header("destination", "/queue/a")
        .with_body(&b"hello"[..]);
    let message = Frame::new("MESSAGE")
        .with_header("content-length", "3")
        .with_header("k", "a:b")
        .with_body(&b"x\0y"[..]);
    let disconnect = Frame::new("DISCONNECT").with_header("receipt", "77");
    vec![
        Item::HeartBeat,
        Item::Frame(send),
        Item::HeartBeat,
        Item::HeartBeat,
        Item::Frame(message),
        Item::Frame(disconnect),
        Item::HeartBeat,
    ]
}

#[test]
fn several_frames_and_heart_beats_in_one_push() {
    assert_eq!(decode_as(Version::V1_2, STREAM), Ok(stream_items()));
}

#[test]
fn stream_split_at_every_byte_position_decodes_the_same() {
    for cut in 0..=STREAM.len() {
        let mut decoder = Decoder::new(Limits::default());
        decoder.set_version(Version::V1_2);
        decoder.push(&STREAM[..cut]);
        let mut items = drain(&mut decoder).unwrap();
        decoder.push(&STREAM[cut..]);
        items.extend(drain(&mut decoder).unwrap());
        assert_eq!(items, stream_items(), "split at byte {cut}");
        assert_eq!(decoder.buffered_bytes(), 0);
    }
}

#[test]
fn stream_pushed_one_byte_at_a_time_decodes_the_same() {
    let mut decoder = Decoder::new(Limits::default());
    decoder.set_version(Version::V1_2);
    let mut items = Vec::new();
    for byte in STREAM {
        decoder.push(std::slice::from_ref(byte));
        items.extend(drain(&mut decoder).unwrap());
    }
    assert_eq!(items, stream_items());
}

#[test]
fn lone_carriage_return_waits_for_its_line_feed() {
    let mut decoder = Decoder::new(Limits::default());
    decoder.push(b"\r");
    assert_eq!(decoder.next(), Ok(None));
    decoder.push(b"\n");
    assert_eq!(decoder.next(), Ok(Some(Item::HeartBeat)));
    assert_eq!(decoder.next(), Ok(None));
}

#[test]
fn heartbeat_constant_decodes_as_heart_beat() {
    assert_eq!(HEARTBEAT, b"\n");
    assert_eq!(
        decode_as(Version::V1_2, HEARTBEAT),
        Ok(vec![Item::HeartBeat])
    );
}

#[test]
fn empty_push_yields_nothing() {
    let mut decoder = Decoder::new(Limits::default());
    decoder.push(b"");
    assert_eq!(decoder.next(), Ok(None));
}
