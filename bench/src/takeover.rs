//! Group takeover: two reader processes in one group split ten topics; one
//! of them fails, and the time until the other owns its topics is measured
//! (from the fault to the moment the group's member files say so). Three
//! faults, interleaved: SIGKILL (the kernel drops its locks at once),
//! SIGSTOP (alive, holding every lock: found out by its missing heartbeat,
//! `member_timeout_ms`), and a closure that never returns on each of its
//! topics (`max_forward_ms`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ctx::{Ctx, config, remove};
use crate::measure::{Subject, interleave};
use crate::report::{Better, Goal, Row};

const TOPICS: usize = 10;
const MEMBER_TIMEOUT_MS: u64 = 1000;
const MAX_FORWARD_MS: u64 = 400;
const REBALANCE_MS: u64 = 100;
/// A record whose batch the stuck-closure member never returns from.
const STICK: &[u8] = b"stick";

fn member_config(dir: &Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_rebalance_interval_ms(REBALANCE_MS)
        .set_member_timeout_ms(MEMBER_TIMEOUT_MS)
        .set_max_forward_ms(MAX_FORWARD_MS)
        .set_max_concurrent_forward(TOPICS)
        .set_checkpoint_interval_ms(0);
    c
}

/// The hidden `__member DIR sticky|plain` subcommand: a member of group
/// "g"; a sticky one's closure never returns from a batch holding a `stick`
/// record. Prints its member id, then runs until killed (at most 60 s).
pub fn child_main(args: &[String]) -> i32 {
    let [dir, mode] = args else {
        eprintln!("usage: __member DIR sticky|plain");
        return 2;
    };
    let sticky = mode == "sticky";
    let r = logstream::Reader::builder(&member_config(Path::new(dir))).group("g").start(
        move |b: &logstream::Batch| -> Result<(), String> {
            if sticky && b.records().any(|r| r.data() == STICK) {
                // A closure that never returns (an HTTP call without a
                // timeout): only giving the topic away frees the group.
                while !b.is_revoked() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_secs(60));
            }
            Ok(())
        },
    );
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            eprintln!("member: {e}");
            return 1;
        }
    };
    println!("member {}", r.member_id());
    std::thread::sleep(Duration::from_secs(60));
    0
}

/// A member process, killed when dropped.
struct Member {
    child: Child,
    id: String,
}

impl Member {
    fn spawn(dir: &Path, sticky: bool) -> Member {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .envs(crate::ctx::meta_text().map(|t| (crate::ctx::META_ENV, t)))
            .arg("__member")
            .arg(dir)
            .arg(if sticky { "sticky" } else { "plain" })
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn member child");
        let out = child.stdout.take().expect("child stdout");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("read child stdout");
        let id = line.trim().strip_prefix("member ").unwrap_or_else(|| panic!("member child said {line:?}")).to_owned();
        Member { child, id }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Topics per member id, as the group's member files say.
fn owners(g: &logstream::Group) -> HashMap<String, Vec<String>> {
    g.members().map(|m| m.into_iter().map(|i| (i.id, i.topics)).collect()).unwrap_or_default()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "takeover benchmark: timed out waiting for {what}: {}", state());
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[derive(Clone, Copy)]
enum Fault {
    Kill,
    Stop,
    Stuck,
}

/// One takeover on a fresh directory: returns ns from the fault until the
/// survivor owns every topic of the failed member.
fn once(root: &Path, fault: Fault) -> f64 {
    let dir: PathBuf = root.to_path_buf();
    let cfg = member_config(&dir);
    let w = logstream::Writer::open(&cfg).expect("open writer");
    let names: Vec<String> = (0..TOPICS).map(|i| format!("t{i:02}")).collect();
    for n in &names {
        w.write(n, b"first").expect("write");
    }
    w.flush().expect("flush");
    let a = Member::spawn(&dir, true);
    let b = Member::spawn(&dir, false);
    let g = logstream::Group::open(&cfg, "g").expect("open group");
    wait_until(
        "an even split",
        || {
            let o = owners(&g);
            o.get(&a.id).is_some_and(|t| t.len() == TOPICS / 2) && o.get(&b.id).is_some_and(|t| t.len() == TOPICS / 2)
        },
        || format!("members {:?}", g.members()),
    );
    let lost = owners(&g).remove(&a.id).unwrap_or_default();
    let t = Instant::now();
    match fault {
        Fault::Kill => a.signal(libc::SIGKILL),
        Fault::Stop => a.signal(libc::SIGSTOP),
        Fault::Stuck => {
            for n in &lost {
                w.write(n, STICK).expect("write");
            }
        }
    }
    wait_until(
        "the survivor to own the failed member's topics",
        || owners(&g).get(&b.id).is_some_and(|mine| lost.iter().all(|t| mine.contains(t))),
        || format!("lost {lost:?}, members {:?}", g.members()),
    );
    let ns = t.elapsed().as_secs_f64() * 1e9;
    drop((a, b));
    w.close().expect("close");
    remove(&dir);
    ns
}

/// Scenario `takeover`.
pub fn takeover(ctx: &mut Ctx) {
    eprintln!("== group takeover: 2 member processes, {TOPICS} topics, rebalance_interval_ms {REBALANCE_MS}");
    let reps = ctx.opts.reps;
    let root = ctx.path("ls-takeover");
    let run = |fault: Fault| {
        let root = root.clone();
        move || once(&root, fault)
    };
    let mut subjects = [
        Subject::new("after SIGKILL", run(Fault::Kill)),
        Subject::new(format!("after SIGSTOP (member_timeout_ms {MEMBER_TIMEOUT_MS})"), run(Fault::Stop)),
        Subject::new(format!("stuck closure (max_forward_ms {MAX_FORWARD_MS})"), run(Fault::Stuck)),
    ];
    let results = interleave(reps, &mut subjects);
    let scen = format!("group takeover, {} topics", TOPICS / 2);
    for (i, (name, s, _)) in results.into_iter().enumerate() {
        let (bound, what) = match i {
            0 => (2 * REBALANCE_MS, "2 x rebalance_interval_ms"),
            1 => (MEMBER_TIMEOUT_MS + 2 * REBALANCE_MS, "member_timeout_ms + 2 x rebalance_interval_ms"),
            _ => (MAX_FORWARD_MS + 2 * REBALANCE_MS, "max_forward_ms + 2 x rebalance_interval_ms"),
        };
        let row = Row::new(&scen, &name, "time", "ns", s, Better::Lower)
            .goal(Goal::at_most(format!("<= {bound} ms (documented bound: {what})"), s.median, bound as f64 * 1e6))
            .note("from the fault until the other member's file lists every topic of the failed one");
        ctx.push(row);
    }
}
