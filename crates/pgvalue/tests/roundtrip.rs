//! Property tests: any value this crate can hold renders to text that decodes
//! back to the same value (`decode_text(to_pg_text(v)) == v`), for scalars,
//! arrays of every scalar (any shape, lower bounds, NULLs), ranges, multiranges,
//! enums and unknown types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use proptest::prelude::*;
use sluice_pgvalue::datetime::{
    MAX_DATE_DAYS, MAX_TIMESTAMP_MICROS, MIN_DATE_DAYS, MIN_TIMESTAMP_MICROS,
};
use sluice_pgvalue::{
    Array, ArrayDim, BitString, Date, Decimal, EnumValue, Inet, Interval, Money, Numeric, Other,
    Range, RangeBound, Time, TimeTz, Timestamp, TypeRegistry, Value, decode_text,
};

const MOOD: u32 = 90_000;
const MOOD_ARRAY: u32 = 90_001;
const TEXTRANGE: u32 = 90_002;
const TEXTMULTIRANGE: u32 = 90_003;
const UNKNOWN: u32 = 123_456;

fn registry() -> TypeRegistry {
    let mut r = TypeRegistry::new();
    r.register_enum(MOOD, "mood");
    r.register_array(MOOD_ARRAY, "_mood", MOOD);
    r.register_range(TEXTRANGE, "textrange", 25);
    r.register_multirange(TEXTMULTIRANGE, "textmultirange", TEXTRANGE);
    r
}

/// Scalar type OIDs with their array type OIDs.
const SCALARS: &[(u32, u32)] = &[
    (16, 1000),
    (21, 1005),
    (23, 1007),
    (20, 1016),
    (26, 1028),
    (700, 1021),
    (701, 1022),
    (1700, 1231),
    (25, 1009),
    (18, 1002),
    (17, 1001),
    (2950, 2951),
    (114, 199),
    (3802, 3807),
    (1082, 1182),
    (1083, 1183),
    (1266, 1270),
    (1114, 1115),
    (1184, 1185),
    (1186, 1187),
    (869, 1041),
    (650, 651),
    (829, 1040),
    (774, 775),
    (790, 791),
    (1560, 1561),
    (1562, 1563),
    (MOOD, MOOD_ARRAY),
    (3904, 3905),
    (3910, 3911),
];

/// Strings heavy in the characters that array, range and bytea syntax care about.
fn tricky_text() -> BoxedStrategy<String> {
    let chars = vec![
        'a', 'N', 'U', 'L', 'l', ' ', '"', '\\', '{', '}', ',', ';', 'é', '\t', '\n', '\u{b}', '(',
        ')', '[', ']', '=', ':', '🎉', '0',
    ];
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(chars), 0..10).prop_map(String::from_iter),
        1 => any::<String>(),
        1 => prop::sample::select(vec!["NULL", "null", "", " ", "empty", "\"\""]).prop_map(str::to_owned),
    ]
    .boxed()
}

fn numeric() -> BoxedStrategy<Numeric> {
    prop_oneof![
        1 => Just(Numeric::NaN),
        1 => Just(Numeric::Infinity),
        1 => Just(Numeric::NegInfinity),
        12 => (any::<bool>(), "[0-9]{1,60}", 0_usize..40).prop_map(|(neg, digits, scale)| {
            let digits: String = digits;
            let (int, frac) = digits.split_at(digits.len().saturating_sub(scale.min(digits.len())));
            let text = format!("{}{}.{}", if neg { "-" } else { "" }, if int.is_empty() { "0" } else { int }, frac);
            let text = text.trim_end_matches('.').to_owned();
            Numeric::Finite(Decimal::parse(&text).unwrap())
        }),
    ]
    .boxed()
}

fn timestamp() -> BoxedStrategy<Timestamp> {
    prop_oneof![
        1 => Just(Timestamp::Infinity),
        1 => Just(Timestamp::NegInfinity),
        10 => (MIN_TIMESTAMP_MICROS..=MAX_TIMESTAMP_MICROS).prop_map(Timestamp::Micros),
        4 => (-4_000_000_000_000_000_i64..4_000_000_000_000_000).prop_map(Timestamp::Micros),
    ]
    .boxed()
}

