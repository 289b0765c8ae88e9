//! `logstream --version` says which on-disk format the binary writes and
//! which it reads, so an operator can tell whether a log can be opened.
mod common;

use common::*;

#[test]
fn version_names_the_on_disk_format_written_and_read() {
    let v = logstream::FORMAT_VERSION;
    for flag in ["--version", "-V"] {
        let out = logstream().arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag} exits 0");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&format!("logstream {}", env!("CARGO_PKG_VERSION"))), "{flag}: {text}");
        assert!(text.contains(&format!("on-disk log format {v}")), "{flag} names the format written: {text}");
        assert!(text.contains(&format!("formats 1 to {v}")), "{flag} names the formats read: {text}");
    }
}
