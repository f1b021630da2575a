//! Sample values shared by the tests: one or more of every kind.

use sluice_event::v1::value::Kind;
use sluice_event::v1::{
    Array, ArrayDimension, BitString, Date, Inet, Interval, Money, Multirange, Null, Numeric,
    Other, Range, RangeBound, Time, TimeTz, Timestamp, UnchangedToast, Value,
};

/// Shorthand for a value of a kind.
pub(crate) fn v(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

/// The name of a kind as in the `Value` oneof. The match has no wildcard, so a kind
/// added to the schema does not compile until the tests cover it.
pub(crate) fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Null(_) => "null",
        Kind::UnchangedToast(_) => "unchanged_toast",
        Kind::Boolean(_) => "boolean",
        Kind::Integer(_) => "integer",
        Kind::Float8(_) => "float8",
        Kind::Numeric(_) => "numeric",
        Kind::Text(_) => "text",
        Kind::Timestamptz(_) => "timestamptz",
        Kind::Timestamp(_) => "timestamp",
        Kind::Date(_) => "date",
        Kind::Uuid(_) => "uuid",
        Kind::Jsonb(_) => "jsonb",
        Kind::Json(_) => "json",
        Kind::Bytea(_) => "bytea",
        Kind::Array(_) => "array",
        Kind::Float4(_) => "float4",
        Kind::Oid(_) => "oid",
        Kind::Time(_) => "time",
        Kind::Timetz(_) => "timetz",
        Kind::Interval(_) => "interval",
        Kind::Inet(_) => "inet",
        Kind::Cidr(_) => "cidr",
        Kind::Macaddr(_) => "macaddr",
        Kind::Money(_) => "money",
        Kind::BitString(_) => "bit_string",
        Kind::Range(_) => "range",
        Kind::Multirange(_) => "multirange",
        Kind::Other(_) => "other",
    }
}

pub(crate) const UUID: [u8; 16] = [
    0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11,
];

/// 2024-01-01 10:00:00 UTC in microseconds since the Unix epoch.
pub(crate) const TS_2024: i64 = 1_704_103_200_000_000;

pub(crate) fn int_range(lower: Option<i64>, upper: Option<i64>) -> Range {
    let bound = |b: Option<i64>, inclusive: bool| {
        Some(Box::new(RangeBound {
            value: b.map(|i| Box::new(Value::from(i))),
            inclusive: inclusive && b.is_some(),
        }))
    };
    Range {
        empty: false,
        lower: bound(lower, true),
        upper: bound(upper, false),
    }
}

