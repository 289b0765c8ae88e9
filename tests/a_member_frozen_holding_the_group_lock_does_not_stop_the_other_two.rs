//! Three reader processes in one group split twelve topics. One of them is
//! frozen (a real SIGSTOP, raised by the process itself from a storage
//! hook) at the worst moment for the others: inside `persist`, holding the
//! group's `checkpoints.lock` exclusively with its journal entries written
//! and not yet synced. The two others must break the lock of the stale
//! holder, take its four topics over, settle on a split that then stays put
//! (no topic moving back and forth between them, though each of them was
//! itself blocked behind the frozen lock for a while), persist positions,
//! and deliver what is written meanwhile. After SIGCONT the woken member
//! finishes its sync on a lock file that is no longer the group's: no
//! persisted position ever goes backwards, the three share the topics again,
//! and every record is delivered.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use logstream::testing::{StorageHook, SyncedRange, add_hook};

const ROLE: &str = "member_that_freezes_in_the_lock";
const TOPICS: usize = 12;
const MEMBERS: usize = 3;
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

/// Stops this very process with SIGSTOP when the group's journal is about
/// to be synced (under the exclusive lock) and the arm file exists.
struct FreezeInLock {
    arm: PathBuf,
}

impl StorageHook for FreezeInLock {
    fn before_sync(&self, range: &SyncedRange<'_>) -> std::io::Result<()> {
        if range.path.file_name().is_some_and(|n| n == "checkpoints.log") && std::fs::remove_file(&self.arm).is_ok() {
            // To this thread (tgkill), not the process: a process-directed
            // stop is taken by whichever thread runs first, and this one
            // could finish its persist (and unlock) before it is stopped.
            // SAFETY: raise(3) has no memory-safety preconditions.
            if unsafe { libc::raise(libc::SIGSTOP) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// One member: logs every batch as "topic first last" and runs until its
/// stop file appears. With an arm file it freezes itself as described.
#[test]
fn member_that_freezes_in_the_lock() {
    let Ok(spec) = std::env::var("LOGSTREAM_MEMBER") else { return };
    let parts: Vec<&str> = spec.split('|').collect();
    let (dir, log, stop) = (Path::new(parts[0]), parts[1], parts[2]);
    if let Some(arm) = parts.get(3) {
        add_hook(&dir.join("groups"), Arc::new(FreezeInLock { arm: PathBuf::from(arm) }));
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let r = logstream::Reader::builder(&cfg(dir))
        .group("g")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            for r in b.records() {
                assert_eq!(r.data(), payload(b.topic(), r.seq()), "wrong bytes");
            }
            std::thread::sleep(Duration::from_millis(1));
            (&file).write_all(format!("{} {} {}\n", b.topic(), b.first_seq(), b.last_seq()).as_bytes())
        })
        .unwrap();
    child_say(&format!("member {}", r.member_id()));
    while !Path::new(stop).exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = r.stats();
    r.stop().unwrap();
    child_say(&format!("stopped lost={} takeovers={} released={}", s.topics_lost, s.takeovers, s.topics_released));
}

/// (member, topic, first, last) of every batch the members logged.
fn delivered(logs: &[PathBuf]) -> Vec<(usize, String, u64, u64)> {
    let mut out = Vec::new();
    for (m, p) in logs.iter().enumerate() {
        for l in std::fs::read_to_string(p).unwrap_or_default().lines() {
            let f: Vec<&str> = l.split(' ').collect();
            if let [t, a, b] = f[..]
                && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
            {
                out.push((m, t.to_owned(), a, b));
            }
        }
    }
    out
}

fn all_delivered_up_to(logs: &[PathBuf], n: u64) -> bool {
    let mut top: BTreeMap<String, u64> = BTreeMap::new();
    for (_, t, _, last) in delivered(logs) {
        let e = top.entry(t).or_default();
        *e = (*e).max(last + 1);
    }
    top.len() == TOPICS && top.values().all(|&x| x == n)
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

/// 'T' when every thread of `pid` is stopped, else the state letter of one
/// that is not.
fn state(pid: u32) -> Option<char> {
    let mut all = 'T';
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
        let c = stat.rsplit_once(") ")?.1.chars().next()?;
        if c != 'T' {
            all = c;
        }
    }
    Some(all)
}

type Owners = BTreeMap<String, String>;

#[test]
fn a_member_frozen_holding_the_group_lock_does_not_stop_the_other_two() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let cfg = cfg(&dir);
    let w = logstream::Writer::open(&cfg).unwrap();
    write_round(&w, 0, 20);
    let logs: Vec<PathBuf> = (0..MEMBERS).map(|i| tmp.path().join(format!("member-{i}.log"))).collect();
    let stops: Vec<PathBuf> = (0..MEMBERS).map(|i| tmp.path().join(format!("stop-{i}"))).collect();
    let arm = tmp.path().join("freeze-member-0");
    let mut guard = Children(
        (0..MEMBERS)
            .map(|i| {
                let mut spec = format!("{}|{}|{}", dir.display(), logs[i].display(), stops[i].display());
                if i == 0 {
                    spec.push_str(&format!("|{}", arm.display()));
                }
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
    // What the live members own (a frozen member's file still lists the
    // topics it had when it froze).
    let owners = |g: &logstream::Group| -> Owners {
        members(g)
            .values()
            .filter(|m| !m.stale)
            .flat_map(|m| m.topics.iter().map(|t| (t.clone(), m.id.clone())))
            .collect()
    };
    wait_for("four topics each", Duration::from_secs(30), || {
        let m = members(&g);
        m.len() == MEMBERS && m.values().all(|i| i.topics.len() == TOPICS / MEMBERS)
    });
    let frozen_topics: BTreeSet<String> = members(&g)[&ids[0]].topics.iter().cloned().collect();

    // Freeze member 0 inside its next persist, with the lock held.
    std::fs::write(&arm, b"").unwrap();
    write_round(&w, 20, 120);
    let pid0 = children[0].id();
    wait_for("member 0 to stop itself inside persist", Duration::from_secs(30), || state(pid0) == Some('T'));
    let frozen_at = Instant::now();
    let lock = std::fs::File::open(dir.join("groups/g/checkpoints.lock")).unwrap();
    let probe = rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockShared);
    assert!(probe.is_err(), "the frozen member holds the group's lock exclusively");
    drop(lock);

    // The two others take its topics over and settle.
    wait_for("members 1 and 2 to own six topics each", Duration::from_secs(30), || {
        let m = members(&g);
        m.get(&ids[1]).is_some_and(|i| i.topics.len() == 6) && m.get(&ids[2]).is_some_and(|i| i.topics.len() == 6)
    });
    let takeover = frozen_at.elapsed();
    eprintln!(
        "takeover of 4 topics from a member frozen in the group's lock (member_timeout_ms {TIMEOUT_MS}): {takeover:?}"
    );
    assert!(
        takeover < Duration::from_millis(TIMEOUT_MS + 2 * REBALANCE_MS) + Duration::from_secs(3),
        "takeover took {takeover:?}"
    );
    assert!(members(&g)[&ids[0]].stale, "the frozen member is shown as stale");
    let settled = owners(&g);
    assert!(
        frozen_topics.iter().all(|t| settled.get(t).is_some_and(|o| *o != ids[0])),
        "the frozen member's topics all moved: {settled:?}"
    );

    // They persist past the frozen holder and deliver what is written now;
    // meanwhile no topic moves between them.
    write_round(&w, 120, 220);
    wait_for("every record delivered while member 0 is frozen", Duration::from_secs(60), || {
        all_delivered_up_to(&logs, 220)
    });
    wait_for("the group's positions to reach 220", Duration::from_secs(60), || {
        g.lag().is_ok_and(|l| l.len() == TOPICS && l.iter().all(|t| t.confirmed == Some(220)))
    });
    assert_eq!(owners(&g), settled, "a topic moved between the two live members after they had settled");
    assert_eq!(state(pid0), Some('T'), "member 0 stayed frozen throughout");

    // Wake it: it finishes its sync on the replaced lock, loses its topics
    // and joins again.
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid0 as i32).unwrap(), rustix::process::Signal::CONT)
        .unwrap();
    wait_for("the three members to share the topics again", Duration::from_secs(30), || {
        let m = members(&g);
        m.len() == MEMBERS && m.values().all(|i| i.topics.len() == TOPICS / MEMBERS && !i.stale)
    });
    write_round(&w, 220, 300);
    wait_for("every record delivered", Duration::from_secs(60), || all_delivered_up_to(&logs, 300));
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
    assert!(stats[0].contains("lost=4"), "the frozen member lost its four topics: {}", stats[0]);

    assert_no_position_went_back(&dir.join("groups").join("g"));
    let all = delivered(&logs);
    let mut duplicates = 0;
    for t in (0..TOPICS).map(topic) {
        let mut times: BTreeMap<u64, u32> = BTreeMap::new();
        for (_, _, a, b) in all.iter().filter(|d| d.1 == t) {
            for s in *a..=*b {
                *times.entry(s).or_default() += 1;
            }
        }
        assert!(times.keys().copied().eq(0..300), "topic {t}: records missing");
        duplicates += times.values().filter(|&&n| n > 1).count();
    }
    eprintln!("records delivered twice: {duplicates}");
    let lag = g.lag().unwrap();
    assert!(lag.iter().all(|l| l.lag_records == 0 && l.confirmed == Some(300)), "{lag:?}");
}
