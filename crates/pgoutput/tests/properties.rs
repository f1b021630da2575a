//! Property tests: encode-then-decode round trips of generated messages of every kind and
//! protocol version, whole generated sessions with streamed blocks, and robustness of the
//! decoder on arbitrary and mutated bytes.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sluice_pgoutput::{
    AbortInfo, Begin, BeginPrepare, Column, ColumnValue, Commit, CommitPrepared, Decoder, Delete,
    Insert, LogicalDecodingMessage, LogicalMessage, Lsn, OldTuple, Origin, PgTimestamp, Prepare,
    Relation, ReplicaIdentity, ReplicationMessage, RollbackPrepared, StreamAbort, StreamCommit,
    StreamStart, Truncate, TruncateOptions, TupleData, Type, Update, XLogData,
};

fn lsn() -> impl Strategy<Value = Lsn> {
    any::<u64>().prop_map(Lsn)
}

fn timestamp() -> impl Strategy<Value = PgTimestamp> {
    any::<i64>().prop_map(PgTimestamp)
}

/// PostgreSQL names: any text without NUL (they travel NUL-terminated).
fn name() -> impl Strategy<Value = String> {
    "[^\x00]{0,12}"
}

fn raw_bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// A column as (kind byte, value bytes): `ColumnValue` borrows, so it is built in `tuple`.
fn column() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (prop::sample::select(&b"nutb"[..]), vec(any::<u8>(), 0..24))
}

fn tuple() -> impl Strategy<Value = TupleData> {
    vec(column(), 0..8).prop_map(|columns| {
        TupleData::from_columns(columns.iter().map(|(kind, bytes)| match kind {
            b'n' => ColumnValue::Null,
            b'u' => ColumnValue::UnchangedToast,
            b't' => ColumnValue::Text(bytes),
            _ => ColumnValue::Binary(bytes),
        }))
    })
}

fn old_tuple() -> impl Strategy<Value = OldTuple> {
    prop_oneof![
        tuple().prop_map(OldTuple::Key),
        tuple().prop_map(OldTuple::Full)
    ]
}

fn replica_identity() -> impl Strategy<Value = ReplicaIdentity> {
    prop_oneof![
        Just(ReplicaIdentity::Default),
        Just(ReplicaIdentity::Nothing),
        Just(ReplicaIdentity::Full),
        Just(ReplicaIdentity::Index),
    ]
}

fn relation_column() -> impl Strategy<Value = Column> {
    (any::<u8>(), name(), any::<u32>(), any::<i32>()).prop_map(
        |(flags, name, type_oid, type_modifier)| Column {
            flags,
            name,
            type_oid,
            type_modifier,
        },
    )
}

