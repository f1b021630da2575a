//! A row the server refuses is rejected with its index in the batch, for a reason
//! without values, and the rest of the batch is applied.

use neo4rs::Query;
use sluice_sink_neo4j::{ForeignKey, NodeTable};

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn a_row_the_server_refuses_is_rejected_and_the_others_applied() {
    with_harness(
        "neo_rejections",
        |n, config| {
            config
                .nodes
                .insert(n.key("tags"), NodeTable::new(n.label("Tag")));
            config.nodes.insert(
                n.key("posts"),
                NodeTable {
                    label: n.label("Post"),
                    properties: None,
                    relationships: vec![ForeignKey {
                        columns: vec!["author_id".into()],
                        target: n.key("tags"),
                        rel_type: n.label("BY"),
                        direction: Default::default(),
                    }],
                },
            );
        },
        |mut h| async move {
            // The database has a constraint of its own that the rows can break.
            let label = h.label("Tag");
            h.graph
                .run(Query::new(format!(
                    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.slug IS UNIQUE"
                )))
                .await
                .expect("create the constraint");
            let tags = TestTable::new(&h.names.table("tags"), &[("id", "int8"), ("slug", "text")]);
            let posts = TestTable::new(
                &h.names.table("posts"),
                &[("id", "int8"), ("title", "text")],
            );
            let long_key = format!("secret-{}", "x".repeat(10_000));
            let long = TestTable::new(&h.names.table("tags"), &[("slug", "text")]);
            let applied = h
                .apply(&[
                    tags.create(10, vec![int(1), text("rust")]),
                    tags.create(10, vec![int(2), text("rust")]),
                    tags.create(10, vec![int(3), text("neo4j")]),
                    // The configured foreign-key column is not in the table's events.
                    posts.create(10, vec![int(1), text("hello")]),
                    // A key longer than an index entry.
                    long.create(10, vec![text(&long_key)]),
                    tags.create(11, vec![int(4), text("graphs")]),
                ])
                .await;
            let rejected: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
            assert_eq!(rejected, [1, 3, 4], "{:?}", applied.rejected);
            let reason = &applied.rejected[0].reason;
            assert!(
                reason.contains("Neo.ClientError.Schema.ConstraintValidationFailed"),
                "{reason}"
            );
            assert!(reason.contains(&h.names.key("tags")), "{reason}");
            assert!(!reason.contains("rust"), "{reason}");
            assert!(applied.rejected[1].reason.contains("\"author_id\""));
            assert!(!applied.rejected[2].reason.contains("secret"));
            let tags_now = h.nodes(&label).await;
            assert_eq!(
                tags_now.keys().collect::<Vec<_>>(),
                [r#"["1"]"#, r#"["3"]"#, r#"["4"]"#]
            );
            // The sink goes on working.
            h.apply_all(&[tags.update(20, vec![int(1), text("rustlang")])])
                .await;
            assert_eq!(h.nodes(&label).await[r#"["1"]"#]["slug"], "rustlang");
        },
    )
    .await;
}
