//! The config file of `sluice sink <kind>` (and `sluice replay <kind>`): the same TOML,
//! `SLUICE_<SECTION>__<KEY>` overrides and key-naming checks as the source's
//! ([`crate::config`]), with the sections a sink needs.
//!
//! ```toml
//! [kafka]
//! bootstrap_servers = "kafka-1:9092"
//!
//! [sink]
//! topic_prefix = "shop"            # the source's prefix: reads shop.<schema>.<table>
//!
//! [elasticsearch]
//! url = "https://search.internal:9200"
//! username = "sluice"              # password: SLUICE_ELASTICSEARCH__PASSWORD
//!
//! [elasticsearch.tables."public.products"]
//! index = "products"               # an index or alias name
//! settings = { number_of_shards = 3 }
//!
//! [redis]                          # for `sluice sink redis`: sluice_sink_redis::RedisConfig
//! url = "redis://cache.internal:6379"
//!
//! [neo4j]                          # for `sluice sink neo4j`: sluice_sink_neo4j::Neo4jConfig
//! url = "bolt://graph.internal:7687"
//! ```
//!
//! The Redis and Neo4j sections are their crates' config types, deserialised and checked
//! by those crates (their messages name the key); the Elasticsearch section predates that
//! and maps onto its crate's type here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink::{RuntimeConfig, TableName};
use sluice_sink_elasticsearch::{ElasticsearchConfig, TableIndex};
use sluice_sink_neo4j::Neo4jConfig;
use sluice_sink_redis::RedisConfig;

use crate::config::{Checked, ConfigError, Metrics, PropertyValue, Secret};

/// The store kinds a sink config can name: `sluice sink <kind>`, and the keys of
/// `[verify] groups`.
pub(crate) const STORE_KINDS: [&str; 3] = ["elasticsearch", "redis", "neo4j"];

/// The whole config of a sink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkConfig {
    /// The Kafka cluster the change events are read from.
    pub(crate) kafka: SinkKafka,
    /// How the events are consumed and batched.
    #[serde(default)]
    pub(crate) sink: SinkSection,
    /// The Elasticsearch (or OpenSearch) store, for `sink elasticsearch`.
    pub(crate) elasticsearch: Option<ElasticsearchSection>,
    /// The Redis store, for `sink redis`: the crate's own config type.
    pub(crate) redis: Option<RedisConfig>,
    /// The Neo4j store, for `sink neo4j`: the crate's own config type.
    pub(crate) neo4j: Option<Neo4jConfig>,
    /// The `/metrics`, `/healthz` and `/readyz` endpoint.
    #[serde(default)]
    pub(crate) metrics: Metrics,
    /// The source of truth, for `sluice verify` (ignored by the sinks).
    pub(crate) postgres: Option<crate::verify::VerifyPostgres>,
    /// What `sluice verify` compares (ignored by the sinks).
    pub(crate) verify: Option<crate::verify::VerifySection>,
}

/// `[kafka]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkKafka {
    /// `host:port` of one or more brokers, comma-separated. Required.
    pub(crate) bootstrap_servers: String,
    /// Extra librdkafka consumer properties (`"fetch.max.bytes" = 10485760`). The ones
    /// that make committing safe (`enable.auto.commit`, `enable.auto.offset.store`) are
    /// fixed.
    #[serde(default)]
    pub(crate) consumer: BTreeMap<String, PropertyValue>,
}

/// `[sink]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SinkSection {
    /// The source's topic prefix: the sink reads every `<topic_prefix>.<schema>.<table>`.
    pub(crate) topic_prefix: String,
    /// The consumer group; `sluice-<kind>` when absent. One group per sink: two sinks of
    /// the same kind writing to different stores need different groups.
    pub(crate) group_id: Option<String>,
    /// A batch is applied once it holds this many records...
    pub(crate) batch_max_records: usize,
    /// ...or once its first record waited this many milliseconds.
    pub(crate) batch_max_wait_ms: u64,
    /// The first retry's delay in milliseconds; each next doubles, with jitter.
    pub(crate) retry_initial_ms: u64,
    /// The longest delay between retries, in seconds. A store that stays down is retried
    /// forever, with nothing committed meanwhile.
    pub(crate) retry_max_seconds: u64,
    /// How often to look for new table topics, in seconds.
    pub(crate) topic_refresh_seconds: u64,
}

