//! Latencies recorded with `hdrhistogram`: of `write()` itself at a fixed
//! offered rate and unthrottled, and of the live tail, from `write()`
//! returning to the reader's closure seeing the record.

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::baseline::payload;
use crate::ctx::{Ctx, config, remove};
use crate::measure::{Summary, Ticks};
use crate::report::{Better, Goal, Row};

/// The percentiles every latency row set shows.
pub const PERCENTILES: &[(&str, f64)] = &[("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9), ("p99.99", 99.99)];

/// A histogram from 1 ns to an hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

/// p50, p99, p99.9, p99.99 and max of a histogram, in ns.
pub fn figures(h: &Histogram<u64>) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> =
        PERCENTILES.iter().map(|(n, p)| (n.to_string(), h.value_at_percentile(*p) as f64)).collect();
    v.push(("max".into(), h.max() as f64));
    v
}

/// Summaries of each figure over the repetitions.
pub fn summarise(runs: &[Vec<(String, f64)>]) -> Vec<(String, Summary)> {
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), Summary::of(&runs.iter().map(|r| r[i].1).collect::<Vec<_>>())))
        .collect()
}

/// Something timed per record.
trait Sink {
    fn put(&mut self, data: &[u8]);
}

struct LogSink(logstream::TopicWriter);

impl Sink for LogSink {
    #[inline]
    fn put(&mut self, data: &[u8]) {
        self.0.write(data).expect("write");
    }
}

struct RawSink(BufWriter<std::fs::File>);

impl Sink for RawSink {
    #[inline]
    fn put(&mut self, data: &[u8]) {
        let crc = crc32fast::hash(data);
        self.0.write_all(&(data.len() as u32).to_le_bytes()).expect("raw write");
        self.0.write_all(&crc.to_le_bytes()).expect("raw write");
        self.0.write_all(data).expect("raw write");
    }
}

/// Times `n` calls of `sink.put` at `rate` per second (0: back to back).
/// Returns (service time, time since the intended start) histograms.
fn timed(sink: &mut dyn Sink, ticks: &Ticks, data: &[u8], n: u64, rate: u64) -> (Histogram<u64>, Histogram<u64>) {
    let mut service = histogram();
    let mut response = histogram();
    let period = if rate == 0 { 0.0 } else { ticks.ticks_for_ns(1e9 / rate as f64) };
    let start = ticks.now();
    for i in 0..n {
        let intended = start + (period * i as f64) as u64;
        let mut t0 = ticks.now();
        while t0 < intended {
            std::hint::spin_loop();
            t0 = ticks.now();
        }
        sink.put(data);
        let t1 = ticks.now();
        let _ = service.record(ticks.ns(t0, t1).max(1));
        let _ = response.record(ticks.ns(if rate == 0 { t0 } else { intended }, t1).max(1));
    }
    (service, response)
}

