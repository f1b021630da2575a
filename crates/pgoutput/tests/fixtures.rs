//! Decodes the messages captured from a real PostgreSQL 15 (see `tests/fixtures/README.md`)
//! and checks them against what the capture script's SQL did. The checks over every fixture at
//! the end (framing, re-encoding, truncation) also cover the PostgreSQL 16 protocol 4 captures,
//! whose own checks are in `protocol_4.rs`.

use crate::common::{ALL_FIXTURES, decode_all, load, tags};
use bytes::Bytes;
use sluice_pgoutput::{
    ColumnValue, DecodeError, Decoder, LogicalMessage, Lsn, MessageKind, OldTuple, Relation,
    RelationCache, ReplicaIdentity, ReplicationMessage, StreamAbort, TruncateOptions, TupleData,
    XLogData,
};

fn text(value: &str) -> ColumnValue<'_> {
    ColumnValue::Text(value.as_bytes())
}

fn column_names(relation: &Relation) -> Vec<&str> {
    relation.columns.iter().map(|c| c.name.as_str()).collect()
}

fn key_names(relation: &Relation) -> Vec<&str> {
    relation.key_columns().map(|c| c.name.as_str()).collect()
}

/// Replays the messages into a cache, checking every change against its relation, and
/// returns the cache plus, for each message, the name of the relation it touched.
fn replay(messages: &[LogicalMessage]) -> (RelationCache, Vec<Option<String>>) {
    let mut cache = RelationCache::new();
    let mut touched = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        cache.apply(message);
        let relation = cache
            .check_change(message)
            .unwrap_or_else(|e| panic!("message {index}: {e}"));
        touched.push(relation.map(|r| format!("{}.{}", r.namespace, r.name)));
    }
    (cache, touched)
}

fn relation_named<'a>(cache: &'a RelationCache, name: &str) -> &'a Relation {
    cache
        .relations()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no relation {name}"))
}

const BASIC_TAGS: &str = "BYRIICBUCBUCBDCBRIIUDCBRIUUDCBRICBIMCMBRIICBRIICBRRTCBRRTCBRTCBYRICBOIC";

#[test]
fn basic_fixture_has_the_same_messages_in_protocols_1_to_3() {
    let v1 = decode_all("basic_v1.hex", 1);
    assert_eq!(tags(&v1), BASIC_TAGS);
    assert_eq!(decode_all("basic_v2.hex", 2), v1);
    assert_eq!(decode_all("basic_v3.hex", 3), v1);
    // Protocol 1 messages decode the same with a newer decoder: nothing streamed, no xid.
    assert_eq!(decode_all("basic_v1.hex", 4), v1);
}

#[test]
fn basic_fixture_transactions_are_consistent() {
    let raw = load("basic_v1.hex");
    let messages = decode_all("basic_v1.hex", 1);
    let mut open_begin = None;
    for (message, row) in messages.iter().zip(&raw) {
        match message {
            LogicalMessage::Begin(begin) => {
                assert!(open_begin.is_none(), "nested Begin");
                assert_eq!(begin.xid, row.xid, "Begin xid is the transaction's");
                open_begin = Some(*begin);
            }
            LogicalMessage::Commit(commit) => {
                let begin = open_begin.take().expect("Commit without Begin");
                assert_eq!(commit.flags, 0);
                assert_eq!(commit.commit_lsn, begin.final_lsn);
                assert!(commit.end_lsn > commit.commit_lsn);
                assert_eq!(commit.commit_time, begin.commit_time);
            }
            LogicalMessage::Message(m) if !m.is_transactional() => {
                assert!(
                    open_begin.is_none(),
                    "non-transactional message outside transactions"
                );
                assert_eq!(row.xid, 0);
            }
            other => {
                assert!(
                    open_begin.is_some(),
                    "{:?} outside a transaction",
                    other.kind()
                );
                assert_eq!(other.stream_xid(), None, "no xid outside streamed blocks");
            }
        }
    }
    assert!(open_begin.is_none());
}

