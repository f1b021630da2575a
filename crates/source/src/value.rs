//! PostgreSQL values (`sluice-pgvalue`) to the event contract's values (`sluice.v1.Value`).
//!
//! The contract counts time from the Unix epoch while PostgreSQL counts from 2000-01-01,
//! and gives time zone offsets the ISO 8601 sign; everything else maps one to one. A value
//! the contract's kinds cannot hold exactly (a timestamp beyond the year 294246 overflows
//! microseconds since 1970) becomes `Other` with PostgreSQL's own text, never a clamped
//! or rounded value.

use std::net::IpAddr;

use sluice_event::v1;
use sluice_event::v1::value::Kind;
use sluice_pgoutput::Cell;
use sluice_pgvalue::{Date, Numeric, Range, RangeBound, Timestamp, Value};

/// Microseconds from 1970-01-01 to 2000-01-01.
const POSTGRES_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const POSTGRES_EPOCH_UNIX_DAYS: i32 = 10_957;

/// The event value of a typed row's cell.
pub fn cell_to_event(cell: &Cell) -> v1::Value {
    match cell {
        Cell::Null => v1::Value::null(),
        Cell::UnchangedToast => v1::Value::unchanged_toast(),
        Cell::Value(value) => value_to_event(value),
    }
}

/// The event value of a PostgreSQL value.
pub fn value_to_event(value: &Value) -> v1::Value {
    v1::Value {
        kind: Some(kind_of(value)),
    }
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Bool(b) => Kind::Boolean(*b),
        Value::Int2(i) => Kind::Integer(i64::from(*i)),
        Value::Int4(i) => Kind::Integer(i64::from(*i)),
        Value::Int8(i) => Kind::Integer(*i),
        Value::Oid(o) => Kind::Oid(*o),
        Value::Float4(f) => Kind::Float4(*f),
        Value::Float8(f) => Kind::Float8(*f),
        Value::Numeric(n) => Kind::Numeric(numeric(n)),
        Value::Text(s) => Kind::Text(s.clone()),
        Value::Char(_) => Kind::Text(value.to_pg_text()),
        Value::Bytea(b) => Kind::Bytea(b.clone()),
        Value::Uuid(u) => Kind::Uuid(u.to_vec()),
        Value::Json(s) => Kind::Json(s.clone()),
        Value::Jsonb(s) => Kind::Jsonb(s.clone()),
        Value::Date(d) => match date(*d) {
            Some(d) => Kind::Date(d),
            None => other(value),
        },
        Value::Time(t) => Kind::Time(v1::Time { micros: t.micros }),
        Value::TimeTz(t) => Kind::Timetz(v1::TimeTz {
            micros: t.micros,
            offset_seconds: t.utc_offset_seconds,
        }),
        Value::Timestamp(t) => match timestamp(*t) {
            Some(t) => Kind::Timestamp(t),
            None => other(value),
        },
        Value::TimestampTz(t) => match timestamp(*t) {
            Some(t) => Kind::Timestamptz(t),
            None => other(value),
        },
        Value::Interval(i) => Kind::Interval(v1::Interval {
            months: i.months,
            days: i.days,
            micros: i.micros,
            infinity: if *i == sluice_pgvalue::Interval::INFINITY {
                v1::Infinity::Positive as i32
            } else if *i == sluice_pgvalue::Interval::NEG_INFINITY {
                v1::Infinity::Negative as i32
            } else {
                v1::Infinity::Unspecified as i32
            },
        }),
        Value::Inet(i) => Kind::Inet(inet(i)),
        Value::Cidr(i) => Kind::Cidr(inet(i)),
        Value::MacAddr(m) => Kind::Macaddr(m.to_vec()),
        Value::MacAddr8(m) => Kind::Macaddr(m.to_vec()),
        Value::Money(m) => Kind::Money(v1::Money {
            minor_units: m.minor_units,
            text: m.text.clone(),
        }),
        Value::Bit(b) | Value::VarBit(b) => Kind::BitString(v1::BitString {
            bit_length: u32::try_from(b.len()).unwrap_or(u32::MAX),
            data: b.as_packed().to_vec(),
        }),
        Value::Enum(e) => Kind::Text(e.label.clone()),
        Value::Array(a) => Kind::Array(v1::Array {
            dimensions: a
                .dims
                .iter()
                .map(|d| v1::ArrayDimension {
                    length: d.len,
                    lower_bound: d.lower_bound,
                })
                .collect(),
            elements: a
                .elements
                .iter()
                .map(|e| e.as_ref().map_or_else(v1::Value::null, value_to_event))
                .collect(),
            element_type_oid: a.element_type,
        }),
        Value::Range(r) => Kind::Range(Box::new(range(r))),
        Value::Multirange(ranges) => Kind::Multirange(v1::Multirange {
            ranges: ranges.iter().map(range).collect(),
        }),
        Value::Other(o) => Kind::Other(v1::Other {
            type_name: o.type_name.as_deref().unwrap_or_default().to_owned(),
            text: o.text.clone(),
            type_oid: o.type_oid,
        }),
        // `Value` is non-exhaustive in spirit: anything new is carried as text.
        #[allow(unreachable_patterns)]
        _ => other(value),
    }
}

