//! Which log the command works on: `--config`, `--dir`, or the library's own
//! lookup (`$LOGSTREAM_CONFIG`, else the default path), as `Config::load` does.

use std::path::{Path, PathBuf};

use logstream::Config;

use crate::args::Global;
use crate::exit::Failure;

/// The configuration the global options name.
///
/// # Errors
/// The config file cannot be read or is invalid; no log is named at all.
pub fn config(global: &Global) -> Result<Config, Failure> {
    let file = match (&global.config, &global.dir) {
        (Some(file), _) => file.clone(),
        (None, Some(dir)) => return Ok(Config::new(dir)),
        (None, None) => match std::env::var_os(logstream::CONFIG_ENV) {
            Some(file) => PathBuf::from(file),
            None => {
                let default = logstream::default_config_path();
                if !default.exists() {
                    return Err(Failure::error(format!(
                        "no log given: pass --dir DIR or --config FILE, or set {} ({} does not exist)",
                        logstream::CONFIG_ENV,
                        default.display()
                    )));
                }
                default
            }
        },
    };
    let mut cfg = Config::from_file(&file)?;
    if let Some(dir) = &global.dir {
        // Config::new resolves a relative directory as the library does.
        cfg.set_base_dir(Config::new(dir).base_dir().to_path_buf());
    }
    Ok(cfg)
}

/// Checks that the configured directory holds a log, for commands that only
/// read: the library treats a missing directory as an empty log, which would
/// hide a mistyped path.
///
/// # Errors
/// The directory does not exist, is not a directory, or holds no log.
pub fn existing_log(cfg: &Config) -> Result<&Path, Failure> {
    let dir = cfg.base_dir();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Failure::error(format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::error(format!("no log at {}: the directory does not exist", dir.display())));
        }
        Err(e) => return Err(Failure::error(format!("cannot read {}: {e}", dir.display()))),
    }
    if !dir.join("topics").is_dir() && !dir.join("logstream.meta").is_file() {
        return Err(Failure::error(format!(
            "{} is not a logstream log directory (it has neither topics/ nor logstream.meta)",
            dir.display()
        )));
    }
    Ok(dir)
}

/// `no topic "x" in DIR (its topics: a, b)`: what to say of a topic that is
/// not in the log, with the ones that are.
pub fn no_such_topic(topic: &str, dir: &Path, infos: &[logstream::TopicInfo]) -> String {
    format!("no topic {topic:?} in {} ({})", dir.display(), known_topics(infos))
}

/// `its topics: a, b` (or `it has no topics`), for messages about topics
/// that are not there.
pub fn known_topics(infos: &[logstream::TopicInfo]) -> String {
    const SHOWN: usize = 20;
    if infos.is_empty() {
        return "it has no topics".to_owned();
    }
    let mut names: Vec<&str> = infos.iter().take(SHOWN).map(|i| i.topic.as_str()).collect();
    let more = infos.len().saturating_sub(SHOWN);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    names.sort_unstable();
    format!("its topics: {}{more}", names.join(", "))
}
