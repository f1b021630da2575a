//! Which decoder a type OID gets.
//!
//! pgoutput's Relation message gives each column a type OID and nothing else. For
//! built-in types the OID is enough: OIDs below 10000 are fixed by PostgreSQL's
//! `pg_type.dat` and identical on every server, so they live in a static table
//! (`registry/builtin.rs`). User-defined types (enums, domains, composites, ranges, arrays of
//! any of these) get OIDs at `CREATE TYPE` time, so the source must read them from
//! the catalog and register them here; pgoutput also sends a Type message (namespace
//! and name) for each non-built-in type, which gives the name but not the shape.
//!
//! The registry does no I/O. [`CATALOG_QUERY`] is the query whose rows
//! [`TypeRegistry::register`] takes; the individual `register_*` methods exist for
//! callers that learn types some other way.
//!
//! ## Why unknown types are not an error
//!
//! A CDC pipeline must not stop because someone added a PostGIS or `citext` column.
//! An OID the registry does not know, or knows only by name, decodes from text to
//! [`Value::Other`](crate::Value::Other) with its text and (when known) its name.

mod builtin;

use std::collections::HashMap;
use std::sync::Arc;

/// The built-in scalar types this crate decodes into a typed [`Value`](crate::Value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `bool`.
    Bool,
    /// `int2`.
    Int2,
    /// `int4`.
    Int4,
    /// `int8`.
    Int8,
    /// `oid`.
    Oid,
    /// `float4`.
    Float4,
    /// `float8`.
    Float8,
    /// `numeric`.
    Numeric,
    /// `text`, `varchar`, `bpchar`, `name` (and the pseudo-type `unknown`).
    Text,
    /// `"char"`, the one-byte internal type.
    Char,
    /// `bytea`.
    Bytea,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `timetz`.
    TimeTz,
    /// `timestamp`.
    Timestamp,
    /// `timestamptz`.
    TimestampTz,
    /// `interval`.
    Interval,
    /// `inet`.
    Inet,
    /// `cidr`.
    Cidr,
    /// `macaddr`.
    MacAddr,
    /// `macaddr8`.
    MacAddr8,
    /// `money`.
    Money,
    /// `bit`.
    Bit,
    /// `varbit`.
    VarBit,
}

/// The built-in OIDs that have a typed decoder. A `match`, so the hot path of
/// decoding a built-in scalar does not touch the registry's hash map.
#[inline]
pub(crate) const fn builtin_scalar(oid: u32) -> Option<Scalar> {
    Some(match oid {
        16 => Scalar::Bool,
        17 => Scalar::Bytea,
        18 => Scalar::Char,
        19 | 25 | 705 | 1042 | 1043 => Scalar::Text,
        20 => Scalar::Int8,
        21 => Scalar::Int2,
        23 => Scalar::Int4,
        26 => Scalar::Oid,
        114 => Scalar::Json,
        650 => Scalar::Cidr,
        700 => Scalar::Float4,
        701 => Scalar::Float8,
        774 => Scalar::MacAddr8,
        790 => Scalar::Money,
        829 => Scalar::MacAddr,
        869 => Scalar::Inet,
        1082 => Scalar::Date,
        1083 => Scalar::Time,
        1114 => Scalar::Timestamp,
        1184 => Scalar::TimestampTz,
        1186 => Scalar::Interval,
        1266 => Scalar::TimeTz,
        1560 => Scalar::Bit,
        1562 => Scalar::VarBit,
        1700 => Scalar::Numeric,
        2950 => Scalar::Uuid,
        3802 => Scalar::Jsonb,
        _ => return None,
    })
}

/// What a registered type is, which decides how its values decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A built-in scalar with a typed decoder.
    Scalar(Scalar),
    /// An array; elements are of type `element`.
    Array {
        /// The element type's OID (`pg_type.typelem`).
        element: u32,
    },
    /// A range over `subtype` (`pg_range.rngsubtype`).
    Range {
        /// The bound type's OID.
        subtype: u32,
    },
    /// A multirange of `range` (`pg_range.rngtypid` where `rngmultitypid` is this).
    Multirange {
        /// The range type's OID.
        range: u32,
    },
    /// An enum: values are labels.
    Enum,
    /// A domain: values decode as the base type (`pg_type.typbasetype`).
    Domain {
        /// The base type's OID (itself possibly a domain).
        base: u32,
    },
    /// A composite (row) type: decoded as [`Value::Other`](crate::Value::Other).
    Composite,
    /// A type known by name only (extension base types, pseudo-types, geometric
    /// types...): decoded as [`Value::Other`](crate::Value::Other).
    Opaque,
}

/// One registered type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// `pg_type.oid`.
    pub oid: u32,
    /// The name values carry ([`Value::Enum`](crate::Value::Enum),
    /// [`Value::Other`](crate::Value::Other)) and errors show.
    pub name: Arc<str>,
    /// How values of this type decode.
    pub kind: TypeKind,
    /// `pg_type.typdelim`: the separator between elements of an array of this type
    /// (`,` for all but `box`, which uses `;`).
    pub delimiter: u8,
}

