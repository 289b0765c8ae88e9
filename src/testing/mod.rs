//! Test support (feature `fault-injection`): storage hooks and the disk
//! image a crash would leave.
//!
//! [`CrashRecorder`] is a [`StorageHook`] that remembers, for every file of a
//! log directory, the bytes each sync made durable and, for every directory,
//! the entries each directory sync made durable. [`CrashRecorder::crash_image`]
//! then writes the directory as it could be found after:
//! - [`Crash::ProcessKill`]: `kill -9` of every process: the page cache
//!   survives, so the image is the files as they are;
//! - [`Crash::SyncedOnly`]: a power loss that kept nothing unsynced;
//! - [`Crash::PowerLoss`]: a power loss that kept a random part of what was
//!   not synced: each dirty page is either the synced version, the new one, or
//!   torn (a random mix of 512-byte sectors); each directory change made after
//!   the last directory sync is kept or lost at random.
//!
//! [`CrashPoints`] crashes at the k-th file-system operation (sync or
//! [`Change`]) of a directory and builds both images there, so that a test
//! can enumerate every crash point of a workload instead of sampling some.
//!
//! The production code path is unchanged: the hooks only observe, or fail an
//! operation when a test asks them to.
//!
//! [`spawn_child`], [`child_say`] and [`child_lines`] run a test's other
//! process (a writer to kill, a forwarder, a group member) from the same
//! test binary.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

mod child;
mod crash_points;

pub use crate::storage::hook::{Change, FileId, StorageHook, SyncedRange, add_hook, file_id, remove_hook};
pub use child::{child_lines, child_say, spawn_child};
pub use crash_points::{CrashPoints, Crashed};

const PAGE: usize = 4096;
const SECTOR: usize = 512;

/// What kind of crash an image shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every process killed; the page cache survives.
    ProcessKill,
    /// Power loss keeping only what was synced.
    SyncedOnly,
    /// Power loss keeping what was synced plus a random part of the rest,
    /// chosen from `seed`.
    PowerLoss {
        /// Seed of the random choices.
        seed: u64,
    },
}

#[derive(Default)]
struct State {
    files: HashMap<FileId, BTreeMap<u64, Vec<u8>>>,
    /// Per directory path: the directory's own identity when its entries
    /// were synced (a directory removed and made again under the same path
    /// is another directory, whose entries are not durable yet), and the
    /// entries.
    dirs: HashMap<PathBuf, (FileId, HashMap<OsString, FileId>)>,
    syncs: u64,
}

/// Records what became durable under a directory; builds crash images.
pub struct CrashRecorder {
    base: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for CrashRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashRecorder").field("base", &self.base).finish()
    }
}

fn id_of(path: &Path) -> io::Result<FileId> {
    file_id(&std::fs::File::open(path)?)
}

impl CrashRecorder {
    /// A recorder for the log directory `base`, registered as its hook.
    pub fn install(base: &Path) -> Arc<CrashRecorder> {
        let r = Self::new(base);
        add_hook(base, r.clone());
        r
    }

    /// A recorder for `base` that is not registered: another hook (such as
    /// [`CrashPoints`]) shows it the syncs.
    pub fn new(base: &Path) -> Arc<CrashRecorder> {
        Arc::new(CrashRecorder { base: base.to_path_buf(), state: Mutex::new(State::default()) })
    }

    /// A recorder for a directory that is already durable as a whole: the
    /// disk image a power loss left (after a reboot, what is on disk is all
    /// there is).
    ///
    /// # Errors
    /// I/O errors reading the directory.
    pub fn install_durable(base: &Path) -> io::Result<Arc<CrashRecorder>> {
        let r = Self::durable(base)?;
        add_hook(base, r.clone());
        Ok(r)
    }

