//! A leader's log shipped into Kafka (twice: at-least-once duplicates) and
//! mirrored into a second directory: the copy holds the same topics,
//! sequence numbers and bytes, and a restarted mirror resumes from its
//! committed offsets.

mod common;

use std::time::Duration;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions, KafkaSource, MirrorStats, Shutdown, SourceOptions};

fn mirror(opts: &SourceOptions, local: &logstream::Config, expect_seen: u64) -> MirrorStats {
    let source = KafkaSource::new(local, opts.clone()).unwrap();
    let monitor = source.monitor();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let t = std::thread::spawn(move || source.run(&stop, Duration::from_secs(3600), |_| {}));
    wait_for("the mirror to take every record", Duration::from_secs(60), || {
        let s = monitor.stats();
        s.written + s.already_present >= expect_seen || t.is_finished()
    });
    shutdown.trigger();
    if let Err(e) = t.join().unwrap() {
        panic!("the mirror failed: {e}; counters {:?}", monitor.stats());
    }
    monitor.stats()
}

#[test]
fn a_mirror_reproduces_topics_and_sequence_numbers() {
    let mock = Mock::start();
    let leader = tempfile::tempdir().unwrap();
    let cfg = config(leader.path());
    let mut topics = topic_names(4);
    write_log(&cfg, &topics, 1_000);
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in 500..600 {
        w.write_at("late", seq, &payload("late", seq)).unwrap();
    }
    w.close().unwrap();
    topics.push("late".to_owned());
    for t in &topics {
        mock.create_topic(&format!("logs.{t}"), 1);
    }
    let total = 4 * 1_000 + 100;

    let opts = KafkaOptions::new(&mock.url(), "logs.{topic}").unwrap();
    let fwd = KafkaForwarder::connect(&opts).unwrap();
    // Two groups ship the same log: every record is in Kafka twice.
    forward_all(&cfg, "shipper", &fwd, &topics);
    forward_all(&cfg, "again", &fwd, &topics);

    let follower = tempfile::tempdir().unwrap();
    let copy = config(follower.path());
    // The mock cluster ends a closed member's session only when it times
    // out, which delays the restarted mirror's join by that long.
    let src = SourceOptions::new(&mock.brokers, "mirror", opts.topic())
        .set("session.timeout.ms", "1000")
        .set("heartbeat.interval.ms", "200");
    let m = mirror(&src, &copy, 2 * total);
    assert_eq!((m.written, m.already_present, m.waiting), (total, total, 0), "{m:?}");
    assert_eq!(read_log(&copy, &topics), read_log(&cfg, &topics));

    // More records on the leader; the restarted mirror reads only those.
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in 1_000..1_050 {
        w.write("t01", &payload("t01", seq)).unwrap();
    }
    w.close().unwrap();
    forward_all(&cfg, "shipper", &fwd, &topics);
    let m = mirror(&src, &copy, 50);
    assert_eq!((m.written, m.already_present), (50, 0), "{m:?}");
    assert_eq!(read_log(&copy, &topics), read_log(&cfg, &topics));
}
