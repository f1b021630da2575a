//! Properties of the key encoding: deterministic, injective, and decodable.

use proptest::collection::vec;
use proptest::prelude::*;
use sluice_event::key::{canonical_text, decode_key, encode_texts};
use sluice_event::v1::value::Kind;
use sluice_event::v1::{
    Array, ArrayDimension, Date, Inet, Interval, Numeric, Time, TimeTz, Timestamp, Value,
};

use crate::values::v;

/// Canonical texts, control characters and JSON metacharacters included.
fn texts() -> impl Strategy<Value = Vec<Option<String>>> {
    vec(
        prop_oneof![
            1 => Just(None),
            4 => any::<String>().prop_map(Some),
            4 => "[\"\\\\\\x00-\\x1f\\x7f a,\\[\\]null{}é]{0,8}".prop_map(Some),
        ],
        0..5,
    )
}

/// Values of the kinds whose text the key encoding most often sees, with their kind
/// name so that only same-kind values are compared (a column has one type).
fn typed_values() -> impl Strategy<Value = (u8, Value)> {
    prop_oneof![
        any::<i64>().prop_map(|i| (0, Value::from(i))),
        any::<String>().prop_map(|s| (1, Value::from(s))),
        any::<[u8; 16]>().prop_map(|u| (2, v(Kind::Uuid(u.to_vec())))),
        any::<i64>().prop_map(|micros| (
            3,
            v(Kind::Timestamptz(Timestamp {
                micros,
                infinity: 0
            }))
        )),
        any::<i64>().prop_map(|micros| (
            4,
            v(Kind::Timestamp(Timestamp {
                micros,
                infinity: 0
            }))
        )),
        any::<i32>().prop_map(|days| (5, v(Kind::Date(Date { days, infinity: 0 })))),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(|f| (6, Value::from(f))),
        any::<f32>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(|f| (7, Value::from(f))),
        "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,10})?"
            .prop_filter("negative zero", |s| {
                !(s.starts_with('-') && s.bytes().all(|b| matches!(b, b'-' | b'0' | b'.')))
            })
            .prop_map(|decimal| (
                8,
                v(Kind::Numeric(Numeric {
                    decimal,
                    special: 0
                }))
            )),
        vec(any::<u8>(), 0..8).prop_map(|b| (9, v(Kind::Bytea(b)))),
        (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| (
            10,
            v(Kind::Interval(Interval {
                months,
                days,
                micros,
                infinity: 0
            }))
        )),
        (0..=86_400_000_000i64).prop_map(|micros| (11, v(Kind::Time(Time { micros })))),
        (0..=86_400_000_000i64, -57_599..=57_599i32).prop_map(|(micros, offset_seconds)| (
            12,
            v(Kind::Timetz(TimeTz {
                micros,
                offset_seconds
            }))
        )),
        (vec(any::<u8>(), 16), 0..=128u32).prop_map(|(address, prefix_length)| (
            13,
            v(Kind::Inet(Inet {
                address,
                prefix_length
            }))
        )),
        (
            vec(prop::option::of("[a-c\" ,{}\\\\]{0,3}"), 1..4),
            -1..=1i32
        )
            .prop_map(|(elements, lower_bound)| {
                let length = u32::try_from(elements.len()).unwrap();
                let elements = elements
                    .into_iter()
                    .map(|e| e.map_or_else(Value::null, Value::from))
                    .collect();
                (
                    14,
                    v(Kind::Array(Array {
                        dimensions: vec![ArrayDimension {
                            length,
                            lower_bound,
                        }],
                        elements,
                        element_type_oid: 25,
                    })),
                )
            }),
    ]
}

/// Whether two values of one kind are the same value (floats by bits).
fn same_value(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Some(Kind::Float8(x)), Some(Kind::Float8(y))) => x.to_bits() == y.to_bits(),
        (Some(Kind::Float4(x)), Some(Kind::Float4(y))) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn texts_round_trip(texts in texts()) {
        let bytes = encode_texts(&texts);
        prop_assert!(std::str::from_utf8(&bytes).is_ok());
        prop_assert_eq!(decode_key(&bytes).unwrap(), texts.clone());
        // Deterministic: the same texts, the same bytes.
        prop_assert_eq!(encode_texts(&texts), bytes);
    }

    #[test]
    fn distinct_texts_give_distinct_keys(a in texts(), b in texts()) {
        prop_assume!(a != b);
        prop_assert_ne!(encode_texts(&a), encode_texts(&b));
    }

    #[test]
    fn only_canonical_bytes_decode(bytes in vec(any::<u8>(), 0..24)) {
        if let Ok(texts) = decode_key(&bytes) {
            prop_assert_eq!(encode_texts(&texts), bytes);
        }
    }

    #[test]
    fn near_canonical_bytes_decode_only_if_canonical(
        texts in texts(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = encode_texts(&texts);
        let i = position.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = decode_key(&bytes) {
            prop_assert_eq!(encode_texts(&decoded), bytes);
        }
    }

    #[test]
    fn canonical_text_is_injective_within_a_kind(
        (kind_a, a) in typed_values(),
        (kind_b, b) in typed_values(),
    ) {
        let text_a = canonical_text(&a).unwrap();
        prop_assert_eq!(&canonical_text(&a.clone()).unwrap(), &text_a);
        if kind_a == kind_b && !same_value(&a, &b) {
            prop_assert_ne!(text_a, canonical_text(&b).unwrap());
        }
    }

    #[test]
    fn canonical_text_is_injective_for_close_values((kind, a) in typed_values()) {
        // Neighbours differ in the last place: the hard case for injectivity.
        let b = match &a.kind {
            Some(Kind::Integer(i)) => Value::from(i.wrapping_add(1)),
            Some(Kind::Float8(f)) => Value::from(f64::from_bits(f.to_bits() ^ 1)),
            Some(Kind::Float4(f)) => Value::from(f32::from_bits(f.to_bits() ^ 1)),
            Some(Kind::Timestamptz(t)) => v(Kind::Timestamptz(Timestamp {
                micros: t.micros.wrapping_add(1),
                infinity: 0,
            })),
            Some(Kind::Interval(i)) => v(Kind::Interval(Interval {
                micros: i.micros.wrapping_add(1),
                ..*i
            })),
            _ => return Ok(()),
        };
        prop_assume!(!same_value(&a, &b));
        let _ = kind;
        prop_assert_ne!(canonical_text(&a).unwrap(), canonical_text(&b).unwrap());
    }

    #[test]
    fn no_decodable_value_makes_canonical_text_panic(bytes in vec(any::<u8>(), 0..64)) {
        // Consumers compute keys of events they did not write: arbitrary input must give
        // a text or an error, never a panic.
        use prost::Message;
        if let Ok(value) = Value::decode(bytes.as_slice()) {
            let _ = canonical_text(&value);
        }
    }

    #[test]
    fn float_texts_read_back_exactly(bits in any::<u64>(), bits4 in any::<u32>()) {
        let f = f64::from_bits(bits);
        let text = canonical_text(&Value::from(f)).unwrap().unwrap();
        let back: f64 = text.parse().unwrap();
        prop_assert!(back.to_bits() == f.to_bits() || (f.is_nan() && back.is_nan()), "{}", text);
        let g = f32::from_bits(bits4);
        let text = canonical_text(&Value::from(g)).unwrap().unwrap();
        let back: f32 = text.parse().unwrap();
        prop_assert!(back.to_bits() == g.to_bits() || (g.is_nan() && back.is_nan()), "{}", text);
    }
}
