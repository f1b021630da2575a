//! The two entry points, and the dispatch from type OID to decoder.
//!
//! ```text
//!  type OID ──▶ built-in scalar? ──yes──▶ scalar decoder (no map lookup)
//!                    │no
//!                    ▼
//!              registry lookup ──▶ array / range / multirange ──▶ element decoder (recursive)
//!                    │             domain ──▶ base type (recursive)
//!                    │             enum ──▶ label
//!                    ▼             composite / opaque ──▶ Value::Other
//!                 unknown ──▶ Value::Other (text) or UnsupportedBinary (binary)
//! ```
//!
//! Recursion (domains over domains, arrays of ranges, a registry with a cycle) is
//! bounded by [`MAX_DEPTH`], so hostile input or a bad registration fails with an
//! error instead of a stack overflow.

use crate::error::{Format, ValueError, describe_input};
use crate::registry::{Scalar, TypeKind, TypeRegistry, builtin_scalar};
use crate::value::{EnumValue, Other, Value};
use crate::{
    array, bits, bytea, datetime, float, interval, money, network, numeric, range, scalar,
};

/// How deep decoders may recurse through domains and container types.
pub(crate) const MAX_DEPTH: usize = 16;

/// `xml`: no typed decoder, but its binary format is its text.
pub(crate) const XML_OID: u32 = 142;

/// Decodes a column value in PostgreSQL's text format.
///
/// `type_modifier` is the column's `atttypmod` from the Relation message. PostgreSQL's
/// text output already reflects it (`numeric(10,3)` prints three decimals, `bpchar`
/// is padded), so it is accepted for symmetry with the catalog and future use, and
/// currently ignored.
///
/// Never fails for a type the registry does not know, or knows only by name: that
/// becomes [`Value::Other`].
#[inline]
pub fn decode_text(
    registry: &TypeRegistry,
    type_oid: u32,
    type_modifier: i32,
    text: &[u8],
) -> Result<Value, ValueError> {
    let _ = type_modifier;
    text_at(registry, type_oid, text, 0)
}

/// Decodes a column value in PostgreSQL's binary format (the type's send
/// function), as pgoutput sends it with `binary = true`.
///
/// Supported: every built-in scalar that [`Value`] has a variant for, enums,
/// domains over supported types, arrays, ranges and multiranges of supported
/// types, and `xml`. Anything else returns [`ValueError::UnsupportedBinary`];
/// [`TypeRegistry::supports_binary`] tells in advance.
pub fn decode_binary(
    registry: &TypeRegistry,
    type_oid: u32,
    type_modifier: i32,
    bytes: &[u8],
) -> Result<Value, ValueError> {
    let _ = type_modifier;
    binary_at(registry, type_oid, bytes, 0)
}

