//! Arbitrary bytes as a text message through the JSON protocol's request parser: it must not
//! panic. WebSocket text is UTF-8, so invalid bytes are replaced as a lossy decode would.

#![no_main]

use flightcast::ws::protocol::{parse, positions, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(Request::Subscribe {
        from: Some(from), ..
    }) = parse(&text)
    {
        let _ = positions(from);
    }
});
