//! `bit(n)` and `varbit(n)`: bit strings of any length.
//!
//! Text is one `0` or `1` per bit. The binary format is the bit count (`i32`)
//! followed by the bits packed most significant first, the last byte padded with
//! zeros. A [`BitString`] keeps that packed form.

use std::fmt;

/// A bit string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BitString {
    len: usize,
    bytes: Vec<u8>,
}

impl BitString {
    /// Packs bits, first bit most significant.
    pub fn from_bits(bits: impl IntoIterator<Item = bool>) -> BitString {
        let mut out = BitString::default();
        for bit in bits {
            if out.len.is_multiple_of(8) {
                out.bytes.push(0);
            }
            if bit && let Some(last) = out.bytes.last_mut() {
                *last |= 0x80 >> (out.len % 8);
            }
            out.len += 1;
        }
        out
    }

    /// Takes `len` bits from packed bytes (most significant first); padding bits
    /// of the last byte are cleared. `None` when `bytes` has the wrong length.
    pub fn from_packed(len: usize, mut bytes: Vec<u8>) -> Option<BitString> {
        if bytes.len() != len.div_ceil(8) {
            return None;
        }
        if !len.is_multiple_of(8)
            && let Some(last) = bytes.last_mut()
        {
            *last &= 0xff << (8 - len % 8);
        }
        Some(BitString { len, bytes })
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`, `None` past the end.
    pub fn get(&self, i: usize) -> Option<bool> {
        (i < self.len).then(|| self.bytes[i / 8] & (0x80 >> (i % 8)) != 0)
    }

    /// The packed bytes, most significant bit first, last byte zero-padded.
    pub fn as_packed(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Display for BitString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.len);
        for i in 0..self.len {
            s.push(if self.bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            });
        }
        f.write_str(&s)
    }
}

/// Parses `bit_out`/`varbit_out` text.
pub(crate) fn parse_bits(s: &[u8]) -> Result<BitString, &'static str> {
    if !s.iter().all(|&b| b == b'0' || b == b'1') {
        return Err("not a string of 0 and 1");
    }
    Ok(BitString::from_bits(s.iter().map(|&b| b == b'1')))
}

/// Decodes `bit_send`/`varbit_send`.
pub(crate) fn bits_from_binary(b: &[u8]) -> Result<BitString, &'static str> {
    let [a, b0, c, d, rest @ ..] = b else {
        return Err("shorter than the 4-byte length");
    };
    let len = i32::from_be_bytes([*a, *b0, *c, *d]);
    let len = usize::try_from(len).map_err(|_| "negative bit length")?;
    BitString::from_packed(len, rest.to_vec()).ok_or("bit length does not match the data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary() {
        let b = parse_bits(b"0101000011").unwrap();
        assert_eq!(b.len(), 10);
        assert_eq!(b.to_string(), "0101000011");
        assert_eq!(b.as_packed(), &[0b0101_0000, 0b1100_0000]);
        assert_eq!(
            bits_from_binary(&[0, 0, 0, 10, 0b0101_0000, 0b1111_1111]).unwrap(),
            b
        );
        assert_eq!(parse_bits(b"").unwrap().to_string(), "");
        assert!(parse_bits(b"012").is_err());
        assert!(bits_from_binary(&[0, 0, 0, 9, 0]).is_err());
        assert!(bits_from_binary(&[255, 255, 255, 255]).is_err());
    }
}
