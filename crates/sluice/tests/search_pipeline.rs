//! The pipeline into the search engine: the scenario every store runs
//! ([`super::store_pipeline`]), then what only a search engine offers: a misspelt word
//! finds its row, and `sluice replay elasticsearch` rebuilds the index under writes and
//! swaps the alias with nothing lost.

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{Elasticsearch, SearchParts};
use serde_json::{Value as Json, json};
use sluice_sink::TableName;

use super::store_pipeline::{
    Converged, Rows, Store, TABLE_DDL, await_convergence, table_rows, tail,
};
use super::*;

/// The local stack's search engine, one index for the test's table.
struct Search {
    url: String,
    client: Elasticsearch,
    index_prefix: String,
    index: String,
}

impl Search {
    async fn new(h: &Harness) -> Search {
        let url = address(Server::Search).await.expect("search engine");
        let index_prefix = h.name.replace('_', "-");
        let index = sluice_sink_elasticsearch::default_index_name(
            &index_prefix,
            &TableName {
                schema: "public".into(),
                table: h.name.clone(),
            },
        )
        .expect("index name");
        let client = Elasticsearch::new(Transport::single_node(&url).expect("transport"));
        Search {
            url,
            client,
            index_prefix,
            index,
        }
    }
}

impl Store for Search {
    const KIND: &'static str = "elasticsearch";

    fn upstream(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }

    fn section(&self, address: &str) -> String {
        format!(
            "[elasticsearch]\nurl = \"http://{address}\"\nindex_prefix = \"{}\"\n\
             request_timeout_seconds = 5\n",
            self.index_prefix
        )
    }

    async fn rows(&self) -> Option<Rows> {
        index_rows(&self.client, &self.index).await
    }
}

async fn index_rows(client: &Elasticsearch, index: &str) -> Option<Rows> {
    client
        .indices()
        .refresh(IndicesRefreshParts::Index(&[index]))
        .send()
        .await
        .ok()?;
    let response = client
        .search(SearchParts::Index(&[index]))
        .body(json!({ "size": 10000, "query": { "match_all": {} } }))
        .send()
        .await
        .ok()?;
    if !response.status_code().is_success() {
        return None;
    }
    let body: Json = response.json().await.ok()?;
    let hits = body["hits"]["hits"].as_array()?;
    Some(
        hits.iter()
            .map(|hit| {
                let source = &hit["_source"];
                let text = |field: &str| source[field].as_str().map(str::to_owned);
                (
                    source["id"].as_i64().unwrap_or(-1),
                    (text("name"), text("big")),
                )
            })
            .collect(),
    )
}

#[tokio::test]
async fn the_search_index_converges_through_an_outage_and_a_killed_sink() {
    let h = Harness::new("es_pipe", TABLE_DDL).await;
    let t = h.name.clone();
    let search = Search::new(&h).await;
    let Converged {
        source,
        sink,
        sink_config,
        sink_log,
        proxy: _proxy,
    } = super::store_pipeline::converges_through_an_outage_and_a_killed_sink(&h, &search).await;
    let (client, index) = (&search.client, search.index.clone());

    // Typo-tolerant search through the default mapping.
    let response = client
        .search(SearchParts::Index(&[&index]))
        .body(
            json!({ "query": { "match": { "name": { "query": "kettel", "fuzziness": "AUTO" } } } }),
        )
        .send()
        .await
        .expect("fuzzy search");
    let body: Json = response.json().await.expect("search response");
    let ids: Vec<i64> = body["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|hit| hit["_source"]["id"].as_i64())
        .collect();
    assert_eq!(ids, [3], "{body}");

    // A rebuild while writes go on: the name becomes an alias of a new index holding
    // every row, including the rows written during the rebuild.
    let writer = {
        let (url, t) = (h.url.clone(), t.clone());
        tokio::spawn(async move {
            let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            for id in 6000..6060 {
                pg.batch_execute(&format!(
                    "INSERT INTO {t} VALUES ({id}, 'during the rebuild', NULL);
                     UPDATE {t} SET name = 'rebuild update {id}' WHERE id = 1;"
                ))
                .await
                .expect("write during the rebuild");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let replay = {
        let sink_config = sink_config.clone();
        tokio::task::spawn_blocking(move || {
            sluice_command()
                .args(["replay", "elasticsearch", "--delete-old", "--config"])
                .arg(&sink_config)
                .output()
                .expect("run the replay")
        })
    };
    let output = replay.await.expect("replay");
    assert!(
        output.status.success(),
        "replay failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    writer.await.expect("writer");
    let aliases: Json = client
        .indices()
        .get_alias(elasticsearch::indices::IndicesGetAliasParts::Name(&[
            &index,
        ]))
        .send()
        .await
        .expect("aliases")
        .json()
        .await
        .expect("aliases");
    let behind: Vec<String> = aliases
        .as_object()
        .expect("alias map")
        .keys()
        .cloned()
        .collect();
    assert_eq!(behind.len(), 1, "{aliases}");
    assert!(behind[0].starts_with(&format!("{index}-r")), "{aliases}");
    let rows = table_rows(&h).await;
    assert!(rows.contains_key(&6059));
    await_convergence(&h, &search, Duration::from_secs(60), &sink_log).await;
    let index = behind[0].clone();

    // A clean stop.
    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    assert!(terminate(source).success());
    let _ = client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&index]))
        .send()
        .await;
    h.clean_up().await;
}
