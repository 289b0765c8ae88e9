//! Consumer groups in one process: fan-out, resets while running, start
//! positions, dead letters and their replay, lag, retention that reports
//! gaps, deregistering, and the closure asking to read again.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use logstream::{Batch, Corruption, Group, Reader, RetryPolicy, StartFrom, Writer};

const T: Duration = Duration::from_secs(30);

fn cfg(dir: &std::path::Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_checkpoint_interval_ms(0).set_rebalance_interval_ms(50);
    c
}

fn seqs(seen: &Seen, topic: &str) -> Vec<u64> {
    seen.lock().unwrap().get(topic).map(|v| v.iter().map(|r| r.0).collect()).unwrap_or_default()
}

#[test]
fn every_group_receives_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    let (ra, seen_a) = collecting_reader(&cfg, "a");
    let (rb, seen_b) = collecting_reader(&cfg, "b");
    for i in 0..1000 {
        for t in ["x", "y", "z"] {
            w.write(t, &payload(t, i)).unwrap();
        }
    }
    wait_for("both groups to get 3000 records", T, || count(&seen_a) == 3000 && count(&seen_b) == 3000);
    ra.stop().unwrap();
    rb.stop().unwrap();
    let expected: BTreeMap<String, u64> = ["x", "y", "z"].iter().map(|t| ((*t).to_owned(), 1000)).collect();
    assert_dense(&seen_a, &expected);
    assert_dense(&seen_b, &expected);
    let mut groups = Group::list(&cfg).unwrap();
    groups.sort();
    assert_eq!(groups, ["a", "b"]);
}

#[test]
fn resets_to_earliest_latest_and_a_seq_apply_while_the_reader_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("100 records", T, || count(&seen) == 100);
    let g = Group::open(&cfg, "g").unwrap();

    assert_eq!(g.reset("t", StartFrom::Earliest).unwrap(), 0);
    wait_for("the topic again from the start", T, || count(&seen) == 200);
    assert_eq!(seqs(&seen, "t")[100..], (0..100).collect::<Vec<_>>()[..]);

    assert_eq!(g.reset("t", StartFrom::Seq(60)).unwrap(), 60);
    wait_for("the topic again from 60", T, || count(&seen) == 240);
    assert_eq!(seqs(&seen, "t")[200..], (60..100).collect::<Vec<_>>()[..]);

    // Past the end is clamped to the end; Latest skips what is there.
    assert_eq!(g.reset("t", StartFrom::Seq(10_000)).unwrap(), 100);
    for i in 100..110 {
        w.write("t", &payload("t", i)).unwrap();
    }
    wait_for("the 10 new records", T, || count(&seen) == 250);
    assert_eq!(g.reset("t", StartFrom::Latest).unwrap(), 110);
    for i in 110..115 {
        w.write("t", &payload("t", i)).unwrap();
    }
    wait_for("the 5 newest", T, || count(&seen) == 255);
    assert_eq!(seqs(&seen, "t")[250..], [110, 111, 112, 113, 114]);
    assert_eq!(r.stats().resets, 4);
    r.stop().unwrap();
    let pos = g.positions().unwrap();
    assert_eq!((pos[0].topic.as_str(), pos[0].next_seq), ("t", 115));

    // With no reader running, the reset is written directly.
    assert_eq!(g.reset("t", StartFrom::Seq(3)).unwrap(), 3);
    assert!(g.positions().unwrap()[0].reset);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("from 3 to the end", T, || count(&seen) == 112);
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (3..115).collect::<Vec<_>>());

    assert!(matches!(g.reset("nope", StartFrom::Earliest), Err(logstream::Error::NoSuchTopic { .. })));
    assert!(matches!(Group::open(&cfg, "unknown"), Err(logstream::Error::NoSuchGroup { .. })));
}

