//! The typed value a column decodes to, and its rendering back to PostgreSQL text.
//!
//! NULL and "unchanged TOAST" are properties of a tuple column, not of a value, so
//! they are not here: the tuple layer wraps a [`Value`] in its own column enum.
//! NULL *elements* of arrays are values' business, hence `Option<Value>` there.
//!
//! ## Rendering
//!
//! [`Value::to_pg_text`] (also `Display`) prints what PostgreSQL's output function
//! prints under the settings a source should use (`DateStyle = ISO`,
//! `IntervalStyle = postgres`, `TimeZone = UTC`, `extra_float_digits >= 1`,
//! `bytea_output = hex`, `lc_monetary = C`). It is canonical: two values that
//! PostgreSQL considers the same representation render the same, which makes it
//! usable for keys. `timestamptz` always renders in UTC (`+00`).
//!
//! ## Equality
//!
//! `PartialEq` is representational: floats compare by bit pattern, except that all
//! NaNs are equal (PostgreSQL treats NaN as one value), so `-0.0 != 0.0` and
//! `Value` is also `Eq`.

use std::fmt::{self, Write};
use std::sync::Arc;

use crate::bits::BitString;
use crate::datetime::{Date, Time, TimeTz, Timestamp};
use crate::interval::Interval;
use crate::money::Money;
use crate::network::{Inet, write_mac};
use crate::numeric::Numeric;

/// A decoded PostgreSQL value.
#[derive(Debug, Clone)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `int2`.
    Int2(i16),
    /// `int4`.
    Int4(i32),
    /// `int8`.
    Int8(i64),
    /// `oid`.
    Oid(u32),
    /// `float4`, NaN and infinities included.
    Float4(f32),
    /// `float8`, NaN and infinities included.
    Float8(f64),
    /// `numeric` at full precision.
    Numeric(Numeric),
    /// `text`, `varchar`, `bpchar` (with its padding, as PostgreSQL prints it),
    /// `name`.
    Text(String),
    /// `"char"`: one byte (0 means the empty value).
    Char(u8),
    /// `bytea`.
    Bytea(Vec<u8>),
    /// `uuid`.
    Uuid([u8; 16]),
    /// `json`: the text exactly as stored (PostgreSQL keeps whitespace, key order
    /// and duplicate keys). Not re-validated: PostgreSQL validated it on input.
    Json(String),
    /// `jsonb`: PostgreSQL's canonical text for it. Not re-validated.
    Jsonb(String),
    /// `date`.
    Date(Date),
    /// `time`.
    Time(Time),
    /// `timetz`, with its UTC offset.
    TimeTz(TimeTz),
    /// `timestamp` (no time zone).
    Timestamp(Timestamp),
    /// `timestamptz`, normalised to UTC.
    TimestampTz(Timestamp),
    /// `interval`.
    Interval(Interval),
    /// `inet`.
    Inet(Inet),
    /// `cidr`.
    Cidr(Inet),
    /// `macaddr`.
    MacAddr([u8; 6]),
    /// `macaddr8`.
    MacAddr8([u8; 8]),
    /// `money`.
    Money(Money),
    /// `bit(n)`.
    Bit(BitString),
    /// `varbit(n)`.
    VarBit(BitString),
    /// A value of a user-defined enum.
    Enum(EnumValue),
    /// An array of any element type.
    Array(Array),
    /// A range.
    Range(Range),
    /// A multirange: its ranges in PostgreSQL's (sorted, non-overlapping) order.
    Multirange(Vec<Range>),
    /// Any other type (unknown OIDs, composites, geometric types, extension types
    /// such as `citext` or `hstore`): PostgreSQL's text, with the type's name when
    /// the registry knows it.
    Other(Other),
}

/// A value of an enum type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumValue {
    /// The enum type's name, as registered.
    pub type_name: Arc<str>,
    /// The label.
    pub label: String,
}

/// A value of a type without a typed decoder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Other {
    /// The type's OID.
    pub type_oid: u32,
    /// The type's name, when the registry knows the OID.
    pub type_name: Option<Arc<str>>,
    /// PostgreSQL's text for the value. Input that is not UTF-8 is converted
    /// lossily (U+FFFD): a source should use `client_encoding = UTF8`.
    pub text: String,
}

