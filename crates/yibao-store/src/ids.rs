//! Unique 64-bit ids generated in the process, time-ordered.
//!
//! Layout: milliseconds since 2024-01-01 in the high bits, then a 12-bit
//! sequence, then a 10-bit node number (lowest bits). The node number
//! separates processes writing to one PostgreSQL database; each sets its own
//! (`YIBAO_NODE_ID`). Within a millisecond the sequence counts up; beyond 4096
//! ids in one millisecond the generator borrows from the next millisecond,
//! so ids stay unique and increasing per node.

use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};

const EPOCH_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

static LAST: AtomicI64 = AtomicI64::new(0);
static NODE: AtomicU16 = AtomicU16::new(0);

/// Sets this process's node number (0–1023). Call once at start.
pub fn set_node(node: u16) {
    assert!(node < (1 << NODE_BITS), "node id has {NODE_BITS} bits");
    NODE.store(node, Ordering::Relaxed);
}

pub fn next_id() -> i64 {
    let node = i64::from(NODE.load(Ordering::Relaxed));
    let step = 1_i64 << NODE_BITS;
    loop {
        let prev = LAST.load(Ordering::Relaxed);
        let base = ((crate::now_ms() - EPOCH_MS).max(0) << (SEQ_BITS + NODE_BITS)) | node;
        let next = if base > prev { base } else { prev + step };
        if LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_increasing_across_threads() {
        let handles: Vec<_> =
            (0..4).map(|_| std::thread::spawn(|| (0..20_000).map(|_| next_id()).collect::<Vec<_>>())).collect();
        let mut all = Vec::new();
        for h in handles {
            let ids = h.join().unwrap();
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            all.extend(ids);
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
