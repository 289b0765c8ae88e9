//! Everything that talks to the operating system about files and memory:
//! mappings (`map.rs`), space reservation, syncs, locks and futex wake-ups.
//! The crate's only `unsafe` code is here: in `map.rs` (pointers into
//! shared mappings), `range_lock.rs` (one `fcntl` call) and `writeback.rs`
//! (one `sync_file_range` call).

pub(crate) mod file;
pub mod hook;
#[expect(unsafe_code, reason = "shared file mappings and the fork hook need raw pointers; the rules are in map.rs")]
mod map;
#[expect(unsafe_code, reason = "fcntl byte-range locks have no safe wrapper; see range_lock.rs")]
pub(crate) mod range_lock;
pub(crate) mod reserve;
pub(crate) mod wake;
#[cfg_attr(target_os = "linux", expect(unsafe_code, reason = "sync_file_range has no safe wrapper; see writeback.rs"))]
pub(crate) mod writeback;

pub(crate) use map::{Mapping, fork_generation, page_size};