#[test]
fn start_from_latest_skips_what_is_there_and_time_starts_at_the_first_record_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..50 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    // Record timestamps come from a coarse clock (ticks of a few ms): keep
    // the cut well clear of the records on both sides.
    std::thread::sleep(Duration::from_millis(30));
    let cut = std::time::SystemTime::now();
    std::thread::sleep(Duration::from_millis(30));
    for i in 50..80 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let latest = Reader::builder(&cfg)
        .group("latest")
        .start_from(StartFrom::Latest)
        .start(move |b: &Batch| -> Result<(), std::io::Error> {
            s2.lock().unwrap().entry(b.topic().into()).or_default().extend(b.records().map(|r| (r.seq(), vec![])));
            Ok(())
        })
        .unwrap();
    wait_for("the start position saved", T, || {
        Group::open(&cfg, "latest").is_ok_and(|g| g.positions().unwrap().iter().any(|p| p.next_seq == 80))
    });
    w.write("t", &payload("t", 80)).unwrap();
    wait_for("the one new record", T, || count(&seen) == 1);
    latest.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), [80]);

    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let by_time = Reader::builder(&cfg)
        .group("by-time")
        .start_from(StartFrom::Time(cut))
        .start(move |b: &Batch| -> Result<(), std::io::Error> {
            s2.lock().unwrap().entry(b.topic().into()).or_default().extend(b.records().map(|r| (r.seq(), vec![])));
            Ok(())
        })
        .unwrap();
    wait_for("the records written after the cut", T, || count(&seen) == 31);
    by_time.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (50..81).collect::<Vec<_>>());
}

/// A reader whose closure fails on records with a "poison" payload.
fn poisoned_reader(cfg: &logstream::Config, name_failing: bool) -> (logstream::ReaderHandle, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let r = Reader::builder(cfg)
        .group("g")
        .retry(RetryPolicy {
            initial: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_attempts: Some(3),
        })
        .start(move |b: &Batch| -> Result<(), String> {
            let mut m = s2.lock().unwrap();
            for r in b.records() {
                if r.data().starts_with(b"poison") {
                    if name_failing {
                        b.fail_record(r.seq()).unwrap();
                    }
                    return Err(format!("downstream said 503 for seq {}", r.seq()));
                }
                m.entry(b.topic().into()).or_default().push((r.seq(), r.data().to_vec()));
                b.confirm(r.seq()).unwrap();
            }
            Ok(())
        })
        .unwrap();
    (r, seen)
}

#[test]
fn a_record_failing_three_times_becomes_a_dead_letter_with_its_error_and_the_topic_continues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..20u64 {
        let data = if i == 7 { b"poison pill".to_vec() } else { payload("t", i) };
        w.write("t", &data).unwrap();
    }
    let (r, seen) = poisoned_reader(&cfg, true);
    wait_for("the 19 good records", T, || count(&seen) == 19);
    let stats = r.stats();
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (0..20).filter(|&i| i != 7).collect::<Vec<_>>());
    assert_eq!((stats.dead_letters, stats.failures), (1, 3));

    let g = Group::open(&cfg, "g").unwrap();
    assert_eq!(g.dead_letter_counts().unwrap(), [("t".to_owned(), 1)]);
    let dl = g.dead_letters("t", 10).unwrap();
    assert_eq!(dl.len(), 1);
    assert_eq!((dl[0].seq, dl[0].attempts, dl[0].data.as_slice()), (7, 3, &b"poison pill"[..]));
    assert_eq!(dl[0].error, "downstream said 503 for seq 7");
    assert!(dl[0].time >= dl[0].timestamp);
}

