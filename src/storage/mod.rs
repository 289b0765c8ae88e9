//! Everything that talks to the operating system about files and memory:
//! mappings (the only `unsafe` code of the crate, in `map.rs`), space
//! reservation, syncs, locks and futex wake-ups.

pub(crate) mod file;
pub mod hook;
#[expect(unsafe_code, reason = "shared file mappings and the fork hook need raw pointers; the rules are in map.rs")]
mod map;
pub(crate) mod wake;

pub(crate) use map::{Mapping, fork_generation, page_size};
