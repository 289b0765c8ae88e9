//! Two reader processes in one group split ten topics; one is frozen with
//! SIGSTOP (alive, holding every kernel lock) for longer than
//! `member_timeout_ms`. The other takes its topics over within the
//! documented bound (`member_timeout_ms + 2 × rebalance_interval_ms`) and
//! delivers what is written meanwhile. After SIGCONT the frozen member
//! gives the topics up without persisting anything for them: every record
//! is delivered, no persisted position of a topic ever goes backwards, and
//! the records delivered twice all lie in the frozen member's last batches
//! of each topic (the one whose confirmation it was persisting or had in
//! the closure when frozen, at most two per topic). Once woken, it begins
//! no batch of a topic it lost before it has checked its leases.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

const ROLE: &str = "frozen_member_process";
const TOPICS: usize = 10;
const TIMEOUT_MS: u64 = 1000;
const REBALANCE_MS: u64 = 100;

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_checkpoint_interval_ms(0)
        .set_rebalance_interval_ms(REBALANCE_MS)
        .set_member_timeout_ms(TIMEOUT_MS)
        .set_max_batch_bytes(2048);
    c
}

fn topic(i: usize) -> String {
    format!("t{i:02}")
}

fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// One member: logs every batch it delivers as "topic first last start
/// end" (monotonic clock, when the closure got it and when it returned) and
/// runs until its stop file appears.
#[test]
fn frozen_member_process() {
    let Ok(spec) = std::env::var("LOGSTREAM_MEMBER") else { return };
    let mut parts = spec.split('|');
    let (dir, log, stop) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let r = logstream::Reader::builder(&cfg(Path::new(dir)))
        .group("g")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let start = now_ns();
            for r in b.records() {
                assert_eq!(r.data(), payload(b.topic(), r.seq()), "wrong bytes");
            }
            // Long enough that the freeze lands inside batches.
            std::thread::sleep(Duration::from_millis(2));
            let line = format!("{} {} {} {start} {}\n", b.topic(), b.first_seq(), b.last_seq(), now_ns());
            (&file).write_all(line.as_bytes())
        })
        .unwrap();
    child_say(&format!("member {}", r.member_id()));
    while !Path::new(stop).exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = r.stats();
    r.stop().unwrap();
    child_say(&format!("stopped lost={} revoked={} takeovers={}", s.topics_lost, s.revoked_batches, s.takeovers));
}

struct Delivery {
    member: usize,
    first: u64,
    last: u64,
    start: u64,
    end: u64,
}

fn read_log(path: &Path, member: usize) -> Vec<(String, Delivery)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let n = |i: usize| f.get(i)?.parse::<u64>().ok();
            Some((f[0].to_owned(), Delivery { member, first: n(1)?, last: n(2)?, start: n(3)?, end: n(4)? }))
        })
        .collect()
}

fn write_round(w: &logstream::Writer, from: u64, to: u64) {
    for i in from..to {
        for t in 0..TOPICS {
            let name = topic(t);
            w.write(&name, &payload(&name, i)).unwrap();
        }
    }
}

