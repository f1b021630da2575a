//! The canonical text is PostgreSQL's own output: checked against a real server.
//!
//! The server comes from `sluice-testkit` (the local stack's `SLUICE_POSTGRES_URL`, or a
//! container); `psql` runs the comparison script.
//!
//! It renders thousands of pseudo-random values of the kinds whose text has real
//! rules (floats, dates, timestamps, times, intervals, network addresses, arrays,
//! ranges), asks the server to print the same values with `format('%s', ...)` under the
//! settings the key encoding assumes, and compares byte for byte.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use sluice_event::key::canonical_text;
use sluice_event::v1::value::Kind;
use sluice_event::v1::{
    Array, ArrayDimension, Date, Inet, Interval, Range, RangeBound, Time, TimeTz, Timestamp, Value,
};

use crate::values::v;

/// xorshift64: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo).unwrap() + 1;
        lo + i64::try_from(self.next() % span).unwrap()
    }

    fn text(&mut self) -> String {
        const PARTS: &[&str] = &[
            "a", "B", "\"", "\\", "{", "}", ",", " ", "\t", "\n", "NULL", "null", "é", "(", ")",
            "[", "]", "x y",
        ];
        let n = self.range(0, 3);
        (0..n)
            .map(|_| PARTS[usize::try_from(self.next() % PARTS.len() as u64).unwrap()])
            .collect()
    }
}

