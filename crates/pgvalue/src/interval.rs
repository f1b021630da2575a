//! `interval`: PostgreSQL's three independent fields.
//!
//! An interval is months, days and microseconds, kept apart because a month is not a
//! fixed number of days and a day is not always 24 hours (DST). Collapsing them into
//! one duration, as many CDC tools do, changes what `ts + interval` means downstream,
//! so the three fields are kept exactly.
//!
//! The text parser reads `IntervalStyle = postgres` (the default):
//! `1 year 2 mons 3 days 04:05:06.789`, `-1 years -2 mons +3 days -04:05:06`,
//! `-00:00:01`, `00:00:00`. Hours are not folded into days and may exceed 24
//! (`100000:00:00`). The other styles (`postgres_verbose`, `sql_standard`,
//! `iso_8601`) are rejected: a source should set `IntervalStyle = postgres`.
//! PostgreSQL 17's `infinity` and `-infinity` are accepted.

use std::fmt;

use crate::datetime::write_fraction;

/// An `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (years are 12 months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub micros: i64,
}

impl Interval {
    /// PostgreSQL 17's `infinity` interval (all fields at their maximum).
    pub const INFINITY: Interval = Interval {
        months: i32::MAX,
        days: i32::MAX,
        micros: i64::MAX,
    };
    /// PostgreSQL 17's `-infinity` interval (all fields at their minimum).
    pub const NEG_INFINITY: Interval = Interval {
        months: i32::MIN,
        days: i32::MIN,
        micros: i64::MIN,
    };
}

impl fmt::Display for Interval {
    /// `EncodeInterval` in `IntervalStyle = postgres`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Interval::INFINITY {
            return f.write_str("infinity");
        }
        if *self == Interval::NEG_INFINITY {
            return f.write_str("-infinity");
        }
        let mut is_zero = true;
        let mut is_before = false;
        let mut part = |f: &mut fmt::Formatter<'_>, value: i32, unit: &str| -> fmt::Result {
            if value == 0 {
                return Ok(());
            }
            let space = if is_zero { "" } else { " " };
            let plus = if is_before && value > 0 { "+" } else { "" };
            let plural = if value != 1 { "s" } else { "" };
            write!(f, "{space}{plus}{value} {unit}{plural}")?;
            // Each non-zero field decides the `+` of the next one only.
            is_before = value < 0;
            is_zero = false;
            Ok(())
        };
        part(f, self.months / 12, "year")?;
        part(f, self.months % 12, "mon")?;
        part(f, self.days, "day")?;
        let t = self.micros;
        if is_zero || t != 0 {
            let space = if is_zero { "" } else { " " };
            let sign = if t < 0 {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            };
            let abs = t.unsigned_abs();
            let hours = abs / 3_600_000_000;
            let minutes = abs / 60_000_000 % 60;
            let seconds = abs / 1_000_000 % 60;
            write!(f, "{space}{sign}{hours:02}:{minutes:02}:{seconds:02}")?;
            write_fraction(f, abs % 1_000_000)?;
        }
        Ok(())
    }
}

/// Parses `interval_out` text in `IntervalStyle = postgres`.
pub(crate) fn parse_interval(s: &str) -> Result<Interval, &'static str> {
    match s {
        "infinity" => return Ok(Interval::INFINITY),
        "-infinity" => return Ok(Interval::NEG_INFINITY),
        _ => {}
    }
    let mut months: i64 = 0;
    let mut days: i64 = 0;
    let mut micros: Option<i64> = None;
    let mut tokens = s.split(' ');
    let mut seen_any = false;
    while let Some(token) = tokens.next() {
        if micros.is_some() {
            return Err("text after the time part");
        }
        seen_any = true;
        if token.contains(':') {
            micros = Some(parse_clock(token)?);
            continue;
        }
        let n: i64 = parse_signed(token).ok_or("expected a number or a time")?;
        let unit = tokens.next().ok_or("number without unit")?;
        match unit {
            "year" | "years" => {
                months = n
                    .checked_mul(12)
                    .and_then(|m| months.checked_add(m))
                    .ok_or("interval out of range")?;
            }
            "mon" | "mons" => months = months.checked_add(n).ok_or("interval out of range")?,
            "day" | "days" => days = days.checked_add(n).ok_or("interval out of range")?,
            _ => return Err("unknown unit (is IntervalStyle 'postgres'?)"),
        }
    }
    if !seen_any {
        return Err("empty interval");
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| "interval out of range")?,
        days: i32::try_from(days).map_err(|_| "interval out of range")?,
        micros: micros.unwrap_or(0),
    })
}

/// An optionally signed decimal integer, no spaces.
fn parse_signed(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `[+-]H+:MM:SS[.f{1,6}]` as signed microseconds.
fn parse_clock(s: &str) -> Result<i64, &'static str> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(h), Some(m), Some(sec)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("time part is not H:MM:SS");
    };
    let (sec, frac) = match sec.split_once('.') {
        Some((sec, frac)) => (sec, Some(frac)),
        None => (sec, None),
    };
    let all_digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h)
        || h.len() > 12
        || m.len() != 2
        || sec.len() != 2
        || !all_digits(m)
        || !all_digits(sec)
    {
        return Err("time part is not H:MM:SS");
    }
    let frac_micros: i128 = match frac {
        None => 0,
        Some(f) if all_digits(f) && f.len() <= 6 => {
            let v: i128 = f.parse().map_err(|_| "bad fractional seconds")?;
            v * 10_i128.pow(6 - u32::try_from(f.len()).unwrap_or(6))
        }
        Some(_) => return Err("bad fractional seconds"),
    };
    let (h, m, sec): (i128, i128, i128) = (
        h.parse().map_err(|_| "bad hours")?,
        m.parse().map_err(|_| "bad minutes")?,
        sec.parse().map_err(|_| "bad seconds")?,
    );
    if m > 59 || sec > 59 {
        return Err("minutes or seconds out of range");
    }
    let magnitude = ((h * 60 + m) * 60 + sec) * 1_000_000 + frac_micros;
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| "interval out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_style_round_trips() {
        for s in [
            "1 year 2 mons 3 days 04:05:06.789",
            "-00:00:01",
            "-1 years -2 mons +3 days -04:05:06",
            "1 day -00:00:01",
            "00:00:00",
            "-1 years",
            "1 mon -1 days",
            "100000:00:00",
            "-2 years -1 mons",
            "1 day 00:00:01",
            "-1 days +00:00:01",
            "-00:00:00.5",
            "2562047788:00:54.775807",
            "-2562047788:00:54.775808",
            "178956970 years 7 mons 2147483647 days",
            "infinity",
            "-infinity",
        ] {
            assert_eq!(parse_interval(s).unwrap().to_string(), s, "{s}");
        }
        for s in [
            "",
            "1",
            "1 week",
            "@ 1 year",
            "P1Y",
            "1 day 00:00:01 2 days",
            "00:60:00",
            "2562047788:00:54.775808",
        ] {
            assert!(parse_interval(s).is_err(), "{s}");
        }
    }
}
