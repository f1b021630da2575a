//! The canonical Kafka message key of a row.
//!
//! Kafka's default partitioner hashes the key's bytes, so the key decides the
//! partition, and the partition is the only place Kafka keeps order. Every event of one
//! row must therefore carry exactly the same bytes, forever: a key that changed between
//! two releases of Sluice (or between a replay and the original run) would send the
//! row's later events to another partition, where a sink could apply them before the
//! earlier ones, and would break compaction, which keeps the last record *per key*. So
//! this encoding is a public contract, like the protobuf schema, and unlike the schema
//! it cannot evolve at all: it is specified below precisely enough to reimplement in
//! another language, and golden tests pin it to exact bytes.
//!
//! # The encoding
//!
//! The key is the UTF-8 text of a JSON array with one element per key column, in the
//! order of [`Key::columns`](crate::v1::Key) (the primary key's, or replica identity
//! index's, column order):
//!
//! ```text
//! key       = "[" [ element *( "," element ) ] "]"
//! element   = "null" / string                       ; null is SQL NULL
//! string    = %x22 *char %x22                       ; the column's canonical text
//! char      = literal / "\" %x22 / "\\" / "\b" / "\f" / "\n" / "\r" / "\t" / "\u00" hex hex
//! literal   = any Unicode scalar value except %x22 ("), %x5C (\) and U+0000..U+001F, as UTF-8
//! hex       = lowercase hexadecimal digit            ; \u00xx only for the U+0000..U+001F
//!                                                    ; that have no short form
//! ```
//!
//! There is no whitespace. A key of no columns (a table without a primary key or
//! replica identity index, a TRUNCATE, a schema change, a logical message) is `[]`.
//! The canonical text of each value is specified on [`canonical_text`]: it is
//! PostgreSQL's own text output for the value under fixed settings. Examples:
//!
//! | key columns | Kafka key |
//! |---|---|
//! | `id int8 = 42` | `["42"]` |
//! | `(tenant text, id uuid) = ('acme', 'a0ee…')` | `["acme","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]` |
//! | `(day date, n int4) = ('2024-02-29', -1)` | `["2024-02-29","-1"]` |
//! | `name text = 'say "hi"\n'` | `["say \"hi\"\n"]` |
//!
//! The escaping is the one `serde_json::to_string`, JavaScript's `JSON.stringify` and
//! Python's `json.dumps(texts, ensure_ascii=False, separators=(",", ":"))` produce, so
//! another language needs only the canonical texts and its standard JSON library
//! (Go's `encoding/json` differs: it escapes `<`, `>`, `&`, U+2028 and U+2029).
//!
//! # Why this form
//!
//! * **Readable.** `kafka-console-consumer --property print.key=true` shows `["42"]`,
//!   and the text is what `psql` prints for the value, so a key can be pasted into a
//!   `WHERE` clause.
//! * **Injective.** Different key tuples give different bytes: the JSON layer is
//!   unambiguous, and each kind's canonical text is injective for the values of one
//!   column. [`decode_key`] accepts exactly the bytes this module produces, so
//!   `decode(encode(k)) == k` and `encode(decode(b)) == b`.
//! * **Values only, no column names, no type tags.** Renaming a key column, or widening
//!   its type (`int4` to `int8`, `varchar` to `text`), changes no key, so a row's
//!   history stays in one partition across such DDL. The names are in the event's
//!   [`Key`]. Two values of different kinds can share a text (`42` the
//!   integer and `'42'` the text), which is harmless: a topic holds one table, and one
//!   column has one type at a time.
//! * **Text, not a binary layout.** A length-prefixed binary form would be as exact
//!   but unreadable in every Kafka tool, and would fix integer widths that PostgreSQL
//!   lets a column change.

mod text;

pub use text::canonical_text;

use crate::v1::Key;

/// The key of no columns: `[]`.
pub const EMPTY_KEY: &[u8] = b"[]";