/// One dimension of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayDim {
    /// Number of elements along this dimension (at least 1).
    pub len: u32,
    /// Index of the first element (1 unless the array was built otherwise).
    pub lower_bound: i32,
}

/// An array: any number of dimensions, elements in row-major order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Array {
    /// The element type's OID.
    pub element_type: u32,
    /// The dimensions, outermost first; empty for an empty array (`{}`).
    pub dims: Vec<ArrayDim>,
    /// The elements, row-major; `None` is a NULL element. Its length is the
    /// product of the dimension lengths.
    pub elements: Vec<Option<Value>>,
    /// The element type's array delimiter (`,`; `;` for `box`), needed to render
    /// the text form.
    pub delimiter: u8,
}

/// A range value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Range {
    /// `empty`.
    Empty,
    /// A non-empty range.
    Bounds {
        /// The lower bound.
        lower: RangeBound,
        /// The upper bound.
        upper: RangeBound,
    },
}

/// One bound of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeBound {
    /// No bound (minus or plus infinity for the range; distinct from a bound whose
    /// value is the `infinity` of a date or timestamp).
    Unbounded,
    /// `[` or `]`: the value is in the range.
    Inclusive(Box<Value>),
    /// `(` or `)`: the value is not in the range.
    Exclusive(Box<Value>),
}

fn same_f32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn same_f64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value as V;
        match (self, other) {
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int2(a), V::Int2(b)) => a == b,
            (V::Int4(a), V::Int4(b)) => a == b,
            (V::Int8(a), V::Int8(b)) => a == b,
            (V::Oid(a), V::Oid(b)) => a == b,
            (V::Float4(a), V::Float4(b)) => same_f32(*a, *b),
            (V::Float8(a), V::Float8(b)) => same_f64(*a, *b),
            (V::Numeric(a), V::Numeric(b)) => a == b,
            (V::Text(a), V::Text(b)) => a == b,
            (V::Char(a), V::Char(b)) => a == b,
            (V::Bytea(a), V::Bytea(b)) => a == b,
            (V::Uuid(a), V::Uuid(b)) => a == b,
            (V::Json(a), V::Json(b)) => a == b,
            (V::Jsonb(a), V::Jsonb(b)) => a == b,
            (V::Date(a), V::Date(b)) => a == b,
            (V::Time(a), V::Time(b)) => a == b,
            (V::TimeTz(a), V::TimeTz(b)) => a == b,
            (V::Timestamp(a), V::Timestamp(b)) => a == b,
            (V::TimestampTz(a), V::TimestampTz(b)) => a == b,
            (V::Interval(a), V::Interval(b)) => a == b,
            (V::Inet(a), V::Inet(b)) => a == b,
            (V::Cidr(a), V::Cidr(b)) => a == b,
            (V::MacAddr(a), V::MacAddr(b)) => a == b,
            (V::MacAddr8(a), V::MacAddr8(b)) => a == b,
            (V::Money(a), V::Money(b)) => a == b,
            (V::Bit(a), V::Bit(b)) => a == b,
            (V::VarBit(a), V::VarBit(b)) => a == b,
            (V::Enum(a), V::Enum(b)) => a == b,
            (V::Array(a), V::Array(b)) => a == b,
            (V::Range(a), V::Range(b)) => a == b,
            (V::Multirange(a), V::Multirange(b)) => a == b,
            (V::Other(a), V::Other(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Value {
    /// PostgreSQL's canonical text for the value (see the module docs for the
    /// settings it assumes).
    pub fn to_pg_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => f.write_str(if *b { "t" } else { "f" }),
            Value::Int2(v) => write!(f, "{v}"),
            Value::Int4(v) => write!(f, "{v}"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Oid(v) => write!(f, "{v}"),
            Value::Float4(v) => f.write_str(&crate::float::format_f32(*v)),
            Value::Float8(v) => f.write_str(&crate::float::format_f64(*v)),
            Value::Numeric(n) => write!(f, "{n}"),
            Value::Text(s) | Value::Json(s) | Value::Jsonb(s) => f.write_str(s),
            Value::Char(c) => crate::scalar::write_char(f, *c),
            Value::Bytea(b) => crate::bytea::write_bytea_hex(f, b),
            Value::Uuid(u) => crate::scalar::write_uuid(f, u),
            Value::Date(d) => write!(f, "{d}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::TimeTz(t) => write!(f, "{t}"),
            Value::Timestamp(t) => t.write_iso(f, None),
            Value::TimestampTz(t) => t.write_iso(f, Some(0)),
            Value::Interval(i) => write!(f, "{i}"),
            Value::Inet(i) => i.write_pg(f, false),
            Value::Cidr(i) => i.write_pg(f, true),
            Value::MacAddr(m) => write_mac(f, m),
            Value::MacAddr8(m) => write_mac(f, m),
            Value::Money(m) => f.write_str(&m.text),
            Value::Bit(b) | Value::VarBit(b) => write!(f, "{b}"),
            Value::Enum(e) => f.write_str(&e.label),
            Value::Array(a) => write!(f, "{a}"),
            Value::Range(r) => write!(f, "{r}"),
            Value::Multirange(ranges) => {
                f.write_char('{')?;
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{r}")?;
                }
                f.write_char('}')
            }
            Value::Other(o) => f.write_str(&o.text),
        }
    }
}

impl fmt::Display for Array {
    /// `array_out`: `{}` when empty, `[lb:ub]...=` in front when any lower bound is
    /// not 1, elements quoted when they must be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dims.is_empty() {
            return f.write_str("{}");
        }
        if self.dims.iter().any(|d| d.lower_bound != 1) {
            for d in &self.dims {
                let upper = i64::from(d.lower_bound) + i64::from(d.len) - 1;
                write!(f, "[{}:{}]", d.lower_bound, upper)?;
            }
            f.write_char('=')?;
        }
        let mut next = 0;
        write_array_level(f, self, 0, &mut next)
    }
}

