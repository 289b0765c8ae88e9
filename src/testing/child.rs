//! Child processes for scenario tests: a test binary starts itself again
//! running one test (the child's "role"), and the two talk through lines on
//! the child's standard output marked `@@ `, which libtest's own output
//! never starts with.

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};

/// Starts this test binary again, running only the test `role`, with the
/// environment variables `envs`. The child's standard output is piped;
/// what it prints with [`child_say`] is read with [`child_lines`].
///
/// # Panics
/// If the binary cannot be started (a test helper: the test fails).
pub fn spawn_child(role: &str, envs: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the path of the running test binary");
    let mut cmd = Command::new(exe);
    cmd.args([role, "--exact", "--nocapture", "--test-threads=1"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap_or_else(|e| panic!("starting the child test {role:?}: {e}"))
}

/// Prints one protocol line from a child, flushed at once.
///
/// # Panics
/// If standard output cannot be written (the parent went away).
pub fn child_say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A leading newline: libtest prints "test name ... " without one.
    writeln!(out, "\n@@ {line}").and_then(|()| out.flush()).expect("write a protocol line to stdout");
}

/// The child's protocol lines (those printed with [`child_say`]), as they come.
///
/// # Panics
/// If the child's standard output was not piped or was taken already.
pub fn child_lines(child: &mut Child) -> impl Iterator<Item = String> + use<> {
    let out = child.stdout.take().expect("the child's piped stdout");
    std::io::BufReader::new(out).lines().map_while(Result::ok).filter_map(|l| l.strip_prefix("@@ ").map(str::to_owned))
}
