//! PostgreSQL column values, as pgoutput sends them, to typed Rust values and back.
//!
//! pgoutput's tuple data carries each column as `n` (NULL), `u` (unchanged TOAST),
//! `t` (text: the type's output function) or `b` (binary: the type's send
//! function). The tuple layer handles `n` and `u`; this crate turns the bytes of a
//! `t` or `b` column into a [`Value`], given the column's type OID from the
//! Relation message and a [`TypeRegistry`].
//!
//! ```text
//!  Relation msg ──type OID──┐
//!  Type msg / catalog ──▶ TypeRegistry
//!                           │
//!  tuple column 't' bytes ──┼──▶ decode_text ───┐
//!  tuple column 'b' bytes ──┴──▶ decode_binary ─┴──▶ Value ──▶ to_pg_text (keys, tests)
//! ```
//!
//! ## What downstream stores can rely on
//!
//! * **Nothing is rounded.** `numeric` keeps every digit and its scale
//!   ([`Numeric`]); floats keep NaN, ±Infinity and -0, and their text is the
//!   shortest exact form; intervals keep months, days and microseconds apart.
//! * **Time is PostgreSQL's time.** Dates and timestamps are stored as PostgreSQL
//!   stores them (days or microseconds since 2000-01-01) with explicit infinities,
//!   so 4713 BC and 294276 AD survive; `timestamptz` is normalised to UTC from
//!   whatever `TimeZone` offset the server printed ([`datetime`]).
//! * **Arrays and ranges follow PostgreSQL's grammar**, quoting, escapes, NULL
//!   elements, lower bounds and all ([`Array`], [`Range`]).
//! * **An unknown type is not an error.** It becomes [`Value::Other`] with its text
//!   and, when the registry knows it, its name. Only input that is malformed for a
//!   type this crate knows yields a [`ValueError`], which names the type and the
//!   offending input. No input panics (the tests feed random bytes to every type).
//!
//! ## Settings a source must use
//!
//! Text output depends on session settings. Set these on the replication
//! connection: `DateStyle = ISO`, `IntervalStyle = postgres`,
//! `extra_float_digits = 3` (anything ≥ 1 is lossless), `bytea_output = hex`
//! (escape also decodes), `client_encoding = UTF8`. `TimeZone` may be anything;
//! `lc_monetary` only matters for [`Money::minor_units`].
//!
//! ## Modules
//!
//! One per family of types: [`registry`] (OIDs to decoders), [`numeric`],
//! [`datetime`], [`interval`], [`network`], [`bits`], [`money`], plus the
//! container parsers behind [`Array`] and [`Range`].

#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod array;
pub mod bits;
mod bytea;
pub mod datetime;
mod decode;
mod error;
mod float;
pub mod interval;
pub mod money;
pub mod network;
pub mod numeric;
mod range;
pub mod registry;
mod scalar;
mod value;

pub use bits::BitString;
pub use datetime::{Date, Time, TimeTz, Timestamp};
pub use decode::{decode_binary, decode_text};
pub use error::{Format, ValueError};
pub use interval::Interval;
pub use money::Money;
pub use network::Inet;
pub use numeric::{Decimal, Numeric};
pub use registry::{CATALOG_QUERY, PgTypeRow, Scalar, TypeInfo, TypeKind, TypeRegistry};
pub use value::{Array, ArrayDim, EnumValue, Other, Range, RangeBound, Value};
