//! Kafka topic names.
//!
//! | topic | name |
//! |---|---|
//! | a table's changes | `<prefix>.<schema>.<table>` ([`topic_for`]) |
//! | heartbeats | `<prefix>.sluice-heartbeat` ([`heartbeat_topic`]) |
//! | logical decoding messages | `<prefix>.sluice-messages` ([`messages_topic`]) |
//! | the source's snapshot progress | `<prefix>.sluice-snapshots` ([`snapshots_topic`]) |
//! | one sink's dead letters | `<prefix>.sluice-dead-letter.<sink>` ([`dead_letter_topic`]) |
//!
//! The prefix names one source (one database and slot), as Debezium's topic prefix
//! does. It is used as given and must itself be a legal topic-name fragment.
//!
//! # Escaping PostgreSQL names
//!
//! Kafka allows only `[a-zA-Z0-9._-]` in a topic name, at most 249 characters, while a
//! PostgreSQL identifier may hold any character but NUL (`"Order Items"`, `café`,
//! `a.b`). [`escape_name`] keeps ASCII letters, digits and `_` as they are and writes
//! every other character as its UTF-8 bytes, each as `-` and two lowercase hex digits:
//! `Order Items` becomes `Order-20Items`, `café` becomes `caf-c3-a9`, `a.b` becomes
//! `a-2eb`, and `-` itself becomes `-2d`.
//!
//! The result never contains `.`, so the two dots after the prefix always separate
//! schema from table; and every `-` in it starts such an escape, so it decodes
//! unambiguously ([`unescape_name`]). Hence the scheme is injective: two different
//! (schema, table) pairs never share a topic. Ordinary lower-case names (`public`,
//! `order_items`) are unchanged, and the case of quoted identifiers is kept (Kafka topic
//! names are case-sensitive, as PostgreSQL's quoted names are).
//!
//! The reserved topics cannot clash with a table's: each contains a `-` followed by a
//! letter that is not a lowercase hex digit (`-h`, `-m`, `-s`, `-l`), which no escaped name
//! contains.
//!
//! # Limits
//!
//! * **Length.** Names of at most 63 bytes (PostgreSQL's limit) fit easily when they
//!   are ASCII, but a name of 63 bytes of, say, Chinese escapes to 189 characters.
//!   Instead of truncating (which would break injectivity), [`topic_for`] returns
//!   [`TopicError::TooLong`]; the table then needs a shorter name or a topic override.
//! * **Kafka's `.`/`_` collision.** Kafka refuses to create a topic whose name equals an
//!   existing one's after replacing `.` by `_` (their metric names would clash), for
//!   example `p.public.a_b` and `p.public_a.b`. Escaping `_` would avoid this but make
//!   nearly every name unreadable, so Sluice keeps `_` and checks: a source can compare
//!   its tables' topics with [`topics_collide`] at start-up and name the two tables.

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_LEN: usize = 249;

/// The last component of the heartbeat topic.
const HEARTBEAT: &str = "sluice-heartbeat";
/// The last component of the logical messages topic.
const MESSAGES: &str = "sluice-messages";
/// The last component of the snapshot progress topic.
const SNAPSHOTS: &str = "sluice-snapshots";
/// The component before the sink's name in a dead-letter topic.
const DEAD_LETTER: &str = "sluice-dead-letter";

/// Why a topic name cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The prefix is empty or has a character Kafka does not allow.
    #[error(
        "topic prefix {0:?} is not a valid topic name fragment: use 1 or more of [a-zA-Z0-9._-]"
    )]
    InvalidPrefix(String),
    /// The sink name is empty or has a character other than `[a-zA-Z0-9_-]`.
    #[error("sink name {0:?} is not valid in a topic name: use 1 or more of [a-zA-Z0-9_-]")]
    InvalidSinkName(String),
    /// The escaped name is longer than Kafka allows.
    #[error(
        "the topic for {schema:?}.{table:?} would be {len} characters long, more than Kafka's \
         {MAX_TOPIC_LEN}: shorten the prefix or the table's name"
    )]
    TooLong {
        /// The schema's name.
        schema: String,
        /// The table's name.
        table: String,
        /// The length the topic name would have.
        len: usize,
    },
}

fn is_topic_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Whether `name` is a legal Kafka topic name: 1 to 249 characters of
/// `[a-zA-Z0-9._-]`, and neither `.` nor `..`.
pub fn is_valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_LEN
        && name != "."
        && name != ".."
        && name.bytes().all(is_topic_char)
}

