//! `date`, `time`, `timetz`, `timestamp` and `timestamptz`, in PostgreSQL's own
//! representation.
//!
//! ## Why not chrono or time
//!
//! PostgreSQL dates run from 4714-11-24 BC to 5874897 AD and timestamps to 294276
//! AD, both with `infinity` and `-infinity`; general-purpose date crates cover less
//! or have no infinities, and a CDC pipeline that clamps or rejects such values has
//! lost data. So values are stored as PostgreSQL stores them: days, or
//! microseconds, since 2000-01-01 (proleptic Gregorian calendar, astronomical year
//! numbering internally, so 1 BC is year 0), with explicit infinity variants.
//! Converting to a calendar crate is the consumer's choice and can fail visibly
//! there.
//!
//! ## Time zones
//!
//! `timestamptz` is an instant: PostgreSQL stores UTC and prints it in the session's
//! `TimeZone`, with the offset in effect at that instant (`+05:30`, `-03:30`, or
//! `-03:30:52` for local mean time before 1935 in `America/St_Johns`). The text
//! parser applies whatever offset is printed, so any `TimeZone` setting decodes to
//! the same [`Timestamp`]; rendering always uses UTC (`+00`). `timetz` is not an
//! instant: it keeps its offset ([`TimeTz::utc_offset_seconds`]).
//!
//! ## Text format
//!
//! The parsers read `DateStyle = ISO` output (`2024-01-31 13:45:00.5+00`,
//! `0044-03-15 BC`), which is PostgreSQL's default and what a source should set on
//! its replication connection. Other DateStyles are rejected as malformed rather
//! than guessed at (`01/02/2024` is ambiguous).

use std::fmt::{self, Write};

/// Microseconds per second.
const USECS_PER_SEC: i64 = 1_000_000;
/// Microseconds per day.
pub(crate) const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Days from 1970-01-01 to 2000-01-01.
const UNIX_TO_PG_DAYS: i64 = 10_957;

/// First valid date: 4714-11-24 BC (Julian day 0), in days since 2000-01-01.
pub const MIN_DATE_DAYS: i32 = -2_451_545;
/// Last valid date: 5874897-12-31, in days since 2000-01-01.
pub const MAX_DATE_DAYS: i32 = 2_145_031_948;
/// First valid timestamp: 4714-11-24 00:00:00 BC, in microseconds since 2000-01-01.
pub const MIN_TIMESTAMP_MICROS: i64 = -211_813_488_000_000_000;
/// Last valid timestamp: 294276-12-31 23:59:59.999999, in microseconds since
/// 2000-01-01.
pub const MAX_TIMESTAMP_MICROS: i64 = 9_223_371_331_199_999_999;
/// Largest `timetz` offset PostgreSQL accepts: 15:59:59.
const MAX_TZ_OFFSET_SECS: i32 = 16 * 3600 - 1;

/// A `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Date {
    /// `-infinity`.
    NegInfinity,
    /// Days since 2000-01-01, in [`MIN_DATE_DAYS`]`..=`[`MAX_DATE_DAYS`].
    Days(i32),
    /// `infinity`.
    Infinity,
}

/// A `time`: microseconds since midnight, `0..=86_400_000_000` (PostgreSQL allows
/// `24:00:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time {
    /// Microseconds since midnight.
    pub micros: i64,
}

/// A `timetz`: a time of day and the UTC offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    /// Microseconds since midnight, local to the offset.
    pub micros: i64,
    /// Seconds east of UTC (ISO sign: `+05:30` is 19800). Note that PostgreSQL's
    /// binary format stores the opposite sign (seconds west).
    pub utc_offset_seconds: i32,
}

/// A `timestamp`, or (in [`Value::TimestampTz`](crate::Value::TimestampTz)) a
/// `timestamptz` normalised to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timestamp {
    /// `-infinity`.
    NegInfinity,
    /// Microseconds since 2000-01-01 00:00:00 (UTC for `timestamptz`), in
    /// [`MIN_TIMESTAMP_MICROS`]`..=`[`MAX_TIMESTAMP_MICROS`].
    Micros(i64),
    /// `infinity`.
    Infinity,
}

/// Days since 2000-01-01 of a proleptic Gregorian date (astronomical year: 0 is
/// 1 BC). Valid for any year an `i32` holds.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - UNIX_TO_PG_DAYS
}

