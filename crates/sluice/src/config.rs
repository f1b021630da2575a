//! The config file: TOML, overridden by `SLUICE_<SECTION>__<KEY>` environment variables,
//! checked at start-up so that a mistake stops the process with the key's name before it
//! touches PostgreSQL or Kafka.
//!
//! ```text
//!  sluice.toml ──parse──▶ toml::Table ──overrides::apply(SLUICE_*__*)──▶ toml::Table
//!       ──serde (deny_unknown_fields, path of the failing key)──▶ Config ──validate──▶ Config
//!       ──source_config()──▶ sluice_source::SourceConfig
//! ```
//!
//! A minimal file:
//!
//! ```toml
//! [postgres]
//! url = "postgres://sluice:secret@db.internal:5432/shop"
//!
//! [kafka]
//! bootstrap_servers = "kafka-1:9092,kafka-2:9092"
//! ```
//!
//! Every other key has a named default (the `defaults` module). Option names carry their
//! unit (`status_interval_seconds`, `max_in_flight_events`).
//!
//! # Secrets
//!
//! The PostgreSQL URL may hold the password. It lives in [`PostgresUrl`], whose `Debug`
//! prints `***` in its place; no config type implements `Serialize`, so the config cannot
//! be written back out with the secret in it. In Kubernetes, keep the URL in a Secret and
//! pass it as `SLUICE_POSTGRES__URL`.
//!
//! # Errors
//!
//! Every problem names its key (`kafka.partitions: must be at least 1`), and the
//! environment variable when one set it. An unknown key is an error rather than ignored: a
//! misspelt `max_in_flight_event` silently falling back to its default is the kind of drift
//! this project exists to end.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use sluice_source::SourceConfig;
use sluice_source::filter::{CaptureFilter, ColumnPattern, MaskMethod, TablePattern};
use sluice_source::publish::KafkaSettings;
use sluice_source::snapshot::{SnapshotMode, SnapshotSettings};

use crate::overrides::{self, Override, OverrideError, dotted};

/// The whole config of `sluice source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The database whose changes are captured.
    pub(crate) postgres: Postgres,
    /// What the source reads and how it publishes it.
    #[serde(default)]
    pub(crate) source: Source,
    /// The Kafka cluster the change events go to.
    pub(crate) kafka: Kafka,
    /// The initial snapshot.
    #[serde(default)]
    pub(crate) snapshot: Snapshot,
    /// The `/metrics` and `/healthz` endpoint.
    #[serde(default)]
    pub(crate) metrics: Metrics,
}

/// `[snapshot]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Snapshot {
    /// When to read every captured table's rows as `read` events before streaming:
    /// `initial` (once per slot), `never`, `initial_only` (then stop), or `when_needed`
    /// (as `initial`, and again whenever the slot had to be created).
    pub(crate) mode: SnapshotMode,
    /// Rows per chunk query; a crash re-reads at most one chunk.
    pub(crate) chunk_rows: usize,
}

impl Default for Snapshot {
    fn default() -> Self {
        let defaults = SnapshotSettings::default();
        Snapshot {
            mode: defaults.mode,
            chunk_rows: defaults.chunk_rows,
        }
    }
}

/// `[postgres]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Postgres {
    /// A `postgres://user:password@host:port/database` URL of a role with the REPLICATION
    /// attribute. Query keys: `sslmode`, `sslrootcert`, `application_name`,
    /// `connect_timeout`, `channel_binding`. Required.
    pub(crate) url: PostgresUrl,
}

