//! Group commit (issue 11): threads calling `Writer::write_durable` share
//! the flush thread's sync passes. Measured against a bare `fdatasync` in the
//! same directory: a 100-byte `pwrite` appended to a file, then `fdatasync`,
//! timed per call. If every pass carried every waiting thread and cost one
//! bare `fdatasync`, 8 threads would reach 8 / (median `fdatasync` time)
//! durable records/s; the goal is 0.8 of that, with an acknowledgment p99 of
//! at most twice the bare `fdatasync` p99.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::baseline::{payload, rate};
use crate::ctx::{Ctx, config, remove};
use crate::latency::{figures, histogram, summarise};
use crate::measure::{Subject, Summary, interleave};
use crate::report::{Better, Goal, Row};

/// Writer threads of the goal.
pub const THREADS: usize = 8;

/// What one run measured besides its rate.
struct Run {
    /// p50, p99, p99.9, p99.99, max of the per-call latency (ns).
    figures: Vec<(String, f64)>,
    /// Records made durable per sync pass (logstream subjects).
    per_sync: f64,
    /// Mean time between sync passes (wall time / passes), ns.
    pass_ns: f64,
}

/// `n` appends of `data` with `pwrite`, each followed by `fdatasync`;
/// syncs/s and the latency of each append + sync.
fn bare_fdatasync(path: &Path, data: &[u8], n: u64) -> (f64, Histogram<u64>) {
    let _ = std::fs::remove_file(path);
    let f = File::create(path).expect("create fdatasync file");
    let mut h = histogram();
    let t = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        f.write_all_at(data, i * data.len() as u64).expect("pwrite");
        f.sync_data().expect("fdatasync");
        let _ = h.record((t0.elapsed().as_nanos() as u64).max(1));
    }
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(f);
    let _ = std::fs::remove_file(path);
    (r, h)
}

