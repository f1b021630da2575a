//! A truncate removes the table's older nodes and keeps newer ones, in any order of its
//! copies, and older writes arriving after it are ignored.

use sluice_sink_neo4j::NodeTable;

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn a_truncate_removes_older_nodes_in_any_order_of_its_copies() {
    with_harness(
        "neo_truncate",
        |n, config| {
            config
                .nodes
                .insert(n.key("events"), NodeTable::new(n.label("Event")));
        },
        |mut h| async move {
            let mut t = TestTable::new(
                &h.names.table("events"),
                &[("id", "int8"), ("name", "text")],
            );
            let label = h.label("Event");
            // 25 000 rows over three partitions, before the truncate at 100: more than
            // two removal transactions' worth.
            let rows: Vec<_> = (0..25_000)
                .map(|i| {
                    t.partition = (i % 3) as i32;
                    t.create(10 + (i % 50) as u64, vec![int(i), text("old")])
                })
                .collect();
            for chunk in rows.chunks(5_000) {
                h.apply_all(chunk).await;
            }
            // Partition 1's copy arrives first, with a newer row after it.
            h.apply_all(&[
                t.truncate(100, 1),
                t.create(110, vec![int(1_000_000), text("after the truncate")]),
                // Written in the truncating transaction after the TRUNCATE: same version.
                t.create(100, vec![int(1_000_001), text("same transaction")]),
            ])
            .await;
            let nodes = h.nodes(&label).await;
            assert_eq!(
                nodes.keys().collect::<Vec<_>>(),
                [r#"["1000000"]"#, r#"["1000001"]"#]
            );
            // An older row of partition 2 arrives late: the floor ignores it. Then the
            // other copies: nothing newer is removed.
            h.apply_all(&[t.create(90, vec![int(5), text("late")])])
                .await;
            h.apply_all(&[t.truncate(100, 2), t.truncate(100, 0)]).await;
            h.apply_all(&[t.truncate(100, 2)]).await;
            let nodes = h.nodes(&label).await;
            assert_eq!(nodes.len(), 2, "{:?}", nodes.keys());
            assert_eq!(nodes[r#"["1000000"]"#]["name"], "after the truncate");
        },
    )
    .await;
}
