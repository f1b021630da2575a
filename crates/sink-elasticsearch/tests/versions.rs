//! Replays, duplicates and late events leave the newest state.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn replaying_a_batch_and_applying_older_events_after_newer_ones_leave_the_newest_state() {
    with_harness(
        "es_versions",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
            let batch = [
                t.create(10, vec![int(1), text("one")]),
                t.update(20, vec![int(1), text("one, updated")]),
                t.create(10, vec![int(2), text("two")]),
                t.delete(30, 2i64),
                t.create(10, vec![int(3), text("three")]),
            ];
            h.apply_all(&batch).await;
            let expected: BTreeMap<String, serde_json::Value> = [
                (
                    r#"["1"]"#.to_owned(),
                    json!({ "id": 1, "name": "one, updated", "sluice_version": 20 }),
                ),
                (
                    r#"["3"]"#.to_owned(),
                    json!({ "id": 3, "name": "three", "sluice_version": 10 }),
                ),
            ]
            .into();
            assert_eq!(h.docs(&t).await, expected);

            // The same batch again (a retry, a redelivery after a crash).
            h.apply_all(&batch).await;
            assert_eq!(h.docs(&t).await, expected);

            // Each record on its own, in order, as a replay of smaller batches would.
            for record in &batch {
                h.apply_all(std::slice::from_ref(record)).await;
            }
            assert_eq!(h.docs(&t).await, expected);

            // Older events after newer ones: an old insert of a deleted row, an old value.
            h.apply_all(&[
                t.create(10, vec![int(2), text("two")]),
                t.create(10, vec![int(1), text("one")]),
            ])
            .await;
            assert_eq!(h.docs(&t).await, expected);

            // Newer first, then the older, across batches.
            h.apply_all(&[t.update(50, vec![int(3), text("three, v50")])])
                .await;
            h.apply_all(&[t.update(40, vec![int(3), text("three, v40")])])
                .await;
            let docs = h.docs(&t).await;
            assert_eq!(
                docs[r#"["3"]"#],
                json!({ "id": 3, "name": "three, v50", "sluice_version": 50 })
            );

            // A snapshot read that raced the stream: read at an older consistent point,
            // delivered after newer changes of the same row, changes nothing (nor does it
            // bring back a row deleted since).
            h.apply_all(&[t.read(45, vec![int(3), text("three, as the snapshot saw it")])])
                .await;
            h.apply_all(&[t.read(25, vec![int(2), text("two, as the snapshot saw it")])])
                .await;
            let docs = h.docs(&t).await;
            assert_eq!(docs[r#"["3"]"#]["name"], "three, v50");
            assert!(!docs.contains_key(r#"["2"]"#), "{docs:?}");
            // A snapshot read newer than what is stored is the row's newest state.
            h.apply_all(&[t.read(55, vec![int(3), text("three, snapshot at 55")])])
                .await;
            assert_eq!(
                h.docs(&t).await[r#"["3"]"#]["name"],
                "three, snapshot at 55"
            );

            // Two updates of one transaction share a version: the later one wins, in one
            // batch and when a batch ends between them.
            h.apply_all(&[
                t.update(60, vec![int(3), text("first of the transaction")]),
                t.update(60, vec![int(3), text("second of the transaction")]),
            ])
            .await;
            assert_eq!(
                h.docs(&t).await[r#"["3"]"#]["name"],
                "second of the transaction"
            );
            h.apply_all(&[t.update(70, vec![int(3), text("first of the next")])])
                .await;
            h.apply_all(&[t.update(70, vec![int(3), text("second of the next")])])
                .await;
            assert_eq!(h.docs(&t).await[r#"["3"]"#]["name"], "second of the next");
        },
    )
    .await;
}
