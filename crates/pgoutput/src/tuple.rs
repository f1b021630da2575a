//! `TupleData`: the row images carried by Insert, Update and Delete messages.
//!
//! Values stay raw: a text-format value is the bytes of the type's output function, a
//! binary-format value (option `binary`) the bytes of its send function. Interpreting them
//! needs the column's type, which lives in the Relation message; that is the typed-conversion
//! layer's job, not the decoder's.
//!
//! Speed: a [`TupleData`] is one [`Bytes`] slice of the received message, nothing more.
//! Decoding a row checks its layout once and costs one reference-count increment: no
//! allocation and no copy, whatever the number of columns. (Profiling showed one `Bytes`
//! per value spending about a third of the decoding time in atomic reference counting, and
//! then a `Vec` of value positions per row costing an allocation and a larger message to
//! move.) Values are read by walking the checked wire form, as borrowed [`ColumnValue`]s;
//! an owned, still zero-copy, handle on one value is available from
//! [`TupleData::value_bytes`].

use std::fmt;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::reader::Reader;

/// One column of a tuple, borrowed from its [`TupleData`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnValue<'a> {
    /// `n`: SQL NULL (also the placeholder for non-key columns of a `K` old tuple).
    Null,
    /// `u`: an out-of-line (TOASTed) value that the change did not modify, so the server did
    /// not send it. The consumer must keep the value it already has.
    UnchangedToast,
    /// `t`: the value in text format.
    Text(&'a [u8]),
    /// `b`: the value in binary format.
    Binary(&'a [u8]),
}

impl<'a> ColumnValue<'a> {
    /// The kind byte on the wire: `n`, `u`, `t` or `b`.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Null => b'n',
            Self::UnchangedToast => b'u',
            Self::Text(_) => b't',
            Self::Binary(_) => b'b',
        }
    }

    /// The raw bytes of a text or binary value.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Self::Text(bytes) | Self::Binary(bytes) => Some(bytes),
            Self::Null | Self::UnchangedToast => None,
        }
    }

    /// The value as text, if it is a text-format value in valid UTF-8.
    pub fn as_text(&self) -> Option<&'a str> {
        match *self {
            Self::Text(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }
}

impl fmt::Debug for ColumnValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::UnchangedToast => f.write_str("UnchangedToast"),
            Self::Text(bytes) => write!(f, "Text(b\"{}\")", bytes.escape_ascii()),
            Self::Binary(bytes) => write!(f, "Binary(b\"{}\")", bytes.escape_ascii()),
        }
    }
}

/// The columns of one row image, in the order of the Relation message's columns (dropped and
/// generated columns are not sent).
///
/// Two tuples are equal when their columns are, which is when their wire forms are.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TupleData {
    /// The wire form: `Int16` count, then per column a kind byte and for `t`/`b` an `Int32`
    /// length and the bytes. Always well-formed: [`TupleData::decode`] checked it and
    /// [`TupleData::from_columns`] wrote it (the default is empty: no columns).
    wire: Bytes,
}

