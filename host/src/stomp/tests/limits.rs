//! Each limit on both sides: a frame exactly at it passes, one byte (or header) more fails
//! with an error that names the limit, and the failure comes before the frame is complete.

use super::*;

const LIMITS: Limits = Limits {
    max_frame_bytes: 100,
    max_headers: 4,
    max_header_bytes: 32,
};

fn decode_with(limits: Limits, bytes: &[u8]) -> Result<Vec<Item>, FrameError> {
    let mut decoder = Decoder::new(limits);
    decoder.push(bytes);
    drain(&mut decoder)
}

/// A SEND frame of exactly `size` bytes on the wire, without content-length.
fn send_of_size(size: usize) -> Vec<u8> {
    let mut bytes = b"SEND\n\n".to_vec();
    bytes.resize(size - 1, b'x');
    bytes.push(0);
    bytes
}

/// A SEND frame whose head is exactly `size` bytes.
fn head_of_size(size: usize, eol: &str) -> Vec<u8> {
    let fixed = "SEND".len() + "k:".len() + 3 * eol.len();
    let value = "v".repeat(size - fixed);
    format!("SEND{eol}k:{value}{eol}{eol}\0").into_bytes()
}

fn send_with_headers(count: usize) -> Vec<u8> {
    let headers: String = (0..count).map(|_| "k:v\n").collect();
    format!("SEND\n{headers}\n\0").into_bytes()
}

#[test]
fn defaults_are_64_kib_frames_64_headers_8_kib_heads() {
    let limits = Limits::default();
    assert_eq!(limits.max_frame_bytes, 65_536);
    assert_eq!(limits.max_headers, 64);
    assert_eq!(limits.max_header_bytes, 8_192);
}

#[test]
fn frame_at_max_frame_bytes_passes() {
    let items = decode_with(LIMITS, &send_of_size(100)).unwrap();
    assert!(matches!(&items[..], [Item::Frame(f)] if f.body.len() == 100 - 7));
}

#[test]
fn frame_one_byte_over_max_frame_bytes_fails() {
    let error = decode_with(LIMITS, &send_of_size(101)).unwrap_err();
    assert_eq!(error, FrameError::FrameTooLarge { limit: 100 });
    let message = error.to_string();
    assert!(message.contains("100 bytes (max_frame_bytes)"), "{message}");
}

#[test]
fn frame_at_limit_split_before_nul_still_passes() {
    let bytes = send_of_size(100);
    let mut decoder = Decoder::new(LIMITS);
    decoder.push(&bytes[..99]);
    assert_eq!(decoder.next(), Ok(None));
    decoder.push(&bytes[99..]);
    assert!(matches!(decoder.next(), Ok(Some(Item::Frame(_)))));
}

#[test]
fn unterminated_body_past_max_frame_bytes_fails_before_its_nul() {
    let bytes = send_of_size(102);
    let mut decoder = Decoder::new(LIMITS);
    decoder.push(&bytes[..101]);
    let error = decoder.next().unwrap_err();
    assert_eq!(error, FrameError::FrameTooLarge { limit: 100 });
    assert_eq!(decoder.buffered_bytes(), 0);
}

#[test]
fn content_length_at_max_frame_bytes_passes() {
    // "SEND\ncontent-length:75\n\n" is 24 bytes, then 75 body bytes and NUL: 100.
    let mut bytes = b"SEND\ncontent-length:75\n\n".to_vec();
    bytes.extend([0; 75]);
    bytes.push(0);
    let items = decode_with(LIMITS, &bytes).unwrap();
    assert!(matches!(&items[..], [Item::Frame(f)] if f.body.len() == 75));
}

#[test]
fn content_length_over_max_frame_bytes_fails_before_the_body() {
    let error = decode_with(LIMITS, b"SEND\ncontent-length:76\n\n").unwrap_err();
    let expected = FrameError::ContentLengthTooLarge {
        declared: "76".into(),
        limit: 100,
    };
    assert_eq!(error, expected);
    let message = error.to_string();
    assert!(message.contains("content-length 76"), "{message}");
    assert!(message.contains("100 bytes (max_frame_bytes)"), "{message}");
}

#[test]
fn content_length_beyond_usize_is_too_large() {
    let huge = "9".repeat(30);
    let bytes = format!("SEND\ncontent-length:{huge}\n\n");
    let error = decode_with(Limits::default(), bytes.as_bytes()).unwrap_err();
    assert!(matches!(error, FrameError::ContentLengthTooLarge { .. }));
}

#[test]
fn heart_beats_do_not_count_toward_frame_limit() {
    let items = decode_with(LIMITS, &[b'\n'; 300]).unwrap();
    assert_eq!(items.len(), 300);
}

#[test]
fn frame_with_max_headers_passes() {
    let items = decode_with(LIMITS, &send_with_headers(4)).unwrap();
    assert!(matches!(&items[..], [Item::Frame(f)] if f.headers.len() == 4));
}

#[test]
fn frame_with_one_header_over_max_headers_fails() {
    let error = decode_with(LIMITS, &send_with_headers(5)).unwrap_err();
    assert_eq!(error, FrameError::TooManyHeaders { limit: 4 });
    let message = error.to_string();
    assert!(
        message.contains("more than 4 headers (max_headers)"),
        "{message}"
    );
}

#[test]
fn too_many_headers_fail_before_the_blank_line() {
    let error = decode_with(LIMITS, b"SEND\na:1\na:2\na:3\na:4\na:5\n").unwrap_err();
    assert_eq!(error, FrameError::TooManyHeaders { limit: 4 });
}

#[test]
fn head_at_max_header_bytes_passes() {
    for eol in ["\n", "\r\n"] {
        let items = decode_with(LIMITS, &head_of_size(32, eol)).unwrap();
        assert!(matches!(&items[..], [Item::Frame(_)]), "{eol:?}");
    }
}

#[test]
fn head_one_byte_over_max_header_bytes_fails() {
    for eol in ["\n", "\r\n"] {
        let error = decode_with(LIMITS, &head_of_size(33, eol)).unwrap_err();
        assert_eq!(error, FrameError::HeadersTooLarge { limit: 32 }, "{eol:?}");
        let message = error.to_string();
        assert!(message.contains("32 bytes (max_header_bytes)"), "{message}");
    }
}

#[test]
fn endless_header_line_fails_before_its_line_ending() {
    let mut bytes = b"SEND\nk:".to_vec();
    bytes.resize(40, b'v');
    let error = decode_with(LIMITS, &bytes).unwrap_err();
    assert_eq!(error, FrameError::HeadersTooLarge { limit: 32 });
}
