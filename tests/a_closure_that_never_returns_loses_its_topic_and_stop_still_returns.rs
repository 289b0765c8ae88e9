//! A closure that holds one batch longer than `max_forward_ms`: the
//! reader's other topics keep flowing; alone, the reader reports the topic
//! as stuck; once another member of the group is there the topic moves to
//! it, the batch tells the closure it was revoked, and what the closure
//! returns then is ignored (a failure on its last attempt stores no dead
//! letters). `stop()` with a closure that never returns comes back after
//! `max_forward_ms`, naming the topic it abandoned.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::*;
use logstream::{Batch, Group, Reader, Writer};

const T: Duration = Duration::from_secs(30);
const MAX_FORWARD_MS: u64 = 400;

fn cfg(dir: &std::path::Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_checkpoint_interval_ms(0).set_rebalance_interval_ms(50).set_max_forward_ms(MAX_FORWARD_MS);
    c
}

type Delivered = Arc<Mutex<BTreeMap<String, Vec<u64>>>>;

fn note(seen: &Delivered, b: &Batch) {
    let mut s = seen.lock().unwrap();
    s.entry(b.topic().to_owned()).or_default().extend(b.records().map(|r| r.seq()));
}

/// Another member of group "g", noting every record it is handed.
fn collecting_member(cfg: &logstream::Config) -> (logstream::ReaderHandle, Delivered) {
    let seen: Delivered = Arc::default();
    let s = seen.clone();
    let r = Reader::builder(cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), String> {
            note(&s, b);
            Ok(())
        })
        .unwrap();
    (r, seen)
}

fn count(seen: &Delivered, topic: &str) -> usize {
    seen.lock().unwrap().get(topic).map_or(0, Vec::len)
}

