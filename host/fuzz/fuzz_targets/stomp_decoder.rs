//! Arbitrary bytes, in arbitrary pieces, through the STOMP decoder. It must not panic, must
//! hold no more than the frame limit plus one push, and every frame it yields that can be
//! encoded must decode back to itself.

#![no_main]

use flightcast::stomp::{encode, Decoder, Item, Limits, Version};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the fuzzer reaches them quickly.
const SMALL: Limits = Limits {
    max_frame_bytes: 256,
    max_headers: 8,
    max_header_bytes: 128,
};

fuzz_target!(|input: (u8, Vec<Vec<u8>>)| {
    let (setup, pieces) = input;
    let version = Version::ALL[usize::from(setup % 3)];
    let limits = if setup & 0x80 == 0 {
        SMALL
    } else {
        Limits::default()
    };
    let mut decoder = Decoder::new(limits);
    decoder.set_version(version);

    for piece in &pieces {
        decoder.push(piece);
        assert!(decoder.buffered_bytes() <= limits.max_frame_bytes + piece.len());
        loop {
            match decoder.next() {
                Ok(Some(Item::Frame(frame))) => round_trip(&frame, version),
                Ok(Some(Item::HeartBeat)) => {}
                Ok(None) => break,
                Err(error) => {
                    assert_eq!(decoder.next(), Err(error));
                    return;
                }
            }
        }
        assert!(decoder.buffered_bytes() <= limits.max_frame_bytes);
    }
});

fn round_trip(frame: &flightcast::stomp::Frame, version: Version) {
    let Ok(bytes) = encode(frame, version) else {
        return;
    };
    let mut again = Decoder::new(Limits {
        max_frame_bytes: usize::MAX,
        max_headers: usize::MAX,
        max_header_bytes: usize::MAX,
    });
    again.set_version(version);
    again.push(&bytes);
    assert_eq!(again.next(), Ok(Some(Item::Frame(frame.clone()))));
    assert_eq!(again.next(), Ok(None));
}
