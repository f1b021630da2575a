//! Integration tests of the pgoutput decoder.
//!
//! - `fixtures`: messages captured from a real PostgreSQL 15 (`scripts/capture-fixtures.sh`),
//!   checked against the SQL that made them, and every truncation of them.
//! - `framing`: XLogData and keepalive frames captured from a real walsender, and the status
//!   update it accepted.
//! - `properties`: encode-then-decode round trips of generated messages and sessions, and
//!   arbitrary bytes that must never panic.

mod common;
mod fixtures;
mod framing;
mod properties;