/// Cases: a SQL expression and the value that should print the same.
fn cases() -> Vec<(String, Value)> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases: Vec<(String, Value)> = Vec::new();
    for n in -1074..=1023 {
        let f = 2f64.powi(n);
        cases.push((format!("'{f:e}'::float8"), f.into()));
    }
    for n in -149..=127 {
        let f = 2f32.powi(n);
        cases.push((format!("'{f:e}'::float4"), f.into()));
    }
    for _ in 0..2000 {
        let shift = u32::try_from(r.range(0, 40)).unwrap();
        let f = (r.next() >> shift) as f64;
        cases.push((format!("'{f:e}'::float8"), f.into()));
        let shift = u32::try_from(r.range(24, 63)).unwrap();
        let g = (r.next() >> shift) as f32;
        cases.push((format!("'{g:e}'::float4"), g.into()));
        let f = f64::from_bits(r.next());
        if !f.is_nan() {
            cases.push((format!("'{f:e}'::float8"), f.into()));
        }
        let g = f32::from_bits(u32::try_from(r.next() >> 32).unwrap());
        if !g.is_nan() {
            cases.push((format!("'{g:e}'::float4"), g.into()));
        }
    }
    for i in 0..500 {
        // PostgreSQL's date range: 4714-11-24 BC to 5874897-12-31.
        let days = r.range(-2_440_588, 2_145_042_905);
        let date = Date {
            days: i32::try_from(days).unwrap(),
            infinity: 0,
        };
        cases.push((
            format!("('1970-01-01'::date + {days})"),
            v(Kind::Date(date)),
        ));
        let days = if i % 2 == 0 {
            r.range(-2_440_588, 106_000_000)
        } else {
            r.range(-800_000, 800_000)
        };
        let tod = if i % 5 == 0 {
            r.range(0, 86_399) * 1_000_000
        } else {
            r.range(0, 86_399_999_999)
        };
        let ts = Timestamp {
            micros: days * 86_400_000_000 + tod,
            infinity: 0,
        };
        let add = format!("+ '{days} days'::interval + '{tod} microseconds'::interval");
        cases.push((
            format!("('1970-01-01'::timestamp {add})"),
            v(Kind::Timestamp(ts)),
        ));
        cases.push((
            format!("('1970-01-01 00:00:00+00'::timestamptz {add})"),
            v(Kind::Timestamptz(ts)),
        ));
        cases.push((
            format!("('00:00:00'::time + '{tod} microseconds'::interval)"),
            v(Kind::Time(Time { micros: tod })),
        ));
        let offset = match i % 3 {
            0 => r.range(-15, 15) * 3600,
            1 => r.range(-15, 15) * 3600 + r.range(0, 59) * 60,
            _ => r.range(-57_599, 57_599),
        };
        let (sign, a) = (if offset < 0 { '-' } else { '+' }, offset.abs());
        let literal = format!(
            "{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}:{:02}",
            tod / 3_600_000_000,
            tod / 60_000_000 % 60,
            tod / 1_000_000 % 60,
            tod % 1_000_000,
            a / 3600,
            a / 60 % 60,
            a % 60
        );
        let timetz = TimeTz {
            micros: tod,
            offset_seconds: i32::try_from(offset).unwrap(),
        };
        cases.push((format!("'{literal}'::timetz"), v(Kind::Timetz(timetz))));
    }
    for i in 0..1000 {
        let months = if i % 3 == 0 {
            0
        } else {
            r.range(-30_000, 30_000)
        };
        let days = if i % 4 == 0 {
            0
        } else {
            r.range(-30_000, 30_000)
        };
        let hours = if i % 5 == 0 {
            0
        } else {
            r.range(-2_000_000_000, 2_000_000_000)
        };
        let micros = match i % 7 {
            0 => 0,
            1 | 2 => r.range(-100, 100) * 1_000_000,
            _ => r.range(-3_600_000_000, 3_600_000_000),
        };
        let interval = Interval {
            months: i32::try_from(months).unwrap(),
            days: i32::try_from(days).unwrap(),
            micros: hours * 3_600_000_000 + micros,
            infinity: 0,
        };
        cases.push((
            format!(
                "('{months} mons'::interval + '{days} days'::interval + '{hours} hours'::interval \
                 + '{micros} microseconds'::interval)"
            ),
            v(Kind::Interval(interval)),
        ));
    }
    for i in 0..600 {
        let prefix = u32::try_from(r.range(0, 128)).unwrap();
        let mut words = [0u16; 8];
        for w in &mut words {
            let random = u16::try_from(r.next() >> 48).unwrap();
            *w = [0, 0, 0, 1, 0xffff, random][usize::try_from(r.next() % 6).unwrap()];
        }
        match i % 4 {
            1 => words[..5].fill(0),
            2 => words[..6].fill(0),
            3 => words[..7].fill(0),
            _ => {}
        }
        let address: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        let literal: Vec<String> = words.iter().map(|w| format!("{w:x}")).collect();
        let inet = Inet {
            address: address.clone(),
            prefix_length: prefix,
        };
        cases.push((
            format!("'{}/{prefix}'::inet", literal.join(":")),
            v(Kind::Inet(inet)),
        ));
        let v4 = [address[12], address[13], address[14], address[15]];
        let prefix4 = prefix % 33;
        let mask = u32::MAX.checked_shl(32 - prefix4).unwrap_or(0);
        let network = (u32::from_be_bytes(v4) & mask).to_be_bytes();
        let cidr = Inet {
            address: network.to_vec(),
            prefix_length: prefix4,
        };
        let [a, b, c, d] = network;
        cases.push((
            format!("'{a}.{b}.{c}.{d}/{prefix4}'::cidr"),
            v(Kind::Cidr(cidr)),
        ));
    }
    for _ in 0..500 {
        let dims: Vec<ArrayDimension> = (0..r.range(1, 3))
            .map(|_| ArrayDimension {
                length: u32::try_from(r.range(1, 3)).unwrap(),
                lower_bound: [1, 1, 0, -2, 5][usize::try_from(r.next() % 5).unwrap()],
            })
            .collect();
        let count: u32 = dims.iter().map(|d| d.length).product();
        let elements: Vec<Option<String>> = (0..count)
            .map(|_| (!r.next().is_multiple_of(6)).then(|| r.text()))
            .collect();
        // The input literal quotes every element; PostgreSQL's output quotes only where
        // needed, which is what is being checked.
        let mut literal = String::new();
        for d in &dims {
            let upper = d.lower_bound + i32::try_from(d.length).unwrap() - 1;
            write!(literal, "[{}:{upper}]", d.lower_bound).unwrap();
        }
        literal.push('=');
        nest(&mut literal, &dims, &elements, &mut 0);
        let array = Array {
            dimensions: dims,
            elements: elements
                .iter()
                .map(|e| e.as_deref().map_or_else(Value::null, Value::from))
                .collect(),
            element_type_oid: 25,
        };
        cases.push((
            format!("{}::text[]", quote(&literal)),
            v(Kind::Array(array)),
        ));
    }
    for _ in 0..500 {
        let (mut lower, mut upper) = (r.text(), r.text());
        if lower == upper {
            upper.push('z');
        }
        if lower.as_bytes() > upper.as_bytes() {
            std::mem::swap(&mut lower, &mut upper);
        }
        let flags: Vec<bool> = (0..4).map(|_| !r.next().is_multiple_of(4)).collect();
        let (lower_inc, upper_inc, lower_set, upper_set) = (flags[0], flags[1], flags[2], flags[3]);
        let bound_text = |s: &str, set: bool| {
            if !set {
                return String::new();
            }
            let mut out = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push(c);
                }
                out.push(c);
            }
            out.push('"');
            out
        };
        let literal = format!(
            "{}{},{}{}",
            if lower_inc && lower_set { '[' } else { '(' },
            bound_text(&lower, lower_set),
            bound_text(&upper, upper_set),
            if upper_inc && upper_set { ']' } else { ')' }
        );
        let bound = |s: &str, set: bool, inclusive: bool| {
            Some(Box::new(RangeBound {
                value: set.then(|| Box::new(Value::from(s))),
                inclusive: inclusive && set,
            }))
        };
        let range = Range {
            empty: false,
            lower: bound(&lower, lower_set, lower_inc),
            upper: bound(&upper, upper_set, upper_inc),
        };
        cases.push((
            format!("{}::sluice_textrange", quote(&literal)),
            v(Kind::Range(Box::new(range))),
        ));
    }
    cases
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn nest(out: &mut String, dims: &[ArrayDimension], elements: &[Option<String>], next: &mut usize) {
    out.push('{');
    for i in 0..dims[0].length {
        if i > 0 {
            out.push(',');
        }
        if dims.len() == 1 {
            match &elements[*next] {
                None => out.push_str("NULL"),
                Some(s) => {
                    out.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
            *next += 1;
        } else {
            nest(out, &dims[1..], elements, next);
        }
    }
    out.push('}');
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        write!(out, "{b:02x}").unwrap();
        out
    })
}