/// Kills the members if the test fails (a stopped one would stay forever).
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(child: &std::process::Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

#[test]
fn a_frozen_member_loses_its_topics_and_cannot_move_positions_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let cfg = cfg(&dir);
    let w = logstream::Writer::open(&cfg).unwrap();
    write_round(&w, 0, 50);
    let logs: Vec<PathBuf> = (0..2).map(|i| tmp.path().join(format!("member-{i}.log"))).collect();
    let stops: Vec<PathBuf> = (0..2).map(|i| tmp.path().join(format!("stop-{i}"))).collect();
    let mut guard = Children(
        (0..2)
            .map(|i| {
                let spec = format!("{}|{}|{}", dir.display(), logs[i].display(), stops[i].display());
                spawn_child(ROLE, &[("LOGSTREAM_MEMBER", spec)])
            })
            .collect(),
    );
    let children = &mut guard.0;
    let mut lines: Vec<_> = children.iter_mut().map(child_lines).collect();
    let mut ids = Vec::new();
    for l in &mut lines {
        let line = l.next().expect("the member started");
        ids.push(line.strip_prefix("member ").expect("a member line").to_owned());
    }
    let g = logstream::Group::open(&cfg, "g").unwrap();
    let members = |g: &logstream::Group| -> HashMap<String, logstream::MemberInfo> {
        g.members().unwrap().into_iter().map(|m| (m.id.clone(), m)).collect()
    };
    wait_for("five topics each", Duration::from_secs(30), || {
        let m = members(&g);
        m.len() == 2 && m.values().all(|i| i.topics.len() == 5)
    });

    // Freeze member 0 while it delivers.
    write_round(&w, 50, 250);
    wait_for("member 0 busy", Duration::from_secs(30), || read_log(&logs[0], 0).len() > 10);
    signal(&children[0], rustix::process::Signal::STOP);
    let frozen_at = Instant::now();
    let frozen_ns = now_ns();
    wait_for("member 1 to own every topic", Duration::from_secs(30), || {
        members(&g).get(&ids[1]).is_some_and(|i| i.topics.len() == TOPICS)
    });
    let takeover = frozen_at.elapsed();
    eprintln!("takeover of 5 topics after SIGSTOP (member_timeout_ms {TIMEOUT_MS}): {takeover:?}");
    let bound = Duration::from_millis(TIMEOUT_MS + 2 * REBALANCE_MS);
    // The documented bound, plus slack for a loaded 2-core machine.
    assert!(takeover < bound + Duration::from_secs(2), "takeover took {takeover:?}, bound {bound:?}");
    let m = members(&g);
    assert!(m[&ids[0]].stale, "the frozen member is shown as stale: {:?}", m[&ids[0]]);
    assert!(!m[&ids[1]].stale);
    let owners: Vec<Option<String>> = g.lag().unwrap().into_iter().map(|l| l.owner).collect();
    assert!(owners.iter().all(|o| o.as_deref() == Some(ids[1].as_str())), "lag() names the new owner: {owners:?}");

    // Records written while it is frozen are delivered by the other.
    write_round(&w, 250, 300);
    let delivered = |logs: &[PathBuf]| -> Vec<(String, Delivery)> {
        logs.iter().enumerate().flat_map(|(i, p)| read_log(p, i)).collect()
    };
    let all_up_to = |n: u64| {
        let mut top: BTreeMap<String, u64> = BTreeMap::new();
        for (t, b) in delivered(&logs) {
            let e = top.entry(t).or_default();
            *e = (*e).max(b.last + 1);
        }
        top.len() == TOPICS && top.values().all(|&x| x == n)
    };
    wait_for("every record delivered while member 0 is frozen", Duration::from_secs(30), || all_up_to(300));

    // Wake it: it gives its old topics up, and balancing shares them again.
    let woken_ns = now_ns();
    signal(&children[0], rustix::process::Signal::CONT);
    wait_for("the two members to share the topics again", Duration::from_secs(30), || {
        let m = members(&g);
        m.len() == 2 && m.values().all(|i| i.topics.len() == 5 && !i.stale)
    });
    write_round(&w, 300, 400);
    wait_for("every record delivered", Duration::from_secs(30), || all_up_to(400));
    for stop in &stops {
        std::fs::write(stop, b"").unwrap();
    }
    let mut stats = Vec::new();
    for (c, l) in children.iter_mut().zip(&mut lines) {
        let line = l.next().unwrap_or_default();
        assert!(line.starts_with("stopped"), "{line}");
        stats.push(line);
        assert!(c.wait().unwrap().success());
    }
    eprintln!("member stats: {stats:?}");
    assert!(stats[0].contains("lost=5"), "the frozen member lost its five topics: {}", stats[0]);
    assert!(stats[1].contains("takeovers=5"), "the other took five over: {}", stats[1]);

    // No persisted position ever went backwards.
    assert_no_position_went_back(&dir.join("groups").join("g"));

    // Every record delivered; twice only in member 0's batches that ended
    // after it was frozen (at most two per topic).
    let all = delivered(&logs);
    let mut duplicates = 0;
    for t in (0..TOPICS).map(topic) {
        let batches: Vec<&Delivery> = all.iter().filter(|(n, _)| *n == t).map(|(_, b)| b).collect();
        let mut times: BTreeMap<u64, u32> = BTreeMap::new();
        for b in &batches {
            for s in b.first..=b.last {
                *times.entry(s).or_default() += 1;
            }
        }
        assert!(times.keys().copied().eq(0..400), "topic {t}: records missing");
        // Its last batch before the freeze (whose confirmation may not have
        // been persisted yet) and those that returned after it.
        let last_before = batches.iter().filter(|b| b.member == 0 && b.end <= frozen_ns).map(|b| b.end).max();
        let late: Vec<&&Delivery> =
            batches.iter().filter(|b| b.member == 0 && (b.end > frozen_ns || Some(b.end) == last_before)).collect();
        let mut late_with_duplicates = std::collections::BTreeSet::new();
        for (&s, &n) in &times {
            if n > 1 {
                let b = late.iter().position(|b| (b.first..=b.last).contains(&s));
                let holders: Vec<(usize, u64, u64, i128)> = batches
                    .iter()
                    .filter(|b| (b.first..=b.last).contains(&s))
                    .map(|b| (b.member, b.first, b.last, b.end as i128 - frozen_ns as i128))
                    .collect();
                assert!(
                    n == 2 && b.is_some(),
                    "topic {t}: seq {s} delivered {n} times: (member, first, last, ended ns after the freeze) {holders:?}"
                );
                late_with_duplicates.extend(b);
                duplicates += 1;
            }
        }
        assert!(
            late_with_duplicates.len() <= 2,
            "topic {t}: {} late batches of the frozen member were delivered again",
            late_with_duplicates.len()
        );
    }
    eprintln!("records delivered twice after the freeze: {duplicates}");

    // Once woken, the frozen member starts no batch of a topic it lost
    // before its ckpt thread has checked its leases: no batch of it begun
    // after SIGCONT holds records the other member had already delivered.
    // (A worker that passed that check just before the freeze and had not
    // yet called the closure may still hand it one: at most one here.)
    let mut stale_starts = Vec::new();
    for t in (0..TOPICS).map(topic) {
        let batches: Vec<&Delivery> = all.iter().filter(|(n, _)| *n == t).map(|(_, b)| b).collect();
        for b in batches.iter().filter(|b| b.member == 0 && b.start > woken_ns) {
            let redelivered =
                batches.iter().any(|o| o.member == 1 && o.end < b.start && o.first <= b.last && b.first <= o.last);
            if redelivered {
                stale_starts.push((t.clone(), b.first, b.last, b.start - woken_ns));
            }
        }
    }
    assert!(
        stale_starts.len() <= 1,
        "the woken member began batches of topics it had lost (topic, first, last, ns after SIGCONT): {stale_starts:?}"
    );
    let lag = g.lag().unwrap();
    assert!(lag.iter().all(|l| l.lag_records == 0 && l.confirmed == Some(400)), "{lag:?}");
}
