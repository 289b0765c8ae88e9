//! A group's dead letters: records that kept failing, stored in a log
//! directory of their own (`groups/<group>/dead-letters/`, one topic per
//! original topic; format in `format/dead_letter.rs`), so they have the same
//! frames, CRCs, recovery and tools as any record.
//!
//! Members of the group take turns writing there (a log has one writer at
//! a time): a member opens the dead-letter log, appends durably and closes
//! it. Dead letters are rare; a member that finds it busy waits its turn.
//! How far dead letters were replayed is a checkpoint of the group `replay`
//! inside that log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::format::dead_letter::Envelope;
use crate::writer::Writer;

/// Directory of the dead-letter log in a group directory.
pub(crate) const DIR: &str = "dead-letters";
/// The group that records how far dead letters were replayed.
pub(crate) const REPLAY_GROUP: &str = "replay";

/// The dead-letter log of the group in `group_dir`.
pub(crate) fn dir(group_dir: &Path) -> PathBuf {
    group_dir.join(DIR)
}

/// The config of a dead-letter log.
pub(crate) fn config(group_dir: &Path) -> Config {
    let mut c = Config::new(dir(group_dir));
    // Dead letters are few: small segments (space is reserved as they
    // grow), room for the largest record any log accepts plus its envelope.
    c.set_data_file_max_size(64 << 20).set_max_record_bytes(60 << 20).set_flush_interval_ms(1000);
    c
}

/// Opens the dead-letter log's writer, waiting (up to `wait`) for another
/// member that is writing there.
pub(crate) fn open_writer(group_dir: &Path, wait: Duration) -> Result<Writer> {
    let cfg = config(group_dir);
    std::fs::create_dir_all(cfg.base_dir()).map_err(|e| Error::io("create dead-letter log", cfg.base_dir(), e))?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match Writer::open(&cfg) {
            Err(Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Appends dead letters of `topic` durably.
pub(crate) fn append(group_dir: &Path, topic: &str, letters: &[Envelope<'_>]) -> Result<()> {
    if letters.is_empty() {
        return Ok(());
    }
    let w = open_writer(group_dir, Duration::from_secs(30))?;
    let payloads: Vec<Vec<u8>> = letters.iter().map(Envelope::encode).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    w.write_batch(topic, &refs)?;
    // Closing syncs: the letters are durable before the topic moves on.
    w.close()
}
