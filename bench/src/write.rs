//! Write throughput: one thread, several threads, durable, and how it grows
//! with record size and topic count.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use crate::baseline::{self, payload, rate};
use crate::ctx::{Ctx, config, remove};
use crate::measure::{Subject, Summary, interleave};
use crate::peers;
use crate::report::{Better, Goal, Row};

/// Which call a logstream subject uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `Writer::write(topic, data)`: looks the topic up on every call.
    Write,
    /// `TopicWriter::write(data)`: a handle bound to one topic.
    TopicWriter,
}

/// Records written before a timed burst, so the writer, its flush thread
/// and the topic exist and are warm.
pub fn warmup_records(n: u64) -> u64 {
    (n / 100).clamp(1, 10_000)
}

/// Opens a fresh writer in `dir`, warms it up, writes `n` records timed,
/// optionally `flush()`es inside the timed section, closes and removes it.
pub fn logstream_burst(dir: &Path, data: &[u8], n: u64, api: Api, durable: bool) -> f64 {
    remove(dir);
    let w = logstream::Writer::open(&config(dir)).expect("open writer");
    let tw = w.topic("bench").expect("topic handle");
    for _ in 0..warmup_records(n) {
        tw.write(data).expect("warm-up write");
    }
    if durable {
        // The topic's directory and first segment are made durable here,
        // like the baseline's file creation, outside the timed section.
        w.flush().expect("flush");
    }
    let t = Instant::now();
    match api {
        Api::Write => {
            for _ in 0..n {
                w.write("bench", data).expect("write");
            }
        }
        Api::TopicWriter => {
            for _ in 0..n {
                tw.write(data).expect("write");
            }
        }
    }
    if durable {
        w.flush().expect("flush");
    }
    let r = rate(n, t.elapsed().as_secs_f64());
    drop(tw);
    w.close().expect("close writer");
    remove(dir);
    r
}

/// `threads` threads writing `n` records in total, each to its own topic or
/// all to one; records/s of the whole.
pub fn logstream_threads(dir: &Path, data: &[u8], n: u64, threads: usize, same_topic: bool) -> f64 {
    remove(dir);
    let w = logstream::Writer::open(&config(dir)).expect("open writer");
    let names: Vec<String> =
        (0..threads).map(|i| if same_topic { "bench".to_string() } else { format!("bench-{i}") }).collect();
    for name in &names {
        for _ in 0..warmup_records(n / threads as u64) {
            w.write(name, data).expect("warm-up write");
        }
    }
    let per = n / threads as u64;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = names
        .into_iter()
        .map(|name| {
            let w = w.clone();
            let b = barrier.clone();
            let data = data.to_vec();
            std::thread::spawn(move || {
                let tw = w.topic(&name).expect("topic handle");
                b.wait();
                for _ in 0..per {
                    tw.write(&data).expect("write");
                }
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    for h in handles {
        h.join().expect("writer thread");
    }
    let r = rate(per * threads as u64, t.elapsed().as_secs_f64());
    w.close().expect("close writer");
    remove(dir);
    r
}

/// Scenario `write`: 1-thread burst of logstream against baseline (a), the
/// pre-faulted copy rate and the peers.
pub fn burst(ctx: &mut Ctx) {
    let n = ctx.opts.records;
    let size = ctx.opts.size;
    let data = payload(size);
    let scen = format!("write burst, 1 thread, {size} B");
    eprintln!("== {scen} ({n} records, {} reps interleaved)", ctx.opts.reps);
    let (raw, map, ls_w, ls_tw, yq, yqb, cl, clb) = (
        ctx.path("raw-a"),
        ctx.path("prefault"),
        ctx.path("ls-write"),
        ctx.path("ls-topic"),
        ctx.path("yaque"),
        ctx.path("yaque-batch"),
        ctx.path("commitlog"),
        ctx.path("commitlog-batch"),
    );
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("baseline (a) BufWriter+CRC, no fsync", || baseline::raw_append(&raw, &data, n, false)),
            Subject::new("pre-faulted mapping copy", || baseline::prefault_copy(&map, &data, n)),
            Subject::new("logstream Writer::write", || logstream_burst(&ls_w, &data, n, Api::Write, false)),
            Subject::new("logstream TopicWriter::write", || logstream_burst(&ls_tw, &data, n, Api::TopicWriter, false)),
            Subject::new("yaque send", || peers::yaque_send(&yq, &data, n)),
            Subject::new(format!("yaque send_batch({})", peers::BATCH), || peers::yaque_send_batch(&yqb, &data, n)),
            Subject::new("commitlog append_msg", || peers::commitlog_append_msg(&cl, &data, n, false)),
            Subject::new(format!("commitlog append({})", peers::BATCH), || {
                peers::commitlog_append_batch(&clb, &data, n, false, false)
            }),
        ],
    );
    let base = res[0].1.median;
    let pre = res[1].1.median;
    ctx.base_a = Some(base);
    ctx.prefault = Some(pre);
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher);
        if i != 0 {
            row = row.ratio("(a)", base);
        }
        if i != 1 {
            row = row.ratio("prefault", pre);
        }
        if i == 2 || i == 3 {
            let m = s.median;
            row = row.goal(Goal::all(vec![
                Goal::at_least(">= 20 M/s", m, 20e6),
                Goal::at_least(">= 2.5x (a)", m / base, 2.5),
            ]));
            if i == 2 {
                ctx.one_thread = Some(m);
            }
        }
        ctx.push(row);
    }
}

