//! The stateful pgoutput [`Decoder`].
//!
//! pgoutput's messages are not self-describing: the same tag has different layouts depending
//! on context the bytes do not carry.
//!
//! * Inside a streamed block (Stream Start .. Stream Stop, protocol 2+), Relation, Type,
//!   Insert, Update, Delete, Truncate and Message begin with an extra xid.
//! * Protocol 4 appends the abort LSN and time to Stream Abort (when streaming is `parallel`).
//!
//! So the decoder is a small state machine holding the negotiated protocol version and
//! whether it is inside a streamed block. It also refuses messages the negotiated version
//! cannot send and messages that cannot appear where they did (a Begin inside a streamed
//! block, a Stream Stop outside one): with a context-dependent layout, decoding them anyway
//! would silently misread fields. A failed decode leaves the state unchanged.

use bytes::Bytes;

use crate::error::{DecodeError, MessageKind};
use crate::message::{
    AbortInfo, Begin, BeginPrepare, Column, Commit, CommitPrepared, Delete, Insert,
    LogicalDecodingMessage, LogicalMessage, OldTuple, Origin, Prepare, Relation, ReplicaIdentity,
    RollbackPrepared, StreamAbort, StreamCommit, StreamStart, Truncate, TruncateOptions, Type,
    Update, Xid,
};
use crate::reader::Reader;
use crate::tuple::TupleData;

/// Decodes the pgoutput messages of one replication connection, in order.
///
/// ```
/// use bytes::Bytes;
/// use sluice_pgoutput::{Decoder, LogicalMessage};
///
/// let mut decoder = Decoder::new(2)?;
/// // Stream Start of xid 770, first segment: the following changes carry an xid.
/// let start = Bytes::from_static(b"S\x00\x00\x03\x02\x01");
/// assert!(matches!(decoder.decode(&start)?, LogicalMessage::StreamStart(_)));
/// assert_eq!(decoder.streaming_xid(), Some(770));
/// # Ok::<(), sluice_pgoutput::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoder {
    protocol_version: u32,
    streaming_xid: Option<Xid>,
}

impl Decoder {
    /// Oldest protocol version supported (PostgreSQL 10+).
    pub const MIN_PROTOCOL_VERSION: u32 = 1;
    /// Newest protocol version supported (PostgreSQL 16+).
    pub const MAX_PROTOCOL_VERSION: u32 = 4;

