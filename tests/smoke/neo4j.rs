//! Neo4j: a node and a relationship created over Bolt are matched by a Cypher query.

use neo4rs::{Graph, query};
use sluice_testkit::{Server, address, unique_name};

#[tokio::test]
async fn create_and_match_over_bolt() {
    let url = address(Server::Neo4j).await.expect("neo4j address");
    let graph = Graph::new(url.as_str(), "neo4j", "").expect("connect over Bolt");
    // A label of its own keeps this test apart from others on the same database.
    let label = unique_name("Smoke");

    graph
        .run(
            query(&format!(
                "CREATE (:{label} {{id: $a, name: 'Ada'}})-[:FOLLOWS]->(:{label} {{id: $b, name: 'Grace'}})"
            ))
            .param("a", 1)
            .param("b", 2),
        )
        .await
        .expect("create nodes");

    let mut rows = graph
        .execute(
            query(&format!(
                "MATCH (a:{label} {{id: $a}})-[:FOLLOWS]->(b:{label}) RETURN b.name AS name"
            ))
            .param("a", 1),
        )
        .await
        .expect("match");
    let row = rows.next().await.expect("read row").expect("one row");
    let name: String = row.get("name").expect("name column");
    assert_eq!(name, "Grace");
    assert!(
        rows.next().await.expect("read").is_none(),
        "exactly one row"
    );

    graph
        .run(query(&format!("MATCH (n:{label}) DETACH DELETE n")))
        .await
        .expect("clean up");
}
