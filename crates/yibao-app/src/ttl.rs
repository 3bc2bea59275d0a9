//! A map of values read from the database, each reused for a bounded time:
//! the interface's caches of institutions and sign-ins. Changes made through
//! this node drop an entry at once; the time bound covers changes made
//! through another node sharing the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Shared (cheap to clone), keyed by text, bounded in time and in entries.
#[derive(Clone)]
pub struct TtlMap<V> {
    map: Arc<RwLock<HashMap<String, (V, i64)>>>,
    ttl_ms: i64,
    /// A bound on memory: when reached the map starts over, so that a scan
    /// of random keys cannot grow it.
    entries_max: usize,
}

impl<V: Clone> TtlMap<V> {
    pub fn new(ttl_ms: i64, entries_max: usize) -> TtlMap<V> {
        assert!(ttl_ms > 0 && entries_max > 0);
        TtlMap { map: Arc::default(), ttl_ms, entries_max }
    }

    /// The value stored under `key` less than the time bound before `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        let map = self.map.read().unwrap();
        let (value, at) = map.get(key)?;
        (now_ms - at < self.ttl_ms).then(|| value.clone())
    }

    pub fn insert(&self, key: String, value: V, now_ms: i64) {
        let mut map = self.map.write().unwrap();
        if map.len() >= self.entries_max {
            map.clear();
        }
        map.insert(key, (value, now_ms));
    }

    pub fn remove(&self, key: &str) {
        self.map.write().unwrap().remove(key);
    }

    pub fn clear(&self) {
        self.map.write().unwrap().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_after_the_bound_and_the_map_starts_over_when_full() {
        let m = TtlMap::new(1_000, 2);
        m.insert("a".into(), 1, 10_000);
        assert_eq!(m.get("a", 10_999), Some(1));
        assert_eq!(m.get("a", 11_000), None);
        m.insert("b".into(), 2, 10_000);
        m.insert("c".into(), 3, 10_000);
        assert_eq!((m.get("a", 10_000), m.get("c", 10_000)), (None, Some(3)));
        m.remove("c");
        assert_eq!(m.get("c", 10_000), None);
    }
}