fn inet() -> BoxedStrategy<Inet> {
    prop_oneof![
        (any::<[u8; 4]>(), 0_u8..=32).prop_map(|(a, p)| Inet {
            addr: IpAddr::V4(Ipv4Addr::from(a)),
            prefix_len: p
        }),
        (any::<[u16; 8]>(), 0_u8..=128, 0_usize..8).prop_map(|(mut w, p, zeros)| {
            // Runs of zero words exercise the `::` and embedded IPv4 forms.
            for x in w.iter_mut().take(zeros) {
                *x = 0;
            }
            Inet {
                addr: IpAddr::V6(Ipv6Addr::from(w)),
                prefix_len: p,
            }
        }),
    ]
    .boxed()
}

/// A value of the scalar type `oid`.
fn scalar(oid: u32) -> BoxedStrategy<Value> {
    match oid {
        16 => any::<bool>().prop_map(Value::Bool).boxed(),
        21 => any::<i16>().prop_map(Value::Int2).boxed(),
        23 => any::<i32>().prop_map(Value::Int4).boxed(),
        20 => any::<i64>().prop_map(Value::Int8).boxed(),
        26 => any::<u32>().prop_map(Value::Oid).boxed(),
        700 => any::<u32>()
            .prop_map(|b| Value::Float4(f32::from_bits(b)))
            .boxed(),
        701 => any::<u64>()
            .prop_map(|b| Value::Float8(f64::from_bits(b)))
            .boxed(),
        1700 => numeric().prop_map(Value::Numeric).boxed(),
        25 => tricky_text().prop_map(Value::Text).boxed(),
        18 => any::<u8>().prop_map(Value::Char).boxed(),
        17 => prop::collection::vec(any::<u8>(), 0..20)
            .prop_map(Value::Bytea)
            .boxed(),
        2950 => any::<[u8; 16]>().prop_map(Value::Uuid).boxed(),
        114 => tricky_text().prop_map(Value::Json).boxed(),
        3802 => tricky_text().prop_map(Value::Jsonb).boxed(),
        1082 => prop_oneof![
            Just(Date::Infinity),
            Just(Date::NegInfinity),
            (MIN_DATE_DAYS..=MAX_DATE_DAYS).prop_map(Date::Days),
            (MIN_DATE_DAYS..3_000_000).prop_map(Date::Days),
        ]
        .prop_map(Value::Date)
        .boxed(),
        1083 => (0..=86_400_000_000_i64)
            .prop_map(|micros| Value::Time(Time { micros }))
            .boxed(),
        1266 => (0..=86_400_000_000_i64, -57_599..=57_599)
            .prop_map(|(micros, utc_offset_seconds)| {
                Value::TimeTz(TimeTz {
                    micros,
                    utc_offset_seconds,
                })
            })
            .boxed(),
        1114 => timestamp().prop_map(Value::Timestamp).boxed(),
        1184 => timestamp().prop_map(Value::TimestampTz).boxed(),
        1186 => prop_oneof![
            (any::<i32>(), any::<i32>(), any::<i64>()),
            (
                -1000..1000,
                -1000..1000,
                -100_000_000_000_i64..100_000_000_000
            ),
        ]
        .prop_map(|(months, days, micros)| {
            Value::Interval(Interval {
                months,
                days,
                micros,
            })
        })
        .boxed(),
        869 => inet().prop_map(Value::Inet).boxed(),
        650 => inet().prop_map(Value::Cidr).boxed(),
        829 => any::<[u8; 6]>().prop_map(Value::MacAddr).boxed(),
        774 => any::<[u8; 8]>().prop_map(Value::MacAddr8).boxed(),
        790 => any::<i64>()
            .prop_map(|m| Value::Money(Money::from_minor_units(m)))
            .boxed(),
        1560 => prop::collection::vec(any::<bool>(), 0..40)
            .prop_map(|b| Value::Bit(BitString::from_bits(b)))
            .boxed(),
        1562 => prop::collection::vec(any::<bool>(), 0..40)
            .prop_map(|b| Value::VarBit(BitString::from_bits(b)))
            .boxed(),
        MOOD => tricky_text()
            .prop_map(|label| {
                Value::Enum(EnumValue {
                    type_name: Arc::from("mood"),
                    label,
                })
            })
            .boxed(),
        3904 => range(23).prop_map(Value::Range).boxed(),
        3910 => range(1184).prop_map(Value::Range).boxed(),
        _ => unreachable!("no strategy for oid {oid}"),
    }
}