    /// A decoder for the `proto_version` passed to `START_REPLICATION` (1 to 4).
    pub fn new(protocol_version: u32) -> Result<Self, DecodeError> {
        if !(Self::MIN_PROTOCOL_VERSION..=Self::MAX_PROTOCOL_VERSION).contains(&protocol_version) {
            return Err(DecodeError::UnsupportedProtocolVersion(protocol_version));
        }
        Ok(Decoder {
            protocol_version,
            streaming_xid: None,
        })
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> u32 {
        self.protocol_version
    }

    /// The top-level xid of the streamed block being decoded, between Stream Start and Stream
    /// Stop; `None` outside.
    pub fn streaming_xid(&self) -> Option<Xid> {
        self.streaming_xid
    }

    /// Forgets the streamed-block state, e.g. after reconnecting (a new walsender never
    /// resumes in the middle of a block).
    pub fn reset(&mut self) {
        self.streaming_xid = None;
    }

    /// Decodes one pgoutput message: the data of one XLogData, or one `data` value of
    /// `pg_logical_slot_get_binary_changes`.
    ///
    /// The values of the returned message are slices of `message` (no copy).
    pub fn decode(&mut self, message: &Bytes) -> Result<LogicalMessage, DecodeError> {
        let Some(&tag) = message.first() else {
            return Err(DecodeError::Empty {
                what: "pgoutput message",
            });
        };
        let kind =
            MessageKind::from_pgoutput_tag(tag).ok_or(DecodeError::UnknownMessageTag { tag })?;
        self.check_allowed(kind)?;

        let mut reader = Reader::new(message, 1, kind);
        let decoded = self.decode_body(kind, &mut reader)?;
        reader.finish()?;

        match &decoded {
            LogicalMessage::StreamStart(start) => self.streaming_xid = Some(start.xid),
            LogicalMessage::StreamStop => self.streaming_xid = None,
            _ => {}
        }
        Ok(decoded)
    }

    fn check_allowed(&self, kind: MessageKind) -> Result<(), DecodeError> {
        let required = kind.introduced_in_protocol();
        if required > self.protocol_version {
            return Err(DecodeError::UnsupportedInProtocol {
                kind,
                required,
                negotiated: self.protocol_version,
            });
        }
        let in_stream = self.streaming_xid.is_some();
        let allowed = if in_stream {
            // pgoutput sends Origin right after Stream Start for a transaction replayed from
            // another origin (with an invalid LSN); the rest are the changes of the block.
            matches!(
                kind,
                MessageKind::Relation
                    | MessageKind::Type
                    | MessageKind::Insert
                    | MessageKind::Update
                    | MessageKind::Delete
                    | MessageKind::Truncate
                    | MessageKind::Message
                    | MessageKind::Origin
                    | MessageKind::StreamStop
            )
        } else {
            kind != MessageKind::StreamStop
        };
        if allowed {
            Ok(())
        } else {
            Err(DecodeError::UnexpectedStreamState { kind, in_stream })
        }
    }

    /// The xid that prefixes change messages inside a streamed block.
    fn stream_xid(&self, reader: &mut Reader<'_>) -> Result<Option<Xid>, DecodeError> {
        match self.streaming_xid {
            Some(_) => reader.u32("streamed transaction xid").map(Some),
            None => Ok(None),
        }
    }

    fn decode_body(
        &self,
        kind: MessageKind,
        reader: &mut Reader<'_>,
    ) -> Result<LogicalMessage, DecodeError> {
        Ok(match kind {
            MessageKind::Begin => LogicalMessage::Begin(Begin {
                final_lsn: reader.lsn("final LSN")?,
                commit_time: reader.timestamp("commit timestamp")?,
                xid: reader.u32("xid")?,
            }),
            MessageKind::Commit => LogicalMessage::Commit(Commit {
                flags: reader.u8("flags")?,
                commit_lsn: reader.lsn("commit LSN")?,
                end_lsn: reader.lsn("end LSN")?,
                commit_time: reader.timestamp("commit timestamp")?,
            }),
            MessageKind::Origin => LogicalMessage::Origin(Origin {
                origin_lsn: reader.lsn("origin commit LSN")?,
                name: reader.string("origin name")?,
            }),
            MessageKind::Relation => LogicalMessage::Relation(self.decode_relation(reader)?),
            MessageKind::Type => LogicalMessage::Type(Type {
                xid: self.stream_xid(reader)?,
                oid: reader.u32("type OID")?,
                namespace: reader.string("namespace")?,
                name: reader.string("type name")?,
            }),
            MessageKind::Insert => {
                let xid = self.stream_xid(reader)?;
                let relation_id = reader.u32("relation id")?;
                expect_marker(reader, b"N", "'N'")?;
                LogicalMessage::Insert(Insert {
                    xid,
                    relation_id,
                    new_tuple: TupleData::decode(reader)?,
                })
            }
            MessageKind::Update => {
                let xid = self.stream_xid(reader)?;
                let relation_id = reader.u32("relation id")?;
                let old_tuple = match expect_marker(reader, b"KON", "'K', 'O' or 'N'")? {
                    b'K' => Some(OldTuple::Key(TupleData::decode(reader)?)),
                    b'O' => Some(OldTuple::Full(TupleData::decode(reader)?)),
                    _ => None,
                };
                if old_tuple.is_some() {
                    expect_marker(reader, b"N", "'N' after the old tuple")?;
                }
                LogicalMessage::Update(Update {
                    xid,
                    relation_id,
                    old_tuple,
                    new_tuple: TupleData::decode(reader)?,
                })
            }
            MessageKind::Delete => {
                let xid = self.stream_xid(reader)?;
                let relation_id = reader.u32("relation id")?;
                let old_tuple = match expect_marker(reader, b"KO", "'K' or 'O'")? {
                    b'K' => OldTuple::Key(TupleData::decode(reader)?),
                    _ => OldTuple::Full(TupleData::decode(reader)?),
                };
                LogicalMessage::Delete(Delete {
                    xid,
                    relation_id,
                    old_tuple,
                })
            }
            MessageKind::Truncate => {
                let xid = self.stream_xid(reader)?;
                let count_offset = reader.position();
                let count = reader.i32("relation count")?;
                let count = usize::try_from(count).map_err(|_| DecodeError::NegativeLength {
                    kind,
                    offset: count_offset,
                    field: "relation count",
                    length: count,
                })?;
                let options = TruncateOptions(reader.u8("truncate options")?);
                reader.checked_count(count, count_offset, 4, "relation ids")?;
                let mut relation_ids = Vec::with_capacity(count);
                for _ in 0..count {
                    relation_ids.push(reader.u32("relation id")?);
                }
                LogicalMessage::Truncate(Truncate {
                    xid,
                    options,
                    relation_ids,
                })
            }
            MessageKind::Message => LogicalMessage::Message(LogicalDecodingMessage {
                xid: self.stream_xid(reader)?,
                flags: reader.u8("flags")?,
                lsn: reader.lsn("message LSN")?,
                prefix: reader.string("prefix")?,
                content: reader.length_prefixed("content length", "content")?,
            }),
            MessageKind::StreamStart => LogicalMessage::StreamStart(StreamStart {
                xid: reader.u32("xid")?,
                // PostgreSQL's own reader treats exactly 1 as true.
                first_segment: reader.u8("first segment flag")? == 1,
            }),
            MessageKind::StreamStop => LogicalMessage::StreamStop,
            MessageKind::StreamCommit => LogicalMessage::StreamCommit(StreamCommit {
                xid: reader.u32("xid")?,
                flags: reader.u8("flags")?,
                commit_lsn: reader.lsn("commit LSN")?,
                end_lsn: reader.lsn("end LSN")?,
                commit_time: reader.timestamp("commit timestamp")?,
            }),
            MessageKind::StreamAbort => {
                let xid = reader.u32("xid")?;
                let subtransaction_xid = reader.u32("subtransaction xid")?;
                // Protocol 4 sends the abort LSN and time only with `streaming = parallel`,
                // which the bytes do not say; each message has its own payload, so their
                // presence is known from the length (a partial trailer is still an error).
                let abort_info = if self.protocol_version >= 4 && reader.remaining() > 0 {
                    Some(AbortInfo {
                        abort_lsn: reader.lsn("abort LSN")?,
                        abort_time: reader.timestamp("abort timestamp")?,
                    })
                } else {
                    None
                };
                LogicalMessage::StreamAbort(StreamAbort {
                    xid,
                    subtransaction_xid,
                    abort_info,
                })
            }
            MessageKind::BeginPrepare => LogicalMessage::BeginPrepare(BeginPrepare {
                prepare_lsn: reader.lsn("prepare LSN")?,
                end_lsn: reader.lsn("end LSN")?,
                prepare_time: reader.timestamp("prepare timestamp")?,
                xid: reader.u32("xid")?,
                gid: reader.string("GID")?,
            }),
            MessageKind::Prepare => LogicalMessage::Prepare(decode_prepare(reader)?),
            MessageKind::StreamPrepare => LogicalMessage::StreamPrepare(decode_prepare(reader)?),
            MessageKind::CommitPrepared => LogicalMessage::CommitPrepared(CommitPrepared {
                flags: reader.u8("flags")?,
                commit_lsn: reader.lsn("commit LSN")?,
                end_lsn: reader.lsn("end LSN")?,
                commit_time: reader.timestamp("commit timestamp")?,
                xid: reader.u32("xid")?,
                gid: reader.string("GID")?,
            }),
            MessageKind::RollbackPrepared => LogicalMessage::RollbackPrepared(RollbackPrepared {
                flags: reader.u8("flags")?,
                prepare_end_lsn: reader.lsn("prepare end LSN")?,
                rollback_end_lsn: reader.lsn("rollback end LSN")?,
                prepare_time: reader.timestamp("prepare timestamp")?,
                rollback_time: reader.timestamp("rollback timestamp")?,
                xid: reader.u32("xid")?,
                gid: reader.string("GID")?,
            }),
            MessageKind::XLogData
            | MessageKind::PrimaryKeepalive
            | MessageKind::StandbyStatusUpdate
            | MessageKind::HotStandbyFeedback => {
                return Err(DecodeError::UnknownMessageTag { tag: kind.tag() });
            }
        })
    }

    fn decode_relation(&self, reader: &mut Reader<'_>) -> Result<Relation, DecodeError> {
        let xid = self.stream_xid(reader)?;
        let id = reader.u32("relation id")?;
        let namespace = reader.string("namespace")?;
        let name = reader.string("relation name")?;
        let identity_offset = reader.position();
        let identity = reader.u8("replica identity")?;
        let replica_identity =
            ReplicaIdentity::from_byte(identity).ok_or(DecodeError::UnknownReplicaIdentity {
                offset: identity_offset,
                value: identity,
            })?;
        let count_offset = reader.position();
        let count = usize::from(reader.u16("column count")?);
        // A column is at least flags (1), an empty name (1), type OID (4) and modifier (4).
        reader.checked_count(count, count_offset, 10, "columns")?;
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            columns.push(Column {
                flags: reader.u8("column flags")?,
                name: reader.string("column name")?,
                type_oid: reader.u32("column type OID")?,
                type_modifier: reader.i32("column type modifier")?,
            });
        }
        Ok(Relation {
            xid,
            id,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }
}

fn decode_prepare(reader: &mut Reader<'_>) -> Result<Prepare, DecodeError> {
    Ok(Prepare {
        flags: reader.u8("flags")?,
        prepare_lsn: reader.lsn("prepare LSN")?,
        end_lsn: reader.lsn("end LSN")?,
        prepare_time: reader.timestamp("prepare timestamp")?,
        xid: reader.u32("xid")?,
        gid: reader.string("GID")?,
    })
}

/// Reads a tuple marker byte and checks it is one of `allowed`.
fn expect_marker(
    reader: &mut Reader<'_>,
    allowed: &[u8],
    expected: &'static str,
) -> Result<u8, DecodeError> {
    let offset = reader.position();
    let found = reader.u8("tuple marker")?;
    if allowed.contains(&found) {
        Ok(found)
    } else {
        Err(DecodeError::UnexpectedTupleMarker {
            kind: reader.kind(),
            offset,
            found,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(version: u32, bytes: &'static [u8]) -> Result<LogicalMessage, DecodeError> {
        Decoder::new(version)
            .expect("supported version")
            .decode(&Bytes::from_static(bytes))
    }

    #[test]
    fn rejects_unsupported_protocol_versions() {
        assert_eq!(
            Decoder::new(0),
            Err(DecodeError::UnsupportedProtocolVersion(0))
        );
        assert_eq!(
            Decoder::new(5),
            Err(DecodeError::UnsupportedProtocolVersion(5))
        );
    }

    #[test]
    fn names_kind_field_and_offset_of_a_truncation() {
        let error = decode(1, b"U\x00\x00").expect_err("truncated");
        assert_eq!(
            error.to_string(),
            "truncated Update message at offset 1: expected 4 bytes for relation id, 2 left"
        );
    }

    #[test]
    fn rejects_empty_and_unknown_messages() {
        assert_eq!(
            decode(1, b""),
            Err(DecodeError::Empty {
                what: "pgoutput message"
            })
        );
        assert_eq!(
            decode(1, b"w"),
            Err(DecodeError::UnknownMessageTag { tag: b'w' })
        );
        assert_eq!(
            decode(1, b"Z").expect_err("unknown").to_string(),
            "unknown pgoutput message tag 'Z' (0x5a)"
        );
    }

    #[test]
    fn refuses_messages_newer_than_the_protocol() {
        assert_eq!(
            decode(1, b"S\x00\x00\x00\x01\x01"),
            Err(DecodeError::UnsupportedInProtocol {
                kind: MessageKind::StreamStart,
                required: 2,
                negotiated: 1
            })
        );
        assert!(matches!(
            decode(2, b"p"),
            Err(DecodeError::UnsupportedInProtocol { required: 3, .. })
        ));
    }

    #[test]
    fn tracks_streamed_blocks() {
        let mut decoder = Decoder::new(2).expect("supported");
        let stop = Bytes::from_static(b"E");
        assert_eq!(
            decoder.decode(&stop),
            Err(DecodeError::UnexpectedStreamState {
                kind: MessageKind::StreamStop,
                in_stream: false
            })
        );
        decoder
            .decode(&Bytes::from_static(b"S\x00\x00\x00\x07\x01"))
            .expect("stream start");
        assert_eq!(decoder.streaming_xid(), Some(7));
        let insert = Bytes::from_static(b"I\x00\x00\x00\x08\x00\x00\x40\x00N\x00\x01n");
        let LogicalMessage::Insert(insert) = decoder.decode(&insert).expect("insert with xid")
        else {
            panic!("not an insert");
        };
        assert_eq!((insert.xid, insert.relation_id), (Some(8), 0x4000));
        let begin = Bytes::from_static(
            b"B\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x03",
        );
        assert!(matches!(
            decoder.decode(&begin),
            Err(DecodeError::UnexpectedStreamState {
                in_stream: true,
                ..
            })
        ));
        assert_eq!(decoder.decode(&stop), Ok(LogicalMessage::StreamStop));
        assert_eq!(decoder.streaming_xid(), None);
        assert!(matches!(
            decoder.decode(&begin),
            Ok(LogicalMessage::Begin(_))
        ));
    }

    #[test]
    fn stream_abort_info_only_from_protocol_4() {
        let short = b"A\x00\x00\x00\x01\x00\x00\x00\x02";
        let long = b"A\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x20";
        for version in 2..=4 {
            let LogicalMessage::StreamAbort(abort) = decode(version, short).expect("short abort")
            else {
                panic!("not a stream abort");
            };
            assert_eq!(
                (abort.xid, abort.subtransaction_xid, abort.abort_info),
                (1, 2, None)
            );
        }
        assert!(matches!(
            decode(3, long),
            Err(DecodeError::TrailingBytes {
                offset: 9,
                remaining: 16,
                ..
            })
        ));
        let LogicalMessage::StreamAbort(abort) = decode(4, long).expect("long abort") else {
            panic!("not a stream abort");
        };
        let info = abort.abort_info.expect("protocol 4 abort info");
        assert_eq!((info.abort_lsn.0, info.abort_time.0), (0x10, 0x20));
        assert!(matches!(
            decode(4, &long[..15]),
            Err(DecodeError::Truncated {
                field: "abort LSN",
                ..
            })
        ));
    }

    #[test]
    fn refuses_bad_markers_and_identities() {
        assert!(matches!(
            decode(1, b"I\x00\x00\x00\x01K\x00\x00"),
            Err(DecodeError::UnexpectedTupleMarker {
                found: b'K',
                offset: 5,
                ..
            })
        ));
        assert!(matches!(
            decode(1, b"D\x00\x00\x00\x01N\x00\x00"),
            Err(DecodeError::UnexpectedTupleMarker { found: b'N', .. })
        ));
        assert!(matches!(
            decode(1, b"R\x00\x00\x00\x01public\x00t\x00x\x00\x00"),
            Err(DecodeError::UnknownReplicaIdentity {
                value: b'x',
                offset: 14
            })
        ));
        assert!(matches!(
            decode(1, b"R\x00\x00\x00\x01pub\xfflic\x00t\x00d\x00\x00"),
            Err(DecodeError::InvalidUtf8 {
                field: "namespace",
                offset: 5,
                ..
            })
        ));
        assert!(matches!(
            decode(1, b"O\x00\x00\x00\x00\x00\x00\x00\x00name"),
            Err(DecodeError::UnterminatedString {
                field: "origin name",
                offset: 9,
                ..
            })
        ));
    }

    #[test]
    fn refuses_counts_larger_than_the_input() {
        assert!(matches!(
            decode(1, b"T\x7f\xff\xff\xff\x00\x00\x00\x00\x01"),
            Err(DecodeError::CountExceedsInput {
                field: "relation ids",
                count: 0x7fff_ffff,
                ..
            })
        ));
        assert!(matches!(
            decode(1, b"T\xff\xff\xff\xff\x00"),
            Err(DecodeError::NegativeLength {
                field: "relation count",
                length: -1,
                ..
            })
        ));
        assert!(matches!(
            decode(1, b"R\x00\x00\x00\x01\x00t\x00d\xff\xff"),
            Err(DecodeError::CountExceedsInput {
                field: "columns",
                count: 65535,
                remaining: 0,
                ..
            })
        ));
    }
}
