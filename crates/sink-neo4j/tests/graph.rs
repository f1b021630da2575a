//! A small shop built only through the sink answers the questions a graph is for:
//! "customers who bought X also bought" and "friends of friends".

use neo4rs::Query;
use sluice_sink_neo4j::{
    Direction, Endpoint, ForeignKey, Neo4jConfig, NodeTable, RelationshipTable,
};

use crate::support::{Names, TestTable, int, keyed, text, with_harness};

fn configure(n: &Names, config: &mut Neo4jConfig) {
    let node = |label: &str, relationships| NodeTable {
        label: n.label(label),
        properties: None,
        relationships,
    };
    config.nodes.insert(n.key("users"), node("User", vec![]));
    config
        .nodes
        .insert(n.key("products"), node("Product", vec![]));
    config.nodes.insert(
        n.key("orders"),
        node(
            "Order",
            vec![ForeignKey {
                columns: vec!["user_id".into()],
                target: n.key("users"),
                rel_type: n.label("PLACED"),
                direction: Direction::Incoming,
            }],
        ),
    );
    config.relationships.insert(
        n.key("order_items"),
        RelationshipTable {
            rel_type: n.label("CONTAINS"),
            from: Endpoint {
                table: n.key("orders"),
                columns: vec!["order_id".into()],
            },
            to: Endpoint {
                table: n.key("products"),
                columns: vec!["product_id".into()],
            },
            properties: Some(vec!["quantity".into()]),
        },
    );
    config.relationships.insert(
        n.key("follows"),
        RelationshipTable {
            rel_type: n.label("FOLLOWS"),
            from: Endpoint {
                table: n.key("users"),
                columns: vec!["follower_id".into()],
            },
            to: Endpoint {
                table: n.key("users"),
                columns: vec!["followee_id".into()],
            },
            properties: None,
        },
    );
}

#[tokio::test]
async fn a_shop_graph_answers_recommendation_and_friend_queries() {
    with_harness("neo_graph", configure, |mut h| async move {
        let n = h.names.clone();
        let users = TestTable::new(&n.table("users"), &[("id", "int8"), ("name", "text")]);
        let products = TestTable::new(&n.table("products"), &[("id", "int8"), ("name", "text")]);
        let orders = TestTable::new(
            &n.table("orders"),
            &[("id", "int8"), ("user_id", "int8"), ("status", "text")],
        );
        let items = TestTable::new(
            &n.table("order_items"),
            &[("order_id", "int8"), ("product_id", "int8"), ("quantity", "int4")],
        );
        let follows = TestTable::new(
            &n.table("follows"),
            &[("follower_id", "int8"), ("followee_id", "int8")],
        );
        let item = |v, o, p| keyed(items.create(v, vec![int(o), int(p), int(1)]), 2, &[]);
        let follow = |v, a, b| keyed(follows.create(v, vec![int(a), int(b)]), 2, &[]);
        let unfollow = |v, a: i64, b: i64| keyed(follows.delete(v, a), 2, &[int(a), int(b)]);

        // Relationships first, rows later: topics are not ordered against each other.
        h.apply_all(&[
            item(12, 100, 1), // ada: kettle, teapot
            item(12, 100, 2),
            item(12, 101, 1), // grace: kettle, mug
            item(12, 101, 3),
            item(12, 102, 4), // linus: grinder (and later kettle, in a moved order)
            item(12, 103, 5), // ada, a cancelled order: scale
            follow(13, 1, 2),
            follow(13, 2, 3),
            follow(13, 2, 4),
            follow(13, 3, 1),
            follow(13, 1, 5),
            follow(13, 5, 6),
        ])
        .await;
        h.apply_all(&[
            orders.create(11, vec![int(100), int(1), text("paid")]),
            orders.create(11, vec![int(101), int(2), text("paid")]),
            orders.create(11, vec![int(102), int(3), text("paid")]),
            orders.create(11, vec![int(103), int(1), text("new")]),
        ])
        .await;
        let mut rows = Vec::new();
        for (id, name) in [(1, "ada"), (2, "grace"), (3, "linus"), (4, "barbara"), (5, "edsger"), (6, "tony")] {
            rows.push(users.create(10, vec![int(id), text(name)]));
        }
        for (id, name) in [(1, "kettle"), (2, "teapot"), (3, "mug"), (4, "grinder"), (5, "scale")] {
            rows.push(products.create(10, vec![int(id), text(name)]));
        }
        h.apply_all(&rows).await;
        // Changes: ada's order 103 is deleted with its item; linus buys a kettle in
        // order 102; ada stops following edsger.
        h.apply_all(&[
            keyed(items.delete(20, 103i64), 2, &[int(103), int(5)]),
            orders.delete(20, 103i64),
            item(21, 102, 1),
            unfollow(22, 1, 5),
        ])
        .await;

        let label = |base: &str| format!("`{}`", n.label(base));
        let (user, product, order) = (label("User"), label("Product"), label("Order"));
        let (placed, contains, follows_rel) = (label("PLACED"), label("CONTAINS"), label("FOLLOWS"));
        let also_bought = Query::new(format!(
            "MATCH (x:{product} {{name: $name}})<-[:{contains}]-(:{order})<-[:{placed}]-(u:{user}) \
             MATCH (u)-[:{placed}]->(:{order})-[:{contains}]->(y:{product}) \
             WHERE y <> x RETURN DISTINCT y.name AS name ORDER BY name"
        ));
        assert_eq!(
            h.strings(also_bought.clone().param("name", "kettle"), "name").await,
            ["grinder", "mug", "teapot"]
        );
        assert_eq!(
            h.strings(also_bought.clone().param("name", "teapot"), "name").await,
            ["kettle"]
        );
        assert!(h.strings(also_bought.param("name", "scale"), "name").await.is_empty());

        let friends_of_friends = Query::new(format!(
            "MATCH (me:{user} {{name: $name}})-[:{follows_rel}]->(:{user})-[:{follows_rel}]->(f:{user}) \
             WHERE f <> me AND NOT (me)-[:{follows_rel}]->(f) \
             RETURN DISTINCT f.name AS name ORDER BY name"
        ));
        assert_eq!(
            h.strings(friends_of_friends.clone().param("name", "ada"), "name").await,
            ["barbara", "linus"]
        );
        assert_eq!(
            h.strings(friends_of_friends.param("name", "grace"), "name").await,
            ["ada"]
        );
        // Every node is a full row: no placeholder left behind.
        let placeholders = Query::new(format!(
            "MATCH (n) WHERE (n:{user} OR n:{product} OR n:{order}) AND n.sluice_version IS NULL \
             RETURN n.sluice_key AS key"
        ));
        assert!(h.strings(placeholders, "key").await.is_empty());
    })
    .await;
}
