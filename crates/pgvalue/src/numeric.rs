//! `numeric`: arbitrary precision decimals, kept exactly.
//!
//! Debezium's best-known failure is turning `numeric` into a double or a
//! fixed-scale decimal and silently rounding. Here a finite value is kept as its
//! canonical decimal text: optional `-`, the integer digits without leading zeros
//! (`0` when there are none), and, when the display scale is positive, `.` followed
//! by exactly `scale` digits. That is byte for byte what PostgreSQL's `numeric_out`
//! prints, so trailing zeros (`12.500`, scale 3) survive, and consumers that need a
//! number can parse it into whatever big-decimal type they own.
//!
//! PostgreSQL 14 added `Infinity` and `-Infinity` to `numeric`; with `NaN` they are
//! explicit variants.
//!
//! The binary format is `ndigits`, `weight`, `sign`, `dscale` (all 16-bit) followed by
//! `ndigits` base-10000 digits; the first digit is worth `10000^weight`.

use std::fmt;

/// A `numeric` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Numeric {
    /// `NaN`.
    NaN,
    /// `Infinity` (PostgreSQL 14+).
    Infinity,
    /// `-Infinity` (PostgreSQL 14+).
    NegInfinity,
    /// A finite value.
    Finite(Decimal),
}

/// A finite decimal at full precision, stored as PostgreSQL's canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    text: String,
}

impl Decimal {
    /// Parses a plain decimal (`-12.340`, `0`, `.5`, `+7`): no exponent, no spaces.
    /// Leading zeros and a positive sign are dropped and `-0` becomes `0`; the
    /// number of fraction digits (the scale) is kept.
    pub fn parse(s: &str) -> Result<Decimal, &'static str> {
        if is_canonical(s.as_bytes()) {
            // PostgreSQL's own output: nothing to normalise.
            return Ok(Decimal { text: s.to_owned() });
        }
        let bytes = s.as_bytes();
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            Some(b'+') => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let (int_part, frac_part) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        if !int_part.iter().all(u8::is_ascii_digit)
            || !frac_part.is_none_or(|f| f.iter().all(u8::is_ascii_digit))
        {
            return Err("not a decimal number");
        }
        if int_part.is_empty() && frac_part.is_none_or(<[u8]>::is_empty) {
            return Err("no digits");
        }
        if frac_part.is_some_and(|f| f.len() > MAX_DSCALE) {
            return Err("scale above 16383");
        }
        let int_part = match int_part.iter().position(|&b| b != b'0') {
            Some(first) => &int_part[first..],
            None => &[][..],
        };
        let is_zero = int_part.is_empty() && frac_part.is_none_or(|f| f.iter().all(|&b| b == b'0'));
        let mut text = String::with_capacity(s.len() + 2);
        if negative && !is_zero {
            text.push('-');
        }
        if int_part.is_empty() {
            text.push('0');
        } else {
            // Only ASCII digits are left: pushing them as chars is exact.
            text.extend(int_part.iter().map(|&b| char::from(b)));
        }
        if let Some(frac) = frac_part.filter(|f| !f.is_empty()) {
            text.push('.');
            text.extend(frac.iter().map(|&b| char::from(b)));
        }
        Ok(Decimal { text })
    }

    /// The canonical text, as PostgreSQL prints it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.text.starts_with('-')
    }

    /// The display scale: how many digits follow the decimal point.
    pub fn scale(&self) -> u16 {
        match self.text.find('.') {
            // At most MAX_DSCALE digits follow the point (checked at construction).
            Some(dot) => u16::try_from(self.text.len() - dot - 1).unwrap_or(u16::MAX),
            None => 0,
        }
    }

    /// The digits without sign, point or leading zeros (`-12.340` gives `"12340"`,
    /// `0.05` gives `"5"`): the value is this integer, negated when
    /// [`is_negative`](Self::is_negative), times `10^-scale`. Handy for decimal
    /// types that take an unscaled integer and a scale (Avro, Arrow, BigDecimal).
    pub fn unscaled_digits(&self) -> String {
        let digits: String = self.text.chars().filter(char::is_ascii_digit).collect();
        match digits.trim_start_matches('0') {
            "" => "0".to_owned(),
            trimmed => trimmed.to_owned(),
        }
    }
}

/// Whether `s` is already in `numeric_out`'s form: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`,
/// not a negative zero, scale within bounds.
fn is_canonical(s: &[u8]) -> bool {
    let (negative, rest) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (int_part, frac) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    let int_ok = match int_part {
        [b'0'] => true,
        [first, tail @ ..] => (b'1'..=b'9').contains(first) && tail.iter().all(u8::is_ascii_digit),
        [] => false,
    };
    let frac_ok = frac
        .is_none_or(|f| !f.is_empty() && f.len() <= MAX_DSCALE && f.iter().all(u8::is_ascii_digit));
    let is_zero = int_part == b"0" && frac.is_none_or(|f| f.iter().all(|&b| b == b'0'));
    int_ok && frac_ok && !(negative && is_zero)
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Numeric::NaN => f.write_str("NaN"),
            Numeric::Infinity => f.write_str("Infinity"),
            Numeric::NegInfinity => f.write_str("-Infinity"),
            Numeric::Finite(d) => f.write_str(&d.text),
        }
    }
}

/// PostgreSQL's `NUMERIC_DSCALE_MAX`.
const MAX_DSCALE: usize = 0x3FFF;

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;

