//! `logstream-bench`: end-to-end benchmarks of logstream.
//!
//! Runs every scenario in one process and prints one table: absolute figures
//! (median and spread of interleaved repetitions), the ratio to the baselines
//! measured in the same run, and the performance issue's goals. See
//! `BENCHMARKS.md` for a real run and what limits each scenario.
//!
//! Hidden subcommands re-exec this binary as a child: `__catchup DIR GROUP N`
//! (a reader whose memory the parent samples) and `__kill-writer DIR SIZE
//! BYTES` (a writer the parent kills with SIGKILL) and `__member DIR
//! sticky|plain` (a group member the takeover scenario kills, stops or
//! sticks). Two more exist for
//! profilers (`perf record`, `valgrind --tool=callgrind`): `__burst DIR N SIZE
//! [TOPICS]` times one write burst into a fresh directory (round-robin over
//! TOPICS topics, created first) and removes it, and `__backlog DIR N SIZE`
//! writes a backlog and keeps it for `__catchup`.

mod async_read;
mod baseline;
mod batch;
mod chart;
mod compress;
mod ctx;
mod events;
mod group_commit;
mod latency;
mod measure;
mod opts;
mod peers;
mod read;
mod recovery;
mod report;
mod takeover;
mod write;

use std::time::Instant;

use ctx::Ctx;
use report::{Machine, Report};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(text) = std::env::var(ctx::META_ENV)
        && let Err(e) = ctx::set_meta(&text)
    {
        eprintln!("{e}");
        std::process::exit(2);
    }
    match args.first().map(String::as_str) {
        Some("__catchup") => std::process::exit(read::child_main(&args[1..])),
        Some("__kill-writer") => std::process::exit(recovery::child_main(&args[1..])),
        Some("__member") => std::process::exit(takeover::child_main(&args[1..])),
        Some("__burst") => std::process::exit(write::profile_main(&args[1..], false)),
        Some("__backlog") => std::process::exit(write::profile_main(&args[1..], true)),
        _ => {}
    }
    let opts = match opts::Opts::parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            let help = args.iter().any(|a| a == "-h" || a == "--help");
            if help {
                print!("{msg}");
                return;
            }
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    if let Some(saved) = &opts.chart {
        let Some(out) = &opts.svg else {
            eprintln!("--chart needs --svg PATH (where to draw it)");
            std::process::exit(2);
        };
        let text = std::fs::read_to_string(saved).unwrap_or_else(|e| panic!("read {}: {e}", saved.display()));
        let report: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not a report: {e}", saved.display()));
        std::fs::write(out, chart::svg(&report)).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
        eprintln!("drew {}", out.display());
        return;
    }
    if let Some(text) = &opts.meta
        && let Err(e) = ctx::set_meta(text)
    {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let started = Instant::now();
    let started_utc = utc_now();
    let mut ctx = Ctx::new(opts);
    let machine = machine(&ctx.root);
    eprintln!(
        "logstream-bench {} on {} ({} CPUs), scratch {} ({}), {} reps",
        started_utc,
        machine.cpu,
        machine.cpus,
        ctx.root.display(),
        machine.filesystem,
        ctx.opts.reps
    );
    if ctx.opts.runs("write") {
        write::burst(&mut ctx);
    }
    if ctx.opts.runs("threads") {
        write::threads(&mut ctx);
    }
    if ctx.opts.runs("durable") {
        write::durable(&mut ctx);
    }
    if ctx.opts.runs("groupcommit") {
        group_commit::group_commit(&mut ctx);
    }
    if ctx.opts.runs("batch") {
        batch::durable_batches(&mut ctx);
    }
    if ctx.opts.runs("latency") {
        latency::write_latency(&mut ctx);
    }
    if ctx.opts.runs("catchup") {
        read::catchup(&mut ctx);
    }
    if ctx.opts.runs("compress") {
        compress::compression(&mut ctx);
    }
    if ctx.opts.runs("tail") {
        latency::tail(&mut ctx);
    }
    if ctx.opts.runs("async") {
        async_read::async_readers(&mut ctx);
    }
    if ctx.opts.runs("recovery") {
        recovery::recovery(&mut ctx);
    }
    if ctx.opts.runs("sizes") {
        write::sizes(&mut ctx);
    }
    if ctx.opts.runs("topics") {
        write::topics(&mut ctx);
    }
    if ctx.opts.runs("takeover") {
        takeover::takeover(&mut ctx);
    }
    let mut machine = machine;
    machine.loadavg_end = loadavg();
    let report = Report {
        started_utc,
        wall_seconds: started.elapsed().as_secs_f64(),
        command: std::iter::once("logstream-bench".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        machine,
        reps: ctx.opts.reps,
        rows: std::mem::take(&mut ctx.rows),
    };
    println!(
        "\nlogstream-bench, {} UTC, {:.0} s, {} reps interleaved after a discarded warm-up; {} on {} CPUs, {}; \
         loadavg {} at the start, {} at the end\n",
        report.started_utc,
        report.wall_seconds,
        report.reps,
        report.machine.cpu,
        report.machine.cpus,
        report.machine.filesystem,
        report.machine.loadavg_start,
        report.machine.loadavg_end
    );
    println!("{}", report::table(&report.rows));
    let goals: Vec<_> = report.rows.iter().filter_map(|r| r.goal.as_ref()).collect();
    println!("goals met: {} of {}", goals.iter().filter(|g| g.met).count(), goals.len());
    if let Some(path) = &ctx.opts.json {
        let text = serde_json::to_string_pretty(&report).expect("serialize report");
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &ctx.opts.svg {
        let value = serde_json::to_value(&report).expect("serialize report");
        std::fs::write(path, chart::svg(&value)).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("drew {}", path.display());
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS`.
fn utc_now() -> String {
    utc(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string()
}

fn machine(dir: &std::path::Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_string(), |s| s.trim().to_string());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    // The mount whose path is the longest prefix of `dir`.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let filesystem = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && dir.starts_with(f[1])).then(|| (f[1].len(), format!("{} {} on {}", f[0], f[2], f[1])))
        })
        .max_by_key(|(n, _)| *n)
        .map_or_else(|| "unknown file system".to_string(), |(_, s)| s);
    Machine { cpu, cpus, kernel, filesystem, loadavg_start: loadavg(), loadavg_end: String::new() }
}
