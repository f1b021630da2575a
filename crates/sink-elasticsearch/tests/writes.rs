//! Inserts, updates, deletes and primary-key updates end as the source rows, in an index
//! created from the columns' types.

use serde_json::json;
use sluice_event::v1::{self, Numeric, Timestamp, value::Kind};

use crate::support::{TestTable, int, text, with_harness};

fn products() -> TestTable {
    TestTable::new(
        "products",
        &[
            ("id", "int8"),
            ("name", "text"),
            ("price", "numeric"),
            ("in_stock", "bool"),
            ("rating", "float8"),
            ("added_at", "timestamptz"),
            ("attrs", "jsonb"),
            ("sku", "uuid"),
        ],
    )
}

fn numeric(decimal: &str) -> v1::Value {
    Kind::Numeric(Numeric {
        decimal: decimal.into(),
        special: 0,
    })
    .into()
}

fn timestamptz(micros: i64, infinity: v1::Infinity) -> v1::Value {
    Kind::Timestamptz(Timestamp {
        micros,
        infinity: infinity as i32,
    })
    .into()
}

fn uuid(last: u8) -> v1::Value {
    let mut bytes = vec![0xa0; 16];
    bytes[15] = last;
    Kind::Uuid(bytes).into()
}

#[tokio::test]
async fn inserts_updates_and_deletes_end_as_the_source_rows() {
    with_harness(
        "es_writes",
        |_| {},
        |mut h| async move {
            let t = products();
            // 2024-05-17 12:00:00.5 UTC
            let noon = 1_715_947_200_500_000;
            let finite = v1::Infinity::Unspecified;
            h.apply_all(&[
                t.create(
                    10,
                    vec![
                        int(1),
                        text("Stainless steel kettle"),
                        numeric("12.50"),
                        true.into(),
                        4.5f64.into(),
                        timestamptz(noon, finite),
                        Kind::Jsonb(r#"{"colour": "red", "sizes": [1, 2]}"#.into()).into(),
                        uuid(1),
                    ],
                ),
                t.create(
                    10,
                    vec![
                        int(2),
                        text("Espresso machine"),
                        numeric("199.00"),
                        false.into(),
                        f64::NAN.into(),
                        timestamptz(0, v1::Infinity::Positive),
                        Kind::Jsonb("[1, 2]".into()).into(),
                        uuid(2),
                    ],
                ),
                t.create(
                    10,
                    vec![
                        int(3),
                        text("Teapot"),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                    ],
                ),
            ])
            .await;
            h.apply_all(&[
                t.update(
                    20,
                    vec![
                        int(1),
                        text("Electric kettle"),
                        numeric("14.00"),
                        false.into(),
                        4.0f64.into(),
                        timestamptz(noon, finite),
                        Kind::Jsonb("{}".into()).into(),
                        uuid(1),
                    ],
                ),
                t.delete(20, 2i64),
            ])
            .await;

            let docs = h.docs(&t).await;
            assert_eq!(docs.len(), 2, "{docs:?}");
            assert_eq!(
                docs[r#"["1"]"#],
                json!({
                    "id": 1, "name": "Electric kettle", "price": "14.00", "in_stock": false,
                    "rating": 4.0, "added_at": "2024-05-17T12:00:00.5Z", "attrs": {},
                    "sku": "a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a001", "sluice_version": 20
                })
            );
            assert_eq!(
                docs[r#"["3"]"#],
                json!({
                    "id": 3, "name": "Teapot", "price": null, "in_stock": null, "rating": null,
                    "added_at": null, "attrs": null, "sku": null, "sluice_version": 10
                })
            );
            let doc = h.doc(&t, r#"["1"]"#).await.expect("document 1");
            assert_eq!(doc["_version"], json!(20), "{doc}");

            // The index was created from the columns' types.
            let info = h.index_info(&t).await;
            let properties = &info["mappings"]["properties"];
            assert_eq!(properties["id"]["type"], "long");
            assert_eq!(properties["name"]["type"], "text");
            assert_eq!(properties["name"]["fields"]["keyword"]["type"], "keyword");
            assert_eq!(properties["price"]["type"], "double");
            assert_eq!(properties["in_stock"]["type"], "boolean");
            assert_eq!(properties["added_at"]["type"], "date");
            assert_eq!(properties["attrs"]["type"], "object");
            assert_eq!(properties["attrs"]["enabled"], false);
            assert_eq!(properties["sku"]["type"], "keyword");
            assert_eq!(properties["sluice_version"]["type"], "long");
            let settings = &info["settings"]["index"];
            assert_eq!(settings["gc_deletes"], "1d");
            assert_eq!(settings["number_of_shards"], "1");
            assert_eq!(settings["number_of_replicas"], "0");
        },
    )
    .await;
}

#[tokio::test]
async fn a_primary_key_update_moves_the_document() {
    with_harness(
        "es_key_change",
        |_| {},
        |mut h| async move {
            let t = TestTable::new("accounts", &[("id", "int8"), ("owner", "text")]);

            // In separate batches.
            h.apply_all(&[t.create(10, vec![int(1), text("ada")])])
                .await;
            h.apply_all(&t.key_change(20, 1i64, vec![int(2), text("ada")]))
                .await;
            let docs = h.docs(&t).await;
            assert_eq!(docs.keys().collect::<Vec<_>>(), [r#"["2"]"#]);
            assert_eq!(
                docs[r#"["2"]"#],
                json!({ "id": 2, "owner": "ada", "sluice_version": 20 })
            );

            // A replay of the old key's insert does not bring it back: the delete's
            // tombstone is newer.
            h.apply_all(&[t.create(10, vec![int(1), text("ada")])])
                .await;
            assert_eq!(h.docs(&t).await.keys().collect::<Vec<_>>(), [r#"["2"]"#]);

            // Within one batch, moving the row on and back.
            let mut batch = vec![t.create(30, vec![int(7), text("grace")])];
            batch.extend(t.key_change(40, 7i64, vec![int(8), text("grace")]));
            batch.extend(t.key_change(50, 8i64, vec![int(7), text("grace hopper")]));
            h.apply_all(&batch).await;
            let docs = h.docs(&t).await;
            assert_eq!(docs.keys().collect::<Vec<_>>(), [r#"["2"]"#, r#"["7"]"#]);
            assert_eq!(
                docs[r#"["7"]"#],
                json!({ "id": 7, "owner": "grace hopper", "sluice_version": 50 })
            );
        },
    )
    .await;
}
