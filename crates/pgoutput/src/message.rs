//! The pgoutput messages, protocol versions 1 to 4, as typed values, and their encoder.
//!
//! One struct per message of PostgreSQL's "Logical Replication Message Formats". Fields keep
//! the wire's meaning and names; nothing is interpreted beyond what the layout defines
//! (flags stay raw bytes where PostgreSQL reserves them for future use, so a newer server
//! does not break decoding and re-encoding is lossless).
//!
//! Messages that can appear inside a streamed block (between Stream Start and Stream Stop:
//! Relation, Type, Insert, Update, Delete, Truncate and Message) carry `xid: Option<Xid>`:
//! `Some` exactly when the message was inside such a block, where pgoutput prefixes it with
//! the xid of the (sub)transaction the change belongs to. The [`crate::Decoder`] knows which
//! case applies from its state; the encoder writes the field when it is `Some`.
//!
//! The encoder is public and always compiled (no cargo feature): it is small, has no extra
//! dependency, and is what Sluice's tests use to play a replication server (the property
//! tests, the fuzz targets and the benchmark use it too). Gating it would only add `cfg` noise
//! and `required-features` to every test target.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::MessageKind;
use crate::lsn::{Lsn, PgTimestamp};
use crate::tuple::TupleData;

/// A transaction id (`TransactionId`, 32 bits on the wire; documented as `Int32`).
pub type Xid = u32;

/// A PostgreSQL object id (relation, type).
pub type Oid = u32;

/// One decoded pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicalMessage {
    /// `B`: a transaction starts.
    Begin(Begin),
    /// `C`: the transaction started by the last Begin commits.
    Commit(Commit),
    /// `O`: the transaction was replayed from another node (replication origin).
    Origin(Origin),
    /// `R`: the schema of a relation, sent before its first change and after each change of
    /// its definition (or invalidation of the server's cache).
    Relation(Relation),
    /// `Y`: a non-built-in type used by a column.
    Type(Type),
    /// `I`
    Insert(Insert),
    /// `U`
    Update(Update),
    /// `D`
    Delete(Delete),
    /// `T`
    Truncate(Truncate),
    /// `M`: a message written with `pg_logical_emit_message`.
    Message(LogicalDecodingMessage),
    /// `S`: a block of a large in-progress transaction starts (protocol 2+).
    StreamStart(StreamStart),
    /// `E`: the current streamed block ends (protocol 2+).
    StreamStop,
    /// `c`: a streamed transaction commits (protocol 2+).
    StreamCommit(StreamCommit),
    /// `A`: a streamed transaction or subtransaction aborts (protocol 2+).
    StreamAbort(StreamAbort),
    /// `b`: a transaction prepared for two-phase commit starts (protocol 3+).
    BeginPrepare(BeginPrepare),
    /// `P`: the transaction started by Begin Prepare is prepared (protocol 3+).
    Prepare(Prepare),
    /// `K`: a prepared transaction is committed (protocol 3+).
    CommitPrepared(CommitPrepared),
    /// `r`: a prepared transaction is rolled back (protocol 3+).
    RollbackPrepared(RollbackPrepared),
    /// `p`: a streamed transaction is prepared (protocol 3+). Same layout as Prepare.
    StreamPrepare(Prepare),
}

/// `B`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Begin {
    /// LSN of the commit record: the transaction's final LSN.
    pub final_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
    /// The transaction's xid.
    pub xid: Xid,
}

/// `C`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commit {
    /// Unused by PostgreSQL so far (0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// LSN just past the commit record: what to confirm as flushed once it is durable.
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
}

/// `O`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The commit LSN on the origin server ([`Lsn::INVALID`] when sent after a Stream Start).
    pub origin_lsn: Lsn,
    /// The replication origin's name.
    pub name: String,
}

/// A relation's replica identity setting (`pg_class.relreplident`): which old values
/// updates and deletes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaIdentity {
    /// `d`: the primary key columns (none without a primary key).
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: all columns (old tuples come as `O`).
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