impl TupleData {
    /// A tuple holding `columns` (copied into a new buffer in wire form).
    ///
    /// pgoutput cannot represent more than 65535 columns or values of 2 GiB or more; such
    /// input (which PostgreSQL itself cannot produce) is clamped, which gives a tuple that
    /// does not hold the columns given.
    pub fn from_columns<'a>(columns: impl IntoIterator<Item = ColumnValue<'a>>) -> Self {
        let mut columns: Vec<ColumnValue<'a>> = columns.into_iter().collect();
        debug_assert!(
            columns.len() <= usize::from(u16::MAX),
            "too many columns for pgoutput"
        );
        let count = u16::try_from(columns.len()).unwrap_or(u16::MAX);
        columns.truncate(usize::from(count));
        let size = 2 + columns
            .iter()
            .map(|c| 1 + c.bytes().map_or(0, |b| 4 + b.len()))
            .sum::<usize>();
        let mut wire = BytesMut::with_capacity(size);
        wire.put_u16(count);
        for column in &columns {
            wire.put_u8(column.kind());
            if let Some(bytes) = column.bytes() {
                debug_assert!(
                    i32::try_from(bytes.len()).is_ok(),
                    "value too long for pgoutput"
                );
                let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
                let bytes = bytes.get(..length.unsigned_abs() as usize).unwrap_or(bytes);
                wire.put_i32(length);
                wire.put_slice(bytes);
            }
        }
        TupleData {
            wire: wire.freeze(),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.wire
            .first_chunk::<2>()
            .map_or(0, |count| usize::from(u16::from_be_bytes(*count)))
    }

    /// Whether the tuple has no column.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column at `index` (found by walking the columns before it).
    pub fn get(&self, index: usize) -> Option<ColumnValue<'_>> {
        self.iter().nth(index)
    }

    /// The columns in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ColumnValue<'_>> + '_ {
        Columns::new(&self.wire).map(|(kind, value)| {
            let bytes = self.wire.get(value).unwrap_or_default();
            match kind {
                b't' => ColumnValue::Text(bytes),
                b'b' => ColumnValue::Binary(bytes),
                b'u' => ColumnValue::UnchangedToast,
                _ => ColumnValue::Null,
            }
        })
    }

    /// The bytes of the text or binary value at `index` as an owned [`Bytes`] sharing the
    /// received buffer (no copy), for consumers that keep values beyond the tuple.
    pub fn value_bytes(&self, index: usize) -> Option<Bytes> {
        let (kind, value) = Columns::new(&self.wire).nth(index)?;
        matches!(kind, b't' | b'b').then(|| self.wire.slice(value))
    }

    /// The tuple's wire form, a slice of the message it was decoded from.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// Number of bytes of the wire form.
    pub fn encoded_len(&self) -> usize {
        self.wire.len()
    }

    /// Appends the wire form.
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.put_slice(&self.wire);
    }

    /// Decodes a tuple at the reader's position: checks its layout and keeps its bytes.
    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = reader.position();
        let count = usize::from(reader.u16("tuple column count")?);
        // Every column takes at least its kind byte: refuse counts the input cannot back
        // before walking them.
        reader.checked_count(count, start, 1, "tuple columns")?;
        for _ in 0..count {
            let column_offset = reader.position();
            match reader.u8("tuple column kind")? {
                b'n' | b'u' => {}
                b't' => {
                    reader.skip_length_prefixed("text value length", "text value")?;
                }
                b'b' => {
                    reader.skip_length_prefixed("binary value length", "binary value")?;
                }
                column_kind => {
                    return Err(DecodeError::UnknownColumnKind {
                        kind: reader.kind(),
                        offset: column_offset,
                        column_kind,
                    });
                }
            }
        }
        Ok(TupleData {
            wire: reader.slice_from(start),
        })
    }
}

/// Walks a well-formed wire form: the kind byte of each column and where its value's bytes
/// are (an empty range for `n` and `u`).
///
/// The wire form was checked when the tuple was made, so the walk cannot fail; were it
/// malformed all the same, the walk would end early rather than panic.
struct Columns<'a> {
    wire: &'a [u8],
    position: usize,
    remaining: usize,
}

impl<'a> Columns<'a> {
    fn new(wire: &'a [u8]) -> Self {
        let remaining = wire
            .first_chunk::<2>()
            .map_or(0, |count| usize::from(u16::from_be_bytes(*count)));
        Columns {
            wire,
            position: 2,
            remaining,
        }
    }
}

