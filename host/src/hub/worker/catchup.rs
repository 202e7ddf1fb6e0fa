//! Catching up: a subscription that resumes from earlier positions is served from the recent
//! window at the pace its connection reads, then joins live routing.
//!
//! The cursor chases the live position: each step sends at most as many windowed events as the
//! connection's queue has room for, and when the queue is full the worker waits for the
//! session's `Drained` signal. Live events routed meanwhile are in the window too, so once the
//! cursor reaches the highest routed offset of every partition, the subscription turns live
//! with nothing missed and nothing twice.

use super::{SubKey, TenantWorker};
use crate::filter::Event;
use crate::hub::conn::{ConnId, Gap, Outbound};
use crate::telemetry::metrics;

/// Most windowed events routed in one filter call while catching up.
const CHUNK: usize = 256;

impl TenantWorker {
    /// Continues every catching-up subscription of `conn`.
    pub(super) fn drained(&mut self, conn: ConnId) {
        let keys: Vec<SubKey> = self
            .subs
            .iter()
            .filter(|(key, sub)| key.0 == conn && sub.cursor.is_some())
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.pump(&key);
        }
    }

    /// Sends windowed events to a catching-up subscription while its queue has room.
    pub(super) fn pump(&mut self, key: &SubKey) {
        loop {
            let Some(handle) = self.conns.get(&key.0).map(|c| c.handle.clone()) else {
                return;
            };
            let room = handle.room();
            if room == 0 {
                if handle.wait_for_room() {
                    return;
                }
                continue;
            }
            let Some(sub) = self.subs.get_mut(key) else {
                return;
            };
            let Some(cursor) = &mut sub.cursor else {
                return;
            };
            let behind = cursor
                .iter()
                .map(|(p, next)| (*p, *next))
                .find(|(p, next)| *next <= self.routed_through.get(p).copied().unwrap_or(-1));
            let Some((partition, next)) = behind else {
                // Caught up on every partition: from now on live routing serves it.
                sub.cursor = None;
                handle.send_control(Outbound::CaughtUp { id: key.1.clone() });
                return;
            };
            let through = self.routed_through[&partition];
            let replay = self.window.read(partition, next, through, room.min(CHUNK));
            if let Some(until) = replay.missing_until {
                let gap = Gap {
                    reason: "beyond_window",
                    partition,
                    from: next,
                    to: until - 1,
                    dropped: None,
                };
                handle.send_control(Outbound::Gap(gap));
            }
            let resume_at = match replay.slots.last() {
                Some(last) => last.offset + 1,
                None => replay.missing_until.unwrap_or(through + 1),
            };
            if let Some(cursor) = &mut sub.cursor {
                cursor.insert(partition, resume_at);
            }
            let events: Vec<Event> = replay
                .slots
                .iter()
                .map(|s| s.batch.events[s.index].clone())
                .collect();
            let routed = self.route_events(&events);
            for (slot, answer) in replay.slots.iter().zip(routed) {
                let meta = &slot.batch.meta[slot.index];
                match answer {
                    Ok(groups) => self.deliver(meta, groups, Some(key)),
                    Err(reason) => {
                        metrics()
                            .drops
                            .with_label_values(&[&self.tenant, reason])
                            .inc();
                        handle.note_gap(partition, meta.offset, reason);
                    }
                }
            }
        }
    }
}