#[test]
fn basic_fixture_relations_and_types() {
    let messages = decode_all("basic_v1.hex", 1);
    let (cache, _) = replay(&messages);

    let items = relation_named(&cache, "items");
    assert_eq!(items.namespace, "fx");
    assert_eq!(items.replica_identity, ReplicaIdentity::Default);
    // The last Relation message (after ALTER TABLE ... ADD COLUMN) replaced the first.
    assert_eq!(
        column_names(items),
        [
            "id",
            "name",
            "price",
            "mood",
            "tags",
            "notes",
            "updated_at",
            "rating"
        ]
    );
    assert_eq!(key_names(items), ["id"]);
    let price = &items.columns[2];
    assert_eq!(
        (price.type_oid, price.type_modifier),
        (1700, (10 << 16 | 2) + 4),
        "numeric(10,2)"
    );
    assert_eq!(items.columns[1].type_modifier, -1);
    let mood = &items.columns[3];
    assert_eq!(cache.type_name(mood.type_oid).as_deref(), Some("fx.mood"));
    assert_eq!(
        cache.type_name(items.columns[0].type_oid),
        None,
        "built-in types are not announced"
    );

    let first_items = messages
        .iter()
        .find_map(|m| match m {
            LogicalMessage::Relation(r) if r.name == "items" => Some(r),
            _ => None,
        })
        .expect("items relation");
    assert_eq!(first_items.columns.len(), 7, "before ALTER TABLE");
    assert_eq!(
        first_items.id, items.id,
        "same relation id after ALTER TABLE"
    );

    let full = relation_named(&cache, "full_ident");
    assert_eq!(full.replica_identity, ReplicaIdentity::Full);
    assert_eq!(
        key_names(full),
        ["id", "label"],
        "FULL flags every column as key"
    );

    let by_index = relation_named(&cache, "by_index");
    assert_eq!(by_index.replica_identity, ReplicaIdentity::Index);
    assert_eq!(key_names(by_index), ["a", "b"]);

    let append_only = relation_named(&cache, "append_only");
    assert_eq!(append_only.replica_identity, ReplicaIdentity::Nothing);
    assert!(key_names(append_only).is_empty());
}

#[test]
fn basic_fixture_changes() {
    let messages = decode_all("basic_v1.hex", 1);
    let (_, touched) = replay(&messages);
    let changes: Vec<(&str, &LogicalMessage)> = messages
        .iter()
        .zip(&touched)
        .filter_map(|(m, t)| t.as_deref().map(|t| (t, m)))
        .collect();

    // INSERT of two items, the first with a 2560-byte TOASTable note.
    let LogicalMessage::Insert(insert) = changes[0].1 else {
        panic!("insert")
    };
    assert_eq!(changes[0].0, "fx.items");
    assert_eq!(insert.new_tuple.get(0), Some(text("1")));
    assert_eq!(insert.new_tuple.get(3), Some(text("happy")));
    assert_eq!(insert.new_tuple.get(4), Some(text("{a,b}")));
    assert_eq!(
        insert
            .new_tuple
            .get(5)
            .and_then(|v| v.bytes())
            .map(<[u8]>::len),
        Some(2560)
    );
    let LogicalMessage::Insert(insert) = changes[1].1 else {
        panic!("insert")
    };
    assert_eq!(insert.new_tuple.get(2), Some(ColumnValue::Null));

    // UPDATE price: key unchanged, so no old tuple, and the TOASTed note is not resent.
    let LogicalMessage::Update(update) = changes[2].1 else {
        panic!("update")
    };
    assert_eq!(update.old_tuple, None);
    assert_eq!(update.new_tuple.get(2), Some(text("10.50")));
    assert_eq!(update.new_tuple.get(5), Some(ColumnValue::UnchangedToast));

    // UPDATE of the primary key: old key tuple with the key only, the rest as nulls.
    let LogicalMessage::Update(update) = changes[3].1 else {
        panic!("update")
    };
    let mut old_key = vec![ColumnValue::Null; 7];
    old_key[0] = text("2");
    assert_eq!(
        update.old_tuple,
        Some(OldTuple::Key(TupleData::from_columns(old_key)))
    );
    assert_eq!(update.new_tuple.get(0), Some(text("10")));

    let LogicalMessage::Delete(delete) = changes[4].1 else {
        panic!("delete")
    };
    assert!(matches!(&delete.old_tuple, OldTuple::Key(t) if t.get(0) == Some(text("10"))));

    // REPLICA IDENTITY FULL: whole old rows, marked 'O'.
    let full: Vec<_> = changes
        .iter()
        .filter(|(t, _)| *t == "fx.full_ident")
        .map(|(_, m)| *m)
        .collect();
    let LogicalMessage::Update(update) = full[2] else {
        panic!("update")
    };
    assert_eq!(
        update.old_tuple,
        Some(OldTuple::Full(TupleData::from_columns([
            text("1"),
            text("one")
        ])))
    );
    assert_eq!(
        update.new_tuple,
        TupleData::from_columns([text("1"), text("uno")])
    );
    let LogicalMessage::Delete(delete) = full[3] else {
        panic!("delete")
    };
    assert_eq!(
        delete.old_tuple,
        OldTuple::Full(TupleData::from_columns([text("2"), text("two")]))
    );

    // REPLICA IDENTITY USING INDEX (a, b): old key only when a key column changes.
    let by_index: Vec<_> = changes
        .iter()
        .filter(|(t, _)| *t == "fx.by_index")
        .map(|(_, m)| *m)
        .collect();
    let LogicalMessage::Update(update) = by_index[1] else {
        panic!("update")
    };
    assert_eq!(update.old_tuple, None);
    let LogicalMessage::Update(update) = by_index[2] else {
        panic!("update")
    };
    assert_eq!(
        update.old_tuple,
        Some(OldTuple::Key(TupleData::from_columns([
            text("1"),
            text("1"),
            ColumnValue::Null
        ])))
    );

    // After ALTER TABLE ADD COLUMN, tuples have the new column.
    let last_items_insert = changes
        .iter()
        .rev()
        .find_map(|(t, m)| match m {
            LogicalMessage::Insert(i) if *t == "fx.items" => Some(i),
            _ => None,
        })
        .expect("insert");
    assert_eq!(last_items_insert.new_tuple.len(), 8);
}

