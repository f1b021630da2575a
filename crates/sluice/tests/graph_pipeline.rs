//! The e-commerce graph, streamed from PostgreSQL: users, products, orders (a foreign key
//! to users), order items (a join table of orders and products) and follows (a join table
//! of users and users) go through `sluice source` and `sluice sink neo4j`, and Neo4j answers
//! "customers who bought X also bought Y" and "friends of friends" exactly as the tables
//! say, before and after orders move to other users, follows and orders are deleted, and
//! an item's quantity changes.

use neo4rs::{Graph, query};

use super::store_pipeline::{start_sink, tail};
use super::verify::verify;
use super::*;

/// The labels and relationship types of one test run, unique so that runs share the
/// database (a relationship type's uniqueness constraint spans every label).
struct Labels {
    user: String,
    product: String,
    order: String,
    placed: String,
    contains: String,
    follows: String,
}

impl Labels {
    fn new(name: &str) -> Labels {
        let suffix = name.replace('-', "_");
        Labels {
            user: format!("User_{suffix}"),
            product: format!("Product_{suffix}"),
            order: format!("Order_{suffix}"),
            placed: format!("PLACED_{suffix}"),
            contains: format!("CONTAINS_{suffix}"),
            follows: format!("FOLLOWS_{suffix}"),
        }
    }

    /// Products bought by the buyers of `product`, other than it, with how many of those
    /// buyers bought each, most first.
    fn bought_also(&self, product: i64) -> neo4rs::Query {
        let Labels {
            user,
            product: label,
            order,
            placed,
            contains,
            ..
        } = self;
        query(&format!(
            // Two MATCH clauses: one pattern may not use a relationship twice, and a
            // buyer's other product may be in the same order.
            "MATCH (p:{label} {{id: $product}})<-[:{contains}]-(:{order})<-[:{placed}]-(u:{user})
             MATCH (u)-[:{placed}]->(:{order})-[:{contains}]->(other:{label})
             WHERE other <> p
             RETURN other.id AS id, count(DISTINCT u) AS buyers
             ORDER BY buyers DESC, id"
        ))
        .param("product", product)
    }

    /// The users followed by those `user` follows, not `user` and not followed already.
    fn friends_of_friends(&self, user: i64) -> neo4rs::Query {
        let (label, follows) = (&self.user, &self.follows);
        query(&format!(
            "MATCH (me:{label} {{id: $user}})-[:{follows}]->(:{label})-[:{follows}]->(fof:{label})
             WHERE fof <> me AND NOT (me)-[:{follows}]->(fof)
             RETURN DISTINCT fof.id AS id ORDER BY id"
        ))
        .param("user", user)
    }
}

async fn rows(graph: &Graph, q: neo4rs::Query, columns: &[&str]) -> Vec<Vec<i64>> {
    let mut stream = graph.execute(q).await.expect("query");
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await.expect("row") {
        rows.push(
            columns
                .iter()
                .map(|c| row.get::<i64>(c).expect("an integer column"))
                .collect(),
        );
    }
    rows
}

