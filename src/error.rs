//! The one error type of the crate. Every variant says what failed, on which
//! path, topic or key, and why, in a sentence a user can act on.

use std::io;
use std::path::{Path, PathBuf};

/// Result with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in logstream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call on a file or directory failed.
    #[error("cannot {op} {}: {source}", shown(path).display())]
    Io {
        /// What was being done, e.g. "create segment file".
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Another writer (in this or another process) holds the directory's lock.
    #[error("{}", locked_message(path, *holder, *this_process))]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Process id recorded by the holder, when readable.
        holder: Option<u32>,
        /// The holder is a `Writer` of this very process (one still open, or a
        /// clone of it).
        this_process: bool,
    },

    /// The writer was closed; nothing more can be written through it.
    #[error("the writer is closed")]
    Closed,

    /// A topic name cannot be used.
    #[error("invalid topic name {}: {reason}", short_name(name))]
    InvalidTopic {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A group name cannot be used.
    #[error("invalid group name {}: {reason}", short_name(name))]
    InvalidGroup {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A record is larger than `max_record_bytes`.
    #[error("record of {len} bytes for topic {topic:?} exceeds max_record_bytes ({max} bytes)")]
    RecordTooLarge {
        /// The topic written to.
        topic: String,
        /// The record's length.
        len: usize,
        /// The configured limit.
        max: u64,
    },

    /// The file system has no room for an operation; it did not happen
    /// (a write stored nothing, a replaced file keeps its old contents).
    #[error(
        "no space left to {op} {}{}; free space and retry",
        shown(path).display(),
        if *needed > 0 { format!(" ({needed} more bytes needed)") } else { String::new() }
    )]
    NoSpace {
        /// What could not be done.
        op: &'static str,
        /// The file it needed room for.
        path: PathBuf,
        /// Bytes the operation needed (0 where the file system did not say).
        needed: u64,
    },

    /// An earlier write or sync failed; the writer refuses further work
    /// rather than report durability it cannot guarantee.
    #[error("the writer stopped after a failed {op} on {}: {source}; open a new Writer to recover", shown(path).display())]
    Poisoned {
        /// The operation that failed.
        op: &'static str,
        /// The file it failed on.
        path: PathBuf,
        /// The original failure: the OS error itself (`raw_os_error()`, e.g.
        /// `EIO`) when it was one, else its kind and text. Shared by every
        /// call that reports the poisoning.
        #[source]
        source: std::sync::Arc<io::Error>,
    },

    /// A configuration key has a bad value, is unknown, or is missing.
    #[error("config{}: key {key:?}: {reason}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Config {
        /// The config file, if the config came from one.
        path: Option<PathBuf>,
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A text is not a size ([`crate::parse_size`]).
    #[error("{reason}")]
    InvalidSize {
        /// The text.
        input: String,
        /// Why it is not a size (it quotes the text).
        reason: String,
    },

    /// A configuration file is not valid (commented) JSON.
    #[error("config {}: line {line}, column {column}: {message}", shown(path).display())]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },

    /// A file logstream wrote is damaged or not logstream's.
    #[error("{} is damaged at byte {offset}: {reason}", shown(path).display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A file was written by a newer version of logstream.
    #[error("{} has format version {found}; this library reads versions up to {supported}", shown(path).display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Highest version this library reads.
        supported: u32,
    },

    /// A `Writer` was used in a process forked from the one that opened it.
    #[error(
        "this Writer was opened by process {opened_by} and cannot be used in forked process {used_in}; open a new Writer in the child"
    )]
    Forked {
        /// Process that opened the writer.
        opened_by: u32,
        /// Process that tried to use it.
        used_in: u32,
    },

    /// `Batch::confirm` was given a sequence number outside the batch.
    #[error("cannot confirm seq {seq} of topic {topic:?}: the batch holds {first}..={last}")]
    ConfirmOutOfRange {
        /// The topic of the batch.
        topic: String,
        /// The sequence number given.
        seq: u64,
        /// First sequence number in the batch.
        first: u64,
        /// Last sequence number in the batch.
        last: u64,
    },

    /// The operation needs a consumer group that no reader consumes.
    #[error("group {group:?} is being consumed (a reader in process {pid} is a member, see {}); stop its readers first", shown(path).display())]
    GroupBusy {
        /// The group.
        group: String,
        /// Its members directory.
        path: PathBuf,
        /// Process id of a live member.
        pid: u32,
    },

    /// No consumer group of that name has been registered.
    #[error("group {group:?} does not exist ({} not found); a group is created when a reader first starts with it", shown(path).display())]
    NoSuchGroup {
        /// The group.
        group: String,
        /// Where it would be.
        path: PathBuf,
    },

    /// A dead-letter replay stopped at a record its closure refused.
    #[error("group {group:?}: replaying the dead letter of topic {topic:?} seq {seq} failed: {source}")]
    Replay {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// The record's sequence number in its topic.
        seq: u64,
        /// The closure's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// `ReaderHandle::stop` stopped waiting for closures that had held one
    /// batch longer than `max_forward_ms`. Everything else was stopped and
    /// persisted; those topics' positions are the ones confirmed before
    /// (their batches will be delivered again), and the closures' threads
    /// are left running until they return.
    #[error(
        "group {group:?}: stopped without the closure on topic(s) {topics:?}, which held one batch longer than {waited:?} (max_forward_ms); its thread is left running and those records will be delivered again"
    )]
    StopAbandoned {
        /// The group.
        group: String,
        /// The topics whose closure did not return.
        topics: Vec<String>,
        /// How long a closure may hold a batch (`max_forward_ms`).
        waited: std::time::Duration,
    },

    /// A reset asked of a running group was not applied in time.
    #[error(
        "group {group:?}: the reader owning topic {topic:?} did not apply the reset to seq {seq} within {waited:?}; nothing was changed"
    )]
    ResetTimedOut {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// The position asked for.
        seq: u64,
        /// How long it waited.
        waited: std::time::Duration,
    },

    /// `write_at` was given a sequence number that would leave a hole.
    #[error("cannot write seq {got} to topic {topic:?}: the next record there is {expected}")]
    SeqGap {
        /// The topic.
        topic: String,
        /// Its next sequence number.
        expected: u64,
        /// The sequence number given (or obtained).
        got: u64,
    },

    /// A batch stopped part way: its first `written` records were written
    /// (sequence numbers `first_seq..first_seq + written`), the rest were not.
    #[error("batch for topic {topic:?} stopped after {written} record(s) (seq {first_seq}..): {cause}")]
    PartialBatch {
        /// The topic.
        topic: String,
        /// Sequence number of the first record of the batch.
        first_seq: u64,
        /// Records written before the failure.
        written: usize,
        /// Why the rest failed.
        #[source]
        cause: Box<Error>,
    },

    /// A disk cap (`max_disk_bytes` or `max_topic_bytes`) is reached and the
    /// policy gave up; nothing was written.
    #[error("{what} of {cap} bytes is reached ({used} bytes used) writing topic {topic:?}; nothing was written")]
    Full {
        /// Which cap.
        what: &'static str,
        /// The topic written to.
        topic: String,
        /// Bytes in use.
        used: u64,
        /// The cap.
        cap: u64,
    },

    /// `delete_topic` was refused: a registered group has not consumed the topic.
    #[error(
        "topic {topic:?} is not deleted: group {group:?} has consumed {confirmed} of {next} record(s); delete with DeleteMode::Force to drop them anyway"
    )]
    TopicInUse {
        /// The topic.
        topic: String,
        /// A group that has not consumed it all.
        group: String,
        /// Where that group stands.
        confirmed: u64,
        /// The topic's next sequence number.
        next: u64,
    },

    /// A topic does not exist (or was deleted while a handle to it was held).
    #[error("topic {topic:?} does not exist (was it deleted?)")]
    NoSuchTopic {
        /// The topic.
        topic: String,
    },

    /// A `Reader` was started on a log directory that does not exist (a
    /// mistyped path would otherwise wait forever for records).
    #[error(
        "no log at {}: the directory does not exist; open a Writer there first, or start the reader with ReaderBuilder::create_missing_dir to wait for one",
        shown(path).display()
    )]
    NoSuchLog {
        /// The configured `base_dir`.
        path: PathBuf,
    },

    /// A background thread could not be started.
    #[error("cannot start thread {name}: {source}")]
    Thread {
        /// The thread's name.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A path as messages show it: `.` segments dropped (`/x/./data` is
/// `/x/data`). `..` stays: through a symbolic link it is not the parent.
fn shown(path: &Path) -> PathBuf {
    path.components().collect()
}

/// A name as messages show it: quoted, and cut after 40 characters with its
/// length in bytes, so that a 300-character mistake is not printed whole.
fn short_name(name: &str) -> String {
    const SHOWN: usize = 40;
    if name.chars().count() <= SHOWN + 8 {
        return format!("{name:?}");
    }
    let head: String = name.chars().take(SHOWN).collect();
    format!("{:?} ({} bytes)", format!("{head}…"), name.len())
}

/// The message of [`Error::Locked`].
fn locked_message(path: &Path, holder: Option<u32>, this_process: bool) -> String {
    let dir = shown(path.parent().unwrap_or(path));
    if this_process {
        return format!(
            "a Writer on {} is already open in this process (it holds {}); use that Writer (or a clone of it), or close it first",
            dir.display(),
            shown(path).display()
        );
    }
    format!(
        "{} is locked by another writer{}; only one Writer may open a log directory at a time",
        shown(path).display(),
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )
}

/// For callers whose own errors are `io::Error`: the kind is
/// [`Error::io_kind`], and the logstream error stays reachable as the
/// source (`get_ref`/`into_inner` and downcast).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

impl Error {
    /// Builds an [`Error::Io`], or an [`Error::NoSpace`] when the OS error is `ENOSPC`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        if source.raw_os_error() == Some(libc::ENOSPC) || source.kind() == io::ErrorKind::StorageFull {
            return Error::NoSpace { op, path, needed: 0 };
        }
        Error::Io { op, path, source }
    }

    /// The file or directory the error is about, when it is about one.
    ///
    /// ```
    /// let e = logstream::Config::from_file("/nonexistent/meta.json").unwrap_err();
    /// assert_eq!(e.path(), Some(std::path::Path::new("/nonexistent/meta.json")), "{e}");
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Locked { path, .. }
            | Error::NoSpace { path, .. }
            | Error::Poisoned { path, .. }
            | Error::ConfigSyntax { path, .. }
            | Error::Corrupt { path, .. }
            | Error::UnsupportedVersion { path, .. }
            | Error::GroupBusy { path, .. }
            | Error::NoSuchGroup { path, .. }
            | Error::NoSuchLog { path, .. } => Some(path),
            Error::Config { path, .. } => path.as_deref(),
            Error::PartialBatch { cause, .. } => cause.path(),
            _ => None,
        }
    }

    /// The [`io::ErrorKind`] closest to this error (the OS error's own for
    /// [`Error::Io`]), used by `From<Error> for io::Error`.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::NoSpace { .. } | Error::Full { .. } => io::ErrorKind::StorageFull,
            Error::Locked { .. } | Error::GroupBusy { .. } | Error::TopicInUse { .. } => io::ErrorKind::ResourceBusy,
            Error::NoSuchGroup { .. } | Error::NoSuchTopic { .. } | Error::NoSuchLog { .. } => io::ErrorKind::NotFound,
            Error::InvalidTopic { .. }
            | Error::InvalidGroup { .. }
            | Error::InvalidSize { .. }
            | Error::Config { .. }
            | Error::ConfigSyntax { .. }
            | Error::RecordTooLarge { .. }
            | Error::SeqGap { .. }
            | Error::ConfirmOutOfRange { .. } => io::ErrorKind::InvalidInput,
            Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => io::ErrorKind::InvalidData,
            Error::ResetTimedOut { .. } => io::ErrorKind::TimedOut,
            Error::PartialBatch { cause, .. } => cause.io_kind(),
            _ => io::ErrorKind::Other,
        }
    }

    /// True for [`Error::NoSpace`].
    pub fn is_no_space(&self) -> bool {
        matches!(self, Error::NoSpace { .. })
    }

    /// True when a file or directory was not found (e.g. a segment deleted
    /// by retention between listing and opening).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Attaches an operation and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_very_long_name_is_shortened_with_its_length() {
        let long = "a".repeat(300);
        let e = Error::InvalidTopic { name: long, reason: "the name is longer than 200 bytes" };
        let text = e.to_string();
        assert_eq!(
            text,
            format!("invalid topic name \"{}…\" (300 bytes): the name is longer than 200 bytes", "a".repeat(40))
        );
        let short = Error::InvalidGroup { name: "a/b".into(), reason: "r" };
        assert_eq!(short.to_string(), "invalid group name \"a/b\": r");
    }

    #[test]
    fn paths_in_messages_have_no_dot_segments() {
        let e = Error::io("open data file", "/x/./data/../y/./z.dat", io::Error::other("boom"));
        assert_eq!(e.to_string(), "cannot open data file /x/data/../y/z.dat: boom");
    }

    #[test]
    fn a_lock_held_by_this_process_says_so() {
        let e = Error::Locked { path: "/x/log/LOCK".into(), holder: Some(std::process::id()), this_process: true };
        let text = e.to_string();
        assert!(text.starts_with("a Writer on /x/log is already open in this process"), "{text}");
        assert!(!text.contains("another writer"), "{text}");
    }

    #[test]
    fn an_error_converts_to_an_io_error_of_its_kind_that_keeps_it() {
        let e = Error::io("open", "/x/y", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.path(), Some(Path::new("/x/y")));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
        let back = io.get_ref().and_then(|s| s.downcast_ref::<Error>()).expect("the logstream error is the source");
        assert!(back.to_string().contains("/x/y"), "{back}");
        let full: io::Error = Error::NoSpace { op: "extend", path: "/d".into(), needed: 1 }.into();
        assert_eq!(full.kind(), io::ErrorKind::StorageFull);
        assert_eq!(Error::Closed.path(), None);
    }
}