#[test]
fn without_a_named_record_the_whole_unconfirmed_rest_of_the_batch_becomes_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    let data: Vec<Vec<u8>> = (0..10u64).map(|i| if i == 4 { b"poison".to_vec() } else { payload("t", i) }).collect();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    w.write_batch("t", &refs).unwrap();
    let (r, seen) = poisoned_reader(&cfg, false);
    let g = Group::open(&cfg, "g").unwrap();
    wait_for("the rest of the batch in the dead letters", T, || {
        g.dead_letter_counts().unwrap().first().map(|c| c.1) == Some(6)
    });
    w.write("t", &payload("t", 10)).unwrap();
    wait_for("the topic to go on", T, || seqs(&seen, "t").last() == Some(&10));
    wait_for("the last batch to be counted", T, || r.stats().records == 5);
    let stats = r.stats();
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), [0, 1, 2, 3, 10]);
    let dl: Vec<u64> = g.dead_letters("t", 100).unwrap().iter().map(|d| d.seq).collect();
    assert_eq!(dl, [4, 5, 6, 7, 8, 9]);
    // A dead-lettered batch counts as failed attempts (three, two of them
    // retried) and dead letters, never as a confirmed batch: the one batch
    // confirmed is seq 10's (seq 0..=3 were confirmed inside the first,
    // failed, attempt).
    assert_eq!((stats.batches, stats.records, stats.failures, stats.retries, stats.dead_letters), (1, 5, 3, 2, 6));
}

#[test]
fn replaying_dead_letters_delivers_each_once_and_clearing_empties_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..30u64 {
        let data = if i % 10 == 3 { format!("poison {i}").into_bytes() } else { payload("t", i) };
        w.write("t", &data).unwrap();
    }
    let (r, seen) = poisoned_reader(&cfg, true);
    wait_for("the 27 good records", T, || count(&seen) == 27);
    r.stop().unwrap();
    let g = Group::open(&cfg, "g").unwrap();
    assert_eq!(g.dead_letter_counts().unwrap(), [("t".to_owned(), 3)]);

    // To a closure: the first refusal stops the replay and keeps the rest.
    let mut got = Vec::new();
    let err = g.replay_dead_letters_with(None, |d| {
        if d.seq == 23 {
            return Err("not now");
        }
        got.push(d.seq);
        Ok(())
    });
    assert!(matches!(err, Err(logstream::Error::Replay { seq: 23, .. })), "{err:?}");
    assert_eq!(got, [3, 13]);
    assert_eq!(g.dead_letter_counts().unwrap(), [("t".to_owned(), 1)]);

    // Back into the topic: the record is written again, once.
    let n = g.replay_dead_letters(Some("t"), &w).unwrap();
    assert_eq!(n, 1);
    assert!(g.dead_letter_counts().unwrap().is_empty());
    assert_eq!(g.replay_dead_letters(None, &w).unwrap(), 0);
    let all = read_all(&cfg, "t");
    assert_eq!(all.len(), 31);
    assert_eq!(all[30].1, b"poison 23");

    // New dead letters after a replay, then cleared.
    let (r, _) = poisoned_reader(&cfg, true);
    wait_for("the replayed poison to fail again", T, || g.dead_letter_counts().unwrap().len() == 1);
    r.stop().unwrap();
    assert_eq!(g.dead_letters("t", 10).unwrap()[0].seq, 30);
    assert_eq!(g.clear_dead_letters(None).unwrap(), 1);
    assert!(g.dead_letter_counts().unwrap().is_empty());
}

