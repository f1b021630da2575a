//! `inet`, `cidr`, `macaddr` and `macaddr8`.
//!
//! An `inet` is a host address with an optional netmask length; a `cidr` is a
//! network (host bits zero). Both are an address plus a prefix length here; the
//! [`Value`](crate::Value) variant says which. Text differs: `inet` omits the prefix
//! when it covers the whole address (`10.0.0.1`), `cidr` always shows it
//! (`10.0.0.1/32`).
//!
//! IPv6 text follows PostgreSQL's (BIND's) `inet_net_ntop`, not RFC 5952 or Rust's
//! `Display`: the longest run of zero words (the first when tied, at least two
//! long) becomes `::`, and an address whose first 96 bits are zero, or whose first
//! 80 are zero followed by `ffff`, ends in dotted IPv4 (`::1.2.3.4`,
//! `::ffff:1.2.3.4`). Rust prints the former as `::102:304`, which is why the
//! formatter is our own.

use std::fmt::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An `inet` or `cidr` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inet {
    /// The address (for a `cidr`, the network address).
    pub addr: IpAddr,
    /// The netmask length: `0..=32` for IPv4, `0..=128` for IPv6.
    pub prefix_len: u8,
}

impl Inet {
    fn max_prefix(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// Writes PostgreSQL's text: `cidr` always has `/n`, `inet` only when `n` is
    /// shorter than the address.
    pub fn write_pg(&self, out: &mut impl Write, is_cidr: bool) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(out, "{a}")?,
            IpAddr::V6(a) => write_ipv6(out, &a)?,
        }
        if is_cidr || self.prefix_len != self.max_prefix() {
            write!(out, "/{}", self.prefix_len)?;
        }
        Ok(())
    }
}

fn write_ipv6(out: &mut impl Write, addr: &Ipv6Addr) -> fmt::Result {
    let words = addr.segments();
    // The longest run of zero words; the first wins a tie; runs of one don't count.
    let (mut best_base, mut best_len) = (None::<usize>, 0);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_base = Some(start);
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let in_run = |i: usize| best_base.is_some_and(|b| i >= b && i < b + best_len);
    for (i, word) in words.iter().enumerate() {
        if in_run(i) {
            if best_base == Some(i) {
                out.write_char(':')?;
            }
            continue;
        }
        if i != 0 {
            out.write_char(':')?;
        }
        let embeds_ipv4 = i == 6
            && best_base == Some(0)
            && (best_len == 6
                || (best_len == 7 && words[7] != 1)
                || (best_len == 5 && words[5] == 0xffff));
        if embeds_ipv4 {
            let o = addr.octets();
            return write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
        }
        write!(out, "{word:x}")?;
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.write_char(':')?;
    }
    Ok(())
}

/// Parses `inet_out`/`cidr_out` text: an address, optionally `/prefix`.
pub(crate) fn parse_inet(s: &str) -> Result<Inet, &'static str> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = if addr.contains(':') {
        IpAddr::V6(addr.parse::<Ipv6Addr>().map_err(|_| "bad IPv6 address")?)
    } else {
        IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| "bad IPv4 address")?)
    };
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().map_err(|_| "bad prefix length")?
        }
        Some(_) => return Err("bad prefix length"),
    };
    if prefix_len > max {
        return Err("prefix length too long for the address");
    }
    Ok(Inet { addr, prefix_len })
}

/// `inet_send`: family (2 = IPv4, 3 = IPv6), bits, is_cidr, address length,
/// address bytes.
pub(crate) fn inet_from_binary(b: &[u8]) -> Result<(Inet, bool), &'static str> {
    let [family, bits, is_cidr, len, addr @ ..] = b else {
        return Err("shorter than the 4-byte header");
    };
    if usize::from(*len) != addr.len() {
        return Err("address length does not match");
    }
    let addr = match (family, addr.len()) {
        (2, 4) => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        (3, 16) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(addr);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return Err("unknown address family or length"),
    };
    let inet = Inet {
        addr,
        prefix_len: *bits,
    };
    if *bits > inet.max_prefix() {
        return Err("prefix length too long for the address");
    }
    if *is_cidr > 1 {
        return Err("bad is_cidr flag");
    }
    Ok((inet, *is_cidr == 1))
}

/// Parses `N` hex byte pairs separated by `:` or `-` (`macaddr_out` uses `:`). For
/// `macaddr8`, a 6-byte address is widened to EUI-64 as PostgreSQL does
/// (`ff:fe` inserted in the middle).
pub(crate) fn parse_mac<const N: usize>(s: &str) -> Result<[u8; N], &'static str> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let parsed: Vec<u8> = parts
        .iter()
        .map(|p| {
            if p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()) {
                u8::from_str_radix(p, 16).map_err(|_| "bad hex byte")
            } else {
                Err("bad hex byte")
            }
        })
        .collect::<Result<_, _>>()?;
    let mut out = [0u8; N];
    if parsed.len() == N {
        out.copy_from_slice(&parsed);
    } else if N == 8 && parsed.len() == 6 {
        out[..3].copy_from_slice(&parsed[..3]);
        out[3] = 0xff;
        out[4] = 0xfe;
        out[5..].copy_from_slice(&parsed[3..]);
    } else {
        return Err("wrong number of bytes");
    }
    Ok(out)
}

/// `08:00:2b:01:02:03`.
pub(crate) fn write_mac(out: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.write_char(':')?;
        }
        write!(out, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(s: &str) -> String {
        let mut out = String::new();
        parse_inet(s).unwrap().write_pg(&mut out, false).unwrap();
        out
    }

    #[test]
    fn ipv6_text_matches_postgres() {
        for (input, pg) in [
            ("::1", "::1"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("::", "::"),
            ("1:0:0:0:0:0:0:8", "1::8"),
            ("1:0:1:0:0:0:0:8", "1:0:1::8"),
            ("::2", "::2"),
            ("::ffff:0:0", "::ffff:0.0.0.0"),
            ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"),
            ("1::", "1::"),
            ("1.2.3.4/24", "1.2.3.4/24"),
            ("1.2.3.4/32", "1.2.3.4"),
        ] {
            assert_eq!(inet(input), pg, "{input}");
        }
        let mut out = String::new();
        parse_inet("1.2.3.4")
            .unwrap()
            .write_pg(&mut out, true)
            .unwrap();
        assert_eq!(out, "1.2.3.4/32");
        assert!(parse_inet("1.2.3.4/33").is_err());
        assert!(parse_inet("1.2.3.4/").is_err());
        assert!(parse_inet("1.2.3").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac::<6>("08:00:2b:01:02:03").unwrap(),
            [8, 0, 0x2b, 1, 2, 3]
        );
        assert_eq!(
            parse_mac::<8>("08:00:2b:01:02:03").unwrap(),
            [8, 0, 0x2b, 0xff, 0xfe, 1, 2, 3]
        );
        assert!(parse_mac::<6>("08:00:2b:01:02").is_err());
        assert!(parse_mac::<6>("08:00:2b:01:02:+3").is_err());
    }
}
