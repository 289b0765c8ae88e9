//! The async API (feature `tokio`), for services that run on a tokio
//! runtime.
//!
//! - [`ReaderBuilder::start_async`](crate::ReaderBuilder::start_async): the
//!   reader's pool delivers each batch to a future spawned on the caller's
//!   runtime, with the threaded reader's guarantees; stopped with
//!   [`AsyncReaderHandle::stop_async`] (`forward.rs`).
//! - [`AsyncTopicReader`]: a pull cursor whose `next_batch().await` is woken
//!   by the doorbell through one library thread per log directory
//!   (`waiter.rs`, `pull.rs`).
//! - [`Writer::flush_async`](crate::Writer::flush_async) and
//!   [`Writer::write_durable_async`](crate::Writer::write_durable_async):
//!   completed by the flush thread's sync pass (`flush.rs`).
//!
//! Which threads exist: the library's own, never a runtime worker held.
//! The writer's (`logstream-flush`, `logstream-prefault`, and
//! `logstream-compress` when a topic is compressed); per async reader the
//! pool's `logstream-fwd-N` (up to `max_concurrent_forward`, each waiting
//! for the future of the batch it delivered), `logstream-ckpt` and a file
//! watcher; per log directory with async pull readers one
//! `logstream-async-wait` and a file watcher on `topics/` (for topics
//! created later). Blocking setup and stop run on `spawn_blocking`.
//!
//! Plain [`Writer::write`](crate::Writer::write) is safe to call from async
//! code: it copies the record into the mapped segment and returns; it does
//! not wait for the disk. The exceptions, rare and bounded: when a segment
//! fills up, the write that rolls it creates the next segment's files and
//! syncs the topic's directory (once per segment, about a millisecond); the
//! first write of a new topic creates its directory; with `durability:
//! sync` in the config every write waits for its sync; at a disk cap
//! (`max_disk_bytes`, `max_topic_bytes`) with the default
//! `FullPolicy::Block` a write sleeps until consumers free space, up to
//! `full_max_wait_ms`; and while the writer is stopped ([`Writer::stop`](crate::Writer::stop)) a
//! write waits for [`Writer::resume`](crate::Writer::resume). A service that
//! cannot afford those on a worker uses `FullPolicy::Error` and writes
//! from `spawn_blocking` when it needs to be sure.

mod flush;
mod forward;
mod pull;
mod waiter;

pub use forward::AsyncReaderHandle;
pub use pull::AsyncTopicReader;
