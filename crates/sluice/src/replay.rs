//! `sluice replay elasticsearch`: rebuild a table's index from its topic, with no downtime
//! and no lost change, then move readers to it with one atomic alias swap.
//!
//! ```text
//!  1. new index <alias>-r<unix time>, filled from the start of the topic by a fresh
//!     consumer group, until it reached the topic's end as of the start
//!  2. _aliases: <alias> moves to the new index in one action (readers and the live sink,
//!     which writes through the alias, switch together)
//!  3. the same group goes on until the topic's end as of the swap: every change the live
//!     sink wrote into the old index before the swap is now in the new one too
//!  4. optionally, the old index is deleted
//! ```
//!
//! Versioning makes the overlap harmless: the new index may receive an event from both the
//! replay and the live sink, and keeps the newest. The live sink keeps running throughout.
//! When `<alias>` is still a concrete index (made before aliases were used, or by hand),
//! step 2 replaces it by the alias in the same atomic action, which deletes it, so that
//! case requires `--delete-old`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::{IndicesDeleteParts, IndicesExistsAliasParts, IndicesGetAliasParts};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value as Json, json};
use sluice_event::topic::parse_table_topic;
use sluice_sink::{Health, TableName};
use sluice_sink_elasticsearch::ElasticsearchSink;

use crate::shutdown::Shutdown;
use crate::sink;
use crate::sink_config::{ElasticsearchSection, SinkConfig};

/// Rebuilds the index of every table in `tables` (`schema.table`; all of the prefix's
/// when empty).
pub(crate) async fn elasticsearch(
    config: &SinkConfig,
    search: &ElasticsearchSection,
    tables: &[String],
    delete_old: bool,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let base = config.runtime_config("elasticsearch")?;
    let topics = table_topics(&base.bootstrap_servers, &base.topic_prefix, tables)?;
    if topics.is_empty() {
        bail!(
            "no table topic of prefix {:?} matches {tables:?}: nothing to replay",
            base.topic_prefix
        );
    }
    let client = client(search)?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut store = search.store_config();
    let mut swaps = Vec::new();
    for (topic, table) in &topics {
        let alias = store
            .index_for(table)
            .with_context(|| format!("the index name of {table}"))?;
        let fresh = format!("{alias}-r{stamp}");
        let previous = indices_behind(&client, &alias).await?;
        if previous.is_concrete && !delete_old {
            bail!(
                "{alias} is an index, not an alias: replacing it with an alias deletes it; \
                 run again with --delete-old"
            );
        }
        let key = table.to_string();
        let entry = store.tables.entry(key).or_default();
        entry.index = Some(fresh.clone());
        tracing::info!(%table, %topic, %alias, index = %fresh, "replaying into a new index");
        swaps.push((alias, fresh, previous));
    }

    // 1. From the start to the topics' current end.
    let mut runtime = base.clone();
    runtime.group_id = format!("{}-replay-{stamp}", base.group_id);
    runtime.topics = Some(topics.keys().cloned().collect());
    runtime.stop_at = Some(ends(&runtime.bootstrap_servers, topics.keys())?);
    let health = Arc::new(Health::default());
    let connect = || ElasticsearchSink::connect(store.clone());
    sink::run(connect, &runtime, health.clone(), shutdown).await?;
    if shutdown.is_requested() {
        bail!("interrupted before the new indices caught up; the aliases were not moved");
    }

    // 2. One atomic alias swap for every table.
    let mut actions = Vec::new();
    for (alias, fresh, previous) in &swaps {
        if previous.is_concrete {
            actions.push(json!({ "remove_index": { "index": alias } }));
        }
        for old in &previous.indices {
            actions.push(json!({ "remove": { "index": old, "alias": alias } }));
        }
        actions.push(json!({ "add": { "index": fresh, "alias": alias } }));
    }
    let response = client
        .indices()
        .update_aliases()
        .body(json!({ "actions": actions }))
        .send()
        .await
        .context("moving the aliases")?;
    if !response.status_code().is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("moving the aliases failed: {body}");
    }
    for (alias, fresh, _) in &swaps {
        tracing::info!(%alias, index = %fresh, "the alias now points to the rebuilt index");
    }

    // 3. Everything up to the end as of the swap, which covers what the live sink wrote
    // into the old indices before it.
    runtime.stop_at = Some(ends(&runtime.bootstrap_servers, topics.keys())?);
    sink::run(connect, &runtime, health, shutdown).await?;

    // 4. The old indices, when asked.
    if delete_old {
        for (alias, _, previous) in &swaps {
            for old in &previous.indices {
                client
                    .indices()
                    .delete(IndicesDeleteParts::Index(&[old]))
                    .send()
                    .await
                    .with_context(|| format!("deleting {old}, formerly behind {alias}"))?;
                tracing::info!(index = %old, "deleted the old index");
            }
        }
    }
    Ok(())
}

