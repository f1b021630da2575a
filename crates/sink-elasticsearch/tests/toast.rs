//! Updates that leave a TOASTed value unchanged keep the stored value.

use serde_json::json;

use crate::support::{TestTable, int, text, unchanged, with_harness};

fn documents() -> TestTable {
    TestTable::new(
        "documents",
        &[("id", "int8"), ("title", "text"), ("body", "text")],
    )
}

fn long_body() -> String {
    "lorem ipsum ".repeat(2000)
}

#[tokio::test]
async fn an_unchanged_toast_value_is_kept_across_batches() {
    with_harness("es_toast_batches", |_| {}, |mut h| async move {
        let t = documents();
        h.apply_all(&[t.create(10, vec![int(1), text("draft"), text(&long_body())])]).await;
        h.apply_all(&[t.update(20, vec![int(1), text("final"), unchanged()])]).await;
        let docs = h.docs(&t).await;
        assert_eq!(
            docs[r#"["1"]"#],
            json!({ "id": 1, "title": "final", "body": long_body(), "sluice_version": 20 })
        );
        let doc = h.doc(&t, r#"["1"]"#).await.unwrap();
        assert_eq!(doc["_version"], json!(20));

        // Two partial updates in one batch, over the stored document.
        h.apply_all(&[
            t.update(30, vec![int(1), text("final, again"), unchanged()]),
            t.update(40, vec![int(1), text("final, last"), unchanged()]),
        ])
        .await;
        let docs = h.docs(&t).await;
        assert_eq!(
            docs[r#"["1"]"#],
            json!({ "id": 1, "title": "final, last", "body": long_body(), "sluice_version": 40 })
        );

        // Replaying the whole history converges to the same document.
        h.apply_all(&[
            t.create(10, vec![int(1), text("draft"), text(&long_body())]),
            t.update(20, vec![int(1), text("final"), unchanged()]),
        ])
        .await;
        h.apply_all(&[t.update(30, vec![int(1), text("final, again"), unchanged()])]).await;
        assert_eq!(h.docs(&t).await, docs);
    })
    .await;
}

#[tokio::test]
async fn an_unchanged_toast_value_is_kept_within_one_batch() {
    with_harness(
        "es_toast_batch",
        |_| {},
        |mut h| async move {
            let t = documents();
            h.apply_all(&[
                t.create(10, vec![int(1), text("draft"), text(&long_body())]),
                t.update(20, vec![int(1), text("final"), unchanged()]),
                t.create(20, vec![int(2), text("other"), text("short")]),
                t.update(30, vec![int(2), text("other, renamed"), unchanged()]),
            ])
            .await;
            let docs = h.docs(&t).await;
            assert_eq!(
                docs[r#"["1"]"#],
                json!({ "id": 1, "title": "final", "body": long_body(), "sluice_version": 20 })
            );
            assert_eq!(
                docs[r#"["2"]"#],
                json!({ "id": 2, "title": "other, renamed", "body": "short", "sluice_version": 30 })
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_partial_update_of_a_missing_or_newer_document() {
    with_harness(
        "es_toast_missing",
        |_| {},
        |mut h| async move {
            let t = documents();
            h.apply_all(&[t.create(50, vec![int(1), text("newest"), text(&long_body())])])
                .await;

            let applied = h
                .apply(&[
                    // Older than the stored document: nothing to do.
                    t.update(40, vec![int(1), text("older"), unchanged()]),
                    // No stored document: the unchanged value is unknown.
                    t.update(40, vec![int(2), text("orphan"), unchanged()]),
                    t.create(40, vec![int(3), text("fine"), text("body")]),
                ])
                .await;
            assert_eq!(applied.rejected.len(), 1, "{:?}", applied.rejected);
            assert_eq!(applied.rejected[0].index, 1);
            assert!(
                applied.rejected[0].reason.contains("does not hold"),
                "{}",
                applied.rejected[0].reason
            );

            let docs = h.docs(&t).await;
            assert_eq!(docs.len(), 2, "{docs:?}");
            assert_eq!(
                docs[r#"["1"]"#],
                json!({ "id": 1, "title": "newest", "body": long_body(), "sluice_version": 50 })
            );
            assert_eq!(docs[r#"["3"]"#]["title"], "fine");
        },
    )
    .await;
}

#[tokio::test]
async fn with_replica_identity_full_the_old_row_supplies_the_unchanged_value() {
    with_harness(
        "es_toast_full",
        |_| {},
        |mut h| async move {
            let t = documents();
            // The sink never saw the row: the old row in the event is all it needs.
            h.apply_all(&[t.update_full(
                20,
                vec![int(1), text("draft"), text(&long_body())],
                vec![int(1), text("final"), unchanged()],
            )])
            .await;
            let docs = h.docs(&t).await;
            assert_eq!(
                docs[r#"["1"]"#],
                json!({ "id": 1, "title": "final", "body": long_body(), "sluice_version": 20 })
            );
        },
    )
    .await;
}
