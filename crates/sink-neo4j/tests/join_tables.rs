//! A join table's rows are relationships: created between (placeholder) endpoints,
//! updated, deleted with a tombstone, and moved by a primary-key update.

use serde_json::json;
use sluice_sink_neo4j::{Endpoint, Neo4jConfig, NodeTable, RelationshipTable};

use crate::support::{Names, TestTable, int, keyed, with_harness};

pub(crate) fn configure(n: &Names, config: &mut Neo4jConfig) {
    for (table, label) in [("orders", "Order"), ("products", "Product")] {
        config
            .nodes
            .insert(n.key(table), NodeTable::new(n.label(label)));
    }
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
            properties: None,
        },
    );
}

#[tokio::test]
async fn join_rows_are_relationships() {
    with_harness("neo_join", configure, |mut h| async move {
        let items = TestTable::new(
            &h.names.table("order_items"),
            &[
                ("order_id", "int8"),
                ("product_id", "int8"),
                ("quantity", "int4"),
            ],
        );
        let row =
            |version, o, p, q| keyed(items.create(version, vec![int(o), int(p), int(q)]), 2, &[]);
        let update =
            |version, o, p, q| keyed(items.update(version, vec![int(o), int(p), int(q)]), 2, &[]);
        let delete =
            |version, o: i64, p: i64| keyed(items.delete(version, o), 2, &[int(o), int(p)]);
        let contains = h.label("CONTAINS");
        h.apply_all(&[row(10, 1, 10, 2), row(10, 1, 11, 1), row(10, 2, 10, 5)])
            .await;
        let rels = h.relationships(&contains).await;
        assert_eq!(rels.len(), 3);
        assert_eq!(
            rels[r#"["1","10"]"#],
            json!({ "sluice_key": r#"["1","10"]"#, "sluice_version": 10, "quantity": 2 })
        );
        assert_eq!(
            h.edges(&contains).await,
            [
                (r#"["1"]"#.into(), r#"["10"]"#.into()),
                (r#"["1"]"#.into(), r#"["11"]"#.into()),
                (r#"["2"]"#.into(), r#"["10"]"#.into())
            ]
        );
        // The endpoints were placeholders.
        assert_eq!(h.nodes(&h.label("Order")).await.len(), 2);

        // Update, an older update ignored, delete, and an older create after the delete.
        h.apply_all(&[update(20, 1, 10, 3)]).await;
        h.apply_all(&[update(15, 1, 10, 9)]).await;
        h.apply_all(&[delete(30, 1, 11)]).await;
        h.apply_all(&[row(10, 1, 11, 1)]).await;
        let rels = h.relationships(&contains).await;
        assert_eq!(
            rels.keys().collect::<Vec<_>>(),
            [r#"["1","10"]"#, r#"["2","10"]"#]
        );
        assert_eq!(rels[r#"["1","10"]"#]["quantity"], 3);
        // Product 11 was only a placeholder, and nothing references it now.
        assert_eq!(
            h.nodes(&h.label("Product"))
                .await
                .keys()
                .collect::<Vec<_>>(),
            [r#"["10"]"#]
        );

        // A primary-key update (the item moves to order 3): delete + create.
        let old_key = [int(2), int(10)];
        let mut delete_old = keyed(items.delete(40, 2i64), 2, &old_key);
        let mut create_new = row(40, 3, 10, 5);
        delete_old.event.key_change = Some(Default::default());
        create_new.event.key_change = Some(Default::default());
        h.apply_all(&[create_new, delete_old]).await;
        assert_eq!(
            h.edges(&contains).await,
            [
                (r#"["1"]"#.into(), r#"["10"]"#.into()),
                (r#"["3"]"#.into(), r#"["10"]"#.into())
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_join_row_whose_endpoint_changes_moves() {
    with_harness("neo_join_move", configure, |mut h| async move {
        // A join table with a surrogate key: its endpoints are ordinary columns.
        let items = TestTable::new(
            &h.names.table("order_items"),
            &[
                ("id", "int8"),
                ("order_id", "int8"),
                ("product_id", "int8"),
                ("quantity", "int4"),
            ],
        );
        let contains = h.label("CONTAINS");
        h.apply_all(&[items.create(10, vec![int(1), int(1), int(10), int(2)])])
            .await;
        h.apply_all(&[items.update(20, vec![int(1), int(1), int(11), int(2)])])
            .await;
        assert_eq!(
            h.edges(&contains).await,
            [(r#"["1"]"#.into(), r#"["11"]"#.into())]
        );
        assert_eq!(
            h.nodes(&h.label("Product"))
                .await
                .keys()
                .collect::<Vec<_>>(),
            [r#"["11"]"#]
        );
        let rels = h.relationships(&contains).await;
        assert_eq!(
            rels[r#"["1"]"#],
            json!({ "sluice_key": r#"["1"]"#, "sluice_version": 20, "quantity": 2 })
        );
    })
    .await;
}
