//! Crash-point exploration: a deterministic workload drives the writer's
//! segment life cycle — create, roll by count, by size and by age, seal,
//! close with empty newest segments and replace them after the re-open,
//! compression, retention deletes, `delete_topic` and re-creation of the
//! same name, recovery — and is run again and again, crashing at its 1st,
//! 2nd, 3rd, … file-system operation (every sync, directory sync, creation,
//! rename, exchange, removal, hole punch; see `logstream::testing::
//! CrashPoints`) until it runs to the end without reaching the crash point.
//! Every crash point is visited; none is sampled.
//!
//! At each crash point both images are built — the `kill -9` image (the
//! files as they are, page cache included) and the power-loss image (only
//! what was synced) — and each is recovered by a new session that reads
//! everything back, writes to every topic, closes, re-opens and reads again.
//! The invariants, checked after every recovery:
//! - every record whose `write()` returned is there after `kill -9`, and
//!   every record acknowledged durable (`flush()` or `write_durable`
//!   returned) after a power loss, with its exact bytes;
//! - what is there is a clean run of sequence numbers, each holding the
//!   bytes written under it (no sequence number shows contents it was not
//!   written with, so none is reused for other data), and the writer's
//!   next sequence number follows it;
//! - records missing at the start of a topic are ones retention noted in
//!   `DROPPED`; a topic being deleted at the crash is either whole or gone;
//! - every topic keeps taking and delivering records after the recovery,
//!   and `verify` finds nothing damaged.
//!
//! The second test crashes the recovery too (a crash during the recovery
//! of a crash), then recovers both images of that crash: in CI at one point
//! of the recovery session per crash point of the workload (a stride that
//! moves through the session as k grows), for the `kill -9` image.
//!
//! `LOGSTREAM_CRASH_POINTS=all` crashes the recovery of both images at each
//! of its points, for every crash point of the workload (tens of thousands
//! of recoveries: hours in a debug build; use `--release`);
//! `LOGSTREAM_CRASH_POINTS=<k>` explores only crash point `k` and keeps its
//! directories (to reproduce a failure: every message names the crash
//! points that led to it, `#k` with the operation).
//!
//! The numbering is the same in every run: no timed sync passes
//! (`flush_interval_ms` of an hour), housekeeping only where the workload
//! runs it, and the workload waits for compression after each flush.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use logstream::testing::{Change, Crash, CrashPoints, CrashRecorder, Crashed, StorageHook, SyncedRange, add_hook};
use parking_lot::{Condvar, Mutex};

const POINTS_ENV: &str = "LOGSTREAM_CRASH_POINTS";

/// About how many operations a recovery session has (the CI sweep's stride
/// through them wraps at this).
const RECOVERY_POINTS: u64 = 60;

/// Records per segment (roll by count), bytes per segment (roll by size).
const MAX_ITEMS: u64 = 5;
const SEGMENT_BYTES: u64 = 64 * 1024;
/// `big` gets records of this size: two fill a segment.
const BIG: usize = 20 * 1024;

fn cfg(dir: &Path) -> logstream::Config {
    cfg_with(dir, false)
}

/// With `retention`, every sealed segment older than 1 ms goes at the next
/// housekeeping (the oldest first, noted in `DROPPED`).
fn cfg_with(dir: &Path, retention: bool) -> logstream::Config {
    let mut c = logstream::Config::new(dir);
    // No timed sync passes: every sync of the workload is one it asked for,
    // so the numbering of operations is the same in every run.
    c.set_flush_interval_ms(3_600_000)
        .set_idx_file_max_item_num(MAX_ITEMS)
        .set_data_file_max_size(SEGMENT_BYTES)
        .set_index_interval_bytes(512)
        .set_segment_max_age_ms(1)
        .set_compress_topics(vec!["c".to_owned()])
        .set_retention_max_age_ms(u64::from(retention));
    c
}