/// Polls `q` until it returns `expected`.
async fn await_answer(
    graph: &Graph,
    q: impl Fn() -> neo4rs::Query,
    columns: &[&str],
    expected: &[&[i64]],
    log: &Path,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let actual = rows(graph, q(), columns).await;
        if actual == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the graph answered {actual:?}, not {expected:?}\nsink:\n{}",
            tail(log)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn the_graph_answers_recommendations_and_friends_of_friends() {
    let h = Harness::new("graph_pipe", "(id int8 PRIMARY KEY)").await;
    let s = h.name.clone();
    h.pg.batch_execute(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.users (id int8 PRIMARY KEY, name text NOT NULL);
         CREATE TABLE {s}.products (id int8 PRIMARY KEY, name text NOT NULL, description text);
         CREATE TABLE {s}.orders (id int8 PRIMARY KEY, user_id int8 REFERENCES {s}.users,
                                  status text NOT NULL);
         CREATE TABLE {s}.order_items (
             order_id int8 REFERENCES {s}.orders ON DELETE CASCADE,
             product_id int8 REFERENCES {s}.products,
             quantity int4 NOT NULL,
             PRIMARY KEY (order_id, product_id));
         CREATE TABLE {s}.follows (
             follower_id int8 REFERENCES {s}.users,
             followee_id int8 REFERENCES {s}.users,
             PRIMARY KEY (follower_id, followee_id));
         ALTER PUBLICATION {s}_pub ADD TABLE {s}.users, {s}.products, {s}.orders,
             {s}.order_items, {s}.follows;
         INSERT INTO {s}.users VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dave'),
             (5, 'erin'), (6, 'frank');
         INSERT INTO {s}.products VALUES (1, 'kettle', NULL), (2, 'teapot', NULL),
             (3, 'mug', NULL), (4, 'tea', NULL), (5, 'toaster', NULL);
         -- Before the source starts: read by the snapshot.
         INSERT INTO {s}.orders VALUES (10, 1, 'paid'), (20, 2, 'paid');
         INSERT INTO {s}.order_items VALUES (10, 1, 1), (10, 2, 1), (20, 1, 2), (20, 3, 1);"
    ))
    .await
    .expect("the shop's schema and first rows");
    let (source, _pid) = h.start(None).await;

    let labels = Labels::new(&s);
    let neo4j_url = address(Server::Neo4j).await.expect("neo4j");
    let sink_config = h.dir.path().join("neo4j.toml");
    std::fs::write(
        &sink_config,
        format!(
            r#"
[kafka]
bootstrap_servers = {bootstrap:?}

[sink]
topic_prefix = "{s}"
group_id = "{s}-neo4j"
batch_max_wait_ms = 100
topic_refresh_seconds = 1

[metrics]
listen_address = "127.0.0.1:0"

[neo4j]
url = "{neo4j_url}"

[neo4j.nodes."{s}.users"]
label = "{user}"

[neo4j.nodes."{s}.products"]
label = "{product}"
properties = ["name"]

[neo4j.nodes."{s}.orders"]
label = "{order}"

[[neo4j.nodes."{s}.orders".relationships]]
columns = ["user_id"]
target = "{s}.users"
type = "{placed}"
direction = "incoming"

[neo4j.relationships."{s}.order_items"]
type = "{contains}"
from = {{ table = "{s}.orders", columns = ["order_id"] }}
to = {{ table = "{s}.products", columns = ["product_id"] }}

[neo4j.relationships."{s}.follows"]
type = "{follows}"
from = {{ table = "{s}.users", columns = ["follower_id"] }}
to = {{ table = "{s}.users", columns = ["followee_id"] }}
"#,
            bootstrap = h.bootstrap,
            user = labels.user,
            product = labels.product,
            order = labels.order,
            placed = labels.placed,
            contains = labels.contains,
            follows = labels.follows,
        ),
    )
    .expect("sink config");
    let sink_log = h.dir.path().join("neo4j.log");
    let sink = start_sink("neo4j", &sink_config, &sink_log);

    // Streamed: more orders and the follows.
    h.pg.batch_execute(&format!(
        "INSERT INTO {s}.orders VALUES (30, 3, 'placed'), (40, 4, 'placed');
         INSERT INTO {s}.order_items VALUES (30, 1, 1), (30, 3, 4), (30, 4, 1), (40, 2, 1), (40, 5, 1);
         INSERT INTO {s}.follows VALUES (1, 2), (2, 3), (2, 4), (3, 5), (1, 3), (4, 6);"
    ))
    .await
    .expect("orders and follows");

    let graph = Graph::new(neo4j_url.as_str(), "neo4j", "").expect("connect over Bolt");
    // Kettle (1) was bought by alice (with a teapot), bob (with a mug) and carol (with a
    // mug and tea): mugs by two of them, teapots and tea by one each.
    await_answer(
        &graph,
        || labels.bought_also(1),
        &["id", "buyers"],
        &[&[3, 2], &[2, 1], &[4, 1]],
        &sink_log,
    )
    .await;
    // Alice follows bob and carol; they follow carol, dave and erin.
    await_answer(
        &graph,
        || labels.friends_of_friends(1),
        &["id"],
        &[&[4], &[5]],
        &sink_log,
    )
    .await;

    // Bob's order becomes dave's (the PLACED relationship moves), carol's order is
    // deleted with its items, alice stops following carol, and a product is renamed.
    h.pg.batch_execute(&format!(
        "UPDATE {s}.orders SET user_id = 4 WHERE id = 20;
         DELETE FROM {s}.orders WHERE id = 30;
         DELETE FROM {s}.follows WHERE follower_id = 1 AND followee_id = 3;
         UPDATE {s}.products SET name = 'mug (blue)' WHERE id = 3;"
    ))
    .await
    .expect("changes");
    // Kettle buyers now: alice (teapot) and dave (teapot, toaster, and the mug of order 20).
    await_answer(
        &graph,
        || labels.bought_also(1),
        &["id", "buyers"],
        &[&[2, 2], &[3, 1], &[5, 1]],
        &sink_log,
    )
    .await;
    // Alice follows bob only: his follows are carol and dave.
    await_answer(
        &graph,
        || labels.friends_of_friends(1),
        &["id"],
        &[&[3], &[4]],
        &sink_log,
    )
    .await;
    // Topics of different tables are not ordered with each other: the rename and the
    // move are awaited too, not read once.
    await_answer(
        &graph,
        || {
            query(&format!(
                "MATCH (p:{} {{id: 3}}) RETURN size(p.name) AS len",
                labels.product
            ))
        },
        &["len"],
        &[&[10]],
        &sink_log,
    )
    .await;
    await_answer(
        &graph,
        || {
            query(&format!(
                "MATCH (u:{})-[:{}]->(o:{} {{id: 20}}) RETURN u.id AS id",
                labels.user, labels.placed, labels.order
            ))
        },
        &["id"],
        &[&[4]],
        &sink_log,
    )
    .await;

    // verify compares the graph with PostgreSQL, relationships included, and --repair
    // restores relationships removed by hand.
    let verify_config = h.dir.path().join("verify.toml");
    std::fs::write(
        &verify_config,
        format!(
            "{}\n[postgres]\nurl = {:?}\n[verify]\npublication = \"{s}_pub\"\nslot = \"{}\"\n\
             [verify.groups]\nneo4j = \"{s}-neo4j\"\n",
            std::fs::read_to_string(&sink_config).expect("sink config"),
            h.url,
            h.slot()
        ),
    )
    .expect("verify config");
    let (code, _, output) = verify(&verify_config, &["--settle-seconds", "30"]);
    assert_eq!(code, 0, "{output}");
    graph
        .run(query(&format!(
            "MATCH (:{})-[r:{}]->(:{} {{id: 10}}) DELETE r",
            labels.user, labels.placed, labels.order
        )))
        .await
        .expect("remove a PLACED relationship");
    graph
        .run(query(&format!(
            "MATCH (:{} {{id: 10}})-[r:{}]->(:{} {{id: 2}}) DELETE r",
            labels.order, labels.contains, labels.product
        )))
        .await
        .expect("remove a CONTAINS relationship");
    let (code, report, output) = verify(&verify_config, &["--settle-seconds", "5"]);
    assert_eq!(code, 1, "{output}");
    let drifted: Vec<(String, String, String)> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .flat_map(|r| {
            ["missing", "extra", "stale"]
                .into_iter()
                .flat_map(move |kind| {
                    r[format!("{kind}_keys")]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(move |k| {
                            (
                                r["table"].as_str().unwrap_or_default().to_owned(),
                                kind.to_owned(),
                                k.as_str().unwrap_or_default().to_owned(),
                            )
                        })
                })
        })
        .collect();
    assert_eq!(
        drifted,
        [
            (
                format!("{s}.order_items"),
                "missing".into(),
                r#"["10","2"]"#.into()
            ),
            (format!("{s}.orders"), "stale".into(), r#"["10"]"#.into()),
        ],
        "{output}"
    );
    let source_config = h.dir.path().join("sluice.toml");
    let source_arg = source_config.to_str().expect("utf-8 path");
    let (code, _, output) = verify(
        &verify_config,
        &[
            "--settle-seconds",
            "30",
            "--repair",
            "--source-config",
            source_arg,
        ],
    );
    assert_eq!(code, 0, "{output}");

    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    assert!(terminate(source).success());
    for label in [&labels.user, &labels.product, &labels.order] {
        let _ = graph
            .run(query(&format!("MATCH (n:{label}) DETACH DELETE n")))
            .await;
    }
    let _ = graph
        .run(
            query("MATCH (t) WHERE (t:SluiceTombstone OR t:SluiceTruncateFloor) AND t.sluice_table STARTS WITH $schema DELETE t")
                .param("schema", format!("{s}.")),
        )
        .await;
    h.pg.batch_execute(&format!("DROP SCHEMA {s} CASCADE"))
        .await
        .expect("drop the schema");
    h.clean_up().await;
}
