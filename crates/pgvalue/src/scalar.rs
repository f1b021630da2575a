//! The small fixed-size types: `bool`, `"char"` and `uuid`.
//!
//! Integers and text need no module of their own; these have a quirk each.
//! `"char"` prints a high-bit byte as `\ooo` (PostgreSQL 15+) and the zero byte as
//! the empty string; `uuid` input accepts braces and missing or extra hyphens, and
//! output is always lowercase `8-4-4-4-12`.

use std::fmt::{self, Write};

/// `boolout` prints `t`/`f`; `boolin`'s other spellings are accepted too.
pub(crate) fn parse_bool(s: &[u8]) -> Result<bool, &'static str> {
    match s {
        b"t" | b"true" | b"TRUE" | b"y" | b"yes" | b"on" | b"1" => Ok(true),
        b"f" | b"false" | b"FALSE" | b"n" | b"no" | b"off" | b"0" => Ok(false),
        _ => Err("not a boolean"),
    }
}

/// `charout`'s text: empty for 0, `\ooo` for bytes with the high bit set.
pub(crate) fn parse_char(s: &[u8]) -> Result<u8, &'static str> {
    match s {
        [] => Ok(0),
        [c] => Ok(*c),
        [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            Ok(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
        }
        _ => Err("more than one byte"),
    }
}

pub(crate) fn write_char(out: &mut impl Write, c: u8) -> fmt::Result {
    match c {
        0 => Ok(()),
        0x80.. => write!(out, "\\{c:03o}"),
        _ => out.write_char(char::from(c)),
    }
}

/// `uuid_in`: 32 hex digits, optionally in braces, with a hyphen allowed after any
/// group of four digits.
pub(crate) fn parse_uuid(s: &str) -> Result<[u8; 16], &'static str> {
    if let Some(u) = parse_canonical_uuid(s.as_bytes()) {
        return Ok(u);
    }
    let inner = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or("unbalanced brace")?,
        None => s,
    };
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut last_was_hyphen = true; // no leading hyphen
    for c in inner.bytes() {
        if c == b'-' {
            if last_was_hyphen || n % 4 != 0 || n == 32 {
                return Err("misplaced hyphen");
            }
            last_was_hyphen = true;
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err("invalid character"),
        };
        if n == 32 {
            return Err("too many digits");
        }
        out[n / 2] |= if n % 2 == 0 { digit << 4 } else { digit };
        n += 1;
        last_was_hyphen = false;
    }
    if n != 32 || last_was_hyphen {
        return Err("not 32 hex digits");
    }
    Ok(out)
}

/// The fast path for `uuid_out`'s own form, `8-4-4-4-12` lowercase.
fn parse_canonical_uuid(s: &[u8]) -> Option<[u8; 16]> {
    if s.len() != 36 || s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    let mut hex = s.iter().copied().filter(|&c| c != b'-');
    for byte in &mut out {
        let hi = nibble(hex.next()?)?;
        let lo = nibble(hex.next()?)?;
        *byte = (hi << 4) | lo;
    }
    Some(out)
}

pub(crate) fn write_uuid(out: &mut impl Write, u: &[u8; 16]) -> fmt::Result {
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.write_char('-')?;
        }
        write!(out, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_forms() {
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for s in [
            canonical,
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            let mut out = String::new();
            write_uuid(&mut out, &parse_uuid(s).unwrap()).unwrap();
            assert_eq!(out, canonical);
        }
        for s in [
            "",
            "a0eebc99",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11-",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11aa",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0e-ebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            assert!(parse_uuid(s).is_err(), "{s}");
        }
    }

    #[test]
    fn char_forms() {
        assert_eq!(parse_char(b"").unwrap(), 0);
        assert_eq!(parse_char(b"\\200").unwrap(), 0x80);
        assert_eq!(parse_char(b"\\").unwrap(), b'\\');
        assert!(parse_char(b"ab").is_err());
        let mut s = String::new();
        write_char(&mut s, 0xff).unwrap();
        assert_eq!(s, "\\377");
    }
}
