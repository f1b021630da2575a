//! [`Inspect`] for Redis: a row's expected value is what the sink writes (the plan's row
//! JSON, as hash fields or a JSON document), read back with pipelined `HGETALL` or `GET`
//! and listed with `SCAN MATCH <table prefix>:*`, the sink's tombstones and truncate
//! floor skipped; `_sluice_version` is bookkeeping and left out of the comparison.
//!
//! Not checkable: invalidate-only tables (Redis holds what the application cached, not
//! what Sluice wrote) and tables with a TTL (rows expire by design).

use std::collections::BTreeMap;

use redis::{RedisResult, Value};
use serde_json::{Map, Value as Json};
use sluice_event::key::{decode_key, encode_texts};
use sluice_sink::{Inspect, InspectError, Record, ScanPage, TableName};

use crate::RedisSink;
use crate::config::Format;
use crate::layout;
use crate::plan::{NewRow, new_row};
use crate::script::VERSION_FIELD;
use crate::sink::hash_pairs;

/// Keys one SCAN step asks for.
const SCAN_COUNT: usize = 1000;

/// A row as Redis holds it, without `_sluice_version`.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRow {
    /// A `hash` table's row: field to text.
    Hash(BTreeMap<String, String>),
    /// A `json` table's row.
    Json(Map<String, Json>),
    /// Something the sink never writes (a wrong type, a string that is not a JSON row).
    Unreadable(String),
}

impl RedisSink {
    fn format_of(&self, table: &TableName) -> Format {
        self.config
            .table(table)
            .map(|t| t.format)
            .unwrap_or_default()
    }
}

impl Inspect for RedisSink {
    type Stored = StoredRow;

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn checkable(&self, table: &TableName) -> Result<(), String> {
        match self.config.table(table) {
            Some(t) if t.invalidate_only => {
                Err("invalidate-only: Redis holds what the application cached".into())
            }
            Some(t) if t.ttl_seconds.is_some() => Err("rows expire (ttl_seconds)".into()),
            _ => Ok(()),
        }
    }

    fn expected(&self, record: &Record) -> Result<Self::Stored, InspectError> {
        let row = match new_row(record) {
            Ok(NewRow::Full(row)) => row,
            Ok(NewRow::Partial(_)) => {
                return Err(InspectError::Row(
                    "a row read from PostgreSQL has an unchanged TOAST value".into(),
                ));
            }
            Err(e) => return Err(InspectError::Row(e.to_string())),
        };
        Ok(match self.format_of(&record.table()) {
            Format::Hash => StoredRow::Hash(
                hash_pairs(&row)
                    .into_iter()
                    .map(|(field, text)| (field.to_owned(), text))
                    .collect(),
            ),
            Format::Json => StoredRow::Json(row),
        })
    }

    async fn fetch(
        &mut self,
        table: &TableName,
        keys: &[String],
    ) -> Result<Vec<Option<Self::Stored>>, InspectError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let format = self.format_of(table);
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for key in keys {
            let texts = decode_key(key.as_bytes())
                .map_err(|e| InspectError::Row(format!("key {key}: {e}")))?;
            let row_key = self.config.key_for(table, &texts);
            match format {
                Format::Hash => pipe.hgetall(row_key),
                Format::Json => pipe.get(row_key),
            };
        }
        let mut connection = self
            .connection()
            .await
            .map_err(|e| InspectError::Store(e.to_string()))?;
        let results: Vec<RedisResult<Value>> = match pipe.query_async(&mut connection).await {
            Ok(results) => results,
            Err(error) => {
                let error = self.failed("reading rows back", &error);
                return Err(InspectError::Store(error.to_string()));
            }
        };
        Ok(results
            .into_iter()
            .map(|result| stored(format, result))
            .collect())
    }

    async fn scan(
        &mut self,
        table: &TableName,
        cursor: Option<String>,
    ) -> Result<ScanPage, InspectError> {
        let prefix = self.config.table_prefix(table);
        let mut connection = self
            .connection()
            .await
            .map_err(|e| InspectError::Store(e.to_string()))?;
        let (next, found): (u64, Vec<Vec<u8>>) = match redis::cmd("SCAN")
            .arg(cursor.as_deref().unwrap_or("0"))
            .arg("MATCH")
            .arg(layout::scan_pattern(&prefix))
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut connection)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                let error = self.failed("listing row keys", &error);
                return Err(InspectError::Store(error.to_string()));
            }
        };
        let keys = found
            .iter()
            .filter(|key| !layout::is_bookkeeping(&prefix, key))
            .filter_map(|key| {
                let rest = key.strip_prefix(prefix.as_bytes())?.strip_prefix(b":")?;
                let texts = parse_primary_key(std::str::from_utf8(rest).ok()?);
                String::from_utf8(encode_texts(&texts)).ok()
            })
            .collect();
        Ok(ScanPage {
            keys,
            next: (next != 0).then(|| next.to_string()),
        })
    }
}

fn stored(format: Format, result: RedisResult<Value>) -> Option<StoredRow> {
    let value = match result {
        Ok(Value::Nil) => return None,
        Ok(value) => value,
        Err(error) => return Some(StoredRow::Unreadable(error.to_string())),
    };
    match format {
        Format::Hash => match redis::from_redis_value::<BTreeMap<String, String>>(value) {
            Ok(fields) if fields.is_empty() => None,
            Ok(mut fields) => {
                fields.remove(VERSION_FIELD);
                Some(StoredRow::Hash(fields))
            }
            Err(e) => Some(StoredRow::Unreadable(e.to_string())),
        },
        Format::Json => match redis::from_redis_value::<Vec<u8>>(value)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Map<String, Json>>(&bytes).ok())
        {
            Some(mut row) => {
                row.remove(VERSION_FIELD);
                Some(StoredRow::Json(row))
            }
            None => Some(StoredRow::Unreadable("not a JSON row".into())),
        },
    }
}

/// The key columns' texts of a row key's primary-key part: the inverse of
/// [`layout::primary_key`] (`:` separates, `\` escapes, `\N` is NULL).
pub(crate) fn parse_primary_key(text: &str) -> Vec<Option<String>> {
    let mut texts = Vec::new();
    let mut current = String::new();
    let mut null = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('N') => null = true,
                Some(escaped) => current.push(escaped),
                None => current.push('\\'),
            },
            ':' => {
                texts.push((!null).then(|| std::mem::take(&mut current)));
                current.clear();
                null = false;
            }
            c => current.push(c),
        }
    }
    texts.push((!null).then_some(current));
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_keys_parse_back_to_their_texts() {
        let cases: [&[Option<&str>]; 5] = [
            &[Some("42")],
            &[Some("a:b")],
            &[Some("a"), Some("b")],
            &[Some("back\\slash"), None, Some("")],
            &[Some("\\N")],
        ];
        for texts in cases {
            let key = layout::primary_key(texts);
            let parsed = parse_primary_key(&key);
            let expected: Vec<Option<String>> =
                texts.iter().map(|t| t.map(str::to_owned)).collect();
            assert_eq!(parsed, expected, "{key}");
        }
    }
}
