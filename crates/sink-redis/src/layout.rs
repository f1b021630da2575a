//! Key layout: which Redis key holds which row, and the sink's own bookkeeping keys.
//!
//! ```text
//!  <key_prefix>:<schema>.<table>:<pk 1>:<pk 2>...   a row (hash or JSON string)
//!  <table prefix>:\deleted:<primary key>            a deleted row's version (tombstone, TTL)
//!  <table prefix>:\truncated                        the table's truncate floor (a hash)
//! ```
//!
//! Every component is escaped so that the layout stays injective: in the key columns'
//! PostgreSQL texts, and in schema and table names, `\` becomes `\\` and `:` becomes
//! `\:`; in schema and table names `.` also becomes `\.`. A key column that is SQL NULL
//! (possible only for a replica identity index, never a primary key) is `\N`. So a
//! component never contains an unescaped `:`, distinct key tuples give distinct keys
//! (`("a:b")` is `a\:b`, `("a", "b")` is `a:b`), and no row key can start a component
//! with `\d` or `\t`: the names of the bookkeeping keys cannot be a row's.
//!
//! A table with a configured `key_prefix` uses it in place of
//! `<key_prefix>:<schema>.<table>` (the "table prefix").

use sluice_sink::TableName;

/// The component of a tombstone key after the table prefix.
const TOMBSTONE_MARK: &str = "\\deleted";

/// The component of the truncate floor key after the table prefix.
const FLOOR_MARK: &str = "\\truncated";

/// `<key_prefix>:<schema>.<table>`, names escaped.
pub fn table_prefix(key_prefix: &str, table: &TableName) -> String {
    let mut out =
        String::with_capacity(key_prefix.len() + table.schema.len() + table.table.len() + 2);
    out.push_str(key_prefix);
    out.push(':');
    escape_into(&mut out, &table.schema, true);
    out.push('.');
    escape_into(&mut out, &table.table, true);
    out
}

/// The primary-key part of a row key: the escaped texts joined with `:`.
pub fn primary_key<S: AsRef<str>>(key_texts: &[Option<S>]) -> String {
    let mut out = String::new();
    for (i, text) in key_texts.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        match text {
            Some(text) => escape_into(&mut out, text.as_ref(), false),
            None => out.push_str("\\N"),
        }
    }
    out
}

/// The key of a row: `<table prefix>:<primary key>`.
pub fn row_key<S: AsRef<str>>(table_prefix: &str, key_texts: &[Option<S>]) -> String {
    format!("{table_prefix}:{}", primary_key(key_texts))
}

/// The key that remembers a deleted row's version: `<table prefix>:\deleted:<primary key>`.
pub fn tombstone_key<S: AsRef<str>>(table_prefix: &str, key_texts: &[Option<S>]) -> String {
    format!("{table_prefix}:{TOMBSTONE_MARK}:{}", primary_key(key_texts))
}

/// The key of the table's truncate floor: `<table prefix>:\truncated`.
pub fn floor_key(table_prefix: &str) -> String {
    format!("{table_prefix}:{FLOOR_MARK}")
}

/// Whether `key`, a key under `<table prefix>:`, is one of the sink's bookkeeping keys
/// rather than a row.
pub(crate) fn is_bookkeeping(table_prefix: &str, key: &[u8]) -> bool {
    let Some(rest) = key
        .strip_prefix(table_prefix.as_bytes())
        .and_then(|rest| rest.strip_prefix(b":"))
    else {
        return false;
    };
    rest == FLOOR_MARK.as_bytes()
        || rest
            .strip_prefix(TOMBSTONE_MARK.as_bytes())
            .is_some_and(|r| r.starts_with(b":"))
}

/// A SCAN `MATCH` pattern for every key under `<table prefix>:`, glob characters of the
/// prefix escaped.
pub(crate) fn scan_pattern(table_prefix: &str) -> String {
    let mut out = String::with_capacity(table_prefix.len() + 2);
    for c in table_prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str(":*");
    out
}

fn escape_into(out: &mut String, text: &str, name: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ':' => out.push_str("\\:"),
            '.' if name => out.push_str("\\."),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn table(schema: &str, table: &str) -> TableName {
        TableName {
            schema: schema.into(),
            table: table.into(),
        }
    }

    #[test]
    fn keys_read_naturally() {
        let prefix = table_prefix("sluice", &table("public", "items"));
        assert_eq!(prefix, "sluice:public.items");
        assert_eq!(row_key(&prefix, &[Some("42")]), "sluice:public.items:42");
        assert_eq!(
            row_key(&prefix, &[Some("7"), Some("2024-05-17")]),
            "sluice:public.items:7:2024-05-17"
        );
        assert_eq!(
            tombstone_key(&prefix, &[Some("42")]),
            r"sluice:public.items:\deleted:42"
        );
        assert_eq!(floor_key(&prefix), r"sluice:public.items:\truncated");
    }

    #[test]
    fn escaping_keeps_keys_injective() {
        let tuples: Vec<Vec<Option<&str>>> = vec![
            vec![Some("a:b")],
            vec![Some("a"), Some("b")],
            vec![Some("a\\"), Some("b")],
            vec![Some("a\\:b")],
            vec![Some("a\\:"), Some("b")],
            vec![Some("\\N")],
            vec![None],
            vec![Some("")],
            vec![Some(""), Some("")],
            vec![Some(":")],
            vec![Some("deleted")],
            vec![Some("\\deleted"), Some("1")],
            vec![Some("\\truncated")],
        ];
        let keys: HashSet<String> = tuples.iter().map(|t| row_key("p", t)).collect();
        assert_eq!(keys.len(), tuples.len(), "{keys:?}");
        assert_eq!(row_key("p", &[Some("a:b")]), r"p:a\:b");
        assert_eq!(row_key("p", &[Some("a"), Some("b")]), "p:a:b");
        assert_eq!(row_key("p", &[Some(r"a\")]), r"p:a\\");
        assert_eq!(row_key("p", &[None::<&str>]), r"p:\N");
        for key in &keys {
            assert!(!is_bookkeeping("p", key.as_bytes()), "{key}");
        }
        assert!(is_bookkeeping(
            "p",
            tombstone_key("p", &[Some("1")]).as_bytes()
        ));
        assert!(is_bookkeeping("p", floor_key("p").as_bytes()));
    }

    #[test]
    fn table_names_are_escaped_too() {
        let a = table_prefix("s", &table("a.b", "c"));
        let b = table_prefix("s", &table("a", "b.c"));
        let c = table_prefix("s", &table("a:b", "c"));
        assert_ne!(a, b);
        assert_eq!(a, r"s:a\.b.c");
        assert_eq!(b, r"s:a.b\.c");
        assert_eq!(c, r"s:a\:b.c");
    }

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(scan_pattern("sluice:public.items"), "sluice:public.items:*");
        assert_eq!(scan_pattern(r"s:a\.b[1]*"), r"s:a\\.b\[1\]\*:*");
    }
}
