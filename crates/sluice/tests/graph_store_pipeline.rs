//! The pipeline into Neo4j: the scenario every store runs ([`super::store_pipeline`]),
//! with the table's rows as nodes of a label of the test's own.

use neo4rs::{Graph, query};

use super::store_pipeline::{Converged, Rows, Store, TABLE_DDL, tail};
use super::*;

/// The local stack's Neo4j, the table's rows as nodes of one label.
struct GraphStore {
    url: String,
    graph: Graph,
    table: String,
    label: String,
}

impl Store for GraphStore {
    const KIND: &'static str = "neo4j";

    fn upstream(&self) -> String {
        self.url
            .trim_start_matches("bolt://")
            .trim_end_matches('/')
            .to_owned()
    }

    fn section(&self, address: &str) -> String {
        format!(
            "[neo4j]\nurl = \"bolt://{address}\"\nrequest_timeout_seconds = 5\n\
             [neo4j.nodes.\"public.{}\"]\nlabel = \"{}\"\n",
            self.table, self.label
        )
    }

    async fn rows(&self) -> Option<Rows> {
        // Placeholders (no version) are not rows; this table has no foreign keys, so
        // there should be none, and one would show up as a missing row's absence.
        let mut stream = self
            .graph
            .execute(query(&format!(
                "MATCH (n:{}) RETURN n.id AS id, n.name AS name, n.big AS big",
                self.label
            )))
            .await
            .ok()?;
        let mut rows = Rows::new();
        while let Some(row) = stream.next().await.ok()? {
            rows.insert(
                row.get::<i64>("id").unwrap_or(-1),
                (
                    row.get::<Option<String>>("name").ok().flatten(),
                    row.get::<Option<String>>("big").ok().flatten(),
                ),
            );
        }
        Some(rows)
    }
}

#[tokio::test]
async fn the_graph_converges_through_an_outage_and_a_killed_sink() {
    let h = Harness::new("neo4j_pipe", TABLE_DDL).await;
    let url = address(Server::Neo4j).await.expect("neo4j");
    let store = GraphStore {
        graph: Graph::new(url.as_str(), "neo4j", "").expect("connect over Bolt"),
        url,
        table: h.name.clone(),
        label: format!("Item_{}", h.name),
    };
    let Converged {
        source,
        sink,
        sink_log,
        ..
    } = super::store_pipeline::converges_through_an_outage_and_a_killed_sink(&h, &store).await;

    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    assert!(terminate(source).success());
    let _ = store
        .graph
        .run(query(&format!("MATCH (n:{}) DETACH DELETE n", store.label)))
        .await;
    let _ = store
        .graph
        .run(
            query("MATCH (t) WHERE (t:SluiceTombstone OR t:SluiceTruncateFloor) AND t.sluice_table = $table DELETE t")
                .param("table", format!("public.{}", h.name)),
        )
        .await;
    h.clean_up().await;
}