/// A failure inside a container decoder: its own syntax error (reported against
/// the container's type and whole input) or an element's error (kept as is, since
/// it names the element's type and text).
#[derive(Debug)]
pub(crate) enum Fail {
    Syntax(&'static str),
    Nested(ValueError),
}

impl From<ValueError> for Fail {
    fn from(e: ValueError) -> Self {
        Fail::Nested(e)
    }
}

#[cold]
fn malformed(
    reg: &TypeRegistry,
    oid: u32,
    format: Format,
    input: &[u8],
    reason: &str,
) -> ValueError {
    ValueError::Malformed {
        type_name: type_name(reg, oid),
        type_oid: oid,
        format,
        reason: reason.to_owned(),
        input: describe_input(format, input),
    }
}

fn type_name(reg: &TypeRegistry, oid: u32) -> String {
    reg.type_name(oid)
        .map_or_else(|| format!("oid {oid}"), str::to_owned)
}

fn settle<T>(
    reg: &TypeRegistry,
    oid: u32,
    format: Format,
    input: &[u8],
    r: Result<T, Fail>,
) -> Result<T, ValueError> {
    r.map_err(|f| match f {
        Fail::Syntax(reason) => malformed(reg, oid, format, input, reason),
        Fail::Nested(e) => e,
    })
}

fn other(reg: &TypeRegistry, oid: u32, text: &[u8]) -> Value {
    Value::Other(Other {
        type_oid: oid,
        type_name: reg.get(oid).map(|t| t.name.clone()),
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

fn too_deep(reg: &TypeRegistry, oid: u32, format: Format, input: &[u8]) -> ValueError {
    malformed(reg, oid, format, input, "types nested too deeply")
}

/// The subtype of the range type a multirange is made of.
fn multirange_subtype(reg: &TypeRegistry, range_oid: u32) -> Option<u32> {
    match reg.get(range_oid).map(|t| &t.kind) {
        Some(TypeKind::Range { subtype }) => Some(*subtype),
        _ => None,
    }
}

/// Text decoding at a recursion depth.
///
/// Inlined (also across crates) so that a built-in scalar, nearly every column, goes
/// straight from the caller's loop to its parser; everything else is out of line.
#[inline]
pub(crate) fn text_at(
    reg: &TypeRegistry,
    oid: u32,
    input: &[u8],
    depth: usize,
) -> Result<Value, ValueError> {
    match builtin_scalar(oid) {
        Some(s) => {
            scalar_text(s, input).map_err(|reason| malformed(reg, oid, Format::Text, input, reason))
        }
        None => registered_text(reg, oid, input, depth),
    }
}

/// Text decoding of a type that is not a built-in scalar: through the registry.
fn registered_text(
    reg: &TypeRegistry,
    oid: u32,
    input: &[u8],
    depth: usize,
) -> Result<Value, ValueError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(reg, oid, Format::Text, input));
    }
    let Some(info) = reg.get(oid) else {
        return Ok(other(reg, oid, input));
    };
    let fmt = Format::Text;
    match &info.kind {
        TypeKind::Scalar(s) => {
            scalar_text(*s, input).map_err(|reason| malformed(reg, oid, fmt, input, reason))
        }
        TypeKind::Array { element } => settle(
            reg,
            oid,
            fmt,
            input,
            array::parse_text(reg, *element, input, depth),
        )
        .map(Value::Array),
        TypeKind::Range { subtype } => settle(
            reg,
            oid,
            fmt,
            input,
            range::parse_text(reg, *subtype, input, depth),
        )
        .map(Value::Range),
        TypeKind::Multirange { range } => match multirange_subtype(reg, *range) {
            Some(subtype) => settle(
                reg,
                oid,
                fmt,
                input,
                range::parse_multirange_text(reg, subtype, input, depth),
            )
            .map(Value::Multirange),
            None => Ok(other(reg, oid, input)),
        },
        TypeKind::Enum => match std::str::from_utf8(input) {
            Ok(label) => Ok(Value::Enum(EnumValue {
                type_name: info.name.clone(),
                label: label.to_owned(),
            })),
            Err(_) => Err(malformed(reg, oid, fmt, input, "label is not UTF-8")),
        },
        TypeKind::Domain { base } => text_at(reg, *base, input, depth + 1),
        TypeKind::Composite | TypeKind::Opaque => Ok(other(reg, oid, input)),
    }
}

fn utf8(input: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(input).map_err(|_| "not valid UTF-8")
}

/// `int2out`, `int4out`, `int8out` or `oidout` text: an optional sign and decimal digits.
/// Read straight from the bytes (anything but ASCII is an error anyway), which spares the
/// UTF-8 check `str::parse` would need.
fn int<T: TryFrom<i64>>(input: &[u8]) -> Result<T, &'static str> {
    const NOT_AN_INTEGER: &str = "not an integer in range";
    let (negative, digits) = match input {
        [b'-', digits @ ..] => (true, digits),
        [b'+', digits @ ..] => (false, digits),
        digits => (false, digits),
    };
    if digits.is_empty() {
        return Err(NOT_AN_INTEGER);
    }
    // Accumulated with the final sign, so that `i64::MIN` does not overflow.
    let mut value: i64 = 0;
    for &byte in digits {
        let digit = i64::from(byte.wrapping_sub(b'0'));
        if digit > 9 {
            return Err(NOT_AN_INTEGER);
        }
        let shifted = value.checked_mul(10);
        value = if negative {
            shifted.and_then(|v| v.checked_sub(digit))
        } else {
            shifted.and_then(|v| v.checked_add(digit))
        }
        .ok_or(NOT_AN_INTEGER)?;
    }
    T::try_from(value).map_err(|_| NOT_AN_INTEGER)
}

