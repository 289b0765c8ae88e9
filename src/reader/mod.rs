//! The `Reader`: tails every topic of a log directory and hands per-topic
//! batches to a forwarder closure on a bounded pool of threads, persisting
//! what was confirmed.

mod admin;
mod batch;
pub(crate) mod cursor;
mod dead;
mod filter;
mod policy;
mod pool;
mod pull;
mod watch;

use std::sync::Arc;

use crate::config::Config;
use crate::doorbell::{Doorbell, claim_slot};
use crate::error::{Error, IoContext, Result};
pub use crate::group::members::{MemberCounters, MemberInfo, RetryingTopic};
use crate::group::{checkpoint, members};
use crate::layout::{Layout, check_group};
use crate::storage::file::create_dir_durable;
pub use admin::{DeadLetter, Group, GroupPosition, TopicLag};
pub use batch::{Batch, Confirmer, Record, Records};
pub use cursor::Corruption;
pub use policy::{RetryPolicy, StartFrom};
pub(crate) use pool::BoxError;
use pool::{Core, Wake};
#[cfg(feature = "tokio")]
pub(crate) use pool::{Forward, NotDelivered};
pub use pull::TopicReader;

/// Entry point for consuming a log: see [`Reader::builder`].
#[derive(Debug)]
pub struct Reader {
    _private: (),
}

impl Reader {
    /// Starts configuring a reader of the log in `cfg.base_dir()`.
    pub fn builder(cfg: &Config) -> ReaderBuilder {
        ReaderBuilder {
            cfg: cfg.clone(),
            group: "default".into(),
            on_corruption: None,
            start_from: StartFrom::Earliest,
            retry: RetryPolicy::from_config(cfg),
            create_missing_dir: false,
        }
    }
}

/// Configures and starts a reader.
pub struct ReaderBuilder {
    cfg: Config,
    group: String,
    on_corruption: Option<pool::OnCorruption>,
    start_from: StartFrom,
    retry: RetryPolicy,
    create_missing_dir: bool,
}

impl std::fmt::Debug for ReaderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderBuilder").field("base_dir", &self.cfg.base_dir()).field("group", &self.group).finish()
    }
}

impl ReaderBuilder {
    /// The consumer group: its name keys the saved positions (default
    /// `"default"`). Every group sees every record. Readers started with the
    /// same group, in this process or others, share its topics: each topic
    /// is delivered by one of them at a time, and the topics of one that
    /// stops or dies are taken over by the others, as are those of one that
    /// sends no heartbeat for `member_timeout_ms` (frozen) and the topic of
    /// a closure that holds one batch longer than `max_forward_ms`.
    pub fn group(mut self, name: &str) -> ReaderBuilder {
        self.group = name.to_owned();
        self
    }

    /// Where to start on topics the group has no saved position for
    /// (default [`StartFrom::Earliest`]).
    pub fn start_from(mut self, from: StartFrom) -> ReaderBuilder {
        self.start_from = from;
        self
    }

    /// How failed batches are retried (default: from the config, retrying
    /// forever).
    pub fn retry(mut self, policy: RetryPolicy) -> ReaderBuilder {
        self.retry = policy;
        self
    }

    /// Creates `base_dir` if it does not exist, and waits there for a writer
    /// (a sidecar started before its application). Without this, a missing
    /// `base_dir` is [`Error::NoSuchLog`]: a mistyped path is an error, not
    /// a reader waiting forever.
    pub fn create_missing_dir(mut self) -> ReaderBuilder {
        self.create_missing_dir = true;
        self
    }

    /// Called (on a reader thread) for every damaged span skipped, every gap
    /// of records deleted before this group read them, and every saved
    /// position found past the end of its topic. Each is also logged.
    pub fn on_corruption(mut self, f: impl Fn(&Corruption) + Send + Sync + 'static) -> ReaderBuilder {
        self.on_corruption = Some(Box::new(f));
        self
    }

