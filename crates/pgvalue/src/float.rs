//! `float4` and `float8`: IEEE values with PostgreSQL's exact text layout.
//!
//! Since PostgreSQL 12, with `extra_float_digits` at its default of 1 (or above),
//! `float8out`/`float4out` print the *shortest* decimal that reads back to the same
//! bits (Ryu), so the text is lossless. A source must not lower
//! `extra_float_digits` to 0 or below: then PostgreSQL rounds to 15 (or 6)
//! significant digits and the value is lost before it reaches us.
//!
//! Rendering must match PostgreSQL digit for digit, and Rust's own shortest
//! formatting does not: PostgreSQL builds Ryu with `STRICTLY_SHORTEST 0`, so it
//! never prints a decimal lying exactly halfway between two floats (it takes one
//! more digit instead: `float4` `-123587024` prints as `-1.23587024e+08`, not
//! `-1.2358702e+08`), and among equally short candidates it takes the one nearest
//! the exact value (ties to even). [`shortest`] computes that answer exactly with
//! big-integer arithmetic (Steele & White / Dragon4 style); it only runs when
//! rendering, never when decoding.
//!
//! The layout follows C's `%g` thresholds: fixed notation when the decimal exponent
//! is in `[-4, 15)` for `float8` and `[-4, 6)` for `float4`, otherwise `1.5e-05`
//! style with a signed exponent of at least two digits. `NaN`, `Infinity`,
//! `-Infinity` and `-0` are spelled as PostgreSQL spells them.

use std::cmp::Ordering;

/// Formats an `f64` as `float8out` does.
pub(crate) fn format_f64(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let mantissa = bits & ((1 << 52) - 1);
    // 11 bits: the cast cannot truncate.
    let exponent = ((bits >> 52) & 0x7ff) as u32;
    layout(negative, mantissa, exponent, 52, 1023, 0x7ff, 15)
}

/// Formats an `f32` as `float4out` does.
pub(crate) fn format_f32(v: f32) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    let bits = v.to_bits();
    let negative = bits >> 31 == 1;
    let mantissa = u64::from(bits & ((1 << 23) - 1));
    let exponent = (bits >> 23) & 0xff;
    layout(negative, mantissa, exponent, 23, 127, 0xff, 6)
}

fn layout(
    negative: bool,
    mantissa: u64,
    exponent: u32,
    mantissa_bits: u32,
    bias: i32,
    max_exponent: u32,
    max_fixed_exp: i32,
) -> String {
    let sign = if negative { "-" } else { "" };
    if exponent == max_exponent {
        return format!("{sign}Infinity");
    }
    if exponent == 0 && mantissa == 0 {
        return format!("{sign}0");
    }
    let (mut digits, mut exp10) = shortest(mantissa, exponent, mantissa_bits, bias);
    while digits.is_multiple_of(10) {
        digits /= 10;
        exp10 += 1;
    }
    let digits = digits.to_string();
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // The decimal exponent of the first digit.
    let exp = exp10 + n - 1;
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if (-4..max_fixed_exp).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    }
    out
}

/// The shortest decimal `digits * 10^exp` strictly inside the interval of reals
/// that round to the finite, non-zero float with these IEEE fields, nearest to
/// the float's exact value (ties to an even last digit): PostgreSQL's Ryu with
/// `STRICTLY_SHORTEST 0`.
fn shortest(mantissa: u64, exponent: u32, mantissa_bits: u32, bias: i32) -> (u64, i32) {
    // Ryu's set-up: the value is mv * 2^e2, the interval is (mm, mp) * 2^e2.
    let (m2, e2) = if exponent == 0 {
        (mantissa, 1 - bias - mantissa_bits as i32 - 2)
    } else {
        (
            (1 << mantissa_bits) | mantissa,
            exponent as i32 - bias - mantissa_bits as i32 - 2,
        )
    };
    let mm_shift = u64::from(mantissa != 0 || exponent <= 1);
    let mv = 4 * m2;
    let (plus, minus) = (2_u64, 1 + mm_shift);

    // Scaled so that value = r / s, upper margin = m_plus / s, lower = m_minus / s.
    let mut r = Big::from(mv);
    let mut s = Big::from(1);
    let mut m_plus = Big::from(plus);
    let mut m_minus = Big::from(minus);
    if e2 >= 0 {
        let shift = e2.unsigned_abs();
        r.shl(shift);
        m_plus.shl(shift);
        m_minus.shl(shift);
    } else {
        s.shl(e2.unsigned_abs());
    }
    // Estimate the decimal exponent of the first digit, then correct it exactly.
    let approx = (mv as f64).log10() + f64::from(e2) * std::f64::consts::LOG10_2;
    let mut k = approx.floor() as i32;
    if k >= 0 {
        s.mul_pow10(k.unsigned_abs());
    } else {
        r.mul_pow10(k.unsigned_abs());
        m_plus.mul_pow10(k.unsigned_abs());
        m_minus.mul_pow10(k.unsigned_abs());
    }
    loop {
        let mut ten_s = s.clone();
        ten_s.mul_small(10);
        if r.cmp(&ten_s) != Ordering::Less {
            s = ten_s;
            k += 1;
        } else if r.cmp(&s) == Ordering::Less {
            r.mul_small(10);
            m_plus.mul_small(10);
            m_minus.mul_small(10);
            k -= 1;
        } else {
            break;
        }
    }
    // Now 1 <= r/s < 10. Generate digits until a candidate lies strictly inside.
    let mut digits: u64 = 0;
    let mut exp = k;
    for _ in 0..20 {
        let mut d = 0;
        while r.cmp(&s) != Ordering::Less {
            r.sub(&s);
            d += 1;
        }
        digits = digits * 10 + d;
        // Candidates: `digits` (below the value by r/s units) and `digits + 1`
        // (above it by (s - r)/s units).
        let low_ok = r.cmp(&m_minus) == Ordering::Less;
        let mut r_plus = r.clone();
        r_plus.add(&m_plus);
        let high_ok = s.cmp(&r_plus) == Ordering::Less;
        if low_ok || high_ok {
            let mut twice = r.clone();
            twice.shl(1);
            let round_up = match (low_ok, high_ok) {
                (true, false) => false,
                (false, true) => true,
                _ => match twice.cmp(&s) {
                    Ordering::Less => false,
                    Ordering::Greater => true,
                    Ordering::Equal => digits % 2 == 1,
                },
            };
            return (digits + u64::from(round_up), exp);
        }
        r.mul_small(10);
        m_plus.mul_small(10);
        m_minus.mul_small(10);
        exp -= 1;
    }
    // Unreachable for IEEE floats (17 digits always suffice); keep what we have.
    (digits, exp)
}