/// Scenario `threads`: several writer threads on different topics and on one.
pub fn threads(ctx: &mut Ctx) {
    let n = ctx.opts.records;
    let size = ctx.opts.size;
    let th = ctx.opts.threads;
    let data = payload(size);
    let scen = format!("write, {th} threads, {size} B");
    eprintln!("== {scen} ({n} records in total)");
    let (a, b) = (ctx.path("ls-threads-diff"), ctx.path("ls-threads-same"));
    let one = ctx.path("ls-one");
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("logstream 1 thread (reference)", || logstream_burst(&one, &data, n, Api::TopicWriter, false)),
            Subject::new(format!("logstream {th} threads, {th} topics"), || logstream_threads(&a, &data, n, th, false)),
            Subject::new(format!("logstream {th} threads, 1 topic"), || logstream_threads(&b, &data, n, th, true)),
        ],
    );
    let one_rate = res[0].1.median;
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher);
        if i > 0 {
            row = row.ratio("1 thread", one_rate);
        }
        if let Some(base) = ctx.base_a {
            row = row.ratio("(a)", base);
        }
        if let Some(pre) = ctx.prefault {
            row = row.ratio("prefault", pre);
        }
        ctx.push(row);
    }
}

/// Scenario `durable`: writes plus the final `flush()` against baseline (a)
/// with its `fdatasync`, and the peers that can sync.
pub fn durable(ctx: &mut Ctx) {
    let n = ctx.opts.records;
    let size = ctx.opts.size;
    let data = payload(size);
    let scen = format!("durable write, {size} B");
    eprintln!("== {scen} ({n} records incl. final sync)");
    let (raw, ls, cl, ok) = (ctx.path("raw-a-sync"), ctx.path("ls-durable"), ctx.path("cl-sync"), ctx.path("okaywal"));
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("baseline (a) + fdatasync", || baseline::raw_append(&raw, &data, n, true)),
            Subject::new("logstream write + flush()", || logstream_burst(&ls, &data, n, Api::TopicWriter, true)),
            Subject::new(format!("commitlog append({}) + flush", peers::BATCH), || {
                peers::commitlog_append_batch(&cl, &data, n, true, false)
            }),
            Subject::new("okaywal 1 entry + commit", || peers::okaywal_durable(&ok, &data, n)),
        ],
    );
    let base = res[0].1.median;
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher);
        if i > 0 {
            row = row.ratio("(a)+sync", base);
        }
        if let Some(pre) = ctx.prefault {
            row = row.ratio("prefault", pre);
        }
        if i == 1 {
            row = row.goal(Goal::at_least(">= 1.0x (a)+fdatasync", s.median / base, 1.0));
        }
        ctx.push(row);
    }
}

