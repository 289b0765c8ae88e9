//! `logstream forward` fails at once, in one line, when it cannot start:
//! exit code 5 when the engine does not answer (a supervisor retries
//! later), 2 for a target or option it does not understand.
mod common;

use common::*;

/// Runs `logstream forward <args> --group shipper` on a log with a record
/// (so that nothing but the target can be wrong); asserts the exit code
/// and one line on stderr, and returns that line.
fn forward_fails(code: i32, args: &[&str]) -> String {
    let log = Log::with(&[("login", &["alice"])]);
    let assert = log.cmd().arg("forward").args(args).args(["--group", "shipper"]).timeout(PATIENCE).assert().code(code);
    assert_one_line_error(&assert)
}

#[test]
fn a_nats_server_that_does_not_answer_exits_5_naming_the_url() {
    let url = format!("nats://127.0.0.1:{}", logstream_nats::testing::free_port());
    let err = forward_fails(5, &["--to", &url]);
    assert!(err.contains(&url) && err.contains("refused"), "{err}");
}

#[cfg(feature = "kafka")]
#[test]
fn kafka_brokers_that_do_not_answer_exit_5_within_the_connect_timeout() {
    let port = logstream_nats::testing::free_port();
    let err = forward_fails(5, &["--to", &format!("kafka://127.0.0.1:{port}"), "--connect-timeout", "0.5"]);
    assert!(err.contains(&format!("Kafka brokers 127.0.0.1:{port}")), "{err}");
}

#[cfg(not(feature = "kafka"))]
#[test]
fn a_kafka_target_without_the_kafka_feature_is_a_usage_error_naming_the_install_line() {
    let err = forward_fails(2, &["--to", "kafka://127.0.0.1:9092"]);
    assert!(err.contains("cargo install logstream-cli --features kafka"), "{err}");
}

#[test]
fn a_target_of_another_scheme_is_a_usage_error() {
    let err = forward_fails(2, &["--to", "http://127.0.0.1:4222"]);
    assert!(err.contains("\"http://127.0.0.1:4222\"") && err.contains("nats://") && err.contains("kafka://"), "{err}");
}

#[cfg(feature = "kafka")]
#[test]
fn an_option_of_the_other_engine_is_a_usage_error() {
    let err = forward_fails(2, &["--to", "kafka://127.0.0.1:9092", "--ensure-stream", "LOGS"]);
    assert!(err.contains("--ensure-stream does not apply"), "{err}");
}

#[test]
fn a_kafka_option_with_a_nats_target_is_a_usage_error() {
    let err = forward_fails(2, &["--to", "nats://127.0.0.1:4222", "--kafka-set", "linger.ms=1"]);
    assert!(err.contains("--kafka-set does not apply"), "{err}");
}

#[test]
fn a_subject_template_with_an_unknown_placeholder_is_a_usage_error() {
    let err = forward_fails(2, &["--to", "nats://127.0.0.1:4222", "--subject", "logs.{topc}"]);
    assert!(err.contains("{topc}"), "{err}");
}
