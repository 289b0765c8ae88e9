//! Command-line options.

use std::path::PathBuf;

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Records per throughput run (default 1 000 000).
    pub records: u64,
    /// Record size in bytes for the main scenarios (default 100).
    pub size: usize,
    /// Topic counts for the topic-scaling scenario (default 1,100,10000).
    pub topics: Vec<usize>,
    /// Writer threads for the multi-threaded scenarios (default 2).
    pub threads: usize,
    /// Offered rates (records/s) for the live tail scenario (default 10k,100k,1M).
    pub rates: Vec<u64>,
    /// Offered rate of the write-latency scenario (default 1M/s).
    pub latency_rate: u64,
    /// Record size of the write-latency scenario (default 64).
    pub latency_size: usize,
    /// Repetitions per subject after one discarded warm-up (default 5).
    pub reps: usize,
    /// Directory under which the temporary directories are made (default ".").
    pub dir: PathBuf,
    /// Where to write the table as JSON.
    pub json: Option<PathBuf>,
    /// Where to draw the headline chart (SVG).
    pub svg: Option<PathBuf>,
    /// A saved JSON report to draw instead of running.
    pub chart: Option<PathBuf>,
    /// Tiny sizes for CI: no speed is asserted.
    pub quick: bool,
    /// Record sizes for the size-scaling scenario (default 16,100,1024,65536).
    pub sizes: Vec<usize>,
    /// Data bytes per run of the size-scaling scenario (default 64 MiB).
    pub size_budget: u64,
    /// Backlogs for the catch-up scaling (default 100000 and --records).
    pub backlogs: Vec<u64>,
    /// Bytes of segments before the SIGKILL of the recovery scenario (default 1 GiB).
    pub recovery_bytes: u64,
    /// Seconds per live-tail run (default 1).
    pub tail_secs: f64,
    /// Bare `fdatasync`s per run, and `write_durable` calls per run spread
    /// over the threads, of the group-commit scenario (default 2000).
    pub syncs: u64,
    /// Durable batches of 1000 records per run (default 100).
    pub batches: u64,
    /// JSON events of the compression scenario (default 300000).
    pub json_records: u64,
    /// Scenarios to run (default all): write, threads, durable, groupcommit,
    /// batch, latency, catchup, compress, tail, async, recovery, sizes,
    /// topics, takeover.
    pub only: Vec<String>,
    /// `meta.json` keys (a JSON object) applied to every logstream config.
    pub meta: Option<String>,
}

/// Every scenario name `--only` accepts.
pub const SCENARIOS: &[&str] = &[
    "write",
    "threads",
    "durable",
    "groupcommit",
    "batch",
    "latency",
    "catchup",
    "compress",
    "tail",
    "async",
    "recovery",
    "sizes",
    "topics",
    "takeover",
];

const USAGE: &str = "\
logstream-bench: end-to-end benchmarks of logstream against same-run baselines and peers

USAGE: logstream-bench [OPTIONS]

  --records N          records per throughput run (default 1000000)
  --size BYTES         record size of the main scenarios (default 100)
  --topics LIST        topic counts to scale over (default 1,100,10000)
  --threads N          writer threads of the multi-threaded scenarios (default 2)
  --rate LIST          offered rates of the live-tail scenario (default 10000,100000,1000000)
  --latency-rate N     offered rate of the write-latency scenario (default 1000000)
  --latency-size BYTES record size of the write-latency scenario (default 64)
  --reps N             interleaved repetitions after one discarded warm-up (default 5)
  --dir PATH           where temporary directories go (default .; use a real disk, not tmpfs)
  --json PATH          also write the table as JSON
  --svg PATH           also draw the headline chart (ratios to same-run references) as SVG
  --chart JSON         with --svg: draw the chart of a saved --json report, run nothing
  --sizes LIST         record sizes to scale over (default 16,100,1024,65536)
  --size-budget SIZE   data bytes per size-scaling run (default 64M)
  --backlogs LIST      catch-up backlogs (default 100000,<records>)
  --recovery-bytes SIZE  segment bytes written before the SIGKILL (default 1G)
  --tail-secs S        seconds per live-tail run (default 1)
  --syncs N            group commit: bare fdatasyncs per run, and write_durable calls per run
                       spread over 8 threads (default 2000)
  --batches N          durable batches of 1000 records per run (default 100)
  --json-records N     JSON events of the compression scenario (default 300000)
  --only LIST          run only these of: write,threads,durable,groupcommit,batch,latency,
                       catchup,compress,tail,async,recovery,sizes,topics,takeover
  --meta JSON          meta.json keys for every logstream config, e.g. '{\"flush_interval_ms\": 1000}'
  --quick              tiny sizes and 1 repetition (CI smoke; asserts nothing about speed)
  -h, --help           this text
