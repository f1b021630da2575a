//! Ranges and multiranges: `range_out`/`multirange_out` text and their binary
//! formats.
//!
//! Text: `empty`, or `[` / `(`, the lower bound, `,`, the upper bound, `]` / `)`.
//! A missing bound is unbounded (and PostgreSQL always prints it with `(`/`)`).
//! A bound is double-quoted when it is empty or contains quotes, backslashes,
//! brackets, parentheses, commas or white space; inside quotes `""` is a quote, and
//! `\` escapes the next character inside and outside quotes. Note the difference
//! from arrays, which escape quotes with a backslash.
//!
//! Note that a range whose bound is `infinity` (`[2024-01-01,infinity)`) is
//! bounded, by the date `infinity`: only an absent bound is
//! [`RangeBound::Unbounded`].
//!
//! A multirange is `{` ranges separated by `,` `}`. Binary: a range is a flags
//! byte then each present bound as a 32-bit length and the subtype's binary value;
//! a multirange is a 32-bit count then each range with a 32-bit length.

use crate::decode::{Fail, Reader, binary_at, text_at};
use crate::registry::TypeRegistry;
use crate::value::{Range, RangeBound, Value};

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

struct TextParser<'a> {
    reg: &'a TypeRegistry,
    subtype: u32,
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl TextParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// One range starting at `pos` (after any white space).
    fn range(&mut self) -> Result<Range, Fail> {
        if self
            .s
            .get(self.pos..self.pos + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"empty"))
        {
            self.pos += 5;
            return Ok(Range::Empty);
        }
        let lower_inclusive = match self.peek() {
            Some(b'[') => true,
            Some(b'(') => false,
            _ => return Err(Fail::Syntax("expected '[' or '('")),
        };
        self.pos += 1;
        let lower = self.bound(lower_inclusive)?;
        if self.peek() != Some(b',') {
            return Err(Fail::Syntax("expected ',' between the bounds"));
        }
        self.pos += 1;
        let upper_text = self.bound_text()?;
        let upper_inclusive = match self.peek() {
            Some(b']') => true,
            Some(b')') => false,
            _ => return Err(Fail::Syntax("expected ']' or ')'")),
        };
        self.pos += 1;
        let upper = self.to_bound(upper_text, upper_inclusive)?;
        Ok(Range::Bounds { lower, upper })
    }

    fn bound(&mut self, inclusive: bool) -> Result<RangeBound, Fail> {
        let text = self.bound_text()?;
        self.to_bound(text, inclusive)
    }

    fn to_bound(&self, text: Option<Vec<u8>>, inclusive: bool) -> Result<RangeBound, Fail> {
        Ok(match text {
            None => RangeBound::Unbounded,
            Some(t) => {
                let value = Box::new(text_at(self.reg, self.subtype, &t, self.depth + 1)?);
                if inclusive {
                    RangeBound::Inclusive(value)
                } else {
                    RangeBound::Exclusive(value)
                }
            }
        })
    }

    /// `range_parse_bound`: `None` for an absent bound.
    fn bound_text(&mut self) -> Result<Option<Vec<u8>>, Fail> {
        if matches!(self.peek(), Some(b',' | b')' | b']')) {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut in_quote = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(Fail::Syntax("unexpected end of input"));
            };
            if !in_quote && matches!(c, b',' | b')' | b']') {
                break;
            }
            self.pos += 1;
            match c {
                b'\\' => {
                    let escaped = self
                        .peek()
                        .ok_or(Fail::Syntax("backslash at end of input"))?;
                    out.push(escaped);
                    self.pos += 1;
                }
                b'"' if !in_quote => in_quote = true,
                b'"' if self.peek() == Some(b'"') => {
                    out.push(b'"');
                    self.pos += 1;
                }
                b'"' => in_quote = false,
                _ => out.push(c),
            }
        }
        Ok(Some(out))
    }
}

/// Parses `range_out` text.
pub(crate) fn parse_text(
    reg: &TypeRegistry,
    subtype: u32,
    s: &[u8],
    depth: usize,
) -> Result<Range, Fail> {
    let mut p = TextParser {
        reg,
        subtype,
        s,
        pos: 0,
        depth,
    };
    p.skip_space();
    let range = p.range()?;
    p.skip_space();
    if p.pos != s.len() {
        return Err(Fail::Syntax("text after the range"));
    }
    Ok(range)
}

/// Parses `multirange_out` text. Empty ranges are dropped, as `multirange_in`
/// does.
pub(crate) fn parse_multirange_text(
    reg: &TypeRegistry,
    subtype: u32,
    s: &[u8],
    depth: usize,
) -> Result<Vec<Range>, Fail> {
    let mut p = TextParser {
        reg,
        subtype,
        s,
        pos: 0,
        depth,
    };
    let mut ranges = Vec::new();
    p.skip_space();
    if p.peek() != Some(b'{') {
        return Err(Fail::Syntax("expected '{'"));
    }
    p.pos += 1;
    p.skip_space();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_space();
            let range = p.range()?;
            if range != Range::Empty {
                ranges.push(range);
            }
            p.skip_space();
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(Fail::Syntax("expected ',' or '}'")),
            }
        }
    }
    p.skip_space();
    if p.pos != s.len() {
        return Err(Fail::Syntax("text after the closing '}'"));
    }
    Ok(ranges)
}

/// Decodes `range_send` binary.
pub(crate) fn parse_binary(
    reg: &TypeRegistry,
    subtype: u32,
    b: &[u8],
    depth: usize,
) -> Result<Range, Fail> {
    let mut r = Reader { b, pos: 0 };
    let flags = r.u8()?;
    if flags & RANGE_EMPTY != 0 {
        if r.pos != b.len() {
            return Err(Fail::Syntax("bytes after an empty range"));
        }
        return Ok(Range::Empty);
    }
    let mut bound = |infinite: u8, inclusive: u8| -> Result<RangeBound, Fail> {
        if flags & infinite != 0 {
            return Ok(RangeBound::Unbounded);
        }
        let len = usize::try_from(r.i32()?).map_err(|_| Fail::Syntax("bad bound length"))?;
        let value: Value = binary_at(reg, subtype, r.take(len)?, depth + 1)?;
        Ok(if flags & inclusive != 0 {
            RangeBound::Inclusive(Box::new(value))
        } else {
            RangeBound::Exclusive(Box::new(value))
        })
    };
    let lower = bound(RANGE_LB_INF, RANGE_LB_INC)?;
    let upper = bound(RANGE_UB_INF, RANGE_UB_INC)?;
    if r.pos != b.len() {
        return Err(Fail::Syntax("bytes after the upper bound"));
    }
    Ok(Range::Bounds { lower, upper })
}

/// Decodes `multirange_send` binary.
pub(crate) fn parse_multirange_binary(
    reg: &TypeRegistry,
    subtype: u32,
    b: &[u8],
    depth: usize,
) -> Result<Vec<Range>, Fail> {
    let mut r = Reader { b, pos: 0 };
    let count = usize::try_from(r.i32()?).map_err(|_| Fail::Syntax("negative range count"))?;
    if count > (b.len() - r.pos) / 5 {
        return Err(Fail::Syntax("more ranges than the data holds"));
    }
    let mut ranges = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(r.i32()?).map_err(|_| Fail::Syntax("bad range length"))?;
        let range = parse_binary(reg, subtype, r.take(len)?, depth)?;
        if range != Range::Empty {
            ranges.push(range);
        }
    }
    if r.pos != b.len() {
        return Err(Fail::Syntax("bytes after the last range"));
    }
    Ok(ranges)
}
