//! Durable batches (issue 11): `Writer::write_batch` of 1 000 records with
//! `durability: sync` (one sync per batch) against a raw baseline that does
//! the least a durable batch needs: a 1 MiB `BufWriter` writing
//! `len u32 | crc32 u32 | bytes` per record to one file, then a flush (one
//! `write(2)`) and one `fdatasync` per batch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use crate::baseline::{payload, rate};
use crate::ctx::{Ctx, config, remove};
use crate::measure::{Subject, Summary, interleave};
use crate::report::{Better, Goal, Row};

/// Records per batch of the goal.
pub const BATCH: usize = 1000;

/// `batches` batches of [`BATCH`] records, each made durable with one
/// `fdatasync`; records/s and the median time of one batch (ns).
fn raw_batches(path: &Path, data: &[u8], batches: u64) -> (f64, f64) {
    let _ = std::fs::remove_file(path);
    let f = File::create(path).expect("create raw batch file");
    f.sync_all().expect("sync new file");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let len = (data.len() as u32).to_le_bytes();
    let mut each = Vec::with_capacity(batches as usize);
    let t = Instant::now();
    for _ in 0..batches {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            let crc = crc32fast::hash(data);
            w.write_all(&len).expect("raw batch write");
            w.write_all(&crc.to_le_bytes()).expect("raw batch write");
            w.write_all(data).expect("raw batch write");
        }
        w.flush().expect("raw batch flush");
        w.get_ref().sync_data().expect("raw batch fdatasync");
        each.push(t0.elapsed().as_nanos() as f64);
    }
    let r = rate(batches * BATCH as u64, t.elapsed().as_secs_f64());
    drop(w);
    let _ = std::fs::remove_file(path);
    (r, Summary::of(&each).median)
}

/// `batches` calls of `Writer::write_batch` with [`BATCH`] records on a
/// writer configured with `durability: sync`; records/s, the median time of
/// one call (ns), and sync passes per batch.
fn logstream_batches(dir: &Path, data: &[u8], batches: u64) -> (f64, f64, f64) {
    remove(dir);
    let mut cfg = config(dir);
    cfg.set_durability(logstream::Durability::Sync);
    let w = logstream::Writer::open(&cfg).expect("open writer");
    let refs: Vec<&[u8]> = vec![data; BATCH];
    // The topic, its first segment and directory exist and are durable first.
    w.write_batch("batch", &refs).expect("warm-up batch");
    let syncs0 = w.stats().syncs;
    let mut each = Vec::with_capacity(batches as usize);
    let t = Instant::now();
    for _ in 0..batches {
        let t0 = Instant::now();
        w.write_batch("batch", &refs).expect("write_batch");
        each.push(t0.elapsed().as_nanos() as f64);
    }
    let r = rate(batches * BATCH as u64, t.elapsed().as_secs_f64());
    let syncs = w.stats().syncs.saturating_sub(syncs0);
    w.close().expect("close writer");
    remove(dir);
    (r, Summary::of(&each).median, syncs as f64 / batches as f64)
}

/// Scenario `batch`: durable batches of logstream against the raw baseline.
pub fn durable_batches(ctx: &mut Ctx) {
    let size = ctx.opts.size;
    let batches = ctx.opts.batches;
    let data = payload(size);
    let scen = format!("durable batches of {BATCH} x {size} B");
    eprintln!("== {scen} ({batches} batches, {} reps interleaved)", ctx.opts.reps);
    let (raw, ls) = (ctx.path("raw-batches"), ctx.path("ls-batches"));
    let (mut raw_each, mut ls_each, mut ls_syncs) = (Vec::new(), Vec::new(), Vec::new());
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("baseline BufWriter+CRC, fdatasync per batch", || {
                let (r, each) = raw_batches(&raw, &data, batches);
                raw_each.push(each);
                r
            }),
            Subject::new("logstream write_batch, durability sync", || {
                let (r, each, syncs) = logstream_batches(&ls, &data, batches);
                ls_each.push(each);
                ls_syncs.push(syncs);
                r
            }),
        ],
    );
    // The first value of each was the discarded warm-up.
    let median_after_warmup = |v: &[f64]| Summary::of(v.get(1..).unwrap_or(&[])).median;
    let base = res[0].1.median;
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher);
        if i == 0 {
            row = row.note(format!("one batch: {:.0} us (median)", median_after_warmup(&raw_each) / 1e3));
        } else {
            row = row
                .ratio("raw+fdatasync", base)
                .goal(Goal::at_least(">= 1.0x raw batch + fdatasync", s.median / base, 1.0))
                .note(format!(
                    "one batch: {:.0} us (median); {:.2} sync passes per batch",
                    median_after_warmup(&ls_each) / 1e3,
                    median_after_warmup(&ls_syncs)
                ));
        }
        ctx.push(row);
    }
}
