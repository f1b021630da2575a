//! Integration tests of the pgoutput decoder.
//!
//! - `fixtures`: messages captured from a real PostgreSQL 15 (`scripts/capture-fixtures.sh`),
//!   checked against the SQL that made them, and every truncation of them.
//! - `framing`: XLogData and keepalive frames captured from a real walsender, and the status
//!   update it accepted.
//! - `protocol_4`: the same WAL captured from a private PostgreSQL 16 with protocol 4 and
//!   `streaming` `parallel` and `on` (`scripts/capture-fixtures-pg16.sh`): Stream Abort's abort
//!   LSN and time checked against the capture, and what a protocol 3 decoder makes of them.
//! - `properties`: encode-then-decode round trips of generated messages and sessions, and
//!   arbitrary bytes that must never panic.

mod common;
mod fixtures;
mod framing;
mod properties;
mod protocol_4;
