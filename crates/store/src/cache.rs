//! A bounded cache of loaded documents (least recently used goes first).

use std::collections::HashMap;

use safemesh_doc::AutoCommit;

pub(crate) struct DocCache {
    cap: usize,
    tick: u64,
    /// Bumped by every writer commit; a reader that loaded from the database only fills the cache if
    /// no commit happened meanwhile, so a stale copy never replaces a newer one.
    pub(crate) generation: u64,
    map: HashMap<String, (u64, AutoCommit)>,
}

impl DocCache {
    pub(crate) fn new(cap: usize) -> Self {
        DocCache {
            cap: cap.max(1),
            tick: 0,
            generation: 0,
            map: HashMap::new(),
        }
    }

    pub(crate) fn get(&mut self, id: &str) -> Option<AutoCommit> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(id).map(|(t, d)| {
            *t = tick;
            d.clone()
        })
    }

    pub(crate) fn put(&mut self, id: &str, doc: AutoCommit) {
        self.tick += 1;
        if self.map.len() >= self.cap && !self.map.contains_key(id) {
            // Evict the eighth least recently used in one pass, so eviction stays amortised O(1).
            let mut ticks: Vec<u64> = self.map.values().map(|(t, _)| *t).collect();
            let k = (self.cap / 8).max(1).min(ticks.len()) - 1;
            let (_, cut, _) = ticks.select_nth_unstable(k);
            let cut = *cut;
            self.map.retain(|_, (t, _)| *t > cut);
        }
        self.map.insert(id.to_string(), (self.tick, doc));
    }
}