/// `[source]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Source {
    /// The logical replication slot (pgoutput) the source reads: 1 to 63 lower-case
    /// letters, digits and underscores. One source per slot.
    pub(crate) slot: String,
    /// The publication naming the captured tables (`CREATE PUBLICATION ... FOR TABLE ...`).
    pub(crate) publication: String,
    /// Create the slot when it does not exist; when false, a missing slot stops the source.
    pub(crate) create_slot: bool,
    /// Events of `schema.table` go to the topic `<topic_prefix>.<schema>.<table>`.
    pub(crate) topic_prefix: String,
    /// Events sent to Kafka but not yet acknowledged before the source pauses reading WAL:
    /// the bound on the source's memory.
    pub(crate) max_in_flight_events: usize,
    /// Seconds between status updates to PostgreSQL when nothing new was confirmed; keep it
    /// well below the server's `wal_sender_timeout` (60 s by default).
    pub(crate) status_interval_seconds: f64,
    /// Follow every delete with a tombstone (a record with no value) so that compacted
    /// topics forget deleted rows.
    pub(crate) tombstones: bool,
    /// Seconds to keep retrying while another connection holds the slot (typically a
    /// predecessor that died and PostgreSQL has not noticed yet) before stopping with an
    /// error; 0 stops at once.
    pub(crate) slot_busy_wait_seconds: u64,
    /// Seconds between heartbeats (a record on `<topic_prefix>.sluice-heartbeat` with the
    /// replication positions); 0 turns them off.
    pub(crate) heartbeat_interval_seconds: u64,
    /// With each heartbeat, write a logical message into the database's WAL
    /// (`pg_logical_emit_message`), so the slot's confirmed position keeps moving while the
    /// captured tables are idle and the rest of the database is busy.
    pub(crate) heartbeat_emit_message: bool,
    /// Capture only the publication's tables that match one of these `schema.table`
    /// patterns (all of them when empty). `*` matches any run of characters within a part
    /// (`shop.*`, `*.audit_*`); names match as PostgreSQL stores them, case-sensitively.
    pub(crate) include_tables: Vec<Parsed<TablePattern>>,
    /// Never capture the tables that match these `schema.table` patterns, even when an
    /// include pattern matches them too.
    pub(crate) exclude_tables: Vec<Parsed<TablePattern>>,
    /// Drop the columns that match these `schema.table.column` patterns from events and
    /// from their column metadata. A key (replica identity) column cannot be excluded: a
    /// pattern that matches one is an error naming the column when its table is first seen.
    pub(crate) exclude_columns: Vec<Parsed<ColumnPattern>>,
    /// `[[source.mask]]` tables: columns whose values are replaced. The first mask that
    /// matches a column applies; an excluded column is dropped, not masked. Key columns
    /// cannot be masked either.
    pub(crate) mask: Vec<Mask>,
    /// The secret that a `hash` mask puts before each value; required when a mask uses
    /// `hash`. Keep it out of the file: `SLUICE_SOURCE__MASK_SALT`. Changing it changes
    /// every hash, so joins across the change no longer match.
    pub(crate) mask_salt: Secret,
}

/// `[[source.mask]]`: one masking rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mask {
    /// The `schema.table.column` patterns of the masked columns (globs as in
    /// `exclude_columns`).
    pub(crate) columns: Vec<Parsed<ColumnPattern>>,
    /// `hash`: the hex SHA-256 of `mask_salt` followed by the value's PostgreSQL text
    /// (deterministic, so equal values still join; the column becomes `text`). `redact`:
    /// the text `***` (the column becomes `text`). `null`: SQL NULL (the column keeps its
    /// type). NULL stays NULL and an unchanged TOASTed value stays unchanged.
    pub(crate) method: Parsed<MaskMethod>,
}

/// A value written as a string and parsed when the file is read, so that a bad one is
/// reported at its key (`source.exclude_columns[2]: ...`).
#[derive(Debug, Clone)]
pub(crate) struct Parsed<T>(pub(crate) T);

impl<'de, T> Deserialize<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(Parsed).map_err(serde::de::Error::custom)
    }
}

/// A secret string: `Debug` shows only whether it is set, and it is never serialised.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(String);

impl Secret {
    /// The secret itself: for the code that uses it, never for a log.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is set (not empty).
    pub(crate) fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() {
            "Secret(***)"
        } else {
            "Secret(<unset>)"
        })
    }
}

impl Source {
    /// The tables, columns and masks of this section as the source applies them.
    fn capture_filter(&self) -> CaptureFilter {
        CaptureFilter::default()
            .include_tables(self.include_tables.iter().map(|p| p.0.clone()))
            .exclude_tables(self.exclude_tables.iter().map(|p| p.0.clone()))
            .exclude_columns(self.exclude_columns.iter().map(|p| p.0.clone()))
            .masks(self.mask.iter().flat_map(|mask| {
                mask.columns
                    .iter()
                    .map(move |pattern| (pattern.0.clone(), mask.method.0))
            }))
            .mask_salt(self.mask_salt.expose())
    }
}

/// `[kafka]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kafka {
    /// `host:port` of one or more brokers, comma-separated. Required.
    pub(crate) bootstrap_servers: String,
    /// Partitions of the topics the source creates (existing topics are left as they are).
    /// Events of one row always go to one partition, so per-row order holds for any count.
    #[serde(default = "defaults::partitions")]
    pub(crate) partitions: i32,
    /// Replication factor of the topics the source creates. 1 suits a single broker; use 3
    /// in production, with the topic's `min.insync.replicas` at 2.
    #[serde(default = "defaults::replication_factor")]
    pub(crate) replication_factor: i32,
    /// Extra librdkafka producer properties, e.g. `"compression.type" = "lz4"` (or gzip,
    /// snappy; this librdkafka is built without zstd). The
    /// properties that make publishing lossless (`enable.idempotence`, `acks`) are fixed.
    #[serde(default)]
    pub(crate) producer: BTreeMap<String, PropertyValue>,
}