    /// Starts reading. `forward` runs on up to `max_concurrent_forward`
    /// threads at once, never twice at once for one topic; `Ok` confirms the
    /// batch, `Err` (or a panic) retries it after a backoff.
    ///
    /// # Errors
    /// [`Error::InvalidGroup`], [`Error::Config`], [`Error::NoSuchLog`] when
    /// `base_dir` does not exist (see [`ReaderBuilder::create_missing_dir`]),
    /// or an I/O error preparing the directory.
    pub fn start<F, E>(self, forward: F) -> Result<ReaderHandle>
    where
        F: Fn(&Batch) -> std::result::Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.start_forward(Box::new(move |b: &Arc<Batch>| forward(b).map_err(Into::into)))
    }

    /// The log directory this reader will read.
    #[cfg(feature = "tokio")]
    pub(crate) fn base_dir(&self) -> &std::path::Path {
        self.cfg.base_dir()
    }

    /// [`ReaderBuilder::start`] with the forwarder type-erased (the async
    /// API's start wraps its closure into one).
    pub(crate) fn start_forward(self, forward: pool::Forward) -> Result<ReaderHandle> {
        self.cfg.validate()?;
        check_group(&self.group)?;
        let layout = Layout::new(self.cfg.base_dir());
        if !self.create_missing_dir && !layout.base.is_dir() {
            return Err(Error::NoSuchLog { path: layout.base.clone() });
        }
        for d in [layout.base.clone(), layout.topics(), layout.groups()] {
            create_dir_durable(&d).ctx("create directory", &d)?;
        }
        let gdir = layout.group(&self.group);
        let (registered, members, store, report) = join_group(&layout, &gdir)?;
        if report != checkpoint::LoadReport::default() {
            log::warn!("group {:?}: checkpoint damage found, older positions used: {report:?}", self.group);
        }
        let log_id = crate::writer::open::read_meta(&layout.meta()).and_then(|m| m.log_id_u64()).unwrap_or(0);
        let bell = Arc::new(Doorbell::open(&layout.base)?);
        let wake = match claim_slot(&layout.base, &bell)? {
            Some(slot) => Wake::Slot { bell, slot },
            None => {
                log::warn!("all doorbell slots are taken; this reader falls back to file events and polling");
                Wake::Local { bell: Some(bell), word: parking_lot::Mutex::new(0), cv: parking_lot::Condvar::new() }
            }
        };
        let core = Arc::new(Core::new(
            self.cfg.clone(),
            layout.clone(),
            pool::GroupInfo { name: self.group.clone(), registered },
            log_id,
            forward,
            self.on_corruption,
            wake,
            store,
            members,
            self.start_from,
            self.retry,
        ));
        let wake_core = Arc::downgrade(&core);
        let waker: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(c) = wake_core.upgrade() {
                c.wake.wake();
            }
        });
        let watcher = watch::start(
            &layout.topics(),
            self.cfg.source(),
            core.wake.doorbell_path().as_deref(),
            core.flags.clone(),
            waker,
        )
        .map_err(|e| Error::io("watch log directory", layout.topics(), std::io::Error::other(e)))?;
        core.start()?;
        Ok(ReaderHandle { core, _watcher: Some(watcher) })
    }
}

/// Registers the group if it is new, joins it and opens its checkpoints.
/// On a full disk this takes slices of the emergency reserve
/// (storage/reserve.rs): starting a consumer is how space gets freed. A new
/// group that still cannot be made leaves nothing behind.
fn join_group(
    layout: &Layout,
    gdir: &std::path::Path,
) -> Result<(u64, members::Membership, checkpoint::CheckpointStore, checkpoint::LoadReport)> {
    let existed = gdir.exists();
    let r = crate::storage::reserve::with_reserve(&layout.base, 64 << 10, || {
        let registered = checkpoint::ensure_group_dir(gdir)?;
        let members = members::Membership::join(gdir)?;
        let (store, report) = checkpoint::CheckpointStore::open(gdir)?;
        Ok((registered, members, store, report))
    });
    // Only while no member is in it: another reader may have joined the
    // new group meanwhile, and its files are not ours to remove.
    if r.is_err() && !existed {
        let members = gdir.join(members::MEMBERS_DIR);
        let empty = std::fs::read_dir(&members).map_or(true, |mut d| d.next().is_none());
        if empty {
            let _ = std::fs::remove_dir_all(gdir);
        }
    }
    r
}

/// A running reader. [`ReaderHandle::stop`] stops it gracefully; dropping
/// the handle does the same.
pub struct ReaderHandle {
    core: Arc<Core>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for ReaderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderHandle").field("group", &self.core.group).finish()
    }
}

