//! Reader catch-up on a backlog: the push `Reader` in a child process (wall
//! time, CPU time and peak memory of that process), the pull `TopicReader`
//! in-process, against baseline (b) and `commitlog`'s read.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot_free::Signal;

use crate::baseline::{self, payload, rate};
use crate::ctx::{Ctx, config, remove};
use crate::measure::{Cpu, Mem, Subject, Summary, interleave};
use crate::peers;
use crate::report::{Better, Goal, Row};

/// A tiny "done" flag with a condition variable, so the child wakes the
/// moment the last record is seen instead of polling.
mod parking_lot_free {
    use std::sync::{Condvar, Mutex};

    /// Set once, waited on once.
    #[derive(Default)]
    pub struct Signal {
        done: Mutex<bool>,
        cv: Condvar,
    }

    impl Signal {
        /// Marks done and wakes the waiter.
        pub fn set(&self) {
            let mut d = self.done.lock().unwrap_or_else(|e| e.into_inner());
            *d = true;
            self.cv.notify_all();
        }

        /// Waits until done or `timeout`; true if done.
        pub fn wait(&self, timeout: std::time::Duration) -> bool {
            let d = self.done.lock().unwrap_or_else(|e| e.into_inner());
            let (d, _) = self.cv.wait_timeout_while(d, timeout, |d| !*d).unwrap_or_else(|e| e.into_inner());
            *d
        }
    }
}

/// What the catch-up child reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChildResult {
    /// Seconds from `start()` to the last record seen.
    pub wall: f64,
    /// CPU seconds of the child over the same span.
    pub cpu: f64,
    /// Records delivered.
    pub records: u64,
    /// `RssAnon` of the child before the reader started (KiB).
    pub anon_before_kib: u64,
    /// Peak `VmHWM` (KiB), read by the parent from `/proc/<pid>/status`.
    pub hwm_kib: u64,
    /// Peak sampled `RssAnon` (KiB).
    pub peak_anon_kib: u64,
    /// Peak sampled `RssFile` (KiB).
    pub peak_file_kib: u64,
}

/// The hidden `__catchup <dir> <group> <expect>` subcommand: reads the
/// backlog with a no-op forwarder and reports on stdout, then waits for
/// stdin to close so the parent can read its `/proc` figures first.
pub fn child_main(args: &[String]) -> i32 {
    let [dir, group, expect] = args else {
        eprintln!("usage: __catchup DIR GROUP EXPECT");
        return 2;
    };
    let expect: u64 = expect.parse().expect("EXPECT is a number");
    let cfg = config(Path::new(dir));
    let anon_before = Mem::of(std::process::id()).map_or(0, |m| m.anon_kib);
    let count = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Signal::default());
    let (c2, d2) = (count.clone(), done.clone());
    let cpu0 = Cpu::process();
    let t = Instant::now();
    let reader = logstream::Reader::builder(&cfg)
        .group(group)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            for rec in b.records() {
                std::hint::black_box((rec.seq(), rec.data()));
            }
            if c2.fetch_add(b.len() as u64, Ordering::AcqRel) + b.len() as u64 >= expect {
                d2.set();
            }
            Ok(())
        })
        .expect("start reader");
    let ok = done.wait(Duration::from_secs(120));
    let wall = t.elapsed().as_secs_f64();
    let cpu = Cpu::process().since(cpu0);
    let got = count.load(Ordering::Acquire);
    println!("RESULT {wall} {} {got} {anon_before} {}", cpu.total(), u8::from(ok));
    let _ = std::io::stdout().flush();
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    reader.stop().expect("stop reader");
    0
}