impl Default for SinkSection {
    fn default() -> Self {
        Self {
            topic_prefix: "sluice".into(),
            group_id: None,
            batch_max_records: 1000,
            batch_max_wait_ms: 200,
            retry_initial_ms: 200,
            retry_max_seconds: 30,
            topic_refresh_seconds: 10,
        }
    }
}

/// `[elasticsearch]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElasticsearchSection {
    /// The cluster's URL (`http://` or `https://`). Required.
    pub(crate) url: String,
    /// Basic authentication user, if the cluster needs one.
    pub(crate) username: Option<String>,
    /// Its password: prefer `SLUICE_ELASTICSEARCH__PASSWORD`.
    #[serde(default)]
    pub(crate) password: Secret,
    /// Default index names are `<index_prefix>-<schema>-<table>`.
    #[serde(default = "defaults::index_prefix")]
    pub(crate) index_prefix: String,
    /// How long deleted documents' versions are remembered (`index.gc_deletes` of the
    /// indices the sink creates): an event older than a delete replayed within this time is
    /// refused; after it, it would bring the row back.
    #[serde(default = "defaults::gc_deletes")]
    pub(crate) gc_deletes: String,
    /// Seconds before a request to the cluster counts as failed (and is retried).
    #[serde(default = "defaults::request_timeout_seconds")]
    pub(crate) request_timeout_seconds: u64,
    /// Per table (`"schema.table"`): the index or alias, and settings and mappings for
    /// the index the sink creates.
    #[serde(default)]
    pub(crate) tables: BTreeMap<String, TableIndexSection>,
}

/// `[elasticsearch.tables."schema.table"]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableIndexSection {
    /// The index or alias the table's documents go to.
    pub(crate) index: Option<String>,
    /// Index settings, merged over the defaults.
    pub(crate) settings: Option<serde_json::Value>,
    /// Index mappings, merged over the mapping built from the columns.
    pub(crate) mappings: Option<serde_json::Value>,
}

mod defaults {
    pub(super) fn index_prefix() -> String {
        "sluice".into()
    }

    pub(super) fn gc_deletes() -> String {
        "1d".into()
    }

    pub(super) fn request_timeout_seconds() -> u64 {
        30
    }
}

/// Consumer properties a config may not set, and why.
const FIXED_CONSUMER_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "set kafka.bootstrap_servers instead"),
    ("group.id", "set sink.group_id instead"),
    (
        "enable.auto.commit",
        "the sink commits an offset only after the store accepted everything before it",
    ),
    (
        "enable.auto.offset.store",
        "the sink commits an offset only after the store accepted everything before it",
    ),
];

impl Checked for SinkConfig {
    fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, message: &str| {
            if !ok {
                problems.push((key.to_owned(), message.to_owned()));
            }
        };
        let sink = &self.sink;
        check(
            sluice_event::topic::messages_topic(&sink.topic_prefix).is_ok(),
            "sink.topic_prefix",
            "must be 1 or more of [a-zA-Z0-9._-] (the source's topic_prefix)",
        );
        check(
            sink.group_id.as_ref().is_none_or(|g| !g.is_empty()),
            "sink.group_id",
            "must not be empty",
        );
        check(
            (1..=100_000).contains(&sink.batch_max_records),
            "sink.batch_max_records",
            "must be 1 to 100000",
        );
        check(
            sink.batch_max_wait_ms <= 60_000,
            "sink.batch_max_wait_ms",
            "must be at most 60000",
        );
        check(
            sink.retry_initial_ms >= 1,
            "sink.retry_initial_ms",
            "must be at least 1",
        );
        check(
            (1..=3600).contains(&sink.retry_max_seconds),
            "sink.retry_max_seconds",
            "must be 1 to 3600",
        );
        check(
            sink.topic_refresh_seconds >= 1,
            "sink.topic_refresh_seconds",
            "must be at least 1",
        );
        check(
            !self.kafka.bootstrap_servers.trim().is_empty(),
            "kafka.bootstrap_servers",
            "must name at least one broker",
        );
        for (property, why) in FIXED_CONSUMER_PROPERTIES {
            check(
                !self.kafka.consumer.contains_key(*property),
                &format!("kafka.consumer.\"{property}\""),
                &format!("may not be set: {why}"),
            );
        }
        if let Some(search) = &self.elasticsearch {
            check(
                search.url.starts_with("http://") || search.url.starts_with("https://"),
                "elasticsearch.url",
                "must be an http:// or https:// URL",
            );
            check(
                search.request_timeout_seconds >= 1,
                "elasticsearch.request_timeout_seconds",
                "must be at least 1",
            );
            for name in search.tables.keys() {
                check(
                    TableName::parse(name).is_some(),
                    &format!("elasticsearch.tables.\"{name}\""),
                    "must be named \"schema.table\"",
                );
            }
        }
        if let Some(verify) = &self.verify {
            for kind in verify.groups.keys() {
                check(
                    STORE_KINDS.contains(&kind.as_str()),
                    &format!("verify.groups.{kind}"),
                    "not a store kind: use elasticsearch, redis or neo4j",
                );
            }
        }
        // The stores that check their own sections name the key in their messages.
        if let Some(Err(error)) = self.redis.as_ref().map(RedisConfig::validate) {
            problems.push((String::new(), error.to_string()));
        }
        if let Some(Err(error)) = self.neo4j.as_ref().map(Neo4jConfig::validate) {
            problems.push((String::new(), error.to_string()));
        }
        problems
    }
}

