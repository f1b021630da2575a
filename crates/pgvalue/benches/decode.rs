//! Micro-benchmark: text-format decoding of a typical row (int8, text, numeric,
//! timestamptz, bool, jsonb, uuid), as pgoutput sends it.
//!
//! `cargo bench --bench decode` (release). Prints values per second overall and
//! per type. Plain `std::time::Instant`, no harness: the numbers are for
//! comparing changes on one machine, not absolute claims.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sluice_pgvalue::{TypeRegistry, decode_text};

const ROW: &[(u32, &str, &[u8])] = &[
    (20, "int8", b"9123456789"),
    (
        25,
        "text",
        b"Alice Example <alice@example.com>, customer since 2019",
    ),
    (1700, "numeric", b"123456.7800"),
    (1184, "timestamptz", b"2024-05-01 12:34:56.789012+00"),
    (16, "bool", b"t"),
    (
        3802,
        "jsonb",
        br#"{"id": 42, "sku": "W-1001", "tags": ["red", "xl"], "price": 19.99}"#,
    ),
    (2950, "uuid", b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
];

fn time_values(reg: &TypeRegistry, values: &[(u32, &str, &[u8])], rounds: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        for (oid, _, text) in values {
            let v = decode_text(reg, black_box(*oid), -1, black_box(text));
            black_box(v.ok());
        }
    }
    start.elapsed()
}

fn main() {
    let reg = TypeRegistry::new();
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000_usize);
    // Warm up, and make sure every value decodes.
    for (oid, name, text) in ROW {
        if let Err(e) = decode_text(&reg, *oid, -1, text) {
            eprintln!("bench value for {name} does not decode: {e}");
            std::process::exit(1);
        }
    }
    time_values(&reg, ROW, rounds / 10);

    let elapsed = time_values(&reg, ROW, rounds);
    let values = rounds * ROW.len();
    println!(
        "row of {} values x {rounds} rows: {:.3} s, {:.2} M values/s, {:.2} M rows/s",
        ROW.len(),
        elapsed.as_secs_f64(),
        values as f64 / elapsed.as_secs_f64() / 1e6,
        rounds as f64 / elapsed.as_secs_f64() / 1e6,
    );
    for value in ROW {
        let elapsed = time_values(&reg, std::slice::from_ref(value), rounds);
        println!(
            "  {:<12} {:>7.1} ns/value  {:>6.2} M values/s",
            value.1,
            elapsed.as_nanos() as f64 / rounds as f64,
            rounds as f64 / elapsed.as_secs_f64() / 1e6
        );
    }
}
