//! A key holding something the sink did not write rejects its record, by batch index and
//! without row values; the rest of the batch is applied.

use crate::support::{TestTable, id_set, int, text, with_harness};

#[tokio::test]
async fn a_key_of_another_type_rejects_only_its_record() {
    with_harness(
        "redis_rejections",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
            let list = h.key(&t, "2");
            let _: i64 = h
                .query(redis::cmd("RPUSH").arg(&list).arg("someone else's"))
                .await;
            let foreign_hash = h.key(&t, "4");
            let _: i64 = h
                .query(redis::cmd("HSET").arg(&foreign_hash).arg("f").arg("v"))
                .await;

            let applied = h
                .apply(&[
                    t.create(10, vec![int(1), text("one")]),
                    t.create(10, vec![int(2), text("secret value")]),
                    t.create(10, vec![int(3), text("three")]),
                    t.create(10, vec![int(4), text("four")]),
                ])
                .await;
            let indices: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
            assert_eq!(indices, [1, 3], "{:?}", applied.rejected);
            for rejection in &applied.rejected {
                assert!(
                    rejection.reason.contains("public.items"),
                    "{}",
                    rejection.reason
                );
                assert!(!rejection.reason.contains("secret"), "{}", rejection.reason);
            }
            assert!(
                applied.rejected[0].reason.contains("a list"),
                "{}",
                applied.rejected[0].reason
            );
            assert_eq!(h.hash(&t, "1").await["name"], "one");
            assert_eq!(h.hash(&t, "3").await["name"], "three");
            assert_eq!(h.ids(&t).await, id_set(&["1", "2", "3", "4"]));
            // The foreign keys are untouched.
            let len: i64 = h.query(redis::cmd("LLEN").arg(&list)).await;
            assert_eq!(len, 1);

            // A tombstone key of another type: Redis' own WRONGTYPE, still one record.
            let prefix = h.sink.config().table_prefix(&t.name());
            let tombstone = sluice_sink_redis::layout::tombstone_key(&prefix, &[Some("5")]);
            let _: i64 = h.query(redis::cmd("RPUSH").arg(&tombstone).arg("x")).await;
            let applied = h
                .apply(&[
                    t.delete(20, int(5)),
                    t.update(20, vec![int(1), text("uno")]),
                ])
                .await;
            let indices: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
            assert_eq!(indices, [0], "{:?}", applied.rejected);
            assert_eq!(h.hash(&t, "1").await["name"], "uno");
        },
    )
    .await;
}