/// What a name currently is in the cluster.
struct Behind {
    /// It is an index itself.
    is_concrete: bool,
    /// The indices it is an alias of.
    indices: Vec<String>,
}

async fn indices_behind(client: &Elasticsearch, name: &str) -> anyhow::Result<Behind> {
    let is_alias = client
        .indices()
        .exists_alias(IndicesExistsAliasParts::Name(&[name]))
        .send()
        .await
        .context("asking the cluster about aliases")?
        .status_code()
        .is_success();
    if !is_alias {
        let exists = client
            .indices()
            .exists(elasticsearch::indices::IndicesExistsParts::Index(&[name]))
            .send()
            .await
            .context("asking the cluster about indices")?
            .status_code()
            .is_success();
        return Ok(Behind {
            is_concrete: exists,
            indices: Vec::new(),
        });
    }
    let body: Json = client
        .indices()
        .get_alias(IndicesGetAliasParts::Name(&[name]))
        .send()
        .await
        .context("reading the alias")?
        .json()
        .await
        .context("reading the alias")?;
    let indices = body
        .as_object()
        .map(|indices| indices.keys().cloned().collect())
        .unwrap_or_default();
    Ok(Behind {
        is_concrete: false,
        indices,
    })
}

fn client(search: &ElasticsearchSection) -> anyhow::Result<Elasticsearch> {
    let url = search.url.parse().context("elasticsearch.url")?;
    let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .timeout(Duration::from_secs(search.request_timeout_seconds));
    if let Some(user) = &search.username {
        transport = transport.auth(Credentials::Basic(
            user.clone(),
            search.password.expose().to_owned(),
        ));
    }
    Ok(Elasticsearch::new(
        transport.build().context("the Elasticsearch client")?,
    ))
}

/// The prefix's table topics, by name, restricted to `tables` when not empty.
fn table_topics(
    bootstrap: &str,
    prefix: &str,
    tables: &[String],
) -> anyhow::Result<BTreeMap<String, TableName>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(30))
        .context("listing Kafka's topics")?;
    let wanted: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    Ok(metadata
        .topics()
        .iter()
        .filter_map(|topic| {
            let (schema, table) = parse_table_topic(prefix, topic.name())?;
            let table = TableName { schema, table };
            (wanted.is_empty() || wanted.contains(table.to_string().as_str()))
                .then(|| (topic.name().to_owned(), table))
        })
        .collect())
}

/// The current end of every non-empty partition of `topics`.
fn ends<'a>(
    bootstrap: &str,
    topics: impl Iterator<Item = &'a String>,
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let mut ends = BTreeMap::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .with_context(|| format!("the partitions of {topic}"))?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) = sluice_event::partition::watermarks(
                &consumer,
                topic,
                partition.id(),
                Duration::from_secs(30),
            )
            .with_context(|| format!("the end of {topic}/{}", partition.id()))?;
            if high > low {
                ends.insert((topic.clone(), partition.id()), high);
            }
        }
    }
    Ok(ends)
}