/// Runs the catch-up child on `dir` as a new group and samples its memory.
pub fn catchup_child(dir: &Path, group: &str, expect: u64) -> ChildResult {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .envs(crate::ctx::meta_text().map(|t| (crate::ctx::META_ENV, t)))
        .arg("__catchup")
        .arg(dir)
        .arg(group)
        .arg(expect.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn catch-up child");
    let pid = child.id();
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("RESULT ") {
                let _ = tx.send(line);
            }
        }
    });
    let mut peak = Mem::default();
    let line = loop {
        if let Some(m) = Mem::of(pid) {
            peak.anon_kib = peak.anon_kib.max(m.anon_kib);
            peak.file_kib = peak.file_kib.max(m.file_kib);
            peak.hwm_kib = peak.hwm_kib.max(m.hwm_kib);
        }
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(line) => break line,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("catch-up child exited early"),
        }
    };
    if let Some(m) = Mem::of(pid) {
        peak.anon_kib = peak.anon_kib.max(m.anon_kib);
        peak.file_kib = peak.file_kib.max(m.file_kib);
        peak.hwm_kib = peak.hwm_kib.max(m.hwm_kib);
    }
    drop(child.stdin.take());
    let status = child.wait().expect("wait for child");
    let _ = reader.join();
    assert!(status.success(), "catch-up child failed: {status}");
    let f: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
    assert_eq!(f.get(5), Some(&"1"), "catch-up child timed out: {line}");
    ChildResult {
        wall: num(1),
        cpu: num(2),
        records: num(3) as u64,
        anon_before_kib: num(4) as u64,
        hwm_kib: peak.hwm_kib,
        peak_anon_kib: peak.anon_kib,
        peak_file_kib: peak.file_kib,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes a backlog of `n` records of `data` to topic `bench` in `dir`.
pub fn write_backlog(dir: &Path, data: &[u8], n: u64) {
    remove(dir);
    let w = logstream::Writer::open(&config(dir)).expect("open writer");
    let tw = w.topic("bench").expect("topic");
    for _ in 0..n {
        tw.write(data).expect("write backlog");
    }
    w.close().expect("close writer");
}

/// Reads topic `bench` in-process with the pull cursor; records/s and CPU s.
pub fn pull_read(dir: &Path, expect: u64) -> (f64, f64) {
    let cfg = config(dir);
    let cpu0 = Cpu::thread();
    let t = Instant::now();
    let mut r = logstream::TopicReader::open(&cfg, "bench", 0).expect("open topic reader");
    let mut n = 0u64;
    while let Some(b) = r.next_batch(cfg.max_batch_bytes()).expect("next_batch") {
        for rec in b.records() {
            std::hint::black_box((rec.seq(), rec.data()));
            n += 1;
        }
    }
    assert_eq!(n, expect, "pull reader stopped early");
    (rate(n, t.elapsed().as_secs_f64()), Cpu::thread().since(cpu0).total())
}

/// Scenario `catchup`: catch-up throughput on each backlog, with CPU time and
/// the reader child's memory.
pub fn catchup(ctx: &mut Ctx) {
    let size = ctx.opts.size;
    let data = payload(size);
    let backlogs = ctx.opts.backlogs.clone();
    let main_backlog = *backlogs.iter().max().unwrap_or(&ctx.opts.records);
    for n in backlogs {
        let scen = format!("reader catch-up, {n} x {size} B");
        eprintln!("== {scen}");
        let (ls, raw, cl) = (ctx.path("ls-backlog"), ctx.path("raw-backlog"), ctx.path("cl-backlog"));
        write_backlog(&ls, &data, n);
        baseline::raw_append(&raw, &data, n, false);
        peers::commitlog_append_batch(&cl, &data, n, false, true);
        let mut group = 0;
        let mut child: Vec<ChildResult> = Vec::new();
        let mut cpu_b = Vec::new();
        let mut cpu_cl = Vec::new();
        let mut cpu_pull = Vec::new();
        let res = interleave(
            ctx.opts.reps,
            &mut [
                Subject::new("baseline (b) sequential read + CRC", || {
                    let (r, c) = baseline::raw_read(&raw);
                    cpu_b.push(c);
                    r
                }),
                Subject::new("logstream Reader (child process, no-op forwarder)", || {
                    group += 1;
                    let c = catchup_child(&ls, &format!("catchup-{group}"), n);
                    assert_eq!(c.records, n, "reader delivered {} of {n}", c.records);
                    let r = rate(c.records, c.wall);
                    if group > 1 {
                        child.push(c);
                    }
                    r
                }),
                Subject::new("logstream TopicReader (pull, in-process)", || {
                    let (r, c) = pull_read(&ls, n);
                    cpu_pull.push(c);
                    r
                }),
                Subject::new("commitlog read (2 MiB batches) + CRC", || {
                    let (r, c) = peers::commitlog_read(&cl, size, n);
                    cpu_cl.push(c);
                    r
                }),
            ],
        );
        // Drop the warm-up CPU samples of the subjects that kept them.
        let skip1 = |v: &mut Vec<f64>| {
            if !v.is_empty() {
                v.remove(0);
            }
        };
        skip1(&mut cpu_b);
        skip1(&mut cpu_pull);
        skip1(&mut cpu_cl);
        let base = res[0].1.median;
        let cl_rate = res[3].1.median;
        let secs = |rate: f64| n as f64 / rate;
        for (i, (name, s, _)) in res.iter().enumerate() {
            let mut row = Row::new(&scen, name, "rate", "rec/s", *s, Better::Higher);
            if i != 0 {
                row = row.ratio("(b)", base);
            }
            if i != 3 {
                row = row.ratio("commitlog", cl_rate);
            }
            let cpu = match i {
                0 => Summary::of(&cpu_b).median,
                1 => Summary::of(&child.iter().map(|c| c.cpu).collect::<Vec<_>>()).median,
                2 => Summary::of(&cpu_pull).median,
                _ => Summary::of(&cpu_cl).median,
            };
            row = row.note(format!(
                "wall {:.3} s, CPU {:.3} s ({:.0}% of one core)",
                secs(s.median),
                cpu,
                cpu / secs(s.median) * 100.0
            ));
            if i == 1 {
                row = row.goal(Goal::all(vec![
                    Goal::at_least(">= 0.5x (b)", s.median / base, 0.5),
                    Goal::at_least(">= 1.0x commitlog", s.median / cl_rate, 1.0),
                ]));
            }
            ctx.push(row);
        }
        let mem = |f: fn(&ChildResult) -> f64| Summary::of(&child.iter().map(f).collect::<Vec<_>>());
        let anon = mem(|c| mib(c.peak_anon_kib));
        let mut row =
            Row::new(&scen, "reader child process", "peak RssAnon", "MiB", anon, Better::Lower).note(format!(
                "RSS beyond mapped file pages; {:.1} MiB before the reader started",
                mem(|c| mib(c.anon_before_kib)).median
            ));
        if n == main_backlog && n >= 1_000_000 {
            row = row.goal(Goal::at_most("<= 32 MiB (1 M backlog)", anon.median, 32.0));
        }
        ctx.push(row);
        ctx.push(
            Row::new(&scen, "reader child process", "peak VmHWM", "MiB", mem(|c| mib(c.hwm_kib)), Better::Lower)
                .note(format!("peak RssFile {:.1} MiB (mapped segments)", mem(|c| mib(c.peak_file_kib)).median)),
        );
        remove(&ls);
        remove(&cl);
        let _ = std::fs::remove_file(&raw);
    }
}