#[test]
fn lag_matches_what_was_written_and_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("a", &payload("a", i)).unwrap();
    }
    for i in 0..50 {
        w.write("b", &payload("b", i)).unwrap();
    }
    let confirmed_a = Arc::new(Mutex::new(0u64));
    let c2 = confirmed_a.clone();
    let r = Reader::builder(&cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), &'static str> {
            if b.topic() == "b" {
                // Confirms the first 20 records of b, then fails forever.
                if b.first_seq() < 20 {
                    b.confirm(19.min(b.last_seq())).unwrap();
                }
                return Err("b is down");
            }
            *c2.lock().unwrap() = b.last_seq() + 1;
            Ok(())
        })
        .unwrap();
    let g = Group::open(&cfg, "g").unwrap();
    wait_for("a confirmed and persisted", T, || {
        *confirmed_a.lock().unwrap() == 100
            && g.positions().unwrap().iter().any(|p| p.topic == "a" && p.next_seq == 100)
    });
    wait_for("b's prefix persisted", T, || g.positions().unwrap().iter().any(|p| p.topic == "b" && p.next_seq == 20));
    let lag = g.lag().unwrap();
    let frame = |n: usize| ((24 + n).div_ceil(8) * 8) as u64;
    let a = lag.iter().find(|l| l.topic == "a").unwrap();
    assert_eq!((a.first_seq, a.next_seq, a.confirmed, a.lag_records, a.lag_bytes), (0, 100, Some(100), 0, 0));
    let b = lag.iter().find(|l| l.topic == "b").unwrap();
    let b_bytes: u64 = (20..50).map(|i| frame(payload("b", i).len())).sum();
    assert_eq!((b.first_seq, b.next_seq, b.confirmed, b.lag_records, b.lag_bytes), (0, 50, Some(20), 30, b_bytes));
    assert!(b.last_confirm.is_some());
    assert_eq!(b.owner.as_deref(), Some(r.member_id().as_str()));
    assert_eq!(r.stats().lag, 30);
    r.stop().unwrap();
    assert_eq!(g.lag().unwrap().iter().find(|l| l.topic == "b").unwrap().owner, None);
}

#[test]
fn retention_by_size_deletes_unconsumed_records_and_the_group_is_told_of_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg(dir.path());
    cfg.set_data_file_max_size(64 << 10).set_retention_max_bytes(Some(1 << 20));
    // A group that registered and read nothing yet.
    let (r, _) = collecting_reader(&cfg, "slow");
    r.stop().unwrap();
    let w = Writer::open(&cfg).unwrap();
    let rec = vec![b'x'; 1000];
    for _ in 0..4000 {
        w.write("t", &rec).unwrap();
    }
    w.flush().unwrap();
    // One sealed segment more than the limit at most (the active one's
    // preallocation counts too).
    wait_for("retention to bring the topic under its limit", T, || {
        logstream::topics(&cfg).unwrap()[0].disk_bytes <= (1 << 20) + (128 << 10)
    });
    let first = logstream::topics(&cfg).unwrap()[0].first_seq;
    assert!(first > 2000, "{first}");

    let gaps = Arc::new(Mutex::new(Vec::new()));
    let g2 = gaps.clone();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let skipped = Arc::new(Mutex::new(0u64));
    let sk2 = skipped.clone();
    let r = Reader::builder(&cfg)
        .group("slow")
        .on_corruption(move |c| g2.lock().unwrap().push(c.clone()))
        .start(move |b: &Batch| -> Result<(), std::io::Error> {
            *sk2.lock().unwrap() += b.skipped_before();
            s2.lock().unwrap().entry(b.topic().into()).or_default().extend(b.records().map(|r| (r.seq(), vec![])));
            Ok(())
        })
        .unwrap();
    wait_for("the rest delivered", T, || seqs(&seen, "t").last() == Some(&3999));
    r.stop().unwrap();
    let got = seqs(&seen, "t");
    assert!(got[0] >= first, "delivered from {} although {first} was the first retained", got[0]);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
    let reported: u64 = gaps
        .lock()
        .unwrap()
        .iter()
        .map(|c| match c {
            Corruption::Gap { from_seq, to_seq, .. } => to_seq - from_seq,
            other => panic!("unexpected {other:?}"),
        })
        .sum();
    assert_eq!(reported, got[0], "the gap reported is exactly the records deleted unread");
    assert_eq!(*skipped.lock().unwrap(), got[0], "{:?}", gaps.lock().unwrap());
}