#[test]
fn a_closure_holding_a_batch_too_long_loses_the_topic_to_another_member_and_sees_it_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..10 {
        for t in ["stuck", "o1", "o2"] {
            w.write(t, &payload(t, i)).unwrap();
        }
    }
    let seen_a: Delivered = Arc::default();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let revoked_seen = Arc::new(AtomicBool::new(false));
    let (s2, rv) = (seen_a.clone(), revoked_seen.clone());
    let a = Reader::builder(&cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), String> {
            if b.topic() == "stuck" {
                let _ = entered_tx.lock().unwrap().send(());
                // Hangs (like an HTTP call without a timeout) until taken away.
                let deadline = Instant::now() + T;
                while !b.is_revoked() {
                    assert!(Instant::now() < deadline, "the batch was never revoked");
                    std::thread::sleep(Duration::from_millis(2));
                }
                rv.store(true, Ordering::SeqCst);
                return Ok(()); // ignored: the topic is no longer ours
            }
            note(&s2, b);
            Ok(())
        })
        .unwrap();
    entered.recv_timeout(T).expect("the closure took the stuck topic's batch");
    let entered_at = Instant::now();

    // The other topics keep flowing meanwhile.
    for i in 10..100 {
        for t in ["o1", "o2"] {
            w.write(t, &payload(t, i)).unwrap();
        }
    }
    wait_for("the other topics delivered", T, || count(&seen_a, "o1") == 100 && count(&seen_a, "o2") == 100);

    // Alone, the reader keeps the topic and reports it.
    wait_for("the topic reported stuck", T, || a.stats().stuck_topics == 1);
    assert_eq!(a.stats().stuck_found, 1);
    assert!(!revoked_seen.load(Ordering::SeqCst), "with no other member the batch is not taken away");
    let g = Group::open(&cfg, "g").unwrap();
    let me = g.members().unwrap().into_iter().find(|m| m.id == a.member_id()).unwrap();
    assert_eq!(me.stuck, ["stuck"], "the member says which topic is stuck");

    // A second member: the topic moves to it and is delivered from the start.
    let joined = Instant::now();
    let (b, seen_b) = collecting_member(&cfg);
    wait_for("the stuck topic delivered by the other member", T, || count(&seen_b, "stuck") == 10);
    eprintln!(
        "stuck topic delivered by the other member {:?} after it joined ({:?} after the closure took the batch; max_forward_ms {MAX_FORWARD_MS})",
        joined.elapsed(),
        entered_at.elapsed()
    );
    assert_eq!(seen_b.lock().unwrap()["stuck"], (0..10).collect::<Vec<u64>>());
    wait_for("the closure to see its batch revoked", T, || revoked_seen.load(Ordering::SeqCst));
    wait_for("the revoked batch counted", T, || a.stats().revoked_batches == 1);
    assert_eq!(a.stats().stuck_topics, 0);
    wait_for("the stuck topic's position persisted by its new owner", T, || {
        g.positions().unwrap().iter().any(|p| p.topic == "stuck" && p.next_seq == 10)
    });
    assert!(!a.positions().iter().any(|p| p.topic == "stuck"), "the first member no longer owns it");
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn stop_with_a_closure_that_never_returns_comes_back_after_max_forward_ms_naming_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..10 {
        for t in ["stuck", "ok"] {
            w.write(t, &payload(t, i)).unwrap();
        }
    }
    let seen: Delivered = Arc::default();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    // Released only when the test ends, so the abandoned thread can finish.
    let (release_tx, release) = mpsc::channel::<()>();
    let release = Mutex::new(release);
    let s2 = seen.clone();
    let r = Reader::builder(&cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), String> {
            if b.topic() == "stuck" {
                let _ = entered_tx.lock().unwrap().send(());
                let _ = release.lock().unwrap().recv();
                return Ok(());
            }
            note(&s2, b);
            Ok(())
        })
        .unwrap();
    entered.recv_timeout(T).expect("the closure took the stuck topic's batch");
    wait_for("the other topic delivered", T, || count(&seen, "ok") == 10);

    let (done_tx, done) = mpsc::channel();
    let stopper = std::thread::spawn(move || {
        let started = Instant::now();
        let res = r.stop();
        let _ = done_tx.send((res, started.elapsed()));
        r
    });
    let (res, took) = done.recv_timeout(T).expect("stop() returned");
    eprintln!("stop() with a stuck closure (max_forward_ms {MAX_FORWARD_MS}) returned after {took:?}");
    match res {
        Err(logstream::Error::StopAbandoned { topics, .. }) => assert_eq!(topics, ["stuck"]),
        other => panic!("expected StopAbandoned naming the topic, got {other:?}"),
    }
    let g = Group::open(&cfg, "g").unwrap();
    let pos: BTreeMap<String, u64> = g.positions().unwrap().into_iter().map(|p| (p.topic, p.next_seq)).collect();
    assert_eq!(pos.get("ok"), Some(&10), "the other topic's position was persisted");
    assert_eq!(pos.get("stuck").copied().unwrap_or(0), 0, "nothing of the abandoned batch counts as delivered");
    assert!(g.members().unwrap().is_empty(), "the reader left the group");
    let _ = release_tx.send(());
    drop(stopper.join().unwrap());
}

