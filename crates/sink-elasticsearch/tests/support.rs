//! What every test needs: a sink on its own index prefix, a client to read the indices
//! back, and the hand-built records of `sluice_sink::testing`.

use std::collections::BTreeMap;
use std::future::Future;

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{Elasticsearch, GetParts, SearchParts};
use serde_json::{Value as Json, json};
use sluice_sink::{Applied, Record, Sink};
use sluice_sink_elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
use sluice_testkit::{Server, address, unique_name};

pub(crate) use sluice_sink::testing::{TestTable, int, text, unchanged};

/// A sink writing under a prefix of its own, and a client to look at what it wrote.
pub(crate) struct Harness {
    pub(crate) sink: ElasticsearchSink,
    pub(crate) client: Elasticsearch,
}

/// Runs `body` with a fresh harness, then deletes every index under its prefix, whether
/// the body passed or panicked.
pub(crate) async fn with_harness<F, Fut>(
    name: &str,
    configure: impl FnOnce(&mut ElasticsearchConfig),
    body: F,
) where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = address(Server::Search)
        .await
        .expect("search engine address");
    let mut config = ElasticsearchConfig::new(url.clone());
    config.index_prefix = unique_name(name);
    configure(&mut config);
    let prefix = config.index_prefix.clone();
    let sink = ElasticsearchSink::connect(config)
        .await
        .expect("connect the sink");
    let client = client(&url);
    let result = tokio::spawn(body(Harness {
        sink,
        client: client.clone(),
    }))
    .await;
    delete_indices(&client, &prefix).await;
    if let Err(error) = result {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// A client of the search engine at `url`.
pub(crate) fn client(url: &str) -> Elasticsearch {
    Elasticsearch::new(Transport::single_node(url).expect("transport"))
}

/// Deletes the indices whose names start with `prefix` (by name: Elasticsearch 8 refuses
/// wildcard deletes by default).
async fn delete_indices(client: &Elasticsearch, prefix: &str) {
    let Ok(response) = client
        .cat()
        .indices(elasticsearch::cat::CatIndicesParts::Index(&[&format!(
            "{prefix}*"
        )]))
        .format("json")
        .send()
        .await
    else {
        return;
    };
    let Ok(indices) = response.json::<Json>().await else {
        return;
    };
    let names: Vec<&str> = indices
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["index"].as_str())
        .collect();
    if !names.is_empty() {
        let _ = client
            .indices()
            .delete(IndicesDeleteParts::Index(&names))
            .send()
            .await;
    }
}

impl Harness {
    /// Applies a batch the store must accept.
    pub(crate) async fn apply(&mut self, batch: &[Record]) -> Applied {
        self.sink.apply(batch).await.expect("apply the batch")
    }

    /// Applies a batch that must be applied whole, without rejections.
    pub(crate) async fn apply_all(&mut self, batch: &[Record]) {
        let applied = self.apply(batch).await;
        assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    }

    /// The index of `table`.
    pub(crate) fn index(&self, table: &TestTable) -> String {
        self.sink
            .config()
            .index_for(&table.name())
            .expect("index name")
    }

    /// Every document of the table's index, by id, as `_source`.
    pub(crate) async fn docs(&self, table: &TestTable) -> BTreeMap<String, Json> {
        let index = self.index(table);
        self.client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&index]))
            .send()
            .await
            .expect("refresh");
        let response = self
            .client
            .search(SearchParts::Index(&[&index]))
            .body(json!({ "query": { "match_all": {} }, "size": 1000 }))
            .send()
            .await
            .expect("search");
        let body: Json = response.json().await.expect("search response");
        body["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("no hits in {body}"))
            .iter()
            .map(|hit| {
                (
                    hit["_id"].as_str().expect("id").to_owned(),
                    hit["_source"].clone(),
                )
            })
            .collect()
    }

    /// One document (`GET`, real-time), with `_version`, or `None`.
    pub(crate) async fn doc(&self, table: &TestTable, id: &str) -> Option<Json> {
        let index = self.index(table);
        let response = self
            .client
            .get(GetParts::IndexId(&index, id))
            .send()
            .await
            .expect("get");
        let body: Json = response.json().await.expect("get response");
        (body["found"] == json!(true)).then_some(body)
    }

    /// The index's mapping and settings, as the server reports them.
    pub(crate) async fn index_info(&self, table: &TestTable) -> Json {
        let index = self.index(table);
        let response = self
            .client
            .indices()
            .get(elasticsearch::indices::IndicesGetParts::Index(&[&index]))
            .send()
            .await
            .expect("get index");
        let body: Json = response.json().await.expect("index info");
        body.as_object()
            .and_then(|indices| indices.values().next().cloned())
            .unwrap_or_else(|| panic!("no index in {body}"))
    }

    /// Search hits (ids) of a query on the table's index.
    pub(crate) async fn search(&self, table: &TestTable, query: Json) -> Vec<String> {
        let index = self.index(table);
        self.client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&index]))
            .send()
            .await
            .expect("refresh");
        let response = self
            .client
            .search(SearchParts::Index(&[&index]))
            .body(json!({ "query": query }))
            .send()
            .await
            .expect("search");
        let body: Json = response.json().await.expect("search response");
        body["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("no hits in {body}"))
            .iter()
            .map(|hit| hit["_id"].as_str().expect("id").to_owned())
            .collect()
    }
}
