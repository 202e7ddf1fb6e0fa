//! Header escaping, which depends on the version and on the command.

use std::borrow::Cow;

use super::frame::Version;

/// The escaping rules for a frame: CONNECT and CONNECTED frames are never escaped, whatever
/// the version, because they are written before a version is agreed. STOMP is the 1.2 name
/// for CONNECT and is treated the same way.
pub(crate) fn rules(command: &str, version: Version) -> Version {
    match command {
        "CONNECT" | "STOMP" | "CONNECTED" => Version::V1_0,
        _ => version,
    }
}

/// Why `text` cannot be written as a header name (or value) under `rules`, if it cannot.
pub(crate) fn unrepresentable(text: &str, is_name: bool, rules: Version) -> Option<&'static str> {
    if is_name && text.is_empty() {
        return Some("a header name cannot be empty");
    }
    if text.contains('\0') {
        return Some("no version can carry NUL in a header");
    }
    let colon = is_name && text.contains(':');
    let line_feed = text.contains('\n');
    let carriage_return = text.contains('\r');
    match rules {
        Version::V1_0 if colon => Some("a header name cannot hold a colon without escaping"),
        Version::V1_0 if line_feed || carriage_return => {
            Some("a header cannot hold a line break without escaping")
        }
        Version::V1_1 if carriage_return => Some("STOMP 1.1 has no escape for carriage return"),
        _ => None,
    }
}

/// Appends `text` escaped under `rules`. The caller has checked it is representable.
pub(crate) fn escape_into(text: &str, rules: Version, out: &mut Vec<u8>) {
    if rules == Version::V1_0 {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for byte in text.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

/// Undoes [`escape_into`]. An escape the version does not define, or a backslash at the
/// end, is an error carrying the offending sequence (the spec makes it fatal).
pub(crate) fn unescape(raw: &str, rules: Version) -> Result<Cow<'_, str>, String> {
    if rules == Version::V1_0 || !raw.contains('\\') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('c') => out.push(':'),
            Some('n') => out.push('\n'),
            Some('r') if rules == Version::V1_2 => out.push('\r'),
            Some(other) => return Err(format!("\\{other}")),
            None => return Err("\\".to_string()),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str, rules: Version) -> String {
        let mut out = Vec::new();
        escape_into(text, rules, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn versions_escape_differently() {
        let text = "a:b\\c\nd";
        assert_eq!(escaped(text, Version::V1_0), text);
        assert_eq!(escaped(text, Version::V1_1), "a\\cb\\\\c\\nd");
        assert_eq!(escaped("a\rb", Version::V1_2), "a\\rb");
    }

    #[test]
    fn carriage_return_escape_is_new_in_1_2() {
        assert_eq!(unescape("a\\rb", Version::V1_2).unwrap(), "a\rb");
        assert_eq!(unescape("a\\rb", Version::V1_1), Err("\\r".to_string()));
    }

    #[test]
    fn undefined_or_truncated_escape_is_an_error() {
        assert_eq!(unescape("a\\tb", Version::V1_2), Err("\\t".to_string()));
        assert_eq!(unescape("ab\\", Version::V1_1), Err("\\".to_string()));
    }

    #[test]
    fn version_1_0_keeps_backslashes() {
        assert_eq!(unescape("a\\tb\\", Version::V1_0).unwrap(), "a\\tb\\");
    }

    #[test]
    fn connect_frames_are_never_escaped() {
        for command in ["CONNECT", "STOMP", "CONNECTED"] {
            assert_eq!(rules(command, Version::V1_2), Version::V1_0);
        }
        assert_eq!(rules("SEND", Version::V1_2), Version::V1_2);
    }

    #[test]
    fn reports_what_a_version_cannot_carry() {
        let v10 = Version::V1_0;
        assert!(unrepresentable("a:b", false, v10).is_none());
        assert!(unrepresentable("a:b", true, v10).is_some());
        assert!(unrepresentable("a\nb", false, v10).is_some());
        assert!(unrepresentable("a\rb", false, Version::V1_1).is_some());
        assert!(unrepresentable("a\rb:\n", true, Version::V1_2).is_none());
        assert!(unrepresentable("", true, Version::V1_2).is_some());
        assert!(unrepresentable("", false, Version::V1_2).is_none());
        assert!(unrepresentable("a\0", false, Version::V1_2).is_some());
    }
}