/// One value of every kind (several for some), each with the canonical text
/// PostgreSQL 15 prints for it (`None` where there is none).
pub(crate) fn samples() -> Vec<(Value, Option<&'static str>)> {
    vec![
        (v(Kind::Null(Null {})), None),
        (v(Kind::UnchangedToast(UnchangedToast {})), None),
        (v(Kind::Boolean(true)), Some("t")),
        (v(Kind::Integer(i64::MIN)), Some("-9223372036854775808")),
        (v(Kind::Float8(0.1)), Some("0.1")),
        (v(Kind::Float8(1e15)), Some("1e+15")),
        (v(Kind::Float8(-0.0)), Some("-0")),
        (v(Kind::Float8(f64::NEG_INFINITY)), Some("-Infinity")),
        (v(Kind::Float8(f64::NAN)), Some("NaN")),
        (
            v(Kind::Numeric(Numeric {
                decimal: "-12.3400".into(),
                special: 0,
            })),
            Some("-12.3400"),
        ),
        (
            v(Kind::Numeric(Numeric {
                decimal: String::new(),
                special: 2,
            })),
            Some("Infinity"),
        ),
        (v(Kind::Text("tab\there".into())), Some("tab\there")),
        (
            v(Kind::Timestamptz(Timestamp {
                micros: TS_2024 + 500_000,
                infinity: 0,
            })),
            Some("2024-01-01 10:00:00.5+00"),
        ),
        (
            // 0044-03-15 12:00:00 BC, the Ides of March.
            v(Kind::Timestamp(Timestamp {
                micros: -63_517_780_800_000_000,
                infinity: 0,
            })),
            Some("0044-03-15 12:00:00 BC"),
        ),
        (
            v(Kind::Timestamp(Timestamp {
                micros: 0,
                infinity: 1,
            })),
            Some("infinity"),
        ),
        (
            v(Kind::Date(Date {
                days: 19_782,
                infinity: 0,
            })),
            Some("2024-02-29"),
        ),
        (
            v(Kind::Date(Date {
                days: 0,
                infinity: 2,
            })),
            Some("-infinity"),
        ),
        (
            v(Kind::Uuid(UUID.to_vec())),
            Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ),
        (v(Kind::Jsonb(r#"{"a": 1}"#.into())), Some(r#"{"a": 1}"#)),
        (v(Kind::Json(r#"{ "a":1 }"#.into())), Some(r#"{ "a":1 }"#)),
        (v(Kind::Bytea(vec![0, 0xff, 0x10])), Some("\\x00ff10")),
        (
            v(Kind::Array(Array {
                dimensions: vec![
                    ArrayDimension {
                        length: 2,
                        lower_bound: 0,
                    },
                    ArrayDimension {
                        length: 2,
                        lower_bound: 1,
                    },
                ],
                elements: vec![
                    Value::from("a b"),
                    Value::null(),
                    Value::from("NULL"),
                    Value::from("q\"\\"),
                ],
                element_type_oid: 25,
            })),
            Some(r#"[0:1][1:2]={{"a b",NULL},{"NULL","q\"\\"}}"#),
        ),
        (
            v(Kind::Array(Array {
                dimensions: vec![],
                elements: vec![],
                element_type_oid: 23,
            })),
            Some("{}"),
        ),
        (v(Kind::Float4(0.1)), Some("0.1")),
        (v(Kind::Float4(-123_587_024.0)), Some("-1.23587024e+08")),
        (v(Kind::Oid(4_294_967_295)), Some("4294967295")),
        (
            v(Kind::Time(Time {
                micros: 86_400_000_000,
            })),
            Some("24:00:00"),
        ),
        (
            v(Kind::Timetz(TimeTz {
                micros: 45_296_789_000,
                offset_seconds: -(5 * 3600 + 30 * 60),
            })),
            Some("12:34:56.789-05:30"),
        ),
        (
            v(Kind::Interval(Interval {
                months: -13,
                days: 3,
                micros: -(4 * 3_600_000_000 + 5_000_001),
                infinity: 0,
            })),
            Some("-1 years -1 mons +3 days -04:00:05.000001"),
        ),
        (
            v(Kind::Inet(Inet {
                address: vec![192, 168, 0, 1],
                prefix_length: 32,
            })),
            Some("192.168.0.1"),
        ),
        (
            v(Kind::Inet(Inet {
                address: [0u8; 10]
                    .into_iter()
                    .chain([0xff, 0xff, 1, 2, 3, 4])
                    .collect(),
                prefix_length: 128,
            })),
            Some("::ffff:1.2.3.4"),
        ),
        (
            v(Kind::Cidr(Inet {
                address: [0x20, 0x01, 0x0d, 0xb8]
                    .into_iter()
                    .chain([0; 12])
                    .collect(),
                prefix_length: 32,
            })),
            Some("2001:db8::/32"),
        ),
        (
            v(Kind::Macaddr(vec![8, 0, 0x2b, 1, 2, 3])),
            Some("08:00:2b:01:02:03"),
        ),
        (
            v(Kind::Money(Money {
                minor_units: Some(123_456),
                text: "$1,234.56".into(),
            })),
            Some("$1,234.56"),
        ),
        (
            v(Kind::BitString(BitString {
                bit_length: 5,
                data: vec![0b1011_0000],
            })),
            Some("10110"),
        ),
        (
            v(Kind::Range(Box::new(int_range(Some(1), None)))),
            Some("[1,)"),
        ),
        (
            v(Kind::Range(Box::new(Range {
                empty: true,
                lower: None,
                upper: None,
            }))),
            Some("empty"),
        ),
        (
            v(Kind::Multirange(Multirange {
                ranges: vec![int_range(Some(1), Some(3)), int_range(Some(5), Some(7))],
            })),
            Some("{[1,3),[5,7)}"),
        ),
        (
            v(Kind::Other(Other {
                type_name: "point".into(),
                text: "(1,2)".into(),
                type_oid: 600,
            })),
            Some("(1,2)"),
        ),
    ]
}
