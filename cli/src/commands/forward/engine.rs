//! Which engine `--to` names, and whether the other options fit it (and
//! this build: Kafka needs the feature `kafka`).

use crate::args::ForwardArgs;
use crate::exit::Failure;

/// The engine `--to` names, with the URL as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine<'a> {
    /// `nats://` or `tls://` (several servers comma-separated).
    Nats(&'a str),
    /// `kafka://HOST:PORT[,HOST:PORT…]`; only in a build with the feature
    /// `kafka`.
    #[cfg(feature = "kafka")]
    Kafka(&'a str),
}

const EXPECTED: &str = "expected nats://HOST:PORT, tls://HOST:PORT or kafka://HOST:PORT[,HOST:PORT…]";

impl<'a> Engine<'a> {
    /// The engine of `--to URL`, by the URL's scheme.
    ///
    /// # Errors
    /// A usage error (exit code 2) for any other scheme or none, and for
    /// `kafka://` in a build without the feature `kafka`.
    pub fn parse(to: &'a str) -> Result<Engine<'a>, Failure> {
        match to.split_once("://").map(|(scheme, _)| scheme) {
            Some("nats" | "tls") => Ok(Engine::Nats(to)),
            #[cfg(feature = "kafka")]
            Some("kafka") => Ok(Engine::Kafka(to)),
            #[cfg(not(feature = "kafka"))]
            Some("kafka") => Err(kafka_not_built(to)),
            _ => Err(Failure::usage(format!("--to {to:?}: {EXPECTED}"))),
        }
    }

    /// Refuses options meant for the other engine, which would otherwise be
    /// silently ignored (credentials the operator thinks are in use).
    /// Passwords and tokens are not checked: they may come from the
    /// environment.
    ///
    /// # Errors
    /// A usage error naming the first such option.
    pub fn check_options(self, args: &ForwardArgs) -> Result<(), Failure> {
        let misplaced = match self {
            Engine::Nats(_) => [("--kafka-set", !args.kafka_set.is_empty())].into_iter().find(|(_, given)| *given),
            #[cfg(feature = "kafka")]
            Engine::Kafka(_) => [
                ("--ensure-stream", args.ensure_stream.is_some()),
                ("--headers", args.headers.is_some()),
                ("--ack-timeout", args.ack_timeout.is_some()),
                ("--window", args.window.is_some()),
                ("--ride-out", args.ride_out.is_some()),
                ("--user", args.user.is_some()),
                ("--creds-file", args.creds_file.is_some()),
                ("--tls-ca", !args.tls_ca.is_empty()),
            ]
            .into_iter()
            .find(|(_, given)| *given),
        };
        match misplaced {
            Some((option, _)) => Err(Failure::usage(format!("{option} does not apply to --to {}", self.url()))),
            None => Ok(()),
        }
    }

    /// The URL as given.
    pub fn url(self) -> &'a str {
        match self {
            Engine::Nats(url) => url,
            #[cfg(feature = "kafka")]
            Engine::Kafka(url) => url,
        }
    }
}

/// `--to kafka://…` in a build without the feature `kafka`: one line that
/// says what is missing and how to get it, instead of a scheme "not
/// understood". (The default build leaves librdkafka out: compiling it
/// needs a C/C++ compiler, which `cargo install` must not require.) The
/// tests always build with Kafka; `scripts/check-install-without-cxx.sh`
/// checks this refusal on the binary `cargo install` makes.
#[cfg(not(feature = "kafka"))]
fn kafka_not_built(to: &str) -> Failure {
    Failure::usage(format!(
        "--to {to:?}: this logstream was built without Kafka (the cargo feature `kafka`); \
         install it with `cargo install logstream-cli --features kafka` \
         (builds librdkafka: needs a C/C++ compiler and make)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine() {
        assert_eq!(Engine::parse("nats://127.0.0.1:4222").ok(), Some(Engine::Nats("nats://127.0.0.1:4222")));
        assert_eq!(Engine::parse("tls://a:4222,tls://b:4222").ok(), Some(Engine::Nats("tls://a:4222,tls://b:4222")));
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_is_an_engine_in_a_build_with_the_kafka_feature() {
        assert_eq!(Engine::parse("kafka://k1:9092,k2:9092").ok(), Some(Engine::Kafka("kafka://k1:9092,k2:9092")));
    }

    #[test]
    fn another_scheme_or_none_is_a_usage_error_naming_the_url() {
        for to in ["http://127.0.0.1:4222", "127.0.0.1:4222", "NATS://h:4222", ""] {
            match Engine::parse(to) {
                Err(Failure::Report { exit: crate::exit::Exit::Usage, message }) => {
                    assert!(message.contains(&format!("{to:?}")) && message.contains("kafka://"), "{message}");
                }
                other => panic!("{to:?}: {other:?}"),
            }
        }
    }
}
