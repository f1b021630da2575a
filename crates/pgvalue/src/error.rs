//! The one error type of the crate.
//!
//! Decoding fails only for a type the crate knows and input that is not what
//! PostgreSQL would have produced for it: a CDC pipeline must not guess at such a
//! value, so the error names the type, the wire format and (truncated) the offending
//! input, which is what an operator needs to file a precise bug or dead-letter the
//! event. Unknown types never fail: they become [`Value::Other`](crate::Value::Other).

use std::fmt;

/// The wire format a value arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PostgreSQL's text output (the type's output function).
    Text,
    /// PostgreSQL's binary output (the type's send function).
    Binary,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Binary => "binary",
        })
    }
}

/// Why a column value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The input is not a valid value of a type this crate knows.
    #[error("malformed {format} {type_name} value ({reason}): {input}")]
    Malformed {
        /// The type's name (`int4`, `_text`, `public.mood`, ...).
        type_name: String,
        /// The type's OID.
        type_oid: u32,
        /// Text or binary.
        format: Format,
        /// What is wrong with it.
        reason: String,
        /// The offending input: text truncated to 64 characters, binary as hex of
        /// its first 32 bytes.
        input: String,
    },
    /// The type is known but this crate has no decoder for its binary format.
    ///
    /// pgoutput sends text unless the subscription asks for `binary = true`; a
    /// source that sees this error should use text format for the relation.
    #[error(
        "no binary decoder for {type_name} (oid {type_oid}); request text format from pgoutput"
    )]
    UnsupportedBinary {
        /// The type's name.
        type_name: String,
        /// The type's OID.
        type_oid: u32,
    },
}

/// How much of the offending input an error keeps.
const MAX_TEXT_CHARS: usize = 64;
const MAX_BINARY_BYTES: usize = 32;

/// Renders the offending input for an error message, truncated.
pub(crate) fn describe_input(format: Format, input: &[u8]) -> String {
    match format {
        Format::Text => {
            let text = String::from_utf8_lossy(input);
            let mut out: String = text.chars().take(MAX_TEXT_CHARS).collect();
            if text.chars().nth(MAX_TEXT_CHARS).is_some() {
                out.push('…');
            }
            format!("{out:?}")
        }
        Format::Binary => {
            let mut out = String::from("0x");
            for b in input.iter().take(MAX_BINARY_BYTES) {
                out.push_str(&format!("{b:02x}"));
            }
            if input.len() > MAX_BINARY_BYTES {
                out.push_str(&format!("… ({} bytes)", input.len()));
            }
            out
        }
    }
}