fn other(value: &Value) -> Kind {
    Kind::Other(v1::Other {
        type_name: String::new(),
        text: value.to_pg_text(),
        type_oid: 0,
    })
}

fn numeric(n: &Numeric) -> v1::Numeric {
    let (decimal, special) = match n {
        Numeric::Finite(d) => (d.as_str().to_owned(), v1::NumericSpecial::Unspecified),
        Numeric::NaN => (String::new(), v1::NumericSpecial::Nan),
        Numeric::Infinity => (String::new(), v1::NumericSpecial::PositiveInfinity),
        Numeric::NegInfinity => (String::new(), v1::NumericSpecial::NegativeInfinity),
    };
    v1::Numeric {
        decimal,
        special: special as i32,
    }
}

fn date(d: Date) -> Option<v1::Date> {
    Some(match d {
        Date::Days(days) => v1::Date {
            days: days.checked_add(POSTGRES_EPOCH_UNIX_DAYS)?,
            infinity: v1::Infinity::Unspecified as i32,
        },
        Date::Infinity => v1::Date {
            days: 0,
            infinity: v1::Infinity::Positive as i32,
        },
        Date::NegInfinity => v1::Date {
            days: 0,
            infinity: v1::Infinity::Negative as i32,
        },
    })
}

fn timestamp(t: Timestamp) -> Option<v1::Timestamp> {
    Some(match t {
        Timestamp::Micros(micros) => v1::Timestamp {
            micros: micros.checked_add(POSTGRES_EPOCH_UNIX_MICROS)?,
            infinity: v1::Infinity::Unspecified as i32,
        },
        Timestamp::Infinity => v1::Timestamp {
            micros: 0,
            infinity: v1::Infinity::Positive as i32,
        },
        Timestamp::NegInfinity => v1::Timestamp {
            micros: 0,
            infinity: v1::Infinity::Negative as i32,
        },
    })
}

fn inet(i: &sluice_pgvalue::Inet) -> v1::Inet {
    v1::Inet {
        address: match i.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        },
        prefix_length: u32::from(i.prefix_len),
    }
}

fn range(r: &Range) -> v1::Range {
    match r {
        Range::Empty => v1::Range {
            empty: true,
            lower: None,
            upper: None,
        },
        Range::Bounds { lower, upper } => v1::Range {
            empty: false,
            lower: Some(Box::new(bound(lower))),
            upper: Some(Box::new(bound(upper))),
        },
    }
}

fn bound(b: &RangeBound) -> v1::RangeBound {
    match b {
        RangeBound::Unbounded => v1::RangeBound {
            value: None,
            inclusive: false,
        },
        RangeBound::Inclusive(v) => v1::RangeBound {
            value: Some(Box::new(value_to_event(v))),
            inclusive: true,
        },
        RangeBound::Exclusive(v) => v1::RangeBound {
            value: Some(Box::new(value_to_event(v))),
            inclusive: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_pgvalue::{TypeRegistry, decode_text};

    fn event_of(oid: u32, text: &str) -> Kind {
        let value = decode_text(&TypeRegistry::new(), oid, -1, text.as_bytes()).unwrap();
        value_to_event(&value).kind.unwrap()
    }

    #[test]
    fn time_is_counted_from_the_unix_epoch() {
        assert_eq!(
            event_of(1184, "1970-01-01 00:00:01+00"),
            Kind::Timestamptz(v1::Timestamp {
                micros: 1_000_000,
                infinity: 0
            })
        );
        assert_eq!(
            event_of(1082, "1969-12-31"),
            Kind::Date(v1::Date {
                days: -1,
                infinity: 0
            })
        );
        assert_eq!(
            event_of(1114, "-infinity"),
            Kind::Timestamp(v1::Timestamp {
                micros: 0,
                infinity: v1::Infinity::Negative as i32
            })
        );
    }

    #[test]
    fn numerics_keep_every_digit() {
        assert_eq!(
            event_of(1700, "-12345678901234567890.000000000000000000001"),
            Kind::Numeric(v1::Numeric {
                decimal: "-12345678901234567890.000000000000000000001".into(),
                special: 0
            })
        );
    }

    #[test]
    fn an_overflowing_timestamp_is_carried_as_text() {
        let Kind::Other(other) = event_of(1114, "294276-12-31 23:59:59") else {
            panic!("expected Other");
        };
        assert_eq!(other.text, "294276-12-31 23:59:59");
    }
}
