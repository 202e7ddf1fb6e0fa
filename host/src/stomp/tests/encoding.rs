//! The encoder: exact bytes for known frames, and refusal of frames a peer would misread.

use super::*;

fn encoded(frame: &Frame, version: Version) -> String {
    String::from_utf8(encode(frame, version).unwrap()).unwrap()
}

#[test]
fn encodes_spec_message_example() {
    let frame = Frame::new("MESSAGE")
        .with_header("subscription", "0")
        .with_header("message-id", "007")
        .with_header("destination", "/queue/a")
        .with_header("content-type", "text/plain")
        .with_body("hello queue a");
    let expected = "MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\n\
                    content-type:text/plain\n\nhello queue a\0";
    assert_eq!(encoded(&frame, Version::V1_2), expected);
}

#[test]
fn body_and_length_frame_carries_nul_through() {
    let frame = Frame::new("MESSAGE").with_body_and_length(&b"a\0b"[..]);
    assert_eq!(
        encoded(&frame, Version::V1_2),
        "MESSAGE\ncontent-length:3\n\na\0b\0"
    );
}

#[test]
fn escapes_headers_per_version() {
    let frame = Frame::new("MESSAGE").with_header("a:b", "c\\d\ne:f");
    assert_eq!(
        encoded(&frame, Version::V1_1),
        "MESSAGE\na\\cb:c\\\\d\\ne\\cf\n\n\0"
    );
    let frame = Frame::new("MESSAGE").with_header("k", "v\r");
    assert_eq!(encoded(&frame, Version::V1_2), "MESSAGE\nk:v\\r\n\n\0");
}

#[test]
fn version_1_0_writes_colons_in_values_as_they_are() {
    let frame = Frame::new("MESSAGE").with_header("destination", "/topic/a:b\\");
    assert_eq!(
        encoded(&frame, Version::V1_0),
        "MESSAGE\ndestination:/topic/a:b\\\n\n\0"
    );
}

#[test]
fn connected_frame_is_never_escaped() {
    let frame = Frame::new("CONNECTED")
        .with_header("version", "1.2")
        .with_header("server", "flightcast/0.1 (a:b)");
    assert_eq!(
        encoded(&frame, Version::V1_2),
        "CONNECTED\nversion:1.2\nserver:flightcast/0.1 (a:b)\n\n\0"
    );
}

#[test]
fn refuses_headers_the_version_cannot_carry() {
    let refused = |frame: Frame, version| {
        let error = encode(&frame, version).unwrap_err();
        assert!(matches!(error, EncodeError::Header { .. }), "{error}");
    };
    refused(
        Frame::new("ERROR").with_header("message", "a\nb"),
        Version::V1_0,
    );
    refused(Frame::new("MESSAGE").with_header("a:b", "c"), Version::V1_0);
    refused(
        Frame::new("MESSAGE").with_header("k", "a\rb"),
        Version::V1_1,
    );
    refused(
        Frame::new("CONNECTED").with_header("k", "a\nb"),
        Version::V1_2,
    );
    refused(Frame::new("MESSAGE").with_header("", "v"), Version::V1_2);
    refused(Frame::new("MESSAGE").with_header("k", "\0"), Version::V1_2);
}

#[test]
fn header_error_names_frame_header_and_version() {
    let frame = Frame::new("ERROR").with_header("message", "a\nb");
    let message = encode(&frame, Version::V1_0).unwrap_err().to_string();
    assert!(
        message.contains("header \"message\" of a ERROR frame in STOMP 1.0"),
        "{message}"
    );
}

#[test]
fn refuses_nul_in_body_without_content_length() {
    let frame = Frame::new("MESSAGE").with_body(&b"a\0b"[..]);
    let error = encode(&frame, Version::V1_2).unwrap_err();
    let expected = EncodeError::NulWithoutLength {
        command: "MESSAGE".into(),
    };
    assert_eq!(error, expected);
}

#[test]
fn refuses_content_length_that_differs_from_body() {
    let frame = Frame::new("MESSAGE")
        .with_header(CONTENT_LENGTH, "4")
        .with_body("abc");
    let error = encode(&frame, Version::V1_2).unwrap_err();
    let expected = EncodeError::ContentLengthMismatch {
        command: "MESSAGE".into(),
        declared: "4".into(),
        actual: 3,
    };
    assert_eq!(error, expected);
}

#[test]
fn refuses_commands_that_are_not_one_line() {
    for command in ["", "SEND\n", "SE\rND", "SEND\0"] {
        let error = encode(&Frame::new(command), Version::V1_2).unwrap_err();
        assert!(
            matches!(error, EncodeError::InvalidCommand { .. }),
            "{command:?}"
        );
    }
}
