//! The active fee lines of visits on their way to settlement, kept in memory
//! from the upload (2204 / 2301) to the reads of the pre-settlement and the
//! settlement (2206 / 2207, 2303 / 2304). Reading them back cost about a
//! tenth of an outpatient visit's instructions (docs/performance.md,
//! sixteenth round).
//!
//! Correctness rests on the visit's `lines_version`, not on the cache:
//! - every write of a visit's fee lines gives the visit a new version,
//!   greater than the one it had ([`next_lines_version`]), in the same
//!   transaction; so in the committed history a (visit, version) names one
//!   set of lines for good;
//! - an entry is installed only after the commit that wrote its lines (the
//!   write job returns it; the caller installs it once the job's result is
//!   released), so no entry describes a write that was rolled back;
//! - an entry is used only when the visit, as the reading transaction sees
//!   it, has the entry's version.
//!
//! Anything else (no entry, an evicted entry, an entry of another version, a
//! visit written before versions existed: version 0) reads the lines from the
//! database. In debug builds every hit is compared with that read
//! (`visit::active_lines_of`), so the whole test suite checks the cache.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::visit::{FeeLineRow, VisitRow};

/// Visits the cache holds at most. Outpatient visits stay in it for the
/// milliseconds between upload and settlement (settlement forgets them); the
/// bound is for inpatient stays uploaded day by day, and for clients that
/// never settle.
pub const VISITS_MAX: usize = 8_192;
/// Lines the cache holds at most, over all visits (a line is about 0.5 kB:
/// some 32 MiB in all). At least `LINES_PER_VISIT_MAX` (10,000), so that any
/// visit fits.
pub const LINES_MAX: usize = 65_536;

/// The version a visit's lines get when a job writes them: a fresh id, and
/// always more than the visit's last version, whatever the clock did since
/// that version was made (by this process or another).
pub fn next_lines_version(visit: &VisitRow) -> i64 {
    let version = crate::ids::next_id().max(visit.lines_version + 1);
    assert!(version > visit.lines_version && version > 0);
    version
}

/// A visit's active fee lines at one version, in upload order: by upload
/// time, then by serial compared byte by byte (`visit::active_lines`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitLines {
    pub mdtrt_id: String,
    pub version: i64,
    lines: Vec<FeeLineRow>,
    /// Each line's upload time (Unix ms, `fee_detail.created_at_ms`), the
    /// first key of the order, kept so that a later upload can be merged in.
    created_at_ms: Vec<i64>,
}

impl VisitLines {
    /// The lines of `mdtrt_id` at `version`, from (upload time, line) pairs in
    /// any order.
    pub fn from_keyed(mdtrt_id: &str, version: i64, mut keyed: Vec<(i64, FeeLineRow)>) -> VisitLines {
        // The key is unique: a serial is unique among a visit's lines.
        keyed.sort_unstable_by(|(a_ms, a), (b_ms, b)| a_ms.cmp(b_ms).then_with(|| a.feedetl_sn.cmp(&b.feedetl_sn)));
        let (created_at_ms, lines) = keyed.into_iter().unzip();
        VisitLines { mdtrt_id: mdtrt_id.to_owned(), version, lines, created_at_ms }
    }

    /// These lines and `added`, uploaded at `created_at_ms`, as version
    /// `version`. `added` must hold no serial of these lines (the upload
    /// checks that before it writes).
    pub fn with_added(&self, version: i64, created_at_ms: i64, added: Vec<FeeLineRow>) -> VisitLines {
        assert!(version > self.version, "a visit's line versions only grow");
        let mut keyed: Vec<(i64, FeeLineRow)> = Vec::with_capacity(self.lines.len() + added.len());
        keyed.extend(self.created_at_ms.iter().copied().zip(self.lines.iter().cloned()));
        keyed.extend(added.into_iter().map(|l| (created_at_ms, l)));
        VisitLines::from_keyed(&self.mdtrt_id, version, keyed)
    }

    pub fn lines(&self) -> &[FeeLineRow] {
        &self.lines
    }

