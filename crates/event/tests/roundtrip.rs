//! Every kind of value, and every part of an event, survives protobuf encoding.

use prost::Message;
use sluice_event::v1::value::Kind;
use sluice_event::v1::{
    ChangeEvent, Column, Heartbeat, Key, KeyChange, KeyColumn, LogicalMessage, Op, ReplicaIdentity,
    Row, SchemaChange, Source, TableRef, Truncate, change_event,
};

use crate::values::{TS_2024, kind_name, samples};

fn source() -> Source {
    Source {
        database: "shop".into(),
        schema: "public".into(),
        table: "orders".into(),
        relation_id: 16_384,
        version: 0x16_B374_D848,
        commit_lsn: 0x16_B374_D848,
        change_lsn: 0x16_B374_D000,
        xid: 771,
        commit_time_micros: TS_2024,
        position: 3,
        snapshot: false,
    }
}

fn column(name: &str, type_oid: u32, type_name: &str, key: bool) -> Column {
    Column {
        name: name.into(),
        type_oid,
        type_name: type_name.into(),
        type_schema: "pg_catalog".into(),
        type_modifier: -1,
        key,
        nullable: Some(!key),
    }
}

/// An UPDATE whose `after` row holds every sample value, one column each.
fn update_with_every_kind() -> ChangeEvent {
    let values: Vec<_> = samples().into_iter().map(|(value, _)| value).collect();
    let columns = values
        .iter()
        .enumerate()
        .map(|(i, _)| column(&format!("c{i}"), 25, "text", i == 3))
        .collect();
    ChangeEvent {
        op: Op::Update.into(),
        source: Some(source()),
        key: Some(Key {
            columns: vec![KeyColumn {
                name: "c3".into(),
                value: Some(values[3].clone()),
            }],
        }),
        before: Some(Row {
            values: values.clone(),
        }),
        after: Some(Row { values }),
        columns,
        replica_identity: ReplicaIdentity::Full.into(),
        key_change: None,
        payload: None,
    }
}

/// Encodes, decodes, and checks the result is equal; NaN is not equal to itself, so
/// equality is checked on the re-encoded bytes too.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(message: &M) -> M {
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.encode_to_vec(), bytes);
    decoded
}

