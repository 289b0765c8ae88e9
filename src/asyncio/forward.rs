//! [`ReaderBuilder::start_async`]: the reader's pool delivering batches to
//! futures on the caller's runtime, and [`AsyncReaderHandle`].

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;

use crate::error::{Error, Result};
use crate::reader::{Batch, BoxError, NotDelivered, ReaderBuilder, ReaderHandle, ReaderStats};

impl ReaderBuilder {
    /// Starts reading with an async forwarder: for each batch, `forward`'s
    /// future runs as a task on the runtime this is awaited on
    /// ([`Handle::current`]). The guarantees are those of
    /// [`ReaderBuilder::start`]: batches of one topic one after another, at
    /// most `max_concurrent_forward` futures in flight, at most
    /// `mem_max_size` bytes of batches in them, `Ok` confirms the batch,
    /// `Err` (or a panic) retries it with the [`RetryPolicy`](crate::RetryPolicy)'s backoff and
    /// then makes dead letters, positions checkpointed, topics shared with
    /// the group's other members in any process.
    ///
    /// Threads: the reader's own, not the runtime's. Its pool threads
    /// (`logstream-fwd-N`, up to `max_concurrent_forward`) cut batches,
    /// spawn the futures and wait for them (one thread per batch in
    /// flight); `logstream-ckpt` persists positions and balances the group;
    /// one file watcher thread. No runtime worker ever blocks on them; the
    /// setup (opening checkpoints, joining the group) runs on
    /// `spawn_blocking`.
    ///
    /// Stop with [`AsyncReaderHandle::stop_async`]. If the runtime shuts
    /// down first, the futures in flight are dropped: their batches are not
    /// confirmed (delivered again later, never made dead letters for it).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let cfg = logstream::Config::new(dir.path());
    /// # async fn send(_: &[u8]) -> std::io::Result<()> { Ok(()) }
    /// let reader = logstream::Reader::builder(&cfg)
    ///     .group("shipper")
    ///     .start_async(|batch: std::sync::Arc<logstream::Batch>| async move {
    ///         for rec in batch.records() {
    ///             send(rec.data()).await?;
    ///         }
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .await?;
    /// reader.stop_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`ReaderBuilder::start`]; [`Error::Io`] when not awaited within a
    /// tokio runtime.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn start_async<F, Fut, E>(self, forward: F) -> Result<AsyncReaderHandle>
    where
        F: Fn(Arc<Batch>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let base = self.base_dir().to_path_buf();
        let rt = Handle::try_current()
            .map_err(|e| Error::io("start an async reader of", base.clone(), std::io::Error::other(format!("{e}"))))?;
        let deliver = rt.clone();
        let forward: crate::reader::Forward = Box::new(move |batch: &Arc<Batch>| deliver_on(&deliver, &forward, batch));
        let handle = rt
            .spawn_blocking(move || self.start_forward(forward))
            .await
            .map_err(|e| joined(e, "start an async reader of", &base))??;
        Ok(AsyncReaderHandle { inner: Some(handle) })
    }
}

/// Runs one delivery on a pool thread: spawns the user's future on the
/// runtime and waits for its task. A panic in it is re-raised here, where
/// the pool counts it as the closure's panic.
fn deliver_on<F, Fut, E>(rt: &Handle, forward: &F, batch: &Arc<Batch>) -> std::result::Result<(), BoxError>
where
    F: Fn(Arc<Batch>) -> Fut,
    Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    // Inside the runtime's context, so the closure may call tokio::spawn.
    let task = {
        let _in_runtime = rt.enter();
        rt.spawn(forward(batch.clone()))
    };
    match rt.block_on(task) {
        Ok(outcome) => outcome.map_err(Into::into),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Box::new(NotDelivered(format!(
            "the future of batch seq {}..={} of topic {:?} was dropped before it finished (the tokio runtime is shutting down): {e}",
            batch.first_seq(),
            batch.last_seq(),
            batch.topic()
        )))),
    }
}

/// A task joined with an error: a panic is re-raised, a cancellation is an
/// error naming what was being done.
fn joined(e: tokio::task::JoinError, op: &'static str, path: &std::path::Path) -> Error {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic());
    }
    Error::io(op, path, std::io::Error::other(format!("the blocking task was cancelled: {e}")))
}

/// A running async reader. [`AsyncReaderHandle::stop_async`] stops it
/// gracefully; dropping the handle starts the same stop without waiting for
/// it (on `spawn_blocking` inside a runtime, so the futures in flight can
/// finish), and a runtime shutting down waits for that stop.
#[derive(Debug)]
pub struct AsyncReaderHandle {
    inner: Option<ReaderHandle>,
}

impl AsyncReaderHandle {
    /// Stops gracefully, as [`ReaderHandle::stop`]: the futures in flight
    /// finish (at most `max_forward_ms`), no new ones start, positions are
    /// persisted and the reader's threads joined; the waiting is done on
    /// `spawn_blocking`, so the runtime keeps running the futures meanwhile
    /// (polled outside a tokio runtime, it waits on the calling thread).
    ///
    /// # Errors
    /// As [`ReaderHandle::stop`].
    pub async fn stop_async(mut self) -> Result<()> {
        let Some(h) = self.inner.take() else { return Ok(()) };
        let base = h.base_dir().to_path_buf();
        // Polled by another executor: no blocking pool to hand the wait to.
        let Ok(rt) = Handle::try_current() else { return h.stop() };
        rt.spawn_blocking(move || h.stop()).await.map_err(|e| joined(e, "stop the async reader of", &base))?
    }

    /// The group this reader consumes as.
    pub fn group(&self) -> &str {
        self.inner.as_ref().map_or("", ReaderHandle::group)
    }

    /// Counters since start.
    pub fn stats(&self) -> ReaderStats {
        self.inner.as_ref().map(ReaderHandle::stats).unwrap_or_default()
    }

    /// Per topic this reader owns: the next sequence number to deliver as
    /// confirmed, and as persisted (see [`ReaderHandle::positions`]).
    pub fn positions(&self) -> Vec<crate::reader::ReaderPosition> {
        self.inner.as_ref().map(ReaderHandle::positions).unwrap_or_default()
    }

    /// This reader's id among the group's members.
    pub fn member_id(&self) -> String {
        self.inner.as_ref().map(ReaderHandle::member_id).unwrap_or_default()
    }
}

impl Drop for AsyncReaderHandle {
    fn drop(&mut self) {
        let Some(h) = self.inner.take() else { return };
        match Handle::try_current() {
            // Stopping here would block this worker while the futures it
            // waits for need the runtime (a current-thread one would hang).
            Ok(rt) => drop(rt.spawn_blocking(move || drop(h))),
            Err(_) => drop(h),
        }
    }
}
