//! What every test needs: a sink whose tables and labels carry a suffix of their own, a
//! client to read the graph back, and the hand-built records of `sluice_sink::testing`.

use std::collections::BTreeMap;
use std::future::Future;

use neo4rs::{Graph, Query};
use serde_json::Value as Json;
use sluice_event::v1::{self, Key, KeyColumn};
use sluice_sink::{Applied, Record, Sink};
use sluice_sink_neo4j::{Neo4jConfig, Neo4jSink};
use sluice_testkit::{Server, address, unique_name};

pub(crate) use sluice_sink::testing::{TestTable, int, text, unchanged};

/// Names with a suffix unique to one test: tables `<base>_<suffix>` in schema `public`,
/// labels and relationship types `<Base>_<suffix>`.
#[derive(Clone)]
pub(crate) struct Names {
    suffix: String,
}

impl Names {
    /// The test table's name (without schema), for [`TestTable::new`].
    pub(crate) fn table(&self, base: &str) -> String {
        format!("{base}_{}", self.suffix)
    }

    /// The configuration key of the table, `public.<base>_<suffix>`.
    pub(crate) fn key(&self, base: &str) -> String {
        format!("public.{}", self.table(base))
    }

    /// A label or relationship type.
    pub(crate) fn label(&self, base: &str) -> String {
        format!("{base}_{}", self.suffix)
    }
}

/// A sink, a client, and the test's names.
pub(crate) struct Harness {
    pub(crate) sink: Neo4jSink,
    pub(crate) graph: Graph,
    pub(crate) names: Names,
}

/// The Neo4j server's URL.
pub(crate) async fn url() -> String {
    address(Server::Neo4j).await.expect("Neo4j address")
}

/// A client of the server.
pub(crate) async fn client() -> Graph {
    Graph::new(url().await, "neo4j", "").expect("Neo4j client")
}

