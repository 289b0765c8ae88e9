//! Open after SIGKILL: a child writer fills segments, says when it has
//! written enough, keeps writing and is killed with SIGKILL; the parent then
//! times `Writer::open` (recovery included) on what it left.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::baseline::payload;
use crate::ctx::{Ctx, config, remove};
use crate::measure::Summary;
use crate::report::{Better, Goal, Row};

/// The hidden `__kill-writer <dir> <size> <bytes>` subcommand: writes records
/// of `size` bytes until `bytes` of payload are written, prints `READY`, then
/// keeps writing (at most 60 s) until it is killed.
pub fn child_main(args: &[String]) -> i32 {
    let [dir, size, bytes] = args else {
        eprintln!("usage: __kill-writer DIR SIZE BYTES");
        return 2;
    };
    let size: usize = size.parse().expect("SIZE is a number");
    let bytes: u64 = bytes.parse().expect("BYTES is a number");
    let w = logstream::Writer::open(&config(Path::new(dir))).expect("open writer");
    let tw = w.topic("recover").expect("topic");
    let data = payload(size);
    let frame = logstream::format::frame::frame_len(size) as u64;
    let mut written = 0u64;
    while written < bytes {
        tw.write(&data).expect("write");
        written += frame;
    }
    println!("READY");
    let _ = std::io::stdout().flush();
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        for _ in 0..1000 {
            tw.write(&data).expect("write");
        }
    }
    0
}

fn kill_writer(dir: &Path, size: usize, bytes: u64) {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .envs(crate::ctx::meta_text().map(|t| (crate::ctx::META_ENV, t)))
        .arg("__kill-writer")
        .arg(dir)
        .arg(size.to_string())
        .arg(bytes.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer child");
    let out = child.stdout.take().expect("child stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read child stdout");
    assert_eq!(line.trim(), "READY", "writer child did not get ready");
    // Let it write a little more, so it dies in the middle of a write.
    std::thread::sleep(Duration::from_millis(20));
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let _ = child.wait();
}

/// Sum of the file lengths under `dir`, and of the bytes allocated to them.
fn dir_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => {
                    total.0 += m.len();
                    total.1 += m.blocks() * 512;
                }
                Err(_) => {}
            }
        }
    }
    total
}

/// Scenario `recovery`: `Writer::open` after SIGKILL of a writer that had
/// written the configured amount of segments, each repetition on a freshly
/// filled directory; and after a clean close, for reference.
pub fn recovery(ctx: &mut Ctx) {
    let size = ctx.opts.size;
    let bytes = ctx.opts.recovery_bytes;
    eprintln!("== open after SIGKILL with {} MiB of frames, fresh directory per rep", bytes >> 20);
    let mut after_kill = Vec::new();
    let mut after_close = Vec::new();
    let mut fills = Vec::new();
    let mut on_disk = (0, 0);
    let mut report = String::new();
    for rep in 0..=ctx.opts.reps {
        let dir = ctx.path("ls-recovery");
        let cfg = config(&dir);
        let t = Instant::now();
        kill_writer(&dir, size, bytes);
        let fill = t.elapsed().as_secs_f64();
        on_disk = dir_bytes(&dir);
        let t = Instant::now();
        let w = logstream::Writer::open(&cfg).expect("open after SIGKILL");
        let secs = t.elapsed().as_secs_f64();
        report = format!("{:?}", w.recovery_report());
        w.close().expect("close");
        let t = Instant::now();
        let w = logstream::Writer::open(&cfg).expect("open after close");
        let clean = t.elapsed().as_secs_f64();
        w.close().expect("close");
        remove(&dir);
        if rep > 0 {
            after_kill.push(secs * 1e9);
            after_close.push(clean * 1e9);
            fills.push(fill);
        }
    }
    let scen = format!("open after SIGKILL, {} MiB", bytes >> 20);
    let s = Summary::of(&after_kill);
    let mut row = Row::new(&scen, "Writer::open (recovery)", "time", "ns", s, Better::Lower).note(format!(
        "files: {} MiB long, {} MiB allocated; filling took {:.1} s (median); last report: {}",
        on_disk.0 >> 20,
        on_disk.1 >> 20,
        Summary::of(&fills).median,
        report.chars().take(200).collect::<String>()
    ));
    if bytes >= 1 << 30 {
        row = row.goal(Goal::at_most("<= 50 ms (1 GiB)", s.median, 50e6));
    }
    ctx.push(row);
    ctx.push(Row::new(
        &scen,
        "Writer::open after a clean close",
        "time",
        "ns",
        Summary::of(&after_close),
        Better::Lower,
    ));
}