#[test]
fn retention_by_age_deletes_old_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg(dir.path());
    cfg.set_data_file_max_size(64 << 10).set_retention_max_age_ms(200);
    let w = Writer::open(&cfg).unwrap();
    let rec = vec![b'x'; 1000];
    for _ in 0..300 {
        w.write("t", &rec).unwrap();
    }
    w.flush().unwrap();
    let before = logstream::topics(&cfg).unwrap()[0].segments;
    assert!(before > 2);
    wait_for("only the active segment left", T, || logstream::topics(&cfg).unwrap()[0].segments == 1);
    let info = &logstream::topics(&cfg).unwrap()[0];
    assert_eq!(info.next_seq, 300);
    // The flush thread counts a deletion just after the file is gone, so the
    // counter may trail the directory listing by a moment.
    let dropped = before as u64 - 1;
    wait_for("every deletion counted in the stats", T, || w.stats().segments_dropped >= dropped);
}

#[test]
fn a_group_is_deregistered_only_once_its_readers_stopped_and_then_holds_nothing_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg(dir.path());
    cfg.set_data_file_max_size(64 << 10);
    let (lagging, _) = collecting_reader(&cfg, "lagging");
    lagging.stop().unwrap();
    let w = Writer::open(&cfg).unwrap();
    let rec = vec![b'y'; 1000];
    for _ in 0..500 {
        w.write("t", &rec).unwrap();
    }
    let (busy, seen) = collecting_reader(&cfg, "busy");
    wait_for("the busy group to read everything", T, || count(&seen) == 500);
    let segments = || logstream::topics(&cfg).unwrap()[0].segments;
    assert!(segments() > 2, "the lagging group holds the segments");
    let (again, _) = {
        let seen: Seen = Arc::default();
        (Reader::builder(&cfg).group("lagging").start(|_: &Batch| Err::<(), _>("paused")).unwrap(), seen)
    };
    let g = Group::open(&cfg, "lagging").unwrap();
    assert!(matches!(g.clone().deregister(), Err(logstream::Error::GroupBusy { .. })));
    again.stop().unwrap();
    g.deregister().unwrap();
    assert_eq!(Group::list(&cfg).unwrap(), ["busy"]);
    wait_for("consumed segments deleted", T, || segments() == 1);
    busy.stop().unwrap();
}

#[test]
fn the_closure_can_ask_to_read_again_from_an_earlier_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let rewound = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rw = rewound.clone();
    let r = Reader::builder(&cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), std::io::Error> {
            s2.lock().unwrap().entry(b.topic().into()).or_default().extend(b.records().map(|r| (r.seq(), vec![])));
            if b.last_seq() == 99 && !rw.swap(true, std::sync::atomic::Ordering::SeqCst) {
                b.seek(90);
            }
            Ok(())
        })
        .unwrap();
    wait_for("0..100 then 90..100 again", T, || count(&seen) == 110);
    r.stop().unwrap();
    let got = seqs(&seen, "t");
    assert_eq!(got[100..], (90..100).collect::<Vec<_>>()[..]);
    assert_eq!(Group::open(&cfg, "g").unwrap().positions().unwrap()[0].next_seq, 100);
}

/// Readers started at the same moment on a group nobody registered yet all
/// join it (their registrations used to share one temporary file, and the
/// one that failed removed the new group's directory under the others).
#[test]
fn readers_joining_a_new_group_at_the_same_moment_all_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", b"x").unwrap();
    for round in 0..20 {
        let group = format!("g{round}");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let (cfg, group, barrier) = (cfg.clone(), group.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    logstream::Reader::builder(&cfg)
                        .group(&group)
                        .start(|_: &logstream::Batch| -> Result<(), std::io::Error> { Ok(()) })
                })
            })
            .collect();
        let readers: Vec<logstream::ReaderHandle> = starts
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("round {round}: a reader failed to start: {e}")))
            .collect();
        let g = logstream::Group::open(&cfg, &group).unwrap();
        wait_for("the four members listed", std::time::Duration::from_secs(30), || {
            g.members().is_ok_and(|m| m.len() == 4)
        });
        for r in readers {
            r.stop().unwrap();
        }
    }
    w.close().unwrap();
}