    pub fn into_lines(self) -> Vec<FeeLineRow> {
        self.lines
    }
}

/// What a committed write job leaves the cache to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LineCacheChange {
    #[default]
    None,
    /// The job wrote these lines and knows all of the visit's active lines.
    Install(Arc<VisitLines>),
    /// The job changed the visit's lines (or settled it) and keeps no copy.
    Forget(String),
}

/// The cache: bounded (by visits and by lines), first in first out, one
/// mutex held for a hash lookup or an insert.
#[derive(Debug, Default)]
pub struct LineCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    by_visit: HashMap<String, Arc<VisitLines>>,
    /// Visits in the order their entries were installed, with the version
    /// installed; an older install of a visit, or a forgotten one, stays here
    /// until it reaches the front, where it is skipped.
    order: VecDeque<(String, i64)>,
    lines_total: usize,
}

impl Inner {
    fn remove(&mut self, mdtrt_id: &str) {
        if let Some(old) = self.by_visit.remove(mdtrt_id) {
            self.lines_total -= old.lines.len();
        }
    }

    fn evict_while_over(&mut self) {
        while self.by_visit.len() > VISITS_MAX || self.lines_total > LINES_MAX || self.order.len() > 2 * VISITS_MAX {
            let Some((mdtrt_id, version)) = self.order.pop_front() else { break };
            if self.by_visit.get(&mdtrt_id).is_some_and(|kept| kept.version == version) {
                self.remove(&mdtrt_id);
            }
        }
        assert!(self.by_visit.len() <= VISITS_MAX && self.lines_total <= LINES_MAX);
    }
}

impl LineCache {
    /// The lines of `mdtrt_id` if the cache holds them at `version`.
    pub fn get(&self, mdtrt_id: &str, version: i64) -> Option<Arc<VisitLines>> {
        let kept = if version == 0 {
            None
        } else {
            self.lock().by_visit.get(mdtrt_id).filter(|kept| kept.version == version).cloned()
        };
        let counter = if kept.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        kept
    }

    /// Whether the cache holds some version of `mdtrt_id`'s lines (a write
    /// job then does not read them ahead on PostgreSQL).
    pub fn holds(&self, mdtrt_id: &str) -> bool {
        self.lock().by_visit.contains_key(mdtrt_id)
    }

    /// Does what a committed job left to do. Call it only once the job's
    /// commit is durable: before, its lines may still be rolled back.
    pub fn apply(&self, change: LineCacheChange) {
        match change {
            LineCacheChange::None => {}
            LineCacheChange::Forget(mdtrt_id) => self.lock().remove(&mdtrt_id),
            LineCacheChange::Install(lines) => {
                let mut inner = self.lock();
                inner.remove(&lines.mdtrt_id);
                if lines.version == 0 || lines.lines.len() > LINES_MAX {
                    return;
                }
                inner.lines_total += lines.lines.len();
                inner.order.push_back((lines.mdtrt_id.clone(), lines.version));
                inner.by_visit.insert(lines.mdtrt_id.clone(), lines);
                inner.evict_while_over();
            }
        }
    }

    /// Reads answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Reads the cache could not answer (read from the database).
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// (visits, lines) held now.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.by_visit.len(), inner.lines_total)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // After a panic while the lock was held the map may disagree with
        // its counts: start again empty (the cache only saves reads).
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            *inner = Inner::default();
            self.inner.clear_poison();
            inner
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(mdtrt_id: &str, feedetl_sn: &str) -> FeeLineRow {
        crate::testing::fee_line(mdtrt_id, feedetl_sn, "B")
    }

    fn entry(visit: u32, version: i64, lines: usize) -> Arc<VisitLines> {
        let id = format!("M{visit}");
        let keyed = (0..lines).map(|i| (0, line(&id, &format!("S{i}")))).collect();
        Arc::new(VisitLines::from_keyed(&id, version, keyed))
    }

