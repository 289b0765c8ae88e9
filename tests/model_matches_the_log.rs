//! Model-based test: random sequences of write / flush / stop+resume / age
//! roll / compression / topic delete and re-create / crash (kill -9 or power
//! loss, also right after the recovery of one) / reopen / read against a
//! simple in-memory model of per-topic record lists. After any sequence,
//! every topic reads back as the model says: all of it after a clean close
//! or kill -9, and after a power loss a prefix at least as long as what was
//! flushed. A re-created topic continues wherever the writer says its first
//! record goes (the model does not assume seq 0).
mod common;

use std::path::{Path, PathBuf};

use logstream::testing::{Crash, CrashRecorder};
use proptest::prelude::*;

/// `c` is compressed once sealed.
const TOPICS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Write {
        topic: usize,
        len: usize,
    },
    Flush,
    StopResume,
    Reopen,
    Kill,
    PowerLoss {
        seed: u64,
    },
    Read {
        topic: usize,
        from: u64,
    },
    /// Lets the active segments age past `segment_max_age_ms` and runs the
    /// housekeeping, which rolls them (leaving empty newest segments).
    AgeRoll,
    /// `wait_compressed`: a flush, then compression of what is sealed.
    Compress,
    /// `delete_topic(Force)`; the next write re-creates it.
    Delete {
        topic: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..3usize, 0..700usize).prop_map(|(topic, len)| Op::Write { topic, len }),
        2 => Just(Op::Flush),
        1 => Just(Op::StopResume),
        1 => Just(Op::Reopen),
        1 => Just(Op::Kill),
        1 => any::<u64>().prop_map(|seed| Op::PowerLoss { seed }),
        2 => (0..3usize, 0..40u64).prop_map(|(topic, from)| Op::Read { topic, from }),
        1 => Just(Op::AgeRoll),
        1 => Just(Op::Compress),
        1 => (0..3usize).prop_map(|topic| Op::Delete { topic }),
    ]
}

struct Model {
    records: Vec<Vec<Vec<u8>>>,
    flushed: Vec<usize>,
    /// Sequence number of `records[k][0]`; `None` until the first write of
    /// the topic (or of its new incarnation) says.
    base: Vec<Option<u64>>,
}

fn data(topic: usize, seq: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{topic}/{seq}/").into_bytes();
    v.resize(len.max(v.len()), (seq % 251) as u8);
    v
}

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = common::config(dir);
    c.set_idx_file_max_item_num(7)
        .set_data_file_max_size(64 * 1024)
        .set_index_interval_bytes(256)
        .set_segment_max_age_ms(1)
        .set_compress_topics(vec!["c".to_owned()]);
    c
}

fn read(cfg: &logstream::Config, topic: &str, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut r = logstream::TopicReader::open(cfg, topic, from).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch(3000).unwrap() {
        out.extend(b.records().map(|x| (x.seq(), x.data().to_vec())));
    }
    out
}

