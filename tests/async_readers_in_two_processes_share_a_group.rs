//! Two processes each run an async reader (`start_async`, one on a
//! current-thread runtime, one on a multi-thread one) in the same group:
//! they split the topics between them like threaded members do, and every
//! record is delivered exactly once across the two.
#![cfg(feature = "tokio")]
mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;

const ROLE: &str = "async_member_process";
const TOPICS: usize = 8;
const PER_TOPIC: u64 = 300;

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_rebalance_interval_ms(50).set_max_batch_bytes(1024);
    c
}

/// One member: logs every batch its futures deliver as "topic first last",
/// and stops (`stop_async`) when its stop file appears.
#[test]
fn async_member_process() {
    let Ok(spec) = std::env::var("LOGSTREAM_ASYNC_MEMBER") else { return };
    let mut parts = spec.split('|');
    let (dir, log, stop, flavor) =
        (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let rt = if flavor == "current" {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    };
    let file = Arc::new(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap());
    rt.block_on(async {
        let r = logstream::Reader::builder(&cfg(Path::new(dir)))
            .group("g")
            .start_async(move |b: Arc<logstream::Batch>| {
                let file = file.clone();
                async move {
                    for rec in b.records() {
                        assert_eq!(rec.data(), payload(b.topic(), rec.seq()), "wrong bytes");
                    }
                    tokio::task::yield_now().await;
                    (&*file).write_all(format!("{} {} {}\n", b.topic(), b.first_seq(), b.last_seq()).as_bytes())
                }
            })
            .await
            .unwrap();
        child_say(&format!("member {}", r.member_id()));
        while !Path::new(stop).exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        r.stop_async().await.unwrap();
    });
    child_say("stopped");
}

/// (topic, seq) -> how many times delivered, from both members' logs.
fn delivered(logs: &[std::path::PathBuf]) -> (BTreeMap<(String, u64), u32>, Vec<usize>) {
    let mut seen = BTreeMap::new();
    let mut per_member = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let mut n = 0;
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let (Some(first), Some(last)) =
                (f.get(1).and_then(|s| s.parse::<u64>().ok()), f.get(2).and_then(|s| s.parse().ok()))
            else {
                continue; // a line being written
            };
            for s in first..=last {
                *seen.entry((f[0].to_owned(), s)).or_insert(0) += 1;
                n += 1;
            }
        }
        per_member.push(n);
    }
    (seen, per_member)
}

#[test]
fn async_readers_in_two_processes_share_a_group_and_deliver_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    let topics: Vec<String> = (0..TOPICS).map(|i| format!("t{i}")).collect();
    for t in &topics {
        w.write(t, &payload(t, 0)).unwrap();
    }
    // The group exists first (two readers creating a new group at the same
    // moment can both fail: a separate problem).
    let mut none = cfg.clone();
    none.set_white_topics(vec!["none".to_owned()]);
    logstream::Reader::builder(&none)
        .group("g")
        .start(|_: &logstream::Batch| Ok::<(), std::io::Error>(()))
        .unwrap()
        .stop()
        .unwrap();
    let stop = dir.path().join("stop");
    let logs: Vec<_> = (0..2).map(|i| dir.path().join(format!("member-{i}.log"))).collect();
    let mut children: Vec<_> = ["current", "multi"]
        .iter()
        .zip(&logs)
        .map(|(flavor, log)| {
            let spec = format!("{}|{}|{}|{flavor}", dir.path().display(), log.display(), stop.display());
            let mut c = spawn_child(ROLE, &[("LOGSTREAM_ASYNC_MEMBER", spec)]);
            let mut lines = child_lines(&mut c);
            let hello = lines.next().expect("the member started");
            assert!(hello.starts_with("member "), "{hello}");
            (c, lines)
        })
        .collect();
    // Both members own topics before the bulk is written.
    let group = logstream::Group::open(&cfg, "g").unwrap();
    wait_for("the topics split between the two members", Duration::from_secs(30), || {
        let owners: std::collections::HashSet<String> =
            group.lag().unwrap().into_iter().filter_map(|l| l.owner).collect();
        owners.len() == 2
    });
    for i in 1..PER_TOPIC {
        for t in &topics {
            w.write(t, &payload(t, i)).unwrap();
        }
    }
    let total = TOPICS * PER_TOPIC as usize;
    wait_for("every record in the members' logs", Duration::from_secs(60), || delivered(&logs).0.len() == total);
    std::fs::write(&stop, b"").unwrap();
    for (mut c, mut lines) in children.drain(..) {
        assert_eq!(lines.next().as_deref(), Some("stopped"));
        assert!(c.wait().unwrap().success());
    }
    let (seen, per_member) = delivered(&logs);
    assert_eq!(seen.len(), total);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert!(per_member.iter().all(|&n| n > 0), "each member delivered some: {per_member:?}");
}
