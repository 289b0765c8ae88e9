//! The README's example: a writer and a reader in one process, on
//! `./logstream-data` (or the directory given as the first argument).
//!
//! `cargo run --release --example quickstart`
//!
//! It writes a million small JSON events on three topics, makes them
//! durable, and a consumer group forwards them (here the forwarder only
//! counts). While it runs it prints what was written and delivered each
//! half second; at the end, a summary. Run it again: the group goes on after
//! the last record it confirmed, so it delivers only the new records.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const RECORDS: u64 = 1_000_000;
const TOPICS: [&str; 3] = ["login", "purchase", "logout"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "logstream-data".into());
    let cfg = logstream::Config::new(&dir);
    let writer = logstream::Writer::open(&cfg)?;
    let already: u64 = writer.topics()?.iter().map(|t| t.next_seq).sum();

    // The forwarder: here it only counts; yours ships to Kafka, HTTP, a database…
    let delivered = Arc::new(AtomicU64::new(0));
    let count = delivered.clone();
    let reader = logstream::Reader::builder(&cfg).group("quickstart").start(
        move |batch: &logstream::Batch| -> std::io::Result<()> {
            count.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(()) // the whole batch is confirmed
        },
    )?;
    println!("log directory {dir}: {already} records from earlier runs; writing {RECORDS} more on {TOPICS:?}");

    let start = Instant::now();
    let written = AtomicU64::new(0);
    let mut wrote_in = Duration::ZERO;
    let mut durable_in = Duration::ZERO;
    let done = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<(), logstream::Error> {
        // Progress, twice a second, while the writer and the reader work.
        s.spawn(|| {
            let (mut last_w, mut last_d, mut last_t) = (0, 0, Instant::now());
            while done.load(Ordering::Acquire) == 0 || delivered.load(Ordering::Relaxed) < RECORDS {
                std::thread::sleep(Duration::from_millis(500));
                let (w, d, now) = (written.load(Ordering::Relaxed), delivered.load(Ordering::Relaxed), Instant::now());
                let secs = now.duration_since(last_t).as_secs_f64();
                println!(
                    "  {:>5.1} s  written {w:>9} ({:>6.2} M/s)  delivered {d:>9} ({:>6.2} M/s)",
                    now.duration_since(start).as_secs_f64(),
                    (w - last_w) as f64 / secs / 1e6,
                    (d - last_d) as f64 / secs / 1e6,
                );
                (last_w, last_d, last_t) = (w, d, now);
                if start.elapsed() > Duration::from_secs(120) {
                    println!("  (giving up waiting after 2 minutes)");
                    break;
                }
            }
        });
        let mut buf = Vec::with_capacity(64);
        for i in 0..RECORDS {
            buf.clear();
            let _ = write!(buf, "{{\"event\":{i},\"user\":\"u{}\"}}", i % 977);
            writer.write(TOPICS[(i % 3) as usize], &buf)?;
            if i % 4096 == 0 {
                written.store(i, Ordering::Relaxed);
            }
        }
        written.store(RECORDS, Ordering::Relaxed);
        wrote_in = start.elapsed();
        writer.flush()?; // every record above is now on disk
        durable_in = start.elapsed();
        done.store(1, Ordering::Release);
        Ok(())
    })?;
    let delivered_in = start.elapsed();
    reader.stop()?; // in-flight batches finish, positions are persisted
    let got = delivered.load(Ordering::Relaxed);
    writer.close()?; // unused preallocated space is given back
    let on_disk = disk_usage(&std::path::Path::new(&dir).join("topics"));

    println!();
    println!("summary");
    println!(
        "  wrote     {RECORDS} records in {wrote_in:.2?} ({:.1} M records/s); all durable (fsynced) after {durable_in:.2?}",
        RECORDS as f64 / wrote_in.as_secs_f64() / 1e6
    );
    println!("  delivered {got} records to group \"quickstart\" in {delivered_in:.2?}, each confirmed once");
    println!("  on disk   {:.1} MB in {dir}/topics (one directory per topic)", on_disk as f64 / 1e6);
    println!("  next      run it again: it appends {RECORDS} more and the group delivers only those");
    if got < RECORDS {
        return Err(format!("only {got} of {RECORDS} records were delivered").into());
    }
    Ok(())
}

/// Bytes the files under `dir` occupy on disk.
fn disk_usage(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
