//! The search engine: documents indexed with external versions are found by a
//! typo-tolerant (fuzzy) match query, and an older version is refused.

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesCreateParts, IndicesDeleteParts};
use elasticsearch::params::{Refresh, VersionType};
use elasticsearch::{Elasticsearch, IndexParts, SearchParts};
use serde_json::{Value, json};
use sluice_testkit::{Server, address, unique_name};

#[tokio::test]
async fn fuzzy_query_finds_a_versioned_document() {
    let url = address(Server::Search)
        .await
        .expect("search engine address");
    let client = Elasticsearch::new(Transport::single_node(&url).expect("transport"));
    let index = unique_name("smoke_search");

    let created = client
        .indices()
        .create(IndicesCreateParts::Index(&index))
        .body(json!({
            "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
            "mappings": { "properties": {
                "name": { "type": "text", "analyzer": "english" }
            }}
        }))
        .send()
        .await
        .expect("create index");
    assert!(created.status_code().is_success(), "{created:?}");

    for (id, name, version) in [
        ("1", "Stainless steel kettle", 10),
        ("2", "Wireless headphones", 10),
        ("3", "Espresso machine", 10),
    ] {
        let response = client
            .index(IndexParts::IndexId(&index, id))
            .version(version)
            .version_type(VersionType::ExternalGte)
            .refresh(Refresh::WaitFor)
            .body(json!({ "name": name }))
            .send()
            .await
            .expect("index document");
        assert!(response.status_code().is_success(), "{response:?}");
    }

    // An older version of document 2 is refused: the store keeps the newest.
    let stale = client
        .index(IndexParts::IndexId(&index, "2"))
        .version(9)
        .version_type(VersionType::ExternalGte)
        .body(json!({ "name": "stale" }))
        .send()
        .await
        .expect("send stale write");
    assert_eq!(stale.status_code().as_u16(), 409);

    let response = client
        .search(SearchParts::Index(&[&index]))
        .body(json!({ "query": { "match": {
            "name": { "query": "wireles hedphones", "fuzziness": "AUTO" }
        }}}))
        .send()
        .await
        .expect("search");
    let body: Value = response.json().await.expect("search response");
    let hits = body["hits"]["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 1, "{body}");
    assert_eq!(hits[0]["_id"], "2");
    assert_eq!(hits[0]["_source"]["name"], "Wireless headphones");

    client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&index]))
        .send()
        .await
        .expect("delete index");
}
