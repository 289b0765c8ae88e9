//! Writer and reader in separate processes. Run without arguments: the
//! program starts a copy of itself as the writer and reads in this process.
//!
//! `cargo run --release --example two_process -- [DIR]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const RECORDS: u64 = 200_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--writer") {
        let dir = args.next().ok_or("--writer needs a directory")?;
        return writer(&dir);
    }
    let dir = first.unwrap_or_else(|| "logstream-two-process".into());
    let cfg = logstream::Config::new(&dir);

    let delivered = Arc::new(AtomicU64::new(0));
    let count = delivered.clone();
    // The writer is started below: the directory may not exist yet.
    let reader = logstream::Reader::builder(&cfg).group("two-process").create_missing_dir().start(
        move |batch: &logstream::Batch| -> std::io::Result<()> {
            count.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        },
    )?;

    let start = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe()?).arg("--writer").arg(&dir).spawn()?;
    let status = child.wait()?;
    println!("writer process exited: {status}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Relaxed) < RECORDS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.stop()?;
    println!(
        "reader got {} records from the other process in {:.2?}",
        delivered.load(Ordering::Relaxed),
        start.elapsed()
    );
    Ok(())
}

fn writer(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let w = logstream::Writer::open(&logstream::Config::new(dir))?;
    for i in 0..RECORDS {
        w.write("orders", format!("order {i}").as_bytes())?;
    }
    w.close()?;
    Ok(())
}
