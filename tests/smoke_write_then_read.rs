use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn records_written_are_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = logstream::Config::new(dir.path());
    cfg.set_flush_interval_ms(10);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..1000u64 {
        assert_eq!(w.write("t", format!("rec {i}").as_bytes()).unwrap(), i);
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let r = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            for rec in b.records() {
                g2.lock().unwrap().push((rec.seq(), String::from_utf8(rec.data().to_vec()).unwrap()));
            }
            Ok(())
        })
        .unwrap();
    for i in 1000..2000u64 {
        assert_eq!(w.write("t", format!("rec {i}").as_bytes()).unwrap(), i);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < 2000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    r.stop().unwrap();
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 2000);
    for (i, (s, d)) in got.iter().enumerate() {
        assert_eq!(*s, i as u64);
        assert_eq!(d, &format!("rec {i}"));
    }
    w.close().unwrap();
}
