//! Typed decoding errors.
//!
//! The replication stream is input from the network, so every way it can be malformed is a
//! value, never a panic. Each error names the kind of message being decoded and the byte
//! offset (from the start of that message, tag byte = offset 0) where decoding stopped, so a
//! log line is enough to find the culprit in a hex dump of the payload.

use std::fmt;

use thiserror::Error;

/// The kind of message being decoded when an error occurred.
///
/// Covers both the pgoutput messages (inside XLogData) and the streaming replication
/// protocol's own CopyData messages (the framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `B`
    Begin,
    /// `C`
    Commit,
    /// `O`
    Origin,
    /// `R`
    Relation,
    /// `Y`
    Type,
    /// `I`
    Insert,
    /// `U`
    Update,
    /// `D`
    Delete,
    /// `T`
    Truncate,
    /// `M`
    Message,
    /// `S`
    StreamStart,
    /// `E`
    StreamStop,
    /// `c`
    StreamCommit,
    /// `A`
    StreamAbort,
    /// `b`
    BeginPrepare,
    /// `P`
    Prepare,
    /// `K`
    CommitPrepared,
    /// `r`
    RollbackPrepared,
    /// `p`
    StreamPrepare,
    /// Replication protocol `w`: WAL data sent by the server.
    XLogData,
    /// Replication protocol `k`: keepalive sent by the server.
    PrimaryKeepalive,
    /// Replication protocol `r`: status update sent by the client.
    StandbyStatusUpdate,
    /// Replication protocol `h`: hot standby feedback sent by the client.
    HotStandbyFeedback,
}

impl MessageKind {
    /// The pgoutput message kind for a tag byte, if it is one.
    pub fn from_pgoutput_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            b'B' => Self::Begin,
            b'C' => Self::Commit,
            b'O' => Self::Origin,
            b'R' => Self::Relation,
            b'Y' => Self::Type,
            b'I' => Self::Insert,
            b'U' => Self::Update,
            b'D' => Self::Delete,
            b'T' => Self::Truncate,
            b'M' => Self::Message,
            b'S' => Self::StreamStart,
            b'E' => Self::StreamStop,
            b'c' => Self::StreamCommit,
            b'A' => Self::StreamAbort,
            b'b' => Self::BeginPrepare,
            b'P' => Self::Prepare,
            b'K' => Self::CommitPrepared,
            b'r' => Self::RollbackPrepared,
            b'p' => Self::StreamPrepare,
            _ => return None,
        })
    }

    /// The tag byte that identifies this kind on the wire.
    pub fn tag(self) -> u8 {
        match self {
            Self::Begin => b'B',
            Self::Commit => b'C',
            Self::Origin => b'O',
            Self::Relation => b'R',
            Self::Type => b'Y',
            Self::Insert => b'I',
            Self::Update => b'U',
            Self::Delete => b'D',
            Self::Truncate => b'T',
            Self::Message => b'M',
            Self::StreamStart => b'S',
            Self::StreamStop => b'E',
            Self::StreamCommit => b'c',
            Self::StreamAbort => b'A',
            Self::BeginPrepare => b'b',
            Self::Prepare => b'P',
            Self::CommitPrepared => b'K',
            Self::RollbackPrepared => b'r',
            Self::StreamPrepare => b'p',
            Self::XLogData => b'w',
            Self::PrimaryKeepalive => b'k',
            Self::StandbyStatusUpdate => b'r',
            Self::HotStandbyFeedback => b'h',
        }
    }

    /// The lowest pgoutput protocol version that can send this message.
    pub fn introduced_in_protocol(self) -> u32 {
        match self {
            Self::StreamStart | Self::StreamStop | Self::StreamCommit | Self::StreamAbort => 2,
            Self::BeginPrepare
            | Self::Prepare
            | Self::CommitPrepared
            | Self::RollbackPrepared
            | Self::StreamPrepare => 3,
            _ => 1,
        }
    }

    /// The name used in the PostgreSQL documentation ("Stream Start", "XLogData", ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Begin => "Begin",
            Self::Commit => "Commit",
            Self::Origin => "Origin",
            Self::Relation => "Relation",
            Self::Type => "Type",
            Self::Insert => "Insert",
            Self::Update => "Update",
            Self::Delete => "Delete",
            Self::Truncate => "Truncate",
            Self::Message => "Message",
            Self::StreamStart => "Stream Start",
            Self::StreamStop => "Stream Stop",
            Self::StreamCommit => "Stream Commit",
            Self::StreamAbort => "Stream Abort",
            Self::BeginPrepare => "Begin Prepare",
            Self::Prepare => "Prepare",
            Self::CommitPrepared => "Commit Prepared",
            Self::RollbackPrepared => "Rollback Prepared",
            Self::StreamPrepare => "Stream Prepare",
            Self::XLogData => "XLogData",
            Self::PrimaryKeepalive => "Primary keepalive",
            Self::StandbyStatusUpdate => "Standby status update",
            Self::HotStandbyFeedback => "Hot standby feedback",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Renders a byte as `'x'` when printable ASCII, else as `0xNN`, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRepr(pub(crate) u8);

impl fmt::Display for ByteRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}' (0x{:02x})", self.0 as char, self.0)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

