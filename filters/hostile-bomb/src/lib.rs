//! A hostile **test component**, never to be deployed: the standard filter until armed (see
//! [`Hostile`]: admitting the topic `arm` arms it, releasing the key `arm` disarms it); armed,
//! `route` allocates 1 MiB blocks, writes every byte and keeps them all, without bound, so
//! linear memory grows until the host's memory limit refuses to grow it (the allocation
//! failure then aborts: a trap), or until wasm32's 4 GiB.

use std::cell::RefCell;

use flightcast_filter_testkit::{committed_bytes, Delivery, Event, Hostile, Misbehaviour};

/// The size of each block.
const BLOCK: usize = 1 << 20;

thread_local! {
    /// Every block allocated so far, kept alive for the instance's life.
    static HOARD: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Allocates until stopped.
pub struct Bomb;

impl Misbehaviour for Bomb {
    fn route_armed(_events: Vec<Event>) -> Result<Vec<Vec<Delivery>>, String> {
        loop {
            let block = committed_bytes(BLOCK);
            HOARD.with_borrow_mut(|hoard| hoard.push(block));
        }
    }
}

flightcast_filter_testkit::export_filter!(Hostile<Bomb>);
