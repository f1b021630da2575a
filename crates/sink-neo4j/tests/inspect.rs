//! `sluice verify`'s reading of the graph ([`Inspect`]) compares relationships too: a
//! foreign key's relationship that is gone, moved or doubled makes its row stale; a join
//! row whose relationship is gone is missing, one between other nodes or with other
//! properties is stale, and a relationship whose key PostgreSQL lacks is listed by scan.

use std::collections::BTreeSet;

use neo4rs::{BoltMap, BoltType, Query};
use sluice_event::v1;
use sluice_sink::{Inspect, Record, TableName};
use sluice_sink_neo4j::{
    Direction, ForeignKey, Neo4jConfig, Neo4jSink, NodeTable, StoredForeignKey, StoredRow,
};

use crate::join_tables;
use crate::support::{Harness, Names, TestTable, int, keyed, text, with_harness};

fn configure(n: &Names, config: &mut Neo4jConfig) {
    for (table, label) in [("users", "User"), ("teams", "Team")] {
        config
            .nodes
            .insert(n.key(table), NodeTable::new(n.label(label)));
    }
    config.nodes.insert(
        n.key("orders"),
        NodeTable {
            label: n.label("Order"),
            properties: None,
            relationships: vec![
                ForeignKey {
                    columns: vec!["user_id".into()],
                    target: n.key("users"),
                    rel_type: n.label("PLACED"),
                    direction: Direction::Incoming,
                },
                ForeignKey {
                    columns: vec!["team_id".into()],
                    target: n.key("teams"),
                    rel_type: n.label("BILLED_TO"),
                    direction: Direction::Outgoing,
                },
            ],
        },
    );
}

/// What verify's comparison reports for `records` (rows as read from PostgreSQL):
/// the keys missing from the graph, and those stored otherwise.
async fn drift(
    sink: &mut Neo4jSink,
    table: &TableName,
    records: &[Record],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let keys: Vec<String> = records.iter().map(|r| r.key_text().to_owned()).collect();
    let stored = sink.fetch(table, &keys).await.expect("fetch");
    assert_eq!(stored.len(), keys.len());
    let (mut missing, mut stale) = (BTreeSet::new(), BTreeSet::new());
    for ((record, key), stored) in records.iter().zip(keys).zip(stored) {
        match stored {
            None => {
                missing.insert(key);
            }
            Some(stored) => {
                if sink.expected(record).expect("expected") != stored {
                    stale.insert(key);
                }
            }
        }
    }
    (missing, stale)
}

/// Every key scan lists for `table`, page by page.
async fn scan_all(sink: &mut Neo4jSink, table: &TableName) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = sink.scan(table, cursor).await.expect("scan");
        keys.extend(page.keys);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
}

