//! `money`: kept as text, with minor units when the format is known.
//!
//! `cash_out` formats with the server's `lc_monetary` (currency symbol, separators,
//! number of fraction digits, position of the sign), so the text alone cannot be
//! parsed reliably. The value is stored internally as a 64-bit count of minor
//! units. We keep PostgreSQL's text and, when it is in the C locale's layout
//! (`$1,234.56`, `-$1.00`: `$`, `,` every three digits, two fraction digits), the
//! parsed minor units. The binary format is those minor units; rendering them
//! assumes the C locale.

use std::fmt::Write;

/// A `money` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    /// PostgreSQL's text for the value (in binary format: the C-locale rendering).
    pub text: String,
    /// The amount in minor units (cents), when known: always from binary, from
    /// text only in the C locale's layout.
    pub minor_units: Option<i64>,
}

impl Money {
    /// A value from minor units, with the C locale's text (`$1,234.56`).
    pub fn from_minor_units(minor_units: i64) -> Money {
        Money {
            text: format_c_locale(minor_units),
            minor_units: Some(minor_units),
        }
    }
}

/// Parses the C locale's `cash_out` layout; `None` for anything else.
pub(crate) fn parse_c_locale(s: &str) -> Option<i64> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('$')?;
    let (int_part, frac) = rest.split_once('.')?;
    if frac.len() != 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Groups of three after the first, which has one to three digits.
    let groups: Vec<&str> = int_part.split(',').collect();
    let first = groups.first()?;
    if first.is_empty() || first.len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
        return None;
    }
    if !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut magnitude: i128 = 0;
    for b in groups.iter().flat_map(|g| g.bytes()).chain(frac.bytes()) {
        magnitude = magnitude * 10 + i128::from(b - b'0');
        if magnitude > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// The C locale's `cash_out` text for minor units.
pub(crate) fn format_c_locale(minor_units: i64) -> String {
    let abs = minor_units.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut out = String::with_capacity(digits.len() + 8);
    if minor_units < 0 {
        out.push('-');
    }
    out.push('$');
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    // Writing to a String cannot fail.
    let _ = write!(out, ".{:02}", abs % 100);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_locale() {
        for (s, v) in [
            ("$1,234.56", 123_456),
            ("-$1.00", -100),
            ("$0.00", 0),
            ("-$92,233,720,368,547,758.08", i64::MIN),
            ("$92,233,720,368,547,758.07", i64::MAX),
            ("$100.00", 10_000),
        ] {
            assert_eq!(parse_c_locale(s), Some(v), "{s}");
            assert_eq!(format_c_locale(v), s);
        }
        for s in [
            "1.00",
            "$1,00.00",
            "$1.0",
            "€1,00",
            "$92,233,720,368,547,758.08",
            "$,100.00",
        ] {
            assert_eq!(parse_c_locale(s), None, "{s}");
        }
    }
}