/// Scenario `latency`: per-call latency of `TopicWriter::write` and of the
/// raw append, at the offered rate and back to back.
pub fn write_latency(ctx: &mut Ctx) {
    let size = ctx.opts.latency_size;
    let rate = ctx.opts.latency_rate;
    let n = ctx.opts.records;
    let data = payload(size);
    let ticks = ctx.ticks;
    let overhead = ticks.overhead_ns();
    eprintln!("== write latency, {size} B, {n} records, at {rate}/s and unthrottled (clock overhead {overhead:.0} ns)");
    let ls_dir = ctx.path("ls-latency");
    let raw_path = ctx.path("raw-latency");
    // (label, offered rate, logstream?)
    let cases: Vec<(String, u64, bool)> = vec![
        (format!("logstream TopicWriter::write @ {}/s", rate), rate, true),
        ("baseline (a) per record @ same rate".into(), rate, false),
        ("logstream TopicWriter::write unthrottled".into(), 0, true),
        ("baseline (a) per record unthrottled".into(), 0, false),
    ];
    let mut service: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); cases.len()];
    let mut response: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); cases.len()];
    for rep in 0..=ctx.opts.reps {
        for (i, (_, r, is_log)) in cases.iter().enumerate() {
            remove(&ls_dir);
            let (s, q) = if *is_log {
                let w = logstream::Writer::open(&config(&ls_dir)).expect("open writer");
                let tw = w.topic("latency").expect("topic");
                for _ in 0..crate::write::warmup_records(n) {
                    tw.write(&data).expect("warm-up write");
                }
                let mut sink = LogSink(tw);
                let out = timed(&mut sink, &ticks, &data, n, *r);
                drop(sink);
                w.close().expect("close");
                out
            } else {
                let f = std::fs::File::create(&raw_path).expect("create raw file");
                let mut sink = RawSink(BufWriter::with_capacity(1 << 20, f));
                timed(&mut sink, &ticks, &data, n, *r)
            };
            remove(&ls_dir);
            let _ = std::fs::remove_file(&raw_path);
            if rep > 0 {
                service[i].push(figures(&s));
                response[i].push(figures(&q));
            }
        }
    }
    let scen = format!("write latency, {size} B");
    for (i, (label, r, is_log)) in cases.iter().enumerate() {
        for (metric, s) in summarise(&service[i]) {
            let mut row = Row::new(&scen, label, &metric, "ns", s, Better::Lower);
            if *is_log && *r == rate && rate == 1_000_000 && size == 64 {
                let goal = match metric.as_str() {
                    "p50" => Some(Goal::at_most("<= 50 ns", s.median, 50.0)),
                    "p99" => Some(Goal::at_most("<= 250 ns", s.median, 250.0)),
                    "p99.99" => Some(Goal::at_most("<= 10 us", s.median, 10_000.0)),
                    _ => None,
                };
                if let Some(g) = goal {
                    row = row.goal(g);
                }
            }
            if metric == "p50" {
                row = row.note(format!("call to return; clock read costs {overhead:.0} ns"));
            }
            ctx.push(row);
        }
        if *r > 0 {
            // Coordinated omission: time from when the record was due.
            let sums = summarise(&response[i]);
            for (metric, s) in sums.into_iter().filter(|(m, _)| m == "p99.99" || m == "max") {
                ctx.push(
                    Row::new(&scen, label, &format!("{metric} from due"), "ns", s, Better::Lower)
                        .note("measured from the record's scheduled time (includes queueing behind slow calls)"),
                );
            }
        }
    }
}

/// What one live-tail run measured.
struct TailRun {
    /// From `write()` returning to the closure seeing the record (0 when seen before).
    from_return: Histogram<u64>,
    /// From the time stamp in the payload (taken just before `write()`) to the closure.
    from_call: Histogram<u64>,
    /// Records seen before their `write()` returned.
    early: u64,
    delivered: u64,
    written: u64,
    /// Records/s the writer managed to offer.
    achieved: f64,
    /// Seconds from the last write to the last delivery.
    drain: f64,
    /// CPU of everything but the writer thread, in cores.
    reader_cpu: f64,
}

/// One live-tail run at `rate` for `secs`.
fn tail_run(ctx: &Ctx, rate: u64, secs: f64, size: usize) -> TailRun {
    let dir = ctx.path("ls-tail");
    let ticks = ctx.ticks;
    let n = ((rate as f64 * secs) as u64).max(1);
    let cfg = config(&dir);
    let w = logstream::Writer::open(&cfg).expect("open writer");
    let tw = w.topic("tail").expect("topic");
    // returned[seq]: when write() returned; seen[seq]: when the closure saw
    // it; called[seq]: seen minus the stamp the closure found in the payload.
    let total = n + 1;
    let slots = || -> Arc<Vec<AtomicU64>> { Arc::new((0..total).map(|_| AtomicU64::new(0)).collect()) };
    let (returned, seen, called) = (slots(), slots(), slots());
    let delivered = Arc::new(AtomicU64::new(0));
    let (seen2, called2, delivered2) = (seen.clone(), called.clone(), delivered.clone());
    let reader = logstream::Reader::builder(&cfg)
        .group("tail")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let now = ticks.stamp();
            for rec in b.records() {
                let s = rec.seq() as usize;
                let stamp = rec.data().get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
                if let (Some(a), Some(c)) = (seen2.get(s), called2.get(s)) {
                    a.store(now, Ordering::Relaxed);
                    c.store(now.saturating_sub(stamp).max(1), Ordering::Relaxed);
                }
            }
            delivered2.fetch_add(b.len() as u64, Ordering::Release);
            Ok(())
        })
        .expect("start reader");
    let mut buf = payload(size.max(16));
    // Record 0 proves the reader is running before the clock starts.
    tw.write(&buf).expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivered.load(Ordering::Acquire) < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let period = ticks.ticks_for_ns(1e9 / rate as f64);
    // The pacer yields its CPU while the next record is more than 2 us away:
    // on 2 cores a spinning producer would hold the core the reader's
    // threads need and measure the scheduler's tick instead of logstream.
    let slack = ticks.ticks_for_ns(2_000.0) as u64;
    let cpu0 = crate::measure::Cpu::process();
    let wcpu0 = crate::measure::Cpu::thread();
    let wall0 = Instant::now();
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
        buf[..8].copy_from_slice(&ticks.stamp().to_le_bytes());
        let seq = tw.write(&buf).expect("write");
        returned[seq as usize].store(ticks.stamp(), Ordering::Relaxed);
    }
    let write_secs = wall0.elapsed().as_secs_f64();
    let wcpu = crate::measure::Cpu::thread().since(wcpu0).total();
    let written_end = Instant::now();
    let deadline = written_end + Duration::from_secs(10);
    while delivered.load(Ordering::Acquire) < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
    let drain = written_end.elapsed().as_secs_f64();
    let cpu = crate::measure::Cpu::process().since(cpu0).total();
    let wall = wall0.elapsed().as_secs_f64();
    reader.stop().expect("stop reader");
    let got = delivered.load(Ordering::Acquire).saturating_sub(1);
    let (mut from_return, mut from_call) = (histogram(), histogram());
    let mut early = 0;
    for s in 1..total as usize {
        let (r, v, c) =
            (returned[s].load(Ordering::Relaxed), seen[s].load(Ordering::Relaxed), called[s].load(Ordering::Relaxed));
        if v != 0 && r != 0 {
            // A record is published inside write(): the reader can see it
            // before write() returned. That counts as 0 here.
            early += u64::from(v < r);
            let _ = from_return.record(v.saturating_sub(r).max(1));
            let _ = from_call.record(c.max(1));
        }
    }
    drop(tw);
    w.close().expect("close");
    remove(&dir);
    TailRun {
        from_return,
        from_call,
        early,
        delivered: got,
        written: n,
        achieved: n as f64 / write_secs,
        drain,
        reader_cpu: ((cpu - wcpu) / wall).max(0.0),
    }
}

