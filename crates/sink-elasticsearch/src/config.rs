//! What the sink needs to know: where the search engine is, how to log in, and which
//! index each table goes to.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use sluice_sink::{TableName, redact_url};

use crate::index_name::{IndexNameError, default_index_name, validate_index_name};

/// The default [`ElasticsearchConfig::index_prefix`].
pub const DEFAULT_INDEX_PREFIX: &str = "sluice";

/// The default [`ElasticsearchConfig::gc_deletes`]: how long a deleted document's version
/// is remembered.
pub const DEFAULT_GC_DELETES: &str = "1d";

/// The default [`ElasticsearchConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The sink's configuration.
///
/// `Debug` hides the password (both [`password`](Self::password) and one in the URL).
#[derive(Clone)]
pub struct ElasticsearchConfig {
    /// The search engine's base URL, `http://host:9200` or `https://host:9200`. User and
    /// password in the URL are used when [`username`](Self::username) is not set.
    pub url: String,
    /// The user for HTTP basic authentication; none to send no credentials.
    pub username: Option<String>,
    /// The password for [`username`](Self::username).
    pub password: Option<String>,
    /// The first part of every default index name, `<index_prefix>-<schema>-<table>`
    /// (see [`default_index_name`]). A valid index name itself.
    pub index_prefix: String,
    /// Per-table settings, by `schema.table` as PostgreSQL spells the names (case kept,
    /// unquoted).
    pub tables: BTreeMap<String, TableIndex>,
    /// `index.gc_deletes` of the indices the sink creates: how long the search engine
    /// remembers the version of a deleted document, and so refuses an older write of it
    /// (see the crate docs, "Deletes and gc_deletes"). An Elasticsearch time value
    /// (`1d`, `12h`).
    pub gc_deletes: String,
    /// How long one request to the search engine may take before it counts as failed
    /// (and the batch is retried).
    pub request_timeout: Duration,
}

/// Where one table goes, and how its index is created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableIndex {
    /// The index or alias to write to, instead of `<index_prefix>-<schema>-<table>`. An
    /// alias must have a single write index.
    pub index: Option<String>,
    /// Index settings for creating the index, merged over the defaults (one shard, no
    /// replicas, `gc_deletes`, the default analyzer); nested (`{"index": {"number_of_shards":
    /// 3}}`) or flat (`{"index.number_of_shards": 3}`, `{"number_of_shards": 3}`).
    pub settings: Option<serde_json::Value>,
    /// Mappings for creating the index, merged over the mappings built from the
    /// table's columns (an object is merged key by key, anything else replaces).
    pub mappings: Option<serde_json::Value>,
}

/// A configuration value the sink cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse or is not `http`/`https`.
    #[error("url: {0}")]
    Url(String),
    /// The index prefix is not a valid index name.
    #[error("index_prefix: {0}")]
    IndexPrefix(IndexNameError),
    /// A table's index name is not valid.
    #[error("tables.{table:?}.index: {error}")]
    TableIndex {
        /// The table key, as configured.
        table: String,
        /// What is wrong.
        error: IndexNameError,
    },
    /// A table's settings or mappings are not a JSON object.
    #[error("tables.{table:?}.{field}: must be a JSON object")]
    NotAnObject {
        /// The table key, as configured.
        table: String,
        /// `settings` or `mappings`.
        field: &'static str,
    },
    /// A password without a user.
    #[error("password: set without a username")]
    PasswordWithoutUser,
    /// `gc_deletes` is empty.
    #[error("gc_deletes: must be a time value such as 1d or 12h")]
    GcDeletes,
    /// `request_timeout` is zero.
    #[error("request_timeout: must be more than zero")]
    RequestTimeout,
}

impl ElasticsearchConfig {
    /// A configuration for the search engine at `url`, with every other option at its
    /// default.
    pub fn new(url: impl Into<String>) -> Self {
        ElasticsearchConfig {
            url: url.into(),
            username: None,
            password: None,
            index_prefix: DEFAULT_INDEX_PREFIX.into(),
            tables: BTreeMap::new(),
            gc_deletes: DEFAULT_GC_DELETES.into(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Checks every value that can be checked without the server.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`] found; its message names the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.url).map_err(|e| ConfigError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Url("expected an http or https URL".into()));
        }
        if url.host_str().is_none() {
            return Err(ConfigError::Url("the URL names no host".into()));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(ConfigError::PasswordWithoutUser);
        }
        validate_index_name(&self.index_prefix).map_err(ConfigError::IndexPrefix)?;
        if self.gc_deletes.trim().is_empty() {
            return Err(ConfigError::GcDeletes);
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::RequestTimeout);
        }
        for (table, entry) in &self.tables {
            if let Some(index) = &entry.index {
                validate_index_name(index).map_err(|error| ConfigError::TableIndex {
                    table: table.clone(),
                    error,
                })?;
            }
            for (field, value) in [("settings", &entry.settings), ("mappings", &entry.mappings)] {
                if value.as_ref().is_some_and(|v| !v.is_object()) {
                    return Err(ConfigError::NotAnObject {
                        table: table.clone(),
                        field,
                    });
                }
            }
        }
        Ok(())
    }

    /// The configured entry of a table, if any.
    pub fn table(&self, table: &TableName) -> Option<&TableIndex> {
        self.tables.get(&table.to_string())
    }

    /// The index (or alias) a table's documents go to: its configured
    /// [`TableIndex::index`], or [`default_index_name`].
    ///
    /// # Errors
    ///
    /// [`IndexNameError`] when the default name cannot be built.
    pub fn index_for(&self, table: &TableName) -> Result<String, IndexNameError> {
        match self.table(table).and_then(|t| t.index.as_ref()) {
            Some(index) => Ok(index.clone()),
            None => default_index_name(&self.index_prefix, table),
        }
    }
}

impl Default for ElasticsearchConfig {
    /// A search engine on `http://localhost:9200`.
    fn default() -> Self {
        ElasticsearchConfig::new("http://localhost:9200")
    }
}

impl fmt::Debug for ElasticsearchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElasticsearchConfig")
            .field("url", &redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("index_prefix", &self.index_prefix)
            .field("tables", &self.tables)
            .field("gc_deletes", &self.gc_deletes)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_hides_passwords() {
        let mut config = ElasticsearchConfig::new("https://admin:hunter2@search:9200");
        config.username = Some("sink".into());
        config.password = Some("s3cret".into());
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("admin"), "{debug}");
    }

    #[test]
    fn validation_names_the_option() {
        let mut config = ElasticsearchConfig::new("http://localhost:9200");
        assert_eq!(config.validate(), Ok(()));
        config.index_prefix = "Sluice".into();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("index_prefix:")
        );
        config.index_prefix = "sluice".into();
        config.tables.insert(
            "public.items".into(),
            TableIndex {
                settings: Some(json!(3)),
                ..TableIndex::default()
            },
        );
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "tables.\"public.items\".settings: must be a JSON object"
        );
        config.url = "redis://localhost".into();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("url:")
        );
    }

    #[test]
    fn a_configured_index_replaces_the_default_name() {
        let mut config = ElasticsearchConfig::new("http://localhost:9200");
        let table = TableName {
            schema: "public".into(),
            table: "items".into(),
        };
        assert_eq!(config.index_for(&table), Ok("sluice-public-items".into()));
        config.tables.insert(
            "public.items".into(),
            TableIndex {
                index: Some("catalogue".into()),
                ..TableIndex::default()
            },
        );
        assert_eq!(config.index_for(&table), Ok("catalogue".into()));
    }
}
