//! A big batch is confirmed in parts as Kafka's delivery reports arrive, up
//! to the longest prefix of records that were all delivered: a forwarder
//! process killed while the later part of its batch hangs has that prefix
//! persisted as the group's position, and after a restart only the rest is
//! sent again (issue 15, item 1).
//!
//! The records alternate between two partitions led by two brokers. Broker
//! 1 (even seqs) answers a few produce requests and then stalls; broker 2
//! (odd seqs) answers everything, so the reports of many later records come
//! before those of the stalled earlier ones: they must not move the
//! position past the first record without its report.
mod common;

use std::time::Duration;

use common::*;
use logstream::testing::{child_lines, child_say, spawn_child};
use logstream_kafka::{KafkaForwarder, KafkaOptions, Partitioning};

const DIR: &str = "LOGSTREAM_TEST_DIR";
const BROKERS: &str = "LOGSTREAM_TEST_BROKERS";
const RECORDS: u64 = 20_000;
const KAFKA_TOPIC: &str = "logs.t";
/// How long broker 1 holds its stalled answer back: longer than the test.
const STALL: Duration = Duration::from_secs(600);

fn cfg_for(dir: &std::path::Path) -> logstream::Config {
    let mut cfg = config(dir);
    // One batch holds every record; positions are persisted every 100 ms
    // (the saved prefix must stay put across ticks while the batch hangs:
    // the reader used to save the batch's start again at the next tick).
    cfg.set_max_batch_bytes(8 << 20).set_checkpoint_interval_ms(100);
    cfg
}

/// Even seqs to partition 0 (broker 1), odd ones to partition 1 (broker 2);
/// small produce requests, and no timeout that could end the stall.
fn forwarder(brokers: &str) -> KafkaForwarder {
    let opts = KafkaOptions::new(&format!("kafka://{brokers}"), KAFKA_TOPIC)
        .unwrap()
        .partitioning(Partitioning::Partition(std::sync::Arc::new(|_, rec| i32::from(rec.seq() % 2 == 1))))
        .set("batch.num.messages", "500")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "900000")
        .set("request.timeout.ms", "900000")
        .set("socket.timeout.ms", "300000");
    KafkaForwarder::connect(&opts).unwrap()
}

/// Child role: forwards the log as group "g" and reports its batch; its
/// batch never ends (broker 1 stalls), so it is killed inside it.
#[test]
fn child_forwarder_inside_a_stalled_batch() {
    let (Ok(dir), Ok(brokers)) = (std::env::var(DIR), std::env::var(BROKERS)) else { return };
    let cfg = cfg_for(std::path::Path::new(&dir));
    let fwd = forwarder(&brokers);
    let _r = logstream::Reader::builder(&cfg)
        .group("g")
        .start(move |b: &logstream::Batch| {
            child_say(&format!("batch {} {}", b.first_seq(), b.len()));
            fwd.forward(b)
        })
        .unwrap();
    loop {
        std::thread::park();
    }
}

/// Freezes `child` (SIGSTOP): it runs no thread until killed.
fn stop_process(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
}

/// The child process, SIGKILLed when dropped (also when the test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_forwarder_killed_inside_a_big_batch_re_sends_only_what_kafka_had_not_reported_delivered() {
    let mock = Mock::with_brokers(2);
    mock.create_topic(KAFKA_TOPIC, 2);
    mock.set_leader(KAFKA_TOPIC, 0, 1);
    mock.set_leader(KAFKA_TOPIC, 1, 2);
    mock.stall_produce_after(1, 3, STALL);
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_for(dir.path());
    write_log(&cfg, &["t".to_owned()], RECORDS);

    let mut child = Killed(spawn_child(
        "child_forwarder_inside_a_stalled_batch",
        &[(DIR, dir.path().display().to_string()), (BROKERS, mock.brokers.clone())],
    ));
    let mut lines = child_lines(&mut child.0);
    assert_eq!(lines.next().as_deref(), Some(format!("batch 0 {RECORDS}").as_str()), "one batch of every record");

    // Broker 2 takes every odd record, broker 1 the even ones of its
    // answered requests only. The position saved while the batch hangs is
    // then the first even record broker 1 did not store: everything before
    // it was delivered, and none of the later reports moved it further.
    let all_odd_delivered = || mock.messages_in_partition(KAFKA_TOPIC, 1) == RECORDS / 2;
    let delivered_prefix = || 2 * mock.messages_in_partition(KAFKA_TOPIC, 0);
    wait_for("broker 2 to store every odd record", Duration::from_secs(60), all_odd_delivered);
    let prefix = delivered_prefix();
    assert!(0 < prefix && prefix < RECORDS, "broker 1 stalled mid-batch: {prefix}");
    let group = logstream::Group::open(&cfg, "g").unwrap();
    let saved = || group.positions().unwrap().iter().find(|p| p.topic == "t").map_or(0, |p| p.next_seq);
    wait_for("the delivered prefix to be saved while the batch hangs", Duration::from_secs(60), || saved() == prefix);
    // Several checkpoint ticks later it is still there.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(saved(), prefix, "the saved position stays at the delivered prefix");
    }
    // Frozen, it saves nothing more; then killed inside its batch.
    stop_process(&child.0);
    let saved_at_kill = saved();
    drop(child);
    assert_eq!(saved_at_kill, prefix, "the saved position did not move before the kill");
    assert_eq!(delivered_prefix(), prefix, "broker 1 stored nothing more");

    // Restarted (the broker answers again): only the undelivered rest, from
    // the saved position, is sent.
    let fwd = forwarder(&mock.brokers);
    forward_all(&cfg, "g", &fwd, &["t".to_owned()]);
    assert_eq!(fwd.stats().produced, RECORDS - saved_at_kill, "the restart sends the rest only");

    let before_restart = saved_at_kill / 2 + RECORDS / 2;
    let total = before_restart + (RECORDS - saved_at_kill);
    assert_eq!(mock.messages_in(KAFKA_TOPIC, 2), total);
    let found = read_kafka(&mock.brokers, &[(KAFKA_TOPIC, 2)], usize::try_from(total).unwrap());
    let mut copies = vec![0u32; usize::try_from(RECORDS).unwrap()];
    for (seq, data) in &found["t"] {
        assert_eq!(data, &payload("t", *seq));
        copies[usize::try_from(*seq).unwrap()] += 1;
    }
    for (seq, n) in copies.iter().enumerate() {
        let seq = seq as u64;
        let expect = if seq < saved_at_kill {
            1
        } else if seq % 2 == 1 {
            2
        } else {
            1
        };
        assert_eq!(*n, expect, "copies of seq {seq} (position saved at {saved_at_kill})");
    }
}
