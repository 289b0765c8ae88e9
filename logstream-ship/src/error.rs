//! The one failure both halves share: the local log directory failed.
//! Engine failures belong to the engine crates' own error types, which wrap
//! this one.

/// The local logstream directory failed (open, write, flush, reader start
/// or stop), with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("local log: cannot {op}: {source}")]
pub struct LocalError {
    /// What was being done, e.g. `"start the reader"`.
    pub op: &'static str,
    /// The logstream error.
    #[source]
    pub source: logstream::Error,
}

impl LocalError {
    /// A mapper for `map_err`: `writer.flush().map_err(LocalError::doing("flush"))`.
    pub fn doing(op: &'static str) -> impl FnOnce(logstream::Error) -> LocalError {
        move |source| LocalError { op, source }
    }
}
