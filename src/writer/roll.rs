//! Segments starting, rolling and sealing as a topic's writer goes: the
//! first segment of a session (a new topic's directory, or the successor
//! of the segment recovery sealed), the roll of a full or old segment, and
//! the seals of stop, close and `delete_topic`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::Shared;
use super::topic::{Topic, TopicState};
use crate::error::{Error, IoContext, Result};
use crate::segment::Segment;
use crate::segment::appender::{Appender, Progress};
use crate::storage::file::now_ns;

impl Shared {
    /// Starts this session's first segment of a topic.
    #[cold]
    pub(crate) fn start_segment<'a>(&self, t: &Topic, st: &'a mut TopicState) -> Result<&'a mut Appender> {
        let base = st.next_seq;
        let seg = if st.dir_exists {
            // Readers that reached the previous segment's seal wait on it;
            // take their marks before an empty one is replaced.
            let mut waiting = 0;
            if let Some(prev) = st.last_segment {
                let path = t.dir.join(crate::format::naming::data_file_name(prev));
                match crate::segment::take_waiting(&path) {
                    Ok(mask) => waiting = mask,
                    Err(e) => log::debug!("cannot wake readers of {}: {e}", path.display()),
                }
            }
            // A sealed segment with no records may have the name this one
            // needs; it holds nothing, so this one's files replace it.
            if crate::segment::read::empty_segment_at(&t.dir, base)? {
                // The new segment's files are renamed over the empty one's
                // (`Segment::create`), never removed first: a crash in
                // between must not leave the topic without a segment saying
                // where it continues (recovery would restart it at seq 0
                // and reuse sequence numbers groups have consumed).
                st.dir_changed();
                // Recovery queued the replaced segment to be finished: nothing
                // is left to finish, and its name is about to be the new one's.
                st.sealed.retain(|p| p.seg.base_seq != base);
            }
            self.sync_topic_dir(t, st)?;
            st.dir_changed();
            let seg = Segment::create(&t.dir, base, self.session, self.log_id, self.limits, Some(self.account(t)))?;
            if waiting != 0 {
                self.bell.ring(waiting, t.bucket);
            }
            seg
        } else {
            // Build the directory with its first segment aside, then rename it
            // in: readers see a new topic complete or not at all.
            let tmp = self.layout.tmp().join(format!("{}-{}", std::process::id(), crate::storage::file::random_u64()));
            crate::storage::file::create_dir(&tmp).ctx("create topic directory", &tmp)?;
            let built = Segment::create(&tmp, base, self.session, self.log_id, self.limits, Some(self.account(t)));
            let seg = match built {
                Ok(seg) => seg,
                Err(e) => {
                    let _ = crate::storage::file::remove_dir_all(&tmp);
                    return Err(e);
                }
            };
            if let Err(e) = crate::storage::file::rename(&tmp, &t.dir) {
                let _ = crate::storage::file::remove_dir_all(&tmp);
                return Err(Error::io("create topic directory", &t.dir, e));
            }
            // The flush thread syncs both directories before it counts any
            // record of this segment as durable.
            st.dir_changed();
            self.topics_dir_dirty.store(true, Ordering::Release);
            st.dir_exists = true;
            seg.relocate(&t.dir)
        };
        st.last_segment = Some(base);
        Ok(st.appender.insert(Appender::new(Arc::new(seg), self.limits)))
    }

    /// Seals the full active segment and starts the next one.
    #[cold]
    pub(crate) fn roll(&self, t: &Topic, st: &mut TopicState) -> Result<()> {
        if st.appender.is_none() {
            return Ok(());
        }
        self.sync_topic_dir(t, st)?;
        let Some(app) = st.appender.as_mut() else { return Ok(()) };
        let next = app.next_seq;
        // Create the next segment before the seal names it.
        let seg = Segment::create(&t.dir, next, self.session, self.log_id, self.limits, Some(self.account(t)))?;
        let p = self.seal(t, app);
        st.sealed.push(p);
        st.next_seq = next;
        st.last_segment = Some(next);
        st.dir_changed();
        st.appender = Some(Appender::new(Arc::new(seg), self.limits));
        self.flush.nudge();
        Ok(())
    }

    /// Makes the topic directory's entries durable before another segment is
    /// created in it, so that a later segment never outlives an earlier one
    /// in a crash (a hole at the start of the log). Rolls are rare; this is
    /// one directory sync at most per segment.
    pub(crate) fn sync_topic_dir(&self, t: &Topic, st: &mut TopicState) -> Result<()> {
        if !st.dir_dirty() {
            return Ok(());
        }
        let seen = st.dir_changes;
        crate::storage::file::sync_dir(&t.dir)
            .ctx("sync topic directory", &t.dir)
            .inspect_err(|e| self.poison_with(e))?;
        st.dir_synced = st.dir_synced.max(seen);
        Ok(())
    }

    /// Seals every active segment (stop and close).
    pub(crate) fn seal_all(&self) -> Result<()> {
        let topics: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        for t in topics {
            let mut st = t.state.lock();
            if let Some(mut app) = st.appender.take() {
                let p = self.seal(&t, &mut app);
                st.next_seq = p.next_seq;
                st.sealed.push(p);
            }
        }
        Ok(())
    }

    /// Seals a topic's active segment and wakes the readers waiting at its
    /// end (they follow the seal to the next segment).
    pub(crate) fn seal(&self, t: &Topic, app: &mut Appender) -> Progress {
        let p = app.seal(now_ns());
        if p.seg.waiting().load(Ordering::SeqCst) != 0 {
            self.ring(&p.seg, t.bucket);
        }
        p
    }
}
