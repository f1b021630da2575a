//! Arrays: `array_out` text and `array_send` binary.
//!
//! Text: an optional dimension decoration (`[0:1]=` when a lower bound is not 1,
//! one `[lower:upper]` per dimension), then nested braces, one level per dimension.
//! Elements are separated by the element type's delimiter (`,`, or `;` for `box`).
//! An element is double-quoted when it is empty, spells `NULL` in any case, or
//! contains braces, quotes, backslashes, the delimiter or white space; inside
//! quotes `\` escapes the next character. An unquoted `NULL` is a NULL element,
//! while `"NULL"` is the four-letter string. This is where hand-written parsers go
//! wrong (Debezium split on commas for years), so the parser follows `array_in`'s
//! grammar exactly, and rejects ragged sub-arrays as PostgreSQL does.
//!
//! Binary: `ndim`, a has-NULLs flag, the element OID, `(length, lower bound)` per
//! dimension, then each element as a 32-bit length (`-1` for NULL) and its bytes.
//!
//! Elements decode with the registry's element type of the *column's* array type,
//! so arrays of domains, enums and ranges work like arrays of built-ins.

use std::borrow::Cow;

use crate::decode::{Fail, Reader, binary_at, text_at};
use crate::registry::TypeRegistry;
use crate::value::{Array, ArrayDim, Value};

/// PostgreSQL's `MAXDIM`.
const MAX_DIMS: usize = 6;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

struct TextParser<'a> {
    reg: &'a TypeRegistry,
    element_oid: u32,
    delimiter: u8,
    s: &'a [u8],
    pos: usize,
    depth: usize,
    /// Element count per level, fixed by the first (sub-)array closed at that level.
    dims: [Option<u32>; MAX_DIMS],
    /// The level that holds elements (not sub-arrays), once known.
    leaf_level: Option<usize>,
    elements: Vec<Option<Value>>,
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

    /// `[lb:ub]` or `[ub]` repeated, then `=`.
    fn decoration(&mut self) -> Result<Vec<(i32, i32)>, Fail> {
        let mut bounds = Vec::new();
        while self.peek() == Some(b'[') {
            self.pos += 1;
            let first = self.integer()?;
            let (lower, upper) = if self.peek() == Some(b':') {
                self.pos += 1;
                (first, self.integer()?)
            } else {
                (1, first)
            };
            if self.peek() != Some(b']') {
                return Err(Fail::Syntax("expected ']' in the dimensions"));
            }
            self.pos += 1;
            if upper < lower.saturating_sub(1) || bounds.len() == MAX_DIMS {
                return Err(Fail::Syntax("bad array dimensions"));
            }
            bounds.push((lower, upper));
            self.skip_space();
        }
        if self.peek() != Some(b'=') {
            return Err(Fail::Syntax("expected '=' after the dimensions"));
        }
        self.pos += 1;
        Ok(bounds)
    }

    fn integer(&mut self) -> Result<i32, Fail> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(Fail::Syntax("bad array bound"))
    }

    /// Parses `{...}` at `level`; the opening brace is at `pos`.
    fn level(&mut self, level: usize) -> Result<(), Fail> {
        self.pos += 1; // '{'
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return if level == 0 {
                Ok(())
            } else {
                Err(Fail::Syntax("empty sub-array"))
            };
        }
        let mut count: u32 = 0;
        loop {
            self.skip_space();
            if self.peek() == Some(b'{') {
                if self.leaf_level.is_some_and(|leaf| leaf <= level) {
                    return Err(Fail::Syntax("sub-array where an element was expected"));
                }
                if level + 1 >= MAX_DIMS {
                    return Err(Fail::Syntax("more than 6 dimensions"));
                }
                self.level(level + 1)?;
            } else {
                match self.leaf_level {
                    None => self.leaf_level = Some(level),
                    Some(leaf) if leaf != level => {
                        return Err(Fail::Syntax("element where a sub-array was expected"));
                    }
                    Some(_) => {}
                }
                self.element()?;
            }
            count += 1;
            self.skip_space();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b) if b == self.delimiter => self.pos += 1,
                _ => return Err(Fail::Syntax("expected a delimiter or '}'")),
            }
        }
        match self.dims[level] {
            None => self.dims[level] = Some(count),
            Some(expected) if expected != count => {
                return Err(Fail::Syntax("sub-arrays of different lengths"));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// One element, quoted or not; `pos` is at its first non-space byte.
    fn element(&mut self) -> Result<(), Fail> {
        let (text, may_be_null): (Cow<'_, [u8]>, bool) = if self.peek() == Some(b'"') {
            self.pos += 1;
            let start = self.pos;
            let mut owned: Option<Vec<u8>> = None;
            loop {
                match self.peek() {
                    None => return Err(Fail::Syntax("unterminated quoted element")),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let buf = owned.get_or_insert_with(|| self.s[start..self.pos].to_vec());
                        let escaped = *self
                            .s
                            .get(self.pos + 1)
                            .ok_or(Fail::Syntax("backslash at end of input"))?;
                        buf.push(escaped);
                        self.pos += 2;
                    }
                    Some(b) => {
                        if let Some(buf) = owned.as_mut() {
                            buf.push(b);
                        }
                        self.pos += 1;
                    }
                }
            }
            let text = match owned {
                Some(buf) => Cow::Owned(buf),
                None => Cow::Borrowed(&self.s[start..self.pos]),
            };
            self.pos += 1; // closing quote
            (text, false)
        } else {
            let start = self.pos;
            let mut owned: Option<Vec<u8>> = None;
            // Bytes up to here came from an escape and survive trimming.
            let mut protected = 0;
            loop {
                match self.peek() {
                    None => return Err(Fail::Syntax("unterminated array")),
                    Some(b) if b == self.delimiter || b == b'}' => break,
                    Some(b'{' | b'"') => return Err(Fail::Syntax("unexpected '{' or '\"'")),
                    Some(b'\\') => {
                        let buf = owned.get_or_insert_with(|| self.s[start..self.pos].to_vec());
                        let escaped = *self
                            .s
                            .get(self.pos + 1)
                            .ok_or(Fail::Syntax("backslash at end of input"))?;
                        buf.push(escaped);
                        protected = buf.len();
                        self.pos += 2;
                    }
                    Some(b) => {
                        if let Some(buf) = owned.as_mut() {
                            buf.push(b);
                        }
                        self.pos += 1;
                    }
                }
            }
            match owned {
                Some(mut buf) => {
                    while buf.len() > protected && buf.last().is_some_and(|&b| is_space(b)) {
                        buf.pop();
                    }
                    (Cow::Owned(buf), false)
                }
                None => {
                    let mut end = self.pos;
                    while end > start && is_space(self.s[end - 1]) {
                        end -= 1;
                    }
                    (Cow::Borrowed(&self.s[start..end]), true)
                }
            }
        };
        if may_be_null && text.eq_ignore_ascii_case(b"NULL") {
            self.elements.push(None);
        } else {
            let value = text_at(self.reg, self.element_oid, &text, self.depth + 1)?;
            self.elements.push(Some(value));
        }
        Ok(())
    }
}

