//! A bounds-checked cursor over one message.
//!
//! Every read checks the remaining length first and reports a [`DecodeError`] naming the
//! message kind, the field and the offset, so the decoders built on it cannot panic on short
//! input. Byte strings are returned as [`Bytes`] slices of the input (a reference count
//! increment, no copy).

use std::ops::Range;

use bytes::Bytes;

use crate::error::{DecodeError, MessageKind};
use crate::lsn::{Lsn, PgTimestamp};

pub(crate) struct Reader<'a> {
    data: &'a Bytes,
    position: usize,
    kind: MessageKind,
}

impl<'a> Reader<'a> {
    /// A cursor at `position` (usually 1, just after the tag byte).
    pub(crate) fn new(data: &'a Bytes, position: usize, kind: MessageKind) -> Self {
        Reader {
            data,
            position,
            kind,
        }
    }

    pub(crate) fn kind(&self) -> MessageKind {
        self.kind
    }

    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.position)
    }

    fn truncated(&self, field: &'static str, needed: usize) -> DecodeError {
        DecodeError::Truncated {
            kind: self.kind,
            offset: self.position,
            field,
            needed,
            remaining: self.remaining(),
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let rest = self.data.get(self.position..).unwrap_or_default();
        match rest.first_chunk::<N>() {
            Some(chunk) => {
                self.position += N;
                Ok(*chunk)
            }
            None => Err(self.truncated(field, N)),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(field).map(|[byte]| byte)
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_be_bytes)
    }

    #[inline]
    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.array(field).map(i32::from_be_bytes)
    }

    #[inline]
    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.array(field).map(i64::from_be_bytes)
    }

    #[inline]
    pub(crate) fn lsn(&mut self, field: &'static str) -> Result<Lsn, DecodeError> {
        self.array(field)
            .map(|bytes| Lsn(u64::from_be_bytes(bytes)))
    }

    #[inline]
    pub(crate) fn timestamp(&mut self, field: &'static str) -> Result<PgTimestamp, DecodeError> {
        self.i64(field).map(PgTimestamp)
    }

    /// An `Int32` length (rejecting negatives) followed by that many bytes.
    #[inline]
    pub(crate) fn length_prefixed(
        &mut self,
        length_field: &'static str,
        field: &'static str,
    ) -> Result<Bytes, DecodeError> {
        let range = self.skip_length_prefixed(length_field, field)?;
        Ok(self.data.slice(range))
    }

    /// Like [`Reader::length_prefixed`], but returns where the bytes are instead of a slice.
    #[inline]
    pub(crate) fn skip_length_prefixed(
        &mut self,
        length_field: &'static str,
        field: &'static str,
    ) -> Result<Range<usize>, DecodeError> {
        let offset = self.position;
        let length = self.i32(length_field)?;
        let length = usize::try_from(length).map_err(|_| DecodeError::NegativeLength {
            kind: self.kind,
            offset,
            field: length_field,
            length,
        })?;
        if length > self.remaining() {
            return Err(self.truncated(field, length));
        }
        let start = self.position;
        self.position += length;
        Ok(start..self.position)
    }

    /// The bytes from `start` to the current position, zero-copy.
    pub(crate) fn slice_from(&self, start: usize) -> Bytes {
        self.data.slice(start.min(self.position)..self.position)
    }

    /// A NUL-terminated UTF-8 string (PostgreSQL's `String` type).
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let offset = self.position;
        let rest = self.data.get(offset..).unwrap_or_default();
        let Some(length) = rest.iter().position(|&byte| byte == 0) else {
            return Err(DecodeError::UnterminatedString {
                kind: self.kind,
                offset,
                field,
            });
        };
        let text = std::str::from_utf8(&rest[..length]).map_err(|_| DecodeError::InvalidUtf8 {
            kind: self.kind,
            offset,
            field,
        })?;
        self.position += length + 1;
        Ok(text.to_owned())
    }

    /// Reads a count and checks that `count` items of at least `min_item_size` bytes each fit
    /// in what is left, so that the caller may allocate `count` items.
    pub(crate) fn checked_count(
        &mut self,
        count: usize,
        count_offset: usize,
        min_item_size: usize,
        field: &'static str,
    ) -> Result<usize, DecodeError> {
        let needed = count.saturating_mul(min_item_size);
        if needed > self.remaining() {
            return Err(DecodeError::CountExceedsInput {
                kind: self.kind,
                offset: count_offset,
                field,
                count,
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    /// Succeeds only if the whole message has been consumed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            remaining => Err(DecodeError::TrailingBytes {
                kind: self.kind,
                offset: self.position,
                remaining,
            }),
        }
    }
}