/// The proleptic Gregorian date (astronomical year, month, day) of a day number
/// counted from 2000-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_TO_PG_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are small and positive by construction.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.rem_euclid(4) == 0
            && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) =>
        {
            29
        }
        2 => 28,
        _ => 31,
    }
}

impl Date {
    /// The calendar date (astronomical year, month, day), `None` for infinities.
    pub fn to_ymd(self) -> Option<(i64, u32, u32)> {
        match self {
            Date::Days(d) => Some(civil_from_days(i64::from(d))),
            _ => None,
        }
    }
}

impl Timestamp {
    /// Splits a finite timestamp into days since 2000-01-01 and microseconds into
    /// that day.
    fn split(micros: i64) -> (i64, i64) {
        (
            micros.div_euclid(USECS_PER_DAY),
            micros.rem_euclid(USECS_PER_DAY),
        )
    }
}

// ---------------------------------------------------------------------------
// Text output

fn write_ymd(out: &mut impl Write, days: i64) -> fmt::Result {
    let (year, month, day) = civil_from_days(days);
    let shown = if year > 0 { year } else { 1 - year };
    write!(out, "{shown:04}-{month:02}-{day:02}")
}

fn bc_suffix(days: i64) -> &'static str {
    if civil_from_days(days).0 <= 0 {
        " BC"
    } else {
        ""
    }
}

/// `HH:MM:SS[.ffffff]` with trailing fraction zeros trimmed, as `AppendSeconds`.
fn write_hms(out: &mut impl Write, micros: i64) -> fmt::Result {
    let hours = micros / 3_600_000_000;
    let minutes = micros / 60_000_000 % 60;
    let seconds = micros / USECS_PER_SEC % 60;
    write!(out, "{hours:02}:{minutes:02}:{seconds:02}")?;
    write_fraction(out, (micros % USECS_PER_SEC).unsigned_abs())
}

/// `.ffffff` without trailing zeros; nothing when zero.
pub(crate) fn write_fraction(out: &mut impl Write, mut frac: u64) -> fmt::Result {
    if frac == 0 {
        return Ok(());
    }
    let mut width = 6;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    write!(out, ".{frac:0width$}")
}

/// A UTC offset as `EncodeTimezone` prints it: `+05`, `-03:30`, `-03:30:52`.
fn write_offset(out: &mut impl Write, east_seconds: i32) -> fmt::Result {
    let sign = if east_seconds >= 0 { '+' } else { '-' };
    let abs = east_seconds.unsigned_abs();
    let (hours, minutes, seconds) = (abs / 3600, abs / 60 % 60, abs % 60);
    if seconds != 0 {
        write!(out, "{sign}{hours:02}:{minutes:02}:{seconds:02}")
    } else if minutes != 0 {
        write!(out, "{sign}{hours:02}:{minutes:02}")
    } else {
        write!(out, "{sign}{hours:02}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Date::NegInfinity => f.write_str("-infinity"),
            Date::Infinity => f.write_str("infinity"),
            Date::Days(d) => {
                write_ymd(f, i64::from(d))?;
                f.write_str(bc_suffix(i64::from(d)))
            }
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hms(f, self.micros)
    }
}

impl fmt::Display for TimeTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hms(f, self.micros)?;
        write_offset(f, self.utc_offset_seconds)
    }
}

impl Timestamp {
    /// Writes the timestamp as PostgreSQL's ISO output, with `offset` appended to
    /// the time for a `timestamptz` (`Some(0)` prints `+00`).
    ///
    /// For a `timestamptz`, `self` is UTC and the local time shown is
    /// `self + offset`.
    pub fn write_iso(&self, out: &mut impl Write, offset: Option<i32>) -> fmt::Result {
        match *self {
            Timestamp::NegInfinity => out.write_str("-infinity"),
            Timestamp::Infinity => out.write_str("infinity"),
            Timestamp::Micros(utc) => {
                let shift = i64::from(offset.unwrap_or(0)) * USECS_PER_SEC;
                let local = utc.saturating_add(shift);
                let (days, time) = Timestamp::split(local);
                write_ymd(out, days)?;
                out.write_char(' ')?;
                write_hms(out, time)?;
                if let Some(offset) = offset {
                    write_offset(out, offset)?;
                }
                out.write_str(bc_suffix(days))
            }
        }
    }
}

