//! Clocks, CPU time, memory counters and the interleaved-repetition driver.
//!
//! Everything here follows `DESIGN-NOTES.md` §10: on a shared 2-core machine
//! one run means little, so every subject is warmed up once (discarded), then
//! run `reps` times interleaved with the others, and summarised by its median
//! and its spread (min..max).

use std::time::{Duration, Instant};

/// A cheap monotonic clock for per-record latencies: the TSC on x86-64
/// (calibrated against `Instant`), `Instant` elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    ns_per_tick: f64,
    origin: u64,
}

impl Ticks {
    /// Calibrates the clock over about 50 ms.
    pub fn calibrate() -> Ticks {
        let t0 = Instant::now();
        let c0 = raw_ticks();
        while t0.elapsed() < Duration::from_millis(50) {
            std::hint::spin_loop();
        }
        let c1 = raw_ticks();
        let ns = t0.elapsed().as_nanos() as f64;
        let per = if c1 > c0 { ns / (c1 - c0) as f64 } else { 1.0 };
        Ticks { ns_per_tick: per, origin: c0 }
    }

    /// The raw counter now.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        raw_ticks()
    }

    /// Nanoseconds between two raw readings (0 if `b` is before `a`).
    #[inline(always)]
    pub fn ns(&self, a: u64, b: u64) -> u64 {
        (b.saturating_sub(a) as f64 * self.ns_per_tick) as u64
    }

    /// Nanoseconds since calibration: a process-wide monotonic time stamp.
    #[inline(always)]
    pub fn stamp(&self) -> u64 {
        self.ns(self.origin, raw_ticks())
    }

    /// Raw ticks for a span of nanoseconds.
    pub fn ticks_for_ns(&self, ns: f64) -> f64 {
        ns / self.ns_per_tick
    }

    /// Median cost of reading the clock twice back to back, in nanoseconds.
    pub fn overhead_ns(&self) -> f64 {
        let mut v: Vec<u64> = (0..10_001)
            .map(|_| {
                let a = self.now();
                let b = self.now();
                b - a
            })
            .collect();
        v.sort_unstable();
        v[v.len() / 2] as f64 * self.ns_per_tick
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn raw_ticks() -> u64 {
    // The TSC is constant-rate and the kernel's own clocksource here
    // (`/sys/devices/system/clocksource/clocksource0/current_clocksource`);
    // reading it directly avoids the vDSO call of `Instant::now`.
    #[allow(unused_unsafe, reason = "`_rdtsc` is safe in newer toolchains")]
    // SAFETY: `rdtsc` reads a counter; it has no memory-safety preconditions
    // (x86_64 always has it).
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn raw_ticks() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// User and system CPU time, in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// User time.
    pub user: f64,
    /// System time.
    pub sys: f64,
}

impl Cpu {
    /// CPU time of the whole process so far.
    pub fn process() -> Cpu {
        rusage(libc::RUSAGE_SELF)
    }

    /// CPU time of the calling thread so far.
    pub fn thread() -> Cpu {
        rusage(libc::RUSAGE_THREAD)
    }

    /// CPU time spent since `earlier`.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu { user: self.user - earlier.user, sys: self.sys - earlier.sys }
    }

    /// User plus system.
    pub fn total(self) -> f64 {
        self.user + self.sys
    }
}

fn rusage(who: libc::c_int) -> Cpu {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `who` is RUSAGE_SELF or RUSAGE_THREAD.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    if rc != 0 {
        return Cpu::default();
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cpu { user: tv(ru.ru_utime), sys: tv(ru.ru_stime) }
}

/// Memory figures of a process from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    /// Peak resident set (`VmHWM`).
    pub hwm_kib: u64,
    /// Resident anonymous memory (`RssAnon`): heap, stacks, private copies.
    pub anon_kib: u64,
    /// Resident file-backed pages (`RssFile`): mapped segments and the binary.
    pub file_kib: u64,
    /// Resident shared memory (`RssShmem`).
    pub shmem_kib: u64,
}

impl Mem {
    /// Reads `/proc/<pid>/status` (`None` if the process is gone).
    pub fn of(pid: u32) -> Option<Mem> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mut m = Mem::default();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(key), Some(val)) = (it.next(), it.next()) else { continue };
            let v: u64 = val.parse().unwrap_or(0);
            match key {
                "VmHWM:" => m.hwm_kib = v,
                "RssAnon:" => m.anon_kib = v,
                "RssFile:" => m.file_kib = v,
                "RssShmem:" => m.shmem_kib = v,
                _ => {}
            }
        }
        Some(m)
    }
}

/// Median, minimum and maximum of repeated measurements.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Summary {
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Summary {
    /// Summarises `values` (NaN-free).
    pub fn of(values: &[f64]) -> Summary {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Summary { median: f64::NAN, min: f64::NAN, max: f64::NAN, n };
        }
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Summary { median, min: v[0], max: v[n - 1], n }
    }

    /// One measurement (no spread).
    pub fn single(v: f64) -> Summary {
        Summary { median: v, min: v, max: v, n: 1 }
    }
}

/// One subject of an interleaved comparison: a name and a run that returns
/// one measurement (for example records per second).
pub struct Subject<'a> {
    /// Name shown in the table.
    pub name: String,
    /// Runs the subject once.
    pub run: Box<dyn FnMut() -> f64 + 'a>,
}

impl<'a> Subject<'a> {
    /// A named subject.
    pub fn new(name: impl Into<String>, run: impl FnMut() -> f64 + 'a) -> Subject<'a> {
        Subject { name: name.into(), run: Box::new(run) }
    }
}

/// Runs every subject once as a discarded warm-up, then `reps` rounds in which
/// each subject runs once, in turn (a, b, c, a, b, c, ...). Returns the
/// summaries in the subjects' order.
pub fn interleave(reps: usize, subjects: &mut [Subject<'_>]) -> Vec<(String, Summary, Vec<f64>)> {
    for s in subjects.iter_mut() {
        let _ = (s.run)();
    }
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); subjects.len()];
    for _ in 0..reps {
        for (i, s) in subjects.iter_mut().enumerate() {
            values[i].push((s.run)());
        }
    }
    subjects.iter().zip(values).map(|(s, v)| (s.name.clone(), Summary::of(&v), v)).collect()
}