    #[test]
    fn an_entry_answers_at_its_version_only() {
        let cache = LineCache::default();
        cache.apply(LineCacheChange::Install(entry(1, 7, 3)));
        assert!(cache.get("M1", 6).is_none());
        assert!(cache.get("M1", 0).is_none());
        assert_eq!(cache.get("M1", 7).unwrap().lines().len(), 3);
        assert_eq!((cache.hits(), cache.misses()), (1, 2));
        cache.apply(LineCacheChange::Install(entry(1, 9, 2)));
        assert!(cache.get("M1", 7).is_none(), "a newer install replaces the older");
        assert_eq!(cache.size(), (1, 2));
        cache.apply(LineCacheChange::Forget("M1".to_owned()));
        assert!(!cache.holds("M1"));
        assert_eq!(cache.size(), (0, 0));
        // Version 0 (lines written before versions existed) is never kept.
        cache.apply(LineCacheChange::Install(entry(2, 0, 1)));
        assert!(!cache.holds("M2"));
    }

    #[test]
    fn merged_uploads_keep_upload_time_then_serial_order() {
        let first = VisitLines::from_keyed("M1", 1, vec![(2_000, line("M1", "b")), (2_000, line("M1", "a9"))]);
        let merged = first.with_added(2, 1_000, vec![line("M1", "z"), line("M1", "a10")]);
        let serials: Vec<&str> = merged.lines().iter().map(|l| l.feedetl_sn.as_str()).collect();
        assert_eq!(serials, ["a10", "z", "a9", "b"]);
        assert_eq!(merged.version, 2);
    }

    #[test]
    #[should_panic(expected = "only grow")]
    fn a_merge_to_an_older_version_is_refused() {
        VisitLines::from_keyed("M1", 5, Vec::new()).with_added(5, 0, Vec::new());
    }

    #[test]
    fn the_oldest_entries_go_first_when_the_lines_are_over_the_bound() {
        let cache = LineCache::default();
        let per_visit = LINES_MAX / 4;
        for visit in 0..5 {
            cache.apply(LineCacheChange::Install(entry(visit, 1, per_visit)));
        }
        assert!(!cache.holds("M0"), "the first installed went");
        assert!((1..5).all(|v| cache.holds(&format!("M{v}"))));
        assert_eq!(cache.size(), (4, LINES_MAX));
        // A visit larger than the whole cache is not kept (nor is its old entry).
        cache.apply(LineCacheChange::Install(entry(1, 2, LINES_MAX + 1)));
        assert!(!cache.holds("M1"));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Install { visit: u32, lines: usize },
        Forget { visit: u32 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..(VISITS_MAX as u32 * 2), 0..2_000usize).prop_map(|(visit, lines)| Op::Install { visit, lines }),
            (0..(VISITS_MAX as u32 * 2)).prop_map(|visit| Op::Forget { visit }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Whatever is installed and forgotten, the cache stays within its
        /// bounds, its line count is the sum of its entries', and an entry
        /// it holds is the last one installed for its visit.
        #[test]
        fn the_cache_stays_bounded_and_keeps_the_last_install(ops in proptest::collection::vec(op(), 1..3_000)) {
            let cache = LineCache::default();
            let mut last: HashMap<String, i64> = HashMap::new();
            for (version, op) in (1i64..).zip(ops) {
                match op {
                    Op::Install { visit, lines } => {
                        cache.apply(LineCacheChange::Install(entry(visit, version, lines)));
                        last.insert(format!("M{visit}"), version);
                    }
                    Op::Forget { visit } => {
                        cache.apply(LineCacheChange::Forget(format!("M{visit}")));
                        last.remove(&format!("M{visit}"));
                    }
                }
                let inner = cache.lock();
                prop_assert!(inner.by_visit.len() <= VISITS_MAX && inner.lines_total <= LINES_MAX);
                prop_assert!(inner.order.len() <= 2 * VISITS_MAX);
                prop_assert_eq!(inner.lines_total, inner.by_visit.values().map(|e| e.lines.len()).sum::<usize>());
                for (mdtrt_id, kept) in &inner.by_visit {
                    prop_assert_eq!(Some(&kept.version), last.get(mdtrt_id));
                }
            }
        }
    }
}
