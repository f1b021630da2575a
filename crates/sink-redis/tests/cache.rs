//! Per-table TTLs and invalidate-only tables.

use sluice_sink_redis::{Format, TableSettings};

use crate::support::{TestTable, id_set, int, text, unchanged, with_harness};

#[tokio::test]
async fn rows_of_a_ttl_table_expire() {
    with_harness(
        "redis_cache_ttl",
        |config| {
            for (table, format) in [
                ("public.hashes", Format::Hash),
                ("public.docs", Format::Json),
            ] {
                config.tables.insert(
                    table.into(),
                    TableSettings {
                        format,
                        ttl_seconds: Some(600),
                        ..TableSettings::default()
                    },
                );
            }
        },
        |mut h| async move {
            let columns = [("id", "int8"), ("name", "text"), ("body", "text")];
            for t in [
                TestTable::new("hashes", &columns),
                TestTable::new("docs", &columns),
            ] {
                h.apply_all(&[t.create(10, vec![int(1), text("a"), text("b")])])
                    .await;
                let key = h.key(&t, "1");
                let ttl: i64 = h.query(redis::cmd("TTL").arg(&key)).await;
                assert!(ttl > 0 && ttl <= 600, "{}: {ttl}", t.table);
                // A partial update keeps the TTL going too.
                h.apply_all(&[t.update(20, vec![int(1), text("c"), unchanged()])])
                    .await;
                let ttl: i64 = h.query(redis::cmd("TTL").arg(&key)).await;
                assert!(ttl > 0 && ttl <= 600, "{}: {ttl}", t.table);
            }
            // Tables without a TTL do not expire.
            let t = TestTable::new("plain", &columns);
            h.apply_all(&[t.create(10, vec![int(1), text("a"), text("b")])])
                .await;
            let ttl: i64 = h.query(redis::cmd("TTL").arg(h.key(&t, "1"))).await;
            assert_eq!(ttl, -1);
        },
    )
    .await;
}

#[tokio::test]
async fn an_invalidate_only_table_deletes_keys_and_writes_nothing() {
    with_harness(
        "redis_cache_invalidate",
        |config| {
            config.tables.insert(
                "public.profiles".into(),
                TableSettings {
                    invalidate_only: true,
                    key_prefix: Some(format!("{}:profile", config.key_prefix)),
                    ..TableSettings::default()
                },
            );
        },
        |mut h| async move {
            let t = TestTable::new("profiles", &[("id", "int8"), ("name", "text")]);
            assert_eq!(
                h.key(&t, "1"),
                format!("{}:profile:1", h.sink.config().key_prefix)
            );
            // The application filled its cache (read-through) in its own format.
            for id in ["1", "2", "3", "4"] {
                let key = h.key(&t, id);
                let _: () = h
                    .query(redis::cmd("SET").arg(&key).arg("cached by the app"))
                    .await;
            }
            h.apply_all(&[
                t.update(20, vec![int(1), text("new")]),
                t.delete(20, int(2)),
                t.create(20, vec![int(5), text("new row")]),
                t.update(30, vec![int(1), unchanged()]),
            ])
            .await;
            // Changed rows are gone, others stay, nothing was written.
            assert_eq!(h.ids(&t).await, id_set(&["3", "4"]));
            // Invalidations are unversioned: an old one late is just another miss.
            h.apply_all(&[t.update(5, vec![int(3), text("old")])]).await;
            assert_eq!(h.ids(&t).await, id_set(&["4"]));
            // A truncate removes every key of the table.
            h.apply_all(&[t.truncate(40, 0)]).await;
            assert!(h.ids(&t).await.is_empty());
        },
    )
    .await;
}
