//! Creating, or checking, the JetStream stream that stores the records.
//!
//! De-duplication by `Nats-Msg-Id` works only inside the stream's
//! `duplicate_window`: a batch redelivered later than that after its first
//! publish (a forwarder down for longer, or a reader retrying for longer) is
//! stored a second time. The window is therefore a setting of the stream
//! this helper creates, and checked on a stream that already exists.

use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{GetStreamByNameErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::{self, StorageType};

use crate::connection::NatsConnection;
use crate::error::{NatsError, Result};
use crate::subject::SubjectTemplate;

/// Where the stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Storage {
    /// On disk (the server's store directory): survives a server restart.
    #[default]
    File,
    /// In memory: lost when the server stops.
    Memory,
}

/// The stream a forwarder publishes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Stream name (no spaces, `.`, `*`, `>`).
    pub name: String,
    /// Subjects it captures; by default the template's filter (`logs.*`).
    pub subjects: Vec<String>,
    /// How long message ids are remembered for de-duplication (default 2 min).
    pub duplicate_window: Duration,
    /// File or memory.
    pub storage: Storage,
    /// Oldest message kept; `None` keeps messages forever (default).
    pub max_age: Option<Duration>,
    /// Largest total size in bytes; `None` for no limit (default).
    pub max_bytes: Option<u64>,
    /// Replicas in a cluster (default 1).
    pub replicas: usize,
}

impl StreamSpec {
    /// A stream named `name` capturing every subject `template` renders.
    pub fn new(name: &str, template: &SubjectTemplate) -> StreamSpec {
        StreamSpec {
            name: name.to_owned(),
            subjects: vec![template.filter()],
            duplicate_window: Duration::from_secs(120),
            storage: Storage::File,
            max_age: None,
            max_bytes: None,
            replicas: 1,
        }
    }

    /// Sets the de-duplication window.
    pub fn duplicate_window(mut self, window: Duration) -> StreamSpec {
        self.duplicate_window = window;
        self
    }

    /// Sets the storage.
    pub fn storage(mut self, storage: Storage) -> StreamSpec {
        self.storage = storage;
        self
    }

    fn config(&self) -> stream::Config {
        stream::Config {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            duplicate_window: self.duplicate_window,
            storage: match self.storage {
                Storage::File => StorageType::File,
                Storage::Memory => StorageType::Memory,
            },
            max_age: self.max_age.unwrap_or_default(),
            max_bytes: self.max_bytes.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            num_replicas: self.replicas,
            ..Default::default()
        }
    }
}

/// What [`NatsConnection::ensure_stream`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The stream did not exist and was created.
    Created,
    /// The stream existed and fits the spec.
    Existing,
}

impl NatsConnection {
    /// Creates the stream of `spec`, or checks that the existing one
    /// captures its subjects and de-duplicates over at least its window.
    ///
    /// # Errors
    /// [`NatsError::Stream`] if the server refuses, or the existing stream
    /// does not capture the subjects or has a shorter `duplicate_window`.
    pub fn ensure_stream(&self, spec: &StreamSpec) -> Result<Ensured> {
        self.block_on(self.ensure_stream_async(spec))?
    }

    /// [`NatsConnection::ensure_stream`] for async callers (on any tokio runtime).
    ///
    /// # Errors
    /// As [`NatsConnection::ensure_stream`].
    pub async fn ensure_stream_async(&self, spec: &StreamSpec) -> Result<Ensured> {
        let err = |op: &'static str, cause: String| NatsError::Stream { stream: spec.name.clone(), op, cause };
        let js = self.jetstream();
        match js.get_stream(&spec.name).await {
            Ok(mut s) => {
                let info = s.info().await.map_err(|e| err("read info", e.to_string()))?;
                let have = &info.config.subjects;
                for want in &spec.subjects {
                    if !have.iter().any(|h| subject_covers(h, want)) {
                        return Err(err(
                            "use it",
                            format!(
                                "it captures {have:?}, not {want:?}; add the subject to the stream or pick another"
                            ),
                        ));
                    }
                }
                if info.config.duplicate_window < spec.duplicate_window {
                    return Err(err(
                        "use it",
                        format!(
                            "its duplicate_window is {:?}, shorter than the {:?} asked for; update the stream",
                            info.config.duplicate_window, spec.duplicate_window
                        ),
                    ));
                }
                Ok(Ensured::Existing)
            }
            Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                js.create_stream(spec.config()).await.map_err(|e| err("create", e.to_string()))?;
                Ok(Ensured::Created)
            }
            Err(e) => Err(err("look up", e.to_string())),
        }
    }

    /// How long the stream `name` remembers message ids: a record re-sent
    /// later than this after its first publish is stored a second time.
    /// Compare it with the longest outage the forwarder must ride out.
    ///
    /// # Errors
    /// [`NatsError::Stream`] if the stream does not exist or the server
    /// cannot answer.
    pub fn duplicate_window(&self, name: &str) -> Result<Duration> {
        self.block_on(self.duplicate_window_async(name))?
    }

    /// [`NatsConnection::duplicate_window`] for async callers.
    ///
    /// # Errors
    /// As [`NatsConnection::duplicate_window`].
    pub async fn duplicate_window_async(&self, name: &str) -> Result<Duration> {
        let err = |op: &'static str, cause: String| NatsError::Stream { stream: name.to_owned(), op, cause };
        let mut s = self.jetstream().get_stream(name).await.map_err(|e| err("look up", e.to_string()))?;
        let info = s.info().await.map_err(|e| err("read info", e.to_string()))?;
        Ok(info.config.duplicate_window)
    }

    /// The name of a stream capturing subjects that match `filter` (such
    /// as [`SubjectTemplate::filter`]), if there is one: a forwarder whose
    /// subjects no stream captures fails every batch.
    ///
    /// # Errors
    /// [`NatsError::Stream`] if the server cannot answer (JetStream not
    /// enabled, a timeout).
    pub fn stream_capturing(&self, filter: &str) -> Result<Option<String>> {
        self.block_on(self.stream_capturing_async(filter))?
    }

    /// [`NatsConnection::stream_capturing`] for async callers.
    ///
    /// # Errors
    /// As [`NatsConnection::stream_capturing`].
    pub async fn stream_capturing_async(&self, filter: &str) -> Result<Option<String>> {
        match self.jetstream().stream_by_subject(filter).await {
            Ok(name) => Ok(Some(name)),
            Err(e) if matches!(e.kind(), GetStreamByNameErrorKind::NotFound) => Ok(None),
            Err(e) => Err(NatsError::Stream {
                stream: format!("capturing {filter}"),
                op: "look up",
                cause: format!("{e} (is JetStream enabled on the server?)"),
            }),
        }
    }
}

/// True if subscribers of `have` receive every subject matching `want`.
fn subject_covers(have: &str, want: &str) -> bool {
    let mut h = have.split('.');
    let mut w = want.split('.');
    loop {
        match (h.next(), w.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(wt)) if wt != ">" => {}
            (Some(ht), Some(wt)) if ht == wt => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subject_covers;

    #[test]
    fn wider_stream_subjects_cover_narrower_filters() {
        assert!(subject_covers("logs.*", "logs.*"));
        assert!(subject_covers("logs.>", "logs.*"));
        assert!(subject_covers(">", "logs.a.b"));
        assert!(!subject_covers("logs.*", "logs.>"));
        assert!(!subject_covers("logs.*", "other.*"));
        assert!(!subject_covers("logs.*.x", "logs.*"));
    }
}
