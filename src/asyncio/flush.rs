//! Awaitable durability: `flush_async` and `write_durable_async`, completed
//! by the `logstream-flush` thread's sync pass (no runtime worker waits).

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::writer::{TopicWriter, Writer};

/// Asks the flush thread for a pass and awaits its outcome.
async fn pass(w: &Writer, publish: bool) -> Result<()> {
    let (tx, rx) = oneshot::channel();
    w.flush_then(
        publish,
        Box::new(move |outcome| {
            // The caller may have stopped waiting (its future was dropped).
            let _ = tx.send(outcome);
        }),
    )?;
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(w.flush_error(why)),
        // The completion was dropped without running: only when the flush
        // thread is gone.
        Err(_) => Err(Error::Closed),
    }
}

impl Writer {
    /// [`Writer::flush`], awaited: completes when every record written (by
    /// any clone) before the call is on stable storage. The sync runs on the
    /// `logstream-flush` thread, which completes the future; no runtime
    /// worker blocks. Dropping the future stops the waiting, not the flush.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let w = logstream::Writer::open(&logstream::Config::new(dir.path()))?;
    /// w.write("login", b"alice")?; // never waits for the disk
    /// w.flush_async().await?; // on stable storage now
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Writer::flush`]: [`Error::Poisoned`] if a sync failed (now or
    /// before), [`Error::Closed`].
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn flush_async(&self) -> Result<()> {
        pass(self, true).await
    }

    /// [`Writer::write_durable`], awaited: appends `data` at once, then
    /// completes when it is on stable storage (concurrent callers share one
    /// sync on the `logstream-flush` thread). Dropping the future does not
    /// undo the write: the record is in the log (it survives `kill -9`) and
    /// becomes durable with the next pass.
    ///
    /// With `durability: sync` in the config every write waits for its own
    /// sync on the calling thread; keep the default in async code and use
    /// this for the records that need it.
    ///
    /// # Errors
    /// As [`Writer::write`] and [`Writer::flush_async`].
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn write_durable_async(&self, topic: &str, data: &[u8]) -> Result<u64> {
        let seq = self.write(topic, data)?;
        pass(self, false).await?;
        Ok(seq)
    }
}

impl TopicWriter {
    /// [`Writer::write_durable_async`] on this writer's topic.
    ///
    /// # Errors
    /// As [`Writer::write_durable_async`].
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn write_durable_async(&self, data: &[u8]) -> Result<u64> {
        let seq = self.write(data)?;
        pass(self.writer(), false).await?;
        Ok(seq)
    }
}