/// One row of `pg_type` (joined with `pg_range`), as [`CATALOG_QUERY`] returns it.
///
/// Field names follow the query's column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTypeRow<'a> {
    /// `oid`.
    pub oid: u32,
    /// `name`: the name to report, schema-qualified outside `pg_catalog`/`public`.
    pub name: &'a str,
    /// `typtype`: `b` base, `c` composite, `d` domain, `e` enum, `p` pseudo,
    /// `r` range, `m` multirange.
    pub typtype: u8,
    /// `typbasetype` (domains), else 0.
    pub base_type: u32,
    /// `typelem` when the type is a true array (`typinput = 'array_in'`), else 0.
    pub array_element: u32,
    /// `pg_range.rngsubtype` for a range type, else 0.
    pub range_subtype: u32,
    /// For a multirange, its range type (`pg_range.rngtypid`), else 0.
    pub multirange_of: u32,
    /// `typdelim`.
    pub delimiter: u8,
}

/// The catalog query whose rows [`TypeRegistry::register`] takes, in column order
/// `oid, name, typtype, base_type, array_element, range_subtype, multirange_of,
/// delimiter` (`typtype` and `delimiter` are `"char"`, one byte each).
///
/// It reads every type outside `pg_catalog` (user types, extension types and
/// `information_schema`'s domains), arrays included. Run it at start-up and again
/// when a pgoutput Type or Relation message names an OID the registry lacks.
pub const CATALOG_QUERY: &str = "\
SELECT t.oid,
       CASE WHEN n.nspname IN ('pg_catalog', 'public') THEN t.typname::text
            ELSE n.nspname || '.' || t.typname END AS name,
       t.typtype,
       t.typbasetype AS base_type,
       CASE WHEN t.typinput = 'array_in'::regproc THEN t.typelem ELSE 0::oid END AS array_element,
       coalesce(r.rngsubtype, 0::oid) AS range_subtype,
       coalesce(m.rngtypid, 0::oid) AS multirange_of,
       t.typdelim AS delimiter
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_range m ON m.rngmultitypid = t.oid
WHERE t.typnamespace <> 'pg_catalog'::regnamespace";

/// Maps type OIDs to decoders: every built-in type statically, plus the user types
/// registered at run time.
///
/// Hold one per source connection and update it in place as pgoutput announces
/// types (cloning copies a few hundred entries). Lookups are a hash probe;
/// built-in scalars skip even that.
#[derive(Debug, Clone)]
pub struct TypeRegistry {
    types: HashMap<u32, TypeInfo>,
}

impl Default for TypeRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl TypeRegistry {
    /// A registry that knows PostgreSQL's built-in types.
    pub fn new() -> Self {
        let mut registry = TypeRegistry {
            types: HashMap::with_capacity(builtin::BUILTIN_TYPES.len() * 2),
        };
        for row in builtin::BUILTIN_TYPES {
            registry.register(row);
        }
        registry
    }

    /// The type registered under `oid`.
    pub fn get(&self, oid: u32) -> Option<&TypeInfo> {
        self.types.get(&oid)
    }

    /// Every registered type, in no particular order.
    pub fn types(&self) -> impl Iterator<Item = &TypeInfo> {
        self.types.values()
    }

    /// The name of the type registered under `oid`.
    pub fn type_name(&self, oid: u32) -> Option<&str> {
        self.types.get(&oid).map(|t| &*t.name)
    }

    /// Registers one catalog row (see [`CATALOG_QUERY`]); replaces any earlier
    /// registration of the same OID. Unknown `typtype` letters register as
    /// [`TypeKind::Opaque`].
    pub fn register(&mut self, row: &PgTypeRow<'_>) {
        let kind = if let Some(scalar) = builtin_scalar(row.oid) {
            TypeKind::Scalar(scalar)
        } else if row.array_element != 0 {
            TypeKind::Array {
                element: row.array_element,
            }
        } else {
            match row.typtype {
                b'e' => TypeKind::Enum,
                b'd' if row.base_type != 0 => TypeKind::Domain {
                    base: row.base_type,
                },
                b'c' => TypeKind::Composite,
                b'r' if row.range_subtype != 0 => TypeKind::Range {
                    subtype: row.range_subtype,
                },
                b'm' if row.multirange_of != 0 => TypeKind::Multirange {
                    range: row.multirange_of,
                },
                _ => TypeKind::Opaque,
            }
        };
        self.insert(row.oid, row.name, kind, row.delimiter);
    }

    /// Registers an enum type.
    pub fn register_enum(&mut self, oid: u32, name: &str) {
        self.insert(oid, name, TypeKind::Enum, b',');
    }

    /// Registers a domain over `base_oid` (a built-in or registered type, possibly
    /// another domain).
    pub fn register_domain(&mut self, oid: u32, name: &str, base_oid: u32) {
        self.insert(oid, name, TypeKind::Domain { base: base_oid }, b',');
    }

    /// Registers a composite (row) type; its values decode as
    /// [`Value::Other`](crate::Value::Other).
    pub fn register_composite(&mut self, oid: u32, name: &str) {
        self.insert(oid, name, TypeKind::Composite, b',');
    }