#[test]
fn basic_fixture_truncates() {
    let messages = decode_all("basic_v1.hex", 1);
    let (cache, _) = replay(&messages);
    let name = |id| {
        cache
            .relation(id)
            .map(|r| r.name.clone())
            .expect("known relation")
    };
    let truncates: Vec<(TruncateOptions, Vec<String>)> = messages
        .iter()
        .filter_map(|m| match m {
            LogicalMessage::Truncate(t) => {
                assert_eq!(t.xid, None);
                Some((
                    t.options,
                    t.relation_ids.iter().map(|id| name(*id)).collect(),
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(truncates.len(), 3);
    // TRUNCATE fx.parent RESTART IDENTITY CASCADE: the cascaded child is listed too.
    assert!(truncates[0].0.cascade() && truncates[0].0.restart_identity());
    assert_eq!(truncates[0].0, TruncateOptions(3));
    assert_eq!(truncates[0].1, ["parent", "child"]);
    assert_eq!(
        truncates[1],
        (
            TruncateOptions(0),
            vec!["full_ident".into(), "append_only".into()]
        )
    );
    assert!(!truncates[2].0.cascade() && truncates[2].0.restart_identity());
    assert_eq!(truncates[2].1, ["by_index"]);
}

#[test]
fn basic_fixture_logical_messages_and_origin() {
    let messages = decode_all("basic_v1.hex", 1);
    let logical: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            LogicalMessage::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(logical.len(), 2);
    assert!(logical[0].is_transactional());
    assert_eq!(
        (logical[0].prefix.as_str(), &logical[0].content[..]),
        ("sluice", &b"transactional hello"[..])
    );
    assert!(!logical[1].is_transactional());
    assert_eq!(
        (logical[1].prefix.as_str(), &logical[1].content[..]),
        ("sluice-nt", &b"\x00\xff\x10"[..])
    );
    assert!(logical[0].lsn < logical[1].lsn);

    let origin_at = messages
        .iter()
        .position(|m| matches!(m, LogicalMessage::Origin(_)))
        .expect("origin message");
    let LogicalMessage::Origin(origin) = &messages[origin_at] else {
        unreachable!()
    };
    assert_eq!(origin.name, "sluice_upstream");
    assert_eq!(origin.origin_lsn, "0/1234ABCD".parse::<Lsn>().expect("lsn"));
    assert!(
        matches!(messages[origin_at - 1], LogicalMessage::Begin(_)),
        "Origin follows Begin"
    );
}

#[test]
fn binary_fixture_carries_binary_values() {
    let text_messages = decode_all("basic_v1.hex", 1);
    let binary_messages = decode_all("basic_v1_binary.hex", 1);
    assert_eq!(tags(&binary_messages), BASIC_TAGS);
    let LogicalMessage::Insert(insert) = &binary_messages[3] else {
        panic!("insert")
    };
    assert_eq!(
        insert.new_tuple.get(0),
        Some(ColumnValue::Binary(&[0, 0, 0, 1]))
    );
    assert_eq!(
        insert.new_tuple.get(1),
        Some(ColumnValue::Binary(b"widget"))
    );
    for (binary, text) in binary_messages.iter().zip(&text_messages) {
        let tuples = |m: &LogicalMessage| -> Vec<TupleData> {
            match m {
                LogicalMessage::Insert(i) => vec![i.new_tuple.clone()],
                LogicalMessage::Update(u) => u
                    .old_tuple
                    .iter()
                    .map(|o| o.tuple().clone())
                    .chain([u.new_tuple.clone()])
                    .collect(),
                LogicalMessage::Delete(d) => vec![d.old_tuple.tuple().clone()],
                _ => vec![],
            }
        };
        for (binary, text) in tuples(binary).iter().zip(tuples(text)) {
            for (b, t) in binary.iter().zip(text.iter()) {
                let expected_kind = if t.kind() == b't' { b'b' } else { t.kind() };
                assert_eq!(b.kind(), expected_kind, "text {t:?} vs binary {b:?}");
            }
        }
    }
}

const STREAM_TAGS: &str =
    "SRIIIESIIIESIIIESIIIESIIIESIIIESIIIESIIIEASRUUDMRIRTEcSRIIIESIIIESIIIESIIIEA";

#[test]
fn streamed_fixture_blocks_and_xids() {
    for (file, version) in [("stream_v2.hex", 2), ("stream_v3.hex", 3)] {
        let raw = load(file);
        let messages = decode_all(file, version);
        assert_eq!(tags(&messages), STREAM_TAGS, "{file}");

        let mut decoder = Decoder::new(version).expect("version");
        let mut seen_streams = Vec::new();
        let mut sub_row_xids = Vec::new();
        for (row, message) in raw.iter().zip(&messages) {
            let in_stream_before = decoder.streaming_xid();
            decoder.decode(&row.data).expect("decodes");
            match message {
                LogicalMessage::StreamStart(start) => {
                    // The SQL interface's xid column is the top-level xid.
                    assert_eq!(start.xid, row.xid);
                    assert_eq!(start.first_segment, !seen_streams.contains(&start.xid));
                    seen_streams.push(start.xid);
                }
                LogicalMessage::StreamStop => assert!(in_stream_before.is_some()),
                LogicalMessage::StreamCommit(_) | LogicalMessage::StreamAbort(_) => {
                    assert_eq!(in_stream_before, None);
                }
                other => {
                    let top = in_stream_before.expect("changes only inside streamed blocks");
                    assert_eq!(top, row.xid);
                    let xid = other.stream_xid().expect("streamed changes carry an xid");
                    // The xid is the subtransaction's when the change was made in one.
                    assert!(xid >= top, "xid {xid} of a subtransaction of {top}");
                    if let LogicalMessage::Insert(insert) = other
                        && insert
                            .new_tuple
                            .get(1)
                            .and_then(|v| v.as_text())
                            .is_some_and(|v| v.starts_with("sub "))
                    {
                        sub_row_xids.push(xid);
                    }
                }
            }
        }

        let aborts: Vec<&StreamAbort> = messages
            .iter()
            .filter_map(|m| match m {
                LogicalMessage::StreamAbort(a) => Some(a),
                _ => None,
            })
            .collect();
        // ROLLBACK TO SAVEPOINT of a streamed subtransaction, then ROLLBACK of a whole one.
        let (sub_abort, full_abort) = (aborts[0], aborts[1]);
        assert_ne!(sub_abort.xid, sub_abort.subtransaction_xid);
        assert_eq!(
            sub_abort.abort_info, None,
            "no abort info before protocol 4"
        );
        assert!(!sub_row_xids.is_empty());
        assert!(
            sub_row_xids
                .iter()
                .all(|&x| x == sub_abort.subtransaction_xid)
        );
        assert_eq!(full_abort.xid, full_abort.subtransaction_xid);
        assert_eq!(seen_streams.last(), Some(&full_abort.xid));

        let LogicalMessage::StreamCommit(commit) = messages
            .iter()
            .find(|m| matches!(m, LogicalMessage::StreamCommit(_)))
            .expect("commit")
        else {
            unreachable!()
        };
        assert_eq!(commit.xid, sub_abort.xid);
        assert!(commit.end_lsn > commit.commit_lsn);

        let message = messages
            .iter()
            .find_map(|m| match m {
                LogicalMessage::Message(m) => Some(m),
                _ => None,
            })
            .expect("logical message");
        assert_eq!(message.xid, Some(commit.xid));
        assert!(message.is_transactional());
        assert_eq!(message.prefix, "sluice-stream");
        assert_eq!(&message.content[..], b"inside a streamed transaction");

        let truncate = messages
            .iter()
            .find_map(|m| match m {
                LogicalMessage::Truncate(t) => Some(t),
                _ => None,
            })
            .expect("truncate");
        assert!(truncate.xid.is_some());
        assert_eq!(truncate.options, TruncateOptions(0));

        let (cache, _) = replay(&messages);
        assert_eq!(
            column_names(relation_named(&cache, "stream_rows")),
            ["id", "v"]
        );
    }
}

#[test]
fn streamed_fixture_needs_protocol_2() {
    let raw = load("stream_v2.hex");
    let mut decoder = Decoder::new(1).expect("version");
    assert_eq!(
        decoder.decode(&raw[0].data),
        Err(DecodeError::UnsupportedInProtocol {
            kind: MessageKind::StreamStart,
            required: 2,
            negotiated: 1
        })
    );
}

#[test]
fn two_phase_fixture() {
    let messages = decode_all("twophase_v3.hex", 3);
    assert_eq!(tags(&messages), "bYRIPKbIPrSRIIIESIIIESIIIESIIIESIIIEpK");

    let LogicalMessage::BeginPrepare(begin) = &messages[0] else {
        panic!("begin prepare")
    };
    let LogicalMessage::Prepare(prepare) = &messages[4] else {
        panic!("prepare")
    };
    let LogicalMessage::CommitPrepared(commit) = &messages[5] else {
        panic!("commit prepared")
    };
    assert_eq!(begin.gid, "fx-commit");
    assert_eq!(
        (prepare.gid.as_str(), prepare.xid),
        ("fx-commit", begin.xid)
    );
    assert_eq!(
        (prepare.prepare_lsn, prepare.end_lsn),
        (begin.prepare_lsn, begin.end_lsn)
    );
    assert_eq!(prepare.prepare_time, begin.prepare_time);
    assert_eq!((commit.gid.as_str(), commit.xid), ("fx-commit", begin.xid));
    assert!(commit.commit_lsn >= prepare.end_lsn);

    let LogicalMessage::Prepare(prepare) = &messages[8] else {
        panic!("prepare")
    };
    let LogicalMessage::RollbackPrepared(rollback) = &messages[9] else {
        panic!("rollback prepared")
    };
    assert_eq!(rollback.gid, "fx-rollback");
    assert_eq!(rollback.prepare_end_lsn, prepare.end_lsn);
    assert_eq!(rollback.prepare_time, prepare.prepare_time);
    assert!(rollback.rollback_end_lsn > rollback.prepare_end_lsn);
    assert!(rollback.rollback_time >= rollback.prepare_time);

    // A streamed prepared transaction: blocks, then Stream Prepare, then Commit Prepared.
    let LogicalMessage::StreamStart(start) = &messages[10] else {
        panic!("stream start")
    };
    let LogicalMessage::StreamPrepare(stream_prepare) = &messages[36] else {
        panic!("stream prepare")
    };
    let LogicalMessage::CommitPrepared(commit) = &messages[37] else {
        panic!("commit prepared")
    };
    assert_eq!(
        (stream_prepare.xid, stream_prepare.gid.as_str()),
        (start.xid, "fx-stream")
    );
    assert_eq!((commit.xid, commit.gid.as_str()), (start.xid, "fx-stream"));

    let mut decoder = Decoder::new(2).expect("version");
    assert!(matches!(
        decoder.decode(&load("twophase_v3.hex")[0].data),
        Err(DecodeError::UnsupportedInProtocol {
            kind: MessageKind::BeginPrepare,
            required: 3,
            ..
        })
    ));
}

/// Every fixture message, wrapped in XLogData as a walsender sends it, parses back.
#[test]
fn fixture_messages_survive_framing() {
    for &(file, version) in ALL_FIXTURES {
        let mut decoder = Decoder::new(version).expect("version");
        for row in load(file) {
            let frame = ReplicationMessage::XLogData(XLogData {
                wal_start: row.lsn,
                wal_end: row.lsn,
                server_clock: sluice_pgoutput::PgTimestamp(0),
                data: row.data.clone(),
            })
            .encode();
            let ReplicationMessage::XLogData(xlog) =
                ReplicationMessage::parse(frame).expect("frame")
            else {
                panic!("not XLogData");
            };
            assert_eq!(xlog.wal_start, row.lsn);
            assert_eq!(xlog.data, row.data);
            decoder.decode(&xlog.data).expect("decodes");
        }
    }
}

/// Encoding a decoded fixture message gives back the server's exact bytes.
#[test]
fn fixture_messages_re_encode_byte_for_byte() {
    for &(file, version) in ALL_FIXTURES {
        let mut decoder = Decoder::new(version).expect("version");
        for (index, row) in load(file).iter().enumerate() {
            let message = decoder.decode(&row.data).expect("decodes");
            assert_eq!(message.encode(), row.data, "{file} message {index}");
        }
    }
}

/// Every proper prefix of every fixture message fails to decode, without panicking and
/// without changing the decoder's state; so does every message with a byte appended.
///
/// One exception, by design: in protocol 4 a Stream Abort's abort LSN and time are present
/// only with `streaming = parallel`, which the bytes do not say, so the decoder infers them from
/// the length. A 25-byte abort cut to its first 9 bytes is a valid abort without them, and a
/// 9-byte abort with a byte appended is a truncated abort LSN rather than trailing bytes.
#[test]
fn truncated_and_extended_fixture_messages_are_errors() {
    const SHORT_STREAM_ABORT: usize = 9;
    for &(file, version) in ALL_FIXTURES {
        let mut decoder = Decoder::new(version).expect("version");
        for (index, row) in load(file).iter().enumerate() {
            let v4_abort = version >= 4 && row.data[0] == MessageKind::StreamAbort.tag();
            for length in 0..row.data.len() {
                let mut attempt = decoder.clone();
                let result = attempt.decode(&row.data.slice(..length));
                if v4_abort && length == SHORT_STREAM_ABORT {
                    assert!(
                        matches!(
                            result,
                            Ok(LogicalMessage::StreamAbort(StreamAbort {
                                abort_info: None,
                                ..
                            }))
                        ),
                        "{file} message {index} without its abort info: {result:?}"
                    );
                    continue;
                }
                assert!(
                    result.is_err(),
                    "{file} message {index} cut at {length} decoded: {result:?}"
                );
                assert_eq!(attempt, decoder, "a failed decode changed the state");
            }
            let mut extended = row.data.to_vec();
            extended.push(0);
            let mut attempt = decoder.clone();
            let result = attempt.decode(&Bytes::from(extended));
            if v4_abort && row.data.len() == SHORT_STREAM_ABORT {
                assert!(
                    matches!(
                        result,
                        Err(DecodeError::Truncated {
                            field: "abort LSN",
                            ..
                        })
                    ),
                    "{file} message {index} with a trailing byte: {result:?}"
                );
            } else {
                assert!(
                    matches!(result, Err(DecodeError::TrailingBytes { .. })),
                    "{file} message {index} with a trailing byte: {result:?}"
                );
            }
            assert_eq!(attempt, decoder, "a failed decode changed the state");
            decoder.decode(&row.data).expect("decodes");
        }
    }
}

/// Error messages name the kind, the field and the offset.
#[test]
fn truncation_error_of_a_real_update() {
    let messages = load("basic_v1.hex");
    let update = &messages[7].data;
    assert_eq!(update[0], b'U');
    let mut decoder = Decoder::new(1).expect("version");
    let error = decoder.decode(&update.slice(..3)).expect_err("truncated");
    assert_eq!(
        error.to_string(),
        "truncated Update message at offset 1: expected 4 bytes for relation id, 2 left"
    );
    let error = decoder.decode(&update.slice(..17)).expect_err("truncated");
    assert!(
        error
            .to_string()
            .starts_with("truncated Update message at offset 15: expected 4 bytes for text value"),
        "{error}"
    );
}