/// Scenario `sizes`: write rate by record size against (a) and the
/// pre-faulted copy at the same size.
pub fn sizes(ctx: &mut Ctx) {
    let sizes = ctx.opts.sizes.clone();
    for size in sizes {
        let data = payload(size);
        let frame = (16 + size) as u64;
        let n = (ctx.opts.size_budget / frame).clamp(1, ctx.opts.records.max(1));
        let scen = format!("write by size: {size} B");
        eprintln!("== {scen} ({n} records)");
        let (raw, map, ls) = (ctx.path("raw-size"), ctx.path("map-size"), ctx.path("ls-size"));
        let res = interleave(
            ctx.opts.reps.min(3),
            &mut [
                Subject::new("baseline (a)", || baseline::raw_append(&raw, &data, n, false)),
                Subject::new("pre-faulted mapping copy", || baseline::prefault_copy(&map, &data, n)),
                Subject::new("logstream TopicWriter::write", || {
                    logstream_burst(&ls, &data, n, Api::TopicWriter, false)
                }),
            ],
        );
        let base = res[0].1.median;
        let pre = res[1].1.median;
        for (i, (name, s, _)) in res.into_iter().enumerate() {
            let mb = s.median * size as f64 / 1e6;
            let mut row = Row::new(&scen, &name, "rate", "rec/s", s, Better::Higher)
                .note(format!("{mb:.0} MB/s of payload, {n} records"));
            if i != 0 {
                row = row.ratio("(a)", base);
            }
            if i != 1 {
                row = row.ratio("prefault", pre);
            }
            ctx.push(row);
        }
    }
}

/// Scenario `topics`: write rate spread round-robin over 1, 100, 10 000
/// topics. Each count gets its own warm writer whose topics exist before the
/// timed bursts. The writers run one after another, never at once (an open
/// writer's flush thread would take CPU from the others on 2 cores), and the
/// first count runs again at the end to bracket drift; its reference rate is
/// the median of both blocks.
pub fn topics(ctx: &mut Ctx) {
    let n = ctx.opts.records;
    let size = ctx.opts.size;
    let data = payload(size);
    let mut counts = ctx.opts.topics.clone();
    eprintln!("== write by topic count: {counts:?} ({n} records per burst, the first count again at the end)");
    if let Some(&first) = counts.first() {
        counts.push(first);
    }
    struct Block {
        count: usize,
        rates: Vec<f64>,
        create_secs: f64,
        idle_cpu: f64,
        /// Descriptors the process held after the bursts, writer still open.
        fds: usize,
    }
    let mut blocks: Vec<Block> = Vec::new();
    for &count in &counts {
        let dir = ctx.path("ls-topics");
        let w = logstream::Writer::open(&config(&dir)).expect("open writer");
        let names: Vec<String> = (0..count).map(|i| format!("topic-{i:05}")).collect();
        let t = Instant::now();
        for name in &names {
            w.write(name, &data).expect("create topic");
        }
        let create_secs = t.elapsed().as_secs_f64();
        w.flush().expect("flush");
        // What the open, idle writer costs: its flush thread's passes.
        let cpu0 = crate::measure::Cpu::process();
        let t = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(if ctx.opts.quick { 50 } else { 500 }));
        let idle_cpu = crate::measure::Cpu::process().since(cpu0).total() / t.elapsed().as_secs_f64();
        let mut rates = Vec::new();
        for rep in 0..=ctx.opts.reps {
            // Start from a quiet writer: the previous burst's sync is over.
            w.flush().expect("flush");
            let t = Instant::now();
            for i in 0..n as usize {
                w.write(&names[i % count], &data).expect("write");
            }
            let r = rate(n, t.elapsed().as_secs_f64());
            if rep > 0 {
                rates.push(r);
            }
        }
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
        w.close().expect("close writer");
        remove(&dir);
        blocks.push(Block { count, rates, create_secs, idle_cpu, fds });
    }
    // Merge the bracketing block into the first.
    if blocks.len() >= 2 {
        let last = blocks.pop().expect("two blocks");
        blocks[0].rates.extend(last.rates);
    }
    let first = blocks.first().map_or(f64::NAN, |b| Summary::of(&b.rates).median);
    let first_count = blocks.first().map_or(1, |b| b.count);
    for b in &blocks {
        let s = Summary::of(&b.rates);
        let mut row = Row::new(
            &format!("write by topic count, {size} B"),
            &format!("logstream {} topics, Writer::write", b.count),
            "rate",
            "rec/s",
            s,
            Better::Higher,
        )
        .ratio(&format!("{first_count} topic"), first)
        .note(format!(
            "creating the {} topics took {:.2} s ({:.0} topics/s); idle writer CPU {:.1}% of a core; \
             {} open files after the bursts",
            b.count,
            b.create_secs,
            b.count as f64 / b.create_secs.max(1e-9),
            b.idle_cpu * 100.0,
            b.fds
        ));
        if let Some(base) = ctx.base_a {
            row = row.ratio("(a)", base);
        }
        if let Some(pre) = ctx.prefault {
            row = row.ratio("prefault", pre);
        }
        if b.count >= 10_000 && first_count == 1 {
            row = row.goal(Goal::at_least(">= 0.5x 1 topic", s.median / first, 0.5));
        }
        ctx.push(row);
    }
}

