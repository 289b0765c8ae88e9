//! Same-run denominators for logstream's figures.
//!
//! - (a) raw append: a 1 MiB `BufWriter` writing `len u32 | crc32 u32 | bytes`
//!   per record to one new file, optionally followed by one `fdatasync`;
//! - (b) raw read: a sequential read of that file verifying every CRC;
//! - the copy rate into a pre-faulted mapping (`shared/limits`): framed
//!   records (`len | crc | seq | payload`) stored into a file mapping that was
//!   `fallocate`d and populated first, so no page fault and no page-cache
//!   allocation is on the timed path. It is the ceiling of an mmap writer.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

/// Records per second of a timed section.
pub fn rate(records: u64, secs: f64) -> f64 {
    records as f64 / secs.max(1e-9)
}

/// Raw append of `n` records of `payload`; returns records/s. With `sync`,
/// the time includes one `fdatasync` at the end.
pub fn raw_append(path: &Path, payload: &[u8], n: u64, sync: bool) -> f64 {
    let _ = std::fs::remove_file(path);
    let f = File::create(path).expect("create raw append file");
    let t = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let len = (payload.len() as u32).to_le_bytes();
    for _ in 0..n {
        let crc = crc32fast::hash(payload);
        w.write_all(&len).expect("raw append write");
        w.write_all(&crc.to_le_bytes()).expect("raw append write");
        w.write_all(payload).expect("raw append write");
    }
    let f = w.into_inner().expect("raw append flush");
    if sync {
        f.sync_data().expect("raw append fdatasync");
    }
    rate(n, t.elapsed().as_secs_f64())
}

/// Raw read of a file written by [`raw_append`], verifying each CRC; returns
/// records/s and the CPU time of the reading thread.
pub fn raw_read(path: &Path) -> (f64, f64) {
    let cpu0 = crate::measure::Cpu::thread();
    let t = Instant::now();
    let f = File::open(path).expect("open raw file");
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut head = [0u8; 8];
    let mut buf = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("raw read failed: {e}"),
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        buf.resize(len, 0);
        r.read_exact(&mut buf).expect("raw read payload");
        assert_eq!(crc32fast::hash(&buf), crc, "raw read: CRC mismatch at record {n}");
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    (rate(n, secs), crate::measure::Cpu::thread().since(cpu0).total())
}

/// A file mapping that was `fallocate`d and populated (pre-faulted for write).
pub struct Prefaulted {
    map: memmap2::MmapMut,
    _file: File,
}

impl Prefaulted {
    /// Prepares `len` bytes at `path` (not timed by callers).
    pub fn new(path: &Path, len: usize) -> Prefaulted {
        let _ = std::fs::remove_file(path);
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).expect("create map");
        // SAFETY: fallocate on a file we own, with valid arguments.
        let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
        assert_eq!(rc, 0, "fallocate {}: {}", path.display(), std::io::Error::last_os_error());
        // SAFETY: the file is private to this benchmark; nothing truncates it while mapped.
        let map = unsafe { memmap2::MmapOptions::new().populate().map_mut(&f).expect("map") };
        // MAP_POPULATE maps pages for reading; store to each page once so the
        // timed section takes no write-protect fault either.
        let mut m = Prefaulted { map, _file: f };
        for p in (0..len).step_by(4096) {
            m.map[p] = 0;
        }
        m
    }

    /// Stores `n` framed records (`len | crc | seq | payload`); returns records/s.
    pub fn fill(&mut self, payload: &[u8], n: u64) -> f64 {
        let frame = 16 + payload.len();
        assert!(self.map.len() >= frame * n as usize, "prefaulted map too small");
        let t = Instant::now();
        let mut off = 0;
        let len = (payload.len() as u32).to_le_bytes();
        for seq in 0..n {
            let crc = crc32fast::hash(payload);
            let dst = &mut self.map[off..off + frame];
            dst[0..4].copy_from_slice(&len);
            dst[4..8].copy_from_slice(&crc.to_le_bytes());
            dst[8..16].copy_from_slice(&seq.to_le_bytes());
            dst[16..].copy_from_slice(payload);
            off += frame;
        }
        std::hint::black_box(&self.map[..]);
        rate(n, t.elapsed().as_secs_f64())
    }
}

/// Prepares a pre-faulted mapping for `n` records of `size` bytes and fills
/// it; returns records/s of the fill only.
pub fn prefault_copy(path: &Path, payload: &[u8], n: u64) -> f64 {
    let len = (16 + payload.len()) * n as usize + 4096;
    let mut m = Prefaulted::new(path, len);
    let r = m.fill(payload, n);
    drop(m);
    let _ = std::fs::remove_file(path);
    r
}

/// The payload every subject writes: `size` deterministic bytes.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + 7) as u8).collect()
}