    /// Registers a range type over `subtype_oid`.
    pub fn register_range(&mut self, oid: u32, name: &str, subtype_oid: u32) {
        self.insert(
            oid,
            name,
            TypeKind::Range {
                subtype: subtype_oid,
            },
            b',',
        );
    }

    /// Registers a multirange type of the range type `range_oid`.
    pub fn register_multirange(&mut self, oid: u32, name: &str, range_oid: u32) {
        self.insert(oid, name, TypeKind::Multirange { range: range_oid }, b',');
    }

    /// Registers an array type whose elements are `element_oid`.
    pub fn register_array(&mut self, oid: u32, name: &str, element_oid: u32) {
        self.insert(
            oid,
            name,
            TypeKind::Array {
                element: element_oid,
            },
            b',',
        );
    }

    /// Registers a base type known by name only (an extension's type such as
    /// `citext`, `hstore` or `geometry`), with its array delimiter (`b','` for
    /// nearly all). Values decode as [`Value::Other`](crate::Value::Other).
    pub fn register_base(&mut self, oid: u32, name: &str, delimiter: u8) {
        self.insert(oid, name, TypeKind::Opaque, delimiter);
    }

    fn insert(&mut self, oid: u32, name: &str, kind: TypeKind, delimiter: u8) {
        // A built-in scalar OID keeps its decoder whatever a caller registers: the
        // decode fast path never consults the map for them anyway.
        let kind = match builtin_scalar(oid) {
            Some(scalar) => TypeKind::Scalar(scalar),
            None => kind,
        };
        self.types.insert(
            oid,
            TypeInfo {
                oid,
                name: Arc::from(name),
                kind,
                delimiter,
            },
        );
    }

    /// The delimiter between array elements of type `element_oid`.
    pub(crate) fn delimiter_of(&self, element_oid: u32) -> u8 {
        self.types.get(&element_oid).map_or(b',', |t| t.delimiter)
    }

    /// Whether [`decode_binary`](crate::decode_binary) can decode values of `oid`
    /// (following domains, arrays, ranges and multiranges to their element types).
    ///
    /// A source choosing pgoutput's `binary = true` should check every column.
    pub fn supports_binary(&self, oid: u32) -> bool {
        self.supports_binary_at(oid, 0)
    }

    fn supports_binary_at(&self, oid: u32, depth: usize) -> bool {
        if depth > crate::decode::MAX_DEPTH {
            return false;
        }
        if builtin_scalar(oid).is_some() {
            return true;
        }
        match self.types.get(&oid).map(|t| &t.kind) {
            Some(TypeKind::Scalar(_)) | Some(TypeKind::Enum) => true,
            Some(TypeKind::Array { element }) => self.supports_binary_at(*element, depth + 1),
            Some(TypeKind::Range { subtype }) => self.supports_binary_at(*subtype, depth + 1),
            Some(TypeKind::Multirange { range }) => self.supports_binary_at(*range, depth + 1),
            Some(TypeKind::Domain { base }) => self.supports_binary_at(*base, depth + 1),
            Some(TypeKind::Opaque) => oid == crate::decode::XML_OID,
            Some(TypeKind::Composite) | None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_cover_the_documented_oids() {
        let r = TypeRegistry::new();
        assert_eq!(r.type_name(1007), Some("_int4"));
        assert_eq!(
            r.get(1007).map(|t| &t.kind),
            Some(&TypeKind::Array { element: 23 })
        );
        assert_eq!(
            r.get(3910).map(|t| &t.kind),
            Some(&TypeKind::Range { subtype: 1184 })
        );
        assert_eq!(
            r.get(4451).map(|t| &t.kind),
            Some(&TypeKind::Multirange { range: 3904 })
        );
        assert_eq!(
            r.get(1700).map(|t| &t.kind),
            Some(&TypeKind::Scalar(Scalar::Numeric))
        );
        assert_eq!(r.get(600).map(|t| &t.kind), Some(&TypeKind::Opaque));
        assert_eq!(r.delimiter_of(603), b';');
        // int2vector has a typelem but is not a true array.
        assert_eq!(r.get(22).map(|t| &t.kind), Some(&TypeKind::Opaque));
    }

    #[test]
    fn binary_support_follows_containers() {
        let mut r = TypeRegistry::new();
        r.register_composite(50_000, "pair");
        r.register_array(50_001, "_pair", 50_000);
        r.register_domain(50_002, "posint", 23);
        r.register_array(50_003, "_posint", 50_002);
        assert!(r.supports_binary(1007));
        assert!(r.supports_binary(50_003));
        assert!(!r.supports_binary(50_001));
        assert!(!r.supports_binary(600));
        assert!(!r.supports_binary(123_456));
    }

    #[test]
    fn builtin_scalars_cannot_be_overridden() {
        let mut r = TypeRegistry::new();
        r.register_enum(23, "evil");
        assert_eq!(
            r.get(23).map(|t| &t.kind),
            Some(&TypeKind::Scalar(Scalar::Int4))
        );
    }
}
