//! What the sink needs to know: where Redis is, how keys are named, how long deletes are
//! remembered, and how each table is cached.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink::{TableName, redact_url};

use crate::layout;

/// The default [`RedisConfig::key_prefix`].
pub const DEFAULT_KEY_PREFIX: &str = "sluice";

/// The default [`RedisConfig::request_timeout_seconds`].
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 10;

/// The default [`RedisConfig::tombstone_ttl_seconds`]: one day, like the Elasticsearch
/// sink's `gc_deletes`.
pub const DEFAULT_TOMBSTONE_TTL_SECONDS: u64 = 86_400;

/// The sink's configuration (the `[redis]` section of the sink's config file).
///
/// `Debug` hides a password in the URL. There is no `Serialize`: the URL may hold a
/// secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// The server: `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
    pub url: String,
    /// The first part of every key, `<key_prefix>:<schema>.<table>:<primary key>` (see
    /// the crate docs, "Key layout"). Default `sluice`.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// How long connecting, or one round trip to Redis, may take before it counts as
    /// failed (and the batch is retried). Default 10.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// How long a deleted row's version is remembered (its tombstone key lives), so that
    /// an older write of the row arriving after the delete (a replay, a rebalance overlap)
    /// does not bring it back. Must exceed how long an older copy of an event can still be
    /// in flight. Default 86400 (one day).
    #[serde(default = "default_tombstone_ttl_seconds")]
    pub tombstone_ttl_seconds: u64,
    /// Per-table settings, by `schema.table` as PostgreSQL spells the names (case kept,
    /// unquoted). Tables not listed are cached as hashes without expiry.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSettings>,
}

/// How one table is cached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSettings {
    /// How a row is stored: `hash` (default) or `json`.
    #[serde(default)]
    pub format: Format,
    /// Expire each row's key this many seconds after its last write; none by default.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Write nothing: every change of a row deletes its key, for read-through caches
    /// that the application fills itself (see the crate docs, "Invalidate-only tables").
    #[serde(default)]
    pub invalidate_only: bool,
    /// The table's keys start with this instead of `<key_prefix>:<schema>.<table>`.
    /// Must differ from every other table's.
    #[serde(default)]
    pub key_prefix: Option<String>,
}

/// How a row is stored under its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A hash, one field per non-NULL column (its text), plus `_sluice_version`.
    #[default]
    Hash,
    /// A string holding the row as a JSON object ([`sluice_sink::json`]), with
    /// `_sluice_version` as its first member.
    Json,
}

/// A configuration value the sink cannot work with. The message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse, is not `redis://` or `rediss://`, or names no host.
    #[error("redis.url: {0}")]
    Url(String),
    /// `key_prefix` is empty.
    #[error("redis.key_prefix must not be empty")]
    KeyPrefix,
    /// `request_timeout_seconds` is zero.
    #[error("redis.request_timeout_seconds must be > 0")]
    RequestTimeout,
    /// `tombstone_ttl_seconds` is zero.
    #[error("redis.tombstone_ttl_seconds must be > 0")]
    TombstoneTtl,
    /// A table key is not `schema.table`.
    #[error("redis.tables.{table:?}: the key must be \"schema.table\"")]
    TableName {
        /// The table key, as configured.
        table: String,
    },
    /// A table's `ttl_seconds` is zero.
    #[error("redis.tables.{table:?}.ttl_seconds must be > 0")]
    TableTtl {
        /// The table key, as configured.
        table: String,
    },
    /// A TTL on an invalidate-only table, which writes nothing to expire.
    #[error(
        "redis.tables.{table:?}.ttl_seconds has no effect with invalidate_only = true \
         (the sink writes nothing for that table); remove one of them"
    )]
    TtlOnInvalidateOnly {
        /// The table key, as configured.
        table: String,
    },
    /// A table's `key_prefix` is empty.
    #[error("redis.tables.{table:?}.key_prefix must not be empty")]
    TableKeyPrefix {
        /// The table key, as configured.
        table: String,
    },
    /// Two tables would share keys.
    #[error(
        "redis.tables.{table:?}.key_prefix: {prefix:?} is also the key prefix of table \
         {other:?}; their rows would overwrite each other"
    )]
    SharedKeyPrefix {
        /// The table key, as configured.
        table: String,
        /// The prefix.
        prefix: String,
        /// The other table.
        other: String,
    },
}

