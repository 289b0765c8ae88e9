//! `compress_topics`: sealed segments become compressed segments that read
//! back byte for byte, and damage in them is reported, never delivered.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use logstream::{Corruption, Reader, TopicReader, Writer};

/// A JSON-like event: compresses well, differs from record to record.
fn event(seq: u64) -> Vec<u8> {
    format!(
        r#"{{"seq":{seq},"user":"user-{}","action":"{}","path":"/api/v1/items/{}","status":200,"ms":{}}}"#,
        seq % 97,
        ["login", "view", "buy", "logout"][(seq % 4) as usize],
        seq * 7 % 1000,
        seq % 13
    )
    .into_bytes()
}

fn cfg(dir: &Path, compress: &[&str]) -> logstream::Config {
    let mut c = common::config(dir);
    c.set_data_file_max_size(256 << 10).set_compress_topics(compress.iter().map(|s| (*s).to_owned()).collect());
    c
}

fn data_files(dir: &Path, topic: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("topics").join(topic))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    v.sort();
    v
}

fn is_compressed(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    u32::from_le_bytes(b[12..16].try_into().unwrap()) & logstream::format::block::COMPRESSED != 0
}

/// Reads a topic from the start with a `TopicReader`.
fn read_all(cfg: &logstream::Config, topic: &str) -> (Vec<(u64, Vec<u8>)>, Vec<Corruption>) {
    let mut r = TopicReader::open(cfg, topic, 0).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch(1 << 20).unwrap() {
        out.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
    }
    (out, r.take_events())
}

#[test]
fn sealed_segments_of_compress_topics_shrink_and_read_back_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(tmp.path(), &["events"]);
    let w = Writer::open(&cfg).unwrap();
    let n = 20_000u64;
    for i in 0..n {
        w.write("events", &event(i)).unwrap();
        w.write("plain", &event(i)).unwrap();
    }
    w.wait_compressed().unwrap();
    let stats = w.stats();
    let compressed = data_files(tmp.path(), "events");
    assert!(compressed.len() > 3, "several segments were sealed");
    for p in &compressed[..compressed.len() - 1] {
        assert!(is_compressed(p), "{} was sealed but is not compressed", p.display());
    }
    assert!(!is_compressed(compressed.last().unwrap()), "the active segment stays plain");
    assert!(data_files(tmp.path(), "plain").iter().all(|p| !is_compressed(p)), "other topics stay plain");
    assert_eq!(stats.segments_compressed, compressed.len() as u64 - 1);
    let size = |t: &str| data_files(tmp.path(), t).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum::<u64>();
    assert!(size("events") * 2 < size("plain"), "compressed {} bytes vs plain {}", size("events"), size("plain"));

    // Read back while the writer is open, and after it closed.
    let (recs, events) = read_all(&cfg, "events");
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(recs.len() as u64, n);
    for (i, (seq, data)) in recs.iter().enumerate() {
        assert_eq!(*seq, i as u64);
        assert_eq!(*data, event(i as u64), "record {i}");
    }
    // Seeks land inside blocks.
    for from in [1u64, 777, 5_000, n - 1] {
        let mut r = TopicReader::open(&cfg, "events", from).unwrap();
        let b = r.next_batch(1 << 20).unwrap().unwrap();
        let first = b.records().next().unwrap();
        assert_eq!((first.seq(), first.data().to_vec()), (from, event(from)));
    }
    w.close().unwrap();
    let report = logstream::verify(&cfg).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let t = report.topics.iter().find(|t| t.topic == "events").unwrap();
    assert_eq!((t.records(), t.next_seq()), (n, n));
    let info = logstream::topics(&cfg).unwrap().into_iter().find(|t| t.topic == "events").unwrap();
    assert_eq!(info.next_seq, n);
    assert_eq!(read_all(&cfg, "events").0.len() as u64, n);
}