/// Just enough of an unsigned big integer for [`shortest`] (little-endian limbs).
#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl From<u64> for Big {
    fn from(v: u64) -> Self {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }
}

impl Big {
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0_u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10_u32.pow(n));
    }

    fn shl(&mut self, n: u32) {
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        if bits != 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs != 0 && !self.0.is_empty() {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn add(&mut self, other: &Big) {
        let mut carry = 0_u64;
        for i in 0..self.0.len().max(other.0.len()) {
            if i == self.0.len() {
                self.0.push(0);
            }
            let v = u64::from(self.0[i]) + u64::from(*other.0.get(i).unwrap_or(&0)) + carry;
            self.0[i] = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self -= other`; requires `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0_i64;
        for i in 0..self.0.len() {
            let v = i64::from(self.0[i]) - i64::from(*other.0.get(i).unwrap_or(&0)) - borrow;
            borrow = i64::from(v < 0);
            self.0[i] = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

/// Parses `float8out` text (and anything Rust's float syntax accepts).
pub(crate) fn parse_f64(s: &str) -> Result<f64, &'static str> {
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ if is_plain_number(s) => s.parse().map_err(|_| "not a floating point number"),
        _ => Err("not a floating point number"),
    }
}

/// Parses `float4out` text. Parsed straight to `f32`: going through `f64` would
/// round twice.
pub(crate) fn parse_f32(s: &str) -> Result<f32, &'static str> {
    match s {
        "NaN" => Ok(f32::NAN),
        "Infinity" => Ok(f32::INFINITY),
        "-Infinity" => Ok(f32::NEG_INFINITY),
        _ if is_plain_number(s) => s.parse().map_err(|_| "not a floating point number"),
        _ => Err("not a floating point number"),
    }
}

/// Rust's parser also takes `inf`, `nan` and friends in any case; PostgreSQL prints
/// only the three spellings matched above, so anything else must be digits.
fn is_plain_number(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_postgres() {
        let cases: &[(f64, &str)] = &[
            (1e300, "1e+300"),
            (1e-300, "1e-300"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.5e-5, "1.5e-05"),
            (1.5, "1.5"),
            (-123.25, "-123.25"),
            (f64::NEG_INFINITY, "-Infinity"),
            (993341257771012.2, "993341257771012.2"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (9007199254740993.0, "9.007199254740992e+15"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (v, s) in cases {
            assert_eq!(format_f64(*v), *s);
            assert_eq!(parse_f64(s).unwrap().to_bits(), v.to_bits());
        }
        // Rust's shortest form is one digit shorter, but it is the exact midpoint
        // between two doubles, which PostgreSQL never prints.
        assert_eq!(
            format_f64(f64::from_bits(0xc36d_3ec6_b3ff_7b0c)),
            "-6.5854379751364704e+16"
        );
        let cases: &[(f32, &str)] = &[
            (1e6, "1e+06"),
            (1e5, "100000"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (1.1754944e-38, "1.1754944e-38"),
            (3.4028235e38, "3.4028235e+38"),
            (1e-45, "1e-45"),
            (-123587024.0, "-1.23587024e+08"),
            (-2457458.2, "-2.4574582e+06"),
            (f32::MAX, "3.4028235e+38"),
            (16777216.0, "1.6777216e+07"),
            (0.1, "0.1"),
        ];
        for (v, s) in cases {
            assert_eq!(format_f32(*v), *s);
            assert_eq!(parse_f32(s).unwrap().to_bits(), v.to_bits());
        }
        assert!(parse_f64("inf").is_err());
        assert!(parse_f64("").is_err());
        assert!(parse_f64("nan").is_err());
    }
}