impl fmt::Display for Timestamp {
    /// PostgreSQL's `timestamp` text; see [`Timestamp::write_iso`] for `timestamptz`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_iso(f, None)
    }
}

// ---------------------------------------------------------------------------
// Text input

/// A byte cursor for the fixed layouts of ISO output.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), &'static str> {
        if self.eat(b) { Ok(()) } else { Err(what) }
    }

    /// Between `min` and `max` ASCII digits, as a number.
    fn digits(&mut self, min: usize, max: usize, what: &'static str) -> Result<i64, &'static str> {
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if self.pos - start == max {
                return Err(what);
            }
            value = value * 10 + i64::from(b - b'0');
            self.pos += 1;
        }
        if self.pos - start < min {
            return Err(what);
        }
        Ok(value)
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }
}

/// `YYYY-MM-DD` (year of 4 or more digits) as shown, before any BC adjustment.
fn parse_ymd(c: &mut Cursor<'_>) -> Result<(i64, u32, u32), &'static str> {
    let year = c.digits(4, 9, "bad year")?;
    c.expect(b'-', "expected '-' after the year")?;
    let month = c.digits(2, 2, "bad month")?;
    c.expect(b'-', "expected '-' after the month")?;
    let day = c.digits(2, 2, "bad day")?;
    // Two digits each: the casts cannot truncate.
    Ok((year, month as u32, day as u32))
}

/// Applies the era and validates the calendar date; returns days since 2000-01-01.
fn ymd_to_days(shown_year: i64, month: u32, day: u32, bc: bool) -> Result<i64, &'static str> {
    if shown_year == 0 {
        return Err("year 0 does not exist");
    }
    let year = if bc { 1 - shown_year } else { shown_year };
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range for month");
    }
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.f{1,6}]` as microseconds, hours up to `max_hour` (24 admits `24:00:00`).
fn parse_hms(c: &mut Cursor<'_>, max_hour: i64) -> Result<i64, &'static str> {
    let hours = c.digits(2, 2, "bad hour")?;
    c.expect(b':', "expected ':' after the hour")?;
    let minutes = c.digits(2, 2, "bad minute")?;
    c.expect(b':', "expected ':' after the minute")?;
    let seconds = c.digits(2, 2, "bad second")?;
    let mut frac = 0;
    if c.eat(b'.') {
        let start = c.pos;
        let digits = c.digits(1, 6, "bad fractional seconds")?;
        let width = c.pos - start;
        frac = digits * 10_i64.pow(u32::try_from(6 - width).unwrap_or(0));
    }
    if hours > max_hour || minutes > 59 || seconds > 59 {
        return Err("time field out of range");
    }
    let micros = ((hours * 60 + minutes) * 60 + seconds) * USECS_PER_SEC + frac;
    if micros > USECS_PER_DAY {
        return Err("time field out of range");
    }
    Ok(micros)
}

/// `+HH[:MM[:SS]]` as seconds east of UTC.
fn parse_offset(c: &mut Cursor<'_>) -> Result<i32, &'static str> {
    let negative = match c.peek() {
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return Err("expected a UTC offset"),
    };
    c.pos += 1;
    let hours = c.digits(2, 2, "bad UTC offset")?;
    let mut minutes = 0;
    let mut seconds = 0;
    if c.eat(b':') {
        minutes = c.digits(2, 2, "bad UTC offset")?;
        if c.eat(b':') {
            seconds = c.digits(2, 2, "bad UTC offset")?;
        }
    }
    if minutes > 59 || seconds > 59 {
        return Err("UTC offset out of range");
    }
    // At most 99:59:59: fits an i32.
    let total = ((hours * 60 + minutes) * 60 + seconds) as i32;
    if total > MAX_TZ_OFFSET_SECS {
        return Err("UTC offset out of range");
    }
    Ok(if negative { -total } else { total })
}

fn strip_bc(s: &[u8]) -> (&[u8], bool) {
    match s.strip_suffix(b" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// Parses `date_out` text.
pub(crate) fn parse_date(s: &[u8]) -> Result<Date, &'static str> {
    match s {
        b"infinity" => return Ok(Date::Infinity),
        b"-infinity" => return Ok(Date::NegInfinity),
        _ => {}
    }
    let (s, bc) = strip_bc(s);
    let mut c = Cursor::new(s);
    let (year, month, day) = parse_ymd(&mut c)?;
    if !c.at_end() {
        return Err("trailing characters after the date");
    }
    let days = ymd_to_days(year, month, day, bc)?;
    date_from_days(days)
}

fn date_from_days(days: i64) -> Result<Date, &'static str> {
    i32::try_from(days)
        .ok()
        .filter(|d| (MIN_DATE_DAYS..=MAX_DATE_DAYS).contains(d))
        .map(Date::Days)
        .ok_or("date out of range")
}

/// Parses `time_out` text.
pub(crate) fn parse_time(s: &[u8]) -> Result<Time, &'static str> {
    let mut c = Cursor::new(s);
    let micros = parse_hms(&mut c, 24)?;
    if !c.at_end() {
        return Err("trailing characters after the time");
    }
    Ok(Time { micros })
}

/// Parses `timetz_out` text.
pub(crate) fn parse_timetz(s: &[u8]) -> Result<TimeTz, &'static str> {
    let mut c = Cursor::new(s);
    let micros = parse_hms(&mut c, 24)?;
    let utc_offset_seconds = parse_offset(&mut c)?;
    if !c.at_end() {
        return Err("trailing characters after the UTC offset");
    }
    Ok(TimeTz {
        micros,
        utc_offset_seconds,
    })
}

/// Parses `timestamp_out` (`with_tz` false) or `timestamptz_out` (`with_tz` true)
/// text; a `timestamptz` is converted to UTC with the printed offset.
pub(crate) fn parse_timestamp(s: &[u8], with_tz: bool) -> Result<Timestamp, &'static str> {
    match s {
        b"infinity" => return Ok(Timestamp::Infinity),
        b"-infinity" => return Ok(Timestamp::NegInfinity),
        _ => {}
    }
    let (s, bc) = strip_bc(s);
    let mut c = Cursor::new(s);
    let (year, month, day) = parse_ymd(&mut c)?;
    c.expect(b' ', "expected ' ' between date and time")?;
    let time = parse_hms(&mut c, 23)?;
    let offset = if with_tz { parse_offset(&mut c)? } else { 0 };
    if !c.at_end() {
        return Err(if with_tz {
            "trailing characters after the UTC offset"
        } else {
            "trailing characters after the time"
        });
    }
    let days = ymd_to_days(year, month, day, bc)?;
    // |days| < 2^32 and time < 2^37: i128 cannot overflow.
    let micros = i128::from(days) * i128::from(USECS_PER_DAY) + i128::from(time)
        - i128::from(offset) * i128::from(USECS_PER_SEC);
    timestamp_from_micros(micros)
}

fn timestamp_from_micros(micros: i128) -> Result<Timestamp, &'static str> {
    i64::try_from(micros)
        .ok()
        .filter(|m| (MIN_TIMESTAMP_MICROS..=MAX_TIMESTAMP_MICROS).contains(m))
        .map(Timestamp::Micros)
        .ok_or("timestamp out of range")
}

// ---------------------------------------------------------------------------
// Binary input

/// `date_send`: days since 2000-01-01, `i32::MIN`/`i32::MAX` for the infinities.
pub(crate) fn date_from_binary(days: i32) -> Result<Date, &'static str> {
    match days {
        i32::MIN => Ok(Date::NegInfinity),
        i32::MAX => Ok(Date::Infinity),
        d => date_from_days(i64::from(d)),
    }
}

/// `time_send`: microseconds since midnight.
pub(crate) fn time_from_binary(micros: i64) -> Result<Time, &'static str> {
    if (0..=USECS_PER_DAY).contains(&micros) {
        Ok(Time { micros })
    } else {
        Err("time out of range")
    }
}

/// `timetz_send`: microseconds since midnight, then the zone in seconds *west*.
pub(crate) fn timetz_from_binary(micros: i64, west: i32) -> Result<TimeTz, &'static str> {
    let time = time_from_binary(micros)?;
    if !(-MAX_TZ_OFFSET_SECS..=MAX_TZ_OFFSET_SECS).contains(&west) {
        return Err("UTC offset out of range");
    }
    Ok(TimeTz {
        micros: time.micros,
        utc_offset_seconds: -west,
    })
}

/// `timestamp_send`: microseconds since 2000-01-01, `i64::MIN`/`i64::MAX` for the
/// infinities.
pub(crate) fn timestamp_from_binary(micros: i64) -> Result<Timestamp, &'static str> {
    match micros {
        i64::MIN => Ok(Timestamp::NegInfinity),
        i64::MAX => Ok(Timestamp::Infinity),
        m => timestamp_from_micros(i128::from(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_limits_match_postgres() {
        assert_eq!(days_from_civil(2000, 1, 1), 0);
        assert_eq!(days_from_civil(-4713, 11, 24), i64::from(MIN_DATE_DAYS));
        assert_eq!(days_from_civil(5_874_897, 12, 31), i64::from(MAX_DATE_DAYS));
        assert_eq!(
            (days_from_civil(294_277, 1, 1) * USECS_PER_DAY) - 1,
            MAX_TIMESTAMP_MICROS
        );
        assert_eq!(
            days_from_civil(-4713, 11, 24) * USECS_PER_DAY,
            MIN_TIMESTAMP_MICROS
        );
        for d in [-2_451_545_i64, -1, 0, 59, 60, 365, 1_000_000, 2_145_031_948] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "2000-01-01",
            "0044-03-15 BC",
            "4714-11-24 BC",
            "5874897-12-31",
            "infinity",
            "-infinity",
            "2024-02-29",
            "0001-01-01",
            "0001-12-31 BC",
        ] {
            assert_eq!(parse_date(s.as_bytes()).unwrap().to_string(), s);
        }
        for s in [
            "2023-02-29",
            "0000-01-01",
            "4714-11-23 BC",
            "5874898-01-01",
            "2024-1-01",
            "2024-01-01 ",
            "24-01-01",
        ] {
            assert!(parse_date(s.as_bytes()).is_err(), "{s}");
        }
    }

    #[test]
    fn timestamps_round_trip_and_normalise() {
        for s in [
            "2024-01-31 13:45:00.5",
            "0044-03-15 12:00:00 BC",
            "294276-12-31 23:59:59.999999",
            "4714-11-24 00:00:00 BC",
            "1999-12-31 23:59:59.000001",
        ] {
            assert_eq!(parse_timestamp(s.as_bytes(), false).unwrap().to_string(), s);
        }
        let utc = parse_timestamp(b"2024-07-01 00:00:00+00", true).unwrap();
        assert_eq!(
            parse_timestamp(b"2024-07-01 05:30:00+05:30", true).unwrap(),
            utc
        );
        assert_eq!(
            parse_timestamp(b"2024-06-30 21:30:00-02:30", true).unwrap(),
            utc
        );
        let lmt = parse_timestamp(b"1899-12-31 20:29:08-03:30:52", true).unwrap();
        assert_eq!(
            lmt,
            parse_timestamp(b"1900-01-01 00:00:00+00", true).unwrap()
        );
        let mut s = String::new();
        lmt.write_iso(&mut s, Some(-(3 * 3600 + 30 * 60 + 52)))
            .unwrap();
        assert_eq!(s, "1899-12-31 20:29:08-03:30:52");
        let bc = parse_timestamp(b"0044-03-15 12:00:00-03:30:52 BC", true).unwrap();
        s.clear();
        bc.write_iso(&mut s, Some(-(3 * 3600 + 30 * 60 + 52)))
            .unwrap();
        assert_eq!(s, "0044-03-15 12:00:00-03:30:52 BC");
        assert!(parse_timestamp(b"2024-01-01 00:00:00", true).is_err());
        assert!(parse_timestamp(b"2024-01-01 00:00:00+00", false).is_err());
        assert!(parse_timestamp(b"2024-01-01 24:00:00", false).is_err());
        assert!(parse_timestamp(b"294277-01-01 00:00:00", false).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"24:00:00").unwrap().micros, USECS_PER_DAY);
        assert!(parse_time(b"24:00:01").is_err());
        assert_eq!(
            parse_timetz(b"04:05:06.789-08").unwrap().to_string(),
            "04:05:06.789-08"
        );
        assert_eq!(
            parse_timetz(b"04:05:06+05:30:15")
                .unwrap()
                .utc_offset_seconds,
            19815
        );
        assert_eq!(
            timetz_from_binary(0, 3600).unwrap().to_string(),
            "00:00:00-01"
        );
    }
}
