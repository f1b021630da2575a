//! Loading of the captured fixtures (see `scripts/capture-fixtures.sh` and
//! `tests/fixtures/README.md`).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use bytes::Bytes;
use sluice_pgoutput::{Decoder, LogicalMessage, Lsn};

/// One row of `pg_logical_slot_peek_binary_changes`.
#[derive(Debug, Clone)]
pub struct FixtureMessage {
    /// The `lsn` column.
    pub lsn: Lsn,
    /// The `xid` column.
    pub xid: u32,
    /// The pgoutput message.
    pub data: Bytes,
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every fixture file.
pub const ALL_FIXTURES: &[(&str, u32)] = &[
    ("basic_v1.hex", 1),
    ("basic_v1_binary.hex", 1),
    ("basic_v2.hex", 2),
    ("basic_v3.hex", 3),
    ("stream_v2.hex", 2),
    ("stream_v3.hex", 3),
    ("twophase_v3.hex", 3),
    ("stream_v4_parallel.hex", 4),
    ("stream_v4_on.hex", 4),
];

pub fn load(name: &str) -> Vec<FixtureMessage> {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let (Some(lsn), Some(xid), Some(hex), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                panic!("{name}: malformed line {line:?}");
            };
            FixtureMessage {
                lsn: lsn.parse().expect("lsn column"),
                xid: xid.parse().expect("xid column"),
                data: Bytes::from(decode_hex(hex)),
            }
        })
        .collect()
}

pub fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The tag letters of a message sequence, e.g. "BRIC".
pub fn tags(messages: &[LogicalMessage]) -> String {
    messages
        .iter()
        .map(|m| char::from(m.kind().tag()))
        .collect()
}

/// Decodes a whole fixture with one decoder, as a connection would.
pub fn decode_all(name: &str, version: u32) -> Vec<LogicalMessage> {
    let mut decoder = Decoder::new(version).expect("version");
    load(name)
        .iter()
        .enumerate()
        .map(|(index, message)| {
            decoder
                .decode(&message.data)
                .unwrap_or_else(|e| panic!("{name} message {index}: {e}"))
        })
        .collect()
}

/// One payload of `walsender_v1.hex`: who sent it and the CopyData payload.
#[derive(Debug, Clone)]
pub struct WirePayload {
    /// `true` for the server's messages, `false` for the client's.
    pub from_server: bool,
    /// The CopyData payload.
    pub data: Bytes,
}

pub fn load_walsender(name: &str) -> Vec<WirePayload> {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (direction, hex) = line.split_once('\t').expect("direction TAB hex");
            WirePayload {
                from_server: match direction {
                    "server" => true,
                    "client" => false,
                    other => panic!("unknown direction {other:?}"),
                },
                data: Bytes::from(decode_hex(hex)),
            }
        })
        .collect()
}
