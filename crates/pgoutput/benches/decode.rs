//! Throughput of framing + pgoutput decoding + typed values on one thread.
//!
//! `cargo bench --bench decode [-- ROWS]` (default 1,000,000 rows), or
//! `cargo bench --bench decode -- --stream FILE [--proto N]` for a stream captured from a
//! real walsender by `scripts/capture-stream.py` (what `scripts/bench-vs-recvlogical.sh`
//! does, next to `pg_recvlogical` on the same data).
//!
//! The synthesized stream is what a walsender sends for one transaction inserting ROWS rows
//! into a 7-column table: Begin, Relation, ROWS Inserts, Commit, each message in its own
//! XLogData CopyData payload, built with the crate's encoder (values shaped like PostgreSQL's
//! text output for int4, int8, text, text, numeric, timestamptz, bool). Either way the
//! payloads are `Bytes` slices of one buffer, as a client library hands them over.
//!
//! Timed: `ReplicationMessage::parse` + `Decoder::decode` of every payload; then with
//! `RelationCache::check_change`; then with `typed_row` turning every value into a
//! `sluice_pgvalue::Value` (what the source does). Each variant runs 3 times; the best run
//! is reported. `--only decode|check|typed` runs one variant (for profiling).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sluice_pgoutput::{
    Begin, Column, ColumnValue, Commit, Decoder, Insert, LogicalMessage, Lsn, PgTimestamp,
    Relation, RelationCache, ReplicaIdentity, ReplicationMessage, TupleData, XLogData, typed_row,
};
use sluice_pgvalue::TypeRegistry;

const RELATION_ID: u32 = 16_384;

fn relation() -> Relation {
    let column = |flags, name: &str, type_oid| Column {
        flags,
        name: name.into(),
        type_oid,
        type_modifier: -1,
    };
    Relation {
        xid: None,
        id: RELATION_ID,
        namespace: "public".into(),
        name: "orders".into(),
        replica_identity: ReplicaIdentity::Default,
        columns: vec![
            column(1, "id", 23),
            column(0, "customer_id", 20),
            column(0, "customer_name", 25),
            column(0, "email", 25),
            column(0, "amount", 1700),
            column(0, "created_at", 1184),
            column(0, "active", 16),
        ],
    }
}

fn row(i: u64) -> TupleData {
    let values = [
        i.to_string(),
        (i * 7919 % 100_003).to_string(),
        format!("customer {i}"),
        format!("user{i}@example.com"),
        format!("{}.{:02}", i % 10_000, i % 100),
        format!(
            "2024-05-17 12:{:02}:{:02}.{:06}+00",
            i / 60 % 60,
            i % 60,
            i % 1_000_000
        ),
        if i.is_multiple_of(3) { "f" } else { "t" }.to_string(),
    ];
    TupleData::from_columns(
        values
            .iter()
            .map(|value| ColumnValue::Text(value.as_bytes())),
    )
}

/// The CopyData payloads of the transaction, each a slice of one buffer.
fn build_stream(rows: u64) -> (Vec<Bytes>, usize) {
    let xid = 4242;
    let mut messages = Vec::with_capacity(rows as usize + 3);
    messages.push(LogicalMessage::Begin(Begin {
        final_lsn: Lsn(0x1_0000_0000 + rows * 200),
        commit_time: PgTimestamp(800_000_000_000_000),
        xid,
    }));
    messages.push(LogicalMessage::Relation(relation()));
    for i in 0..rows {
        messages.push(LogicalMessage::Insert(Insert {
            xid: None,
            relation_id: RELATION_ID,
            new_tuple: row(i),
        }));
    }
    messages.push(LogicalMessage::Commit(Commit {
        flags: 0,
        commit_lsn: Lsn(0x1_0000_0000 + rows * 200),
        end_lsn: Lsn(0x1_0000_0000 + rows * 200 + 48),
        commit_time: PgTimestamp(800_000_000_000_000),
    }));

    let mut buffer = BytesMut::new();
    let mut boundaries = Vec::with_capacity(messages.len());
    for (index, message) in messages.into_iter().enumerate() {
        let start = buffer.len();
        let lsn = Lsn(0x1_0000_0000 + index as u64 * 200);
        ReplicationMessage::XLogData(XLogData {
            wal_start: lsn,
            wal_end: lsn,
            server_clock: PgTimestamp(800_000_000_000_000),
            data: message.encode(),
        })
        .encode_into(&mut buffer);
        boundaries.push(start..buffer.len());
    }
    let total = buffer.len();
    let buffer = buffer.freeze();
    (
        boundaries
            .into_iter()
            .map(|range| buffer.slice(range))
            .collect(),
        total,
    )
}

