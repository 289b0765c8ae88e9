//! A log shipped into JetStream and mirrored into a second directory: each
//! record of the copy has its source's write time (carried in the
//! `logstream-timestamp` header), so `seq_at_time` gives the same answer on
//! the follower as on the source, for any time. Before the mirror kept the
//! timestamps, every copied record had the mirror's own (later) time and
//! the follower answered 0 for every time before the copy was made.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 3;
const PER_TOPIC: u64 = 1_000;
/// The source's records were written a year or more ago, one per millisecond.
const SOURCE_START_NS: u64 = 1_700_000_000_000_000_000;

fn written_at(topic: usize, seq: u64) -> u64 {
    SOURCE_START_NS + seq * 1_000_000 + topic as u64 * 1_000
}

#[test]
fn a_mirror_answers_time_queries_like_its_source() {
    let server = NatsServer::start();
    let leader = tempfile::tempdir().unwrap();
    let cfg = config(leader.path());
    let topics = topic_names(TOPICS);
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in 0..PER_TOPIC {
        for (i, t) in topics.iter().enumerate() {
            w.write_at_time(t, seq, written_at(i, seq), &payload(t, seq)).unwrap();
        }
    }
    w.close().unwrap();

    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder()).unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || all_confirmed(&reader, TOPICS, PER_TOPIC));
    reader.stop().unwrap();

    let follower = tempfile::tempdir().unwrap();
    let copy = config(follower.path());
    let total = TOPICS as u64 * PER_TOPIC;
    let m = mirror(&conn, "LOGS", &copy, total);
    assert_eq!(m.written, total, "{m:?}");
    assert_eq!(read_log(&copy, &topics), read_log(&cfg, &topics));

    let at = |ns: u64| UNIX_EPOCH + Duration::from_nanos(ns);
    for (i, t) in topics.iter().enumerate() {
        // Each record's own time, just after it, and times before and after the topic.
        let mut times: Vec<SystemTime> = (0..PER_TOPIC).step_by(37).map(|s| at(written_at(i, s))).collect();
        times.extend((0..PER_TOPIC).step_by(53).map(|s| at(written_at(i, s) + 1)));
        times.extend([at(SOURCE_START_NS - 1), at(written_at(i, PER_TOPIC)), SystemTime::now()]);
        for when in times {
            let source = logstream::seq_at_time(&cfg, t, when).unwrap();
            let copy = logstream::seq_at_time(&copy, t, when).unwrap();
            assert_eq!(copy, source, "topic {t}, time {when:?}: the follower answers {copy}, the source {source}");
        }
        // And the copy's records carry the source's times.
        let mut r = logstream::TopicReader::open(&copy, t, 0).unwrap();
        while let Some(b) = r.next_batch(1 << 20).unwrap() {
            for rec in b.records() {
                assert_eq!(rec.timestamp(), written_at(i, rec.seq()), "topic {t} record {}", rec.seq());
            }
        }
    }
}