    /// As [`CrashRecorder::install_durable`], not registered.
    ///
    /// # Errors
    /// I/O errors reading the directory.
    pub fn durable(base: &Path) -> io::Result<Arc<CrashRecorder>> {
        let r = Self::new(base);
        Self::record_all(&mut r.state.lock(), base)?;
        Ok(r)
    }

    /// A recorder for `image`, a [`Crash::ProcessKill`] image of this
    /// recorder's directory: after `kill -9` the disk holds what was synced
    /// here, so that is what is durable there (files and directories matched
    /// by relative path).
    ///
    /// # Errors
    /// I/O errors reading either directory.
    pub fn continue_on(&self, image: &Path) -> io::Result<Arc<CrashRecorder>> {
        let r = self.continued(image)?;
        add_hook(image, r.clone());
        Ok(r)
    }

    /// As [`CrashRecorder::continue_on`], not registered.
    ///
    /// # Errors
    /// I/O errors reading either directory.
    pub fn continued(&self, image: &Path) -> io::Result<Arc<CrashRecorder>> {
        let r = Self::new(image);
        {
            let old = self.state.lock();
            let mut new = r.state.lock();
            translate(&old, &mut new, &self.base, image)?;
        }
        Ok(r)
    }

    /// The directory this recorder watches.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Stops recording.
    pub fn uninstall(&self) {
        remove_hook(&self.base);
    }

    /// Number of syncs seen.
    pub fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Writes to `to` (which must not exist) the directory as `crash` would
    /// leave it.
    ///
    /// # Errors
    /// I/O errors reading the live directory or writing the image.
    pub fn crash_image(&self, to: &Path, crash: Crash) -> io::Result<()> {
        let st = self.state.lock();
        let mut rng = Rng(match crash {
            Crash::PowerLoss { seed } => seed | 1,
            _ => 1,
        });
        copy_dir(&st, &self.base, to, crash, &mut rng)?;
        if crash != Crash::ProcessKill {
            // A power loss means a reboot: the machine that reads the image
            // has a new boot id (recovery must not trust the page cache).
            let meta = to.join("logstream.meta");
            if let Ok(text) = std::fs::read_to_string(&meta)
                && let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text)
            {
                v["boot_id"] = serde_json::Value::String("a boot after a simulated power loss".into());
                std::fs::write(&meta, v.to_string())?;
            }
        }
        Ok(())
    }

    fn record_dir(st: &mut State, dir: &Path) -> io::Result<()> {
        let mut entries = HashMap::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            match id_of(&e.path()) {
                Ok(id) => {
                    entries.insert(e.file_name(), id);
                }
                // Renamed or removed by another thread while we listed.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        st.dirs.insert(dir.to_path_buf(), (id_of(dir)?, entries));
        Ok(())
    }

    fn record_all(st: &mut State, dir: &Path) -> io::Result<()> {
        Self::record_dir(st, dir)?;
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let r = (|| -> io::Result<()> {
                let m = e.metadata()?;
                if m.is_dir() {
                    Self::record_all(st, &e.path())?;
                } else if m.is_file() {
                    let id = id_of(&e.path())?;
                    let bytes = std::fs::read(e.path())?;
                    record_pages(st.files.entry(id).or_default(), 0, &bytes);
                }
                Ok(())
            })();
            match r {
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }
}

/// Copies what is durable under `from` (in `old`) to the same relative paths under `to`.
fn translate(old: &State, new: &mut State, from: &Path, to: &Path) -> io::Result<()> {
    let mut durable_names = HashMap::new();
    if let Some((dir_id, listing)) = old.dirs.get(from)
        && id_of(from).ok().as_ref() == Some(dir_id)
    {
        for (name, old_id) in listing {
            // A name whose file was removed or replaced since the last
            // directory sync keeps naming the old file durably: the kill
            // image shows the change (the page cache had it), but a power
            // loss before the next directory sync brings the old file back
            // (a file's pages never mix with another's: it keeps its own id).
            if id_of(&from.join(name)).ok().as_ref() != Some(old_id) {
                durable_names.insert(name.clone(), *old_id);
                if let Some(pages) = old.files.get(old_id) {
                    new.files.insert(*old_id, pages.clone());
                }
                continue;
            }
            let p = to.join(name);
            if let Ok(id) = id_of(&p) {
                durable_names.insert(name.clone(), id);
                if let Some(pages) = old.files.get(old_id) {
                    new.files.insert(id, pages.clone());
                }
            }
        }
        new.dirs.insert(to.to_path_buf(), (id_of(to)?, durable_names));
    }
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type()?.is_dir() && dst.is_dir() {
            translate(old, new, &src, &dst)?;
        } else if let (Ok(old_id), Ok(id)) = (id_of(&src), id_of(&dst))
            && let Some(pages) = old.files.get(&old_id)
        {
            new.files.insert(id, pages.clone());
        }
    }
    Ok(())
}

