//! Updates that leave a TOASTed value unchanged keep the stored value, in both formats.

use serde_json::json;
use sluice_sink_redis::{Format, RedisConfig, TableSettings};

use crate::support::{TestTable, fields, int, text, unchanged, with_harness};

fn documents() -> TestTable {
    TestTable::new(
        "documents",
        &[("id", "int8"), ("title", "text"), ("body", "text")],
    )
}

fn long_body() -> String {
    "lorem ipsum ".repeat(2000)
}

fn json_format(config: &mut RedisConfig) {
    config.tables.insert(
        "public.documents".into(),
        TableSettings {
            format: Format::Json,
            ..TableSettings::default()
        },
    );
}

#[tokio::test]
async fn an_unchanged_toast_value_is_kept_in_a_hash() {
    with_harness(
        "redis_toast_hash",
        |_| {},
        |mut h| async move {
            let t = documents();
            // Across batches.
            h.apply_all(&[t.create(10, vec![int(1), text("draft"), text(&long_body())])])
                .await;
            h.apply_all(&[t.update(20, vec![int(1), text("final"), unchanged()])])
                .await;
            let expected = |title: &str, version: &str| {
                fields(&[
                    ("id", "1"),
                    ("title", title),
                    ("body", &long_body()),
                    ("_sluice_version", version),
                ])
            };
            assert_eq!(h.hash(&t, "1").await, expected("final", "20"));

            // Two partial updates in one batch, over the stored row; one sets a column NULL.
            h.apply_all(&[
                t.update(
                    30,
                    vec![int(1), sluice_event::v1::Value::null(), unchanged()],
                ),
                t.update(40, vec![int(1), text("final, last"), unchanged()]),
            ])
            .await;
            assert_eq!(h.hash(&t, "1").await, expected("final, last", "40"));
            h.apply_all(&[t.update(
                50,
                vec![int(1), sluice_event::v1::Value::null(), unchanged()],
            )])
            .await;
            assert_eq!(
                h.hash(&t, "1").await,
                fields(&[
                    ("id", "1"),
                    ("body", &long_body()),
                    ("_sluice_version", "50")
                ])
            );

            // Within one batch: merged into the full row before it.
            h.apply_all(&[
                t.create(10, vec![int(2), text("other"), text("short")]),
                t.update(20, vec![int(2), text("other, renamed"), unchanged()]),
            ])
            .await;
            assert_eq!(
                h.hash(&t, "2").await,
                fields(&[
                    ("id", "2"),
                    ("title", "other, renamed"),
                    ("body", "short"),
                    ("_sluice_version", "20")
                ])
            );

            // An older partial update after a newer full row changes nothing.
            h.apply_all(&[t.update(15, vec![int(2), text("stale"), unchanged()])])
                .await;
            assert_eq!(h.hash(&t, "2").await["title"], "other, renamed");
        },
    )
    .await;
}

#[tokio::test]
async fn an_unchanged_toast_value_is_kept_in_json() {
    with_harness("redis_toast_json", json_format, |mut h| async move {
        let t = documents();
        h.apply_all(&[t.create(10, vec![int(1), text("draft"), text(&long_body())])]).await;
        h.apply_all(&[t.update(20, vec![int(1), text("final"), unchanged()])]).await;
        assert_eq!(
            h.json(&t, "1").await,
            Some(json!({ "_sluice_version": 20, "id": 1, "title": "final", "body": long_body() }))
        );
        h.apply_all(&[
            t.update(30, vec![int(1), sluice_event::v1::Value::null(), unchanged()]),
            t.update(40, vec![int(1), text("final, last"), unchanged()]),
        ])
        .await;
        assert_eq!(
            h.json(&t, "1").await,
            Some(json!({ "_sluice_version": 40, "id": 1, "title": "final, last", "body": long_body() }))
        );
        h.apply_all(&[
            t.create(10, vec![int(2), text("other"), text("short")]),
            t.update(20, vec![int(2), text("other, renamed"), unchanged()]),
        ])
        .await;
        assert_eq!(
            h.json(&t, "2").await,
            Some(json!({ "_sluice_version": 20, "id": 2, "title": "other, renamed", "body": "short" }))
        );
        // Older than the stored row: nothing to do.
        h.apply_all(&[t.update(35, vec![int(1), text("stale"), unchanged()])]).await;
        assert_eq!(h.json(&t, "1").await.unwrap()["title"], "final, last");
        // Replaying the history converges to the same documents.
        h.apply_all(&[
            t.create(10, vec![int(1), text("draft"), text(&long_body())]),
            t.update(20, vec![int(1), text("final"), unchanged()]),
        ])
        .await;
        assert_eq!(h.json(&t, "1").await.unwrap()["title"], "final, last");
    })
    .await;
}