impl ReplicaIdentity {
    /// The setting for its wire byte.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'd' => Some(Self::Default),
            b'n' => Some(Self::Nothing),
            b'f' => Some(Self::Full),
            b'i' => Some(Self::Index),
            _ => None,
        }
    }

    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Default => b'd',
            Self::Nothing => b'n',
            Self::Full => b'f',
            Self::Index => b'i',
        }
    }
}

/// A column of a Relation message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Bit 0 ([`Column::KEY_FLAG`]): part of the replica identity.
    pub flags: u8,
    /// Column name.
    pub name: String,
    /// The column type's OID.
    pub type_oid: Oid,
    /// `atttypmod`: type modifier (-1 when none; e.g. `varchar(10)` sends 14).
    pub type_modifier: i32,
}

impl Column {
    /// Flag bit marking a replica identity ("key") column.
    pub const KEY_FLAG: u8 = 1;

    /// Whether the column is part of the replica identity. With `REPLICA IDENTITY FULL`
    /// every column is.
    pub fn is_key(&self) -> bool {
        self.flags & Self::KEY_FLAG != 0
    }
}

/// `R`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// Set inside a streamed block: the (sub)transaction whose changes need this schema.
    pub xid: Option<Xid>,
    /// The relation's OID, which changes refer to.
    pub id: Oid,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Relation name.
    pub name: String,
    /// Replica identity setting.
    pub replica_identity: ReplicaIdentity,
    /// Published columns in tuple order (dropped and generated columns excluded, and only the
    /// publication's column list if it has one).
    pub columns: Vec<Column>,
}

impl Relation {
    /// Index of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    /// The replica identity columns.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|column| column.is_key())
    }
}

/// `Y`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Type {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// The type's OID.
    pub oid: Oid,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Type name.
    pub name: String,
}

impl Type {
    /// `namespace.name`, or `name` for `pg_catalog`.
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.namespace, self.name)
        }
    }
}

/// `I`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Insert {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// The relation (see the last Relation message with this id).
    pub relation_id: Oid,
    /// The inserted row (`N`).
    pub new_tuple: TupleData,
}

/// The old row image of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OldTuple {
    /// `K`: only the replica identity columns are meaningful; the others are sent as null.
    /// Updates send it only when a key column changed.
    Key(TupleData),
    /// `O`: the whole old row (`REPLICA IDENTITY FULL`).
    Full(TupleData),
}

impl OldTuple {
    /// The tuple, whatever its kind.
    pub fn tuple(&self) -> &TupleData {
        match self {
            Self::Key(tuple) | Self::Full(tuple) => tuple,
        }
    }

    /// The marker byte: `K` or `O`.
    pub fn marker(&self) -> u8 {
        match self {
            Self::Key(_) => b'K',
            Self::Full(_) => b'O',
        }
    }
}

/// `U`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Update {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// The relation.
    pub relation_id: Oid,
    /// The old row, when the replica identity requires it (see [`OldTuple`]).
    pub old_tuple: Option<OldTuple>,
    /// The new row (`N`); unchanged TOASTed columns come as
    /// [`crate::ColumnValue::UnchangedToast`].
    pub new_tuple: TupleData,
}

/// `D`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delete {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// The relation.
    pub relation_id: Oid,
    /// The deleted row's identity.
    pub old_tuple: OldTuple,
}

/// The option bits of a Truncate message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TruncateOptions(pub u8);

impl TruncateOptions {
    /// `TRUNCATE ... CASCADE`.
    pub const CASCADE: u8 = 1;
    /// `TRUNCATE ... RESTART IDENTITY`.
    pub const RESTART_IDENTITY: u8 = 2;

    /// Whether `CASCADE` was given.
    pub fn cascade(self) -> bool {
        self.0 & Self::CASCADE != 0
    }