/// Opens a writer on `dir` and checks the model against what recovery kept;
/// after a power loss the model is cut to what survived.
fn reopen(dir: &Path, model: &mut Model, lossy: bool) -> logstream::Writer {
    let c = cfg(dir);
    let w = logstream::Writer::open(&c).unwrap();
    for (k, t) in TOPICS.iter().enumerate() {
        let got = read(&c, t, 0);
        let want = &model.records[k];
        let base = model.base[k].or(got.first().map(|g| g.0)).unwrap_or(0);
        if lossy {
            assert!(got.len() >= model.flushed[k], "{t}: lost flushed records");
            assert!(got.len() <= want.len(), "{t}: more records than written");
        } else {
            assert_eq!(got.len(), want.len(), "{t}: records lost or invented");
        }
        for (i, (s, d)) in got.iter().enumerate() {
            assert_eq!(
                *s,
                base + i as u64,
                "{t}: the log does not start at {base}; recovery {:?}; files {:?}",
                w.recovery_report().topics.iter().find(|r| r.topic == *t),
                std::fs::read_dir(dir.join("topics").join(t))
                    .map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
                    .unwrap_or_default()
            );
            assert_eq!(d, &want[i], "{t} #{i}");
        }
        model.records[k].truncate(got.len());
        model.flushed[k] = model.flushed[k].min(got.len());
        if got.is_empty() {
            // Nothing of this incarnation survived: the writer says where
            // the next write goes.
            model.base[k] = None;
            continue;
        }
        model.base[k] = Some(base);
        assert_eq!(
            w.next_seq(t).unwrap(),
            base + got.len() as u64,
            "{t}: next_seq vs readable; recovery {:?}; files {:?}",
            w.recovery_report().topics.iter().find(|r| r.topic == *t),
            std::fs::read_dir(dir.join("topics").join(t))
                .map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
    }
    w
}

fn run(ops: Vec<Op>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut dir: PathBuf = tmp.path().join("d0");
    std::fs::create_dir(&dir).unwrap();
    let mut rec = CrashRecorder::install(&dir);
    let mut model = Model { records: vec![Vec::new(); 3], flushed: vec![0; 3], base: vec![None; 3] };
    let mut w = logstream::Writer::open(&cfg(&dir)).unwrap();
    for op in ops {
        match op {
            Op::Write { topic, len } => {
                let i = model.records[topic].len();
                let d = data(topic, i, len);
                let seq = w.write(TOPICS[topic], &d).unwrap();
                let base = *model.base[topic].get_or_insert(seq);
                assert_eq!(seq, base + i as u64, "{}: write got seq {seq}", TOPICS[topic]);
                model.records[topic].push(d);
            }
            Op::AgeRoll => {
                // `segment_max_age_ms` is 1: every active segment is older
                // after this, and the housekeeping rolls the non-empty ones.
                std::thread::sleep(std::time::Duration::from_millis(2));
                w.run_housekeeping().unwrap();
            }
            Op::Compress => {
                w.wait_compressed().unwrap();
                model.flushed = model.records.iter().map(Vec::len).collect();
            }
            Op::Delete { topic } => {
                match w.delete_topic(TOPICS[topic], logstream::DeleteMode::Force) {
                    Ok(_) => {}
                    // Never written (or deleted, or lost entirely in a power
                    // loss before anything of it was synced).
                    Err(logstream::Error::NoSuchTopic { .. }) if model.records[topic].is_empty() => {}
                    Err(e) => panic!("deleting {}: {e}", TOPICS[topic]),
                }
                model.records[topic].clear();
                model.flushed[topic] = 0;
                model.base[topic] = None;
            }
            Op::Flush => {
                w.flush().unwrap();
                model.flushed = model.records.iter().map(Vec::len).collect();
            }
            Op::StopResume => {
                w.stop().unwrap();
                model.flushed = model.records.iter().map(Vec::len).collect();
                w.resume().unwrap();
            }
            Op::Reopen => {
                w.close().unwrap();
                model.flushed = model.records.iter().map(Vec::len).collect();
                w = reopen(&dir, &mut model, false);
            }
            Op::Kill | Op::PowerLoss { .. } => {
                n += 1;
                let img = tmp.path().join(format!("d{n}"));
                let crash = match op {
                    Op::PowerLoss { seed } => Crash::PowerLoss { seed },
                    _ => Crash::ProcessKill,
                };
                rec.crash_image(&img, crash).unwrap();
                rec.uninstall();
                // After kill -9 the disk holds what was synced; after a power
                // loss the image is the disk.
                let next = match crash {
                    Crash::ProcessKill => rec.continue_on(&img).unwrap(),
                    _ => CrashRecorder::install_durable(&img).unwrap(),
                };
                drop(w);
                dir = img;
                rec = next;
                w = reopen(&dir, &mut model, matches!(crash, Crash::PowerLoss { .. }));
            }
            Op::Read { topic, from } => {
                let base = model.base[topic].unwrap_or(0);
                let got = read(&cfg(&dir), TOPICS[topic], base + from);
                let want = &model.records[topic];
                let start = (from as usize).min(want.len());
                assert_eq!(got.len(), want.len() - start, "read of {} from {}", TOPICS[topic], base + from);
                for (j, (s, d)) in got.iter().enumerate() {
                    assert_eq!(*s, base + (start + j) as u64);
                    assert_eq!(d, &want[start + j]);
                }
            }
        }
    }
    w.close().unwrap();
    rec.uninstall();
    reopen(&dir, &mut model, false).close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 200,
        // Cases that once failed are replayed first, every run.
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            "tests/model_matches_the_log.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]
    #[test]
    fn random_operations_and_crashes_leave_the_log_as_the_model_says(ops in prop::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