/// Why a replication payload could not be decoded.
///
/// Offsets count from the first byte (the tag) of the message being decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload had no bytes at all, not even a tag.
    #[error("empty {what}")]
    Empty {
        /// What was expected ("pgoutput message", "CopyData payload").
        what: &'static str,
    },

    /// The message ended before a field could be read.
    #[error(
        "truncated {kind} message at offset {offset}: expected {needed} bytes for {field}, {remaining} left"
    )]
    Truncated {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the field starts.
        offset: usize,
        /// Name of the field.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the message.
        remaining: usize,
    },

    /// The first byte is not a pgoutput message tag.
    #[error("unknown pgoutput message tag {}", ByteRepr(*.tag))]
    UnknownMessageTag {
        /// The offending byte.
        tag: u8,
    },

    /// The first byte of a CopyData payload is not a replication protocol message tag.
    #[error("unknown replication protocol message tag {}", ByteRepr(*.tag))]
    UnknownReplicationTag {
        /// The offending byte.
        tag: u8,
    },

    /// A tuple column is neither `n`, `u`, `t` nor `b`.
    #[error("unknown tuple column kind {} in {kind} message at offset {offset}", ByteRepr(*.column_kind))]
    UnknownColumnKind {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the column starts.
        offset: usize,
        /// The offending byte.
        column_kind: u8,
    },

    /// A tuple marker (`N`, `K`, `O`) was not the one the message layout allows here.
    #[error("unexpected tuple marker {} in {kind} message at offset {offset}: expected {expected}", ByteRepr(*.found))]
    UnexpectedTupleMarker {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the marker is.
        offset: usize,
        /// The offending byte.
        found: u8,
        /// What the layout allows, e.g. `'K' or 'O'`.
        expected: &'static str,
    },

    /// A NUL-terminated string has no NUL before the end of the message.
    #[error("unterminated string for {field} in {kind} message at offset {offset}")]
    UnterminatedString {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the string starts.
        offset: usize,
        /// Name of the field.
        field: &'static str,
    },

    /// A name (relation, namespace, column, type, prefix, GID, origin) is not valid UTF-8.
    ///
    /// The replication connection's `client_encoding` is UTF-8, so any other byte sequence is
    /// corruption.
    #[error("invalid UTF-8 in {field} of {kind} message at offset {offset}")]
    InvalidUtf8 {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the string starts.
        offset: usize,
        /// Name of the field.
        field: &'static str,
    },

    /// A length prefix is negative.
    #[error("negative length {length} for {field} in {kind} message at offset {offset}")]
    NegativeLength {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the length is.
        offset: usize,
        /// Name of the field.
        field: &'static str,
        /// The length as sent.
        length: i32,
    },

    /// A count (columns, relation ids) promises more items than the remaining bytes can hold.
    ///
    /// Checked before anything is allocated, so a hostile count cannot make the decoder
    /// reserve memory out of proportion to the input.
    #[error(
        "{kind} message at offset {offset} declares {count} {field}, which need at least {needed} bytes, but only {remaining} are left"
    )]
    CountExceedsInput {
        /// Message being decoded.
        kind: MessageKind,
        /// Where the count is.
        offset: usize,
        /// What is counted.
        field: &'static str,
        /// The count as sent.
        count: usize,
        /// Minimum bytes `count` items take.
        needed: usize,
        /// Bytes left after the count.
        remaining: usize,
    },

    /// The replica identity byte of a Relation message is not `d`, `n`, `f` or `i`.
    #[error("unknown replica identity {} in Relation message at offset {offset}", ByteRepr(*.value))]
    UnknownReplicaIdentity {
        /// Where the byte is.
        offset: usize,
        /// The offending byte.
        value: u8,
    },

    /// The message is complete but bytes follow it.
    ///
    /// Every pgoutput message travels in its own XLogData payload, so leftovers mean the
    /// layout was misread (e.g. a wrong protocol version): refusing them catches that early.
    #[error("{remaining} unexpected trailing bytes after {kind} message at offset {offset}")]
    TrailingBytes {
        /// Message decoded.
        kind: MessageKind,
        /// Where the leftovers start.
        offset: usize,
        /// How many bytes are left over.
        remaining: usize,
    },

    /// The message does not exist in the negotiated protocol version.
    #[error(
        "{kind} message requires pgoutput protocol version {required}, but version {negotiated} was negotiated"
    )]
    UnsupportedInProtocol {
        /// Message received.
        kind: MessageKind,
        /// First version that has it.
        required: u32,
        /// Version the decoder was created for.
        negotiated: u32,
    },

    /// The message cannot appear where it did with respect to Stream Start / Stream Stop.
    #[error("{kind} message is not allowed {}", if *.in_stream { "inside a streamed block (between Stream Start and Stream Stop)" } else { "outside a streamed block" })]
    UnexpectedStreamState {
        /// Message received.
        kind: MessageKind,
        /// Whether the decoder was inside a Stream Start .. Stream Stop block.
        in_stream: bool,
    },

    /// [`crate::Decoder::new`] was asked for a protocol version this crate does not know.
    #[error("unsupported pgoutput protocol version {0}: supported versions are 1 to 4")]
    UnsupportedProtocolVersion(u32),

    /// A change refers to a relation id for which no Relation message was seen.
    #[error("no Relation message seen for relation id {relation_id}")]
    UnknownRelation {
        /// The relation id of the change.
        relation_id: u32,
    },

    /// A tuple's column count differs from its relation's.
    #[error(
        "tuple column count mismatch for relation {relation_id}: the Relation message has {expected} columns, the tuple {found}"
    )]
    ColumnCountMismatch {
        /// The relation id of the change.
        relation_id: u32,
        /// Columns of the cached Relation message.
        expected: usize,
        /// Columns of the tuple.
        found: usize,
    },
}