/// One step of a session.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `Writer::open`: recovery, then the model is checked against the log.
    Open,
    /// `Open` with age retention on for the session.
    OpenWithRetention,
    /// `n` records to a topic.
    Write(&'static str, usize),
    /// One record with `write_durable`.
    WriteDurable(&'static str),
    /// `wait_compressed`: a flush, then compression of what it sealed.
    Flush,
    /// Let the active segments age past `segment_max_age_ms`, then run the
    /// housekeeping (age rolls, retention).
    AgeRoll,
    /// `delete_topic(Force)`.
    Delete(&'static str),
    /// `close`.
    Close,
}

use Step::*;

/// The workload: three sessions over four topics (`a` small records, `c`
/// compressed, `d` deleted and re-created, `big` rolled by size); the second
/// session deletes sealed segments by age retention.
const WORKLOAD: &[Step] = &[
    Open,
    Write("a", 7),
    Write("c", 7),
    Write("d", 3),
    Flush,
    Write("big", 3),
    WriteDurable("a"),
    // Every non-empty active segment rolls: each topic's newest segment is
    // empty now.
    AgeRoll,
    Flush,
    // Closing seals the empty segments; the next session replaces them.
    Close,
    OpenWithRetention,
    Write("a", 2),
    Write("c", 6),
    Flush,
    Delete("d"),
    Write("d", 2),
    Flush,
    Write("big", 4),
    // Rolls, and retention deletes every segment sealed durably so far
    // (all but the newest of each topic).
    AgeRoll,
    Flush,
    Write("a", 2),
    AgeRoll,
    Write("c", 1),
    Close,
    Open,
    Write("big", 1),
    Flush,
    Close,
];

/// The session that recovers an image: check, write to every topic (a roll
/// each), close, re-open and check again.
fn recovery_session(topics: &[String]) -> Vec<Step> {
    let mut s = vec![Open];
    for t in topics {
        s.push(Write(leak(t), MAX_ITEMS as usize + 1));
    }
    s.extend([Flush, Close, Open, Close]);
    s
}

fn leak(t: &str) -> &'static str {
    match t {
        "a" => "a",
        "c" => "c",
        "d" => "d",
        "big" => "big",
        other => panic!("unknown topic {other}"),
    }
}

/// What the log must hold for one topic.
#[derive(Debug, Clone, Default)]
struct TopicModel {
    /// Sequence number of `recs[0]` (`None` until the write that created
    /// this incarnation of the topic returned).
    base: Option<u64>,
    /// Every record written to this incarnation, in order (the last may be
    /// one whose write had not returned at the crash).
    recs: Vec<Vec<u8>>,
    /// `write()` returned for the first `acked`.
    acked: usize,
    /// Acknowledged durable: the first `durable`.
    durable: usize,
    /// A `delete_topic` had started: the log may still show this.
    deleting: Option<Box<TopicModel>>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    topics: BTreeMap<String, TopicModel>,
    /// Distinguishes the records of each write call (sessions of the
    /// recovery write other bytes than the workload).
    writes: u64,
    label: &'static str,
    /// The crashes that led here, for messages.
    trail: String,
}

/// Which records a crash image must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// A clean close, or `kill -9`: every acknowledged write.
    Kill,
    /// A power loss: every record acknowledged durable.
    PowerLoss,
}

fn data(topic: &str, label: &str, write: u64, i: usize) -> Vec<u8> {
    let mut v = format!("{topic}/{label}/{write}/{i}/").into_bytes();
    match topic {
        "big" => {
            let fill = (write as usize * 31 + i) as u8;
            v.extend((0..BIG).map(|j| fill.wrapping_add((j / 1000) as u8)));
        }
        // Compresses well.
        "c" => v.extend(b"compressible text ".repeat(60)),
        _ => v.extend(std::iter::repeat_n(b'.', (write as usize * 7 + i) % 50)),
    }
    v
}

fn read_topic(cfg: &logstream::Config, topic: &str) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let mut r = logstream::TopicReader::open(cfg, topic, 0).map_err(|e| format!("opening a reader of {topic}: {e}"))?;
    let mut out = Vec::new();
    loop {
        match r.next_batch(1 << 20) {
            Ok(Some(b)) => out.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec()))),
            Ok(None) => return Ok(out),
            Err(e) => return Err(format!("reading {topic}: {e}")),
        }
    }
}

