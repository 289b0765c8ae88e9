//! File-system events for the reader: one `notify` watcher for the whole
//! directory (new topics under `topics/`, the config file for black/white list
//! reloads, and the doorbell file when the reader has no futex slot).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::{EventKind, RecursiveMode, Watcher};

/// What an event asked for; the reader acts on it when it next wakes.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    /// List the whole topics directory (poll, or an event we cannot place).
    pub rescan_topics: AtomicBool,
    /// Names that appeared in the topics directory since the last look.
    pub new_topics: parking_lot::Mutex<Vec<String>>,
    pub reload_config: AtomicBool,
}

/// Starts watching. `wake` is called after each relevant event.
pub(crate) fn start(
    topics_dir: &Path,
    config_file: Option<&Path>,
    doorbell: Option<&Path>,
    flags: Arc<Flags>,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> notify::Result<notify::RecommendedWatcher> {
    let topics_dir = topics_dir.to_path_buf();
    let config: Option<PathBuf> = config_file.map(Path::to_path_buf);
    let bell: Option<PathBuf> = doorbell.map(Path::to_path_buf);
    let (t2, c2, b2) = (topics_dir.clone(), config.clone(), bell.clone());
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        let mut hit = false;
        for p in &ev.paths {
            if p.parent() == Some(t2.as_path()) {
                // Adding one topic must not cost a listing of all of them.
                match p.file_name().and_then(|n| n.to_str()) {
                    Some(name) => flags.new_topics.lock().push(name.to_owned()),
                    None => flags.rescan_topics.store(true, Ordering::Release),
                }
                hit = true;
            } else if p == &t2 {
                flags.rescan_topics.store(true, Ordering::Release);
                hit = true;
            }
            if c2.as_ref().is_some_and(|c| c.file_name() == p.file_name() && c.parent() == p.parent()) {
                flags.reload_config.store(true, Ordering::Release);
                hit = true;
            }
            if b2.as_ref().is_some_and(|b| b == p) {
                hit = true;
            }
        }
        if hit {
            wake();
        }
    })?;
    w.watch(&topics_dir, RecursiveMode::NonRecursive)?;
    if let Some(c) = &config
        && let Some(dir) = c.parent()
    {
        w.watch(dir, RecursiveMode::NonRecursive)?;
    }
    if let Some(b) = &bell {
        w.watch(b, RecursiveMode::NonRecursive)?;
    }
    Ok(w)
}