#[test]
fn a_reader_tailing_the_topic_gets_every_record_once_while_segments_are_compressed() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(tmp.path(), &["events"]);
    let w = Writer::open(&cfg).unwrap();
    let (reader, seen) = common::collecting_reader(&cfg, "g");
    let n = 30_000u64;
    for i in 0..n {
        w.write("events", &event(i)).unwrap();
    }
    w.wait_compressed().unwrap();
    assert!(w.stats().segments_compressed > 3);
    common::wait_for("every record delivered", Duration::from_secs(60), || common::count(&seen) as u64 >= n);
    reader.stop().unwrap();
    common::assert_dense(&seen, &BTreeMap::from([("events".to_owned(), n)]));
    for (seq, data) in &seen.lock().unwrap()["events"] {
        assert_eq!(*data, event(*seq));
    }

    // A new group starts from the beginning and reads the compressed files.
    let (reader, seen) = common::collecting_reader(&cfg, "late");
    common::wait_for("every record delivered", Duration::from_secs(60), || common::count(&seen) as u64 >= n);
    reader.stop().unwrap();
    common::assert_dense(&seen, &BTreeMap::from([("events".to_owned(), n)]));
}

#[test]
fn a_topic_added_to_compress_topics_is_compressed_when_the_writer_next_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let w = Writer::open(&cfg(tmp.path(), &[])).unwrap();
    for i in 0..10_000 {
        w.write("events", &event(i)).unwrap();
    }
    w.close().unwrap();
    assert!(data_files(tmp.path(), "events").iter().all(|p| !is_compressed(p)));

    let cfg = cfg(tmp.path(), &["events"]);
    let w = Writer::open(&cfg).unwrap();
    w.wait_compressed().unwrap();
    let files = data_files(tmp.path(), "events");
    assert!(files[..files.len() - 1].iter().all(|p| is_compressed(p)));
    assert_eq!(w.stats().segments_compressed, files.len() as u64 - 1);
    // The log goes on where it was.
    assert_eq!(w.write("events", &event(10_000)).unwrap(), 10_000);
    w.close().unwrap();
    let (recs, _) = read_all(&cfg, "events");
    assert!(recs.iter().enumerate().all(|(i, (s, d))| *s == i as u64 && *d == event(i as u64)));
    assert_eq!(recs.len(), 10_001);

    // Taking it off the list leaves compressed segments readable.
    let cfg = self::cfg(tmp.path(), &[]);
    let w = Writer::open(&cfg).unwrap();
    assert_eq!(w.next_seq("events").unwrap(), 10_001);
    w.close().unwrap();
    assert_eq!(read_all(&cfg, "events").0.len(), 10_001);
}

#[test]
fn data_that_does_not_compress_stays_plain() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(tmp.path(), &["noise"]);
    let w = Writer::open(&cfg).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut expect = Vec::new();
    for _ in 0..3_000 {
        let rec: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        w.write("noise", &rec).unwrap();
        expect.push(rec);
    }
    w.wait_compressed().unwrap();
    assert!(data_files(tmp.path(), "noise").len() > 2);
    assert!(data_files(tmp.path(), "noise").iter().all(|p| !is_compressed(p)));
    assert_eq!(w.stats().segments_compressed, 0);
    w.close().unwrap();
    let (recs, _) = read_all(&cfg, "noise");
    assert!(recs.into_iter().map(|(_, d)| d).eq(expect));
}

/// Flips one byte inside the compressed data of block `block` of `path`;
/// returns that block's first sequence number and the next block's.
fn damage_block(path: &Path, block: usize) -> (u64, u64) {
    let mut b = std::fs::read(path).unwrap();
    let mut off = 4096usize;
    let mut found = None;
    for i in 0..=block + 1 {
        assert_eq!(&b[off..off + 4], b"LSBK");
        let clen = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
        let first = u64::from_le_bytes(b[off + 16..off + 24].try_into().unwrap());
        if i == block {
            found = Some((off, first));
        } else if i == block + 1 {
            let (at, first_bad) = found.unwrap();
            b[at + 48 + clen / 2] ^= 0x10;
            std::fs::write(path, &b).unwrap();
            return (first_bad, first);
        }
        off += 48 + clen.div_ceil(8) * 8;
    }
    unreachable!()
}