#[tokio::test]
async fn a_partial_update_of_a_missing_row_is_rejected_and_remembered() {
    for (name, configure) in [
        (
            "redis_toast_missing_hash",
            (|_: &mut RedisConfig| {}) as fn(&mut RedisConfig),
        ),
        ("redis_toast_missing_json", json_format),
    ] {
        with_harness(name, configure, |mut h| async move {
            let t = documents();
            let applied = h
                .apply(&[
                    t.create(40, vec![int(3), text("fine"), text("body")]),
                    t.update(40, vec![int(2), text("orphan"), unchanged()]),
                ])
                .await;
            assert_eq!(applied.rejected.len(), 1, "{:?}", applied.rejected);
            assert_eq!(applied.rejected[0].index, 1);
            assert!(
                applied.rejected[0].reason.contains("does not hold"),
                "{}",
                applied.rejected[0].reason
            );
            assert!(!applied.rejected[0].reason.contains("orphan"));
            assert!(h.hash_or_json_missing(&t, "2").await);
            // The update's version is remembered: an older full row is refused.
            h.apply_all(&[t.create(30, vec![int(2), text("older"), text("body")])])
                .await;
            assert!(h.hash_or_json_missing(&t, "2").await);
        })
        .await;
    }
}

#[tokio::test]
async fn with_replica_identity_full_the_old_row_supplies_the_unchanged_value() {
    for (name, configure) in [
        (
            "redis_toast_full_hash",
            (|_: &mut RedisConfig| {}) as fn(&mut RedisConfig),
        ),
        ("redis_toast_full_json", json_format),
    ] {
        with_harness(name, configure, |mut h| async move {
            let t = documents();
            // The sink never saw the row: the old row in the event is all it needs.
            h.apply_all(&[t.update_full(
                20,
                vec![int(1), text("draft"), text(&long_body())],
                vec![int(1), text("final"), unchanged()],
            )])
            .await;
            assert_eq!(h.column(&t, "1", "body").await, Some(long_body()));
            assert_eq!(h.column(&t, "1", "title").await, Some("final".into()));
        })
        .await;
    }
}

#[tokio::test]
async fn a_partial_update_of_an_expired_row_of_a_ttl_table_is_a_cache_miss() {
    with_harness(
        "redis_toast_ttl",
        |config| {
            config.tables.insert(
                "public.documents".into(),
                TableSettings {
                    ttl_seconds: Some(600),
                    ..TableSettings::default()
                },
            );
        },
        |mut h| async move {
            let t = documents();
            h.apply_all(&[t.update(40, vec![int(1), text("orphan"), unchanged()])])
                .await;
            assert!(h.hash(&t, "1").await.is_empty());
        },
    )
    .await;
}

impl crate::support::Harness {
    /// Whether neither a hash nor a JSON row is stored for `id`.
    async fn hash_or_json_missing(&mut self, table: &TestTable, id: &str) -> bool {
        let key = self.key(table, id);
        let exists: i64 = self.query(redis::cmd("EXISTS").arg(&key)).await;
        exists == 0
    }

    /// A text column of the row, whichever the format.
    async fn column(&mut self, table: &TestTable, id: &str, column: &str) -> Option<String> {
        let key = self.key(table, id);
        let kind: String = self.query(redis::cmd("TYPE").arg(&key)).await;
        match kind.as_str() {
            "hash" => self.hash(table, id).await.get(column).cloned(),
            "string" => self
                .json(table, id)
                .await
                .and_then(|row| row[column].as_str().map(str::to_owned)),
            _ => None,
        }
    }
}