/// Scenario `tail`: live tail latency at each offered rate.
pub fn tail(ctx: &mut Ctx) {
    let rates = ctx.opts.rates.clone();
    let secs = ctx.opts.tail_secs;
    let size = ctx.opts.size.max(16);
    let reps = ctx.opts.reps;
    for rate in rates {
        eprintln!("== live tail at {rate}/s for {secs} s, {reps} reps");
        let mut ret = Vec::new();
        let mut call = Vec::new();
        let mut runs: Vec<TailRun> = Vec::new();
        for rep in 0..=reps {
            let r = tail_run(ctx, rate, secs, size);
            if rep == 0 {
                continue;
            }
            ret.push(figures(&r.from_return));
            call.push(figures(&r.from_call));
            runs.push(r);
        }
        // Keeping up: everything delivered, and the backlog left when the
        // writer stopped drained within 100 ms (no growing lag).
        let kept = runs.iter().filter(|r| r.delivered == r.written && r.drain <= 0.1).count();
        let scen = format!("live tail @ {}/s, {size} B", rate);
        let med = |f: fn(&TailRun) -> f64| Summary::of(&runs.iter().map(f).collect::<Vec<_>>()).median;
        let note = format!(
            "medians: delivered {:.0} of {:.0}; offered {:.0}/s achieved; drain {:.1} ms; {:.0}% seen before write() returned; reader CPU {:.0}% of a core",
            med(|r| r.delivered as f64),
            med(|r| r.written as f64),
            med(|r| r.achieved),
            med(|r| r.drain) * 1e3,
            med(|r| r.early as f64 / r.written.max(1) as f64) * 100.0,
            med(|r| r.reader_cpu) * 100.0
        );
        for (i, (metric, s)) in summarise(&ret).into_iter().enumerate() {
            let mut row = Row::new(&scen, "write() return -> closure", &metric, "ns", s, Better::Lower);
            if rate == 100_000 {
                match metric.as_str() {
                    "p50" => row = row.goal(Goal::at_most("<= 100 us", s.median, 100_000.0)),
                    "p99" => row = row.goal(Goal::at_most("<= 2 ms", s.median, 2_000_000.0)),
                    _ => {}
                }
            }
            if i == 0 {
                row = row.note(note.clone());
            }
            ctx.push(row);
        }
        for (metric, s) in summarise(&call) {
            ctx.push(Row::new(&scen, "payload stamp (before write()) -> closure", &metric, "ns", s, Better::Lower));
        }
        if rate >= 1_000_000 {
            ctx.push(
                Row::new(&scen, "keeps up", "runs kept up", "runs", Summary::single(kept as f64), Better::Higher)
                    .goal(Goal::holds(
                        "every run: all delivered, drain <= 100 ms",
                        kept == runs.len(),
                        format!("{kept} of {} runs", runs.len()),
                    ))
                    .note(note),
            );
        }
    }
}