/// Parses `array_out` text.
pub(crate) fn parse_text(
    reg: &TypeRegistry,
    element_oid: u32,
    s: &[u8],
    depth: usize,
) -> Result<Array, Fail> {
    let delimiter = reg.delimiter_of(element_oid);
    let mut p = TextParser {
        reg,
        element_oid,
        delimiter,
        s,
        pos: 0,
        depth,
        dims: [None; MAX_DIMS],
        leaf_level: None,
        elements: Vec::new(),
    };
    p.skip_space();
    let declared = if p.peek() == Some(b'[') {
        let d = p.decoration()?;
        p.skip_space();
        Some(d)
    } else {
        None
    };
    if p.peek() != Some(b'{') {
        return Err(Fail::Syntax("expected '{'"));
    }
    p.level(0)?;
    p.skip_space();
    if p.pos != s.len() {
        return Err(Fail::Syntax("text after the closing '}'"));
    }
    // Levels 0..=leaf were all closed at least once; deeper ones never opened.
    let lens: Vec<u32> = match p.leaf_level {
        None => Vec::new(),
        Some(leaf) => p.dims[..=leaf].iter().map(|d| d.unwrap_or(0)).collect(),
    };
    let dims = match declared {
        None => lens
            .iter()
            .map(|&len| ArrayDim {
                len,
                lower_bound: 1,
            })
            .collect(),
        Some(bounds) => {
            if lens.is_empty() {
                return Err(Fail::Syntax("dimensions given for an empty array"));
            }
            if bounds.len() != lens.len() {
                return Err(Fail::Syntax("declared dimensions do not match the array"));
            }
            bounds
                .iter()
                .zip(&lens)
                .map(|(&(lower, upper), &len)| {
                    if i64::from(upper) - i64::from(lower) + 1 != i64::from(len) {
                        Err(Fail::Syntax("declared dimensions do not match the array"))
                    } else {
                        Ok(ArrayDim {
                            len,
                            lower_bound: lower,
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(Array {
        element_type: element_oid,
        dims,
        elements: p.elements,
        delimiter,
    })
}

/// Decodes `array_send` binary.
pub(crate) fn parse_binary(
    reg: &TypeRegistry,
    element_oid: u32,
    b: &[u8],
    depth: usize,
) -> Result<Array, Fail> {
    let mut r = Reader { b, pos: 0 };
    let ndim = r.i32()?;
    let has_nulls = r.i32()?;
    let _sent_element_oid = r.i32()?;
    if !(0..=6).contains(&ndim) {
        return Err(Fail::Syntax("dimension count out of range"));
    }
    if !(0..=1).contains(&has_nulls) {
        return Err(Fail::Syntax("bad has-NULLs flag"));
    }
    let mut dims = Vec::new();
    let mut total: u64 = 1;
    for _ in 0..ndim {
        let len = r.i32()?;
        let lower_bound = r.i32()?;
        let len = u32::try_from(len)
            .ok()
            .filter(|&l| l > 0)
            .ok_or(Fail::Syntax("bad dimension length"))?;
        if i64::from(lower_bound) + i64::from(len) - 1 > i64::from(i32::MAX) {
            return Err(Fail::Syntax("upper bound out of range"));
        }
        total = total.saturating_mul(u64::from(len));
        dims.push(ArrayDim { len, lower_bound });
    }
    if ndim == 0 {
        total = 0;
    }
    // Every element takes at least its 4-byte length: refuse counts the input
    // cannot hold before allocating for them.
    let remaining = (b.len() - r.pos) as u64;
    if total > remaining / 4 {
        return Err(Fail::Syntax("more elements than the data holds"));
    }
    let mut elements = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let len = r.i32()?;
        if len == -1 {
            if has_nulls == 0 {
                return Err(Fail::Syntax(
                    "NULL element in an array flagged without NULLs",
                ));
            }
            elements.push(None);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| Fail::Syntax("bad element length"))?;
        let bytes = r.take(len)?;
        elements.push(Some(binary_at(reg, element_oid, bytes, depth + 1)?));
    }
    if r.pos != b.len() {
        return Err(Fail::Syntax("bytes after the last element"));
    }
    Ok(Array {
        element_type: element_oid,
        dims,
        elements,
        delimiter: reg.delimiter_of(element_oid),
    })
}
