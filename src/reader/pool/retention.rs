//! Retention of consumed segments: the sealed segments of this member's
//! topics that every registered group has consumed are deleted (unless
//! `retain_consumed`), on the ckpt thread, about once a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Core;

impl Core {
    /// Deletes sealed segments that every registered group has consumed.
    /// `done` remembers, per topic, the lowest position last acted on, so a
    /// topic is only looked at again when some group moved.
    pub(super) fn retention(&self, done: &mut HashMap<Arc<str>, u64>) {
        if self.cfg.retain_consumed() {
            return;
        }
        let topics: Vec<(Arc<str>, u64)> = {
            let s = self.sched.lock();
            s.topics.values().filter(|t| t.owned).map(|t| (t.name.clone(), t.persisted)).collect()
        };
        let others = match crate::group::registry::other_positions(&self.layout, &self.group) {
            Ok(o) => o,
            Err(e) => {
                log::warn!("retention skipped: {e}");
                return;
            }
        };
        for (name, mine) in topics {
            let min = others.iter().map(|g| g.get(&*name).map_or(0, |p| p.next_seq)).fold(mine, u64::min);
            if done.get(&name) == Some(&min) {
                continue;
            }
            match crate::group::registry::delete_consumed(&self.layout.topic(&name), min) {
                Ok(n) => {
                    done.insert(name, min);
                    self.counters.segments_deleted.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => log::warn!("deleting consumed segments of {name:?} failed: {e}"),
            }
        }
    }
}