/// The xid prefix of change messages: present exactly inside streamed blocks.
fn stream_xid(in_stream: bool) -> BoxedStrategy<Option<u32>> {
    if in_stream {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

/// Messages that may appear both inside and outside streamed blocks.
fn change_message(in_stream: bool) -> BoxedStrategy<LogicalMessage> {
    let xid = move || stream_xid(in_stream);
    prop_oneof![
        (
            xid(),
            any::<u32>(),
            name(),
            name(),
            replica_identity(),
            vec(relation_column(), 0..6)
        )
            .prop_map(|(xid, id, namespace, name, replica_identity, columns)| {
                LogicalMessage::Relation(Relation {
                    xid,
                    id,
                    namespace,
                    name,
                    replica_identity,
                    columns,
                })
            }),
        (xid(), any::<u32>(), name(), name()).prop_map(|(xid, oid, namespace, name)| {
            LogicalMessage::Type(Type {
                xid,
                oid,
                namespace,
                name,
            })
        }),
        (xid(), any::<u32>(), tuple()).prop_map(|(xid, relation_id, new_tuple)| {
            LogicalMessage::Insert(Insert {
                xid,
                relation_id,
                new_tuple,
            })
        }),
        (xid(), any::<u32>(), option::of(old_tuple()), tuple()).prop_map(
            |(xid, relation_id, old_tuple, new_tuple)| LogicalMessage::Update(Update {
                xid,
                relation_id,
                old_tuple,
                new_tuple
            })
        ),
        (xid(), any::<u32>(), old_tuple()).prop_map(|(xid, relation_id, old_tuple)| {
            LogicalMessage::Delete(Delete {
                xid,
                relation_id,
                old_tuple,
            })
        }),
        (xid(), any::<u8>(), vec(any::<u32>(), 0..6)).prop_map(|(xid, options, relation_ids)| {
            LogicalMessage::Truncate(Truncate {
                xid,
                options: TruncateOptions(options),
                relation_ids,
            })
        }),
        (xid(), any::<u8>(), lsn(), name(), raw_bytes()).prop_map(
            |(xid, flags, lsn, prefix, content)| {
                LogicalMessage::Message(LogicalDecodingMessage {
                    xid,
                    flags,
                    lsn,
                    prefix,
                    content,
                })
            }
        ),
        (lsn(), name())
            .prop_map(|(origin_lsn, name)| LogicalMessage::Origin(Origin { origin_lsn, name })),
    ]
    .boxed()
}

fn prepare() -> impl Strategy<Value = Prepare> {
    (any::<u8>(), lsn(), lsn(), timestamp(), any::<u32>(), name()).prop_map(
        |(flags, prepare_lsn, end_lsn, prepare_time, xid, gid)| Prepare {
            flags,
            prepare_lsn,
            end_lsn,
            prepare_time,
            xid,
            gid,
        },
    )
}

/// Messages that only appear outside streamed blocks, per protocol version.
fn transaction_message(version: u32) -> BoxedStrategy<LogicalMessage> {
    let mut kinds: Vec<BoxedStrategy<LogicalMessage>> = vec![
        (lsn(), timestamp(), any::<u32>())
            .prop_map(|(final_lsn, commit_time, xid)| {
                LogicalMessage::Begin(Begin {
                    final_lsn,
                    commit_time,
                    xid,
                })
            })
            .boxed(),
        (any::<u8>(), lsn(), lsn(), timestamp())
            .prop_map(|(flags, commit_lsn, end_lsn, commit_time)| {
                LogicalMessage::Commit(Commit {
                    flags,
                    commit_lsn,
                    end_lsn,
                    commit_time,
                })
            })
            .boxed(),
    ];
    if version >= 2 {
        let abort_info = if version >= 4 {
            option::of(
                (lsn(), timestamp()).prop_map(|(abort_lsn, abort_time)| AbortInfo {
                    abort_lsn,
                    abort_time,
                }),
            )
            .boxed()
        } else {
            Just(None).boxed()
        };
        kinds.push(
            (any::<u32>(), any::<bool>())
                .prop_map(|(xid, first_segment)| {
                    LogicalMessage::StreamStart(StreamStart { xid, first_segment })
                })
                .boxed(),
        );
        kinds.push(
            (any::<u32>(), any::<u8>(), lsn(), lsn(), timestamp())
                .prop_map(|(xid, flags, commit_lsn, end_lsn, commit_time)| {
                    LogicalMessage::StreamCommit(StreamCommit {
                        xid,
                        flags,
                        commit_lsn,
                        end_lsn,
                        commit_time,
                    })
                })
                .boxed(),
        );
        kinds.push(
            (any::<u32>(), any::<u32>(), abort_info)
                .prop_map(|(xid, subtransaction_xid, abort_info)| {
                    LogicalMessage::StreamAbort(StreamAbort {
                        xid,
                        subtransaction_xid,
                        abort_info,
                    })
                })
                .boxed(),
        );
    }
    if version >= 3 {
        kinds.push(
            (lsn(), lsn(), timestamp(), any::<u32>(), name())
                .prop_map(|(prepare_lsn, end_lsn, prepare_time, xid, gid)| {
                    LogicalMessage::BeginPrepare(BeginPrepare {
                        prepare_lsn,
                        end_lsn,
                        prepare_time,
                        xid,
                        gid,
                    })
                })
                .boxed(),
        );
        kinds.push(prepare().prop_map(LogicalMessage::Prepare).boxed());
        kinds.push(prepare().prop_map(LogicalMessage::StreamPrepare).boxed());
        kinds.push(
            (any::<u8>(), lsn(), lsn(), timestamp(), any::<u32>(), name())
                .prop_map(|(flags, commit_lsn, end_lsn, commit_time, xid, gid)| {
                    LogicalMessage::CommitPrepared(CommitPrepared {
                        flags,
                        commit_lsn,
                        end_lsn,
                        commit_time,
                        xid,
                        gid,
                    })
                })
                .boxed(),
        );
        kinds.push(
            (
                any::<u8>(),
                lsn(),
                lsn(),
                timestamp(),
                timestamp(),
                any::<u32>(),
                name(),
            )
                .prop_map(
                    |(
                        flags,
                        prepare_end_lsn,
                        rollback_end_lsn,
                        prepare_time,
                        rollback_time,
                        xid,
                        gid,
                    )| {
                        LogicalMessage::RollbackPrepared(RollbackPrepared {
                            flags,
                            prepare_end_lsn,
                            rollback_end_lsn,
                            prepare_time,
                            rollback_time,
                            xid,
                            gid,
                        })
                    },
                )
                .boxed(),
        );
    }
    proptest::strategy::Union::new(kinds).boxed()
}

/// (protocol version, whether inside a streamed block, a message valid there).
fn message_in_context() -> impl Strategy<Value = (u32, bool, LogicalMessage)> {
    (1u32..=4, any::<bool>()).prop_flat_map(|(version, want_stream)| {
        let in_stream = want_stream && version >= 2;
        let message = if in_stream {
            prop_oneof![4 => change_message(true), 1 => Just(LogicalMessage::StreamStop)].boxed()
        } else {
            prop_oneof![change_message(false), transaction_message(version)].boxed()
        };
        (Just(version), Just(in_stream), message)
    })
}

/// A decoder of `version`, inside a streamed block if `in_stream`.
fn decoder_in(version: u32, in_stream: bool) -> Decoder {
    let mut decoder = Decoder::new(version).expect("version");
    if in_stream {
        let start = LogicalMessage::StreamStart(StreamStart {
            xid: 1,
            first_segment: true,
        });
        decoder.decode(&start.encode()).expect("stream start");
    }
    decoder
}

/// A plausible session: plain messages and streamed blocks, in a protocol version.
fn session() -> impl Strategy<Value = (u32, Vec<LogicalMessage>)> {
    (1u32..=4).prop_flat_map(|version| {
        let plain = prop_oneof![change_message(false), transaction_message(version)]
            .prop_filter("StreamStart opens a block", |m| {
                !matches!(m, LogicalMessage::StreamStart(_))
            })
            .prop_map(|m| vec![m]);
        let part = if version >= 2 {
            let block = (any::<u32>(), any::<bool>(), vec(change_message(true), 0..5)).prop_map(
                |(xid, first_segment, changes)| {
                    let mut block = vec![LogicalMessage::StreamStart(StreamStart {
                        xid,
                        first_segment,
                    })];
                    block.extend(changes);
                    block.push(LogicalMessage::StreamStop);
                    block
                },
            );
            prop_oneof![plain, block].boxed()
        } else {
            plain.boxed()
        };
        (
            Just(version),
            vec(part, 0..8).prop_map(|parts| parts.concat()),
        )
    })
}

/// 2000 cases per property by default; `PROPTEST_CASES=N` for longer runs.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_message_round_trips((version, in_stream, message) in message_in_context()) {
        let mut decoder = decoder_in(version, in_stream);
        let encoded = message.encode();
        let decoded = decoder.decode(&encoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &message);
        prop_assert_eq!(decoded.encode(), encoded);
        let expect_in_stream = in_stream && !matches!(message, LogicalMessage::StreamStop)
            || matches!(message, LogicalMessage::StreamStart(_));
        prop_assert_eq!(decoder.streaming_xid().is_some(), expect_in_stream);
    }

    #[test]
    fn sessions_round_trip_through_framing((version, messages) in session()) {
        let mut decoder = Decoder::new(version).expect("version");
        for (index, message) in messages.iter().enumerate() {
            let frame = ReplicationMessage::XLogData(XLogData {
                wal_start: Lsn(index as u64),
                wal_end: Lsn(index as u64),
                server_clock: PgTimestamp(0),
                data: message.encode(),
            })
            .encode();
            let ReplicationMessage::XLogData(xlog) = ReplicationMessage::parse(frame).expect("frame") else {
                return Err(TestCaseError::fail("not XLogData"));
            };
            let decoded = decoder.decode(&xlog.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&decoded, message);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(version in 1u32..=4, in_stream in any::<bool>(), bytes in vec(any::<u8>(), 0..64)) {
        let mut decoder = decoder_in(version, in_stream && version >= 2);
        let before = decoder.clone();
        let input = Bytes::from(bytes);
        match decoder.decode(&input) {
            // What the strict decoder accepts, it re-encodes identically (or, for the
            // Stream Start flag, canonically).
            Ok(message) => {
                let mut again = before.clone();
                prop_assert_eq!(again.decode(&message.encode()), Ok(message));
            }
            Err(_) => prop_assert_eq!(decoder, before),
        }
        let _ = ReplicationMessage::parse(input);
    }

    #[test]
    fn mutated_messages_never_panic(
        (version, in_stream, message) in message_in_context(),
        mutations in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = message.encode().to_vec();
        for (position, value) in mutations {
            let index = position.index(bytes.len());
            bytes[index] = value;
        }
        let cut = cut.index(bytes.len() + 1);
        for input in [Bytes::from(bytes.clone()), Bytes::copy_from_slice(&bytes[..cut])] {
            let mut decoder = decoder_in(version, in_stream);
            let _ = decoder.decode(&input);
        }
    }
}
