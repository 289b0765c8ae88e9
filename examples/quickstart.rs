//! The README's example: a writer and a reader in one process, on
//! `./logstream-data` (or the directory given as the first argument).
//!
//! `cargo run --release --example quickstart`

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "logstream-data".into());
    let cfg = logstream::Config::new(&dir);
    let writer = logstream::Writer::open(&cfg)?;

    // The forwarder: here it only counts; yours ships to Kafka, HTTP, a database…
    let delivered = Arc::new(AtomicU64::new(0));
    let count = delivered.clone();
    let reader = logstream::Reader::builder(&cfg).group("quickstart").start(
        move |batch: &logstream::Batch| -> std::io::Result<()> {
            count.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(()) // the whole batch is confirmed
        },
    )?;

    let n: u64 = 1_000_000;
    let start = Instant::now();
    let mut buf = Vec::with_capacity(64);
    for i in 0..n {
        buf.clear();
        write!(buf, "{{\"event\":{i},\"user\":\"u{}\"}}", i % 977)?;
        writer.write(["login", "purchase", "logout"][(i % 3) as usize], &buf)?;
    }
    let wrote = start.elapsed();
    writer.flush()?;
    println!(
        "wrote {n} records on 3 topics in {wrote:.2?} ({:.1} M records/s); durable after {:.2?}",
        n as f64 / wrote.as_secs_f64() / 1e6,
        start.elapsed()
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = delivered.load(Ordering::Relaxed);
        println!("delivered {got}/{n}");
        if got >= n || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.stop()?; // in-flight batches finish, positions are persisted
    writer.close()?;
    println!("done in {:.2?}; stats: {:?}", start.elapsed(), delivered.load(Ordering::Relaxed));
    Ok(())
}