fn dropped(dir: &Path, topic: &str) -> Vec<(u64, u64)> {
    let p = dir.join("topics").join(topic).join(logstream::format::dropped::FILE);
    let text = std::fs::read_to_string(p).unwrap_or_default();
    logstream::format::dropped::parse(&text).into_iter().map(|d| (d.from, d.to)).collect()
}

/// Checks what the log shows of one topic against one state it may be in;
/// returns how many of the model's records survived.
fn check_topic(m: &TopicModel, got: &[(u64, Vec<u8>)], drops: &[(u64, u64)], after: After) -> Result<usize, String> {
    let required = match after {
        After::Kill => m.acked,
        After::PowerLoss => m.durable,
    };
    let Some(&(first, _)) = got.first() else {
        // Nothing readable: what was acknowledged must have been deleted
        // by retention (noted), and nothing else is left.
        let Some(base) = m.base else {
            return match required {
                0 => Ok(0),
                n => Err(format!("nothing readable; {n} record(s) acknowledged")),
            };
        };
        let end = covered_from(base, drops).saturating_sub(base).min(m.recs.len() as u64) as usize;
        return match end >= required {
            true => Ok(end),
            false => Err(format!("nothing readable; {required} record(s) acknowledged, {end} noted as dropped")),
        };
    };
    let base = m.base.unwrap_or(first);
    if first < base {
        return Err(format!("first record {first} precedes the topic's first {base}"));
    }
    for (i, (seq, bytes)) in got.iter().enumerate() {
        if *seq != first + i as u64 {
            return Err(format!("seq {seq} where {} was due: not a clean run", first + i as u64));
        }
        let idx = (seq - base) as usize;
        match m.recs.get(idx) {
            None => return Err(format!("seq {seq} was never written ({} were)", m.recs.len())),
            Some(want) if want != bytes => {
                return Err(format!(
                    "seq {seq} holds {:?}… but was written as {:?}…",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]),
                    String::from_utf8_lossy(&want[..want.len().min(40)])
                ));
            }
            Some(_) => {}
        }
    }
    // Missing at the start: only what retention deleted and noted.
    let covered = covered_from(base, drops);
    if covered < first {
        return Err(format!("seqs {covered}..{first} are missing and no DROPPED note covers them"));
    }
    let end = (first - base) as usize + got.len();
    if end < required {
        return Err(format!(
            "{} acknowledged, only {end} survived (last readable seq {})",
            required,
            first + got.len() as u64 - 1
        ));
    }
    Ok(end)
}

/// Where the run of `DROPPED` ranges that starts at `base` ends.
fn covered_from(base: u64, drops: &[(u64, u64)]) -> u64 {
    let mut s = base;
    while let Some(&(_, to)) = drops.iter().find(|(from, to)| *from <= s && s < *to) {
        s = to;
    }
    s
}

/// Holds the writer's background threads after a recovering open, so that
/// the session's first writes come before the pass that finishes what
/// recovery sealed — the order that destroyed acknowledged records when an
/// empty newest segment was replaced while that pass still held it — and in
/// every run the same way. The flush thread stops at its first file sync
/// (the pass has taken its work by then), the compression thread at its
/// first operation; both go on at the session's first flush or close.
/// Registered before the crash points, so held operations are numbered when
/// they run.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default, PartialEq, Eq, Debug)]
enum GateState {
    #[default]
    Open,
    /// The next file sync of the flush thread stops.
    Armed,
    /// The flush thread is stopped at it.
    Holding,
}

impl Gate {
    fn arm(&self) {
        *self.state.lock() = GateState::Armed;
    }

    /// Waits until the flush thread is held, or `crashed()` (the pass
    /// failed before its first file sync); the timeout is a safety net.
    fn wait_held(&self, crashed: impl Fn() -> bool) {
        let mut g = self.state.lock();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while *g != GateState::Holding && !crashed() {
            assert!(std::time::Instant::now() < deadline, "the recovery's sync pass never reached a file sync");
            self.cv.wait_for(&mut g, Duration::from_millis(5));
        }
    }

    fn release(&self) {
        *self.state.lock() = GateState::Open;
        self.cv.notify_all();
    }

