//! What every test needs: a sink on its own index prefix, a client to read the indices
//! back, and records built by hand the way the source builds them.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{Elasticsearch, GetParts, SearchParts};
use serde_json::{Value as Json, json};
use sluice_event::v1::{
    self, ChangeEvent, Column, Key, KeyChange, KeyColumn, Op, Row, Source, TableRef, Truncate,
};
use sluice_sink::{Applied, Origin, Record, Sink, TableName};
use sluice_sink_elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
use sluice_testkit::{Server, address, unique_name};

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

/// A table as the source describes it: its first column is the primary key.
#[derive(Clone)]
pub(crate) struct TestTable {
    pub(crate) table: String,
    pub(crate) columns: Vec<Column>,
    /// The partition events go to (a truncate's copies set their own).
    pub(crate) partition: i32,
}

static OFFSET: AtomicI64 = AtomicI64::new(0);

impl TestTable {
    /// A table `public.<table>` with these (name, type name) columns.
    pub(crate) fn new(table: &str, columns: &[(&str, &str)]) -> TestTable {
        TestTable {
            table: table.into(),
            columns: columns
                .iter()
                .enumerate()
                .map(|(i, (name, type_name))| Column {
                    name: (*name).into(),
                    type_name: (*type_name).into(),
                    type_schema: "pg_catalog".into(),
                    type_modifier: -1,
                    key: i == 0,
                    ..Column::default()
                })
                .collect(),
            partition: 0,
        }
    }

    /// The same table with one more column, as after `ALTER TABLE ... ADD COLUMN`.
    pub(crate) fn with_column(&self, name: &str, type_name: &str) -> TestTable {
        let mut table = self.clone();
        table.columns.push(Column {
            name: name.into(),
            type_name: type_name.into(),
            type_schema: "pg_catalog".into(),
            type_modifier: -1,
            ..Column::default()
        });
        table
    }

    pub(crate) fn name(&self) -> TableName {
        TableName {
            schema: "public".into(),
            table: self.table.clone(),
        }
    }

    fn key(&self, value: &v1::Value) -> Key {
        Key {
            columns: vec![KeyColumn {
                name: self.columns[0].name.clone(),
                value: Some(value.clone()),
            }],
        }
    }

    fn record(
        &self,
        op: Op,
        version: u64,
        key: Option<Key>,
        after: Option<Vec<v1::Value>>,
    ) -> Record {
        assert!(
            after
                .as_ref()
                .is_none_or(|row| row.len() == self.columns.len()),
            "one value per column"
        );
        let event = ChangeEvent {
            op: op as i32,
            source: Some(Source {
                database: "sluice".into(),
                schema: "public".into(),
                table: self.table.clone(),
                relation_id: 16384,
                version,
                commit_lsn: version,
                change_lsn: version,
                xid: 1,
                ..Source::default()
            }),
            key,
            after: after.map(|values| Row { values }),
            columns: self.columns.clone(),
            ..ChangeEvent::default()
        };
        let key = event.kafka_key().expect("kafka key");
        Record {
            origin: Origin {
                topic: format!("sluice.public.{}", self.table),
                partition: self.partition,
                offset: OFFSET.fetch_add(1, Ordering::Relaxed),
            },
            key,
            event,
        }
    }

    /// An INSERT of `row` (the key is its first value).
    pub(crate) fn create(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        self.record(Op::Create, version, Some(key), Some(row))
    }

    /// An UPDATE to `row`; `v1::Value::unchanged_toast()` marks an unchanged TOAST value.
    pub(crate) fn update(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        self.record(Op::Update, version, Some(key), Some(row))
    }

    /// An UPDATE of a table with REPLICA IDENTITY FULL: the old row comes with it.
    pub(crate) fn update_full(
        &self,
        version: u64,
        before: Vec<v1::Value>,
        row: Vec<v1::Value>,
    ) -> Record {
        let mut record = self.update(version, row);
        record.event.before = Some(Row { values: before });
        record.event.replica_identity = v1::ReplicaIdentity::Full as i32;
        record
    }

    /// A row read by a snapshot consistent at `version`.
    pub(crate) fn read(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        let mut record = self.record(Op::Read, version, Some(key), Some(row));
        if let Some(source) = record.event.source.as_mut() {
            source.snapshot = true;
            source.commit_lsn = 0;
            source.change_lsn = 0;
            source.xid = 0;
        }
        record
    }

    /// A DELETE of the row with this key.
    pub(crate) fn delete(&self, version: u64, key: impl Into<v1::Value>) -> Record {
        let key = self.key(&key.into());
        self.record(Op::Delete, version, Some(key), None)
    }

    /// The two events of an UPDATE that moved a row from key `old` to the key of `row`.
    pub(crate) fn key_change(
        &self,
        version: u64,
        old: impl Into<v1::Value>,
        row: Vec<v1::Value>,
    ) -> [Record; 2] {
        let old_key = self.key(&old.into());
        let new_key = self.key(&row[0]);
        let change = KeyChange {
            old_key: Some(old_key.clone()),
            new_key: Some(new_key.clone()),
        };
        let mut delete = self.record(Op::Delete, version, Some(old_key), None);
        delete.event.key_change = Some(change.clone());
        let mut create = self.record(Op::Create, version, Some(new_key), Some(row));
        create.event.key_change = Some(change);
        [delete, create]
    }

    /// A TRUNCATE's copy for `partition`.
    pub(crate) fn truncate(&self, version: u64, partition: i32) -> Record {
        let mut record = self.record(Op::Truncate, version, None, None);
        record.origin.partition = partition;
        record.event.payload = Some(sluice_event::v1::change_event::Payload::Truncate(
            Truncate {
                cascade: false,
                restart_identity: false,
                tables: vec![TableRef {
                    schema: "public".into(),
                    table: self.table.clone(),
                    relation_id: 16384,
                }],
            },
        ));
        record
    }

    /// The SCHEMA_CHANGE the source emits when the table's columns change.
    pub(crate) fn schema_change(&self, version: u64, previous: &TestTable) -> Record {
        let mut record = self.record(Op::SchemaChange, version, None, None);
        record.event.payload = Some(sluice_event::v1::change_event::Payload::SchemaChange(
            sluice_event::v1::SchemaChange {
                previous_columns: previous.columns.clone(),
                previous_replica_identity: 0,
            },
        ));
        record
    }
}

/// A text value.
pub(crate) fn text(s: &str) -> v1::Value {
    v1::Value::from(s)
}

/// An int8 value.
pub(crate) fn int(i: i64) -> v1::Value {
    v1::Value::from(i)
}

/// The marker of an unchanged TOAST value.
pub(crate) fn unchanged() -> v1::Value {
    v1::Value::unchanged_toast()
}
