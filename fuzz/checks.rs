//! The checks behind each fuzz target. Shared with the corpus replay test
//! (`tests/fuzz_corpus_replays.rs`), so every corpus input also runs in CI.
//! Each function must never panic on any input except through the asserts
//! that state the property.

use logstream::format::{checkpoint, frame, segment};

/// Frames: decoding never panics; whatever decodes re-encodes to the same bytes.
pub fn frame_decode(data: &[u8]) {
    if let Ok(frame::Frame::Record { seq, timestamp, payload, len }) = frame::decode_bytes(data) {
        let mut out = vec![0u8; len];
        assert_eq!(frame::encode_record(&mut out, seq, timestamp, payload), len);
        assert_eq!(&out[..frame::HEADER_LEN + payload.len()], &data[..frame::HEADER_LEN + payload.len()]);
    }
    if let Ok(frame::Frame::Seal { next_seq, timestamp }) = frame::decode_bytes(data) {
        let mut out = vec![0u8; frame::SEAL_LEN];
        frame::encode_seal(&mut out, next_seq, timestamp);
        assert_eq!(&out[..], &data[..frame::SEAL_LEN]);
    }
    let _ = frame::classify(u64::from_le_bytes(data.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8])));
}

/// Segment and index headers, watermarks, index entries.
pub fn header_decode(data: &[u8]) {
    if let Ok(h) = segment::DataHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..64]);
    }
    if let Some(w) = segment::Watermark::decode(data) {
        assert_eq!(&w.encode()[..60], &data[..60]);
    }
    if let Ok(h) = segment::IndexHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..64]);
    }
    if let segment::IndexSlot::Entry(e) = segment::IndexEntry::decode(data) {
        assert_eq!(&e.encode()[..], &data[..32]);
    }
}

/// Checkpoint files and entries.
pub fn checkpoint_decode(data: &[u8]) {
    let _ = checkpoint::check_file_header(data, checkpoint::SNAP_MAGIC);
    let _ = checkpoint::check_file_header(data, checkpoint::JOURNAL_MAGIC);
    let d = checkpoint::decode_entries(data);
    for e in d.entries {
        assert_eq!(checkpoint::Entry::decode(&e.encode()), Some(e));
    }
}

/// Config text: parsing never panics; errors name a key or a position.
pub fn config_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match logstream::Config::from_json_str(text, None) {
        Ok(cfg) => assert!(cfg.validate().is_ok()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Recovery of a segment whose data after a valid header is arbitrary bytes:
/// opening never panics or fails, reading returns only records that check
/// out, and a second open changes nothing.
pub fn segment_recovery(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = dir.path().join("topics").join("t");
    std::fs::create_dir_all(&topic).expect("topic dir");
    let header = segment::DataHeader { base_seq: 0, epoch: 1, created: 1, reserve: 1 << 20, log_id: 1, flags: 0 };
    let mut file = vec![0u8; segment::DATA_START as usize];
    file[..64].copy_from_slice(&header.encode());
    // The watermark claims nothing durable: everything after is a tail.
    file[64..128].copy_from_slice(&segment::Watermark::empty(0).encode());
    file.extend_from_slice(data);
    file.resize(file.len().div_ceil(4096) * 4096 + 4096, 0);
    std::fs::write(topic.join("00000000000000000000.dat"), &file).expect("write data");
    let cfg = logstream::Config::new(dir.path());
    let w = logstream::Writer::open(&cfg).expect("recovery must not fail on any tail");
    let n = w.next_seq("t").expect("next seq");
    w.close().expect("close");
    let mut r = logstream::TopicReader::open(&cfg, "t", 0).expect("reader");
    let mut seen = 0;
    while let Some(b) = r.next_batch(1 << 20).expect("read") {
        for rec in b.records() {
            assert_eq!(rec.seq(), seen);
            seen += 1;
        }
    }
    assert_eq!(seen, n, "every record before the cut is readable");
    let w = logstream::Writer::open(&cfg).expect("second open");
    assert!(w.recovery_report().is_clean(), "recovery is idempotent");
    w.close().expect("close");
}
