//! Positions and clocks of the replication stream: [`Lsn`] and [`PgTimestamp`].
//!
//! Both are kept as the raw integers PostgreSQL sends, wrapped in newtypes so that an LSN can
//! never be passed where a timestamp is expected (both are 64-bit on the wire). Converting a
//! timestamp to a calendar type is left to the caller: the pipeline mostly forwards them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// A WAL position (`XLogRecPtr`).
///
/// Displays and parses in PostgreSQL's `X/Y` form: the high and low 32 bits in upper-case hex
/// without padding, as `pg_current_wal_lsn()` prints them (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// `InvalidXLogRecPtr`: 0/0, which PostgreSQL uses for "none" (e.g. an Origin message's LSN
    /// inside a streamed block).
    pub const INVALID: Lsn = Lsn(0);

    /// Whether this is [`Lsn::INVALID`].
    pub fn is_invalid(self) -> bool {
        self.0 == 0
    }
}

impl From<u64> for Lsn {
    fn from(value: u64) -> Self {
        Lsn(value)
    }
}

impl From<Lsn> for u64 {
    fn from(value: Lsn) -> Self {
        value.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Why a string is not an LSN in `X/Y` form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid LSN {input:?}: expected two groups of 1 to 8 hex digits separated by '/', like 16/B374D848"
)]
pub struct ParseLsnError {
    /// The rejected input.
    pub input: String,
}

impl FromStr for Lsn {
    type Err = ParseLsnError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = || ParseLsnError {
            input: input.to_owned(),
        };
        let (high, low) = input.split_once('/').ok_or_else(error)?;
        let parse_half = |half: &str| {
            let valid =
                (1..=8).contains(&half.len()) && half.bytes().all(|b| b.is_ascii_hexdigit());
            if valid {
                u32::from_str_radix(half, 16).ok()
            } else {
                None
            }
        };
        let high = parse_half(high).ok_or_else(error)?;
        let low = parse_half(low).ok_or_else(error)?;
        Ok(Lsn((u64::from(high) << 32) | u64::from(low)))
    }
}

/// Microseconds since the PostgreSQL epoch, 2000-01-01 00:00:00 UTC (`TimestampTz`).
///
/// Used for commit, prepare and abort times and for the replication protocol's clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgTimestamp(pub i64);

impl PgTimestamp {
    /// The PostgreSQL epoch in microseconds since the Unix epoch.
    pub const POSTGRES_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

    /// Microseconds since the Unix epoch, or `None` on overflow (only for `infinity`-like
    /// values near `i64::MAX`).
    pub fn to_unix_micros(self) -> Option<i64> {
        self.0.checked_add(Self::POSTGRES_EPOCH_UNIX_MICROS)
    }

    /// From microseconds since the Unix epoch, or `None` on overflow.
    pub fn from_unix_micros(unix_micros: i64) -> Option<Self> {
        unix_micros
            .checked_sub(Self::POSTGRES_EPOCH_UNIX_MICROS)
            .map(PgTimestamp)
    }

    /// From a [`SystemTime`], saturating at the representable range.
    pub fn from_system_time(time: SystemTime) -> Self {
        let unix_micros = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
        };
        PgTimestamp(unix_micros.saturating_sub(Self::POSTGRES_EPOCH_UNIX_MICROS))
    }

    /// The current time, for the clock field of the client's status updates.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// As a [`SystemTime`], or `None` if out of its range.
    pub fn to_system_time(self) -> Option<SystemTime> {
        let unix_micros = self.to_unix_micros()?;
        let magnitude = Duration::from_micros(unix_micros.unsigned_abs());
        if unix_micros >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_displays_like_postgres() {
        assert_eq!(Lsn(0).to_string(), "0/0");
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!(Lsn(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
    }

    #[test]
    fn lsn_parses_what_it_displays() {
        for value in [0, 1, 0x1DB_7638, 0x16_B374_D848, u64::MAX] {
            assert_eq!(Lsn(value).to_string().parse::<Lsn>(), Ok(Lsn(value)));
        }
        assert_eq!("0/1db7638".parse::<Lsn>(), Ok(Lsn(0x1DB_7638)));
    }

    #[test]
    fn lsn_rejects_malformed_input() {
        for bad in [
            "",
            "/",
            "0/",
            "/0",
            "0",
            "0/0/0",
            "123456789/0",
            "0/G",
            "+1/0",
            "0/ 1",
        ] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn timestamps_convert_through_unix_time() {
        let epoch = PgTimestamp(0);
        assert_eq!(epoch.to_unix_micros(), Some(946_684_800_000_000));
        assert_eq!(
            PgTimestamp::from_unix_micros(946_684_800_000_000),
            Some(epoch)
        );
        let system = epoch.to_system_time().expect("in range");
        assert_eq!(PgTimestamp::from_system_time(system), epoch);
        assert_eq!(PgTimestamp(i64::MAX).to_unix_micros(), None);
    }
}
