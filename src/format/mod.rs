//! The on-disk format: pure encoders and decoders, no I/O.
//!
//! (The full design, with the reasons for each choice, is written out in
//! this module's documentation below; the byte diagrams sit in the files
//! that encode each structure.)
//!
//! # Files
//! ```text
//! base_dir/
//!   LOCK                              the writer's lock (flock), holds its pid
//!   logstream.meta                    log id + writer session counter    (meta.rs)
//!   doorbell                          reader wake-ups, shared mapping     (meta.rs)
//!   topics/<topic>/NNNNNNNNNNNNNNNNNNNN.dat   frames                      (frame.rs, segment.rs)
//!   topics/<topic>/NNNNNNNNNNNNNNNNNNNN.idx   sparse index                (segment.rs)
//!   groups/<group>/checkpoints.{snap,log}     confirmed positions         (checkpoint.rs)
//!   groups/<group>/members/, owners.lock      who consumes what           (group/members.rs)
//!   groups/<group>/leases/<topic>             who may persist a position  (lease.rs)
//!   groups/<group>/dead-letters/              a log of failed records     (dead_letter.rs)
//!   deleted/<topic>                           where a deleted topic ended (deleted.rs)
//!   logstream.reserve                         emergency reserve (storage/reserve.rs)
//! ```
//! Topic and group names are validated, not escaped (naming.rs). Segment
//! files are named by their first sequence number, zero-padded to 20 digits.
//! All integers are little-endian. Every file starts with a magic and a format
//! version; a newer library reads every older version, an older library
//! refuses a newer file with an error naming both versions.
//!
//! # Choices, and why
//! - **Commit word, written last.** A frame's first 8 bytes (tag + CRC) are
//!   stored with one `SeqCst` atomic store after the body. A reader in any
//!   process that loads a non-zero word sees a complete frame; the tag's
//!   `PRESENT` bit makes a valid word non-zero even for an empty record, so
//!   preallocated zeros mark the end. (DESIGN-NOTES §1, §2.)
//! - **Sequence number and timestamp in every frame** (24-byte header). The
//!   seq lets recovery and the reader check continuity and resynchronise after
//!   damage without the index; the timestamp (coarse clock, ~2 ns to read)
//!   serves `StartFrom::Time`, age retention and the CLI. (§8: timestamps from
//!   the first version.) It is the writer's clock, or the caller's with
//!   `Writer::write_at_time` (mirrors keep their source's times; no format
//!   change, the field was always there).
//! - **Durable watermark in the data file header**, written by the flush
//!   thread through the mapping after each data sync. Before it, an invalid
//!   frame is bit rot (reported and skipped); after it, a torn tail (cut).
//!   (§2, §8.)
//! - **One session, new segments.** A writer never appends to a segment an
//!   earlier session left: recovery seals it at its last valid frame, and the
//!   new session starts new segments whose epoch is the session number
//!   (`logstream.meta`, fsynced at open). A sequence number that a power loss
//!   cut and the next session reuses thus comes with a new `(epoch, seq)`
//!   pair, which keeps forwarding IDs unique. (§8, ENGINES-NOTES.)
//! - **Checkpoints never pass the durable point.** Before a reader persists a
//!   position past a segment's durable watermark, it syncs that range of the
//!   data file itself (any process may); a power loss can then never cut
//!   records a checkpoint already counts as delivered. (§8, first trap.)
//!   Through a writable mapping that is `msync`; a reader that may only read
//!   `topics/` maps segments read-only, and Linux skips `msync` for those
//!   while reporting success, so it reopens the data file read-only, checks
//!   it is still the file it mapped (device, inode), and calls `fdatasync`
//!   on that descriptor, which writes back the file's dirty pages whoever
//!   dirtied them. If the name no longer holds that file and the watermark
//!   does not show the records durable, the checkpoint is not persisted.
//! - **Checkpoint journal per group** rather than a file per topic: one
//!   `fdatasync` persists any number of topics' positions; CRC'd fixed-size
//!   entries with per-topic generations make a damaged entry fall back to the
//!   previous one, never forward. (§6.)
//! - **Heartbeats and leases are not synced.** A group member writes a
//!   heartbeat (CLOCK_MONOTONIC ns) into its `members/<id>.lock` and claims
//!   topics in `leases/<topic>` without `fsync`: they only decide between
//!   processes that are running on this machine, which share the page cache
//!   and the clock; after a reboot every member is new and claims afresh.
//!   A member whose heartbeat is older than `member_timeout_ms` is treated
//!   as gone although its kernel locks are held; a position is appended only
//!   while its topic's lease names the appending member and epoch (checked
//!   under `checkpoints.lock`), so a frozen member that wakes up cannot
//!   overwrite its successor's progress. A member frozen while holding
//!   `checkpoints.lock` is broken out of it (a new lock file renamed over
//!   it), so checkpoint entries carry the epoch too: a generation is
//!   `epoch << 40 | count` (same bytes, format version 1; entries written
//!   before leases read as epoch 0, and an older library orders them the
//!   same way), so a late append by a replaced member loses to every entry
//!   of its successor.
//! - **Member info files are versioned JSON** (`members/<id>.json`, written
//!   with rename, not synced: informational). Format 1: id, pid, start
//!   time, topics owned, topics stuck. Format 2 (`"format": 2`) adds the
//!   member's delivery counters and the topics waiting to retry a failed
//!   batch (attempts, last error), so tools in other processes (`logstream
//!   top`, `groups`) show what only the reader's process knows. A file
//!   without `format` is format 1; unknown keys are ignored, so either
//!   library version reads the other's files (a unit test reads a format-1
//!   file).
//! - **Sparse index** every `index_interval_bytes` (default 4 KiB, as Kafka),
//!   written by the writer when it crosses the interval; rebuilt from data
//!   when damaged or missing. (§5.)
//! - **Space reserved ahead** with `fallocate` and pre-faulted with
//!   `MADV_POPULATE_WRITE` by the prefault thread, in windows that double
//!   from 64 KiB to 64 MiB; a disk-full becomes `Error::NoSpace` before any
//!   byte is stored. One mapping per file, sized to the segment maximum and
//!   never remapped. (§3, §8.)
//! - **Early writeback only after a flush.** While `flush()` was called in
//!   the last 10 s, the prefault thread starts the writeback of every 4 MiB
//!   the writer finishes (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, no
//!   durability claimed), so the next flush has little left: 1 M records
//!   then `flush()` went from 0.56–0.59x to 0.71–0.75x the baseline. Always
//!   on, it cost bursts 10–15% on 2 cores (the prefault thread fell behind
//!   and the writer faulted fresh pages itself; on the flush thread, a third
//!   busy thread took the writer's core), so writers that never flush leave
//!   writeback to the timed passes.
//! - **A path names a file, not a segment.** An empty sealed segment is
//!   replaced by a new file of the same name (the next session's first
//!   segment), so no step may act on "a segment" by reopening its path and
//!   trusting what it finds. A `Segment` keeps the device and inode of the
//!   data and index files it mapped, and every later open by path for a
//!   change (growing the file, releasing unused space with a punched hole,
//!   starting writeback) checks them and skips a file that is no longer
//!   its own. Replacing an empty segment drops it from the writer's queue
//!   of sealed segments; compression skips empty segments (the only kind
//!   replaced) and checks, before its exchange, that the name still holds
//!   the file it compressed.
//! - **A deleted topic's numbering survives it** (`deleted.rs`). Sequence
//!   numbers are never reused for other data, not even across
//!   `delete_topic`: the name's next records continue after the deleted
//!   ones, so groups holding a position past them receive the new records
//!   (restarting at 0 left every such group waiting at its old position),
//!   and a group behind sees a gap. The deletion renames the directory into
//!   `tmp/` under a name that carries the next seq (durable), frees the
//!   files, then writes `deleted/<topic>`; an open finishes what a crash
//!   interrupted before any topic is written.
//! - **An emergency reserve for a full disk** (`logstream.reserve`, 4 MiB of
//!   allocated blocks, storage/reserve.rs). What frees space on a full disk
//!   needs a little space first: a consumer's checkpoint entries, a new
//!   group's files, a writer's new `logstream.meta`, retention's `DROPPED`
//!   line, a member's info file. Each of those, meeting `ENOSPC`, truncates
//!   a slice off the reserve and tries again; the record path never does, so
//!   producers cannot eat it. The writer refills it at open and once a
//!   second when the file system has twice its size free. A new segment's
//!   files are built under temporary names and removed if they cannot be
//!   completed, so a failed write leaves nothing behind.
//! - **A deletion note is durable before the deletion.** Retention and
//!   `drop_oldest` append the range to `DROPPED` and sync it, and when that
//!   created the file, sync the topic directory too, before the segment is
//!   unlinked: otherwise a power loss could keep the unlink and lose the new
//!   note's name (POSIX orders neither), and groups would skip the range
//!   without being told.
//! - **One way to delete a segment** (`segment/remove.rs`), for every
//!   deleter: data file, then index file (an index without data is an
//!   orphan recovery removes; data without index would be re-indexed and
//!   come back), and no directory sync: a deletion a power loss undoes only
//!   brings back a consumed or noted range, deleted again later, while a
//!   sync from a deleter could make a new segment's name durable before its
//!   header (the writer syncs a topic directory only after the files it
//!   names).
//! - **Seal frames** end segments and name the next one, so a reader never has
//!   to guess whether a segment is finished. New segments and topic
//!   directories appear by `rename`, complete.
//! - **Doorbell** (futex words in a shared file) wakes readers only when they
//!   said they wait; the flush thread's `pwrite` to it wakes inotify watchers.
//!   (§1, §8 wake-up latency.)
//! - **Compressed segments keep raw offsets** (`block.rs`). A sealed segment
//!   of a `compress_topics` topic is rewritten as LZ4 blocks of its frames,
//!   byte for byte, each block naming the raw offset of its first frame. The
//!   index file is left as it was (its entries name raw offsets), every
//!   record keeps its own CRC, and the compressed file replaces the plain one
//!   with one `renameat2(RENAME_EXCHANGE)`: a crash leaves one complete file
//!   or the other, and a segment deleted meanwhile is never brought back.
//!   Block-level compression (not per record) because event payloads repeat
//!   across records, not within them; only sealed segments, so the hot path
//!   never compresses and readers of the active segment never decompress.

pub mod block;
pub mod checkpoint;
pub mod dead_letter;
pub mod deleted;
pub mod dropped;
pub mod frame;
pub mod lease;
pub mod meta;
pub mod naming;
pub mod segment;
