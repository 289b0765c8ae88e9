//! # logstream
//!
//! A local, serverless, durable event log. `Writer::write(topic, bytes)` copies
//! the record into a memory-mapped segment of that topic and returns its
//! sequence number; a [`Reader`] in this or another process tails the topics
//! and hands per-topic batches to your closure on a bounded pool of threads,
//! persisting what you confirmed.
//!
//! ```no_run
//! # fn send(_: &str, _: u64, _: &[u8]) -> std::io::Result<()> { Ok(()) }
//! let cfg = logstream::Config::new("/var/lib/app/logstream");
//! let w = logstream::Writer::open(&cfg)?;
//! w.write("login", b"alice")?;
//!
//! let reader = logstream::Reader::builder(&cfg)
//!     .group("billing")
//!     .start(|batch: &logstream::Batch| -> std::io::Result<()> {
//!         for rec in batch.records() {
//!             send(batch.topic(), rec.seq(), rec.data())?;
//!         }
//!         Ok(())
//!     })?;
//! reader.stop()?;
//! # Ok::<(), logstream::Error>(())
//! ```
//!
//! ## Guarantees
//! - A record whose `write()` returned survives `kill -9` of the writer: it is
//!   in the shared page cache.
//! - It survives power loss once a flush covered it: the background thread
//!   syncs every `flush_interval_ms` (default 100 ms), and [`Writer::flush`]
//!   returns only when everything written before it is on stable storage.
//!   After a power loss, each topic is a clean prefix of what was written.
//! - Nothing whose CRC fails is ever delivered. Damage is reported through
//!   [`ReaderBuilder::on_corruption`] and the log, and skipped.
//! - Delivery is at-least-once: a batch is redelivered when the closure
//!   failed or the reader stopped before persisting its confirmation.
//!
//! ## Async (feature `tokio`)
//! `ReaderBuilder::start_async` delivers each batch to a future on the
//! caller's runtime with the same guarantees, `AsyncTopicReader` awaits
//! records without polling, and `Writer::flush_async` /
//! `write_durable_async` await durability; no runtime worker blocks on the
//! disk. Plain [`Writer::write`] is safe to call from async code.
//!
//! See `README.md` for the table of what survives what, and
//! `src/format/mod.rs` for the on-disk format and the reasons behind it.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
#[cfg(feature = "tokio")]
mod asyncio;
mod config;
mod doorbell;
mod error;
// The on-disk format's encoders and decoders, public for this workspace's
// tools, tests, fuzzers and benchmarks only: not part of the API (hidden, no
// semver promise). What users need of it is re-exported below.
#[doc(hidden)]
pub mod format;
mod group;
mod layout;
mod metrics;
mod reader;
mod repair;
mod segment;
mod storage;
#[cfg(feature = "fault-injection")]
pub mod testing;
mod verify;
mod writer;

pub use admin::seq_at_time;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use asyncio::{AsyncReaderHandle, AsyncTopicReader};
pub use config::{CONFIG_ENV, Config, Durability, FullPolicy, KEYS as CONFIG_KEYS, default_config_path, parse_size};
pub use error::{Error, Result};
/// Why a topic or group name would be refused (`None`: it is valid), for
/// checking names before writing.
pub use format::naming::name_problem as topic_name_problem;
/// The on-disk log format this library writes (it reads this one and every
/// earlier one; a log of a later one is refused with both versions named).
pub use format::segment::VERSION as FORMAT_VERSION;
pub use reader::{
    Batch, Confirmer, Corruption, DeadLetter, Group, GroupPosition, MemberCounters, MemberInfo, Reader, ReaderBuilder,
    ReaderHandle, ReaderPosition, ReaderStats, Record, Records, RetryPolicy, RetryingTopic, StartFrom, TopicLag,
    TopicReader,
};
pub use repair::{RepairReport, repair};
pub use segment::extent::{TopicInfo, topics};
pub use segment::recovery::{Cut, TopicRecovery};
pub use verify::{Damage, GroupReport, SegmentReport, TopicReport, VerifyReport, verify, verify_with_progress};
pub use writer::{CloseReport, DeleteMode, LatencySummary, Placed, RecoveryReport, TopicWriter, Writer, WriterStats};

/// The README's code blocks compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