/// A built-in scalar from its text.
#[inline]
fn scalar_text(s: Scalar, input: &[u8]) -> Result<Value, &'static str> {
    Ok(match s {
        Scalar::Bool => Value::Bool(scalar::parse_bool(input)?),
        Scalar::Int2 => Value::Int2(int(input)?),
        Scalar::Int4 => Value::Int4(int(input)?),
        Scalar::Int8 => Value::Int8(int(input)?),
        Scalar::Oid => Value::Oid(int(input)?),
        Scalar::Float4 => Value::Float4(float::parse_f32(utf8(input)?)?),
        Scalar::Float8 => Value::Float8(float::parse_f64(utf8(input)?)?),
        Scalar::Numeric => Value::Numeric(numeric::parse_text(utf8(input)?)?),
        Scalar::Text => Value::Text(utf8(input)?.to_owned()),
        Scalar::Char => Value::Char(scalar::parse_char(input)?),
        Scalar::Bytea => Value::Bytea(bytea::parse_bytea(input)?),
        Scalar::Uuid => Value::Uuid(scalar::parse_uuid(utf8(input)?)?),
        Scalar::Json => Value::Json(utf8(input)?.to_owned()),
        Scalar::Jsonb => Value::Jsonb(utf8(input)?.to_owned()),
        Scalar::Date => Value::Date(datetime::parse_date(input)?),
        Scalar::Time => Value::Time(datetime::parse_time(input)?),
        Scalar::TimeTz => Value::TimeTz(datetime::parse_timetz(input)?),
        Scalar::Timestamp => Value::Timestamp(datetime::parse_timestamp(input, false)?),
        Scalar::TimestampTz => Value::TimestampTz(datetime::parse_timestamp(input, true)?),
        Scalar::Interval => Value::Interval(interval::parse_interval(utf8(input)?)?),
        Scalar::Inet => Value::Inet(network::parse_inet(utf8(input)?)?),
        Scalar::Cidr => Value::Cidr(network::parse_inet(utf8(input)?)?),
        Scalar::MacAddr => Value::MacAddr(network::parse_mac::<6>(utf8(input)?)?),
        Scalar::MacAddr8 => Value::MacAddr8(network::parse_mac::<8>(utf8(input)?)?),
        Scalar::Money => {
            let text = utf8(input)?;
            Value::Money(money::Money {
                minor_units: money::parse_c_locale(text),
                text: text.to_owned(),
            })
        }
        Scalar::Bit => Value::Bit(bits::parse_bits(input)?),
        Scalar::VarBit => Value::VarBit(bits::parse_bits(input)?),
    })
}

/// Binary decoding at a recursion depth.
pub(crate) fn binary_at(
    reg: &TypeRegistry,
    oid: u32,
    input: &[u8],
    depth: usize,
) -> Result<Value, ValueError> {
    let fmt = Format::Binary;
    if let Some(s) = builtin_scalar(oid) {
        return scalar_binary(s, input).map_err(|reason| malformed(reg, oid, fmt, input, reason));
    }
    if depth > MAX_DEPTH {
        return Err(too_deep(reg, oid, fmt, input));
    }
    let unsupported = || ValueError::UnsupportedBinary {
        type_name: type_name(reg, oid),
        type_oid: oid,
    };
    let Some(info) = reg.get(oid) else {
        return Err(unsupported());
    };
    match &info.kind {
        TypeKind::Scalar(s) => {
            scalar_binary(*s, input).map_err(|reason| malformed(reg, oid, fmt, input, reason))
        }
        TypeKind::Array { element } => settle(
            reg,
            oid,
            fmt,
            input,
            array::parse_binary(reg, *element, input, depth),
        )
        .map(Value::Array),
        TypeKind::Range { subtype } => settle(
            reg,
            oid,
            fmt,
            input,
            range::parse_binary(reg, *subtype, input, depth),
        )
        .map(Value::Range),
        TypeKind::Multirange { range } => match multirange_subtype(reg, *range) {
            Some(subtype) => settle(
                reg,
                oid,
                fmt,
                input,
                range::parse_multirange_binary(reg, subtype, input, depth),
            )
            .map(Value::Multirange),
            None => Err(unsupported()),
        },
        TypeKind::Enum => match std::str::from_utf8(input) {
            Ok(label) => Ok(Value::Enum(EnumValue {
                type_name: info.name.clone(),
                label: label.to_owned(),
            })),
            Err(_) => Err(malformed(reg, oid, fmt, input, "label is not UTF-8")),
        },
        TypeKind::Domain { base } => binary_at(reg, *base, input, depth + 1),
        TypeKind::Opaque if oid == XML_OID => Ok(other(reg, oid, input)),
        TypeKind::Composite | TypeKind::Opaque => Err(unsupported()),
    }
}

fn fixed<const N: usize>(input: &[u8]) -> Result<[u8; N], &'static str> {
    input.try_into().map_err(|_| "wrong length")
}

