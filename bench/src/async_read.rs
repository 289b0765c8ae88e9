//! Scenario `async`: the async API (feature `tokio`) beside the threaded
//! readers, in the same run and the same process. Catch-up on a backlog:
//! `Reader::start` against `start_async` (futures on a 2-worker runtime),
//! `TopicReader` against `AsyncTopicReader`. Live tail at each offered rate:
//! from just before `write()` to the forwarder (closure, future or
//! `next_batch().await`) seeing the record.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::baseline::{payload, rate};
use crate::ctx::{Ctx, config, remove};
use crate::latency::{figures, histogram, summarise};
use crate::measure::{Summary, Ticks, interleave};
use crate::read::write_backlog;
use crate::report::{Better, Row};

/// Which reader consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `Reader::start`, a closure on the reader's threads.
    Threaded,
    /// `Reader::start_async`, a future per batch on the runtime.
    Async,
    /// `TopicReader::next_batch` (tail: `wait_batch`) on a thread.
    Pull,
    /// `AsyncTopicReader::next_batch().await` on the runtime.
    AsyncPull,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Threaded => "Reader::start (closure, threads)",
            Kind::Async => "Reader::start_async (futures)",
            Kind::Pull => "TopicReader (pull, a thread)",
            Kind::AsyncPull => "AsyncTopicReader (pull, .await)",
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// A "seen this many" counter that wakes an async or a blocking waiter.
#[derive(Default)]
struct Seen {
    n: AtomicU64,
    changed: tokio::sync::Notify,
}

