//! The canonical text of a [`Value`]: what a key column contributes to the Kafka key.
//!
//! The rule for every kind is "PostgreSQL's own output function, run with
//! `DateStyle = ISO`, `IntervalStyle = postgres`, `TimeZone = UTC`,
//! `extra_float_digits = 1` and `bytea_output = hex`", rendered here from the typed
//! value (never taken from the server's text, whose form depends on session settings).
//! The exact rules, precise enough to reimplement, are on [`canonical_text`].

use std::fmt::Write as _;

use super::ValueTextError;
use crate::v1::value::Kind;
use crate::v1::{
    Array, BitString, Date, Inet, Infinity, Interval, Numeric, NumericSpecial, Range, Time, TimeTz,
    Timestamp, Value,
};

/// Microseconds per second, minute, hour, day.
const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;

/// PostgreSQL's `MAXDIM`: no array has more dimensions.
const MAX_ARRAY_DIMENSIONS: usize = 6;

/// The canonical text of a value; `None` for SQL NULL.
///
/// This is PostgreSQL's text output for the value under `DateStyle = ISO`,
/// `IntervalStyle = postgres`, `TimeZone = UTC`, `extra_float_digits = 1` and
/// `bytea_output = hex`, so a key reads as `psql` shows it, and the same row gives the
/// same text whatever the source's session settings were. Kind by kind:
///
/// | kind | text |
/// |---|---|
/// | `null` | none (SQL NULL; the key encoding writes JSON `null`) |
/// | `unchanged_toast` | error: the value was not sent |
/// | `boolean` | `t` or `f` |
/// | `integer`, `oid` | decimal, `-` for negatives, no `+`, no leading zeros |
/// | `float8`, `float4` | see *Floats* below |
/// | `numeric` | `decimal` as carried (validated: `-?(0\|[1-9][0-9]*)(\.[0-9]+)?`, not negative zero); `NaN`, `Infinity`, `-Infinity` |
/// | `text`, `json`, `jsonb` | the string itself |
/// | `bytea` | `\x` then two lowercase hex digits per byte |
/// | `uuid` | 16 bytes as lowercase `8-4-4-4-12` hex |
/// | `date` | `YYYY-MM-DD`; `infinity`, `-infinity` |
/// | `time` | `HH:MM:SS[.ffffff]` |
/// | `timetz` | time, then the offset (see *Offsets*) |
/// | `timestamp` | `YYYY-MM-DD HH:MM:SS[.ffffff]`; `infinity`, `-infinity` |
/// | `timestamptz` | as `timestamp`, then `+00` (before any ` BC`) |
/// | `interval` | PostgreSQL's `postgres` style (see *Intervals*); `infinity`, `-infinity` |
/// | `inet` | IPv4 dotted decimal or IPv6 (see *IPv6*), then `/n` unless n is 32 (IPv4) or 128 (IPv6) |
/// | `cidr` | as `inet`, but `/n` always |
/// | `macaddr` | 6 or 8 bytes as lowercase hex pairs joined by `:` |
/// | `money` | `text` as carried (PostgreSQL's output in the server's `lc_monetary`) |
/// | `bit_string` | one `0` or `1` per bit |
/// | `array` | PostgreSQL's array literal (see *Arrays*) |
/// | `range` | `empty`, or PostgreSQL's range literal (see *Ranges*) |
/// | `multirange` | `{` + the ranges' texts joined by `,` + `}` |
/// | `other` | `text` as carried |
///
/// **Fractional seconds** (`.ffffff`): the microseconds as six digits with trailing
/// zeros removed; nothing (no `.`) when they are zero.
///
/// **Dates** come from the day count in the proleptic Gregorian calendar. The year is
/// written with at least four digits (zero-padded); a year <= 0 is written as
/// `1 - year` followed by ` BC` at the very end of the text (year 0 is `0001 ... BC`).
///
/// **Offsets** (east of UTC positive): `+` or `-`, hours as two digits, then `:MM` if
/// the minutes or seconds are non-zero, then `:SS` if the seconds are non-zero
/// (`+05:30`, `-08`, `+00`).
///
/// **Intervals**: years = months / 12 and mons = months % 12 (both truncating toward
/// zero), days, and the microseconds split into hours, minutes, seconds and fraction
/// (truncating, so all share the microseconds' sign). Each non-zero of years, mons, days
/// is written as `N year`, `N mon`, `N day`, with `s` appended unless N is 1, separated
/// by a space; a positive N gets a `+` if the previous written part was negative. The
/// time part is written if it is non-zero or nothing else was: a space if something
/// precedes, `-` if any time field is negative (else `+` if the previous part was
/// negative), then |hours| with at least two digits, `:`, |minutes| two digits, `:`,
/// |seconds| two digits and the fraction. Zero is `00:00:00`.
///
/// **Floats**: NaN is `NaN`, infinities `Infinity` and `-Infinity`, zeros `0` and `-0`.
/// Otherwise the digits are the shortest decimal that lies strictly inside the value's
/// rounding interval (the open interval between the midpoints to the neighbouring
/// floats of the same width; a power of two's is narrower below), and among those of
/// that length the nearest to the value; trailing zeros dropped. With E the decimal
/// exponent of the first digit: if -4 <= E < 15 (float8) or -4 <= E < 6 (float4), they
/// are written in plain notation (`0.0001`, `123.5`, `100`); otherwise as the first
/// digit, `.` and the other digits if any, `e`, the exponent's sign, and its absolute
/// value with at least two digits (`1e+15`, `1.5e-07`, `9.3691744e+07`). This is
/// PostgreSQL's `float8out`/`float4out` (Ryu, without accepting the interval's bounds)
/// since PostgreSQL 12.
///
/// **IPv6**: eight groups of lowercase hex without leading zeros, joined by `:`. The
/// longest run of two or more zero groups (the first, on a tie) is replaced by `::`. If
/// that run starts the address and is 6 groups long, or 7 long with a last group other
/// than `1`, or 5 long followed by `ffff`, the last 32 bits are written as dotted IPv4
/// (`::1.2.3.4`, `::ffff:1.2.3.4`). This is the BIND/PostgreSQL rule.
///
/// **Arrays**: no dimensions is `{}`. If any lower bound is not 1, the text starts with
/// `[lb:ub]` per dimension (ub = lb + length - 1) and `=`. Then nested braces, one level
/// per dimension, the elements in row-major order separated by `,`. A NULL element is
/// `NULL`. Any other element is its canonical text, double-quoted if it is empty, equals
/// `NULL` ignoring ASCII case, or contains `"`, `\`, `{`, `}`, `,`, space, tab, LF, CR,
/// VT or FF; inside quotes `"` and `\` are preceded by `\`.
///
/// **Ranges**: `[` (inclusive) or `(`, the lower bound's text (nothing if unbounded), `,`,
/// the upper bound's text, `]` or `)`. A bound's text is double-quoted if it is empty or
/// contains `"`, `\`, `(`, `)`, `[`, `]`, `,`, space, tab, LF, CR, VT or FF; inside
/// quotes `"` and `\` are doubled.
///
/// # Errors
///
/// [`ValueTextError`] for `unchanged_toast`, a value with no kind set (written by a
/// newer Sluice), and a value that breaks its kind's documented invariants (a 15-byte
/// uuid, an array whose element count does not match its dimensions or that has more
/// than PostgreSQL's 6 dimensions, ...): such values cannot come from PostgreSQL, and
/// rejecting them keeps the text injective.
pub fn canonical_text(value: &Value) -> Result<Option<String>, ValueTextError> {
    let kind = value.kind.as_ref().ok_or(ValueTextError::NoKind)?;
    let text = match kind {
        Kind::Null(_) => return Ok(None),
        Kind::UnchangedToast(_) => return Err(ValueTextError::UnchangedToast),
        Kind::Boolean(b) => (if *b { "t" } else { "f" }).to_owned(),
        Kind::Integer(i) => i.to_string(),
        Kind::Oid(o) => o.to_string(),
        Kind::Float8(f) => float8_text(*f),
        Kind::Float4(f) => float4_text(*f),
        Kind::Numeric(n) => numeric_text(n)?,
        Kind::Text(s) | Kind::Json(s) | Kind::Jsonb(s) => s.clone(),
        Kind::Bytea(b) => {
            let mut out = String::with_capacity(2 + 2 * b.len());
            out.push_str("\\x");
            push_hex(&mut out, b);
            out
        }
        Kind::Uuid(b) => uuid_text(b)?,
        Kind::Date(d) => date_text(d)?,
        Kind::Time(t) => time_text(t)?,
        Kind::Timetz(t) => timetz_text(t)?,
        Kind::Timestamp(t) => timestamp_text(t, false)?,
        Kind::Timestamptz(t) => timestamp_text(t, true)?,
        Kind::Interval(i) => interval_text(i)?,
        Kind::Inet(i) => inet_text(i, false)?,
        Kind::Cidr(i) => inet_text(i, true)?,
        Kind::Macaddr(b) => macaddr_text(b)?,
        Kind::Money(m) => m.text.clone(),
        Kind::BitString(b) => bit_string_text(b)?,
        Kind::Array(a) => array_text(a)?,
        Kind::Range(r) => range_text(r)?,
        Kind::Multirange(m) => {
            let mut out = String::from("{");
            for (i, r) in m.ranges.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&range_text(r)?);
            }
            out.push('}');
            out
        }
        Kind::Other(o) => o.text.clone(),
    };
    Ok(Some(text))
}