/// Parses `numeric_out`'s text.
pub(crate) fn parse_text(s: &str) -> Result<Numeric, &'static str> {
    match s {
        "NaN" => Ok(Numeric::NaN),
        "Infinity" => Ok(Numeric::Infinity),
        "-Infinity" => Ok(Numeric::NegInfinity),
        _ => Decimal::parse(s).map(Numeric::Finite),
    }
}

/// Decodes `numeric_send`'s binary format.
pub(crate) fn parse_binary(b: &[u8]) -> Result<Numeric, &'static str> {
    if b.len() < 8 {
        return Err("shorter than the 8-byte header");
    }
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let ndigits = usize::from(word(0));
    let weight = i32::from(word(2) as i16);
    let sign = word(4);
    let dscale = usize::from(word(6));
    if b.len() != 8 + 2 * ndigits {
        return Err("length does not match the digit count");
    }
    match sign {
        SIGN_NAN => return Ok(Numeric::NaN),
        SIGN_PINF => return Ok(Numeric::Infinity),
        SIGN_NINF => return Ok(Numeric::NegInfinity),
        SIGN_POS | SIGN_NEG => {}
        _ => return Err("invalid sign word"),
    }
    if dscale > MAX_DSCALE {
        return Err("scale above 16383");
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let d = word(8 + 2 * i);
        if d > 9999 {
            return Err("base-10000 digit above 9999");
        }
        digits.push(d);
    }
    // Digit `i` is worth 10000^(weight - i).
    let digit_at = |pos: i32| -> u16 {
        let i = weight - pos;
        if i < 0 {
            0
        } else {
            usize::try_from(i)
                .ok()
                .and_then(|i| digits.get(i).copied())
                .unwrap_or(0)
        }
    };
    let is_zero = digits.iter().all(|&d| d == 0);
    let mut text = String::with_capacity(8 + 4 * ndigits + dscale);
    if sign == SIGN_NEG && !is_zero {
        text.push('-');
    }
    if weight < 0 || is_zero {
        text.push('0');
    } else {
        let mut started = false;
        for pos in (0..=weight).rev() {
            let d = digit_at(pos);
            if started {
                push_padded4(&mut text, d);
            } else if d != 0 {
                text.push_str(&d.to_string());
                started = true;
            }
        }
        if !started {
            text.push('0');
        }
    }
    if dscale > 0 {
        text.push('.');
        let mut written = 0;
        let mut pos = -1;
        while written < dscale {
            let d = digit_at(pos);
            let four = [d / 1000, d / 100 % 10, d / 10 % 10, d % 10];
            for digit in four.into_iter().take(dscale - written) {
                text.push(char::from(b'0' + digit as u8));
                written += 1;
            }
            pos -= 1;
        }
    }
    Ok(Numeric::Finite(Decimal { text }))
}

fn push_padded4(text: &mut String, d: u16) {
    for digit in [d / 1000, d / 100 % 10, d / 10 % 10, d % 10] {
        text.push(char::from(b'0' + digit as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale]
            .into_iter()
            .chain(digits.iter().copied())
        {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    #[test]
    fn text_is_canonicalised_but_keeps_scale() {
        let d = |s| parse_text(s).unwrap().to_string();
        assert_eq!(d("12.500"), "12.500");
        assert_eq!(d("-0.00"), "0.00");
        assert_eq!(d("007"), "7");
        assert_eq!(d(".5"), "0.5");
        assert_eq!(d("+1"), "1");
        assert!(parse_text("1e5").is_err());
        assert!(parse_text("").is_err());
        assert!(parse_text("-").is_err());
        assert!(parse_text(".").is_err());
        assert!(parse_text("1.2.3").is_err());
        assert!(parse_text("nan").is_err());
    }

    #[test]
    fn binary_matches_numeric_out() {
        // 12.500: digits [12, 5000], weight 0, dscale 3
        assert_eq!(
            parse_binary(&bin(2, 0, 0, 3, &[12, 5000]))
                .unwrap()
                .to_string(),
            "12.500"
        );
        // 0.00000000000000000001: weight -5, digit 100
        assert_eq!(
            parse_binary(&bin(1, -5, 0, 20, &[1])).unwrap().to_string(),
            "0.00000000000000000001"
        );
        // 1e20: weight 5, digit 1
        assert_eq!(
            parse_binary(&bin(1, 5, 0, 0, &[1])).unwrap().to_string(),
            "100000000000000000000"
        );
        assert_eq!(
            parse_binary(&bin(0, 0, 0, 2, &[])).unwrap().to_string(),
            "0.00"
        );
        assert_eq!(
            parse_binary(&bin(1, 0, SIGN_NEG, 0, &[7]))
                .unwrap()
                .to_string(),
            "-7"
        );
        assert_eq!(
            parse_binary(&bin(0, 0, SIGN_NAN, 0, &[])).unwrap(),
            Numeric::NaN
        );
        assert_eq!(
            parse_binary(&bin(0, 0, SIGN_NINF, 0, &[])).unwrap(),
            Numeric::NegInfinity
        );
        assert!(parse_binary(&bin(1, 0, 0, 0, &[10000])).is_err());
        assert!(parse_binary(&bin(2, 0, 0, 0, &[1])).is_err());
    }

    #[test]
    fn decimal_accessors() {
        let d = Decimal::parse("-0012.340").unwrap();
        assert_eq!(d.as_str(), "-12.340");
        assert_eq!(d.scale(), 3);
        assert!(d.is_negative());
        assert_eq!(d.unscaled_digits(), "12340");
    }
}