/// The hidden `__burst DIR N SIZE [TOPICS]` / `__backlog DIR N SIZE`
/// subcommands, for profilers. `__burst` times one burst of `N` records into
/// a fresh directory and removes it; with `TOPICS` > 1 it first creates the
/// topics, prints `ready` and sleeps 2 s (attach `perf record -p` then), and
/// writes round-robin with `Writer::write`. `__backlog` writes a backlog to
/// topic `bench` and keeps it for `__catchup`.
pub fn profile_main(args: &[String], keep: bool) -> i32 {
    let (dir, n, size, topics) = match args {
        [dir, n, size] => (dir, n, size, 1),
        [dir, n, size, t] if !keep => (dir, n, size, t.parse().expect("TOPICS is a number")),
        _ => {
            eprintln!("usage: __burst DIR N SIZE [TOPICS] | __backlog DIR N SIZE");
            return 2;
        }
    };
    let n: u64 = n.parse().expect("N is a number");
    let data = payload(size.parse().expect("SIZE is a number"));
    let dir = Path::new(dir);
    if keep {
        crate::read::write_backlog(dir, &data, n);
        println!("wrote {n} records to topic bench in {}", dir.display());
    } else if topics <= 1 {
        let r = logstream_burst(dir, &data, n, Api::TopicWriter, false);
        println!("{:.2} M records/s", r / 1e6);
    } else {
        remove(dir);
        let w = logstream::Writer::open(&config(dir)).expect("open writer");
        let names: Vec<String> = (0..topics).map(|i| format!("topic-{i:05}")).collect();
        for name in &names {
            w.write(name, &data).expect("create topic");
        }
        w.flush().expect("flush");
        println!("ready");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        std::thread::sleep(std::time::Duration::from_secs(2));
        let t = Instant::now();
        for i in 0..n as usize {
            w.write(&names[i % topics], &data).expect("write");
        }
        println!("{:.2} M records/s over {topics} topics", rate(n, t.elapsed().as_secs_f64()) / 1e6);
        w.close().expect("close writer");
        remove(dir);
    }
    0
}