/// `[metrics]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Metrics {
    /// Serve `/metrics` (Prometheus text format) and `/healthz`.
    pub(crate) enabled: bool,
    /// The address to serve them on; port 0 picks a free port (logged at start-up).
    pub(crate) listen_address: SocketAddr,
}

/// The named defaults.
mod defaults {
    use std::net::{Ipv4Addr, SocketAddr};

    pub(super) const SLOT: &str = "sluice";
    pub(super) const PUBLICATION: &str = "sluice";
    pub(super) const CREATE_SLOT: bool = true;
    pub(super) const TOPIC_PREFIX: &str = "sluice";
    pub(super) const MAX_IN_FLIGHT_EVENTS: usize = 10_000;
    pub(super) const STATUS_INTERVAL_SECONDS: f64 = 10.0;
    pub(super) const TOMBSTONES: bool = true;
    pub(super) const SLOT_BUSY_WAIT_SECONDS: u64 = 30;
    pub(super) const HEARTBEAT_INTERVAL_SECONDS: u64 = 10;
    pub(super) const HEARTBEAT_EMIT_MESSAGE: bool = true;
    pub(super) const PARTITIONS: i32 = 3;
    pub(super) const REPLICATION_FACTOR: i32 = 1;
    pub(super) const METRICS_ENABLED: bool = true;
    pub(super) const METRICS_LISTEN_ADDRESS: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9187);

    pub(super) fn partitions() -> i32 {
        PARTITIONS
    }

    pub(super) fn replication_factor() -> i32 {
        REPLICATION_FACTOR
    }
}

impl Default for Source {
    fn default() -> Self {
        Source {
            slot: defaults::SLOT.to_owned(),
            publication: defaults::PUBLICATION.to_owned(),
            create_slot: defaults::CREATE_SLOT,
            topic_prefix: defaults::TOPIC_PREFIX.to_owned(),
            max_in_flight_events: defaults::MAX_IN_FLIGHT_EVENTS,
            status_interval_seconds: defaults::STATUS_INTERVAL_SECONDS,
            tombstones: defaults::TOMBSTONES,
            slot_busy_wait_seconds: defaults::SLOT_BUSY_WAIT_SECONDS,
            heartbeat_interval_seconds: defaults::HEARTBEAT_INTERVAL_SECONDS,
            heartbeat_emit_message: defaults::HEARTBEAT_EMIT_MESSAGE,
            include_tables: Vec::new(),
            exclude_tables: Vec::new(),
            exclude_columns: Vec::new(),
            mask: Vec::new(),
            mask_salt: Secret::default(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: defaults::METRICS_ENABLED,
            listen_address: defaults::METRICS_LISTEN_ADDRESS,
        }
    }
}

/// A PostgreSQL URL that may carry a password: checked when read, redacted in `Debug`,
/// never serialised.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL, password included: for the connection only, never for a log.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PostgresUrl {
    type Error = String;

    /// Parsed as the replication connection will parse it, so a bad URL fails here. The
    /// parser's messages never repeat the URL, so no password reaches an error.
    fn try_from(url: String) -> Result<Self, String> {
        match sluice_replication::ReplicationConfig::from_url(&url) {
            Ok(_) => Ok(PostgresUrl(url)),
            Err(error) => Err(error.to_string()),
        }
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Cannot fail: the URL has a host, or it would have no password.
                    let _ = url.set_password(Some("***"));
                }
                write!(f, "PostgresUrl({:?})", url.as_str())
            }
            Err(_) => f.write_str("PostgresUrl(<unparsable>)"),
        }
    }
}

/// A librdkafka property's value: written as a string, a number or a boolean in the file
/// (`"linger.ms" = 20`), handed to librdkafka as text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropertyValue(pub(crate) String);

impl<'de> Deserialize<'de> for PropertyValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PropertyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Producer properties a config may not set, and why.
const FIXED_PRODUCER_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "set kafka.bootstrap_servers instead"),
    (
        "enable.idempotence",
        "the source always uses the idempotent producer: without it a retry can duplicate or reorder events",
    ),
    (
        "acks",
        "the source always uses acks=all: with fewer, an acknowledged event can be lost and the slot would already have moved past it",
    ),
    (
        "request.required.acks",
        "the source always uses acks=all: with fewer, an acknowledged event can be lost and the slot would already have moved past it",
    ),
];

/// Why the config cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    /// The file is not TOML (toml's message names the line, column and key).
    #[error("not valid TOML: {0}")]
    Syntax(#[source] toml::de::Error),
    /// The environment's overrides cannot be applied.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// Keys with unusable values.
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// One key (or section) that is absent or unusable, found after parsing.
    pub(crate) fn invalid_key(key: &str, message: &str) -> ConfigError {
        ConfigError::Invalid(vec![Problem {
            key: key.to_owned(),
            message: message.to_owned(),
            variable: None,
        }])
    }
}

