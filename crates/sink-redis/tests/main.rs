//! The Redis sink against a real Redis (the local stack's, or a container). Each test
//! writes under a key prefix of its own, so tests run concurrently, and removes its keys
//! when done, passed or failed.
//!
//! - `writes`: inserts, updates, deletes and primary-key updates end as the source rows,
//!   as hashes and as JSON.
//! - `versions`: replayed batches, older events after newer ones, and older creates after
//!   a delete leave the newest state.
//! - `toast`: updates with unchanged TOAST values keep the stored value, across batches
//!   and within one, in both formats; partial updates of missing or newer rows.
//! - `truncate`: a truncate removes older rows and keeps newer ones, in any order of its
//!   copies, and walks a large table without `KEYS`.
//! - `cache`: per-table TTLs and invalidate-only tables.
//! - `rejections`: a key holding another type rejects its record with its batch index;
//!   the rest is applied.
//! - `outage`: an unreachable Redis is retryable, the next apply after it comes back
//!   reconnects and loses nothing; refused credentials are permanent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod outage;
mod rejections;
mod support;
mod toast;
mod truncate;
mod versions;
mod writes;
