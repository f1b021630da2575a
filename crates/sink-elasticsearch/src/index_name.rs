//! Index names: one index (or alias) per table.
//!
//! A table `schema.table` is written to `<index_prefix>-<schema>-<table>` unless its
//! [`TableIndex::index`](crate::TableIndex::index) names another index or alias.
//!
//! # Escaping PostgreSQL names
//!
//! Elasticsearch and OpenSearch want index names in lower case, without
//! `\ / * ? " < > | , # :` or spaces, not starting with `-`, `_` or `+`, and at most
//! 255 bytes long; a PostgreSQL identifier may hold any character but NUL (`"Orders"`,
//! `"order items"`, `café`). [`escape_component`] keeps `[a-z0-9_]` as they are and
//! writes every other byte of the name's UTF-8 as `.` and two lowercase hex digits:
//! `Orders` becomes `.4frders`, `order items` becomes `order.20items`, `café` becomes
//! `caf.c3.a9`, and `a-b` becomes `a.2db`.
//!
//! Upper case is escaped rather than lowered because lowering is not injective: the
//! quoted tables `"Orders"` and `orders` are two tables in PostgreSQL and must not share
//! an index. The escaped form never contains `-`, so in `<prefix>-<schema>-<table>` the
//! last `-` separates schema from table, and every `.` in a component starts an escape;
//! for a given prefix, two different (schema, table) pairs therefore never share an
//! index. Ordinary names (`public`, `order_items`) are unchanged.
//!
//! # Limits
//!
//! Names of ASCII lower case fit easily, but an escaped name grows three times per
//! escaped byte, so a long name of, say, Chinese can pass 255 bytes. Truncating would
//! break injectivity, so [`default_index_name`] refuses instead
//! ([`IndexNameError::TooLong`]); such a table needs an index named in its
//! `tables` entry.

use sluice_sink::TableName;

/// The longest index name Elasticsearch and OpenSearch accept, in bytes.
pub const MAX_INDEX_NAME_BYTES: usize = 255;

/// Characters Elasticsearch and OpenSearch refuse anywhere in an index name.
const FORBIDDEN: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':', ' '];

/// Why a name cannot be an index name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexNameError {
    /// The name breaks one of the search engine's rules.
    #[error("{name:?} is not a valid index name: {reason}")]
    Invalid {
        /// The name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The table's default index name would be longer than the search engine allows.
    #[error(
        "the index name for table {table} would be {len} bytes long, more than the \
         {MAX_INDEX_NAME_BYTES} allowed: name an index for it in the sink's `tables` \
         configuration, or shorten the index prefix"
    )]
    TooLong {
        /// The table, as `schema.table`.
        table: String,
        /// The length the name would have.
        len: usize,
    },
}

/// Escapes a PostgreSQL name into `[a-z0-9_.]` (see the [module docs](self)).
pub fn escape_component(name: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push('.');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// The default index of a table: `<prefix>-<schema>-<table>`, both names escaped with
/// [`escape_component`].
///
/// # Errors
///
/// [`IndexNameError::Invalid`] when the prefix is not a valid index name;
/// [`IndexNameError::TooLong`] when the result would exceed
/// [`MAX_INDEX_NAME_BYTES`].
pub fn default_index_name(prefix: &str, table: &TableName) -> Result<String, IndexNameError> {
    validate_index_name(prefix)?;
    let name = format!(
        "{prefix}-{}-{}",
        escape_component(&table.schema),
        escape_component(&table.table)
    );
    if name.len() > MAX_INDEX_NAME_BYTES {
        return Err(IndexNameError::TooLong {
            table: table.to_string(),
            len: name.len(),
        });
    }
    Ok(name)
}

/// Checks `name` against the rules Elasticsearch and OpenSearch apply to index and alias
/// names. A leading `.` is refused too: such names are hidden or system indices.
///
/// # Errors
///
/// [`IndexNameError::Invalid`] naming the rule broken.
pub fn validate_index_name(name: &str) -> Result<(), IndexNameError> {
    let invalid = |reason| {
        Err(IndexNameError::Invalid {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_INDEX_NAME_BYTES {
        return invalid("it is longer than 255 bytes");
    }
    if name.to_lowercase() != name {
        return invalid("it has upper-case letters");
    }
    if name.contains(FORBIDDEN) {
        return invalid(r#"it contains one of \ / * ? " < > | , # : or a space"#);
    }
    if name.starts_with(['-', '_', '+', '.']) {
        return invalid("it starts with -, _, + or .");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(schema: &str, table: &str) -> TableName {
        TableName {
            schema: schema.into(),
            table: table.into(),
        }
    }

    #[test]
    fn ordinary_names_are_kept() {
        assert_eq!(
            default_index_name("sluice", &table("public", "order_items")),
            Ok("sluice-public-order_items".into())
        );
    }

    #[test]
    fn other_characters_are_escaped_into_a_valid_name() {
        let cases = [
            ("Orders", ".4frders"),
            ("order items", "order.20items"),
            ("café", "caf.c3.a9"),
            ("a-b", "a.2db"),
            ("a.b", "a.2eb"),
            ("-lead", ".2dlead"),
            ("x*?\"<>|,#:\\/", "x.2a.3f.22.3c.3e.7c.2c.23.3a.5c.2f"),
        ];
        for (name, escaped) in cases {
            assert_eq!(escape_component(name), escaped);
            let index = default_index_name("p", &table("s", name)).unwrap();
            assert_eq!(validate_index_name(&index), Ok(()), "{index}");
        }
    }

    #[test]
    fn escaping_is_injective() {
        // Pairs that naive lower-casing or dash-joining would merge.
        let tables = [
            table("public", "orders"),
            table("public", "Orders"),
            table("public", "ORDERS"),
            table("public-a", "b"),
            table("public", "a-b"),
            table("public.a", "b"),
            table("public", "a.b"),
            table("a", "b_c"),
            table("a_b", "c"),
            table("a", ".2e"),
            table("a", "."),
        ];
        let names: std::collections::HashSet<String> = tables
            .iter()
            .map(|t| default_index_name("sluice", t).unwrap())
            .collect();
        assert_eq!(names.len(), tables.len(), "{names:?}");
    }

    #[test]
    fn too_long_names_are_refused_not_truncated() {
        let long = "表".repeat(21); // 63 bytes, PostgreSQL's limit; 189 escaped
        let error = default_index_name("sluice", &table(&long, &long)).unwrap_err();
        assert!(matches!(error, IndexNameError::TooLong { .. }), "{error}");
    }

    #[test]
    fn invalid_names_are_refused() {
        for name in [
            "", "Upper", "a b", "a*", "-a", "_a", "+a", ".a", "a:b", "a#b",
        ] {
            assert!(validate_index_name(name).is_err(), "{name:?}");
        }
        for name in ["sluice", "my.alias", "a-b_c+d"] {
            assert_eq!(validate_index_name(name), Ok(()), "{name:?}");
        }
    }
}