/// Two members split four topics; then every closure of the first hangs.
/// It gives its topics up and lists none any more, so by the fair share
/// alone the other (already at its share) would not take them and they
/// would sit with nobody: the other takes them all and keeps them while the
/// first is stuck.
#[test]
fn a_member_stuck_on_every_topic_it_owns_hands_them_all_to_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    let names = ["a", "b", "c", "d"];
    for t in names {
        w.write(t, &payload(t, 0)).unwrap();
    }
    let hang = Arc::new(AtomicBool::new(false));
    let seen_a: Delivered = Arc::default();
    let (h2, s2) = (hang.clone(), seen_a.clone());
    let a = Reader::builder(&cfg)
        .group("g")
        .start(move |b: &Batch| -> Result<(), String> {
            if h2.load(Ordering::SeqCst) {
                // Hangs, revoked or not, until the test lets go: a closure
                // that returned on revocation would no longer be stuck, and
                // its member would rightly take its share back.
                let deadline = Instant::now() + T;
                while h2.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "never let go");
                    std::thread::sleep(Duration::from_millis(2));
                }
                return Ok(());
            }
            note(&s2, b);
            Ok(())
        })
        .unwrap();
    let (b, seen_b) = collecting_member(&cfg);
    let g = Group::open(&cfg, "g").unwrap();
    let owned = |id: &str| -> Vec<String> {
        g.members().unwrap().into_iter().find(|m| m.id == id).map(|m| m.topics).unwrap_or_default()
    };
    wait_for("two topics each", T, || owned(&a.member_id()).len() == 2 && owned(&b.member_id()).len() == 2);
    let a_topics = owned(&a.member_id());
    hang.store(true, Ordering::SeqCst);
    for t in &a_topics {
        w.write(t, &payload(t, 1)).unwrap();
    }
    wait_for("the other member to deliver the stuck member's records", T, || {
        a_topics.iter().all(|t| seen_b.lock().unwrap().get(t).is_some_and(|v| v.contains(&1)))
    });
    // Its member file is rewritten at the end of the tick that took them.
    wait_for("the other member's file to list every topic", T, || owned(&b.member_id()).len() == 4);
    // And keeps them while the first is stuck: new records keep coming.
    for t in &a_topics {
        w.write(t, &payload(t, 2)).unwrap();
    }
    wait_for("later records delivered too", T, || {
        a_topics.iter().all(|t| seen_b.lock().unwrap().get(t).is_some_and(|v| v.contains(&2)))
    });
    assert_eq!(owned(&b.member_id()).len(), 4);
    hang.store(false, Ordering::SeqCst);
    // (A stop that finds a closure held past max_forward_ms does not wait for
    // it: let them return first.)
    wait_for("the hung closures to return", T, || a.stats().stuck_topics == 0);
    a.stop().unwrap();
    b.stop().unwrap();
}

/// A batch taken away while its closure held it, whose closure then fails
/// on its last attempt: its outcome is ignored, so its records are not
/// stored as dead letters by the member that no longer owns the topic (the
/// new owner delivers them).
#[test]
fn a_revoked_batch_that_fails_its_last_attempt_is_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = Writer::open(&cfg).unwrap();
    for i in 0..10 {
        w.write("stuck", &payload("stuck", i)).unwrap();
    }
    let (entered_tx, entered) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    // Set at the end, for a batch the first member took again (it may, in
    // the moment between its closure returning and the other taking the
    // topic): that one returns unrevoked.
    let let_go = Arc::new(AtomicBool::new(false));
    let l2 = let_go.clone();
    let a = Reader::builder(&cfg)
        .group("g")
        .retry(logstream::RetryPolicy {
            initial: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_attempts: Some(1),
        })
        .start(move |b: &Batch| -> Result<(), String> {
            let _ = entered_tx.lock().unwrap().send(());
            let deadline = Instant::now() + T;
            while !b.is_revoked() && !l2.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "the batch was never revoked");
                std::thread::sleep(Duration::from_millis(2));
            }
            Err("downstream gone".into())
        })
        .unwrap();
    entered.recv_timeout(T).expect("the closure took the batch");
    let (b, seen_b) = collecting_member(&cfg);
    wait_for("the topic delivered by the other member", T, || count(&seen_b, "stuck") == 10);
    wait_for("the revoked batch counted", T, || a.stats().revoked_batches >= 1);
    let g = Group::open(&cfg, "g").unwrap();
    assert!(g.dead_letter_counts().unwrap().is_empty(), "a revoked batch's records are not dead letters");
    assert_eq!(a.stats().dead_letters, 0);
    let_go.store(true, Ordering::SeqCst);
    a.stop().unwrap();
    b.stop().unwrap();
}
