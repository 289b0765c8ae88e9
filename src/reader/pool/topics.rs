//! The topics a reader knows: found on disk (a rescan at every poll, or
//! named by the writer's in-process notice), filtered by the black and
//! white lists, which are re-read from the config file on request.

use std::sync::atomic::Ordering;

use super::Core;
use crate::config::Config;
use crate::error::Result;
use crate::format::meta::topic_bucket;
use crate::layout::list_topics;
use crate::reader::filter::Filter;

impl Core {
    pub(super) fn handle_flags(&self) {
        if self.flags.reload_config.swap(false, Ordering::AcqRel) {
            self.reload_filter();
        }
        let new = std::mem::take(&mut *self.flags.new_topics.lock());
        if !new.is_empty() {
            self.add_topics(new);
        }
        if self.flags.rescan_topics.swap(false, Ordering::AcqRel)
            && let Err(e) = self.rescan_topics()
        {
            log::warn!("listing topics failed: {e}");
        }
    }

    /// Adds every topic on disk not known yet.
    pub(super) fn rescan_topics(&self) -> Result<()> {
        let names = list_topics(&self.layout)?;
        self.add_topics(names);
        Ok(())
    }

    /// Adds the named topics (those whose directory exists and is new). They
    /// are delivered once this member owns them (see `balance`).
    pub(super) fn add_topics(&self, names: Vec<String>) {
        let mut s = self.sched.lock();
        let filter = self.filter.read();
        let mut added = 0;
        for name in names {
            // Known ones first: the directory check costs a syscall.
            if s.topics.contains_key(name.as_str())
                || crate::format::naming::name_problem(&name).is_some()
                || !self.layout.topic(&name).is_dir()
            {
                continue;
            }
            if s.add(&name, topic_bucket(&name), filter.allows(&name)) {
                added += 1;
            }
        }
        drop(filter);
        drop(s);
        if added > 0 {
            self.request_balance();
        }
    }

    /// Re-reads the black and white lists from the config file.
    pub(super) fn reload_filter(&self) {
        let Some(path) = self.cfg.source() else { return };
        let cfg = match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("config reload skipped, keeping the current black/white lists: {e}");
                // Counted and kept, so it shows with no logger installed.
                self.counters.config_reload_failures.fetch_add(1, Ordering::Relaxed);
                *self.counters.last_config_error.lock() = Some(e.to_string());
                return;
            }
        };
        *self.counters.last_config_error.lock() = None;
        let f = Filter::new(cfg.black_topics(), cfg.white_topics());
        if *self.filter.read() == f {
            return;
        }
        log::info!("black/white lists reloaded from {}", path.display());
        *self.filter.write() = f.clone();
        self.counters.config_reloads.fetch_add(1, Ordering::Relaxed);
        let mut s = self.sched.lock();
        s.allow(|name| f.allows(name));
        self.cv.notify_all();
        drop(s);
        // Topics no longer consumed are given up; newly allowed ones shared.
        self.request_balance();
    }

    /// Whether the black/white lists in force now let `topic` through.
    pub(crate) fn consumes(&self, topic: &str) -> bool {
        self.filter.read().allows(topic)
    }
}