async fn run(h: &Harness, cypher: &str) {
    h.graph
        .run(Query::new(cypher.to_owned()))
        .await
        .expect("tamper with the graph");
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[tokio::test]
async fn a_missing_moved_or_doubled_foreign_key_relationship_makes_its_row_stale() {
    with_harness("neo_inspect_fk", configure, |mut h| async move {
        let users = TestTable::new(&h.names.table("users"), &[("id", "int8"), ("name", "text")]);
        let teams = TestTable::new(&h.names.table("teams"), &[("id", "int8"), ("name", "text")]);
        let orders = TestTable::new(
            &h.names.table("orders"),
            &[("id", "int8"), ("user_id", "int8"), ("team_id", "int8")],
        );
        let null = v1::Value::null;
        // (order, user, team); user 3 never arrives (a placeholder), team 1's key is
        // user 1's key too (the target label tells them apart).
        let rows = [
            (100, Some(1), Some(1)),
            (101, Some(2), Some(1)),
            (102, None, None),
            (103, Some(1), None),
            (104, Some(2), Some(1)),
            (105, Some(3), None),
        ];
        let values = |(id, user, team): (i64, Option<i64>, Option<i64>)| {
            vec![
                int(id),
                user.map_or_else(null, int),
                team.map_or_else(null, int),
            ]
        };
        let mut batch = vec![
            users.create(10, vec![int(1), text("ada")]),
            users.create(10, vec![int(2), text("grace")]),
            teams.create(10, vec![int(1), text("core")]),
        ];
        batch.extend(rows.map(|row| orders.create(11, values(row))));
        h.apply_all(&batch).await;

        // As verify sees them: rows read from PostgreSQL, at another version.
        let read: Vec<Record> = rows.map(|row| orders.read(99, values(row))).to_vec();
        let table = orders.name();
        assert_eq!(h.sink.checkable(&table), Ok(()));
        let placed = h.label("PLACED");
        let billed = h.label("BILLED_TO");
        let links = |user: &[&str], team: &[&str]| {
            vec![
                StoredForeignKey {
                    rel_type: placed.clone(),
                    direction: Direction::Incoming,
                    targets: user.iter().map(|k| (*k).to_owned()).collect(),
                },
                StoredForeignKey {
                    rel_type: billed.clone(),
                    direction: Direction::Outgoing,
                    targets: team.iter().map(|k| (*k).to_owned()).collect(),
                },
            ]
        };
        let StoredRow::Node { foreign_keys, .. } = h.sink.expected(&read[0]).unwrap() else {
            panic!("a node table's row is a node");
        };
        assert_eq!(foreign_keys, links(&[r#"["1"]"#], &[r#"["1"]"#]));
        let StoredRow::Node { foreign_keys, .. } = h.sink.expected(&read[2]).unwrap() else {
            panic!("a node table's row is a node");
        };
        assert_eq!(foreign_keys, links(&[], &[]));
        assert_eq!(
            drift(&mut h.sink, &table, &read).await,
            (set(&[]), set(&[]))
        );

        // By hand: order 100 loses its user, order 101 moves to user 1, order 103 gets
        // a second relationship to its user.
        let (user, order) = (h.label("User"), h.label("Order"));
        run(
            &h,
            &format!(
                "MATCH (:`{user}`)-[r:`{placed}`]->(:`{order}` {{sluice_key: '[\"100\"]'}}) \
                 DELETE r"
            ),
        )
        .await;
        run(
            &h,
            &format!(
                "MATCH (:`{user}`)-[r:`{placed}`]->(o:`{order}` {{sluice_key: '[\"101\"]'}}) \
                 MATCH (u:`{user}` {{sluice_key: '[\"1\"]'}}) \
                 DELETE r CREATE (u)-[:`{placed}`]->(o)"
            ),
        )
        .await;
        run(
            &h,
            &format!(
                "MATCH (u:`{user}` {{sluice_key: '[\"1\"]'}}), \
                   (o:`{order}` {{sluice_key: '[\"103\"]'}}) \
                 CREATE (u)-[:`{placed}`]->(o)"
            ),
        )
        .await;
        assert_eq!(
            drift(&mut h.sink, &table, &read).await,
            (set(&[]), set(&[r#"["100"]"#, r#"["101"]"#, r#"["103"]"#]))
        );
        let stored = h
            .sink
            .fetch(&table, &[r#"["103"]"#.to_owned()])
            .await
            .unwrap();
        let Some(StoredRow::Node { foreign_keys, .. }) = &stored[0] else {
            panic!("order 103 is stored: {stored:?}");
        };
        assert_eq!(*foreign_keys, links(&[r#"["1"]"#, r#"["1"]"#], &[]));
        // Relationships are not rows: the orders listed are the same.
        assert_eq!(
            scan_all(&mut h.sink, &table).await,
            [
                r#"["100"]"#,
                r#"["101"]"#,
                r#"["102"]"#,
                r#"["103"]"#,
                r#"["104"]"#,
                r#"["105"]"#
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn join_rows_are_compared_by_their_relationships() {
    with_harness(
        "neo_inspect_join",
        join_tables::configure,
        |mut h| async move {
            let items = TestTable::new(
                &h.names.table("order_items"),
                &[
                    ("order_id", "int8"),
                    ("product_id", "int8"),
                    ("quantity", "int4"),
                ],
            );
            let rows = [(1, 10, 2), (1, 11, 1), (2, 10, 5), (3, 12, 7)];
            let values = |(o, p, q): (i64, i64, i64)| vec![int(o), int(p), int(q)];
            h.apply_all(&rows.map(|row| keyed(items.create(10, values(row)), 2, &[])))
                .await;

            let read: Vec<Record> = rows
                .map(|row| keyed(items.read(99, values(row)), 2, &[]))
                .to_vec();
            let table = items.name();
            assert_eq!(h.sink.checkable(&table), Ok(()));
            let mut quantity = BoltMap::new();
            quantity.put("quantity".into(), BoltType::from(2i64));
            assert_eq!(
                h.sink.expected(&read[0]).unwrap(),
                StoredRow::Relationship {
                    from: Some(r#"["1"]"#.into()),
                    to: Some(r#"["10"]"#.into()),
                    properties: quantity,
                }
            );
            assert_eq!(
                drift(&mut h.sink, &table, &read).await,
                (set(&[]), set(&[]))
            );
            let keys = [
                r#"["1","10"]"#,
                r#"["1","11"]"#,
                r#"["2","10"]"#,
                r#"["3","12"]"#,
            ];
            assert_eq!(scan_all(&mut h.sink, &table).await, keys);
            let page = h.sink.scan(&table, Some(keys[1].to_owned())).await.unwrap();
            assert_eq!(page.keys, keys[2..]);
            assert_eq!(page.next, None);

            // By hand: item (1, 11) is deleted, item (2, 10) moves to product 11, item
            // (3, 12) changes quantity, and an item PostgreSQL lacks appears.
            let contains = h.label("CONTAINS");
            let (order, product) = (h.label("Order"), h.label("Product"));
            run(
                &h,
                &format!("MATCH ()-[r:`{contains}` {{sluice_key: '[\"1\",\"11\"]'}}]->() DELETE r"),
            )
            .await;
            run(
                &h,
                &format!(
                    "MATCH (o)-[r:`{contains}` {{sluice_key: '[\"2\",\"10\"]'}}]->() \
                 WITH o, r, properties(r) AS moved DELETE r \
                 WITH o, moved MATCH (p:`{product}` {{sluice_key: '[\"11\"]'}}) \
                 CREATE (o)-[n:`{contains}`]->(p) SET n = moved"
                ),
            )
            .await;
            run(
                &h,
                &format!(
                    "MATCH ()-[r:`{contains}` {{sluice_key: '[\"3\",\"12\"]'}}]->() \
                 SET r.quantity = 8"
                ),
            )
            .await;
            run(
                &h,
                &format!(
                    "MATCH (o:`{order}` {{sluice_key: '[\"1\"]'}}), \
                   (p:`{product}` {{sluice_key: '[\"10\"]'}}) \
                 CREATE (o)-[:`{contains}` {{sluice_key: '[\"9\",\"9\"]', \
                   sluice_version: 10, quantity: 1}}]->(p)"
                ),
            )
            .await;
            assert_eq!(
                drift(&mut h.sink, &table, &read).await,
                (
                    set(&[r#"["1","11"]"#]),
                    set(&[r#"["2","10"]"#, r#"["3","12"]"#])
                )
            );
            let in_postgres: BTreeSet<String> =
                read.iter().map(|r| r.key_text().to_owned()).collect();
            let listed = scan_all(&mut h.sink, &table).await;
            let extra: Vec<&String> = listed
                .iter()
                .filter(|k| !in_postgres.contains(*k))
                .collect();
            assert_eq!(extra, [r#"["9","9"]"#]);
            // Verify's recheck reads an extra key back by itself.
            let stored = h
                .sink
                .fetch(&table, &[r#"["9","9"]"#.to_owned()])
                .await
                .unwrap();
            assert!(
                matches!(&stored[..], [Some(StoredRow::Relationship { .. })]),
                "{stored:?}"
            );
        },
    )
    .await;
}
