//! An outsider's kill loop: a writer process with tiny segments, age rolls
//! (so empty newest segments happen), a compressed topic and three topics is
//! killed with SIGKILL at random points 100 times, while a reader in this
//! process tails the log. Every acknowledged record must be read back with
//! its acknowledged contents, by the tailing reader and by a pull cursor, and
//! no sequence number may ever be acknowledged twice with different data.
//! Some rounds delete a topic (forced) and go on writing to it, and the
//! tailing group restarts every ten rounds.
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const DIR: &str = "LOGSTREAM_TEST_DIR";
const ROUND: &str = "LOGSTREAM_TEST_ROUND";
const TOPICS: [&str; 3] = ["t0", "t1", "t2"];
const ROUNDS: u64 = 100;

fn cfg_for(dir: &std::path::Path) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_idx_file_max_item_num(50)
        .set_data_file_max_size(64 * 1024)
        .set_segment_max_age_ms(20)
        .set_compress_topics(vec!["t1".to_owned()]);
    cfg
}

fn contents(topic: &str, seq: u64, round: u64, i: u64) -> Vec<u8> {
    let mut v = format!("{topic}:{seq}:round {round}:write {i}:").into_bytes();
    // 200..1100 bytes: 50 records fill a segment well past its first pages.
    v.resize(200 + (seq * 7919 % 900) as usize, b'#');
    v
}

/// Child role: writes to the three topics in turn until killed, saying each
/// acknowledged record; some rounds pause now and then so segments age out.
#[test]
fn child_writer_until_killed() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let round: u64 = std::env::var(ROUND).unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from(dir);
    let cfg = cfg_for(&dir);
    let w = logstream::Writer::open(&cfg).unwrap();
    child_say("open");
    let mut i = 0u64;
    loop {
        let topic = TOPICS[(i % 3) as usize];
        let seq = w.next_seq(topic).unwrap();
        let data = contents(topic, seq, round, i);
        let got = w.write(topic, &data).unwrap();
        assert_eq!(got, seq, "the writer is the only one");
        child_say(&format!("ack {topic} {seq} {i}"));
        i += 1;
        if round % 7 == 3 && i == 25 {
            // Delete t2 (forced: the tailing group may lag) and go on writing
            // to it: its numbering must continue after the deleted records.
            let next = w.next_seq("t2").unwrap();
            child_say(&format!("deleting t2 {next}"));
            w.delete_topic("t2", logstream::DeleteMode::Force).unwrap();
        }
        if round.is_multiple_of(5) && i.is_multiple_of(37) {
            // Waits until an age roll (the flush thread's housekeeping, once a
            // second) has left a topic with an empty newest segment, and says
            // so: the parent kills it there. (A topic whose newest segment is
            // already empty after a count roll does not roll again.)
            let before: Vec<usize> = TOPICS.iter().map(|t| dat_files(&dir, t)).collect();
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while TOPICS.iter().zip(&before).all(|(t, &b)| dat_files(&dir, t) <= b) {
                if std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            child_say("empty");
        }
    }
}

fn dat_files(dir: &std::path::Path, topic: &str) -> usize {
    std::fs::read_dir(dir.join("topics").join(topic))
        .map(|rd| rd.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "dat")).count())
        .unwrap_or(0)
}

type Acked = HashMap<(String, u64), Vec<u8>>;

fn note(acked: &mut Acked, topic: &str, seq: u64, data: Vec<u8>) {
    if let Some(old) = acked.insert((topic.to_owned(), seq), data.clone()) {
        assert_eq!(
            old,
            data,
            "{topic} seq {seq} acknowledged twice with different contents: {:?} then {:?}",
            String::from_utf8_lossy(&old),
            String::from_utf8_lossy(&data)
        );
    }
}

/// The tailing group's reader: notes every delivered record (a record
/// delivered again must come with the same contents).
fn start_reader(cfg: &logstream::Config, delivered: &Arc<Mutex<Acked>>) -> logstream::ReaderHandle {
    let d2 = delivered.clone();
    logstream::Reader::builder(cfg)
        .group("g")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = d2.lock().unwrap();
            for rec in b.records() {
                note(&mut m, b.topic(), rec.seq(), rec.data().to_vec());
            }
            Ok(())
        })
        .unwrap()
}