impl Seen {
    fn add(&self, k: u64) {
        self.n.fetch_add(k, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    async fn reach(&self, want: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.n.load(Ordering::Acquire) >= want {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// Reads the backlog of `n` records of topic `bench` in `dir` once with
/// `kind` (a new group each time); records/s.
fn catchup_once(rt: &tokio::runtime::Runtime, kind: Kind, dir: &Path, group: &str, n: u64) -> f64 {
    let cfg = config(dir);
    let seen = Arc::new(Seen::default());
    let t = Instant::now();
    match kind {
        Kind::Threaded => {
            let s2 = seen.clone();
            let r = logstream::Reader::builder(&cfg)
                .group(group)
                .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
                    for rec in b.records() {
                        std::hint::black_box((rec.seq(), rec.data()));
                    }
                    s2.add(b.len() as u64);
                    Ok(())
                })
                .expect("start reader");
            assert!(rt.block_on(seen.reach(n, Duration::from_secs(120))), "threaded reader stalled");
            let secs = t.elapsed().as_secs_f64();
            r.stop().expect("stop reader");
            rate(n, secs)
        }
        Kind::Async => rt.block_on(async {
            let s2 = seen.clone();
            let r = logstream::Reader::builder(&cfg)
                .group(group)
                .start_async(move |b: Arc<logstream::Batch>| {
                    let s2 = s2.clone();
                    async move {
                        for rec in b.records() {
                            std::hint::black_box((rec.seq(), rec.data()));
                        }
                        s2.add(b.len() as u64);
                        Ok::<(), std::io::Error>(())
                    }
                })
                .await
                .expect("start async reader");
            assert!(seen.reach(n, Duration::from_secs(120)).await, "async reader stalled");
            let secs = t.elapsed().as_secs_f64();
            r.stop_async().await.expect("stop async reader");
            rate(n, secs)
        }),
        Kind::Pull => {
            let mut r = logstream::TopicReader::open(&cfg, "bench", 0).expect("open topic reader");
            let mut got = 0;
            while let Some(b) = r.next_batch(cfg.max_batch_bytes()).expect("next_batch") {
                for rec in b.records() {
                    std::hint::black_box((rec.seq(), rec.data()));
                }
                got += b.len() as u64;
            }
            assert_eq!(got, n, "pull reader stopped early");
            rate(n, t.elapsed().as_secs_f64())
        }
        Kind::AsyncPull => rt.block_on(async {
            let mut r = logstream::AsyncTopicReader::open(&cfg, "bench", 0).expect("open async topic reader");
            let mut got = 0;
            while got < n {
                let b = tokio::time::timeout(Duration::from_secs(120), r.next_batch(cfg.max_batch_bytes()))
                    .await
                    .expect("async pull reader stalled")
                    .expect("next_batch");
                for rec in b.records() {
                    std::hint::black_box((rec.seq(), rec.data()));
                }
                got += b.len() as u64;
            }
            rate(n, t.elapsed().as_secs_f64())
        }),
    }
}

/// Part `catch-up` of the scenario.
fn catchup(ctx: &mut Ctx, rt: &tokio::runtime::Runtime) {
    let size = ctx.opts.size;
    let n = ctx.opts.records;
    let scen = format!("async catch-up, {n} x {size} B");
    eprintln!("== {scen}");
    let dir = ctx.path("ls-async-backlog");
    write_backlog(&dir, &payload(size), n);
    // Each run reads as a new group, so it starts from the first record.
    let group = std::cell::Cell::new(0u32);
    let once = |kind: Kind| {
        group.set(group.get() + 1);
        catchup_once(rt, kind, &dir, &format!("async-{}", group.get()), n)
    };
    let once = &once;
    let mut subjects: Vec<_> = [Kind::Threaded, Kind::Async, Kind::Pull, Kind::AsyncPull]
        .into_iter()
        .map(|k| crate::measure::Subject::new(k.name(), move || once(k)))
        .collect();
    let res = interleave(ctx.opts.reps, &mut subjects);
    drop(subjects);
    let (push_ref, pull_ref) = (res[0].1.median, res[2].1.median);
    for (i, (name, s, _)) in res.iter().enumerate() {
        let mut row = Row::new(&scen, name, "rate", "rec/s", *s, Better::Higher);
        row = match i {
            1 => row.ratio("threaded", push_ref),
            3 => row.ratio("TopicReader", pull_ref),
            _ => row,
        };
        ctx.push(row.note(format!("wall {:.3} s", n as f64 / s.median)));
    }
    remove(&dir);
}

/// One live-tail run: `rate` records/s for `secs`, consumed by `kind`;
/// the latency from just before `write()` to the consumer seeing the record.
struct TailRun {
    latency: Histogram<u64>,
    delivered: u64,
    written: u64,
}

fn tail_once(ctx: &Ctx, rt: &tokio::runtime::Runtime, kind: Kind, rate: u64, secs: f64, size: usize) -> TailRun {
    let dir = ctx.path("ls-async-tail");
    let ticks = ctx.ticks;
    let n = ((rate as f64 * secs) as u64).max(1);
    let total = n + 1;
    let cfg = config(&dir);
    let w = logstream::Writer::open(&cfg).expect("open writer");
    let tw = w.topic("tail").expect("topic");
    let before: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let seen_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let seen = Arc::new(Seen::default());
    let mark = {
        let (seen_at, seen) = (seen_at.clone(), seen.clone());
        move |b: &logstream::Batch| {
            let now = ticks.stamp();
            for rec in b.records() {
                if let Some(a) = seen_at.get(rec.seq() as usize) {
                    a.store(now, Ordering::Relaxed);
                }
            }
            seen.add(b.len() as u64);
        }
    };
    // The consumer, started before the first record.
    enum Running {
        Threaded(logstream::ReaderHandle),
        Async(logstream::AsyncReaderHandle),
        Pull(std::thread::JoinHandle<()>),
        AsyncPull(tokio::task::JoinHandle<()>),
    }
    let running = match kind {
        Kind::Threaded => Running::Threaded(
            logstream::Reader::builder(&cfg)
                .group("tail")
                .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
                    mark(b);
                    Ok(())
                })
                .expect("start reader"),
        ),
        Kind::Async => Running::Async(rt.block_on(async {
            let mark = Arc::new(mark);
            logstream::Reader::builder(&cfg)
                .group("tail")
                .start_async(move |b: Arc<logstream::Batch>| {
                    let mark = mark.clone();
                    async move {
                        mark(&b);
                        Ok::<(), std::io::Error>(())
                    }
                })
                .await
                .expect("start async reader")
        })),
        Kind::Pull => {
            let cfg = cfg.clone();
            Running::Pull(std::thread::spawn(move || {
                let mut r = logstream::TopicReader::open(&cfg, "tail", 0).expect("open topic reader");
                let mut got = 0;
                let deadline = Instant::now() + Duration::from_secs(60);
                while got < total && Instant::now() < deadline {
                    if let Some(b) = r.wait_batch(cfg.max_batch_bytes(), Duration::from_millis(100)).expect("wait") {
                        got += b.len() as u64;
                        mark(&b);
                    }
                }
            }))
        }
        Kind::AsyncPull => {
            let mut r = logstream::AsyncTopicReader::open(&cfg, "tail", 0).expect("open async topic reader");
            let max = cfg.max_batch_bytes();
            Running::AsyncPull(rt.spawn(async move {
                let mut got = 0;
                while got < total {
                    match tokio::time::timeout(Duration::from_secs(60), r.next_batch(max)).await {
                        Ok(b) => {
                            let b = b.expect("next_batch");
                            got += b.len() as u64;
                            mark(&b);
                        }
                        Err(_) => break,
                    }
                }
            }))
        }
    };
    let buf = payload(size.max(16));
    // Record 0 proves the consumer runs before the clock starts.
    tw.write(&buf).expect("write");
    assert!(rt.block_on(seen.reach(1, Duration::from_secs(10))), "{} never saw record 0", kind.name());
    pace(&ticks, rate, n, |i| {
        // Stamped just before the call: a record can be seen before write()
        // returns (it is published inside), so "from the return" would
        // hide most of the latency in a zero.
        before[i as usize + 1].store(ticks.stamp(), Ordering::Relaxed);
        let seq = tw.write(&buf).expect("write");
        debug_assert_eq!(seq, i + 1);
    });
    let _ = rt.block_on(seen.reach(total, Duration::from_secs(10)));
    match running {
        Running::Threaded(r) => r.stop().expect("stop reader"),
        Running::Async(r) => rt.block_on(r.stop_async()).expect("stop async reader"),
        Running::Pull(h) => h.join().expect("pull reader thread"),
        Running::AsyncPull(h) => rt.block_on(h).expect("async pull task"),
    }
    let mut latency = histogram();
    for s in 1..total as usize {
        let (b, v) = (before[s].load(Ordering::Relaxed), seen_at[s].load(Ordering::Relaxed));
        if b != 0 && v != 0 {
            let _ = latency.record(v.saturating_sub(b).max(1));
        }
    }
    let delivered = seen.n.load(Ordering::Acquire).saturating_sub(1);
    drop(tw);
    w.close().expect("close");
    remove(&dir);
    TailRun { latency, delivered, written: n }
}

/// Calls `write(i)` for `i` in `0..n` at `rate` per second, yielding the CPU
/// while the next one is more than 2 us away (on 2 cores a spinning
/// producer would take the core the reader needs).
fn pace(ticks: &Ticks, rate: u64, n: u64, mut write: impl FnMut(u64)) {
    let period = ticks.ticks_for_ns(1e9 / rate as f64);
    let slack = ticks.ticks_for_ns(2_000.0) as u64;
    let start = ticks.now();
    for i in 0..n {
        let due = start + (period * i as f64) as u64;
        loop {
            let now = ticks.now();
            if now >= due {
                break;
            }
            if due - now > slack {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        write(i);
    }
}

/// Part `tail` of the scenario: each kind at each offered rate, repeated.
fn tail(ctx: &mut Ctx, rt: &tokio::runtime::Runtime) {
    let (secs, size, reps) = (ctx.opts.tail_secs, ctx.opts.size.max(16), ctx.opts.reps);
    for rate in ctx.opts.rates.clone() {
        let scen = format!("async tail @ {rate}/s, {size} B");
        eprintln!("== {scen}, {reps} reps");
        let kinds = [Kind::Threaded, Kind::Async, Kind::Pull, Kind::AsyncPull];
        let mut runs: Vec<Vec<TailRun>> = kinds.iter().map(|_| Vec::new()).collect();
        // Interleaved: a, b, c, d, a, b, ... after a discarded warm-up round.
        for rep in 0..=reps {
            for (k, &kind) in kinds.iter().enumerate() {
                let r = tail_once(ctx, rt, kind, rate, secs, size);
                if rep > 0 {
                    runs[k].push(r);
                }
            }
        }
        let figs: Vec<Vec<(String, Summary)>> =
            runs.iter().map(|r| summarise(&r.iter().map(|t| figures(&t.latency)).collect::<Vec<_>>())).collect();
        for (k, kind) in kinds.iter().enumerate() {
            let delivered = Summary::of(&runs[k].iter().map(|r| r.delivered as f64).collect::<Vec<_>>()).median;
            let written = Summary::of(&runs[k].iter().map(|r| r.written as f64).collect::<Vec<_>>()).median;
            // The async kinds beside their threaded counterparts (above 1: slower).
            let reference = match k {
                1 => Some(("threaded", 0)),
                3 => Some(("TopicReader", 2)),
                _ => None,
            };
            for (i, (metric, s)) in figs[k].iter().enumerate() {
                let mut row = Row::new(&scen, kind.name(), metric, "ns", *s, Better::Lower);
                if let Some((to, r)) = reference {
                    row = row.ratio(to, figs[r][i].1.median);
                }
                if i == 0 {
                    row = row.note(format!("write() call -> seen; delivered {delivered:.0} of {written:.0}"));
                }
                ctx.push(row);
            }
        }
    }
}

/// Scenario `async`.
pub fn async_readers(ctx: &mut Ctx) {
    let rt = runtime();
    catchup(ctx, &rt);
    tail(ctx, &rt);
}
