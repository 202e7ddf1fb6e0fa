//! A connection as the hub sees it: a bounded outbound queue and the record of what it lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::telemetry::metrics;

/// Identifies a connection within this process.
pub type ConnId = u64;

/// Control messages that may wait in a queue beyond the event capacity. They are few (about
/// one per client request), so a client that lets this many pile up is closed instead.
pub const CONTROL_HEADROOM: usize = 256;

/// One event bound for one connection.
#[derive(Debug)]
pub struct EventOut {
    /// The connection's subscription ids that matched.
    pub subs: Vec<Arc<str>>,
    pub partition: i32,
    pub offset: i64,
    pub kafka_ts_ms: Option<i64>,
    /// JSON of the event, shared with every other recipient of the same payload.
    pub payload: Bytes,
    /// False for events replayed from the window to a resuming subscription; only live ones
    /// feed the latency histogram.
    pub live: bool,
}

/// Everything the hub sends a connection, in order.
#[derive(Debug)]
pub enum Outbound {
    Event(EventOut),
    Subscribed {
        id: Arc<str>,
        topic: String,
    },
    Rejected {
        id: Arc<str>,
        topic: String,
        reason: String,
    },
    Unsubscribed {
        id: Arc<str>,
    },
    /// Sent back by the worker to mark that every earlier request has been answered.
    Barrier,
    /// A resuming subscription has caught up: what follows is live.
    CaughtUp {
        id: Arc<str>,
    },
    /// The server ended a subscription (for example its filter now rejects it).
    Ended {
        id: Arc<str>,
        reason: String,
    },
    /// Events that were due to this connection and will not come.
    Gap(Gap),
    /// A request the session refused itself (duplicate id, limit, unknown id), sent back
    /// through the worker so that it keeps its place among the replies.
    Refused {
        id: Arc<str>,
        code: &'static str,
        message: String,
    },
}

/// A contiguous range of a partition in which events were lost for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub reason: &'static str,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
    /// How many events in the range were lost (for queue overflow); `None` when unknown.
    pub dropped: Option<u64>,
}

/// Events lost in one partition for one reason: first offset, last offset, count.
type Lost = (i64, i64, u64);

/// The hub's handle on a connection. Cloned into every tenant worker that serves it.
pub struct ConnHandle {
    pub id: ConnId,
    tenant: Arc<str>,
    tx: mpsc::Sender<Outbound>,
    /// Events waiting in `tx`; compared with `capacity` to decide when to drop.
    queued_events: AtomicUsize,
    capacity: usize,
    /// Losses not yet reported to the client, per reason and partition: (first, last, count).
    lost: Mutex<BTreeMap<(&'static str, i32), Lost>>,
    has_lost: AtomicBool,
    /// Set when a control message found the queue full: the connection must close.
    overloaded: AtomicBool,
    /// Set by the worker when a catching-up subscription waits for room in the queue.
    drain_wanted: AtomicBool,
}

impl ConnHandle {
    /// Makes a handle and the receiving end of its queue. The queue holds `capacity` events
    /// plus `CONTROL_HEADROOM` control messages; past that, events are dropped (and reported
    /// as a gap) and control messages close the connection.
    pub fn new(
        id: ConnId,
        tenant: Arc<str>,
        capacity: usize,
    ) -> (Arc<Self>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity + CONTROL_HEADROOM);
        let handle = Self {
            id,
            tenant,
            tx,
            queued_events: AtomicUsize::new(0),
            capacity,
            lost: Mutex::new(BTreeMap::new()),
            has_lost: AtomicBool::new(false),
            overloaded: AtomicBool::new(false),
            drain_wanted: AtomicBool::new(false),
        };
        (Arc::new(handle), rx)
    }