#[test]
fn every_value_kind_round_trips() {
    let event = update_with_every_kind();
    let decoded = round_trip(&event);
    let after = &decoded.after.as_ref().unwrap().values;
    for ((sample, _), got) in samples().iter().zip(after) {
        match (&sample.kind, &got.kind) {
            (Some(Kind::Float8(a)), Some(Kind::Float8(b))) => {
                assert_eq!(a.to_bits(), b.to_bits());
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}

#[test]
fn samples_cover_every_kind_in_the_schema() {
    use std::collections::BTreeSet;
    let covered: BTreeSet<&str> = samples()
        .iter()
        .map(|(value, _)| kind_name(value.kind.as_ref().unwrap()))
        .collect();
    let declared: BTreeSet<String> = crate::contract::value_kinds().into_iter().collect();
    let covered: BTreeSet<String> = covered.into_iter().map(str::to_owned).collect();
    assert_eq!(covered, declared);
}

#[test]
fn null_and_unchanged_toast_are_distinct_from_each_other_and_from_empty() {
    use sluice_event::v1::Value;
    let null = round_trip(&Value::null());
    let unchanged = round_trip(&Value::unchanged_toast());
    let empty_text = round_trip(&Value::from(""));
    assert!(null.is_null() && !null.is_unchanged_toast());
    assert!(unchanged.is_unchanged_toast() && !unchanged.is_null());
    assert!(!empty_text.is_null() && !empty_text.is_unchanged_toast());
    // A Value with no kind (a kind newer than this reader) is none of them.
    let unknown = Value::default();
    assert!(!unknown.is_null() && !unknown.is_unchanged_toast());
    assert_ne!(null, unchanged);
}

#[test]
fn an_unknown_kind_decodes_as_no_kind() {
    use sluice_event::v1::Value;
    // Field 999 of Value, varint 1: what a kind added later looks like to this reader.
    let bytes = [0xb8, 0x3e, 0x01];
    let value = Value::decode(bytes.as_slice()).unwrap();
    assert_eq!(value.kind, None);
    assert!(sluice_event::key::canonical_text(&value).is_err());
}

#[test]
fn op_specific_payloads_round_trip() {
    let truncate = ChangeEvent {
        op: Op::Truncate.into(),
        source: Some(source()),
        columns: vec![column("id", 20, "int8", true)],
        payload: Some(change_event::Payload::Truncate(Truncate {
            cascade: true,
            restart_identity: true,
            tables: vec![TableRef {
                schema: "public".into(),
                table: "orders".into(),
                relation_id: 16_384,
            }],
        })),
        ..ChangeEvent::default()
    };
    round_trip(&truncate);

    let message = ChangeEvent {
        op: Op::Message.into(),
        source: Some(Source {
            commit_lsn: 0,
            xid: 0,
            commit_time_micros: 0,
            schema: String::new(),
            table: String::new(),
            relation_id: 0,
            ..source()
        }),
        payload: Some(change_event::Payload::Message(LogicalMessage {
            transactional: false,
            prefix: "app.audit".into(),
            content: vec![0, 1, 2, 0xff],
        })),
        ..ChangeEvent::default()
    };
    assert_eq!(round_trip(&message), message);

    let schema_change = ChangeEvent {
        op: Op::SchemaChange.into(),
        source: Some(source()),
        columns: vec![
            column("id", 20, "int8", true),
            column("note", 25, "text", false),
        ],
        replica_identity: ReplicaIdentity::Default.into(),
        payload: Some(change_event::Payload::SchemaChange(SchemaChange {
            previous_columns: vec![column("id", 20, "int8", true)],
            previous_replica_identity: ReplicaIdentity::Default.into(),
        })),
        ..ChangeEvent::default()
    };
    assert_eq!(round_trip(&schema_change), schema_change);

    let old_key = Key {
        columns: vec![KeyColumn {
            name: "id".into(),
            value: Some(1i64.into()),
        }],
    };
    let new_key = Key {
        columns: vec![KeyColumn {
            name: "id".into(),
            value: Some(2i64.into()),
        }],
    };
    let moved = ChangeEvent {
        op: Op::Delete.into(),
        source: Some(source()),
        key: Some(old_key.clone()),
        key_change: Some(KeyChange {
            old_key: Some(old_key),
            new_key: Some(new_key),
        }),
        ..ChangeEvent::default()
    };
    assert_eq!(round_trip(&moved), moved);

    let heartbeat = Heartbeat {
        database: "shop".into(),
        slot: "sluice".into(),
        lsn: 0x16_B374_D848,
        confirmed_lsn: 0x16_B374_D000,
        server_time_micros: TS_2024,
    };
    assert_eq!(round_trip(&heartbeat), heartbeat);
}

#[test]
fn version_is_the_source_version_and_never_zero() {
    let event = update_with_every_kind();
    assert_eq!(event.version(), Some(0x16_B374_D848));
    assert_eq!(ChangeEvent::default().version(), None);
    let zero = ChangeEvent {
        source: Some(Source {
            version: 0,
            ..source()
        }),
        ..ChangeEvent::default()
    };
    assert_eq!(zero.version(), None);
}

#[test]
fn kafka_key_of_an_event() {
    let event = update_with_every_kind();
    // Column c3 is the key: the integer i64::MIN.
    assert_eq!(
        event.kafka_key().unwrap(),
        br#"["-9223372036854775808"]"#.to_vec()
    );
    assert_eq!(
        ChangeEvent::default().kafka_key().unwrap(),
        sluice_event::key::EMPTY_KEY
    );
}
