//! `delete_topic` may run while a sync pass is between taking a topic's
//! work and syncing its directory (the pass syncs outside the topic lock).
//! The directory is gone by then; that is no failed sync, and the writer
//! must not be poisoned for it (found by the model test,
//! `model_matches_the_log.rs`, after deletes were added to it).
mod common;

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use logstream::testing::{StorageHook, SyncedRange, add_hook, remove_hook};
use parking_lot::Mutex;

/// Holds the first sync of a data file until told to go on.
struct HoldFirstSync {
    reached: SyncSender<()>,
    go: Mutex<Option<Receiver<()>>>,
}

impl StorageHook for HoldFirstSync {
    fn before_sync(&self, range: &SyncedRange<'_>) -> std::io::Result<()> {
        // A new topic's first segment is built aside and keeps that path
        // in the hook's view: any data file will do, b's is the only one.
        if range.path.extension().is_some_and(|e| e == "dat")
            && let Some(go) = self.go.lock().take()
        {
            let _ = self.reached.send(());
            let _ = go.recv_timeout(Duration::from_secs(30));
        }
        Ok(())
    }
}

#[test]
fn a_topic_deleted_while_a_sync_pass_holds_its_work_leaves_the_writer_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path());
    // Only the passes this test asks for.
    cfg.set_flush_interval_ms(3_600_000);
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("a", b"stays").unwrap();
    w.close().unwrap();
    let (reached_tx, reached) = sync_channel(1);
    let (go, go_rx) = sync_channel(1);
    let hook = Arc::new(HoldFirstSync { reached: reached_tx, go: Mutex::new(Some(go_rx)) });
    add_hook(dir.path(), hook);
    let w = logstream::Writer::open(&cfg).unwrap();
    // A new topic: its directory is dirty until a pass syncs it.
    w.write("b", b"deleted").unwrap();
    let w2 = w.clone();
    let flusher = std::thread::spawn(move || w2.flush());
    reached.recv_timeout(Duration::from_secs(30)).expect("the pass reached topic b's sync");
    w.delete_topic("b", logstream::DeleteMode::Force).unwrap();
    go.send(()).unwrap();
    let flushed = flusher.join().unwrap();
    remove_hook(dir.path());
    flushed.expect("the flush that ran while topic b was deleted");
    assert_eq!(w.write("a", b"after").unwrap(), 1, "the writer takes writes after the delete");
    w.flush().unwrap();
    w.close().unwrap();
    let got = common::read_all(&cfg, "a");
    assert_eq!(got.len(), 2, "records of the topic that was not deleted");
}
