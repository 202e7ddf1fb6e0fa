//! The decoder on one frame at a time: the spec's examples and each malformation.

use super::*;

#[test]
fn decodes_spec_connect_example_before_negotiation() {
    let bytes = b"CONNECT\naccept-version:1.2\nhost:stomp.github.org\n\n\0";
    let mut decoder = Decoder::new(Limits::default());
    decoder.push(bytes);
    let expected = Frame::new("CONNECT")
        .with_header("accept-version", "1.2")
        .with_header("host", "stomp.github.org");
    assert_eq!(drain(&mut decoder), Ok(vec![Item::Frame(expected)]));
    assert_eq!(decoder.buffered_bytes(), 0);
}

#[test]
fn decodes_spec_send_example_with_body() {
    let frame =
        one_frame(b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\0");
    assert_eq!(frame.command, "SEND");
    assert_eq!(frame.header("destination"), Some("/queue/a"));
    assert_eq!(frame.header("content-type"), Some("text/plain"));
    assert_eq!(&frame.body[..], b"hello queue a\n");
}

#[test]
fn first_of_repeated_headers_wins_as_in_spec_example() {
    let frame = one_frame(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0");
    assert_eq!(frame.header("foo"), Some("World"));
    assert_eq!(frame.headers.len(), 2, "repeats are kept in wire order");
}

#[test]
fn decodes_frame_without_headers_or_body() {
    assert_eq!(one_frame(b"DISCONNECT\n\n\0"), Frame::new("DISCONNECT"));
}

#[test]
fn crlf_frame_decodes_like_lf_frame() {
    let crlf = one_frame(b"SEND\r\ndestination:/queue/a\r\nreceipt:1\r\n\r\nhi\r\n\0");
    let lf = one_frame(b"SEND\ndestination:/queue/a\nreceipt:1\n\nhi\r\n\0");
    assert_eq!(crlf, lf);
    assert_eq!(&crlf.body[..], b"hi\r\n", "the body is never touched");
}

#[test]
fn carriage_return_not_before_line_feed_is_content() {
    let frame = one_frame(b"SEND\na:b\rc\r\r\n\n\0");
    assert_eq!(frame.header("a"), Some("b\rc\r"));
}

#[test]
fn header_value_splits_at_first_colon() {
    let frame = one_frame(b"SEND\ndestination:/topic/a:b::c\nempty:\n\n\0");
    assert_eq!(frame.header("destination"), Some("/topic/a:b::c"));
    assert_eq!(frame.header("empty"), Some(""));
}

#[test]
fn spaces_around_headers_are_kept() {
    let frame = one_frame(b"SEND\n name : value \n\n\0");
    assert_eq!(frame.header(" name "), Some(" value "));
}

#[test]
fn content_length_body_may_hold_nul() {
    let frame = one_frame(b"SEND\ncontent-length:5\n\na\0b\0c\0");
    assert_eq!(&frame.body[..], b"a\0b\0c");
}

#[test]
fn content_length_zero_means_empty_body() {
    assert!(one_frame(b"SEND\ncontent-length:0\n\n\0").body.is_empty());
}

#[test]
fn body_without_content_length_ends_at_first_nul() {
    let items = decode_as(Version::V1_2, b"SEND\n\nab\0");
    let expected = Frame::new("SEND").with_body(&b"ab"[..]);
    assert_eq!(items, Ok(vec![Item::Frame(expected)]));
    // What followed the NUL is then the start of a frame, and this one is not.
    assert_eq!(
        first_error(b"SEND\n\nab\0cd\0"),
        FrameError::NulInHead { line: 1 }
    );
}

#[test]
fn content_length_must_be_followed_by_nul() {
    let error = first_error(b"SEND\ncontent-length:2\n\nabc\0");
    assert_eq!(
        error,
        FrameError::MissingNul {
            length: 2,
            found: b'c'
        }
    );
    assert!(error.to_string().contains("got byte 0x63"), "{error}");
}

#[test]
fn content_length_must_be_a_decimal_number() {
    for bad in ["", "-1", "+1", "1 ", "ten"] {
        let bytes = format!("SEND\ncontent-length:{bad}\n\n\0");
        let expected = FrameError::InvalidContentLength { value: bad.into() };
        assert_eq!(first_error(bytes.as_bytes()), expected, "{bad:?}");
    }
}

#[test]
fn header_line_without_colon_is_an_error() {
    let error = first_error(b"SEND\ndestination:/a\nno-colon-here\n\n\0");
    let expected = FrameError::MissingColon {
        line: 3,
        text: "no-colon-here".into(),
    };
    assert_eq!(error, expected);
    assert!(error.to_string().contains("expected name:value on line 3"));
}

#[test]
fn empty_header_name_is_an_error() {
    let error = first_error(b"SEND\n:value\n\n\0");
    assert_eq!(error, FrameError::EmptyHeaderName { line: 2 });
}

#[test]
fn nul_in_command_line_is_an_error() {
    assert_eq!(
        first_error(b"DISCONNECT\0"),
        FrameError::NulInHead { line: 1 }
    );
}

#[test]
fn nul_in_headers_is_an_error_before_the_blank_line() {
    // Without the check the decoder would wait for a blank line that is never coming.
    let error = first_error(b"SEND\ndestination:/a\0");
    assert_eq!(error, FrameError::NulInHead { line: 2 });
}

#[test]
fn carriage_return_before_command_is_an_error() {
    let error = first_error(b"\rSEND\n\n\0");
    assert_eq!(
        error,
        FrameError::InvalidCommand {
            command: "\rSEND".into()
        }
    );
}

#[test]
fn invalid_utf8_in_head_is_an_error() {
    assert_eq!(
        first_error(b"SE\xffND\n\n\0"),
        FrameError::NotUtf8 { line: 1 }
    );
    assert_eq!(
        first_error(b"SEND\na:\xc3\n\n\0"),
        FrameError::NotUtf8 { line: 2 }
    );
}

#[test]
fn body_need_not_be_utf8() {
    let frame = one_frame(b"SEND\ncontent-length:2\n\n\xff\xfe\0");
    assert_eq!(&frame.body[..], b"\xff\xfe");
}

#[test]
fn escapes_are_decoded_per_version() {
    let bytes = b"MESSAGE\nk\\c:a\\nb\\\\\n\n\0";
    let header = |version| match decode_as(version, bytes).unwrap().as_slice() {
        [Item::Frame(frame)] => frame.headers[0].clone(),
        other => panic!("expected one frame, got {other:?}"),
    };
    let pair = |name: &str, value: &str| (name.to_string(), value.to_string());
    assert_eq!(header(Version::V1_0), pair("k\\c", "a\\nb\\\\"));
    assert_eq!(header(Version::V1_1), pair("k:", "a\nb\\"));
    assert_eq!(header(Version::V1_2), pair("k:", "a\nb\\"));
}

#[test]
fn carriage_return_escape_is_an_error_before_1_2() {
    let bytes = b"MESSAGE\nk:a\\rb\n\n\0";
    let error = decode_as(Version::V1_1, bytes).unwrap_err();
    assert!(matches!(error, FrameError::InvalidEscape { ref found, .. } if found == "\\r"));
    assert_eq!(one_frame(bytes).header("k"), Some("a\rb"));
}

#[test]
fn undefined_escape_is_an_error_naming_it() {
    let error = first_error(b"SEND\ndestination:/a\nk:a\\tb\n\n\0");
    let expected = FrameError::InvalidEscape {
        line: 3,
        found: "\\t".into(),
        version: "1.2",
        allowed: r"\r \n \c \\",
    };
    assert_eq!(error, expected);
    let message = error.to_string();
    assert!(message.contains(r#"got "\\t""#), "{message}");
}

#[test]
fn backslash_at_end_of_header_is_an_error() {
    let error = first_error(b"SEND\nk:ab\\\n\n\0");
    assert!(matches!(error, FrameError::InvalidEscape { ref found, .. } if found == "\\"));
}

#[test]
fn connect_frames_are_never_unescaped() {
    for command in ["CONNECT", "STOMP", "CONNECTED"] {
        let bytes = format!("{command}\nlogin:a\\cb\\t\n\n\0");
        let frame = one_frame(bytes.as_bytes());
        assert_eq!(frame.header("login"), Some("a\\cb\\t"), "{command}");
    }
}

#[test]
fn negotiated_version_applies_to_the_next_frame() {
    let mut decoder = Decoder::new(Limits::default());
    decoder.push(b"CONNECT\naccept-version:1.2\n\n\0SEND\nk:a\\cb\n\n\0");
    assert!(matches!(decoder.next(), Ok(Some(Item::Frame(_)))));
    decoder.set_version(Version::V1_2);
    let Ok(Some(Item::Frame(send))) = decoder.next() else {
        panic!("expected the SEND frame");
    };
    assert_eq!(send.header("k"), Some("a:b"));
}

#[test]
fn decoder_is_poisoned_after_an_error() {
    let mut decoder = Decoder::new(Limits::default());
    decoder.push(b"SEND\nbroken\n\n\0");
    let error = decoder.next().unwrap_err();
    assert_eq!(decoder.buffered_bytes(), 0, "the buffer is freed");

    decoder.push(b"DISCONNECT\n\n\0");
    assert_eq!(decoder.buffered_bytes(), 0, "later input is discarded");
    assert_eq!(decoder.next(), Err(error));
}