fn write_array_level(
    f: &mut fmt::Formatter<'_>,
    array: &Array,
    level: usize,
    next: &mut usize,
) -> fmt::Result {
    let delimiter = char::from(array.delimiter);
    f.write_char('{')?;
    let len = array.dims.get(level).map_or(0, |d| d.len);
    for i in 0..len {
        if i > 0 {
            f.write_char(delimiter)?;
        }
        if level + 1 < array.dims.len() {
            write_array_level(f, array, level + 1, next)?;
        } else {
            match array.elements.get(*next) {
                Some(Some(v)) => write_array_element(f, &v.to_pg_text(), array.delimiter)?,
                // A NULL, or an element missing from a malformed hand-built array.
                Some(None) | None => f.write_str("NULL")?,
            }
            *next += 1;
        }
    }
    f.write_char('}')
}

/// `array_out`'s quoting: needed for the empty string, `NULL` in any case, and
/// text containing braces, quotes, backslashes, the delimiter or white space.
fn write_array_element(f: &mut fmt::Formatter<'_>, text: &str, delimiter: u8) -> fmt::Result {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text.bytes().any(|b| {
            matches!(
                b,
                b'{' | b'}' | b'"' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
            ) || b == delimiter
        });
    if !needs_quotes {
        return f.write_str(text);
    }
    f.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl fmt::Display for Range {
    /// `range_out`: `empty`, or brackets around the bounds, each quoted when it
    /// must be (quotes and backslashes doubled inside).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Range::Empty => f.write_str("empty"),
            Range::Bounds { lower, upper } => {
                f.write_char(if matches!(lower, RangeBound::Inclusive(_)) {
                    '['
                } else {
                    '('
                })?;
                write_range_bound(f, lower)?;
                f.write_char(',')?;
                write_range_bound(f, upper)?;
                f.write_char(if matches!(upper, RangeBound::Inclusive(_)) {
                    ']'
                } else {
                    ')'
                })
            }
        }
    }
}

fn write_range_bound(f: &mut fmt::Formatter<'_>, bound: &RangeBound) -> fmt::Result {
    let value = match bound {
        RangeBound::Unbounded => return Ok(()),
        RangeBound::Inclusive(v) | RangeBound::Exclusive(v) => v,
    };
    let text = value.to_pg_text();
    let needs_quotes = text.is_empty()
        || text.bytes().any(|b| {
            matches!(
                b,
                b'"' | b'\\'
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b','
                    | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
                    | 0x0b
                    | 0x0c
            )
        });
    if !needs_quotes {
        return f.write_str(&text);
    }
    f.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char(c)?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}