/// One key with an unusable value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    /// The key, dotted: `kafka.partitions`.
    pub(crate) key: String,
    /// What is wrong and what is expected.
    pub(crate) message: String,
    /// The environment variable that set the key, if one did.
    pub(crate) variable: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{}: {}", self.key, self.message)?;
        }
        if let Some(variable) = &self.variable {
            write!(f, " (set by {variable})")?;
        }
        Ok(())
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// A config file's type: deserialised, then checked key by key.
pub(crate) trait Checked: serde::de::DeserializeOwned {
    /// Every key whose value is unusable, with what is expected.
    fn problems(&self) -> Vec<(String, String)>;
}

/// Reads `path`, applies the `SLUICE_*__*` variables of this process and validates.
pub(crate) fn load<T: Checked>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(ConfigError::Read)?;
    let overrides = overrides::from_variables(std::env::vars_os())?;
    parse(&text, &overrides)
}

/// Reads `path` as [`load`] does, applying only the `SLUICE_*__*` variables `keep`
/// accepts: for a second config file read by the same process, which takes from the
/// environment only the keys the two share.
pub(crate) fn load_with<T: Checked>(
    path: &Path,
    keep: impl Fn(&Override) -> bool,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(ConfigError::Read)?;
    let mut overrides = overrides::from_variables(std::env::vars_os())?;
    overrides.retain(|o| keep(o));
    parse(&text, &overrides)
}

/// Parses `text`, applies `overrides` and validates.
pub(crate) fn parse<T: Checked>(text: &str, overrides: &[Override]) -> Result<T, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(ConfigError::Syntax)?;
    overrides::apply(&mut table, overrides)?;
    let config: T =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
            let key = error.path().to_string();
            let message = error.inner().message().to_owned();
            ConfigError::Invalid(vec![problem(key, message, overrides)])
        })?;
    let problems: Vec<Problem> = config
        .problems()
        .into_iter()
        .map(|(key, message)| problem(key, message, overrides))
        .collect();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

impl Config {
    /// Reads `path`, applies the `SLUICE_*__*` variables of this process and validates.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        load(path)
    }

    /// Parses `text`, applies `overrides` and validates.
    #[cfg(test)]
    pub(crate) fn parse(text: &str, overrides: &[Override]) -> Result<Config, ConfigError> {
        parse(text, overrides)
    }
}

impl Checked for Config {
    fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, message: &str| {
            if !ok {
                problems.push((key.to_owned(), message.to_owned()));
            }
        };
        let (source, kafka) = (&self.source, &self.kafka);
        check(
            (1..=63).contains(&source.slot.len())
                && source
                    .slot
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "source.slot",
            "must be 1 to 63 lower-case letters, digits and underscores",
        );
        check(
            (1..=63).contains(&source.publication.len()),
            "source.publication",
            "must be 1 to 63 bytes long (a PostgreSQL name)",
        );
        let topic = sluice_event::topic::messages_topic(&source.topic_prefix);
        check(
            topic.is_ok(),
            "source.topic_prefix",
            &topic.err().map(|e| e.to_string()).unwrap_or_default(),
        );
        check(
            source.max_in_flight_events >= 1,
            "source.max_in_flight_events",
            "must be at least 1",
        );
        check(
            (1..=1_000_000).contains(&self.snapshot.chunk_rows),
            "snapshot.chunk_rows",
            "must be 1 to 1000000",
        );
        check(
            source.status_interval_seconds > 0.0 && source.status_interval_seconds <= 3600.0,
            "source.status_interval_seconds",
            "must be more than 0 and at most 3600",
        );
        for (i, mask) in source.mask.iter().enumerate() {
            check(
                !mask.columns.is_empty(),
                &format!("source.mask[{i}].columns"),
                "must name at least one schema.table.column pattern",
            );
        }
        check(
            source.mask_salt.is_set()
                || !source
                    .mask
                    .iter()
                    .any(|mask| mask.method.0 == MaskMethod::Hash),
            "source.mask_salt",
            "required when a mask uses method \"hash\": without a secret salt, a hashed short \
             value (a phone number, an email) is recovered by hashing guesses",
        );
        check(
            !kafka.bootstrap_servers.trim().is_empty(),
            "kafka.bootstrap_servers",
            "must name at least one broker (host:port)",
        );
        check(
            kafka.partitions >= 1,
            "kafka.partitions",
            "must be at least 1",
        );
        check(
            kafka.replication_factor >= 1,
            "kafka.replication_factor",
            "must be at least 1",
        );
        for key in kafka.producer.keys() {
            if let Some((_, why)) = FIXED_PRODUCER_PROPERTIES
                .iter()
                .find(|(fixed, _)| fixed == key)
            {
                check(
                    false,
                    &dotted(&["kafka", "producer", key]),
                    &format!("may not be set: {why}"),
                );
            }
        }
        problems
    }
}

