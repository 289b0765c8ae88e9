//! Wrong command lines and missing directories: one line on stderr,
//! `logstream: …`, and an exit code scripts can rely on.
mod common;

use common::*;

#[test]
fn an_unknown_option_is_one_line_with_a_tip_and_exit_code_2() {
    let log = Log::with(&[("login", &["alice"])]);
    let a = log.cmd().args(["tail", "--folow", "login"]).assert().code(2).stdout("");
    let err = assert_one_line_error(&a);
    assert!(err.contains("'--folow'") && err.contains("'--follow'"), "{err}");
}

#[test]
fn a_missing_argument_or_bad_value_is_one_line_and_exit_code_2() {
    for args in [
        &["tail"][..],
        &["tail", "t", "--from", "soon"],
        &["tail", "t", "--format", "yaml"],
        &["verify", "--yes"],
        &["completions", "tcsh"],
        &["frobnicate"],
        &[],
    ] {
        let a = logstream().args(["--dir", "/tmp"]).args(args).assert().code(2).stdout("");
        let err = assert_one_line_error(&a);
        assert!(err.ends_with("(see 'logstream --help')\n"), "{args:?}: {err}");
    }
}

#[test]
fn contradicting_json_and_format_is_a_usage_error() {
    let log = Log::with(&[("login", &["alice"])]);
    let a = log.cmd().args(["--json", "tail", "login", "--format", "hex"]).assert().code(2);
    assert_one_line_error(&a);
}

#[test]
fn a_missing_directory_is_one_line_and_exit_code_1_for_every_read_command() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let missing = tmp.path().join("no-such-log");
    for args in [&["stat"][..], &["tail", "t"], &["tail", "-f", "t"], &["verify"], &["verify", "--repair"], &["groups"]]
    {
        let a = logstream().arg("--dir").arg(&missing).args(args).assert().code(1).stdout("");
        let err = assert_one_line_error(&a);
        assert!(err.contains("no-such-log") && err.contains("does not exist"), "{args:?}: {err}");
    }
    assert!(!missing.exists(), "reading creates nothing");
}

#[test]
fn a_directory_that_is_not_a_log_is_refused() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let a = logstream().arg("--dir").arg(tmp.path()).arg("stat").assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("is not a logstream log directory"), "{err}");
}

#[test]
fn a_missing_config_file_is_one_line_and_exit_code_1() {
    let a = logstream().args(["--config", "/nonexistent/meta.json", "stat"]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("/nonexistent/meta.json"), "{err}");
}

#[test]
fn without_a_log_named_anywhere_the_error_says_how_to_name_one() {
    if logstream::default_config_path().exists() {
        return; // This machine has a default config; the case cannot arise.
    }
    let a = logstream().arg("stat").assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("--dir DIR") && err.contains(logstream::CONFIG_ENV), "{err}");
}

#[test]
fn an_invalid_topic_name_is_named() {
    let log = Log::with(&[("login", &["alice"])]);
    let a = log.cmd().args(["tail", ".."]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("invalid topic name \"..\""), "{err}");
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let out = stdout_of(&logstream().arg("--help").assert().success());
    for cmd in ["stat", "tail", "write", "verify", "groups", "lag", "reset", "dlq", "config", "completions"] {
        assert!(out.contains(&format!("\n  {cmd} ")), "{cmd} in --help: {out}");
    }
    for code in ["0  done", "1  error", "2  wrong command line", "3  verify found damage", "4  the log is locked"] {
        assert!(out.contains(code), "{code:?} in --help");
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = stdout_of(&logstream().args(["completions", shell]).assert().success());
        assert!(out.contains("logstream"), "{shell}");
        assert!(out.contains("verify") && out.contains("follow"), "{shell} completes commands and options");
    }
}
