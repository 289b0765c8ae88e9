//! `logstream forward`: the sidecar that ships a log directory into NATS
//! JetStream or Kafka as a consumer group, until SIGINT or SIGTERM.
//!
//! The order of events is what makes it safe to run under a service
//! manager:
//! 1. the command line is checked (`--to` scheme, options that fit the
//!    engine): exit code 2, nothing touched;
//! 2. the signal handler is installed, so a signal from now on only asks
//!    for a clean stop;
//! 3. the engine is reached within `--connect-timeout`: exit code 5 if not
//!    (a supervisor can tell "engine down" from "misconfigured");
//! 4. [`logstream_ship::run`] reads the log as the group; a signal stops the
//!    reader gracefully (batches in flight finish, positions are
//!    persisted) and the command exits 0. Failing batches never end it:
//!    the reader retries them with backoff, and the library's warnings go
//!    to stderr.
//!
//! With `--config`, the library re-reads black_topics and white_topics when
//! the file changes (the Config came from `Config::from_file`).
//!
//! Kafka is there only with the feature `kafka` (librdkafka needs a C/C++
//! toolchain to build); without it `--to kafka://…` is refused at step 1
//! with the install line that brings it (see [`engine`]).

mod catch_up;
mod engine;
#[cfg(feature = "kafka")]
mod kafka;
mod nats;
mod stats;

use std::io::IsTerminal;
use std::time::Instant;

use catch_up::CatchUp;
use logstream::Config;
use logstream_ship::{Forwarder, LocalError, Shutdown};

use crate::args::ForwardArgs;
use crate::exit::{Exit, Failure, Outcome, one_line};
use crate::logger;
use crate::output::{note, warn};
use crate::signals::shutdown_on_signals;
use crate::target::existing_log;
use engine::Engine;
use stats::{Dedup, EngineCounters, Reporter, summary};

/// A forwarder connected to its engine, and how to name where it ships.
pub struct Connected<F> {
    forwarder: F,
    /// `nats://127.0.0.1:4222 (subject logs.{topic}, stream LOGS)`.
    target: String,
    /// The engine's de-duplication window and what is wrong with it
    /// (NATS), shown in every report; `None` where the engine has none.
    dedup: Option<Dedup>,
}

/// Ships the log of `cfg` as `args.to` says until a signal.
///
/// # Errors
/// See the module docs: 2 for a wrong command line, 5 for an unreachable
/// engine, 1 when the reader cannot start or stop.
pub fn run(cfg: &Config, args: &ForwardArgs, json: bool) -> Outcome {
    let engine = Engine::parse(&args.to)?;
    engine.check_options(args)?;
    logger::to_stderr();
    let shutdown = shutdown_on_signals()?;
    match engine {
        Engine::Nats(url) => ship(nats::connect(url, args)?, cfg, args, json, &shutdown),
        #[cfg(feature = "kafka")]
        Engine::Kafka(url) => ship(kafka::connect(url, args)?, cfg, args, json, &shutdown),
    }
}

/// Runs the connected forwarder until `shutdown`, reporting with `--stats`
/// and summing up at the end.
fn ship<F>(connected: Connected<F>, cfg: &Config, args: &ForwardArgs, json: bool, shutdown: &Shutdown) -> Outcome
where
    F: Forwarder,
    F::Stats: EngineCounters,
    F::Error: From<LocalError> + std::fmt::Display,
{
    if let Err(Failure::Report { message, .. }) = existing_log(cfg) {
        // A sidecar may well start before the application's first write.
        warn(&format!("{message}; records are forwarded once the application writes them"));
    }
    note(&format!("forwarding {} as group {:?} to {}", cfg.base_dir().display(), args.group, connected.target));
    let mut reporter = Reporter::new(json, connected.dedup);
    let mut output_failure = None;
    let mut catch_up = CatchUp::new(crate::progress::shown(json, std::io::stderr().is_terminal()));
    // The bar wants a look more often than --stats reports come.
    let every = if catch_up.active() { args.stats_interval.min(catch_up::REFRESH) } else { args.stats_interval };
    let mut last_report = Instant::now();
    let last = connected
        .forwarder
        .run(cfg, &args.group, shutdown, every, |p| {
            if catch_up.active() {
                let left = catch_up::remaining(&p.positions, &p.lag);
                let written = p.lag.iter().map(|l| l.next_seq).sum();
                catch_up.update(p.forwarder.sent(), left, written, !p.lag.is_empty() || p.positions.is_empty());
            }
            if p.last {
                catch_up.finish();
            }
            if !args.stats || output_failure.is_some() || (!p.last && last_report.elapsed() < args.stats_interval) {
                return;
            }
            last_report = Instant::now();
            if let Err(f) = catch_up.suspend(|| reporter.report(p)) {
                // Nobody reads the reports any more (`| head`): stop as
                // after a signal, positions saved.
                output_failure = Some(f);
                shutdown.trigger();
            }
        })
        .map_err(|e| Failure::error(one_line(&e.to_string())))?;
    note(&summary(&last));
    match output_failure {
        Some(f) => Err(f),
        None => Ok(Exit::Ok),
    }
}