fn default_key_prefix() -> String {
    DEFAULT_KEY_PREFIX.into()
}

fn default_request_timeout_seconds() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECONDS
}

fn default_tombstone_ttl_seconds() -> u64 {
    DEFAULT_TOMBSTONE_TTL_SECONDS
}

impl RedisConfig {
    /// A configuration for the Redis at `url`, every other option at its default.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            key_prefix: default_key_prefix(),
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            tombstone_ttl_seconds: DEFAULT_TOMBSTONE_TTL_SECONDS,
            tables: BTreeMap::new(),
        }
    }

    /// Checks every value that can be checked without the server.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`] found; its message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.url).map_err(|e| ConfigError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err(ConfigError::Url(format!(
                "expected a redis:// or rediss:// URL, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::Url("the URL names no host".into()));
        }
        if self.key_prefix.is_empty() {
            return Err(ConfigError::KeyPrefix);
        }
        if self.request_timeout_seconds == 0 {
            return Err(ConfigError::RequestTimeout);
        }
        if self.tombstone_ttl_seconds == 0 {
            return Err(ConfigError::TombstoneTtl);
        }
        // Every configured table's prefix, to find two tables sharing one.
        let mut prefixes: BTreeMap<String, &str> = BTreeMap::new();
        for (key, settings) in &self.tables {
            let Some(table) = TableName::parse(key) else {
                return Err(ConfigError::TableName { table: key.clone() });
            };
            if settings.ttl_seconds == Some(0) {
                return Err(ConfigError::TableTtl { table: key.clone() });
            }
            if settings.invalidate_only && settings.ttl_seconds.is_some() {
                return Err(ConfigError::TtlOnInvalidateOnly { table: key.clone() });
            }
            if settings.key_prefix.as_deref() == Some("") {
                return Err(ConfigError::TableKeyPrefix { table: key.clone() });
            }
            let prefix = self.table_prefix(&table);
            if let Some(other) = prefixes.insert(prefix.clone(), key) {
                return Err(ConfigError::SharedKeyPrefix {
                    table: key.clone(),
                    prefix,
                    other: other.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// How long one request may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }

    /// The configured settings of a table, if any.
    pub fn table(&self, table: &TableName) -> Option<&TableSettings> {
        self.tables.get(&table.to_string())
    }

    /// The start of every key of the table's rows: its configured
    /// [`TableSettings::key_prefix`], or [`layout::table_prefix`] of
    /// [`key_prefix`](Self::key_prefix).
    pub fn table_prefix(&self, table: &TableName) -> String {
        match self.table(table).and_then(|t| t.key_prefix.as_ref()) {
            Some(prefix) => prefix.clone(),
            None => layout::table_prefix(&self.key_prefix, table),
        }
    }

    /// The key of a row of `table`, from its key columns' PostgreSQL texts (the decoded
    /// Kafka key, [`sluice_event::key::decode_key`]; `None` is SQL NULL). See the crate
    /// docs, "Key layout".
    pub fn key_for<S: AsRef<str>>(&self, table: &TableName, key_texts: &[Option<S>]) -> String {
        layout::row_key(&self.table_prefix(table), key_texts)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .field("tombstone_ttl_seconds", &self.tombstone_ttl_seconds)
            .field("tables", &self.tables)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(settings: TableSettings) -> RedisConfig {
        let mut config = RedisConfig::new("redis://localhost:6379");
        config.tables.insert("public.x".into(), settings);
        config
    }

    #[test]
    fn debug_hides_the_password() {
        let config = RedisConfig::new("rediss://sink:hunter2@cache:6380/2");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("sink:***@cache:6380"), "{debug}");
        let config = RedisConfig::new("not a url hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_fill_everything_but_the_url() {
        let config: RedisConfig = serde_json::from_value(serde_json::json!({
            "url": "redis://localhost",
            "tables": { "public.x": { "format": "json", "ttl_seconds": 60 } }
        }))
        .unwrap();
        assert_eq!(config.key_prefix, "sluice");
        assert_eq!(config.request_timeout_seconds, 10);
        assert_eq!(config.tombstone_ttl_seconds, 86_400);
        assert_eq!(
            config.tables["public.x"],
            TableSettings {
                format: Format::Json,
                ttl_seconds: Some(60),
                invalidate_only: false,
                key_prefix: None,
            }
        );
        assert_eq!(config.validate(), Ok(()));

        let unknown = serde_json::from_value::<RedisConfig>(serde_json::json!({
            "url": "redis://localhost", "key_prefx": "x"
        }));
        assert!(unknown.unwrap_err().to_string().contains("key_prefx"));
        let missing_url = serde_json::from_value::<RedisConfig>(serde_json::json!({}));
        assert!(missing_url.unwrap_err().to_string().contains("url"));
        let bad_format = serde_json::from_value::<RedisConfig>(serde_json::json!({
            "url": "redis://localhost", "tables": { "public.x": { "format": "xml" } }
        }));
        assert!(bad_format.is_err());
    }

    #[test]
    fn validation_names_the_key() {
        let error = |config: RedisConfig| config.validate().unwrap_err().to_string();
        assert_eq!(
            error(table(TableSettings {
                ttl_seconds: Some(0),
                ..TableSettings::default()
            })),
            r#"redis.tables."public.x".ttl_seconds must be > 0"#
        );
        assert!(
            error(table(TableSettings {
                ttl_seconds: Some(5),
                invalidate_only: true,
                ..TableSettings::default()
            }))
            .starts_with(r#"redis.tables."public.x".ttl_seconds has no effect"#)
        );
        let mut config = RedisConfig::new("redis://localhost");
        config
            .tables
            .insert("items".into(), TableSettings::default());
        assert_eq!(
            error(config),
            r#"redis.tables."items": the key must be "schema.table""#
        );
        let mut config = RedisConfig::new("redis://localhost");
        config
            .tables
            .insert(".items".into(), TableSettings::default());
        assert!(error(config).starts_with(r#"redis.tables.".items""#));
        assert!(error(RedisConfig::new("http://localhost")).starts_with("redis.url: expected"));
        assert!(error(RedisConfig::new("localhost:6379")).starts_with("redis.url:"));
        let mut config = RedisConfig::new("redis://localhost");
        config.key_prefix.clear();
        assert_eq!(error(config), "redis.key_prefix must not be empty");
        let mut config = RedisConfig::new("redis://localhost");
        config.request_timeout_seconds = 0;
        assert_eq!(error(config), "redis.request_timeout_seconds must be > 0");
        let mut config = RedisConfig::new("redis://localhost");
        config.tombstone_ttl_seconds = 0;
        assert_eq!(error(config), "redis.tombstone_ttl_seconds must be > 0");
    }

    #[test]
    fn two_tables_may_not_share_a_prefix() {
        let mut config = RedisConfig::new("redis://localhost");
        config.tables.insert(
            "public.a".into(),
            TableSettings {
                key_prefix: Some("sluice:public.b".into()),
                ..TableSettings::default()
            },
        );
        config
            .tables
            .insert("public.b".into(), TableSettings::default());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("also the key prefix"), "{error}");
    }

    #[test]
    fn a_configured_prefix_replaces_the_default() {
        let mut config = RedisConfig::new("redis://localhost");
        let items = TableName {
            schema: "public".into(),
            table: "items".into(),
        };
        assert_eq!(
            config.key_for(&items, &[Some("42")]),
            "sluice:public.items:42"
        );
        config.tables.insert(
            "public.items".into(),
            TableSettings {
                key_prefix: Some("cache:item".into()),
                ..TableSettings::default()
            },
        );
        assert_eq!(config.key_for(&items, &[Some("42")]), "cache:item:42");
    }
}