    /// Whether `RESTART IDENTITY` was given.
    pub fn restart_identity(self) -> bool {
        self.0 & Self::RESTART_IDENTITY != 0
    }
}

/// `T`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Truncate {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// `CASCADE` / `RESTART IDENTITY`.
    pub options: TruncateOptions,
    /// Every published relation truncated by the statement, including those reached by
    /// `CASCADE`.
    pub relation_ids: Vec<Oid>,
}

/// `M`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogicalDecodingMessage {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// Bit 0 ([`LogicalDecodingMessage::TRANSACTIONAL_FLAG`]): transactional.
    pub flags: u8,
    /// LSN of the message.
    pub lsn: Lsn,
    /// The prefix given to `pg_logical_emit_message`.
    pub prefix: String,
    /// The content, as given (may be any bytes).
    pub content: Bytes,
}

impl LogicalDecodingMessage {
    /// Flag bit of a transactional message.
    pub const TRANSACTIONAL_FLAG: u8 = 1;

    /// Whether the message is part of its transaction (delivered at commit) rather than
    /// emitted immediately.
    pub fn is_transactional(&self) -> bool {
        self.flags & Self::TRANSACTIONAL_FLAG != 0
    }
}

/// `S`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamStart {
    /// The top-level transaction being streamed.
    pub xid: Xid,
    /// Whether this is the transaction's first block.
    pub first_segment: bool,
}

/// `c`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamCommit {
    /// The streamed transaction.
    pub xid: Xid,
    /// Unused so far (0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// LSN just past the commit record.
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
}

/// The abort position and time that protocol 4 adds to Stream Abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortInfo {
    /// LSN of the abort record.
    pub abort_lsn: Lsn,
    /// Abort time.
    pub abort_time: PgTimestamp,
}

/// `A`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamAbort {
    /// The top-level transaction.
    pub xid: Xid,
    /// The aborted subtransaction, or `xid` again when the whole transaction aborts.
    pub subtransaction_xid: Xid,
    /// Protocol 4 only, and only when the subscriber asked for `streaming = parallel`.
    pub abort_info: Option<AbortInfo>,
}

/// `b`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BeginPrepare {
    /// LSN of the prepare record.
    pub prepare_lsn: Lsn,
    /// LSN just past the prepare record.
    pub end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// The transaction's xid.
    pub xid: Xid,
    /// The global transaction id given to `PREPARE TRANSACTION`.
    pub gid: String,
}

/// `P` and `p` (Stream Prepare).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prepare {
    /// Unused so far (0).
    pub flags: u8,
    /// LSN of the prepare record.
    pub prepare_lsn: Lsn,
    /// LSN just past the prepare record.
    pub end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// The transaction's xid.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

/// `K`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitPrepared {
    /// Unused so far (0).
    pub flags: u8,
    /// LSN of the commit-prepared record.
    pub commit_lsn: Lsn,
    /// LSN just past it.
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
    /// The transaction's xid.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

/// `r`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RollbackPrepared {
    /// Unused so far (0).
    pub flags: u8,
    /// End LSN of the prepared transaction.
    pub prepare_end_lsn: Lsn,
    /// End LSN of the rollback-prepared record.
    pub rollback_end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// Rollback time.
    pub rollback_time: PgTimestamp,
    /// The transaction's xid.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

