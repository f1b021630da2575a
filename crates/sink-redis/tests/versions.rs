//! Replays, duplicates and events arriving out of order leave the newest state.

use crate::support::{TestTable, fields, id_set, int, text, with_harness};

fn items() -> TestTable {
    TestTable::new("items", &[("id", "int8"), ("name", "text")])
}

#[tokio::test]
async fn duplicate_batches_and_older_events_keep_the_newest() {
    with_harness(
        "redis_versions",
        |_| {},
        |mut h| async move {
            let t = items();
            let history = [
                t.create(10, vec![int(1), text("a")]),
                t.update(20, vec![int(1), text("b")]),
                t.update(30, vec![int(1), text("c")]),
            ];
            h.apply_all(&history).await;
            h.apply_all(&history).await;
            assert_eq!(
                h.hash(&t, "1").await,
                fields(&[("id", "1"), ("name", "c"), ("_sluice_version", "30")])
            );
            // Older events one by one, after the newest: refused.
            for record in history.iter().take(2) {
                h.apply_all(std::slice::from_ref(record)).await;
            }
            assert_eq!(h.hash(&t, "1").await["name"], "c");
            // Newest first within one batch.
            h.apply_all(&[
                t.update(50, vec![int(2), text("new")]),
                t.create(40, vec![int(2), text("old")]),
            ])
            .await;
            assert_eq!(h.hash(&t, "2").await["name"], "new");
            // The same version again is applied (>=): one transaction's later change wins.
            h.apply_all(&[t.update(30, vec![int(1), text("c, again")])])
                .await;
            assert_eq!(h.hash(&t, "1").await["name"], "c, again");
            // A snapshot read older than the stream's change does not win either.
            h.apply_all(&[t.read(25, vec![int(1), text("snapshot")])])
                .await;
            assert_eq!(h.hash(&t, "1").await["name"], "c, again");
        },
    )
    .await;
}

#[tokio::test]
async fn a_deleted_row_stays_deleted_when_an_older_create_is_replayed() {
    with_harness(
        "redis_versions_delete",
        |config| config.tombstone_ttl_seconds = 3600,
        |mut h| async move {
            let t = items();
            h.apply_all(&[t.create(10, vec![int(1), text("a")])]).await;
            h.apply_all(&[t.delete(20, int(1))]).await;
            h.apply_all(&[t.create(10, vec![int(1), text("a")])]).await;
            h.apply_all(&[t.update(15, vec![int(1), text("b")])]).await;
            assert!(h.hash(&t, "1").await.is_empty());
            assert_eq!(h.ids(&t).await, id_set(&[]));

            // The tombstone holds the version and expires.
            let prefix = h.sink.config().table_prefix(&t.name());
            let tombstone = sluice_sink_redis::layout::tombstone_key(&prefix, &[Some("1")]);
            let version: String = h.query(redis::cmd("GET").arg(&tombstone)).await;
            assert_eq!(version, "20");
            let ttl: i64 = h.query(redis::cmd("TTL").arg(&tombstone)).await;
            assert!(ttl > 0 && ttl <= 3600, "{ttl}");

            // A delete of a row never seen leaves a tombstone too.
            h.apply_all(&[t.delete(40, int(2))]).await;
            h.apply_all(&[t.create(30, vec![int(2), text("late")])])
                .await;
            assert!(h.hash(&t, "2").await.is_empty());

            // A newer create brings the row back and drops the tombstone.
            h.apply_all(&[t.create(50, vec![int(1), text("again")])])
                .await;
            assert_eq!(h.hash(&t, "1").await["name"], "again");
            let exists: i64 = h.query(redis::cmd("EXISTS").arg(&tombstone)).await;
            assert_eq!(exists, 0);
        },
    )
    .await;
}