/// A built-in scalar from its binary form.
fn scalar_binary(s: Scalar, input: &[u8]) -> Result<Value, &'static str> {
    Ok(match s {
        Scalar::Bool => Value::Bool(fixed::<1>(input)?[0] != 0),
        Scalar::Int2 => Value::Int2(i16::from_be_bytes(fixed(input)?)),
        Scalar::Int4 => Value::Int4(i32::from_be_bytes(fixed(input)?)),
        Scalar::Int8 => Value::Int8(i64::from_be_bytes(fixed(input)?)),
        Scalar::Oid => Value::Oid(u32::from_be_bytes(fixed(input)?)),
        Scalar::Float4 => Value::Float4(f32::from_be_bytes(fixed(input)?)),
        Scalar::Float8 => Value::Float8(f64::from_be_bytes(fixed(input)?)),
        Scalar::Numeric => Value::Numeric(numeric::parse_binary(input)?),
        Scalar::Text => Value::Text(utf8(input)?.to_owned()),
        Scalar::Char => Value::Char(fixed::<1>(input)?[0]),
        Scalar::Bytea => Value::Bytea(input.to_vec()),
        Scalar::Uuid => Value::Uuid(fixed(input)?),
        Scalar::Json => Value::Json(utf8(input)?.to_owned()),
        Scalar::Jsonb => match input.split_first() {
            Some((1, text)) => Value::Jsonb(utf8(text)?.to_owned()),
            Some(_) => return Err("unknown jsonb binary version"),
            None => return Err("empty"),
        },
        Scalar::Date => Value::Date(datetime::date_from_binary(i32::from_be_bytes(fixed(
            input,
        )?))?),
        Scalar::Time => Value::Time(datetime::time_from_binary(i64::from_be_bytes(fixed(
            input,
        )?))?),
        Scalar::TimeTz => {
            let b: [u8; 12] = fixed(input)?;
            let (time, zone) = b.split_at(8);
            Value::TimeTz(datetime::timetz_from_binary(
                i64::from_be_bytes(fixed(time)?),
                i32::from_be_bytes(fixed(zone)?),
            )?)
        }
        Scalar::Timestamp => Value::Timestamp(datetime::timestamp_from_binary(
            i64::from_be_bytes(fixed(input)?),
        )?),
        Scalar::TimestampTz => Value::TimestampTz(datetime::timestamp_from_binary(
            i64::from_be_bytes(fixed(input)?),
        )?),
        Scalar::Interval => {
            let b: [u8; 16] = fixed(input)?;
            Value::Interval(interval::Interval {
                micros: i64::from_be_bytes(fixed(&b[..8])?),
                days: i32::from_be_bytes(fixed(&b[8..12])?),
                months: i32::from_be_bytes(fixed(&b[12..])?),
            })
        }
        Scalar::Inet => Value::Inet(network::inet_from_binary(input)?.0),
        Scalar::Cidr => Value::Cidr(network::inet_from_binary(input)?.0),
        Scalar::MacAddr => Value::MacAddr(fixed(input)?),
        Scalar::MacAddr8 => Value::MacAddr8(fixed(input)?),
        Scalar::Money => Value::Money(money::Money::from_minor_units(i64::from_be_bytes(fixed(
            input,
        )?))),
        Scalar::Bit => Value::Bit(bits::bits_from_binary(input)?),
        Scalar::VarBit => Value::VarBit(bits::bits_from_binary(input)?),
    })
}

/// A big-endian reader over a binary value, for the container decoders.
pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Fail> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(Fail::Syntax("truncated"))?;
        let out = &self.b[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, Fail> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| Fail::Syntax("truncated"))?;
        Ok(i32::from_be_bytes(b))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Fail> {
        Ok(self.take(1)?[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_as_str_parse_does() {
        for text in [
            "0",
            "-0",
            "+7",
            "0042",
            "-32768",
            "32767",
            "32768",
            "-2147483648",
            "2147483647",
            "2147483648",
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "4294967295",
            "4294967296",
            "",
            "-",
            "+",
            "+-1",
            "1 ",
            " 1",
            "1e3",
            "0x10",
            "1_000",
            "١",
        ] {
            let bytes = text.as_bytes();
            assert_eq!(int::<i16>(bytes).ok(), text.parse::<i16>().ok(), "{text:?}");
            assert_eq!(int::<i32>(bytes).ok(), text.parse::<i32>().ok(), "{text:?}");
            assert_eq!(int::<i64>(bytes).ok(), text.parse::<i64>().ok(), "{text:?}");
            // `oid`: `str::parse` refuses "-0", which PostgreSQL's `oidin` takes as 0.
            let oid = text.parse::<u32>().ok().or((text == "-0").then_some(0));
            assert_eq!(int::<u32>(bytes).ok(), oid, "{text:?}");
        }
        assert_eq!(int::<i32>(b"\xff1"), Err("not an integer in range"));
    }
}
