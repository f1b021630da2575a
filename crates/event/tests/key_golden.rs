//! The Kafka key encoding, pinned to exact bytes. These must never change: a change
//! moves existing rows to other partitions. If one fails, the change is the bug.

use sluice_event::key::{
    DecodeKeyError, EMPTY_KEY, ValueTextError, canonical_text, decode_key, encode_key, encode_texts,
};
use sluice_event::v1::value::Kind;
use sluice_event::v1::{Array, ArrayDimension, Date, Key, KeyColumn, Numeric, Timestamp, Value};

use crate::values::{UUID, samples, v};

fn key(columns: Vec<(&str, Value)>) -> Key {
    Key {
        columns: columns
            .into_iter()
            .map(|(name, value)| KeyColumn {
                name: name.into(),
                value: Some(value),
            })
            .collect(),
    }
}

fn encoded(columns: Vec<(&str, Value)>) -> String {
    String::from_utf8(encode_key(&key(columns)).unwrap()).unwrap()
}

#[test]
fn single_integer() {
    assert_eq!(encoded(vec![("id", 42i64.into())]), r#"["42"]"#);
    assert_eq!(encoded(vec![("id", (-7i32).into())]), r#"["-7"]"#);
}

#[test]
fn composite_text_and_uuid() {
    assert_eq!(
        encoded(vec![
            ("tenant", "acme".into()),
            ("id", v(Kind::Uuid(UUID.to_vec())))
        ]),
        r#"["acme","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]"#
    );
}

#[test]
fn date_and_negative_integer() {
    let day = v(Kind::Date(Date {
        days: 19_782,
        infinity: 0,
    }));
    assert_eq!(
        encoded(vec![("day", day), ("n", (-1i32).into())]),
        r#"["2024-02-29","-1"]"#
    );
}

#[test]
fn json_escaping() {
    let text = "say \"hi\"\n\u{1}\u{8}\u{1f}\t\r\u{c}é\\/\u{7f}";
    assert_eq!(
        encoded(vec![("name", text.into())]).as_bytes(),
        "[\"say \\\"hi\\\"\\n\\u0001\\b\\u001f\\t\\r\\fé\\\\/\u{7f}\"]".as_bytes()
    );
}

#[test]
fn null_and_empty() {
    assert_eq!(encoded(vec![("a", Value::null())]), "[null]");
    assert_eq!(encoded(vec![("a", "".into())]), r#"[""]"#);
    assert_eq!(encoded(vec![("a", "null".into())]), r#"["null"]"#);
    assert_eq!(encoded(vec![]), "[]");
    assert_eq!(EMPTY_KEY, b"[]");
}

#[test]
fn many_kinds_in_one_key() {
    let key = vec![
        (
            "ts",
            v(Kind::Timestamptz(Timestamp {
                micros: -63_517_780_800_000_001,
                infinity: 0,
            })),
        ),
        (
            "n",
            v(Kind::Numeric(Numeric {
                decimal: "0.10".into(),
                special: 0,
            })),
        ),
        ("f", 1e-7f64.into()),
        ("r", 16_777_217f32.into()),
        ("b", true.into()),
        ("bytes", v(Kind::Bytea(vec![0xde, 0xad]))),
    ];
    assert_eq!(
        encoded(key),
        r#"["0044-03-15 11:59:59.999999+00 BC","0.10","1e-07","1.6777216e+07","t","\\xdead"]"#
    );
}

#[test]
fn every_sample_has_postgresqls_text() {
    for (value, expected) in samples() {
        match canonical_text(&value) {
            Ok(text) => assert_eq!(text.as_deref(), expected, "{value:?}"),
            Err(ValueTextError::UnchangedToast) => assert!(value.is_unchanged_toast()),
            Err(e) => panic!("{value:?}: {e}"),
        }
    }
}

#[test]
fn texts_and_values_encode_alike() {
    assert_eq!(
        encode_texts(&[Some("42"), None, Some("a\"b")]),
        br#"["42",null,"a\"b"]"#.to_vec()
    );
    assert_eq!(
        decode_key(br#"["42",null,"a\"b"]"#).unwrap(),
        vec![Some("42".to_owned()), None, Some("a\"b".to_owned())]
    );
}

#[test]
fn unencodable_keys_are_errors() {
    let err = encode_key(&key(vec![("big", Value::unchanged_toast())])).unwrap_err();
    assert_eq!(err.column, "big");
    assert_eq!(err.source, ValueTextError::UnchangedToast);
    let err = encode_key(&key(vec![("x", Value::default())])).unwrap_err();
    assert_eq!(err.source, ValueTextError::NoKind);
    let missing = Key {
        columns: vec![KeyColumn {
            name: "x".into(),
            value: None,
        }],
    };
    assert!(encode_key(&missing).is_err());
    for bad in [
        v(Kind::Uuid(vec![1, 2, 3])),
        v(Kind::Numeric(Numeric {
            decimal: "-0.00".into(),
            special: 0,
        })),
        v(Kind::Numeric(Numeric {
            decimal: "1e5".into(),
            special: 0,
        })),
        v(Kind::Numeric(Numeric {
            decimal: "007".into(),
            special: 0,
        })),
        v(Kind::Numeric(Numeric {
            decimal: "1".into(),
            special: 1,
        })),
        v(Kind::Timestamp(Timestamp {
            micros: 1,
            infinity: 1,
        })),
        v(Kind::Date(Date {
            days: 0,
            infinity: 7,
        })),
        v(Kind::Array(Array {
            dimensions: vec![
                ArrayDimension {
                    length: 1,
                    lower_bound: 1,
                };
                7
            ],
            elements: vec![Value::from(1i64)],
            element_type_oid: 20,
        })),
    ] {
        assert!(
            matches!(canonical_text(&bad), Err(ValueTextError::Malformed { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn decoding_is_strict() {
    let rejected: &[&[u8]] = &[
        b"",
        b"[",
        b"[]x",
        b"[ ]",
        b"[\"a\" ]",
        b"[\"a\",]",
        b"[1]",
        b"[[]]",
        b"[\"\\/\"]",
        b"[\"\\u0041\"]",
        b"[\"\\u001F\"]",
        b"[\"\\u000a\"]",
        b"[\"a\nb\"]",
        b"[\"\xff\"]",
        b"[nul]",
        b"[\"unterminated]",
    ];
    for bytes in rejected {
        let result: Result<_, DecodeKeyError> = decode_key(bytes);
        assert!(result.is_err(), "{:?}", String::from_utf8_lossy(bytes));
    }
}
