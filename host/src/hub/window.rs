//! The recent window: the last N events of each partition, kept so that a subscription can
//! resume from a position without going back to Kafka.
//!
//! Entries point into the shared batches instead of copying events; a batch is freed once no
//! partition's window refers to it any more.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

use crate::event::Batch;

/// One windowed event: its batch and its index there.
#[derive(Clone)]
pub struct Slot {
    pub offset: i64,
    pub batch: Arc<Batch>,
    pub index: usize,
}

/// What a resume request can be served from.
pub struct Replay {
    /// Windowed events in order, from the requested offset up to the limit.
    pub slots: Vec<Slot>,
    /// Set when the window no longer holds the start of the request: the first offset it has.
    pub missing_until: Option<i64>,
}

/// Recent events per partition, shared by the consumer (writer) and tenant workers (readers).
pub struct Window {
    capacity: usize,
    partitions: RwLock<BTreeMap<i32, VecDeque<Slot>>>,
}

impl Window {
    /// `capacity` is the number of events kept per partition.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            partitions: RwLock::new(BTreeMap::new()),
        }
    }

    /// Appends every event of `batch`. Called before the batch is routed, so a worker always
    /// finds in the window every event it has already routed (unless it aged out).
    pub fn append(&self, batch: &Arc<Batch>) {
        let mut partitions = self.partitions.write().expect("window lock");
        for (index, meta) in batch.meta.iter().enumerate() {
            let slots = partitions.entry(meta.partition).or_default();
            if slots.len() == self.capacity {
                slots.pop_front();
            }
            slots.push_back(Slot {
                offset: meta.offset,
                batch: batch.clone(),
                index,
            });
        }
    }

    /// The last `n` events overall (or all there are), shared evenly between the partitions
    /// (a partition with fewer leaves its share to the others), in partition then offset
    /// order.
    pub fn latest(&self, n: usize) -> Vec<Slot> {
        let partitions = self.partitions.read().expect("window lock");
        let mut taken: Vec<usize> = vec![0; partitions.len()];
        let mut total = 0;
        // One event from the tail of each partition per round, until `n` or all are taken.
        'rounds: loop {
            let before = total;
            for (count, slots) in taken.iter_mut().zip(partitions.values()) {
                if total == n {
                    break 'rounds;
                }
                if *count < slots.len() {
                    *count += 1;
                    total += 1;
                }
            }
            if total == before {
                break;
            }
        }
        partitions
            .values()
            .zip(taken)
            .flat_map(|(slots, count)| slots.range(slots.len() - count..))
            .cloned()
            .collect()
    }

    /// Events of `partition` with `from <= offset <= through`, at most `limit` of them.
    pub fn read(&self, partition: i32, from: i64, through: i64, limit: usize) -> Replay {
        let partitions = self.partitions.read().expect("window lock");
        let Some(slots) = partitions.get(&partition) else {
            let missing_until = (from <= through).then_some(through + 1);
            return Replay {
                slots: Vec::new(),
                missing_until,
            };
        };
        let first = slots.front().map_or(through + 1, |s| s.offset);
        let start = slots.partition_point(|s| s.offset < from);
        let slots: Vec<Slot> = slots
            .range(start..)
            .take_while(|s| s.offset <= through)
            .take(limit)
            .cloned()
            .collect();
        let missing_until = (from < first && from <= through).then_some(first.min(through + 1));
        Replay {
            slots,
            missing_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RecordMeta;

    fn batch(partition: i32, offsets: std::ops::Range<i64>) -> Arc<Batch> {
        let mut batch = Batch::default();
        for offset in offsets {
            let meta = RecordMeta {
                partition,
                offset,
                kafka_ts_ms: None,
                payload: Default::default(),
            };
            batch.push(crate::event::blank_event(), meta);
        }
        Arc::new(batch)
    }

    #[test]
    fn latest_takes_exactly_n_shared_between_partitions() {
        let window = Window::new(100);
        window.append(&batch(0, 0..10));
        window.append(&batch(1, 0..2));
        window.append(&batch(2, 0..10));
        let positions = |n| -> Vec<(i32, i64)> {
            let slots = window.latest(n);
            slots
                .iter()
                .map(|s| (s.batch.meta[s.index].partition, s.offset))
                .collect()
        };
        assert_eq!(positions(1), vec![(0, 9)]);
        assert_eq!(positions(5), vec![(0, 8), (0, 9), (1, 0), (1, 1), (2, 9)]);
        // Partition 1 has only two: its share goes to the others.
        let eight = positions(8);
        assert_eq!(eight.len(), 8);
        assert_eq!(eight.iter().filter(|p| p.0 == 1).count(), 2);
        assert_eq!(eight.iter().filter(|p| p.0 == 0).count(), 3);
        assert_eq!(positions(1000).len(), 22);
        assert!(positions(0).is_empty());
    }

    #[test]
    fn serves_requests_inside_the_window_without_gap() {
        let window = Window::new(10);
        window.append(&batch(0, 0..5));
        let replay = window.read(0, 2, 3, 10);
        let offsets: Vec<i64> = replay.slots.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, vec![2, 3]);
        assert_eq!(replay.missing_until, None);
    }

    #[test]
    fn reports_what_aged_out_of_the_window() {
        let window = Window::new(3);
        window.append(&batch(1, 0..10));
        let replay = window.read(1, 4, 9, 10);
        let offsets: Vec<i64> = replay.slots.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, vec![7, 8, 9]);
        assert_eq!(replay.missing_until, Some(7));
        // Exactly at the window's start: nothing is missing.
        assert_eq!(window.read(1, 7, 9, 10).missing_until, None);
    }

    #[test]
    fn reads_no_more_than_the_limit() {
        let window = Window::new(10);
        window.append(&batch(0, 0..8));
        let offsets: Vec<i64> = window
            .read(0, 1, 7, 3)
            .slots
            .iter()
            .map(|s| s.offset)
            .collect();
        assert_eq!(offsets, vec![1, 2, 3]);
    }

    #[test]
    fn nothing_to_replay_when_client_is_current() {
        let window = Window::new(3);
        window.append(&batch(2, 0..3));
        let replay = window.read(2, 3, 2, 10);
        assert!(replay.slots.is_empty());
        assert_eq!(replay.missing_until, None);
    }
}