impl Config {
    /// The source library's config.
    pub(crate) fn source_config(&self) -> SourceConfig {
        SourceConfig {
            postgres_url: self.postgres.url.expose().to_owned(),
            slot: self.source.slot.clone(),
            publication: self.source.publication.clone(),
            create_slot: self.source.create_slot,
            topic_prefix: self.source.topic_prefix.clone(),
            kafka: KafkaSettings {
                bootstrap_servers: self.kafka.bootstrap_servers.clone(),
                partitions: self.kafka.partitions,
                replication_factor: self.kafka.replication_factor,
                producer_properties: self
                    .kafka
                    .producer
                    .iter()
                    .map(|(key, value)| (key.clone(), value.0.clone()))
                    .collect(),
            },
            max_in_flight: self.source.max_in_flight_events,
            // Validated to lie in (0, 3600].
            status_interval: Duration::try_from_secs_f64(self.source.status_interval_seconds)
                .unwrap_or(Duration::from_secs(10)),
            tombstones: self.source.tombstones,
            filter: self.source.capture_filter(),
            snapshot: SnapshotSettings {
                mode: self.snapshot.mode,
                chunk_rows: self.snapshot.chunk_rows,
            },
            heartbeat_interval: (self.source.heartbeat_interval_seconds > 0)
                .then(|| Duration::from_secs(self.source.heartbeat_interval_seconds)),
            heartbeat_emit_message: self.source.heartbeat_emit_message,
        }
    }

    /// How long to wait for a slot held by another connection.
    pub(crate) fn slot_busy_wait(&self) -> Duration {
        Duration::from_secs(self.source.slot_busy_wait_seconds)
    }
}