";

fn list<T: std::str::FromStr>(flag: &str, v: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().replace('_', "").parse::<T>().map_err(|_| format!("{flag}: cannot parse {s:?}")))
        .collect()
}

fn one<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.trim().replace('_', "").parse::<T>().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

impl Opts {
    /// Parses `args` (without the program name). `Err` carries the message
    /// to print; `--help` returns the usage text as an error too.
    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            records: 1_000_000,
            size: 100,
            topics: vec![1, 100, 10_000],
            threads: 2,
            rates: vec![10_000, 100_000, 1_000_000],
            latency_rate: 1_000_000,
            latency_size: 64,
            reps: 5,
            dir: PathBuf::from("."),
            json: None,
            svg: None,
            chart: None,
            quick: false,
            sizes: vec![16, 100, 1024, 65536],
            size_budget: 64 << 20,
            backlogs: Vec::new(),
            recovery_bytes: 1 << 30,
            tail_secs: 1.0,
            syncs: 2000,
            batches: 100,
            json_records: 300_000,
            only: Vec::new(),
            meta: None,
        };
        let mut set = std::collections::HashSet::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                return Err(USAGE.into());
            }
            if flag == "--quick" {
                o.quick = true;
                continue;
            }
            let v = it.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
            set.insert(flag.clone());
            match flag.as_str() {
                "--records" => o.records = one(flag, v)?,
                "--size" => o.size = one(flag, v)?,
                "--topics" => o.topics = list(flag, v)?,
                "--threads" => o.threads = one(flag, v)?,
                "--rate" => o.rates = list(flag, v)?,
                "--latency-rate" => o.latency_rate = one(flag, v)?,
                "--latency-size" => o.latency_size = one(flag, v)?,
                "--reps" => o.reps = one(flag, v)?,
                "--dir" => o.dir = PathBuf::from(v),
                "--json" => o.json = Some(PathBuf::from(v)),
                "--svg" => o.svg = Some(PathBuf::from(v)),
                "--chart" => o.chart = Some(PathBuf::from(v)),
                "--sizes" => o.sizes = list(flag, v)?,
                "--size-budget" => o.size_budget = logstream::parse_size(v).map_err(|e| format!("{flag}: {e}"))?,
                "--backlogs" => o.backlogs = list(flag, v)?,
                "--recovery-bytes" => {
                    o.recovery_bytes = logstream::parse_size(v).map_err(|e| format!("{flag}: {e}"))?;
                }
                "--tail-secs" => o.tail_secs = one(flag, v)?,
                "--syncs" => o.syncs = one(flag, v)?,
                "--batches" => o.batches = one(flag, v)?,
                "--json-records" => o.json_records = one(flag, v)?,
                "--meta" => o.meta = Some(v.clone()),
                "--only" => {
                    o.only = list(flag, v)?;
                    if let Some(bad) = o.only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
                        return Err(format!("--only: unknown scenario {bad:?}; known: {}", SCENARIOS.join(",")));
                    }
                }
                _ => return Err(format!("unknown option {flag}\n\n{USAGE}")),
            }
        }
        if o.quick {
            // Small enough for CI; explicit flags still win.
            let keep = |f: &str| set.contains(f);
            if !keep("--records") {
                o.records = 2000;
            }
            if !keep("--reps") {
                o.reps = 1;
            }
            if !keep("--topics") {
                o.topics = vec![1, 10];
            }
            if !keep("--rate") {
                o.rates = vec![10_000];
            }
            if !keep("--sizes") {
                o.sizes = vec![16, 1024];
            }
            if !keep("--size-budget") {
                o.size_budget = 1 << 20;
            }
            if !keep("--recovery-bytes") {
                o.recovery_bytes = 4 << 20;
            }
            if !keep("--tail-secs") {
                o.tail_secs = 0.2;
            }
            if !keep("--latency-rate") {
                o.latency_rate = 100_000;
            }
            if !keep("--syncs") {
                o.syncs = 160;
            }
            if !keep("--batches") {
                o.batches = 5;
            }
            if !keep("--json-records") {
                o.json_records = o.records;
            }
        }
        if o.backlogs.is_empty() {
            o.backlogs = if o.records >= 1_000_000 { vec![o.records / 10, o.records] } else { vec![o.records] };
        }
        if o.records == 0 || o.reps == 0 || o.threads == 0 || o.syncs == 0 || o.batches == 0 || o.json_records == 0 {
            return Err("--records, --reps, --threads, --syncs, --batches and --json-records must be at least 1".into());
        }
        Ok(o)
    }

    /// Whether scenario `name` is selected.
    pub fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == name)
    }
}