    fn pass(&self, first_sync: bool) {
        let name = std::thread::current().name().unwrap_or_default().to_owned();
        let flush = name == "logstream-flush";
        if !flush && name != "logstream-compress" {
            return;
        }
        let mut g = self.state.lock();
        if flush && first_sync && *g == GateState::Armed {
            *g = GateState::Holding;
            self.cv.notify_all();
        }
        while *g == GateState::Holding {
            self.cv.wait(&mut g);
        }
    }
}

impl StorageHook for Gate {
    fn before_sync(&self, _range: &SyncedRange<'_>) -> std::io::Result<()> {
        self.pass(true);
        Ok(())
    }
    fn before_fs_sync(&self, _path: &Path) -> std::io::Result<()> {
        self.pass(true);
        Ok(())
    }
    fn before_dir_sync(&self, _dir: &Path) -> std::io::Result<()> {
        self.pass(false);
        Ok(())
    }
    fn before_change(&self, _change: &Change<'_>) -> std::io::Result<()> {
        self.pass(false);
        Ok(())
    }
}

/// A session's writer and model, with the crash points it may stop at.
struct Session<'a> {
    dir: PathBuf,
    cp: Option<&'a CrashPoints>,
    w: Option<logstream::Writer>,
    model: Model,
    /// How the model's requirements apply at the next `Open`.
    after: After,
    steps_done: usize,
    /// The open writer applies age retention.
    retention: bool,
    gate: Arc<Gate>,
}

/// Why a session stopped.
enum Stopped {
    Finished,
    Crashed,
}

