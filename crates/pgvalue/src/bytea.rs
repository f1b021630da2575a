//! `bytea`: the hex form and the legacy escape form.
//!
//! `bytea_output = hex` (the default since 9.0) prints `\x` and two lowercase hex
//! digits per byte. `bytea_output = escape` prints printable ASCII as itself, a
//! backslash as `\\` and every other byte as `\ooo` (three octal digits). A server
//! may use either, so both decode; rendering always uses hex.

use std::fmt::{self, Write};

/// Decodes `byteaout` text in either form.
pub(crate) fn parse_bytea(s: &[u8]) -> Result<Vec<u8>, &'static str> {
    if let Some(hex) = s.strip_prefix(b"\\x") {
        return parse_hex(hex);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
        } else if s.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            match s.get(i + 1..i + 4) {
                Some([a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7']) => {
                    out.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                    i += 4;
                }
                _ => return Err("bad escape sequence"),
            }
        }
    }
    Ok(out)
}

fn parse_hex(hex: &[u8]) -> Result<Vec<u8>, &'static str> {
    let digit = |c: u8| -> Result<u8, &'static str> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err("invalid hex digit"),
        }
    };
    if !hex.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    hex.chunks_exact(2)
        .map(|pair| Ok((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

/// `\x` and lowercase hex, as `bytea_output = hex` prints.
pub(crate) fn write_bytea_hex(out: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_str("\\x")?;
    for &b in bytes {
        out.write_char(char::from(HEX[usize::from(b >> 4)]))?;
        out.write_char(char::from(HEX[usize::from(b & 15)]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(parse_bytea(b"\\x00ff").unwrap(), vec![0, 255]);
        assert_eq!(parse_bytea(b"\\x").unwrap(), Vec::<u8>::new());
        assert_eq!(
            parse_bytea(b"\\001a\\\\b\\377").unwrap(),
            vec![1, b'a', b'\\', b'b', 255]
        );
        assert!(parse_bytea(b"\\x0").is_err());
        assert!(parse_bytea(b"\\xzz").is_err());
        assert!(parse_bytea(b"\\8").is_err());
        assert!(parse_bytea(b"\\").is_err());
        let mut s = String::new();
        write_bytea_hex(&mut s, &[0, 0xab]).unwrap();
        assert_eq!(s, "\\x00ab");
    }
}
