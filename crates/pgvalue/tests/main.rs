//! Integration tests of the value decoders.
//!
//! * `server`: values of every supported type, produced by a real PostgreSQL
//!   server in both text and binary format, must decode to the same [`Value`]
//!   and render back to PostgreSQL's exact text. Needs `SLUICE_POSTGRES_URL`.
//! * `roundtrip`: property tests, generated values survive `to_pg_text` then
//!   `decode_text`.
//! * `adversarial`: random and mutated bytes for every known type never panic.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod adversarial;
mod roundtrip;
mod server;

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
