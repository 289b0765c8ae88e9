//! Other Rust logs and queues, driven with the same records in the same run.
//!
//! - `yaque` 0.6: a file-backed queue; `send` issues one `write(2)` per record
//!   (its `BufWriter` is flushed after every send), `send_batch` one per batch.
//!   It never syncs, so it appears only in the non-durable write rows.
//! - `commitlog` 0.2: Kafka-like segments plus a per-record index;
//!   `append_msg` writes one record per `write(2)`, `append` a `MessageBuf`
//!   batch; `flush` syncs segment and index. `read` returns batches bounded
//!   in bytes, each record's CRC-32C is checked here.
//! - `okaywal` 0.3: a write-ahead log whose `commit` makes an entry durable;
//!   one entry with every record as a chunk, then one commit, is its durable
//!   throughput.

use std::path::Path;
use std::time::Instant;

use crate::baseline::rate;

/// Records per `send_batch` / `append` batch.
pub const BATCH: usize = 1000;

/// `yaque` `send` one record at a time; records/s.
pub fn yaque_send(dir: &Path, payload: &[u8], n: u64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut s = yaque::Sender::open(dir).expect("open yaque sender");
    let t = Instant::now();
    futures::executor::block_on(async {
        for _ in 0..n {
            s.send(payload).await.expect("yaque send");
        }
    });
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
    r
}

/// `yaque` `send_batch` of [`BATCH`] records; records/s.
pub fn yaque_send_batch(dir: &Path, payload: &[u8], n: u64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut s = yaque::Sender::open(dir).expect("open yaque sender");
    let batch: Vec<&[u8]> = vec![payload; BATCH];
    let t = Instant::now();
    futures::executor::block_on(async {
        let mut left = n as usize;
        while left > 0 {
            let k = left.min(BATCH);
            s.send_batch(&batch[..k]).await.expect("yaque send_batch");
            left -= k;
        }
    });
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn commitlog_open(dir: &Path, payload_len: usize) -> commitlog::CommitLog {
    let mut opts = commitlog::LogOptions::new(dir);
    opts.segment_max_bytes(1 << 30).index_max_items(10_000_000).message_max_bytes((payload_len + 64) * BATCH + 4096);
    commitlog::CommitLog::new(opts).expect("open commitlog")
}

/// `commitlog` `append_msg` one record at a time; records/s. Leaves the log
/// in `dir` when `keep` (for [`commitlog_read`]).
pub fn commitlog_append_msg(dir: &Path, payload: &[u8], n: u64, keep: bool) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut log = commitlog_open(dir, payload.len());
    let t = Instant::now();
    for _ in 0..n {
        log.append_msg(payload).expect("commitlog append_msg");
    }
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(log);
    if !keep {
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}

/// `commitlog` `append` in batches of [`BATCH`]; with `sync`, then `flush`
/// (segment and index `fsync`) inside the timed section. Records/s.
pub fn commitlog_append_batch(dir: &Path, payload: &[u8], n: u64, sync: bool, keep: bool) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut log = commitlog_open(dir, payload.len());
    let t = Instant::now();
    let mut left = n as usize;
    while left > 0 {
        let k = left.min(BATCH);
        let mut buf: commitlog::message::MessageBuf = std::iter::repeat_n(payload, k).collect();
        log.append(&mut buf).expect("commitlog append");
        left -= k;
    }
    if sync {
        log.flush().expect("commitlog flush");
    }
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(log);
    if !keep {
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}

/// Reads a commitlog left by an append, verifying each record's hash;
/// records/s and CPU seconds of this thread.
pub fn commitlog_read(dir: &Path, payload_len: usize, expect: u64) -> (f64, f64) {
    use commitlog::message::MessageSet;
    let cpu0 = crate::measure::Cpu::thread();
    let t = Instant::now();
    let log = commitlog_open(dir, payload_len);
    let mut next = 0u64;
    let limit = commitlog::ReadLimit::max_bytes(2 << 20);
    while next < expect {
        let set = log.read(next, limit).expect("commitlog read");
        if set.is_empty() {
            break;
        }
        for m in set.iter() {
            assert!(m.verify_hash(), "commitlog record {} damaged", m.offset());
            std::hint::black_box(m.payload());
            next = m.offset() + 1;
        }
    }
    assert_eq!(next, expect, "commitlog read stopped early");
    (rate(next, t.elapsed().as_secs_f64()), crate::measure::Cpu::thread().since(cpu0).total())
}

#[derive(Debug)]
struct NoCheckpoint;

impl okaywal::LogManager for NoCheckpoint {
    fn recover(&mut self, _entry: &mut okaywal::Entry<'_>) -> std::io::Result<()> {
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last: okaywal::EntryId,
        _entries: &mut okaywal::SegmentReader,
        _wal: &okaywal::WriteAheadLog,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

/// `okaywal`: one entry holding `n` chunks, then one durable `commit`; records/s.
pub fn okaywal_durable(dir: &Path, payload: &[u8], n: u64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let wal = okaywal::WriteAheadLog::recover(dir, NoCheckpoint).expect("open okaywal");
    let t = Instant::now();
    let mut e = wal.begin_entry().expect("okaywal begin_entry");
    for _ in 0..n {
        e.write_chunk(payload).expect("okaywal write_chunk");
    }
    e.commit().expect("okaywal commit");
    let r = rate(n, t.elapsed().as_secs_f64());
    let _ = wal.shutdown();
    let _ = std::fs::remove_dir_all(dir);
    r
}