#[test]
fn canonical_text_equals_postgresqls_output() {
    let conn = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(sluice_testkit::address(sluice_testkit::Server::Postgres))
        .unwrap_or_else(|e| panic!("no PostgreSQL for the key-text parity test: {e}"));
    let cases = cases();
    let mut script = String::from(
        "SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC';\n\
         SET extra_float_digits = 1; SET bytea_output = hex;\n\
         CREATE TYPE pg_temp.sluice_textrange AS RANGE (subtype = text, collation = \"C\");\n\
         SET search_path = pg_temp, public;\n",
    );
    for (i, (sql, _)) in cases.iter().enumerate() {
        writeln!(
            script,
            "SELECT {i}, encode(convert_to(format('%s', {sql}), 'UTF8'), 'hex');"
        )
        .unwrap();
    }
    let mut child = Command::new("psql")
        .args([conn.as_str(), "-X", "-q", "-A", "-t", "-F", "|"])
        .args(["-v", "ON_ERROR_STOP=1", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    // Feed the script from another thread: psql's output would fill its pipe before
    // the whole script is written.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "psql failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_once('|').map(|(_, hex)| hex))
        .collect();
    assert_eq!(printed.len(), cases.len());
    let mut mismatches = Vec::new();
    for ((sql, value), pg_hex) in cases.iter().zip(printed) {
        let ours = canonical_text(value).unwrap().unwrap();
        if hex(ours.as_bytes()) != pg_hex {
            mismatches.push(format!("{sql}: ours {ours:?}, PostgreSQL's hex {pg_hex}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}