impl LogicalMessage {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Begin(_) => MessageKind::Begin,
            Self::Commit(_) => MessageKind::Commit,
            Self::Origin(_) => MessageKind::Origin,
            Self::Relation(_) => MessageKind::Relation,
            Self::Type(_) => MessageKind::Type,
            Self::Insert(_) => MessageKind::Insert,
            Self::Update(_) => MessageKind::Update,
            Self::Delete(_) => MessageKind::Delete,
            Self::Truncate(_) => MessageKind::Truncate,
            Self::Message(_) => MessageKind::Message,
            Self::StreamStart(_) => MessageKind::StreamStart,
            Self::StreamStop => MessageKind::StreamStop,
            Self::StreamCommit(_) => MessageKind::StreamCommit,
            Self::StreamAbort(_) => MessageKind::StreamAbort,
            Self::BeginPrepare(_) => MessageKind::BeginPrepare,
            Self::Prepare(_) => MessageKind::Prepare,
            Self::CommitPrepared(_) => MessageKind::CommitPrepared,
            Self::RollbackPrepared(_) => MessageKind::RollbackPrepared,
            Self::StreamPrepare(_) => MessageKind::StreamPrepare,
        }
    }

    /// The streamed-block xid of the messages that carry one (Relation, Type, Insert,
    /// Update, Delete, Truncate, Message): `Some` only inside a streamed block.
    pub fn stream_xid(&self) -> Option<Xid> {
        match self {
            Self::Relation(m) => m.xid,
            Self::Type(m) => m.xid,
            Self::Insert(m) => m.xid,
            Self::Update(m) => m.xid,
            Self::Delete(m) => m.xid,
            Self::Truncate(m) => m.xid,
            Self::Message(m) => m.xid,
            _ => None,
        }
    }

    /// The relation a data change applies to (Insert, Update, Delete).
    pub fn relation_id(&self) -> Option<Oid> {
        match self {
            Self::Insert(m) => Some(m.relation_id),
            Self::Update(m) => Some(m.relation_id),
            Self::Delete(m) => Some(m.relation_id),
            _ => None,
        }
    }

    /// The wire form of the message.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out.freeze()
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Self::Insert(m) => 10 + m.new_tuple.encoded_len(),
            Self::Update(m) => {
                11 + m.new_tuple.encoded_len()
                    + m.old_tuple
                        .as_ref()
                        .map_or(0, |t| 1 + t.tuple().encoded_len())
            }
            Self::Delete(m) => 10 + m.old_tuple.tuple().encoded_len(),
            Self::Message(m) => 32 + m.prefix.len() + m.content.len(),
            Self::Relation(m) => 32 + m.name.len() + m.namespace.len() + 16 * m.columns.len(),
            _ => 64,
        }
    }

    /// Appends the wire form of the message to `out`.
    ///
    /// Stream-block xids are written when `Some`; Stream Abort's [`AbortInfo`] when `Some`.
    /// The caller chooses them to match the protocol version and block it is simulating.
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.put_u8(self.kind().tag());
        match self {
            Self::Begin(m) => {
                out.put_u64(m.final_lsn.0);
                out.put_i64(m.commit_time.0);
                out.put_u32(m.xid);
            }
            Self::Commit(m) => {
                out.put_u8(m.flags);
                out.put_u64(m.commit_lsn.0);
                out.put_u64(m.end_lsn.0);
                out.put_i64(m.commit_time.0);
            }
            Self::Origin(m) => {
                out.put_u64(m.origin_lsn.0);
                put_string(out, &m.name);
            }
            Self::Relation(m) => {
                put_stream_xid(out, m.xid);
                out.put_u32(m.id);
                put_string(out, &m.namespace);
                put_string(out, &m.name);
                out.put_u8(m.replica_identity.to_byte());
                out.put_u16(clamp_count(m.columns.len()));
                for column in &m.columns {
                    out.put_u8(column.flags);
                    put_string(out, &column.name);
                    out.put_u32(column.type_oid);
                    out.put_i32(column.type_modifier);
                }
            }
            Self::Type(m) => {
                put_stream_xid(out, m.xid);
                out.put_u32(m.oid);
                put_string(out, &m.namespace);
                put_string(out, &m.name);
            }
            Self::Insert(m) => {
                put_stream_xid(out, m.xid);
                out.put_u32(m.relation_id);
                out.put_u8(b'N');
                m.new_tuple.encode_into(out);
            }
            Self::Update(m) => {
                put_stream_xid(out, m.xid);
                out.put_u32(m.relation_id);
                if let Some(old) = &m.old_tuple {
                    out.put_u8(old.marker());
                    old.tuple().encode_into(out);
                }
                out.put_u8(b'N');
                m.new_tuple.encode_into(out);
            }
            Self::Delete(m) => {
                put_stream_xid(out, m.xid);
                out.put_u32(m.relation_id);
                out.put_u8(m.old_tuple.marker());
                m.old_tuple.tuple().encode_into(out);
            }
            Self::Truncate(m) => {
                put_stream_xid(out, m.xid);
                debug_assert!(i32::try_from(m.relation_ids.len()).is_ok());
                out.put_i32(i32::try_from(m.relation_ids.len()).unwrap_or(i32::MAX));
                out.put_u8(m.options.0);
                for id in &m.relation_ids {
                    out.put_u32(*id);
                }
            }
            Self::Message(m) => {
                put_stream_xid(out, m.xid);
                out.put_u8(m.flags);
                out.put_u64(m.lsn.0);
                put_string(out, &m.prefix);
                debug_assert!(i32::try_from(m.content.len()).is_ok());
                out.put_i32(i32::try_from(m.content.len()).unwrap_or(i32::MAX));
                out.put_slice(&m.content);
            }
            Self::StreamStart(m) => {
                out.put_u32(m.xid);
                out.put_u8(u8::from(m.first_segment));
            }
            Self::StreamStop => {}
            Self::StreamCommit(m) => {
                out.put_u32(m.xid);
                out.put_u8(m.flags);
                out.put_u64(m.commit_lsn.0);
                out.put_u64(m.end_lsn.0);
                out.put_i64(m.commit_time.0);
            }
            Self::StreamAbort(m) => {
                out.put_u32(m.xid);
                out.put_u32(m.subtransaction_xid);
                if let Some(info) = m.abort_info {
                    out.put_u64(info.abort_lsn.0);
                    out.put_i64(info.abort_time.0);
                }
            }
            Self::BeginPrepare(m) => {
                out.put_u64(m.prepare_lsn.0);
                out.put_u64(m.end_lsn.0);
                out.put_i64(m.prepare_time.0);
                out.put_u32(m.xid);
                put_string(out, &m.gid);
            }
            Self::Prepare(m) | Self::StreamPrepare(m) => {
                out.put_u8(m.flags);
                out.put_u64(m.prepare_lsn.0);
                out.put_u64(m.end_lsn.0);
                out.put_i64(m.prepare_time.0);
                out.put_u32(m.xid);
                put_string(out, &m.gid);
            }
            Self::CommitPrepared(m) => {
                out.put_u8(m.flags);
                out.put_u64(m.commit_lsn.0);
                out.put_u64(m.end_lsn.0);
                out.put_i64(m.commit_time.0);
                out.put_u32(m.xid);
                put_string(out, &m.gid);
            }
            Self::RollbackPrepared(m) => {
                out.put_u8(m.flags);
                out.put_u64(m.prepare_end_lsn.0);
                out.put_u64(m.rollback_end_lsn.0);
                out.put_i64(m.prepare_time.0);
                out.put_i64(m.rollback_time.0);
                out.put_u32(m.xid);
                put_string(out, &m.gid);
            }
        }
    }
}

fn put_stream_xid(out: &mut BytesMut, xid: Option<Xid>) {
    if let Some(xid) = xid {
        out.put_u32(xid);
    }
}

/// Writes a NUL-terminated string. PostgreSQL names cannot contain NUL; one in `text` would
/// end the string early on the wire, so the encoder stops at it.
fn put_string(out: &mut BytesMut, text: &str) {
    let bytes = text.as_bytes();
    let end = bytes
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(bytes.len());
    out.put_slice(&bytes[..end]);
    out.put_u8(0);
}

fn clamp_count(count: usize) -> u16 {
    debug_assert!(
        count <= usize::from(u16::MAX),
        "too many columns for pgoutput"
    );
    u16::try_from(count).unwrap_or(u16::MAX)
}
