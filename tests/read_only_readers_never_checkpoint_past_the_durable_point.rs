//! A reader whose process may only read `topics/` (a consumer running as
//! another user, or a read-only bind mount) maps segments read-only. Before
//! it saves a position past the writer's durable watermark it must make
//! those records durable itself, and `msync` cannot do that for a read-only
//! mapping (Linux skips it and reports success). After a power loss no
//! group position may point past the records that survived, or the writer
//! reuses those sequence numbers and the group skips the new records.
//!
//! The read-only view is real: `view/` is a bind mount of the log directory
//! and `view/topics` a read-only bind mount of its `topics/` (needs root, as
//! CI runs; skipped with a message otherwise). The power-loss image comes
//! from what the syncs of both the writer and the reader made durable.
mod common;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use logstream::testing::{Crash, CrashRecorder, StorageHook, SyncedRange, add_hook, remove_hook};

const TOPICS: [&str; 3] = ["alpha", "beta", "gamma"];
const RECORDS: u64 = 400;

/// Bind mounts made by the test, unmounted (lazily, newest first) on drop,
/// whether the test passed or not.
struct Mounts(Vec<PathBuf>);

impl Mounts {
    fn run(args: &[&str]) -> Result<(), String> {
        let out = Command::new("mount").args(args).output().map_err(|e| format!("running mount: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("mount {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    fn bind(&mut self, from: &Path, to: &Path, read_only: bool) -> Result<(), String> {
        Self::run(&["--bind", &from.to_string_lossy(), &to.to_string_lossy()])?;
        self.0.push(to.to_path_buf());
        if read_only {
            Self::run(&["-o", "remount,bind,ro", &to.to_string_lossy()])?;
        }
        Ok(())
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

/// Forwards what the reader (working under `view/`) makes durable to the
/// recorder of the log directory. Files are recorded by device and inode,
/// the same through either mount; directories by path, so those are
/// translated.
struct ThroughView {
    view: PathBuf,
    live: PathBuf,
    inner: Arc<CrashRecorder>,
}

impl ThroughView {
    fn live_path(&self, p: &Path) -> PathBuf {
        self.live.join(p.strip_prefix(&self.view).unwrap_or(p))
    }
}

impl StorageHook for ThroughView {
    fn before_sync(&self, range: &SyncedRange<'_>) -> io::Result<()> {
        self.inner.before_sync(range)
    }
    fn before_dir_sync(&self, dir: &Path) -> io::Result<()> {
        self.inner.before_dir_sync(&self.live_path(dir))
    }
    fn before_fs_sync(&self, path: &Path) -> io::Result<()> {
        self.inner.before_fs_sync(&self.live_path(path))
    }
}

fn saved_positions(cfg: &logstream::Config) -> BTreeMap<String, u64> {
    logstream::Group::open(cfg, "g").unwrap().positions().unwrap().into_iter().map(|p| (p.topic, p.next_seq)).collect()
}

#[test]
fn a_reader_with_read_only_segments_never_saves_a_position_past_what_survives_a_power_loss() {
    if !rustix::process::geteuid().is_root() {
        println!("SKIPPED: bind-mounting a read-only view of topics/ needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (live, view) = (dir.path().join("live"), dir.path().join("view"));
    std::fs::create_dir(&live).unwrap();
    std::fs::create_dir(&view).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    // The writer syncs nothing by itself: every position the reader saves
    // is past the writer's durable watermark.
    cfg.set_flush_interval_ms(3_600_000);
    let w = logstream::Writer::open(&cfg).unwrap();
    for t in TOPICS {
        w.write(t, &payload(t, 0)).unwrap();
    }
    let mut mounts = Mounts(Vec::new());
    if let Err(e) =
        mounts.bind(&live, &view, false).and_then(|()| mounts.bind(&live.join("topics"), &view.join("topics"), true))
    {
        println!("SKIPPED: cannot make a read-only view of topics/: {e}");
        return;
    }
    // The reader really cannot open a segment for writing there.
    let probe =
        std::fs::OpenOptions::new().write(true).open(view.join("topics/alpha").join("00000000000000000000.dat"));
    assert_eq!(probe.err().and_then(|e| e.raw_os_error()), Some(libc::EROFS), "view/topics is not read-only");
    add_hook(&view, Arc::new(ThroughView { view: view.clone(), live: live.clone(), inner: rec.clone() }));

    let mut rcfg = config(&view);
    rcfg.set_checkpoint_interval_ms(0);
    let (reader, seen) = collecting_reader(&rcfg, "g");
    for i in 1..RECORDS {
        for t in TOPICS {
            let mut data = payload(t, i);
            data.resize(data.len() + 300, (i % 251) as u8);
            assert_eq!(w.write(t, &data).unwrap(), i);
        }
    }
    let want: BTreeMap<String, u64> = TOPICS.iter().map(|t| (t.to_string(), RECORDS)).collect();
    wait_for("the group to save the position after every record", Duration::from_secs(30), || {
        saved_positions(&rcfg) == want
    });
    assert_eq!(count(&seen), TOPICS.len() * RECORDS as usize);

    // The power goes out now.
    let images = [("synced-only", Crash::SyncedOnly), ("power-loss", Crash::PowerLoss { seed: 21 })];
    for (name, crash) in images {
        rec.crash_image(&dir.path().join(name), crash).unwrap();
    }
    remove_hook(&view);
    rec.uninstall();
    reader.stop().unwrap();
    w.close().unwrap();
    drop(mounts);

    for (name, _) in images {
        let icfg = config(&dir.path().join(name));
        let w = logstream::Writer::open(&icfg).unwrap_or_else(|e| panic!("{name}: recovery failed: {e}"));
        let survived: BTreeMap<String, u64> = TOPICS.iter().map(|t| (t.to_string(), w.next_seq(t).unwrap())).collect();
        let saved = saved_positions(&icfg);
        for t in TOPICS {
            let (s, p) = (survived[t], saved.get(t).copied().unwrap_or(0));
            assert!(p <= s, "{name}: group g saved position {p} of {t}, but only {s} records survived the power loss");
        }
        // What that protects: records written after recovery reuse the lost
        // sequence numbers, and the group must still receive every one.
        for t in TOPICS {
            for _ in 0..5 {
                w.write(t, b"after the power loss").unwrap();
            }
        }
        w.flush().unwrap();
        let (reader, seen) = collecting_reader(&icfg, "g");
        wait_for(&format!("{name}: the group to reach the end of every topic"), Duration::from_secs(30), || {
            let pos: BTreeMap<String, u64> = reader.positions().into_iter().map(|p| (p.topic, p.confirmed)).collect();
            TOPICS.iter().all(|t| pos.get(*t).copied() == Some(survived[*t] + 5))
        });
        reader.stop().unwrap();
        let m = seen.lock().unwrap();
        for t in TOPICS {
            let after = m.get(t).map_or(0, |v| v.iter().filter(|(_, d)| d == b"after the power loss").count());
            assert_eq!(after, 5, "{name}: {t}: group g received {after} of the 5 records written after recovery");
        }
        drop(m);
        w.close().unwrap();
    }
}
