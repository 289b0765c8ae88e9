//! Criterion micro-benchmarks of `write()`: record sizes on one topic (through
//! `TopicWriter` and `Writer::write`), and records spread over many topics.
//!
//! Each sample writes into a warm writer; the writer is replaced (untimed)
//! whenever it has taken `ROTATE_BYTES`, so a long measurement does not fill
//! the disk. `cargo bench --bench write`.
#![expect(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Data written into one writer before it is replaced by a fresh one.
const ROTATE_BYTES: u64 = 256 << 20;

/// A warm writer in its own temporary directory.
struct Rig {
    topics: Vec<logstream::TopicWriter>,
    names: Vec<String>,
    writer: logstream::Writer,
    written: u64,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new(topics: usize, data: &[u8]) -> Rig {
        // Under the target directory: a real file system, not tmpfs.
        let base = std::env::var_os("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, Into::into);
        let dir = tempfile::tempdir_in(base).expect("temporary directory");
        let mut cfg = logstream::Config::new(dir.path());
        cfg.set_retain_consumed(true);
        let writer = logstream::Writer::open(&cfg).expect("open writer");
        let names: Vec<String> = (0..topics).map(|i| format!("topic-{i:05}")).collect();
        let topics: Vec<logstream::TopicWriter> = names.iter().map(|n| writer.topic(n).expect("topic")).collect();
        for t in &topics {
            t.write(data).expect("warm-up write");
        }
        Rig { topics, names, writer, written: 0, _dir: dir }
    }

    /// Replaces the writer when the next `iters` records would exceed the budget.
    fn make_room(slot: &mut Option<Rig>, topics: usize, data: &[u8], iters: u64) {
        let frame = logstream::format::frame::frame_len(data.len()) as u64;
        let full = slot.as_ref().is_none_or(|r| r.written + iters * frame > ROTATE_BYTES);
        if full {
            if let Some(old) = slot.take() {
                drop(old.topics);
                old.writer.close().expect("close writer");
            }
            *slot = Some(Rig::new(topics, data));
        }
        if let Some(r) = slot.as_mut() {
            r.written += iters * frame;
        }
    }
}

const SIZES: &[usize] = &[16, 100, 1024, 64 * 1024];

fn one_topic(c: &mut Criterion) {
    let mut g = c.benchmark_group("write/one_topic");
    for &size in SIZES {
        let data = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        let mut slot: Option<Rig> = None;
        g.bench_with_input(BenchmarkId::new("TopicWriter", size), &data, |b, data| {
            b.iter_custom(|iters| {
                Rig::make_room(&mut slot, 1, data, iters);
                let rig = slot.as_ref().expect("rig");
                let t = &rig.topics[0];
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(t.write(black_box(data)).expect("write"));
                }
                start.elapsed()
            });
        });
        g.bench_with_input(BenchmarkId::new("Writer::write", size), &data, |b, data| {
            b.iter_custom(|iters| {
                Rig::make_room(&mut slot, 1, data, iters);
                let rig = slot.as_ref().expect("rig");
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(rig.writer.write("topic-00000", black_box(data)).expect("write"));
                }
                start.elapsed()
            });
        });
        if let Some(r) = slot.take() {
            drop(r.topics);
            r.writer.close().expect("close writer");
        }
    }
    g.finish();
}

fn many_topics(c: &mut Criterion) {
    let mut g = c.benchmark_group("write/many_topics");
    let data = vec![0x5au8; 100];
    g.throughput(Throughput::Elements(1));
    for topics in [100usize, 1000] {
        let mut slot: Option<Rig> = None;
        g.bench_with_input(BenchmarkId::new("Writer::write round-robin", topics), &topics, |b, &topics| {
            b.iter_custom(|iters| {
                Rig::make_room(&mut slot, topics, &data, iters);
                let rig = slot.as_ref().expect("rig");
                let start = Instant::now();
                for i in 0..iters as usize {
                    black_box(rig.writer.write(&rig.names[i % topics], black_box(&data)).expect("write"));
                }
                start.elapsed()
            });
        });
        if let Some(r) = slot.take() {
            drop(r.topics);
            r.writer.close().expect("close writer");
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = one_topic, many_topics
}
criterion_main!(benches);