fn record_pages(pages: &mut BTreeMap<u64, Vec<u8>>, offset: u64, content: &[u8]) {
    debug_assert_eq!(offset as usize % PAGE, 0);
    for (i, chunk) in content.chunks(PAGE).enumerate() {
        pages.insert(offset / PAGE as u64 + i as u64, chunk.to_vec());
    }
}

impl StorageHook for CrashRecorder {
    fn before_sync(&self, range: &SyncedRange<'_>) -> io::Result<()> {
        let mut st = self.state.lock();
        st.syncs += 1;
        record_pages(st.files.entry(range.id).or_default(), range.offset, range.content);
        Ok(())
    }

    fn before_dir_sync(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.syncs += 1;
        Self::record_dir(&mut st, dir)
    }

    fn before_fs_sync(&self, _path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.syncs += 1;
        Self::record_all(&mut st, &self.base)
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn copy_dir(st: &State, src: &Path, dst: &Path, crash: Crash, rng: &mut Rng) -> io::Result<()> {
    std::fs::create_dir(dst)?;
    let src_id = id_of(src)?;
    let durable = st.dirs.get(src).filter(|(id, _)| *id == src_id).map(|(_, entries)| entries);
    let mut seen = Vec::new();
    let mut replaced = Vec::new();
    let mut names: Vec<(OsString, std::fs::Metadata)> = Vec::new();
    for e in std::fs::read_dir(src)? {
        let e = e?;
        names.push((e.file_name(), e.metadata()?));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, m) in names {
        let id = id_of(&src.join(&name))?;
        let synced_entry = durable.is_some_and(|d| d.get(&name) == Some(&id));
        let keep = match crash {
            Crash::ProcessKill => true,
            Crash::SyncedOnly => synced_entry,
            Crash::PowerLoss { .. } => synced_entry || rng.below(2) == 0,
        };
        if !keep {
            // A name that held another file at the last directory sync (a
            // rename or exchange over it since) holds that file after the
            // crash: the loop below brings it back (a rename over a name
            // leaves the one file or the other there, never neither).
            if durable.is_some_and(|d| d.contains_key(&name)) {
                replaced.push(name.clone());
            }
            continue;
        }
        seen.push(name.clone());
        let (s, d) = (src.join(&name), dst.join(&name));
        if m.is_dir() {
            copy_dir(st, &s, &d, crash, rng)?;
        } else if m.is_file() {
            let current = std::fs::read(&s)?;
            let image = file_image(st.files.get(&id), &current, crash, rng);
            std::fs::write(&d, image)?;
        }
    }
    // Entries removed since the last directory sync may come back.
    if let Some(d) = durable {
        for (name, id) in d {
            if seen.contains(name) || matches!(crash, Crash::ProcessKill) {
                continue;
            }
            let Some(pages) = st.files.get(id) else { continue };
            if matches!(crash, Crash::PowerLoss { .. }) && !replaced.contains(name) && rng.below(2) == 0 {
                continue;
            }
            let mut bytes = Vec::new();
            for (&p, content) in pages {
                let at = p as usize * PAGE;
                if bytes.len() < at + content.len() {
                    bytes.resize(at + content.len(), 0);
                }
                bytes[at..at + content.len()].copy_from_slice(content);
            }
            std::fs::write(dst.join(name), bytes)?;
        }
    }
    Ok(())
}

fn file_image(synced: Option<&BTreeMap<u64, Vec<u8>>>, current: &[u8], crash: Crash, rng: &mut Rng) -> Vec<u8> {
    if crash == Crash::ProcessKill {
        return current.to_vec();
    }
    let mut out = vec![0u8; current.len()];
    for (p, cur) in current.chunks(PAGE).enumerate() {
        let at = p * PAGE;
        let old = synced.and_then(|s| s.get(&(p as u64))).map(Vec::as_slice).unwrap_or(&[]);
        let dst = &mut out[at..at + cur.len()];
        // Slice operations, not a closure per byte: tests build thousands of
        // images in a debug build.
        let same = {
            let n = old.len().min(cur.len());
            cur[..n] == old[..n] && cur[n..] == ZEROS[..cur.len() - n]
        };
        let choice = if same || crash == Crash::SyncedOnly { 0 } else { rng.below(3) };
        match choice {
            0 => copy_old(dst, old, 0),
            1 => dst.copy_from_slice(cur),
            _ => {
                for (s, chunk) in dst.chunks_mut(SECTOR).enumerate() {
                    let from = s * SECTOR;
                    if rng.below(2) == 0 {
                        chunk.copy_from_slice(&cur[from..from + chunk.len()]);
                    } else {
                        copy_old(chunk, old, from);
                    }
                }
            }
        }
    }
    out
}

/// A page of zeros to compare against (a `memcmp`, not a loop).
static ZEROS: [u8; PAGE] = [0; PAGE];

/// Fills `dst` with the synced bytes `old[from..]`, zeros past their end
/// (`dst` starts zeroed).
fn copy_old(dst: &mut [u8], old: &[u8], from: usize) {
    if let Some(rest) = old.get(from..) {
        let have = rest.len().min(dst.len());
        dst[..have].copy_from_slice(&rest[..have]);
    }
}

/// A hook that fails operations on demand: after a number of syncs, or every
/// space reservation (a full disk).
#[derive(Debug, Default)]
pub struct Faults {
    /// Syncs still allowed before every sync fails with `EIO` (`u64::MAX`: never).
    pub syncs_left: std::sync::atomic::AtomicU64,
    /// When set, every space reservation fails with `ENOSPC`.
    pub disk_full: std::sync::atomic::AtomicBool,
    /// When non-zero, every sync first sleeps this many milliseconds (a stalled disk).
    pub stall_ms: std::sync::atomic::AtomicU64,
}

impl Faults {
    /// A hook that injects nothing until told to.
    pub fn new() -> Faults {
        Faults { syncs_left: std::sync::atomic::AtomicU64::new(u64::MAX), ..Faults::default() }
    }

    fn sync_fault(&self) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        let ms = self.stall_ms.load(Ordering::SeqCst);
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let step = |l: u64| if l == u64::MAX || l == 0 { None } else { Some(l - 1) };
        match self.syncs_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, step) {
            Ok(_) | Err(u64::MAX) => Ok(()),
            Err(_) => Err(io::Error::from_raw_os_error(libc::EIO)),
        }
    }
}

impl StorageHook for Faults {
    fn before_sync(&self, _range: &SyncedRange<'_>) -> io::Result<()> {
        self.sync_fault()
    }
    fn before_dir_sync(&self, _dir: &Path) -> io::Result<()> {
        self.sync_fault()
    }
    fn before_fs_sync(&self, _path: &Path) -> io::Result<()> {
        self.sync_fault()
    }
    fn before_allocate(&self, _path: &Path, _offset: u64, _len: u64) -> io::Result<()> {
        if self.disk_full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}