/// How much of the work a run does.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Depth {
    Decode,
    CheckSchema,
    TypedValues,
}

impl Depth {
    /// The variant's name for `--only`.
    fn name(self) -> &'static str {
        match self {
            Depth::Decode => "decode",
            Depth::CheckSchema => "check",
            Depth::TypedValues => "typed",
        }
    }
}

/// Decodes every payload; returns the number of inserted rows seen.
fn run(frames: &[Bytes], proto: u32, depth: Depth) -> Result<u64, Box<dyn std::error::Error>> {
    let mut decoder = Decoder::new(proto)?;
    let mut cache = RelationCache::new();
    let registry = TypeRegistry::new();
    let mut rows = 0;
    for frame in frames {
        let ReplicationMessage::XLogData(xlog) = ReplicationMessage::parse(frame.clone())? else {
            continue;
        };
        let message = decoder.decode(&xlog.data)?;
        if depth >= Depth::CheckSchema {
            cache.apply(&message);
            let relation = cache.check_change(&message)?;
            if depth == Depth::TypedValues
                && let (Some(relation), LogicalMessage::Insert(insert)) = (relation, &message)
            {
                black_box(typed_row(relation, &insert.new_tuple, &registry)?);
            }
        }
        if let LogicalMessage::Insert(insert) = &message {
            rows += 1;
            if depth == Depth::Decode {
                // What a consumer does next: look at every value.
                for value in insert.new_tuple.iter() {
                    black_box(value);
                }
            }
        }
        black_box(message);
    }
    Ok(rows)
}

/// Payloads captured by `scripts/capture-stream.py`: 4-byte big-endian length, payload.
fn load_stream(path: &str) -> Result<(Vec<Bytes>, usize), Box<dyn std::error::Error>> {
    let buffer = Bytes::from(std::fs::read(path)?);
    let mut frames = Vec::new();
    let mut at = 0;
    while at < buffer.len() {
        let header: [u8; 4] = buffer
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated length in the stream file")?;
        let len = u32::from_be_bytes(header) as usize;
        let end = at + 4 + len;
        if end > buffer.len() {
            return Err("truncated payload in the stream file".into());
        }
        frames.push(buffer.slice(at + 4..end));
        at = end;
    }
    Ok((frames, buffer.len()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `--stream FILE`, `--proto N` and `--only VARIANT` take
    // a value; the first other numeric argument, if any, is the row count of the synthesized
    // stream.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let proto: u32 = option("--proto").map_or(Ok(1), |p| p.parse())?;
    let started = Instant::now();
    let (frames, total_bytes, source) = match option("--stream") {
        Some(path) => {
            let (frames, total) = load_stream(&path)?;
            (frames, total, format!("captured {path}"))
        }
        None => {
            let is_option_value = |i: usize| {
                i.checked_sub(1)
                    .and_then(|i| args.get(i))
                    .is_some_and(|a| ["--stream", "--proto", "--only"].contains(&a.as_str()))
            };
            let rows: u64 = args
                .iter()
                .enumerate()
                .filter(|&(i, _)| !is_option_value(i))
                .find_map(|(_, a)| a.parse().ok())
                .unwrap_or(1_000_000);
            let (frames, total) = build_stream(rows);
            (frames, total, "synthesized".to_owned())
        }
    };
    let rows = run(&frames, proto, Depth::Decode)?;
    println!(
        "stream ({source}, protocol {proto}): {} payloads, {rows} inserted rows, {:.1} MB, \
         {:.1} bytes/row (loaded in {:.2?})",
        frames.len(),
        total_bytes as f64 / 1e6,
        total_bytes as f64 / rows.max(1) as f64,
        started.elapsed()
    );
    let only = option("--only");
    for (label, depth) in [
        ("framing + decode", Depth::Decode),
        ("framing + decode + relation check", Depth::CheckSchema),
        ("framing + decode + typed values", Depth::TypedValues),
    ] {
        if only.as_deref().is_some_and(|only| only != depth.name()) {
            continue;
        }
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let seen = run(&frames, proto, depth)?;
            best = best.min(started.elapsed());
            assert_eq!(seen, rows);
        }
        let seconds = best.as_secs_f64();
        println!(
            "{label:>36}: {:>8.2?} for {rows} rows = {:>6.2} M rows/s, {:>7.1} MB/s",
            best,
            rows as f64 / seconds / 1e6,
            total_bytes as f64 / seconds / 1e6
        );
    }
    Ok(())
}
