//! SIGINT and SIGTERM (and SIGHUP) end the long-running commands (`tail -f`,
//! `forward`) cleanly: the handler only triggers a [`Shutdown`], and the
//! command finishes what it is doing, saves what it must and exits 0.

use logstream_ship::Shutdown;

use crate::exit::Failure;

/// A [`Shutdown`] triggered by the first SIGINT, SIGTERM or SIGHUP.
///
/// # Errors
/// The handler cannot be installed (it can be only once per process).
pub fn shutdown_on_signals() -> Result<Shutdown, Failure> {
    let shutdown = Shutdown::new();
    let flag = shutdown.clone();
    ctrlc::set_handler(move || flag.trigger())
        .map_err(|e| Failure::error(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
    Ok(shutdown)
}