#[test]
fn a_writer_killed_a_hundred_times_at_segment_boundaries_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_for(dir.path());
    // The tailing reader: what it delivered, per topic and seq.
    let delivered: Arc<Mutex<Acked>> = Arc::default();
    let reader = start_reader(&cfg, &delivered);

    let mut acked = Acked::new();
    // t2's records below this may be gone: a deletion of t2 began there.
    let mut t2_deleted_below = 0u64;
    let mut reader = Some(reader);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..ROUNDS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // A round that dies after an age roll dies at its first one (each
        // takes up to a second: the flush thread's housekeeping interval).
        let kill_after = if round.is_multiple_of(5) { 1 } else { 1 + rng % 400 };
        let mut child = spawn_child(
            "child_writer_until_killed",
            &[(DIR, dir.path().display().to_string()), (ROUND, round.to_string())],
        );
        let mut lines = child_lines(&mut child);
        assert_eq!(lines.next().as_deref(), Some("open"), "round {round}: the writer did not open");
        let mut seen = 0;
        let mut record = |line: String| {
            if line == "empty" {
                return true;
            }
            if let Some(next) = line.strip_prefix("deleting t2 ") {
                t2_deleted_below = t2_deleted_below.max(next.parse().unwrap());
                return false;
            }
            let mut f = line.split(' ');
            let (Some("ack"), Some(topic), Some(seq), Some(i)) = (f.next(), f.next(), f.next(), f.next()) else {
                panic!("round {round}: unexpected line {line:?}");
            };
            let (seq, i): (u64, u64) = (seq.parse().unwrap(), i.parse().unwrap());
            note(&mut acked, topic, seq, contents(topic, seq, round, i));
            false
        };
        // Every fifth round dies with an empty newest segment (after an age
        // roll), the others at a random record.
        for line in lines.by_ref() {
            let empty = record(line);
            seen += 1;
            if seen >= kill_after && (!round.is_multiple_of(5) || empty) {
                break;
            }
        }
        // The writer must still be running: it only ever stops by our kill.
        if let Some(status) = child.try_wait().unwrap() {
            panic!("round {round}: the writer process ended on its own ({status}) after {seen} lines");
        }
        child.kill().unwrap();
        // Acknowledgements already in the pipe count too.
        for line in lines {
            record(line);
        }
        let _ = seen;
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "round {round}: the writer ended by our SIGKILL, not by itself"
        );
        if round % 10 == 9 {
            // The group restarts too: it resumes after its persisted positions.
            reader.take().unwrap().stop().unwrap();
            reader = Some(start_reader(&cfg, &delivered));
        }
    }
    let reader = reader.take().unwrap();
    let gone = |k: &(String, u64)| k.0 == "t2" && k.1 < t2_deleted_below;

    // A last, clean session; then everything acknowledged must be there.
    let w = logstream::Writer::open(&cfg).unwrap();
    w.wait_compressed().unwrap();
    w.close().unwrap();
    let want = acked.len();
    wait_for("the tailing reader to deliver every acknowledged record", Duration::from_secs(120), || {
        let d = delivered.lock().unwrap();
        acked.keys().all(|k| gone(k) || d.contains_key(k))
    });
    reader.stop().unwrap();
    let d = delivered.lock().unwrap();
    for (k, v) in &acked {
        if gone(k) && !d.contains_key(k) {
            continue;
        }
        assert_eq!(d.get(k), Some(v), "{} seq {}: the reader delivered other contents", k.0, k.1);
    }
    // Nothing was delivered that was not acknowledged as such.
    for (k, v) in d.iter() {
        if let Some(a) = acked.get(k) {
            assert_eq!(a, v, "{} seq {}: delivered other contents than acknowledged", k.0, k.1);
        }
    }
    // The group consumed them, so their older segments were deleted: a pull
    // cursor reads what is retained, and that must hold every acknowledged
    // record from the first retained one on.
    for topic in TOPICS {
        let back = read_all(&cfg, topic);
        let first = back.first().map_or(u64::MAX, |r| r.0);
        let want = acked.keys().filter(|k| k.0 == topic && k.1 >= first && !gone(k)).count();
        let mut read_back = 0;
        for (seq, data) in back {
            let k = (topic.to_owned(), seq);
            if let Some(v) = acked.get(&k) {
                assert_eq!(&data, v, "{topic} seq {seq}: read back with other contents");
                read_back += usize::from(!gone(&k));
            }
        }
        assert_eq!(read_back, want, "{topic}: acknowledged records from seq {first} on, read by a pull cursor");
    }
    assert!(want > 1000, "the loop acknowledged only {want} records");
}
