//! Every input in the fuzz corpora (`fuzz/corpus/<target>/`) runs through the
//! same checks as the fuzz targets, as an ordinary test.

#[path = "../fuzz/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        check(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus for {target}");
}

#[test]
fn the_hand_written_frame_seeds_are_valid_frames() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame_decode");
    for name in ["record", "empty-record", "seal"] {
        let b = std::fs::read(dir.join(name)).unwrap();
        assert!(logstream::format::frame::decode_bytes(&b).is_ok(), "{name} no longer decodes");
    }
}

#[test]
fn the_frame_decoder_corpus_replays_cleanly() {
    replay("frame_decode", checks::frame_decode);
}

#[test]
fn the_header_decoder_corpus_replays_cleanly() {
    replay("header_decode", checks::header_decode);
}

#[test]
fn the_checkpoint_decoder_corpus_replays_cleanly() {
    replay("checkpoint_decode", checks::checkpoint_decode);
}

#[test]
fn the_config_parser_corpus_replays_cleanly() {
    replay("config_parse", checks::config_parse);
}

#[test]
fn the_segment_recovery_corpus_replays_cleanly() {
    replay("segment_recovery", checks::segment_recovery);
}