/// `threads` threads each calling `Writer::write_durable` `per_thread` times,
/// all on one topic or each on its own; durable records/s of the whole, the
/// latency of each call, and records per sync pass.
fn durable_threads(dir: &Path, data: &[u8], per_thread: u64, threads: usize, own_topics: bool) -> (f64, Run) {
    remove(dir);
    let w = logstream::Writer::open(&config(dir)).expect("open writer");
    let names: Vec<String> =
        (0..threads).map(|i| if own_topics { format!("durable-{i}") } else { "durable".to_string() }).collect();
    // Topics, segments and directories exist and are durable before the clock starts.
    for name in &names {
        w.write_durable(name, data).expect("warm-up write_durable");
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = names
        .into_iter()
        .map(|name| {
            let (w, b, data) = (w.clone(), barrier.clone(), data.to_vec());
            std::thread::spawn(move || {
                let mut h = histogram();
                b.wait();
                for _ in 0..per_thread {
                    let t0 = Instant::now();
                    w.write_durable(&name, &data).expect("write_durable");
                    let _ = h.record((t0.elapsed().as_nanos() as u64).max(1));
                }
                h
            })
        })
        .collect();
    let syncs0 = w.stats().syncs;
    barrier.wait();
    let t = Instant::now();
    let mut all = histogram();
    for h in handles {
        all.add(h.join().expect("write_durable thread")).expect("merge histograms");
    }
    let secs = t.elapsed().as_secs_f64();
    let syncs = w.stats().syncs.saturating_sub(syncs0).max(1);
    let total = per_thread * threads as u64;
    w.close().expect("close writer");
    remove(dir);
    let run = Run { figures: figures(&all), per_sync: total as f64 / syncs as f64, pass_ns: secs * 1e9 / syncs as f64 };
    (rate(total, secs), run)
}

/// Scenario `groupcommit`: bare `fdatasync`, one thread of `write_durable`,
/// and 8 threads on one topic and on 8 topics, interleaved.
pub fn group_commit(ctx: &mut Ctx) {
    let size = ctx.opts.size;
    let n = ctx.opts.syncs;
    let per = (n / THREADS as u64).max(1);
    let data = payload(size);
    let scen = format!("group commit, {size} B");
    eprintln!("== {scen} ({n} bare fdatasyncs; {per} write_durable calls per thread, {} reps)", ctx.opts.reps);
    let (bare, one, same, own) = (ctx.path("fdatasync"), ctx.path("gc-one"), ctx.path("gc-same"), ctx.path("gc-own"));
    let (mut r0, mut r1, mut r2, mut r3) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("bare pwrite + fdatasync", || {
                let (r, h) = bare_fdatasync(&bare, &data, n);
                r0.push(Run { figures: figures(&h), per_sync: 1.0, pass_ns: 1e9 / r });
                r
            }),
            Subject::new("logstream write_durable, 1 thread", || {
                let (r, run) = durable_threads(&one, &data, per, 1, false);
                r1.push(run);
                r
            }),
            Subject::new(format!("logstream write_durable, {THREADS} threads, 1 topic"), || {
                let (r, run) = durable_threads(&same, &data, per, THREADS, false);
                r2.push(run);
                r
            }),
            Subject::new(format!("logstream write_durable, {THREADS} threads, {THREADS} topics"), || {
                let (r, run) = durable_threads(&own, &data, per, THREADS, true);
                r3.push(run);
                r
            }),
        ],
    );
    let mut runs = [r0, r1, r2, r3];
    // The first run of each subject was the discarded warm-up.
    for r in &mut runs {
        if !r.is_empty() {
            r.remove(0);
        }
    }
    let lat: Vec<Vec<(String, Summary)>> =
        runs.iter().map(|r| summarise(&r.iter().map(|x| x.figures.clone()).collect::<Vec<_>>())).collect();
    let get = |i: usize, m: &str| lat[i].iter().find(|(n, _)| n == m).map_or(f64::NAN, |(_, s)| s.median);
    let (bare_p50, bare_p99) = (get(0, "p50"), get(0, "p99"));
    // Durable records/s if every sync carried every thread and cost one bare fdatasync.
    let ideal = |threads: usize| threads as f64 / (bare_p50 / 1e9);
    let bare_rate = res[0].1.median;
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let threads = if i >= 2 { THREADS } else { 1 };
        let median = |f: fn(&Run) -> f64| Summary::of(&runs[i].iter().map(f).collect::<Vec<_>>()).median;
        let unit_note = if i == 0 {
            "syncs/s; each call appends 100 B with pwrite and waits for fdatasync".to_string()
        } else {
            format!(
                "durable records/s; {:.2} records per sync pass, a pass every {:.0} us (medians of runs)",
                median(|r| r.per_sync),
                median(|r| r.pass_ns) / 1e3
            )
        };
        let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher).note(unit_note);
        if i > 0 {
            // The goal's reference, and the same-tail one: as many bare sync loops.
            row = row.ratio(&format!("{threads}/fsync p50"), ideal(threads));
            row = row.ratio(&format!("{threads}x bare rate"), threads as f64 * bare_rate);
        }
        if i == 2 {
            row = row.goal(Goal::at_least(format!(">= 0.8x {THREADS}/fdatasync p50"), s.median / ideal(THREADS), 0.8));
        }
        ctx.push(row);
        for (metric, ls) in &lat[i] {
            if metric == "p99.99" {
                continue;
            }
            let mut row = Row::new(&scen, &name, &format!("{metric} ack"), "ns", *ls, Better::Lower);
            if i > 0 && metric == "p50" {
                row = row.ratio("bare p50", bare_p50);
            }
            if i > 0 && metric == "p99" {
                row = row.ratio("bare p99", bare_p99);
                if i == 2 {
                    row = row.goal(Goal::at_most("<= 2x bare fdatasync p99", ls.median / bare_p99, 2.0));
                }
            }
            if i == 0 && metric == "p50" {
                row = row.note("per call: pwrite + fdatasync");
            } else if i > 0 && metric == "p50" {
                row = row.note("per call: write_durable returning");
            }
            ctx.push(row);
        }
    }
}