fn check_prefix(prefix: &str) -> Result<(), TopicError> {
    if prefix.is_empty() || prefix.len() > MAX_TOPIC_LEN || !prefix.bytes().all(is_topic_char) {
        return Err(TopicError::InvalidPrefix(prefix.to_owned()));
    }
    Ok(())
}

/// Escapes a PostgreSQL identifier into `[a-zA-Z0-9_-]` (see the [module docs](self)).
pub fn escape_name(name: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push('-');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Reverses [`escape_name`]; `None` if `escaped` is not something it produces.
pub fn unescape_name(escaped: &str) -> Option<String> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b);
            i += 1;
        } else if b == b'-' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            let byte = (hi << 4) | lo;
            // Escaped bytes are exactly the ones escape_name does not keep.
            if byte.is_ascii_alphanumeric() || byte == b'_' {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// The topic of a table's change events: `<prefix>.<schema>.<table>`, each name
/// escaped with [`escape_name`].
///
/// # Errors
///
/// [`TopicError::InvalidPrefix`] for a prefix that is empty or has characters outside
/// `[a-zA-Z0-9._-]`; [`TopicError::TooLong`] when the result would exceed
/// [`MAX_TOPIC_LEN`].
pub fn topic_for(prefix: &str, schema: &str, table: &str) -> Result<String, TopicError> {
    check_prefix(prefix)?;
    let topic = format!("{prefix}.{}.{}", escape_name(schema), escape_name(table));
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong {
            schema: schema.to_owned(),
            table: table.to_owned(),
            len: topic.len(),
        });
    }
    Ok(topic)
}

/// The (schema, table) a table topic of `prefix` names, or `None` if `topic` is not one
/// [`topic_for`] builds for that prefix. The inverse of [`topic_for`].
pub fn parse_table_topic(prefix: &str, topic: &str) -> Option<(String, String)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('.')?;
    let (schema, table) = rest.split_once('.')?;
    Some((unescape_name(schema)?, unescape_name(table)?))
}

/// The heartbeat topic: `<prefix>.sluice-heartbeat`.
///
/// # Errors
///
/// [`TopicError::InvalidPrefix`] for an invalid prefix, or one too long to leave room.
pub fn heartbeat_topic(prefix: &str) -> Result<String, TopicError> {
    reserved_topic(prefix, HEARTBEAT)
}

/// The topic of logical decoding messages (`OP_MESSAGE` events, which belong to no
/// table): `<prefix>.sluice-messages`.
///
/// # Errors
///
/// [`TopicError::InvalidPrefix`] for an invalid prefix, or one too long to leave room.
pub fn messages_topic(prefix: &str) -> Result<String, TopicError> {
    reserved_topic(prefix, MESSAGES)
}

/// The compacted topic where a source records how far its initial snapshot got, keyed
/// by slot, so that a restarted source resumes it: `<prefix>.sluice-snapshots`.
///
/// # Errors
///
/// [`TopicError::InvalidPrefix`] for an invalid prefix, or one too long to leave room.
pub fn snapshots_topic(prefix: &str) -> Result<String, TopicError> {
    reserved_topic(prefix, SNAPSHOTS)
}

/// The dead-letter topic of one sink (one consumer group):
/// `<prefix>.sluice-dead-letter.<sink>`. Each sink has its own, since an event one
/// store rejects may suit another.
///
/// # Errors
///
/// [`TopicError::InvalidPrefix`] for an invalid prefix (or one too long to leave room),
/// [`TopicError::InvalidSinkName`] for a sink name outside `[a-zA-Z0-9_-]+`.
pub fn dead_letter_topic(prefix: &str, sink: &str) -> Result<String, TopicError> {
    if sink.is_empty()
        || !sink
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(TopicError::InvalidSinkName(sink.to_owned()));
    }
    reserved_topic(prefix, &format!("{DEAD_LETTER}.{sink}"))
}

fn reserved_topic(prefix: &str, suffix: &str) -> Result<String, TopicError> {
    check_prefix(prefix)?;
    let topic = format!("{prefix}.{suffix}");
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::InvalidPrefix(prefix.to_owned()));
    }
    Ok(topic)
}

/// Whether Kafka would refuse to have both topics in one cluster: they differ, but are
/// equal once every `.` is replaced by `_` (Kafka's metric names would clash).
pub fn topics_collide(a: &str, b: &str) -> bool {
    a != b && a.replace('.', "_") == b.replace('.', "_")
}
