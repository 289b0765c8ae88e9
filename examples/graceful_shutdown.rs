//! A consumer service that stops cleanly on SIGINT (Ctrl-C) or SIGTERM
//! (`systemctl stop`, `docker stop`, Kubernetes): batches being forwarded
//! finish, positions are persisted, and the topics it owned are released at
//! once, so another member of the group takes them over without waiting.
//!
//! `cargo run --example graceful_shutdown -- /var/lib/myapp/log`
//! (start it twice: the two share the topics; stop one, the other takes all)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "logstream-data".into());
    let cfg = logstream::Config::new(&dir);
    // Register the handlers before starting: a signal that arrives early is
    // not lost (it would otherwise kill the process with default handling).
    let mut signals = Signals::new([SIGINT, SIGTERM])?;

    let delivered = Arc::new(AtomicU64::new(0));
    let count = delivered.clone();
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        // A consumer service may start before its producer has written.
        .create_missing_dir()
        .retry(logstream::RetryPolicy { max_attempts: Some(10), ..Default::default() })
        .start(move |batch: &logstream::Batch| -> std::io::Result<()> {
            // Ship the batch somewhere; returning Ok confirms it.
            count.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        })?;
    println!("ready: member {} of group shipper; stop me with Ctrl-C or SIGTERM", reader.member_id());

    // Block until a signal arrives, then stop gracefully.
    let sig = signals.forever().next();
    println!("signal {sig:?}: stopping");
    reader.stop()?;
    let s = reader.stats();
    println!(
        "stopped: {} records delivered, {} batches, {} dead letters; positions saved",
        delivered.load(Ordering::Relaxed),
        s.batches,
        s.dead_letters
    );
    Ok(())
}