fn bound(subtype: u32) -> BoxedStrategy<RangeBound> {
    prop_oneof![
        1 => Just(RangeBound::Unbounded),
        2 => scalar(subtype).prop_map(|v| RangeBound::Inclusive(Box::new(v))),
        2 => scalar(subtype).prop_map(|v| RangeBound::Exclusive(Box::new(v))),
    ]
    .boxed()
}

fn nonempty_range(subtype: u32) -> BoxedStrategy<Range> {
    (bound(subtype), bound(subtype))
        .prop_map(|(lower, upper)| Range::Bounds { lower, upper })
        .boxed()
}

fn range(subtype: u32) -> BoxedStrategy<Range> {
    prop_oneof![1 => Just(Range::Empty), 6 => nonempty_range(subtype)].boxed()
}

/// An array of `element` with 1 to 3 dimensions, any lower bounds, some NULLs.
fn array(element: u32) -> BoxedStrategy<Value> {
    let dims = prop::collection::vec(
        (1_u32..=3, prop_oneof![3 => Just(1), 1 => -5_i32..5]),
        1..=3,
    );
    dims.prop_flat_map(move |dims| {
        let n = dims.iter().map(|d| d.0 as usize).product::<usize>();
        let elements = prop::collection::vec(prop::option::weighted(0.85, scalar(element)), n);
        (Just(dims), elements)
    })
    .prop_map(move |(dims, elements)| {
        Value::Array(Array {
            element_type: element,
            dims: dims
                .iter()
                .map(|&(len, lower_bound)| ArrayDim { len, lower_bound })
                .collect(),
            elements,
            delimiter: b',',
        })
    })
    .boxed()
}

/// Any supported value, with the type OID to decode it as.
fn typed_value() -> BoxedStrategy<(u32, Value)> {
    let scalars =
        prop::sample::select(SCALARS.to_vec()).prop_flat_map(|(oid, _)| (Just(oid), scalar(oid)));
    let arrays = prop::sample::select(SCALARS.to_vec())
        .prop_flat_map(|(elem, arr)| (Just(arr), array(elem)));
    let empty_arrays = prop::sample::select(SCALARS.to_vec()).prop_map(|(elem, arr)| {
        (
            arr,
            Value::Array(Array {
                element_type: elem,
                dims: vec![],
                elements: vec![],
                delimiter: b',',
            }),
        )
    });
    let ranges = prop_oneof![
        range(23).prop_map(|r| (3904, Value::Range(r))),
        range(1700).prop_map(|r| (3906, Value::Range(r))),
        range(1184).prop_map(|r| (3910, Value::Range(r))),
        range(1082).prop_map(|r| (3912, Value::Range(r))),
        range(25).prop_map(|r| (TEXTRANGE, Value::Range(r))),
    ];
    let multiranges = prop_oneof![
        prop::collection::vec(nonempty_range(23), 0..4).prop_map(|r| (4451, Value::Multirange(r))),
        prop::collection::vec(nonempty_range(25), 0..4)
            .prop_map(|r| (TEXTMULTIRANGE, Value::Multirange(r))),
    ];
    let other = tricky_text().prop_map(|text| {
        (
            UNKNOWN,
            Value::Other(Other {
                type_oid: UNKNOWN,
                type_name: None,
                text,
            }),
        )
    });
    prop_oneof![6 => scalars, 4 => arrays, 1 => empty_arrays, 2 => ranges, 1 => multiranges, 1 => other].boxed()
}

proptest! {
    // PROPTEST_CASES overrides the default number of cases.
    #![proptest_config(ProptestConfig { cases: crate::cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn to_pg_text_then_decode_text_round_trips((oid, value) in typed_value()) {
        let reg = registry();
        let text = value.to_pg_text();
        let decoded = decode_text(&reg, oid, -1, text.as_bytes());
        prop_assert_eq!(decoded.as_ref(), Ok(&value), "oid {} text {:?}", oid, text);
        // Rendering is canonical: a second round gives the same text.
        prop_assert_eq!(decoded.unwrap().to_pg_text(), text);
    }
}