    /// Queues an event, or drops it and remembers the loss when the client is too slow.
    pub fn send_event(&self, event: EventOut) {
        if self.queued_events.load(Ordering::Acquire) >= self.capacity {
            return self.lose(event.partition, event.offset, "queue_full");
        }
        let (partition, offset) = (event.partition, event.offset);
        self.queued_events.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(Outbound::Event(event)) {
            Ok(()) => metrics()
                .deliveries
                .with_label_values(&[&self.tenant])
                .inc(),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_events.fetch_sub(1, Ordering::AcqRel);
                self.lose(partition, offset, "queue_full");
            }
            // The connection is gone; its worker will hear of it shortly.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued_events.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Queues a control message. If even the headroom is full, marks the connection for
    /// closing: a client that does not read its replies cannot be served.
    pub fn send_control(&self, message: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(message) {
            self.overloaded.store(true, Ordering::Release);
        }
    }

    /// Records that the event at `partition`/`offset` was due to this client and is lost.
    pub fn lose(&self, partition: i32, offset: i64, reason: &'static str) {
        metrics()
            .drops
            .with_label_values(&[&self.tenant, reason])
            .inc();
        self.note_gap(partition, offset, reason);
    }

    /// Records that the event at `partition`/`offset` may have been due to this client and
    /// will not come, without counting it as a drop (the caller counts it once per event).
    pub fn note_gap(&self, partition: i32, offset: i64, reason: &'static str) {
        let mut lost = self.lost.lock().expect("lost lock");
        let entry = lost
            .entry((reason, partition))
            .or_insert((offset, offset, 0));
        entry.0 = entry.0.min(offset);
        entry.1 = entry.1.max(offset);
        entry.2 += 1;
        self.has_lost.store(true, Ordering::Release);
    }

    /// Called by the writer for each event it takes off the queue.
    pub fn event_dequeued(&self) {
        self.queued_events.fetch_sub(1, Ordering::AcqRel);
    }

    /// Losses since the last call, as gap notices, once the queue has room again.
    pub fn take_gaps(&self) -> Vec<Gap> {
        if !self.has_lost.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        let lost = std::mem::take(&mut *self.lost.lock().expect("lost lock"));
        lost.into_iter()
            .map(|((reason, partition), (from, to, count))| Gap {
                reason,
                partition,
                from,
                to,
                dropped: Some(count),
            })
            .collect()
    }

    /// Events the queue can take before it drops.
    pub fn room(&self) -> usize {
        self.capacity
            .saturating_sub(self.queued_events.load(Ordering::Acquire))
    }

    /// Asks the session to signal the worker once the queue is half empty. Returns false
    /// when the queue has already drained that far (the session may have emptied it between
    /// the worker's look and this call): then the worker goes on instead of waiting.
    pub fn wait_for_room(&self) -> bool {
        self.drain_wanted.store(true, Ordering::Release);
        let half_empty = self.queued_events.load(Ordering::Acquire) <= self.capacity / 2;
        !(half_empty && self.drain_wanted.swap(false, Ordering::AcqRel))
    }

    /// True once per request, when the queue has drained to half its capacity.
    pub fn take_drain_signal(&self) -> bool {
        let half_empty = self.queued_events.load(Ordering::Acquire) <= self.capacity / 2;
        half_empty && self.drain_wanted.swap(false, Ordering::AcqRel)
    }

    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(offset: i64) -> EventOut {
        EventOut {
            subs: vec![],
            partition: 0,
            offset,
            kafka_ts_ms: None,
            payload: Bytes::new(),
            live: true,
        }
    }

    #[tokio::test]
    async fn slow_client_loses_events_past_capacity_and_is_told() {
        let (conn, mut rx) = ConnHandle::new(1, "t".into(), 2);
        for offset in 0..5 {
            conn.send_event(event(offset));
        }
        assert_eq!(conn.take_gaps().len(), 1);
        let mut got = Vec::new();
        while let Ok(Outbound::Event(e)) = rx.try_recv() {
            conn.event_dequeued();
            got.push(e.offset);
        }
        assert_eq!(got, vec![0, 1]);
        conn.send_event(event(5));
        assert!(matches!(rx.try_recv(), Ok(Outbound::Event(e)) if e.offset == 5));
    }

    #[tokio::test]
    async fn gap_names_the_lost_range_and_count() {
        let (conn, _rx) = ConnHandle::new(1, "t".into(), 1);
        for offset in 10..14 {
            conn.send_event(event(offset));
        }
        let gaps = conn.take_gaps();
        assert_eq!(
            gaps,
            vec![Gap {
                reason: "queue_full",
                partition: 0,
                from: 11,
                to: 13,
                dropped: Some(3)
            }]
        );
        assert!(conn.take_gaps().is_empty());
    }
}
