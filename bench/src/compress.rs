//! Compression (issue 11): the same JSON event log (`events`) written to a
//! plain topic and to a topic in `compress_topics`; the ratio of their data
//! files' disk use once every segment is sealed and compressed, and the
//! catch-up read speed of both with `TopicReader` (the plain topic is the
//! same-run baseline).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use crate::baseline::rate;
use crate::ctx::{Ctx, config, remove};
use crate::events::Events;
use crate::measure::{Cpu, Subject, Summary, interleave};
use crate::report::{Better, Goal, Row};

const PLAIN: &str = "json-plain";
const LZ4: &str = "json-lz4";
/// Seed of the event generator.
const SEED: u64 = 0x5EED_0011;

/// Bytes of a topic's segment data files: (allocated on disk, length).
fn data_bytes(dir: &Path, topic: &str) -> (u64, u64) {
    let tdir = dir.join("topics").join(topic);
    let mut out = (0, 0);
    for e in std::fs::read_dir(&tdir).unwrap_or_else(|e| panic!("list {}: {e}", tdir.display())) {
        let e = e.expect("directory entry");
        if e.path().extension().is_some_and(|x| x == logstream::format::naming::DATA_EXT) {
            let m = e.metadata().expect("stat data file");
            out.0 += m.blocks() * 512;
            out.1 += m.len();
        }
    }
    out
}

/// What writing the two topics found.
struct Written {
    /// JSON bytes written to each topic.
    payload: u64,
    /// Segments of each topic (all sealed).
    segments: usize,
    /// Segments the writer compressed.
    compressed: u64,
    /// Seconds from the end of the writes until `wait_compressed` returned.
    settle_secs: f64,
}

/// Writes `events` to both topics with one writer, seals every segment
/// (`stop`), waits for compression and closes.
fn write_topics(dir: &Path, events: &[Vec<u8>], segment: u64) -> Written {
    remove(dir);
    let mut cfg = config(dir);
    cfg.set_compress_topics(vec![LZ4.to_string()]).set_data_file_max_size(segment);
    let w = logstream::Writer::open(&cfg).expect("open writer");
    for topic in [PLAIN, LZ4] {
        let tw = w.topic(topic).expect("topic");
        for e in events {
            tw.write(e).expect("write event");
        }
    }
    let t = Instant::now();
    w.stop().expect("stop (seal every segment)");
    w.wait_compressed().expect("wait_compressed");
    let settle_secs = t.elapsed().as_secs_f64();
    let compressed = w.stats().segments_compressed;
    let segments =
        logstream::topics(&cfg).expect("list topics").into_iter().find(|t| t.topic == LZ4).map_or(0, |t| t.segments);
    w.close().expect("close writer");
    Written { payload: events.iter().map(|e| e.len() as u64).sum(), segments, compressed, settle_secs }
}

/// Reads `topic` from the start with `TopicReader`; records/s, CPU seconds
/// of the thread, and a CRC of every record's data in order.
fn read_topic(dir: &Path, topic: &str, expect: u64) -> (f64, f64, u32) {
    let cfg = config(dir);
    let cpu0 = Cpu::thread();
    let t = Instant::now();
    let mut r = logstream::TopicReader::open(&cfg, topic, 0).expect("open topic reader");
    let (mut n, mut crc) = (0u64, crc32fast::Hasher::new());
    while let Some(b) = r.next_batch(cfg.max_batch_bytes()).expect("next_batch") {
        for rec in b.records() {
            crc.update(std::hint::black_box(rec.data()));
            n += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(n, expect, "{topic}: read {n} of {expect} records");
    assert!(r.take_events().is_empty(), "{topic}: the reader met damage or gaps");
    (rate(n, secs), Cpu::thread().since(cpu0).total(), crc.finalize())
}

/// Scenario `compress`: ratio and read-back speed on JSON event logs.
pub fn compression(ctx: &mut Ctx) {
    let n = ctx.opts.json_records;
    let events = Events::take(SEED, n);
    let payload: u64 = events.iter().map(|e| e.len() as u64).sum();
    // About eight segments per topic (at least 64 KiB, at most 16 MiB each).
    let segment = (payload / 8).next_power_of_two().clamp(64 << 10, 16 << 20);
    let scen = format!("compression, {n} JSON events");
    eprintln!(
        "== {scen} ({:.1} MB, mean {} B per event, {} KiB segments)",
        payload as f64 / 1e6,
        payload / n.max(1),
        segment >> 10
    );
    let dir = ctx.path("ls-compress");
    let w = write_topics(&dir, &events, segment);
    drop(events);
    let (plain_disk, plain_len) = data_bytes(&dir, PLAIN);
    let (lz4_disk, lz4_len) = data_bytes(&dir, LZ4);
    let ratio = plain_disk as f64 / lz4_disk.max(1) as f64;
    let crcs = std::cell::RefCell::new(Vec::new());
    let (mut cpu_plain, mut cpu_lz4) = (Vec::new(), Vec::new());
    let res = interleave(
        ctx.opts.reps,
        &mut [
            Subject::new("TopicReader, plain topic (baseline)", || {
                let (r, cpu, crc) = read_topic(&dir, PLAIN, n);
                crcs.borrow_mut().push(crc);
                cpu_plain.push(cpu);
                r
            }),
            Subject::new("TopicReader, compressed topic", || {
                let (r, cpu, crc) = read_topic(&dir, LZ4, n);
                crcs.borrow_mut().push(crc);
                cpu_lz4.push(cpu);
                r
            }),
        ],
    );
    remove(&dir);
    let crcs = crcs.into_inner();
    assert!(crcs.windows(2).all(|p| p[0] == p[1]), "the two topics read back different records");
    ctx.push(
        Row::new(&scen, "data files, plain / compressed", "ratio", "x", Summary::single(ratio), Better::Higher)
            .goal(Goal::at_least(">= 3x", ratio, 3.0))
            .note(format!(
                "data files on disk: plain {:.1} MiB, compressed {:.1} MiB (lengths {:.1} / {:.1} MiB; JSON {:.1} MiB, \
                 {:.2}x the compressed files); {} of {} segments compressed; stop + wait_compressed {:.2} s",
                plain_disk as f64 / 1048576.0,
                lz4_disk as f64 / 1048576.0,
                plain_len as f64 / 1048576.0,
                lz4_len as f64 / 1048576.0,
                w.payload as f64 / 1048576.0,
                w.payload as f64 / lz4_disk.max(1) as f64,
                w.compressed,
                w.segments,
                w.settle_secs
            )),
    );
    let base = res[0].1.median;
    let mb = |r: f64| r * w.payload as f64 / n as f64 / 1e6;
    for (i, (name, s, _)) in res.into_iter().enumerate() {
        let cpu = Summary::of(if i == 0 { &cpu_plain[1..] } else { &cpu_lz4[1..] }).median;
        let mut row = Row::new(&scen, &name, "read rate", "rec/s", s, Better::Higher).note(format!(
            "{:.0} MB/s of JSON; CPU {:.3} s ({:.0}% of one core)",
            mb(s.median),
            cpu,
            cpu / (n as f64 / s.median) * 100.0
        ));
        if i == 1 {
            row = row.ratio("plain read", base).goal(Goal::at_least(">= 0.5x plain read", s.median / base, 0.5));
        }
        ctx.push(row);
    }
}