/// Counters of a running reader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReaderStats {
    /// Batches confirmed.
    pub batches: u64,
    /// Records confirmed.
    pub records: u64,
    /// Data bytes of confirmed batches.
    pub bytes: u64,
    /// Closure calls that returned an error.
    pub failures: u64,
    /// Closure calls that panicked.
    pub panics: u64,
    /// Damage, gaps and past-end positions reported.
    pub corruptions: u64,
    /// Positions persisted.
    pub checkpoints: u64,
    /// Consumed segments deleted.
    pub segments_deleted: u64,
    /// Failed attempts to persist positions (retried).
    pub checkpoint_errors: u64,
    /// Times changed black/white lists were applied from the config file.
    pub config_reloads: u64,
    /// Times the changed config file could not be read or parsed (the
    /// lists in force were kept).
    pub config_reload_failures: u64,
    /// Why the last reload failed; `None` once a later one succeeds.
    pub last_config_error: Option<String>,
    /// Retention passes run (about one a second).
    pub retention_passes: u64,
    /// Failed batches scheduled for another attempt.
    pub retries: u64,
    /// Records moved to the group's dead letters.
    pub dead_letters: u64,
    /// Topics this member took (at start, from a peer that left or died).
    pub topics_taken: u64,
    /// Topics it gave up (to balance, or because they are no longer consumed).
    pub topics_released: u64,
    /// Operator resets applied.
    pub resets: u64,
    /// Topics taken over from a stale member (one that sent no heartbeat
    /// for `member_timeout_ms` while its process still held the topic).
    pub takeovers: u64,
    /// Topics another member took over from this one (it went without a
    /// heartbeat for `member_timeout_ms`); their unpersisted confirmations
    /// were dropped, so those records are delivered again.
    pub topics_lost: u64,
    /// Batches whose closure returned after their topic had been taken away
    /// (see [`Batch::is_revoked`]); their outcome was ignored.
    pub revoked_batches: u64,
    /// Times a closure was found holding one batch longer than
    /// `max_forward_ms` (each also logged as a warning).
    pub stuck_found: u64,
    /// Topics whose closure holds one batch longer than `max_forward_ms` now.
    pub stuck_topics: u64,
    /// Topics owned now.
    pub topics_owned: u64,
    /// Records written to the owned topics and not yet confirmed.
    pub lag: u64,
}

impl ReaderHandle {
    /// Stops gracefully: batches being forwarded finish, no new ones start,
    /// positions are persisted and the threads joined. Stopping twice is fine.
    ///
    /// A closure still holding its batch `max_forward_ms` after it took it
    /// is not waited for any longer, so with a limit set this returns within
    /// `max_forward_ms` (plus the final persist): the topic is given up like
    /// the others (its batch reports [`Batch::is_revoked`]), the closure's
    /// thread is left running until it returns, and its records are
    /// delivered again by the group. Without a limit it waits as long as
    /// the closure runs.
    ///
    /// # Errors
    /// The error of the final checkpoint write, if it failed;
    /// [`Error::StopAbandoned`] naming the topics whose closure did not
    /// return in time (everything else was stopped and persisted).
    pub fn stop(&self) -> Result<()> {
        self.core.stop()
    }

    /// The group this reader consumes as.
    pub fn group(&self) -> &str {
        &self.core.group
    }

    /// The log directory this reader reads.
    #[cfg(feature = "tokio")]
    pub(crate) fn base_dir(&self) -> &std::path::Path {
        &self.core.layout.base
    }

    /// Counters since start.
    pub fn stats(&self) -> ReaderStats {
        self.core.stats()
    }

    /// Per topic this reader owns, by topic name: how far it has confirmed
    /// and persisted.
    pub fn positions(&self) -> Vec<ReaderPosition> {
        self.core.positions()
    }

    /// This reader's id among the group's members (see [`Group::members`]).
    pub fn member_id(&self) -> String {
        self.core.member_id()
    }

    /// Whether this reader consumes `topic` under the black and white lists
    /// in force now (those of the config file as last read successfully,
    /// when the config came from [`Config::from_file`]): a white list that
    /// is not empty names it, and the black list does not.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let mut cfg = logstream::Config::new(dir.path());
    /// cfg.set_black_topics(vec!["debug".to_owned()]);
    /// let reader = logstream::Reader::builder(&cfg).start(|_: &logstream::Batch| Ok::<(), std::io::Error>(()))?;
    /// assert!(reader.consumes("orders") && !reader.consumes("debug"));
    /// reader.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumes(&self, topic: &str) -> bool {
        self.core.consumes(topic)
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        if let Err(e) = self.core.stop() {
            log::error!("stopping the reader of group {:?} failed: {e}", self.core.group);
        }
    }
}

/// Where a running reader is in one topic it owns ([`ReaderHandle::positions`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ReaderPosition {
    /// The topic.
    pub topic: String,
    /// The next sequence number to deliver: every record before it was confirmed.
    pub confirmed: u64,
    /// The next sequence number after the group's persisted position: what a
    /// restart resumes from.
    pub persisted: u64,
}