impl Iterator for Columns<'_> {
    type Item = (u8, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        let kind = *self.wire.get(self.position)?;
        let value_start = self.position + 1;
        let value = match kind {
            b't' | b'b' => {
                let length = self.wire.get(value_start..)?.first_chunk::<4>()?;
                let length = usize::try_from(i32::from_be_bytes(*length)).ok()?;
                let start = value_start + 4;
                start..start.checked_add(length)?
            }
            _ => value_start..value_start,
        };
        debug_assert!(value.end <= self.wire.len(), "a checked tuple is complete");
        self.position = value.end;
        Some((kind, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Columns<'_> {}

impl fmt::Debug for TupleData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MessageKind;

    fn decode(bytes: &[u8]) -> Result<TupleData, DecodeError> {
        let data = Bytes::copy_from_slice(bytes);
        let mut reader = Reader::new(&data, 0, MessageKind::Insert);
        let tuple = TupleData::decode(&mut reader)?;
        reader.finish()?;
        Ok(tuple)
    }

    #[test]
    fn decodes_every_column_kind() {
        let wire = b"\x00\x04nut\x00\x00\x00\x02hib\x00\x00\x00\x01\xff";
        let tuple = decode(wire).expect("valid");
        let expected = [
            ColumnValue::Null,
            ColumnValue::UnchangedToast,
            ColumnValue::Text(b"hi"),
            ColumnValue::Binary(b"\xff"),
        ];
        assert!(tuple.iter().eq(expected));
        assert_eq!(tuple.get(2).and_then(|v| v.as_text()), Some("hi"));
        assert_eq!(tuple.value_bytes(3), Some(Bytes::from_static(b"\xff")));
        assert_eq!(tuple.value_bytes(0), None);
        assert_eq!(tuple.get(4), None);
        assert_eq!(
            format!("{tuple:?}"),
            r#"[Null, UnchangedToast, Text(b"hi"), Binary(b"\xff")]"#
        );

        let built = TupleData::from_columns(expected);
        assert_eq!(built, tuple);
        assert_eq!(&built.wire()[..], wire);
        let mut encoded = BytesMut::new();
        tuple.encode_into(&mut encoded);
        assert_eq!(encoded.len(), tuple.encoded_len());
        assert_eq!(&encoded[..], wire);
    }

    #[test]
    fn walks_wide_and_empty_tuples() {
        let texts: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        let tuple = TupleData::from_columns(texts.iter().enumerate().map(|(i, text)| {
            if i % 7 == 0 {
                ColumnValue::Null
            } else {
                ColumnValue::Text(text.as_bytes())
            }
        }));
        assert_eq!(tuple.len(), 300);
        assert_eq!(tuple.iter().len(), 300);
        assert_eq!(tuple.get(299), Some(ColumnValue::Text(b"299")));
        assert_eq!(tuple.get(294), Some(ColumnValue::Null));
        assert_eq!(tuple.get(300), None);
        assert_eq!(tuple.value_bytes(298), Some(Bytes::from_static(b"298")));
        assert_eq!(decode(tuple.wire()), Ok(tuple));

        let empty = TupleData::default();
        assert!(empty.is_empty());
        assert_eq!(empty.iter().len(), 0);
        assert_eq!(empty.get(0), None);
        assert_eq!(
            TupleData::from_columns([]),
            decode(b"\x00\x00").expect("no columns")
        );
    }

    #[test]
    fn refuses_a_column_count_the_input_cannot_hold() {
        let error = decode(b"\xff\xffnnn").expect_err("65535 columns in 3 bytes");
        assert!(
            matches!(
                error,
                DecodeError::CountExceedsInput {
                    count: 65535,
                    remaining: 3,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn refuses_huge_and_negative_lengths() {
        let error = decode(b"\x00\x01t\x7f\xff\xff\xffabc").expect_err("2 GiB value in 3 bytes");
        assert_eq!(
            error.to_string(),
            "truncated Insert message at offset 7: expected 2147483647 bytes for text value, 3 left"
        );
        let error = decode(b"\x00\x01t\xff\xff\xff\xffabc").expect_err("negative length");
        assert!(
            matches!(
                error,
                DecodeError::NegativeLength {
                    length: -1,
                    offset: 3,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn refuses_unknown_column_kinds() {
        let error = decode(b"\x00\x02nx").expect_err("x is no column kind");
        assert_eq!(
            error.to_string(),
            "unknown tuple column kind 'x' (0x78) in Insert message at offset 3"
        );
    }
}
