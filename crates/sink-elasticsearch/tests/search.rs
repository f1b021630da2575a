//! What the index offers a search: typo-tolerant matching, types for new columns, and
//! per-table settings.

use serde_json::json;
use sluice_event::v1::{Timestamp, value::Kind};
use sluice_sink_elasticsearch::TableIndex;

use crate::support::{TestTable, int, text, with_harness};

#[tokio::test]
async fn a_fuzzy_match_finds_a_misspelt_word() {
    with_harness("es_fuzzy", |_| {}, |mut h| async move {
        let t = TestTable::new("products", &[("id", "int8"), ("name", "varchar")]);
        h.apply_all(&[
            t.create(10, vec![int(1), text("Stainless steel kettle")]),
            t.create(10, vec![int(2), text("Wireless headphones")]),
            t.create(10, vec![int(3), text("Café crème espresso machine")]),
        ])
        .await;
        let fuzzy = |query: &str| json!({ "match": { "name": { "query": query, "fuzziness": "AUTO" } } });
        assert_eq!(h.search(&t, fuzzy("kettel")).await, [r#"["1"]"#]);
        assert_eq!(h.search(&t, fuzzy("wireles hedphones")).await, [r#"["2"]"#]);
        // Accents fold: "cafe creme" finds "Café crème".
        assert_eq!(
            h.search(&t, json!({ "match": { "name": "cafe creme" } })).await,
            [r#"["3"]"#]
        );
        // The keyword subfield matches the exact value.
        assert_eq!(
            h.search(&t, json!({ "term": { "name.keyword": "Wireless headphones" } })).await,
            [r#"["2"]"#]
        );
    })
    .await;
}

#[tokio::test]
async fn a_column_added_by_a_schema_change_is_mapped_from_its_type() {
    with_harness(
        "es_schema_change",
        |_| {},
        |mut h| async move {
            let before = TestTable::new("orders", &[("id", "int8"), ("status", "text")]);
            h.apply_all(&[before.create(10, vec![int(1), text("new")])])
                .await;

            let after = before
                .with_column("shipped_at", "timestamptz")
                .with_column("meta", "jsonb");
            let shipped = Kind::Timestamptz(Timestamp {
                micros: 0,
                infinity: 0,
            })
            .into();
            h.apply_all(&[
                after.schema_change(20, &before),
                after.create(
                    20,
                    vec![
                        int(2),
                        text("shipped"),
                        shipped,
                        Kind::Jsonb(r#"{"a": 1}"#.into()).into(),
                    ],
                ),
            ])
            .await;
            let info = h.index_info(&before).await;
            let properties = &info["mappings"]["properties"];
            assert_eq!(properties["shipped_at"]["type"], "date", "{properties}");
            assert_eq!(properties["meta"]["enabled"], false, "{properties}");
            let docs = h.docs(&before).await;
            assert_eq!(docs[r#"["2"]"#]["shipped_at"], "1970-01-01T00:00:00Z");
            assert_eq!(docs[r#"["2"]"#]["meta"], json!({ "a": 1 }));
        },
    )
    .await;
}

#[tokio::test]
async fn a_table_s_configured_index_settings_and_mappings_are_used() {
    let configure = |config: &mut sluice_sink_elasticsearch::ElasticsearchConfig| {
        let index = format!("{}-catalogue", config.index_prefix);
        config.tables.insert(
            "public.items".into(),
            TableIndex {
                index: Some(index),
                settings: Some(json!({ "index": { "number_of_shards": 2 } })),
                mappings: Some(json!({ "properties": { "name": { "type": "keyword" } } })),
            },
        );
    };
    with_harness("es_configured", configure, |mut h| async move {
        let t = TestTable::new("items", &[("id", "int8"), ("name", "text")]);
        h.apply_all(&[t.create(10, vec![int(1), text("Kettle")])])
            .await;
        assert!(h.index(&t).ends_with("-catalogue"));
        let info = h.index_info(&t).await;
        assert_eq!(info["settings"]["index"]["number_of_shards"], "2");
        assert_eq!(info["settings"]["index"]["number_of_replicas"], "0");
        assert_eq!(info["settings"]["index"]["gc_deletes"], "1d");
        assert_eq!(info["mappings"]["properties"]["name"]["type"], "keyword");
        assert_eq!(info["mappings"]["properties"]["id"]["type"], "long");
        assert_eq!(h.docs(&t).await.len(), 1);
    })
    .await;
}
