//! `forward --to kafka://…`: the options from the command line, the
//! producer, and a metadata request that proves the brokers answer
//! (librdkafka connects in the background and would otherwise only show an
//! unreachable cluster as failed deliveries).

use logstream_kafka::{ForwarderStats, KafkaError, KafkaForwarder, KafkaOptions};

use super::Connected;
use super::stats::EngineCounters;
use crate::args::ForwardArgs;
use crate::exit::{Failure, one_line};

impl EngineCounters for ForwarderStats {
    fn sent(&self) -> u64 {
        self.produced
    }

    fn duplicates(&self) -> Option<u64> {
        None
    }
}

/// Creates the idempotent producer with the `--kafka-set` properties and
/// waits at most `--connect-timeout` for the brokers' metadata.
///
/// # Errors
/// Exit code 5 when no broker answers, 2 for a bad URL, `--subject` or
/// property, 1 otherwise.
pub fn connect(url: &str, args: &ForwardArgs) -> Result<Connected<KafkaForwarder>, Failure> {
    let mut opts = KafkaOptions::new(url, &args.subject).map_err(failure)?;
    for (key, value) in &args.kafka_set {
        opts = opts.set(key, value);
    }
    let forwarder = KafkaForwarder::connect(&opts).map_err(failure)?;
    let brokers = forwarder.check_brokers(args.connect_timeout).map_err(failure)?;
    let brokers = if brokers == 1 { "1 broker".to_owned() } else { format!("{brokers} brokers") };
    Ok(Connected { forwarder, target: format!("{url} (topic {}, {brokers})", opts.topic()), dedup: None })
}

/// The exit code of each error: unreachable 5, wrong option or property 2, else 1.
fn failure(e: KafkaError) -> Failure {
    let message = one_line(&e.to_string());
    match e {
        KafkaError::Connect { .. } => Failure::unreachable(message),
        KafkaError::InvalidOption { .. } | KafkaError::Client { .. } => Failure::usage(message),
        _ => Failure::error(message),
    }
}
