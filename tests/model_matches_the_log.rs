//! Model-based test: random sequences of write / flush / stop+resume / crash
//! (kill -9 or power loss) / reopen / read against a simple in-memory model
//! of per-topic record lists. After any sequence, every topic reads back as
//! the model says: all of it after a clean close or kill -9, and after a
//! power loss a prefix at least as long as what was flushed.
mod common;

use std::path::{Path, PathBuf};

use logstream::testing::{Crash, CrashRecorder};
use proptest::prelude::*;

const TOPICS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Write { topic: usize, len: usize },
    Flush,
    StopResume,
    Reopen,
    Kill,
    PowerLoss { seed: u64 },
    Read { topic: usize, from: u64 },
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
    ]
}

struct Model {
    records: Vec<Vec<Vec<u8>>>,
    flushed: Vec<usize>,
}

fn data(topic: usize, seq: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{topic}/{seq}/").into_bytes();
    v.resize(len.max(v.len()), (seq % 251) as u8);
    v
}

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = common::config(dir);
    c.set_idx_file_max_item_num(7).set_data_file_max_size(64 * 1024).set_index_interval_bytes(256);
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
        if lossy {
            assert!(got.len() >= model.flushed[k], "{t}: lost flushed records");
            assert!(got.len() <= want.len(), "{t}: more records than written");
        } else {
            assert_eq!(got.len(), want.len(), "{t}: records lost or invented");
        }
        for (i, (s, d)) in got.iter().enumerate() {
            assert_eq!(
                *s,
                i as u64,
                "{t}: the log does not start at 0; recovery {:?}; files {:?}",
                w.recovery_report().topics.iter().find(|r| r.topic == *t),
                std::fs::read_dir(dir.join("topics").join(t))
                    .map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
                    .unwrap_or_default()
            );
            assert_eq!(d, &want[i], "{t} #{i}");
        }
        model.records[k].truncate(got.len());
        model.flushed[k] = model.flushed[k].min(got.len());
        assert_eq!(
            w.next_seq(t).unwrap(),
            got.len() as u64,
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
    let mut model = Model { records: vec![Vec::new(); 3], flushed: vec![0; 3] };
    let mut w = logstream::Writer::open(&cfg(&dir)).unwrap();
    for op in ops {
        match op {
            Op::Write { topic, len } => {
                let seq = model.records[topic].len();
                let d = data(topic, seq, len);
                assert_eq!(w.write(TOPICS[topic], &d).unwrap(), seq as u64);
                model.records[topic].push(d);
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
                let got = read(&cfg(&dir), TOPICS[topic], from);
                let want = &model.records[topic];
                let start = (from as usize).min(want.len());
                assert_eq!(got.len(), want.len() - start, "read of {} from {from}", TOPICS[topic]);
                for (j, (s, d)) in got.iter().enumerate() {
                    assert_eq!(*s as usize, start + j);
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