#[test]
fn a_flipped_bit_in_a_compressed_block_is_reported_and_its_records_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(tmp.path(), &["events"]);
    let mut c = cfg.clone();
    c.set_data_file_max_size(4 << 20);
    let w = Writer::open(&c).unwrap();
    let n = 40_000u64;
    for i in 0..n {
        w.write("events", &event(i)).unwrap();
    }
    w.wait_compressed().unwrap();
    w.close().unwrap();
    let files = data_files(tmp.path(), "events");
    assert!(is_compressed(&files[0]));
    let (lost_from, lost_to) = damage_block(&files[0], 1);
    assert!(lost_to > lost_from);

    let report = logstream::verify(&c).unwrap();
    let t = report.topics.iter().find(|t| t.topic == "events").unwrap();
    let damage: Vec<_> = t.segments.iter().flat_map(|s| s.damage.iter()).collect();
    assert_eq!(damage.len(), 1, "{report:?}");
    assert_eq!((damage[0].first_seq, damage[0].skipped), (lost_from, lost_to - lost_from));

    let (recs, events) = read_all(&c, "events");
    assert!(
        matches!(events.as_slice(), [Corruption::Damaged { first_seq, skipped, .. }] if *first_seq == lost_from && *skipped == lost_to - lost_from),
        "{events:?}"
    );
    let expect: Vec<u64> = (0..n).filter(|s| !(lost_from..lost_to).contains(s)).collect();
    assert!(recs.iter().map(|(s, _)| *s).eq(expect.iter().copied()));
    assert!(recs.iter().all(|(s, d)| *d == event(*s)), "a delivered record has the wrong bytes");

    // The forwarding reader reports it once and delivers the rest.
    let reported = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r2 = reported.clone();
    let seen: common::Seen = Default::default();
    let s2 = seen.clone();
    let reader = Reader::builder(&c)
        .group("g")
        .on_corruption(move |e| r2.lock().unwrap().push(e.clone()))
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            m.entry(b.topic().to_owned()).or_default().extend(b.records().map(|r| (r.seq(), r.data().to_vec())));
            Ok(())
        })
        .unwrap();
    common::wait_for("the rest delivered", Duration::from_secs(60), || common::count(&seen) == expect.len());
    reader.stop().unwrap();
    assert_eq!(reported.lock().unwrap().len(), 1);
    assert!(seen.lock().unwrap()["events"].iter().all(|(s, d)| *d == event(*s)));

    // The writer still opens, and the log continues.
    let w = Writer::open(&c).unwrap();
    assert_eq!(w.next_seq("events").unwrap(), n);
    w.close().unwrap();
}

#[test]
fn leftovers_of_an_interrupted_compression_are_removed_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(tmp.path(), &["events"]);
    let w = Writer::open(&self::cfg(tmp.path(), &[])).unwrap();
    for i in 0..10_000 {
        w.write("events", &event(i)).unwrap();
    }
    w.close().unwrap();
    // A crash while writing the compressed copy leaves a partial temporary
    // file; one after the swap leaves the plain copy under that name.
    let dir = tmp.path().join("topics").join("events");
    let files = data_files(tmp.path(), "events");
    std::fs::write(dir.join(".ls-tmp-compress-0"), b"LSTRMDAT partial").unwrap();
    std::fs::copy(&files[1], dir.join(format!(".ls-tmp-compress-{}", 1))).unwrap();
    let w = Writer::open(&cfg).unwrap();
    assert_eq!(w.recovery_report().topics[0].removed.len(), 2);
    w.wait_compressed().unwrap();
    w.close().unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.starts_with(".ls-tmp")), "{names:?}");
    let (recs, events) = read_all(&cfg, "events");
    assert!(events.is_empty());
    assert!(recs.iter().enumerate().all(|(i, (s, d))| *s == i as u64 && *d == event(i as u64)));
    assert_eq!(recs.len(), 10_000);
}