fn malformed(kind: &'static str, reason: &'static str) -> ValueTextError {
    ValueTextError::Malformed { kind, reason }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

// ---------------------------------------------------------------------------------------
// Floats.

/// What the float rendering needs to know about `f32` and `f64`.
trait Float: Copy + PartialOrd + std::fmt::LowerExp + std::str::FromStr {
    /// Most significant digits ever needed to round-trip.
    const MAX_DIGITS: usize;
    /// Plain notation for decimal exponents in `-4..MAX_FIXED_EXP`.
    const MAX_FIXED_EXP: i32;
    fn same_bits(self, other: Self) -> bool;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn abs(self) -> Self;
    /// `(m, q, narrow)` with `|self| = m * 2^q` for a finite non-zero value; `narrow`
    /// when the float below is closer than the float above (a power of two).
    fn decompose(self) -> (u64, i32, bool);
}

impl Float for f64 {
    const MAX_DIGITS: usize = 17;
    const MAX_FIXED_EXP: i32 = 15;
    fn same_bits(self, other: f64) -> bool {
        self.to_bits() == other.to_bits()
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
    fn is_sign_negative(self) -> bool {
        f64::is_sign_negative(self)
    }
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    fn decompose(self) -> (u64, i32, bool) {
        let bits = self.to_bits();
        let fraction = bits & ((1 << 52) - 1);
        // 11 bits: the conversion cannot fail.
        let exponent = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
        if exponent == 0 {
            (fraction, -1074, false)
        } else {
            (
                fraction | (1 << 52),
                exponent - 1075,
                fraction == 0 && exponent > 1,
            )
        }
    }
}

impl Float for f32 {
    const MAX_DIGITS: usize = 9;
    const MAX_FIXED_EXP: i32 = 6;
    fn same_bits(self, other: f32) -> bool {
        self.to_bits() == other.to_bits()
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
    fn is_sign_negative(self) -> bool {
        f32::is_sign_negative(self)
    }
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    fn decompose(self) -> (u64, i32, bool) {
        let bits = self.to_bits();
        let fraction = u64::from(bits & ((1 << 23) - 1));
        // 8 bits: the conversion cannot fail.
        let exponent = i32::try_from((bits >> 23) & 0xff).unwrap_or(0);
        if exponent == 0 {
            (fraction, -149, false)
        } else {
            (
                fraction | (1 << 23),
                exponent - 150,
                fraction == 0 && exponent > 1,
            )
        }
    }
}

fn float8_text(v: f64) -> String {
    float_text(v)
}

fn float4_text(v: f32) -> String {
    float_text(v)
}

fn float_text<F: Float>(v: F) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v.is_infinite() {
        return format!("{sign}Infinity");
    }
    if v.is_zero() {
        return format!("{sign}0");
    }
    let (d, exp10) = shortest(v.abs());
    let full = d.to_string();
    let digits = full.trim_end_matches('0');
    // The decimal exponent of the first digit.
    let exp = exp10 + i32::try_from(full.len()).unwrap_or(0) - 1;
    layout(sign, digits, exp, F::MAX_FIXED_EXP)
}

/// The shortest decimal `d * 10^e` strictly inside the rounding interval of the
/// positive finite `v` (the open interval between the midpoints to its neighbours),
/// the nearest to `v` among those of that length: what PostgreSQL's Ryu (built with
/// `STRICTLY_SHORTEST` off) prints. Returns `(d, e)`, `d` possibly with trailing zeros.
fn shortest<F: Float>(v: F) -> (u64, i32) {
    let (m, q, narrow) = v.decompose();
    // The midpoints to the neighbours, as odd * 2^k.
    let upper = (2 * m + 1, q - 1);
    let lower = if narrow {
        (4 * m - 1, q - 2)
    } else {
        (2 * m - 1, q - 1)
    };
    let on_boundary = |d: u64, e: i32| {
        decimal_equals_dyadic(d, e, upper.0, upper.1)
            || decimal_equals_dyadic(d, e, lower.0, lower.1)
    };
    let parse = |d: u64, e: i32| format!("{d}e{e}").parse::<F>().ok();
    let inside = |d: u64, e: i32| {
        d != 0 && parse(d, e).is_some_and(|back| back.same_bits(v)) && !on_boundary(d, e)
    };
    let mut last = (0, 0);
    for precision in 0..F::MAX_DIGITS {
        // Rust's `{:.N e}` is the correctly rounded decimal (ties to even): the nearest
        // candidate of this length.
        let sci = format!("{v:.precision$e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let d: u64 = mantissa.replace('.', "").parse().unwrap_or(0);
        let e = exp.parse::<i32>().unwrap_or(0) - i32::try_from(precision).unwrap_or(0);
        last = (d, e);
        if inside(d, e) {
            return (d, e);
        }
        // The nearest candidate is outside the interval or on its boundary; the next
        // nearest, on v's other side, may be inside: the interval of a power of two is
        // lopsided.
        let above = decimal_equals_dyadic(d, e, upper.0, upper.1)
            || (!decimal_equals_dyadic(d, e, lower.0, lower.1)
                && parse(d, e).is_some_and(|back| back > v));
        let other = if above { d - 1 } else { d + 1 };
        if inside(other, e) {
            return (other, e);
        }
    }
    last
}

/// Whether `d * 10^e == odd * 2^k` exactly (`d > 0`, `odd` odd).
fn decimal_equals_dyadic(d: u64, e: i32, odd: u64, k: i32) -> bool {
    if d == 0 {
        return false;
    }
    // d * 10^e = d' * 2^(a + e) * 5^e with d' odd.
    let a = i32::try_from(d.trailing_zeros()).unwrap_or(0);
    let d_odd = u128::from(d >> d.trailing_zeros());
    if a + e != k {
        return false;
    }
    let Some(power) = 5u128.checked_pow(e.unsigned_abs()) else {
        return false;
    };
    if e >= 0 {
        d_odd.checked_mul(power) == Some(u128::from(odd))
    } else {
        u128::from(odd).checked_mul(power) == Some(d_odd)
    }
}

/// Lays out `0.DIGITS * 10^(exp + 1)` as PostgreSQL's float output does.
fn layout(sign: &str, digits: &str, exp: i32, max_fixed_exp: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if (-4..max_fixed_exp).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(digits);
        } else if n <= exp + 1 {
            out.push_str(digits);
            for _ in 0..(exp + 1 - n) {
                out.push('0');
            }
        } else {
            let split = usize::try_from(exp + 1).unwrap_or(0);
            out.push_str(&digits[..split]);
            out.push('.');
            out.push_str(&digits[split..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Numeric, uuid, network, bits.

fn numeric_text(n: &Numeric) -> Result<String, ValueTextError> {
    let special = NumericSpecial::try_from(n.special)
        .map_err(|_| malformed("numeric", "unknown special value"))?;
    let text = match special {
        NumericSpecial::Unspecified => {
            if !is_canonical_decimal(&n.decimal) {
                return Err(malformed(
                    "numeric",
                    "decimal is not in PostgreSQL's output form",
                ));
            }
            return Ok(n.decimal.clone());
        }
        NumericSpecial::Nan => "NaN",
        NumericSpecial::PositiveInfinity => "Infinity",
        NumericSpecial::NegativeInfinity => "-Infinity",
    };
    if !n.decimal.is_empty() {
        return Err(malformed("numeric", "decimal set on a special value"));
    }
    Ok(text.to_owned())
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, and not a negative zero.
fn is_canonical_decimal(s: &str) -> bool {
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
        return false;
    }
    if frac.is_some_and(|f| !digits(f)) {
        return false;
    }
    let zero = int == "0" && frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    !(negative && zero)
}

fn uuid_text(b: &[u8]) -> Result<String, ValueTextError> {
    if b.len() != 16 {
        return Err(malformed("uuid", "not 16 bytes"));
    }
    let mut out = String::with_capacity(36);
    for (i, chunk) in [&b[..4], &b[4..6], &b[6..8], &b[8..10], &b[10..]]
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        push_hex(&mut out, chunk);
    }
    Ok(out)
}

fn macaddr_text(b: &[u8]) -> Result<String, ValueTextError> {
    if b.len() != 6 && b.len() != 8 {
        return Err(malformed("macaddr", "not 6 or 8 bytes"));
    }
    let mut out = String::with_capacity(3 * b.len());
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        push_hex(&mut out, std::slice::from_ref(byte));
    }
    Ok(out)
}

fn inet_text(inet: &Inet, cidr: bool) -> Result<String, ValueTextError> {
    let kind = if cidr { "cidr" } else { "inet" };
    let max_bits = match inet.address.len() {
        4 => 32,
        16 => 128,
        _ => return Err(malformed(kind, "address is not 4 or 16 bytes")),
    };
    if inet.prefix_length > max_bits {
        return Err(malformed(kind, "prefix length exceeds the address"));
    }
    let mut out = String::with_capacity(48);
    if let [a, b, c, d] = inet.address[..] {
        let _ = write!(out, "{a}.{b}.{c}.{d}");
    } else {
        ipv6_text(&mut out, &inet.address);
    }
    if cidr || inet.prefix_length != max_bits {
        let _ = write!(out, "/{}", inet.prefix_length);
    }
    Ok(out)
}

/// BIND's `inet_ntop6`, as PostgreSQL's `inet_net_ntop_ipv6` has it.
fn ipv6_text(out: &mut String, bytes: &[u8]) {
    let mut words = [0u16; 8];
    for (i, pair) in bytes.chunks_exact(2).enumerate().take(8) {
        words[i] = u16::from_be_bytes([pair[0], pair[1]]);
    }
    // The first longest run of zero words, if at least 2 long.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_base = Some(start);
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    for (i, word) in words.iter().enumerate() {
        if let Some(base) = best_base
            && (base..base + best_len).contains(&i)
        {
            if i == base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        let embedded_ipv4 = i == 6
            && best_base == Some(0)
            && (best_len == 6
                || (best_len == 7 && words[7] != 1)
                || (best_len == 5 && words[5] == 0xffff));
        if embedded_ipv4 {
            let _ = write!(
                out,
                "{}.{}.{}.{}",
                bytes[12], bytes[13], bytes[14], bytes[15]
            );
            return;
        }
        let _ = write!(out, "{word:x}");
    }
    if best_base.is_some_and(|base| base + best_len == 8) {
        out.push(':');
    }
}

fn bit_string_text(b: &BitString) -> Result<String, ValueTextError> {
    let bits = usize::try_from(b.bit_length).unwrap_or(usize::MAX);
    if b.data.len() != bits.div_ceil(8) {
        return Err(malformed(
            "bit_string",
            "data is not ceil(bit_length / 8) bytes",
        ));
    }
    if bits % 8 != 0 && b.data.last().is_some_and(|last| last << (bits % 8) != 0) {
        return Err(malformed("bit_string", "padding bits are not zero"));
    }
    let mut out = String::with_capacity(bits);
    for i in 0..bits {
        let bit = (b.data[i / 8] >> (7 - i % 8)) & 1;
        out.push(if bit == 1 { '1' } else { '0' });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Dates and times.

/// The infinity of a value, or an error for an unknown enum value.
fn infinity(raw: i32, kind: &'static str) -> Result<Infinity, ValueTextError> {
    Infinity::try_from(raw).map_err(|_| malformed(kind, "unknown infinity value"))
}

fn infinity_text(inf: Infinity) -> Option<&'static str> {
    match inf {
        Infinity::Unspecified => None,
        Infinity::Positive => Some("infinity"),
        Infinity::Negative => Some("-infinity"),
    }
}

/// (year, month, day) in the proleptic Gregorian calendar of a count of days since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if m <= 2 { y + 1 } else { y };
    // m is in 1..=12 and d in 1..=31: the casts cannot truncate.
    (
        year,
        u32::try_from(m).unwrap_or(0),
        u32::try_from(d).unwrap_or(0),
    )
}

/// Writes `YYYY-MM-DD` and returns whether the year is BC.
fn push_date(out: &mut String, days: i64) -> bool {
    let (year, month, day) = civil_from_days(days);
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    let _ = write!(out, "{shown:04}-{month:02}-{day:02}");
    bc
}

/// Writes `SS[.ffffff]` for non-negative seconds and microseconds.
fn push_seconds(out: &mut String, seconds: i64, fraction_micros: i64) {
    let _ = write!(out, "{seconds:02}");
    if fraction_micros != 0 {
        let frac = format!("{fraction_micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// Writes `HH:MM:SS[.ffffff]` for a non-negative count of microseconds.
fn push_time_of_day(out: &mut String, micros: i64) {
    let hours = micros / USECS_PER_HOUR;
    let minutes = micros % USECS_PER_HOUR / USECS_PER_MINUTE;
    let seconds = micros % USECS_PER_MINUTE / USECS_PER_SEC;
    let _ = write!(out, "{hours:02}:{minutes:02}:");
    push_seconds(out, seconds, micros % USECS_PER_SEC);
}

/// Writes a UTC offset (seconds east of UTC) as PostgreSQL's `EncodeTimezone` does.
fn push_offset(out: &mut String, offset_seconds: i32) {
    let abs = offset_seconds.unsigned_abs();
    let (hours, minutes, seconds) = (abs / 3600, abs / 60 % 60, abs % 60);
    out.push(if offset_seconds >= 0 { '+' } else { '-' });
    let _ = write!(out, "{hours:02}");
    if seconds != 0 {
        let _ = write!(out, ":{minutes:02}:{seconds:02}");
    } else if minutes != 0 {
        let _ = write!(out, ":{minutes:02}");
    }
}

fn date_text(d: &Date) -> Result<String, ValueTextError> {
    if let Some(text) = infinity_text(infinity(d.infinity, "date")?) {
        if d.days != 0 {
            return Err(malformed("date", "days set on an infinite date"));
        }
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(16);
    if push_date(&mut out, i64::from(d.days)) {
        out.push_str(" BC");
    }
    Ok(out)
}

fn check_time_of_day(micros: i64, kind: &'static str) -> Result<(), ValueTextError> {
    if (0..=USECS_PER_DAY).contains(&micros) {
        Ok(())
    } else {
        Err(malformed(kind, "micros outside 0 ..= 24:00:00"))
    }
}

fn time_text(t: &Time) -> Result<String, ValueTextError> {
    check_time_of_day(t.micros, "time")?;
    let mut out = String::with_capacity(15);
    push_time_of_day(&mut out, t.micros);
    Ok(out)
}

fn timetz_text(t: &TimeTz) -> Result<String, ValueTextError> {
    check_time_of_day(t.micros, "timetz")?;
    let mut out = String::with_capacity(24);
    push_time_of_day(&mut out, t.micros);
    push_offset(&mut out, t.offset_seconds);
    Ok(out)
}

fn timestamp_text(t: &Timestamp, with_zone: bool) -> Result<String, ValueTextError> {
    let kind = if with_zone {
        "timestamptz"
    } else {
        "timestamp"
    };
    if let Some(text) = infinity_text(infinity(t.infinity, kind)?) {
        if t.micros != 0 {
            return Err(malformed(kind, "micros set on an infinite timestamp"));
        }
        return Ok(text.to_owned());
    }
    let days = t.micros.div_euclid(USECS_PER_DAY);
    let time = t.micros.rem_euclid(USECS_PER_DAY);
    let mut out = String::with_capacity(32);
    let bc = push_date(&mut out, days);
    out.push(' ');
    push_time_of_day(&mut out, time);
    if with_zone {
        out.push_str("+00");
    }
    if bc {
        out.push_str(" BC");
    }
    Ok(out)
}

fn interval_text(i: &Interval) -> Result<String, ValueTextError> {
    if let Some(text) = infinity_text(infinity(i.infinity, "interval")?) {
        if i.months != 0 || i.days != 0 || i.micros != 0 {
            return Err(malformed("interval", "fields set on an infinite interval"));
        }
        return Ok(text.to_owned());
    }
    let years = i64::from(i.months / 12);
    let mons = i64::from(i.months % 12);
    let days = i64::from(i.days);
    let hours = i.micros / USECS_PER_HOUR;
    let minutes = i.micros % USECS_PER_HOUR / USECS_PER_MINUTE;
    let seconds = i.micros % USECS_PER_MINUTE / USECS_PER_SEC;
    let fraction = i.micros % USECS_PER_SEC;

    let mut out = String::with_capacity(48);
    let (mut is_zero, mut is_before) = (true, false);
    for (value, unit) in [(years, "year"), (mons, "mon"), (days, "day")] {
        if value == 0 {
            continue;
        }
        if !is_zero {
            out.push(' ');
        }
        if is_before && value > 0 {
            out.push('+');
        }
        let _ = write!(out, "{value} {unit}");
        if value != 1 {
            out.push('s');
        }
        is_before = value < 0;
        is_zero = false;
    }
    if is_zero || i.micros != 0 {
        if !is_zero {
            out.push(' ');
        }
        if i.micros < 0 {
            out.push('-');
        } else if is_before {
            out.push('+');
        }
        let _ = write!(
            out,
            "{:02}:{:02}:",
            hours.unsigned_abs(),
            minutes.unsigned_abs()
        );
        push_seconds(&mut out, seconds.abs(), fraction.abs());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Arrays and ranges.

fn array_text(a: &Array) -> Result<String, ValueTextError> {
    if a.dimensions.is_empty() {
        if !a.elements.is_empty() {
            return Err(malformed("array", "elements without dimensions"));
        }
        return Ok("{}".to_owned());
    }
    if a.dimensions.len() > MAX_ARRAY_DIMENSIONS {
        return Err(malformed("array", "more than 6 dimensions"));
    }
    let mut count: u64 = 1;
    for dim in &a.dimensions {
        if dim.length == 0 {
            return Err(malformed("array", "a dimension of length 0"));
        }
        count = count.saturating_mul(u64::from(dim.length));
    }
    if u64::try_from(a.elements.len()).ok() != Some(count) {
        return Err(malformed(
            "array",
            "element count is not the product of the dimensions",
        ));
    }
    let elements = a
        .elements
        .iter()
        .map(canonical_text)
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = String::new();
    if a.dimensions.iter().any(|d| d.lower_bound != 1) {
        for dim in &a.dimensions {
            let lower = i64::from(dim.lower_bound);
            let upper = lower + i64::from(dim.length) - 1;
            let _ = write!(out, "[{lower}:{upper}]");
        }
        out.push('=');
    }
    let lengths: Vec<usize> = a
        .dimensions
        .iter()
        .map(|d| usize::try_from(d.length).unwrap_or(usize::MAX))
        .collect();
    let mut next = 0;
    push_array_level(&mut out, &lengths, &elements, &mut next);
    Ok(out)
}

fn push_array_level(
    out: &mut String,
    lengths: &[usize],
    elements: &[Option<String>],
    next: &mut usize,
) {
    let Some((&len, inner)) = lengths.split_first() else {
        return;
    };
    out.push('{');
    for i in 0..len {
        if i > 0 {
            out.push(',');
        }
        if inner.is_empty() {
            match elements.get(*next) {
                Some(Some(text)) => push_array_element(out, text),
                _ => out.push_str("NULL"),
            }
            *next += 1;
        } else {
            push_array_level(out, inner, elements, next);
        }
    }
    out.push('}');
}

/// PostgreSQL's `array_isspace` (and C's `isspace` in the C locale).
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

fn push_array_element(out: &mut String, text: &str) {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || is_pg_space(c));
    if !needs_quotes {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn range_text(r: &Range) -> Result<String, ValueTextError> {
    if r.empty {
        if r.lower.is_some() || r.upper.is_some() {
            return Err(malformed("range", "bounds set on an empty range"));
        }
        return Ok("empty".to_owned());
    }
    let (Some(lower), Some(upper)) = (&r.lower, &r.upper) else {
        return Err(malformed("range", "a bound is missing"));
    };
    let mut out = String::new();
    for (bound, is_lower) in [(lower, true), (upper, false)] {
        if !is_lower {
            out.push(',');
        }
        let text = match &bound.value {
            None if bound.inclusive => {
                return Err(malformed("range", "an unbounded side is inclusive"));
            }
            None => None,
            Some(value) => {
                Some(canonical_text(value)?.ok_or_else(|| malformed("range", "a bound is NULL"))?)
            }
        };
        if is_lower {
            out.push(if bound.inclusive { '[' } else { '(' });
        }
        if let Some(text) = text {
            push_range_bound(&mut out, &text);
        }
        if !is_lower {
            out.push(if bound.inclusive { ']' } else { ')' });
        }
    }
    Ok(out)
}

fn push_range_bound(out: &mut String, text: &str) {
    let needs_quotes = text.is_empty()
        || text
            .chars()
            .any(|c| matches!(c, '"' | '\\' | '(' | ')' | '[' | ']' | ',') || is_pg_space(c));
    if needs_quotes {
        out.push('"');
    }
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    if needs_quotes {
        out.push('"');
    }
}