impl SinkConfig {
    /// The runtime's config for a sink of `kind`.
    pub(crate) fn runtime_config(&self, kind: &str) -> Result<RuntimeConfig, ConfigError> {
        let sink = &self.sink;
        let mut config =
            RuntimeConfig::new(&self.kafka.bootstrap_servers, &sink.topic_prefix, kind).map_err(
                |error| ConfigError::invalid_key("sink.topic_prefix", &error.to_string()),
            )?;
        if let Some(group) = &sink.group_id {
            config.group_id = group.clone();
        }
        config.batch_max_records = sink.batch_max_records;
        config.batch_max_wait = Duration::from_millis(sink.batch_max_wait_ms);
        config.retry_initial = Duration::from_millis(sink.retry_initial_ms);
        config.retry_max = Duration::from_secs(sink.retry_max_seconds);
        config.topic_refresh = Duration::from_secs(sink.topic_refresh_seconds);
        config.consumer_properties = self
            .kafka
            .consumer
            .iter()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        Ok(config)
    }

    /// The store kinds whose section this config has, in [`STORE_KINDS`] order.
    pub(crate) fn configured_stores(&self) -> Vec<&'static str> {
        let present = [
            self.elasticsearch.is_some(),
            self.redis.is_some(),
            self.neo4j.is_some(),
        ];
        STORE_KINDS
            .into_iter()
            .zip(present)
            .filter_map(|(kind, present)| present.then_some(kind))
            .collect()
    }

    /// The consumer group of the sink of `kind`, as `verify` and `status` look for it:
    /// `[verify] groups.<kind>` when set, else the group that sink runs with
    /// (`sink.group_id`, or `sluice-<kind>`).
    pub(crate) fn group_of(&self, kind: &str) -> Result<String, ConfigError> {
        match self.verify.as_ref().and_then(|v| v.groups.get(kind)) {
            Some(group) => Ok(group.clone()),
            None => Ok(self.runtime_config(kind)?.group_id),
        }
    }
}

impl ElasticsearchSection {
    /// The Elasticsearch sink's config.
    pub(crate) fn store_config(&self) -> ElasticsearchConfig {
        let mut config = ElasticsearchConfig::new(self.url.clone());
        config.username = self.username.clone();
        config.password = self
            .password
            .is_set()
            .then(|| self.password.expose().to_owned());
        config.index_prefix = self.index_prefix.clone();
        config.gc_deletes = self.gc_deletes.clone();
        config.request_timeout = Duration::from_secs(self.request_timeout_seconds);
        config.tables = self
            .tables
            .iter()
            .map(|(name, table)| {
                (
                    name.clone(),
                    TableIndex {
                        index: table.index.clone(),
                        settings: table.settings.clone(),
                        mappings: table.mappings.clone(),
                    },
                )
            })
            .collect();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, parse};

    const MINIMAL: &str = "[kafka]\nbootstrap_servers = \"k:1\"\n";

    fn error(text: &str) -> String {
        parse::<SinkConfig>(text, &[]).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let config: SinkConfig = parse(MINIMAL, &[]).unwrap();
        let runtime = config.runtime_config("elasticsearch").unwrap();
        assert_eq!(runtime.group_id, "sluice-elasticsearch");
        assert_eq!(
            runtime.dead_letter_topic,
            "sluice.sluice-dead-letter.elasticsearch"
        );
        assert_eq!(runtime.batch_max_records, 1000);
        assert!(config.elasticsearch.is_none());
    }

