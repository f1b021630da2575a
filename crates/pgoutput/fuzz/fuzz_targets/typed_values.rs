//! One column value, decoded as a type the input chooses: every built-in type and one of
//! each kind of user type (enum, domain, array of a domain, range, multirange, composite,
//! an extension's base type, a domain cycle), in text or binary format.
//!
//! Input: a selector byte (bit 0: binary format), four bytes choosing the type (a
//! registered OID, or else an index into the sorted OIDs modulo their number), then the
//! value's bytes.
//!
//! Checks: no panic and no huge allocation (run with `-malloc_limit_mb`); a type the
//! registry does not know never fails in text format; whatever decodes renders to text,
//! and text that decodes renders to text that decodes to the same value (the rendering is
//! PostgreSQL's canonical text).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sluice_pgvalue::{TypeRegistry, decode_binary, decode_text};

/// An OID no registry entry has.
const UNKNOWN: u32 = 123_456;

static REGISTRY: LazyLock<TypeRegistry> = LazyLock::new(|| {
    let mut r = TypeRegistry::new();
    r.register_enum(90_000, "mood");
    r.register_array(90_001, "_mood", 90_000);
    r.register_domain(90_002, "posint", 23);
    r.register_array(90_003, "_posint", 90_002);
    r.register_range(90_004, "textrange", 25);
    r.register_multirange(90_005, "textmultirange", 90_004);
    r.register_composite(90_006, "pair");
    r.register_array(90_007, "_pair", 90_006);
    r.register_domain(90_008, "loop_a", 90_009);
    r.register_domain(90_009, "loop_b", 90_008);
    r.register_base(90_013, "citext", b',');
    r
});

static OIDS: LazyLock<Vec<u32>> = LazyLock::new(|| {
    let mut oids: Vec<u32> = REGISTRY.types().map(|t| t.oid).collect();
    oids.push(UNKNOWN);
    oids.sort_unstable();
    oids
});

fuzz_target!(|data: &[u8]| {
    let [selector, a, b, c, d, value @ ..] = data else {
        return;
    };
    let registry = &*REGISTRY;
    let oid = match u32::from_be_bytes([*a, *b, *c, *d]) {
        oid if registry.get(oid).is_some() => oid,
        index => OIDS[index as usize % OIDS.len()],
    };
    if selector & 1 == 1 {
        if let Ok(decoded) = decode_binary(registry, oid, -1, value) {
            let _ = decoded.to_pg_text();
        }
        return;
    }
    match decode_text(registry, oid, -1, value) {
        Ok(decoded) => {
            let text = decoded.to_pg_text();
            let again = decode_text(registry, oid, -1, text.as_bytes());
            assert_eq!(again.as_ref(), Ok(&decoded), "oid {oid}: {text:?}");
        }
        Err(error) => assert!(oid != UNKNOWN, "unknown types never fail: {error}"),
    }
});