/// A problem at `key`, attributed to the environment variable that set the key (or a key
/// inside it, or a section around it) when there is one.
fn problem(key: String, message: String, overrides: &[Override]) -> Problem {
    // serde_path_to_error writes the root as `.`.
    let key = if key == "." { String::new() } else { key };
    let variable = overrides
        .iter()
        .find(|o| {
            let set = o.key();
            !key.is_empty()
                && (set == key
                    || set.starts_with(&format!("{key}."))
                    || key.starts_with(&format!("{set}.")))
        })
        .map(|o| o.variable.clone());
    Problem {
        key,
        message,
        variable,
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    const MINIMAL: &str = r#"
        [postgres]
        url = "postgres://sluice:s3cr3t@127.0.0.1:5432/shop"

        [kafka]
        bootstrap_servers = "127.0.0.1:9092"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &[])
    }

    fn parse_with_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let overrides = overrides::from_variables(
            env.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        )
        .unwrap();
        Config::parse(text, &overrides)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_file_takes_the_named_defaults() {
        let config = parse(MINIMAL).unwrap();
        let source = config.source_config();
        assert_eq!(
            source.postgres_url,
            "postgres://sluice:s3cr3t@127.0.0.1:5432/shop"
        );
        assert_eq!(source.slot, "sluice");
        assert_eq!(source.publication, "sluice");
        assert!(source.create_slot);
        assert_eq!(source.topic_prefix, "sluice");
        assert_eq!(source.max_in_flight, 10_000);
        assert_eq!(source.status_interval, Duration::from_secs(10));
        assert!(source.tombstones);
        assert_eq!(source.kafka.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(source.kafka.partitions, 3);
        assert_eq!(source.kafka.replication_factor, 1);
        assert!(source.kafka.producer_properties.is_empty());
        assert!(config.metrics.enabled);
        assert_eq!(config.metrics.listen_address.to_string(), "127.0.0.1:9187");
        assert_eq!(config.slot_busy_wait(), Duration::from_secs(30));
    }

    #[test]
    fn a_full_file_maps_onto_the_source_config() {
        let config = parse(
            r#"
            [postgres]
            url = "postgresql://cdc@db:5433/shop?sslmode=require"

            [source]
            slot = "shop_orders"
            publication = "Orders Publication"
            create_slot = false
            topic_prefix = "shop"
            max_in_flight_events = 500
            status_interval_seconds = 0.5
            tombstones = false
            slot_busy_wait_seconds = 0

            [kafka]
            bootstrap_servers = "k1:9092,k2:9092"
            partitions = 12
            replication_factor = 3

            [kafka.producer]
            "compression.type" = "zstd"
            "linger.ms" = 20
            "socket.keepalive.enable" = true

            [metrics]
            enabled = false
            listen_address = "0.0.0.0:9999"
            "#,
        )
        .unwrap();
        let source = config.source_config();
        assert_eq!(source.slot, "shop_orders");
        assert_eq!(source.publication, "Orders Publication");
        assert!(!source.create_slot);
        assert_eq!(source.topic_prefix, "shop");
        assert_eq!(source.max_in_flight, 500);
        assert_eq!(source.status_interval, Duration::from_millis(500));
        assert!(!source.tombstones);
        assert_eq!(source.kafka.partitions, 12);
        assert_eq!(source.kafka.replication_factor, 3);
        assert_eq!(
            source.kafka.producer_properties,
            [
                ("compression.type".to_owned(), "zstd".to_owned()),
                ("linger.ms".to_owned(), "20".to_owned()),
                ("socket.keepalive.enable".to_owned(), "true".to_owned()),
            ]
        );
        assert!(!config.metrics.enabled);
        assert_eq!(config.metrics.listen_address.port(), 9999);
        assert_eq!(config.slot_busy_wait(), Duration::ZERO);
    }

    #[test]
    fn environment_variables_override_the_file() {
        let config = parse_with_env(
            MINIMAL,
            &[
                ("SLUICE_SOURCE__SLOT", "from_env"),
                ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", "k9:9092"),
                ("SLUICE_KAFKA__PARTITIONS", "7"),
                ("SLUICE_KAFKA__PRODUCER__LINGER.MS", "50"),
                ("SLUICE_POSTGRES__URL", "postgres://other:pw@db2/shop"),
                ("SLUICE_SOURCE__STATUS_INTERVAL_SECONDS", "2.5"),
                ("SLUICE_METRICS__ENABLED", "false"),
                ("SLUICE_METRICS__LISTEN_ADDRESS", "127.0.0.1:0"),
                // The local stack's and test harness's variables are not overrides.
                ("SLUICE_POSTGRES_URL", "postgres://ignored@nowhere/x"),
                ("SLUICE_KAFKA_BOOTSTRAP", "ignored:1"),
            ],
        )
        .unwrap();
        let source = config.source_config();
        assert_eq!(source.slot, "from_env");
        assert_eq!(source.kafka.bootstrap_servers, "k9:9092");
        assert_eq!(source.kafka.partitions, 7);
        assert_eq!(
            source.kafka.producer_properties,
            [("linger.ms".to_owned(), "50".to_owned())]
        );
        assert_eq!(source.postgres_url, "postgres://other:pw@db2/shop");
        assert_eq!(source.status_interval, Duration::from_millis(2500));
        assert!(!config.metrics.enabled);
        assert_eq!(config.metrics.listen_address.port(), 0);
    }

    #[test]
    fn the_environment_alone_can_supply_required_keys() {
        let config = parse_with_env(
            "",
            &[
                ("SLUICE_POSTGRES__URL", "postgres://u@db/shop"),
                ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", "k:9092"),
            ],
        )
        .unwrap();
        assert_eq!(config.source_config().kafka.bootstrap_servers, "k:9092");
    }

    #[test]
    fn validation_names_the_key() {
        let with = |section: &str| format!("{MINIMAL}\n{section}");
        let cases = [
            (
                with("[source]\nslot = \"Orders-Slot\""),
                "source.slot: must be 1 to 63 lower-case letters, digits and underscores",
            ),
            (
                with(&format!("[source]\nslot = \"{}\"", "a".repeat(64))),
                "source.slot: must be 1 to 63 lower-case letters, digits and underscores",
            ),
            (
                with("[source]\npublication = \"\""),
                "source.publication: must be 1 to 63 bytes long (a PostgreSQL name)",
            ),
            (
                with("[source]\ntopic_prefix = \"shop/orders\""),
                "source.topic_prefix: topic prefix \"shop/orders\" is not a valid topic name \
                 fragment: use 1 or more of [a-zA-Z0-9._-]",
            ),
            (
                with("[source]\nmax_in_flight_events = 0"),
                "source.max_in_flight_events: must be at least 1",
            ),
            (
                with("[source]\nstatus_interval_seconds = 0"),
                "source.status_interval_seconds: must be more than 0 and at most 3600",
            ),
            (
                MINIMAL.replace(
                    "bootstrap_servers = \"127.0.0.1:9092\"",
                    "partitions = 0\nbootstrap_servers = \" \"",
                ),
                "kafka.bootstrap_servers: must name at least one broker (host:port); \
                 kafka.partitions: must be at least 1",
            ),
            (
                MINIMAL.replace("[kafka]", "[kafka]\nreplication_factor = -1"),
                "kafka.replication_factor: must be at least 1",
            ),
            (
                with("[kafka.producer]\nacks = 1"),
                "kafka.producer.acks: may not be set: the source always uses acks=all: with \
                 fewer, an acknowledged event can be lost and the slot would already have moved \
                 past it",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(&text), expected);
        }
        assert!(
            error(&with("[kafka.producer]\n\"enable.idempotence\" = false"))
                .starts_with("kafka.producer.\"enable.idempotence\": may not be set")
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_name_the_key() {
        let unknown = error(&MINIMAL.replace("[kafka]", "[kafka]\npartiton = 3"));
        assert!(
            unknown.starts_with("kafka.partiton: unknown field `partiton`"),
            "{unknown}"
        );
        let section = error(&format!("{MINIMAL}\n[sourse]\nslot = \"x\""));
        assert!(
            section.starts_with("sourse: unknown field `sourse`"),
            "{section}"
        );
        let bad_type = error(&MINIMAL.replace("[kafka]", "[kafka]\npartitions = \"three\""));
        assert_eq!(
            bad_type,
            "kafka.partitions: invalid type: string \"three\", expected i32"
        );
        let negative = error(&format!("{MINIMAL}\n[source]\nmax_in_flight_events = -5"));
        assert!(
            negative.starts_with("source.max_in_flight_events: invalid value: integer `-5`"),
            "{negative}"
        );
        let address = error(&format!(
            "{MINIMAL}\n[metrics]\nlisten_address = \"localhost\""
        ));
        assert!(address.starts_with("metrics.listen_address: "), "{address}");
        let mode = error(&format!("{MINIMAL}\n[snapshot]\nmode = \"always\""));
        assert!(
            mode.starts_with("snapshot.mode: unknown variant `always`, expected one of"),
            "{mode}"
        );
        let chunk = error(&format!("{MINIMAL}\n[snapshot]\nchunk_rows = 0"));
        assert_eq!(chunk, "snapshot.chunk_rows: must be 1 to 1000000");
        let missing = error("[kafka]\nbootstrap_servers = \"k:1\"");
        assert_eq!(missing, "missing field `postgres`");
        let missing_url = error("[postgres]\n[kafka]\nbootstrap_servers = \"k:1\"");
        assert_eq!(missing_url, "postgres: missing field `url`");
    }

    #[test]
    fn errors_name_the_variable_that_set_the_key() {
        let partitions = parse_with_env(MINIMAL, &[("SLUICE_KAFKA__PARTITIONS", "0")]).unwrap_err();
        assert_eq!(
            partitions.to_string(),
            "kafka.partitions: must be at least 1 (set by SLUICE_KAFKA__PARTITIONS)"
        );
        let unknown = parse_with_env(MINIMAL, &[("SLUICE_KAFKA__BOOTSTRAP", "k:1")])
            .unwrap_err()
            .to_string();
        assert!(
            unknown.starts_with("kafka.bootstrap: unknown field `bootstrap`")
                && unknown.ends_with("(set by SLUICE_KAFKA__BOOTSTRAP)"),
            "{unknown}"
        );
    }

    #[test]
    fn a_bad_url_is_rejected_without_repeating_it() {
        for url in [
            "mysql://u:hunter2@db/shop",
            "postgres://:hunter2@db/shop",
            "postgres://u:hunter2@db/shop?password=hunter2",
            "not a url hunter2",
        ] {
            let message =
                error(&MINIMAL.replace("postgres://sluice:s3cr3t@127.0.0.1:5432/shop", url));
            assert!(message.starts_with("postgres.url: "), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn debug_output_redacts_the_password() {
        let config = parse(MINIMAL).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(
            debug.contains("postgres://sluice:***@127.0.0.1:5432/shop"),
            "{debug}"
        );
        let no_password = parse(&MINIMAL.replace("sluice:s3cr3t@", "sluice@")).unwrap();
        assert!(format!("{:?}", no_password.postgres.url).contains("postgres://sluice@127.0.0.1"));
    }

    /// `shop.users`, keyed by `id`, with one column for each rule of [`FILTERED`].
    fn users() -> sluice_pgoutput::Relation {
        use sluice_pgoutput::{Column, Relation, ReplicaIdentity};
        let column = |flags, name: &str, type_oid| Column {
            flags,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        Relation {
            xid: None,
            id: 16384,
            namespace: "shop".into(),
            name: "users".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                column(Column::KEY_FLAG, "id", 20),
                column(0, "email", 25),
                column(0, "name", 25),
                column(0, "birth_date", 1082),
                column(0, "password_hash", 25),
                column(0, "internal_note", 25),
            ],
        }
    }

    const FILTERED: &str = r#"
        [source]
        include_tables = ["shop.*", "billing.invoices"]
        exclude_tables = ["*.audit_*"]
        exclude_columns = ["shop.users.password_hash", "*.*.internal_*"]
        mask_salt = "pepper"

        [[source.mask]]
        columns = ["shop.users.email", "shop.*.phone"]
        method = "hash"

        [[source.mask]]
        columns = ["shop.users.name"]
        method = "redact"

        [[source.mask]]
        columns = ["shop.users.birth_date"]
        method = "null"
    "#;

    #[test]
    fn filters_and_masks_map_onto_the_capture_filter() {
        use sluice_pgoutput::Cell;
        use sluice_pgvalue::Value;

        let filter = parse(&format!("{MINIMAL}\n{FILTERED}"))
            .unwrap()
            .source_config()
            .filter;
        assert!(filter.captures("shop", "users"));
        assert!(filter.captures("billing", "invoices"));
        assert!(!filter.captures("billing", "payments"));
        assert!(!filter.captures("shop", "audit_log"));

        let plan = filter.plan(&users()).unwrap();
        let columns: Vec<(&str, u32)> = plan
            .relation()
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_oid))
            .collect();
        assert_eq!(
            columns,
            [
                ("id", 20),
                ("email", 25),
                ("name", 25),
                ("birth_date", 1082)
            ]
        );
        let text = |s: &str| Cell::Value(Value::Text(s.into()));
        let mut row = vec![
            Cell::Value(Value::Int8(7)),
            text("ada@example.com"),
            text("Ada"),
            Cell::Value(Value::Text("1815-12-10".into())),
            text("$argon2id$..."),
            text("VIP"),
        ];
        plan.apply(&mut row);
        assert_eq!(
            row,
            [
                Cell::Value(Value::Int8(7)),
                // printf 'pepperada@example.com' | sha256sum
                text("f3de2501fc91c4a9ae4d4ed50bef931c9901aabe5ea36979890a69204e7eb2b1"),
                text("***"),
                Cell::Null,
            ]
        );

        // No filter keys: everything, as it is.
        let everything = parse(MINIMAL).unwrap().source_config().filter;
        assert!(everything.captures("any", "table"));
        assert!(everything.plan(&users()).unwrap().is_identity());
    }

    #[test]
    fn filter_validation_names_the_key() {
        let with = |section: &str| format!("{MINIMAL}\n[source]\n{section}");
        let cases = [
            (
                with(r#"exclude_columns = ["shop.users.ssn", "*.*.password", "shop.users"]"#),
                "source.exclude_columns[2]: \"shop.users\" needs three dot-separated parts \
                 schema.table.column",
            ),
            (
                with(r#"include_tables = ["shop"]"#),
                "source.include_tables[0]: \"shop\" needs two dot-separated parts schema.table",
            ),
            (
                with(r#"exclude_tables = ["shop..x"]"#),
                "source.exclude_tables[0]: \"shop..x\" needs two dot-separated parts \
                 schema.table",
            ),
            (
                with("[[source.mask]]\ncolumns = [\"shop.users.email\"]\nmethod = \"sha1\""),
                "source.mask[0].method: \"sha1\" is not a mask method: use hash, redact or null",
            ),
            (
                with(
                    "[[source.mask]]\ncolumns = [\"a.b.c\"]\nmethod = \"null\"\n\
                     [[source.mask]]\ncolumns = [\"a..c\"]\nmethod = \"null\"",
                ),
                "source.mask[1].columns[0]: \"a..c\" has an empty part; write * to match any \
                 name",
            ),
            (
                with("[[source.mask]]\ncolumns = []\nmethod = \"redact\""),
                "source.mask[0].columns: must name at least one schema.table.column pattern",
            ),
            (
                with("[[source.mask]]\ncolumns = [\"shop.users.email\"]\nmethod = \"hash\""),
                "source.mask_salt: required when a mask uses method \"hash\": without a secret \
                 salt, a hashed short value (a phone number, an email) is recovered by hashing \
                 guesses",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(&text), expected);
        }
        let unknown = error(&with(
            "[[source.mask]]\ncolumn = [\"a.b.c\"]\nmethod = \"null\"",
        ));
        assert!(
            unknown.starts_with("source.mask[0].column: unknown field `column`"),
            "{unknown}"
        );
    }

    #[test]
    fn debug_output_hides_the_mask_salt() {
        let config = parse_with_env(
            &format!("{MINIMAL}\n{FILTERED}"),
            &[("SLUICE_SOURCE__MASK_SALT", "pepper-from-env")],
        )
        .unwrap();
        assert_eq!(config.source.mask_salt.expose(), "pepper-from-env");
        for debug in [
            format!("{config:?}"),
            format!("{:?}", config.source_config()),
        ] {
            assert!(!debug.contains("pepper"), "{debug}");
        }
        assert!(format!("{config:?}").contains("mask_salt: Secret(***)"));
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let message = error("[kafka\nbootstrap_servers = 1");
        assert!(message.contains("line 1"), "{message}");
    }
}
