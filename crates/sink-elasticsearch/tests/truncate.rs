//! A truncate at version V removes the documents older than V and keeps newer ones,
//! whatever the order in which its copies and the other partitions' events arrive.

use crate::support::{TestTable, int, text, with_harness};

fn ids(docs: &std::collections::BTreeMap<String, serde_json::Value>) -> Vec<&str> {
    docs.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn a_truncate_removes_older_documents_and_keeps_newer_ones_in_any_order() {
    with_harness(
        "es_truncate",
        |_| {},
        |mut h| async move {
            let columns = [("id", "int8"), ("name", "text")];

            // Writes first, then the truncate, in separate batches.
            let a = TestTable::new("after_writes", &columns);
            h.apply_all(&[
                a.create(10, vec![int(1), text("old")]),
                a.create(30, vec![int(2), text("new")]),
            ])
            .await;
            h.apply_all(&[a.truncate(20, 0)]).await;
            assert_eq!(ids(&h.docs(&a).await), [r#"["2"]"#]);
            // Applying it again, and its other copy, changes nothing.
            h.apply_all(&[a.truncate(20, 0), a.truncate(20, 1)]).await;
            assert_eq!(ids(&h.docs(&a).await), [r#"["2"]"#]);

            // Partition 0's copy first; then partition 1 delivers an older row, a newer
            // row and its own copy of the truncate.
            let mut b = TestTable::new("copies_first", &columns);
            h.apply_all(&[b.truncate(20, 0)]).await;
            b.partition = 1;
            h.apply_all(&[b.create(10, vec![int(1), text("old")])])
                .await;
            h.apply_all(&[b.create(30, vec![int(2), text("new")]), b.truncate(20, 1)])
                .await;
            assert_eq!(ids(&h.docs(&b).await), [r#"["2"]"#]);

            // Everything in one batch, copies from several partitions interleaved, and a
            // newer row that was written before the truncate's copies were processed.
            let c = TestTable::new("one_batch", &columns);
            h.apply_all(&[
                c.create(10, vec![int(1), text("old")]),
                c.create(30, vec![int(3), text("new")]),
                c.truncate(20, 0),
                c.create(15, vec![int(2), text("old too")]),
                c.truncate(20, 1),
                c.truncate(20, 2),
                c.create(40, vec![int(4), text("newer")]),
            ])
            .await;
            assert_eq!(ids(&h.docs(&c).await), [r#"["3"]"#, r#"["4"]"#]);

            // A replay of the whole history converges to the same documents.
            h.apply_all(&[
                c.create(10, vec![int(1), text("old")]),
                c.create(15, vec![int(2), text("old too")]),
                c.truncate(20, 1),
            ])
            .await;
            assert_eq!(ids(&h.docs(&c).await), [r#"["3"]"#, r#"["4"]"#]);

            // A truncate of a table the sink has not seen yet creates its (empty) index.
            let d = TestTable::new("never_written", &columns);
            h.apply_all(&[d.truncate(20, 0)]).await;
            assert!(h.docs(&d).await.is_empty());
        },
    )
    .await;
}
