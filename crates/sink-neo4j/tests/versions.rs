//! Replays, duplicates and older events after newer ones leave the newest state; a
//! delete's tombstone keeps an older create from bringing the row back.

use sluice_sink_neo4j::NodeTable;

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn duplicates_and_older_events_keep_the_newest() {
    with_harness(
        "neo_versions",
        |n, config| {
            config
                .nodes
                .insert(n.key("items"), NodeTable::new(n.label("Item")));
        },
        |mut h| async move {
            let t = TestTable::new(&h.names.table("items"), &[("id", "int8"), ("name", "text")]);
            let label = h.label("Item");
            let batch = [
                t.create(10, vec![int(1), text("one")]),
                t.create(10, vec![int(2), text("two")]),
                t.update(20, vec![int(1), text("one, v20")]),
            ];
            // The same batch twice (a redelivery), then an older event alone.
            h.apply_all(&batch).await;
            h.apply_all(&batch).await;
            h.apply_all(&[t.update(15, vec![int(1), text("one, v15")])])
                .await;
            let nodes = h.nodes(&label).await;
            assert_eq!(nodes[r#"["1"]"#]["name"], "one, v20");
            assert_eq!(nodes[r#"["1"]"#]["sluice_version"], 20);
            assert_eq!(nodes[r#"["2"]"#]["name"], "two");

            // Newer first, then the older, in one batch.
            h.apply_all(&[
                t.update(40, vec![int(2), text("two, v40")]),
                t.update(30, vec![int(2), text("two, v30")]),
            ])
            .await;
            assert_eq!(h.nodes(&label).await[r#"["2"]"#]["name"], "two, v40");

            // A delete, then a replay of the older create and update: still deleted.
            h.apply_all(&[t.delete(50, 1i64)]).await;
            h.apply_all(&[
                t.create(10, vec![int(1), text("one")]),
                t.update(20, vec![int(1), text("one, v20")]),
            ])
            .await;
            h.apply_all(&[t.read(45, vec![int(1), text("as a snapshot saw it")])])
                .await;
            assert!(!h.nodes(&label).await.contains_key(r#"["1"]"#));
            // A delete older than the stored row changes nothing.
            h.apply_all(&[t.delete(35, 2i64)]).await;
            assert_eq!(h.nodes(&label).await[r#"["2"]"#]["name"], "two, v40");
            assert!(
                !h.tombstones(&h.names.key("items"))
                    .await
                    .contains_key(r#"["2"]"#)
            );

            // Two updates of one transaction share a version: the later wins, within a
            // batch and across batches.
            h.apply_all(&[
                t.update(60, vec![int(2), text("first")]),
                t.update(60, vec![int(2), text("second")]),
            ])
            .await;
            assert_eq!(h.nodes(&label).await[r#"["2"]"#]["name"], "second");
            h.apply_all(&[t.update(70, vec![int(2), text("first of next")])])
                .await;
            h.apply_all(&[t.update(70, vec![int(2), text("second of next")])])
                .await;
            assert_eq!(h.nodes(&label).await[r#"["2"]"#]["name"], "second of next");
        },
    )
    .await;
}
