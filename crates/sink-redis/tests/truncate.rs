//! A truncate at version V removes the rows older than V and keeps newer ones, whatever
//! the order in which its copies and the other partitions' events arrive.

use crate::support::{TestTable, id_set, int, text, with_harness};

const COLUMNS: [(&str, &str); 2] = [("id", "int8"), ("name", "text")];

#[tokio::test]
async fn a_truncate_removes_older_rows_and_keeps_newer_ones_in_any_order() {
    with_harness(
        "redis_truncate",
        |_| {},
        |mut h| async move {
            // Writes first, then the truncate, in separate batches.
            let a = TestTable::new("after_writes", &COLUMNS);
            h.apply_all(&[
                a.create(10, vec![int(1), text("old")]),
                a.create(30, vec![int(2), text("new")]),
            ])
            .await;
            h.apply_all(&[a.truncate(20, 0)]).await;
            assert_eq!(h.ids(&a).await, id_set(&["2"]));
            // Applying it again, and its other copy, changes nothing.
            h.apply_all(&[a.truncate(20, 0), a.truncate(20, 1)]).await;
            assert_eq!(h.ids(&a).await, id_set(&["2"]));

            // Partition 0's copy first; then partition 1 delivers an older row, a newer row
            // and its own copy of the truncate. The older row is refused by the floor.
            let mut b = TestTable::new("copies_first", &COLUMNS);
            h.apply_all(&[b.truncate(20, 0)]).await;
            b.partition = 1;
            h.apply_all(&[b.create(10, vec![int(1), text("old")])])
                .await;
            assert_eq!(h.ids(&b).await, id_set(&[]));
            h.apply_all(&[b.create(30, vec![int(2), text("new")]), b.truncate(20, 1)])
                .await;
            assert_eq!(h.ids(&b).await, id_set(&["2"]));

            // Everything in one batch, copies from several partitions interleaved.
            let c = TestTable::new("one_batch", &COLUMNS);
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
            assert_eq!(h.ids(&c).await, id_set(&["3", "4"]));

            // A replay of the whole history converges to the same rows.
            h.apply_all(&[
                c.create(10, vec![int(1), text("old")]),
                c.create(15, vec![int(2), text("old too")]),
                c.truncate(20, 1),
            ])
            .await;
            assert_eq!(h.ids(&c).await, id_set(&["3", "4"]));

            // A later truncate raises the floor again.
            h.apply_all(&[c.truncate(35, 0)]).await;
            assert_eq!(h.ids(&c).await, id_set(&["4"]));

            // Deletes below the floor are refused like writes, and a truncate of a table
            // never written is fine.
            h.apply_all(&[c.delete(30, int(4))]).await;
            assert_eq!(h.ids(&c).await, id_set(&["4"]));
            let d = TestTable::new("never_written", &COLUMNS);
            h.apply_all(&[d.truncate(20, 0)]).await;
            assert!(h.ids(&d).await.is_empty());
        },
    )
    .await;
}

#[tokio::test]
async fn a_truncate_walks_a_large_table_in_pages() {
    with_harness(
        "redis_truncate_large",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("large", &COLUMNS);
            let rows: Vec<_> = (0..5000)
                .map(|i| t.create(10, vec![int(i), text("row")]))
                .collect();
            for chunk in rows.chunks(1000) {
                h.apply_all(chunk).await;
            }
            h.apply_all(&[t.create(30, vec![int(9999), text("after")])])
                .await;
            assert_eq!(h.ids(&t).await.len(), 5001);
            h.apply_all(&[t.truncate(20, 0)]).await;
            assert_eq!(h.ids(&t).await, id_set(&["9999"]));
        },
    )
    .await;
}