    #[test]
    fn elasticsearch_tables_carry_settings_and_mappings_as_json() {
        let config: SinkConfig = parse(
            &format!(
                "{MINIMAL}[elasticsearch]\nurl = \"http://s:9200\"\npassword = \"hunter2\"\n\
                 [elasticsearch.tables.\"public.products\"]\nindex = \"products\"\n\
                 settings = {{ number_of_shards = 3 }}\n"
            ),
            &[],
        )
        .unwrap();
        let search = config.elasticsearch.as_ref().unwrap();
        let products = &search.tables["public.products"];
        assert_eq!(products.index.as_deref(), Some("products"));
        assert_eq!(
            products.settings,
            Some(serde_json::json!({"number_of_shards": 3}))
        );
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            error(&format!("{MINIMAL}[sink]\nbatch_max_records = 0")),
            "sink.batch_max_records: must be 1 to 100000"
        );
        assert!(
            error(&format!(
                "{MINIMAL}[kafka.consumer]\n\"enable.auto.commit\" = true"
            ))
            .starts_with("kafka.consumer.\"enable.auto.commit\": may not be set")
        );
        assert_eq!(
            error(&format!("{MINIMAL}[elasticsearch]\nurl = \"s:9200\"")),
            "elasticsearch.url: must be an http:// or https:// URL"
        );
        assert!(
            error(&format!(
                "{MINIMAL}[elasticsearch]\nurl = \"http://s\"\n[elasticsearch.tables.products]\n"
            ))
            .starts_with("elasticsearch.tables.\"products\": must be named")
        );
        let unknown = error(&format!("{MINIMAL}[sink]\nbatch_size = 3"));
        assert!(
            unknown.starts_with("sink.batch_size: unknown field"),
            "{unknown}"
        );
        assert!(matches!(
            parse::<SinkConfig>("[sink]\n", &[]),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn a_sink_group_is_verify_groups_then_sink_group_id_then_the_kinds_default() {
        let config: SinkConfig = parse(
            &format!(
                "{MINIMAL}[redis]\nurl = \"redis://c\"\n\
                 [verify]\npublication = \"p\"\ngroups = {{ neo4j = \"graph\" }}\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(config.configured_stores(), ["redis"]);
        assert_eq!(config.group_of("redis").unwrap(), "sluice-redis");
        assert_eq!(config.group_of("neo4j").unwrap(), "graph");
        let named: SinkConfig =
            parse(&format!("{MINIMAL}[sink]\ngroup_id = \"mine\"\n"), &[]).unwrap();
        assert_eq!(named.group_of("redis").unwrap(), "mine");
        assert_eq!(
            error(&format!(
                "{MINIMAL}[verify]\npublication = \"p\"\n[verify.groups]\nsolr = \"g\"\n"
            )),
            "verify.groups.solr: not a store kind: use elasticsearch, redis or neo4j"
        );
    }

    #[test]
    fn redis_and_neo4j_sections_are_their_crates_configs_checked_by_them() {
        let config: SinkConfig = parse(
            &format!(
                "{MINIMAL}[redis]\nurl = \"redis://:hunter2@cache:6379\"\n\
                 [redis.tables.\"shop.products\"]\nformat = \"json\"\nttl_seconds = 60\n\
                 [neo4j]\nurl = \"bolt://graph:7687\"\npassword = \"swordfish\"\n\
                 [neo4j.nodes.\"shop.users\"]\nlabel = \"User\"\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.redis.as_ref().unwrap().tables["shop.products"].ttl_seconds,
            Some(60)
        );
        assert_eq!(
            config.neo4j.as_ref().unwrap().nodes["shop.users"].label,
            "User"
        );
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("swordfish"),
            "{debug}"
        );

        let redis = error(&format!(
            "{MINIMAL}[redis]\nurl = \"redis://c\"\n[redis.tables.products]\n"
        ));
        assert!(redis.starts_with("redis.tables.\"products\""), "{redis}");
        let neo4j = error(&format!(
            "{MINIMAL}[neo4j]\nurl = \"bolt://g\"\n[[neo4j.nodes.\"s.orders\".relationships]]\n"
        ));
        assert!(neo4j.contains("neo4j.nodes"), "{neo4j}");
    }
}