/// Why a value has no canonical text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueTextError {
    /// The value is an unchanged TOAST marker: PostgreSQL did not send it, so there is
    /// nothing to encode. A key column never holds one; an event that has one in its key
    /// is malformed.
    #[error("the value is an unchanged TOAST marker, which has no text")]
    UnchangedToast,
    /// The value has no kind set: a kind added to the schema after this reader was
    /// built, or a `Value` that was never filled in.
    #[error("the value has no kind set (a kind newer than this reader, or an empty value)")]
    NoKind,
    /// The value breaks an invariant its kind documents, so it cannot have come from
    /// PostgreSQL.
    #[error("malformed {kind} value: {reason}")]
    Malformed {
        /// The kind, as named in the `Value` oneof.
        kind: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why a [`Key`] cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key column {column:?} cannot be encoded: {source}")]
pub struct KeyError {
    /// The key column's name.
    pub column: String,
    /// Why its value has no canonical text.
    #[source]
    pub source: ValueTextError,
}

/// Why bytes are not a key this module produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical Sluice key (byte {offset}): {reason}")]
pub struct DecodeKeyError {
    /// The offset of the first byte that does not fit.
    pub offset: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// Encodes a row's key as its Kafka message key (see the [module docs](self)).
///
/// # Errors
///
/// [`KeyError`] when a key column's value has no canonical text (it is missing, an
/// unchanged TOAST marker, of a kind unknown to this build, or malformed).
pub fn encode_key(key: &Key) -> Result<Vec<u8>, KeyError> {
    let texts = key
        .columns
        .iter()
        .map(|column| {
            let value = column.value.as_ref().ok_or(ValueTextError::NoKind);
            value.and_then(canonical_text).map_err(|source| KeyError {
                column: column.name.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(encode_texts(&texts))
}

/// Encodes canonical texts (`None` for SQL NULL) as a Kafka message key.
///
/// Infallible: every sequence of strings has an encoding. Use it when the canonical
/// texts are known already (for example re-encoding the output of [`decode_key`]);
/// [`encode_key`] computes them from typed values.
pub fn encode_texts<S: AsRef<str>>(texts: &[Option<S>]) -> Vec<u8> {
    let capacity = 2 + texts
        .iter()
        .map(|t| t.as_ref().map_or(4, |s| s.as_ref().len() + 3))
        .sum::<usize>();
    let mut out = String::with_capacity(capacity);
    out.push('[');
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match text {
            None => out.push_str("null"),
            Some(s) => push_json_string(&mut out, s.as_ref()),
        }
    }
    out.push(']');
    out.into_bytes()
}

fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                // The match arm's guard makes the cast lossless.
                let b = u8::try_from(u32::from(c)).unwrap_or(0);
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes a Kafka message key back to its canonical texts (`None` for SQL NULL).
///
/// Strict: it accepts exactly the bytes [`encode_texts`] produces, so a successful
/// decode re-encodes to the same bytes. Pair the texts with the column names from the
/// event's [`Key`] (or from the table's primary key) to display them.
///
/// # Errors
///
/// [`DecodeKeyError`] for anything else: other JSON spellings (whitespace, `\/`,
/// `\u0041`, uppercase hex), numbers, nested arrays, invalid UTF-8, trailing bytes.
pub fn decode_key(bytes: &[u8]) -> Result<Vec<Option<String>>, DecodeKeyError> {
    Decoder { bytes, pos: 0 }.key()
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn fail<T>(&self, reason: &'static str) -> Result<T, DecodeKeyError> {
        Err(DecodeKeyError {
            offset: self.pos,
            reason,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), DecodeKeyError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(reason)
        }
    }

    fn key(mut self) -> Result<Vec<Option<String>>, DecodeKeyError> {
        self.expect(b'[', "expected '['")?;
        let mut texts = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                texts.push(self.element()?);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.fail("expected ',' or ']'"),
                }
            }
        }
        if self.pos != self.bytes.len() {
            return self.fail("trailing bytes after ']'");
        }
        Ok(texts)
    }

    fn element(&mut self) -> Result<Option<String>, DecodeKeyError> {
        if self.bytes[self.pos..].starts_with(b"null") {
            self.pos += 4;
            return Ok(None);
        }
        self.expect(b'"', "expected '\"' or null")?;
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return self.fail("unterminated string");
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let short = match self.peek() {
                        Some(b'"') => Some(b'"'),
                        Some(b'\\') => Some(b'\\'),
                        Some(b'b') => Some(0x08),
                        Some(b'f') => Some(0x0c),
                        Some(b'n') => Some(b'\n'),
                        Some(b'r') => Some(b'\r'),
                        Some(b't') => Some(b'\t'),
                        Some(b'u') => None,
                        _ => return self.fail("not an escape this encoding writes"),
                    };
                    self.pos += 1;
                    let escaped = match short {
                        Some(b) => b,
                        None => self.control_escape()?,
                    };
                    out.push(escaped);
                }
                0x00..=0x1f => return self.fail("unescaped control character"),
                _ => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out)
            .map(Some)
            .map_err(|_| DecodeKeyError {
                offset: self.pos,
                reason: "string is not UTF-8",
            })
    }

    /// After `\u`: `00xx` with lowercase hex, for a control character without a short
    /// escape. Leaves `pos` after the last hex digit.
    fn control_escape(&mut self) -> Result<u8, DecodeKeyError> {
        let Some(digits) = self.bytes.get(self.pos..self.pos + 4) else {
            return self.fail("truncated \\u escape");
        };
        let hex = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let value = match (digits[0], digits[1], hex(digits[2]), hex(digits[3])) {
            (b'0', b'0', Some(hi), Some(lo)) if hi < 2 => (hi << 4) | lo,
            _ => return self.fail("\\u escape other than \\u0000..\\u001f in lowercase"),
        };
        if matches!(value, 0x08 | 0x0c | b'\n' | b'\r' | b'\t') {
            return self.fail("\\u escape for a character with a short escape");
        }
        self.pos += 4;
        Ok(value)
    }
}