impl Session<'_> {
    fn crashed(&self) -> bool {
        self.cp.is_some_and(|c| c.has_crashed())
    }

    fn ctx(&self) -> String {
        let op = self.cp.map(|c| c.last_op()).unwrap_or_default();
        format!(
            "{} [{}] in {} at step {} (last operation {op})",
            self.model.label,
            self.model.trail,
            self.dir.display(),
            self.steps_done
        )
    }

    fn writer(&self) -> &logstream::Writer {
        self.w.as_ref().unwrap_or_else(|| panic!("{}: no writer open", self.ctx()))
    }

    /// An error is fine only when the crash caused it.
    fn ok<T>(&self, what: &str, r: logstream::Result<T>) -> Option<T> {
        match r {
            _ if self.crashed() => None,
            Ok(v) => Some(v),
            Err(e) => panic!("{}: {what} failed without a crash: {e}", self.ctx()),
        }
    }

    fn run(&mut self, steps: &[Step]) -> Stopped {
        for (i, step) in steps.iter().enumerate() {
            self.steps_done = i;
            if self.crashed() || !self.step(*step) {
                return Stopped::Crashed;
            }
        }
        Stopped::Finished
    }

    /// Runs one step; false when the crash stopped it.
    fn step(&mut self, step: Step) -> bool {
        match step {
            Open | OpenWithRetention => {
                let c = cfg_with(&self.dir, matches!(step, OpenWithRetention));
                self.retention = matches!(step, OpenWithRetention);
                self.gate.arm();
                let Some(w) = self.ok("Writer::open", logstream::Writer::open(&c)) else { return false };
                let pass_pending = w.recovery_report().topics.iter().any(|t| t.segments_checked > 0);
                if pass_pending {
                    // The pass that finishes what recovery sealed is held
                    // until the first flush: the writes come first.
                    let cp = self.cp;
                    self.gate.wait_held(|| cp.is_some_and(|c| c.has_crashed()));
                } else {
                    self.gate.release();
                }
                self.check(&c, &w);
                self.after = After::Kill;
                self.w = Some(w);
            }
            Write(topic, n) => {
                for _ in 0..n {
                    if !self.write(topic, false) {
                        return false;
                    }
                }
            }
            WriteDurable(topic) => {
                // It waits for a pass.
                self.gate.release();
                return self.write(topic, true);
            }
            Flush => {
                self.gate.release();
                if self.ok("wait_compressed", self.writer().wait_compressed()).is_none() {
                    return false;
                }
                for m in self.model.topics.values_mut() {
                    m.durable = m.acked;
                }
            }
            AgeRoll => {
                // `segment_max_age_ms` is 1: wait until every active segment
                // is older; with retention, until the newest record of every
                // sealed segment is older than 1 ms by the coarse clock
                // record times come from (a tick is up to 10 ms).
                std::thread::sleep(Duration::from_millis(if self.retention { 12 } else { 2 }));
                if self.ok("run_housekeeping", self.writer().run_housekeeping()).is_none() {
                    return false;
                }
            }
            Delete(topic) => {
                let old = self.model.topics.remove(topic).unwrap_or_default();
                let deleting = TopicModel { deleting: Some(Box::new(old)), ..TopicModel::default() };
                self.model.topics.insert(topic.to_owned(), deleting);
                let r = self.writer().delete_topic(topic, logstream::DeleteMode::Force);
                if self.ok("delete_topic", r).is_none() {
                    return false;
                }
                if let Some(m) = self.model.topics.get_mut(topic) {
                    m.deleting = None;
                }
            }
            Close => {
                self.gate.release();
                let w = self.w.take().unwrap_or_else(|| panic!("{}: close without a writer", self.ctx()));
                if self.ok("close", w.close()).is_none() {
                    return false;
                }
                for m in self.model.topics.values_mut() {
                    m.durable = m.acked;
                }
            }
        }
        true
    }

    fn write(&mut self, topic: &str, durable: bool) -> bool {
        self.model.writes += 1;
        let (label, n) = (self.model.label, self.model.writes);
        let m = self.model.topics.entry(topic.to_owned()).or_default();
        let bytes = data(topic, label, n, m.recs.len());
        m.recs.push(bytes.clone());
        let w = self.writer();
        let r = if durable { w.write_durable(topic, &bytes) } else { w.write(topic, &bytes) };
        let Some(seq) = self.ok("write", r) else { return false };
        let ctx = self.ctx();
        let m = self.model.topics.get_mut(topic).unwrap_or_else(|| panic!("{ctx}: topic {topic} left the model"));
        let idx = m.recs.len() as u64 - 1;
        match m.base {
            None => m.base = Some(seq - idx.min(seq)),
            Some(b) => assert_eq!(seq, b + idx, "{ctx}: {topic}: write returned seq {seq}, {} was due", b + idx),
        }
        m.acked = m.recs.len();
        if durable {
            m.durable = m.acked;
        }
        true
    }

    /// After an open: the log holds what the model requires, and the
    /// model becomes what survived.
    fn check(&mut self, c: &logstream::Config, w: &logstream::Writer) {
        let ctx = self.ctx();
        let after = self.after;
        for (t, m) in self.model.topics.iter_mut() {
            let got = read_topic(c, t).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let drops = dropped(&self.dir, t);
            let mut states: Vec<TopicModel> = Vec::new();
            if let Some(old) = &m.deleting {
                states.push((**old).clone());
            }
            states.push(TopicModel { deleting: None, ..m.clone() });
            let mut problems = Vec::new();
            let mut matched = None;
            for s in states {
                match check_topic(&s, &got, &drops, after) {
                    Ok(end) => {
                        matched = Some((s, end));
                        break;
                    }
                    Err(p) => problems.push(p),
                }
            }
            let Some((mut s, end)) = matched else {
                panic!(
                    "{ctx}: topic {t} after {after:?}: {}; recovery {:?}; files {:?}",
                    problems.join(" / or, if the delete happened: "),
                    w.recovery_report().topics.iter().find(|r| r.topic == *t),
                    list(&self.dir.join("topics").join(t))
                )
            };
            if let Some(base) = got.first().map(|g| s.base.unwrap_or(g.0)).or(s.base.filter(|_| end > 0)) {
                s.base = Some(base);
                let next = w.next_seq(t).unwrap_or_else(|e| panic!("{ctx}: next_seq of {t}: {e}"));
                assert_eq!(next, base + end as u64, "{ctx}: {t}: the writer would continue at {next}");
            } else {
                // Nothing survived (a power loss took the topic's first
                // records, or it was deleted): where the next write starts
                // is the writer's to say.
                s.base = None;
            }
            s.recs.truncate(end);
            s.acked = end;
            s.durable = s.durable.min(end);
            *m = s;
        }
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs `steps` on `dir` from `model`, crashing at `point` if given (the
/// images go under `images`); returns the crash (if any) and the model at
/// the end or at the crash.
fn run_session(
    dir: &Path,
    durable: Arc<CrashRecorder>,
    steps: &[Step],
    model: Model,
    after: After,
    crash: Option<(u64, &Path)>,
) -> (Option<Crashed>, Model, After) {
    let gate = Arc::new(Gate::default());
    add_hook(dir, gate.clone());
    let cp = CrashPoints::install(dir);
    cp.watch(durable);
    if let Some((point, images)) = crash {
        std::fs::create_dir_all(images).unwrap();
        cp.arm(point, images.join("kill"), images.join("power"));
    }
    let mut s = Session {
        dir: dir.to_path_buf(),
        cp: Some(&cp),
        w: None,
        model,
        after,
        steps_done: 0,
        retention: false,
        gate: gate.clone(),
    };
    let stopped = s.run(steps);
    gate.release();
    // The killed writer's threads stop now; nothing they do reaches the images.
    drop(s.w.take());
    cp.uninstall();
    let crashed = cp.crashed().unwrap_or_else(|e| panic!("{e}"));
    match stopped {
        Stopped::Finished => assert!(crashed.is_none(), "the session finished past its crash point"),
        Stopped::Crashed => assert!(crashed.is_some(), "the session stopped without a crash"),
    }
    (crashed, s.model, s.after)
}

/// Copies `image` (whose durable state `durable` knows) to `to`, returning
/// what is durable in the copy.
fn copy_image(durable: &CrashRecorder, to: &Path) -> Arc<CrashRecorder> {
    durable.crash_image(to, Crash::ProcessKill).unwrap();
    durable.continued(to).unwrap()
}

/// Recovers `image` with the recovery session (crashing it at `point` if
/// given, and then recovering both images of that crash in turn); checks
/// the invariants. Returns the number of operations of the session.
fn recover(image: &Path, durable: Arc<CrashRecorder>, model: &Model, after: After, point: Option<u64>) -> bool {
    let topics: Vec<String> = model.topics.keys().cloned().collect();
    let steps = recovery_session(&topics);
    let mut m = model.clone();
    m.label = "recovery";
    let images = image.with_extension("crash");
    let (crashed, m2, pending) = run_session(image, durable, &steps, m, after, point.map(|p| (p, images.as_path())));
    let was = crashed.is_some();
    if let Some(c) = crashed {
        let mut m3 = m2.clone();
        m3.label = "second recovery";
        m3.trail = format!("{}, then recovery crash point {}", m3.trail, c.op);
        let d = c.kill_durable.clone();
        // Crashed before the session's first open had checked the log: the
        // first crash's loss still applies (after a power loss, a kill -9
        // of its recovery owes only what was flushed).
        let kill_after = if pending == After::PowerLoss { After::PowerLoss } else { After::Kill };
        recover(&c.kill_image, d, &m3, kill_after, None);
        let d = CrashRecorder::durable(&c.power_image).unwrap();
        recover(&c.power_image, d, &m3, After::PowerLoss, None);
    } else {
        let report = logstream::verify(&cfg(image)).unwrap();
        assert!(report.is_clean(), "{}: verify after the recovery session: {report:?}", image.display());
    }
    was
}

/// Where the recovery of an image is crashed.
enum Second {
    /// Nowhere.
    Never,
    /// At this operation of the recovery session (if it has that many).
    At(u64),
    /// At each of its operations in turn.
    Every,
}

/// A directory for one crash point's runs: in memory where there is a
/// tmpfs (the crash images are built from what the hooks saw, so real
/// syncs would only cost time).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new().prefix("logstream-crash-").tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// Explores crash point `k` of the workload; `None` when the workload
/// finished before reaching it. `second(k, after, n)` picks the crash points
/// of the recovery session of each image (`n`: its number of operations).
/// With `plain`, each image is also recovered without a second crash.
fn explore(k: u64, keep: bool, plain: bool, second: &dyn Fn(u64, After) -> Second) -> Option<(String, usize)> {
    let mut tmp = scratch();
    if keep {
        // Reproducing one crash point: leave the images for a look.
        tmp.disable_cleanup(true);
        println!("crash point {k}: directories under {}", tmp.path().display());
    }
    let live = tmp.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let images = tmp.path().join("crash");
    let model = Model { label: "workload", ..Model::default() };
    let rec = CrashRecorder::new(&live);
    let (crashed, model, _) = run_session(&live, rec, WORKLOAD, model, After::Kill, Some((k, &images)));
    let c = crashed?;
    let mut model = model;
    model.trail = format!("workload crash point {}", c.op);
    let mut doubles = 0;
    for (img, after) in [(&c.kill_image, After::Kill), (&c.power_image, After::PowerLoss)] {
        let durable = match after {
            After::Kill => c.kill_durable.clone(),
            After::PowerLoss => CrashRecorder::durable(img).unwrap(),
        };
        // Each recovery runs on a copy: the image itself stays as the crash left it.
        let mut m = model.clone();
        m.trail = format!("{} ({after:?} image)", m.trail);
        if plain {
            let copy = tmp.path().join(format!("recovered-{after:?}"));
            let d = copy_image(&durable, &copy);
            recover(&copy, d, &m, after, None);
        }
        let points: Box<dyn Iterator<Item = u64>> = match second(k, after) {
            Second::Never => Box::new(std::iter::empty()),
            Second::At(j) => Box::new(std::iter::once(j)),
            Second::Every => Box::new(1..),
        };
        for j in points {
            let copy = tmp.path().join(format!("crashed-again-{after:?}-{j}"));
            let d = copy_image(&durable, &copy);
            let crashed = recover(&copy, d, &m, after, Some(j));
            if !keep {
                // `all` makes thousands of these: keep the scratch space small.
                let _ = std::fs::remove_dir_all(&copy);
                let _ = std::fs::remove_dir_all(copy.with_extension("crash"));
            }
            if !crashed {
                // The session ended before operation j: all were explored.
                break;
            }
            doubles += 1;
        }
    }
    Some((c.op, doubles))
}

/// Explores the workload's crash points in turn (or only the one
/// `LOGSTREAM_CRASH_POINTS` names) until it runs to the end.
fn sweep(what: &str, plain: bool, second: &dyn Fn(u64, After) -> Second) {
    let only: Option<u64> = std::env::var(POINTS_ENV).ok().and_then(|s| s.parse().ok());
    let started = std::time::Instant::now();
    let mut k = only.unwrap_or(1);
    let mut doubles = 0;
    while let Some((op, d)) = explore(k, only.is_some(), plain, second) {
        doubles += d;
        if only.is_some() {
            println!("crash point {k} ({op}) explored");
            break;
        }
        k += 1;
    }
    let explored = if only.is_some() { 1 } else { k - 1 };
    println!(
        "{what}: explored {explored} crash points of the workload, {doubles} crashes of a recovery, in {:.1?}",
        started.elapsed()
    );
    assert!(only.is_some() || explored > 100, "the workload has only {explored} crash points");
}

fn all_points() -> bool {
    std::env::var(POINTS_ENV).is_ok_and(|s| s == "all")
}

#[test]
fn a_crash_at_any_file_system_operation_of_the_segment_life_cycle_loses_nothing_acknowledged() {
    sweep("single crashes", true, &|_, _| Second::Never);
}

#[test]
fn a_crash_during_the_recovery_of_a_crash_loses_nothing_acknowledged() {
    // The recovery session's crash points: in CI one per workload crash
    // point of the kill -9 image, moving through the session as k grows
    // (a prime stride over its ~60 operations); with `all`, every one, for
    // both images.
    let all = all_points();
    sweep("crashes during recovery", false, &move |k, after| {
        if all {
            Second::Every
        } else if after == After::PowerLoss {
            Second::Never
        } else {
            Second::At(1 + (k * 7) % RECOVERY_POINTS)
        }
    });
}
