//! The library's modules form layers, and a module uses only the layers
//! below it (`crate::X` paths are what is checked; a module's own tests are
//! not). The order is written once, here, bottom up. The few upward uses
//! that remain are listed as known debt: a new one fails the test, and so
//! does a listed one that is gone (take it off the list).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom up. A module may use any module listed before it.
const LAYERS: &[&str] = &[
    "error",    // the crate's error type
    "metrics",  // publishing figures the stats types name (a leaf)
    "format",   // pure encoders and decoders of the on-disk bytes
    "storage",  // files, mappings, locks, hooks: the one unsafe place
    "config",   // keys, parsing, validation
    "layout",   // every path of a log directory
    "doorbell", // cross-process wake-ups
    "segment",  // one segment: append, read, recover, extent of a topic
    "group",    // group state: checkpoints, members, the registry of groups
    "writer",   // topics, flush thread, retention by caps and age
    "reader",   // cursors, groups, the forwarder pool, the pull reader
    "admin",    // public topic queries needing the reader
    "verify",   // fsck
    "repair",   // what verify finds, fixed
    "asyncio",  // the tokio API over writer and reader
    "testing",  // hooks for tests: may use everything
];

/// Upward uses still to be removed: (file under src/, module it uses).
const KNOWN: &[(&str, &str)] = &[];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// The modules `source` (a file of the layer `own`) uses above itself.
fn upward_uses(own: &str, source: &str) -> BTreeSet<String> {
    let Some(me) = rank(own) else { return BTreeSet::new() };
    // A module's unit tests may use anything.
    let code = match source.find("#[cfg(test)]\nmod tests") {
        Some(i) => &source[..i],
        None => source,
    };
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            // `logstream_crate::x` or `$crate::` are not ours.
            let before = rest[..i].chars().last();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'))
                && let Some(r) = rank(&name)
                && r > me
            {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if rel == "lib.rs" {
            continue;
        }
        let own = rel.split('/').next().unwrap().trim_end_matches(".rs");
        assert!(rank(own).is_some(), "src/{rel}: module {own:?} is in no layer: add it to LAYERS");
        for m in upward_uses(own, &std::fs::read_to_string(f).unwrap()) {
            found.insert((rel.clone(), m));
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN.iter().map(|(f, m)| (f.to_string(), m.to_string())).collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(new.is_empty(), "modules using a layer above their own (file, module used): {new:?}");
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(gone.is_empty(), "no longer used upwards, take them off KNOWN: {gone:?}");
}

#[test]
fn a_planted_upward_import_is_found() {
    let planted = "use crate::format::frame;\nuse crate::reader::Batch;\n// crate::admin in a comment\nfn f() { crate::writer::x(); }\n";
    let found: Vec<String> = upward_uses("segment", planted).into_iter().collect();
    assert_eq!(found, ["reader", "writer"]);
    let tests_only = "use crate::error::Error;\n#[cfg(test)]\nmod tests {\n    use crate::reader::Batch;\n}\n";
    assert!(upward_uses("storage", tests_only).is_empty(), "a module's own tests may use anything");
}
