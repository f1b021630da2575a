//! Inserts, updates, deletes and primary-key updates end as the source rows, as hashes
//! and as JSON.

use serde_json::json;
use sluice_sink::testing::TestTable;
use sluice_sink_redis::{Format, TableSettings};

use crate::support::{fields, id_set, int, text, with_harness};

fn items() -> TestTable {
    TestTable::new(
        "items",
        &[("id", "int8"), ("name", "text"), ("note", "text")],
    )
}

#[tokio::test]
async fn rows_converge_as_hashes() {
    with_harness(
        "redis_writes_hash",
        |_| {},
        |mut h| async move {
            let t = items();
            h.apply_all(&[
                t.create(10, vec![int(1), text("kettle"), text("")]),
                t.create(
                    10,
                    vec![int(2), text("teapot"), sluice_event::v1::Value::null()],
                ),
                t.create(11, vec![int(3), text("cup"), text("blue")]),
            ])
            .await;
            h.apply_all(&[
                t.update(20, vec![int(1), text("kettle, steel"), text("")]),
                t.delete(21, int(3)),
            ])
            .await;

            assert_eq!(
                h.key(&t, "1"),
                format!("{}:public.items:1", h.sink.config().key_prefix)
            );
            assert_eq!(
                h.hash(&t, "1").await,
                fields(&[
                    ("id", "1"),
                    ("name", "kettle, steel"),
                    ("note", ""),
                    ("_sluice_version", "20")
                ])
            );
            // NULL has no field; an empty string is an empty field.
            assert_eq!(
                h.hash(&t, "2").await,
                fields(&[("id", "2"), ("name", "teapot"), ("_sluice_version", "10")])
            );
            assert!(h.hash(&t, "3").await.is_empty());
            assert_eq!(h.ids(&t).await, id_set(&["1", "2"]));

            // A full update that sets a column to NULL removes its field.
            h.apply_all(&[t.update(
                30,
                vec![int(1), text("kettle"), sluice_event::v1::Value::null()],
            )])
            .await;
            assert_eq!(
                h.hash(&t, "1").await,
                fields(&[("id", "1"), ("name", "kettle"), ("_sluice_version", "30")])
            );
        },
    )
    .await;
}

#[tokio::test]
async fn rows_converge_as_json() {
    with_harness(
        "redis_writes_json",
        |config| {
            config.tables.insert(
                "public.items".into(),
                TableSettings {
                    format: Format::Json,
                    ..TableSettings::default()
                },
            );
        },
        |mut h| async move {
            let t = items();
            h.apply_all(&[
                t.create(10, vec![int(1), text("kettle"), sluice_event::v1::Value::null()]),
                t.create(10, vec![int(2), text("teapot"), text("x")]),
                t.update(20, vec![int(1), text("kettle, steel"), text("hot")]),
                t.delete(21, int(2)),
            ])
            .await;
            assert_eq!(
                h.json(&t, "1").await,
                Some(json!({ "_sluice_version": 20, "id": 1, "name": "kettle, steel", "note": "hot" }))
            );
            assert_eq!(h.json(&t, "2").await, None);
            h.apply_all(&[t.update(30, vec![int(1), text("kettle"), sluice_event::v1::Value::null()])])
                .await;
            assert_eq!(
                h.json(&t, "1").await,
                Some(json!({ "_sluice_version": 30, "id": 1, "name": "kettle", "note": null }))
            );
            // The version is the document's first member.
            let raw: String = h.query(redis::cmd("GET").arg(h.key(&t, "1"))).await;
            assert!(raw.starts_with(r#"{"_sluice_version":30,"#), "{raw}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_primary_key_update_moves_the_row() {
    with_harness(
        "redis_writes_pk",
        |_| {},
        |mut h| async move {
            let t = items();
            h.apply_all(&[t.create(10, vec![int(1), text("kettle"), text("a")])])
                .await;
            // The two halves can arrive in either order (they are in different partitions).
            let [delete, create] =
                t.key_change(20, int(1), vec![int(5), text("kettle"), text("a")]);
            h.apply_all(std::slice::from_ref(&create)).await;
            h.apply_all(std::slice::from_ref(&delete)).await;
            assert_eq!(h.ids(&t).await, id_set(&["5"]));
            assert_eq!(h.hash(&t, "5").await["_sluice_version"], "20");

            // Replayed, in one batch, the other way round: the same result.
            h.apply_all(&[
                t.create(10, vec![int(1), text("kettle"), text("a")]),
                delete,
                create,
            ])
            .await;
            assert_eq!(h.ids(&t).await, id_set(&["5"]));
        },
    )
    .await;
}

#[tokio::test]
async fn composite_and_awkward_keys_stay_distinct() {
    with_harness(
        "redis_writes_keys",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("codes", &[("code", "text"), ("n", "int8")]);
            h.apply_all(&[
                t.create(10, vec![text("a:b"), int(1)]),
                t.create(10, vec![text(r"a\"), int(2)]),
                t.create(10, vec![text("*"), int(3)]),
            ])
            .await;
            assert_eq!(h.ids(&t).await, id_set(&[r"a\:b", r"a\\", "*"]));
            assert_eq!(h.hash(&t, "a:b").await["n"], "1");
            assert_eq!(h.hash(&t, r"a\").await["n"], "2");
            // A snapshot read is a write like a create.
            h.apply_all(&[t.read(30, vec![text("*"), int(4)])]).await;
            assert_eq!(h.hash(&t, "*").await["n"], "4");
        },
    )
    .await;
}