/// Runs `body` with a fresh harness, then deletes the test's nodes, tombstones, floors,
/// constraints and indexes, whether the body passed or panicked.
pub(crate) async fn with_harness<F, Fut>(
    name: &str,
    configure: impl FnOnce(&Names, &mut Neo4jConfig),
    body: F,
) where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let names = Names {
        suffix: unique_name(name),
    };
    let mut config = Neo4jConfig::new(url().await);
    configure(&names, &mut config);
    let sink = Neo4jSink::connect(config.clone())
        .await
        .expect("connect the sink");
    let graph = client().await;
    let result = tokio::spawn(body(Harness {
        sink,
        graph: graph.clone(),
        names,
    }))
    .await;
    clean_up(&graph, &config).await;
    if let Err(error) = result {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// Removes everything the configuration's sink may have written or created.
pub(crate) async fn clean_up(graph: &Graph, config: &Neo4jConfig) {
    let labels: Vec<String> = config.nodes.values().map(|n| n.label.clone()).collect();
    let types: Vec<String> = config
        .relationships
        .values()
        .map(|r| r.rel_type.clone())
        .collect();
    let tables: Vec<String> = config
        .nodes
        .keys()
        .chain(config.relationships.keys())
        .cloned()
        .collect();
    for label in &labels {
        let _ = graph
            .run(Query::new(format!("MATCH (n:`{label}`) DETACH DELETE n")))
            .await;
    }
    let _ = graph
        .run(
            Query::new(
                "MATCH (t) WHERE (t:SluiceTombstone OR t:SluiceTruncateFloor) \
                 AND t.sluice_table IN $tables DELETE t"
                    .into(),
            )
            .param("tables", tables),
        )
        .await;
    let names: Vec<String> = labels.into_iter().chain(types).collect();
    for (show, drop) in [
        (
            "SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE",
            "DROP CONSTRAINT",
        ),
        (
            "SHOW INDEXES YIELD name, labelsOrTypes, owningConstraint \
             WHERE owningConstraint IS NULL AND",
            "DROP INDEX",
        ),
    ] {
        let query =
            format!("{show} any(l IN coalesce(labelsOrTypes, []) WHERE l IN $names) RETURN name");
        let found = strings(
            graph,
            Query::new(query).param("names", names.clone()),
            "name",
        )
        .await;
        for name in found {
            let _ = graph
                .run(Query::new(format!("{drop} `{name}` IF EXISTS")))
                .await;
        }
    }
}

/// The string column `column` of every row of a query.
pub(crate) async fn strings(graph: &Graph, query: Query, column: &str) -> Vec<String> {
    let mut stream = graph.execute(query).await.expect("query");
    let mut out = Vec::new();
    while let Some(row) = stream.next().await.expect("row") {
        out.push(row.get::<String>(column).expect("string column"));
    }
    out
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

    /// A label or type of this test.
    pub(crate) fn label(&self, base: &str) -> String {
        self.names.label(base)
    }

    /// Every node of a label, by `sluice_key`, as its properties (JSON).
    pub(crate) async fn nodes(&self, label: &str) -> BTreeMap<String, Json> {
        let query = Query::new(format!(
            "MATCH (n:`{label}`) RETURN n.sluice_key AS key, properties(n) AS props"
        ));
        let mut stream = self.graph.execute(query).await.expect("query nodes");
        let mut out = BTreeMap::new();
        while let Some(row) = stream.next().await.expect("row") {
            let key: String = row.get("key").expect("key");
            let props: Json = row.get("props").expect("props");
            out.insert(key, props);
        }
        out
    }

    /// Every relationship of a type, as `(start key, end key)`, sorted.
    pub(crate) async fn edges(&self, rel_type: &str) -> Vec<(String, String)> {
        let query = Query::new(format!(
            "MATCH (a)-[:`{rel_type}`]->(b) RETURN a.sluice_key AS a, b.sluice_key AS b"
        ));
        let mut stream = self.graph.execute(query).await.expect("query edges");
        let mut out = Vec::new();
        while let Some(row) = stream.next().await.expect("row") {
            out.push((row.get("a").expect("a"), row.get("b").expect("b")));
        }
        out.sort();
        out
    }

    /// Every relationship of a type with a `sluice_key`, by key, as its properties.
    pub(crate) async fn relationships(&self, rel_type: &str) -> BTreeMap<String, Json> {
        let query = Query::new(format!(
            "MATCH ()-[r:`{rel_type}`]->() RETURN r.sluice_key AS key, properties(r) AS props"
        ));
        let mut stream = self
            .graph
            .execute(query)
            .await
            .expect("query relationships");
        let mut out = BTreeMap::new();
        while let Some(row) = stream.next().await.expect("row") {
            out.insert(
                row.get::<String>("key").expect("key"),
                row.get::<Json>("props").expect("props"),
            );
        }
        out
    }

    /// The strings of a query's column `column`, in the query's order.
    pub(crate) async fn strings(&self, query: Query, column: &str) -> Vec<String> {
        strings(&self.graph, query, column).await
    }

    /// The tombstone versions of a table, by key.
    pub(crate) async fn tombstones(&self, table: &str) -> BTreeMap<String, i64> {
        let query = Query::new(
            "MATCH (t:SluiceTombstone {sluice_table: $table}) \
             RETURN t.sluice_key AS key, t.sluice_version AS version"
                .into(),
        )
        .param("table", table);
        let mut stream = self.graph.execute(query).await.expect("query tombstones");
        let mut out = BTreeMap::new();
        while let Some(row) = stream.next().await.expect("row") {
            out.insert(
                row.get::<String>("key").expect("key"),
                row.get::<i64>("version").expect("version"),
            );
        }
        out
    }
}

/// A record of a table whose primary key is its first `n` columns: the event's key and
/// the Kafka key are rebuilt from them (`TestTable` keys on the first column only). A
/// delete has no row, so its key values are given.
pub(crate) fn keyed(mut record: Record, n: usize, delete_key: &[v1::Value]) -> Record {
    for column in record.event.columns.iter_mut().take(n) {
        column.key = true;
    }
    let values: Vec<v1::Value> = match &record.event.after {
        Some(row) => row.values[..n].to_vec(),
        None => delete_key.to_vec(),
    };
    record.event.key = Some(Key {
        columns: record
            .event
            .columns
            .iter()
            .zip(values)
            .map(|(column, value)| KeyColumn {
                name: column.name.clone(),
                value: Some(value),
            })
            .collect(),
    });
    record.key = record.event.kafka_key().expect("kafka key");
    record
}
