//! Inserts, updates, deletes, primary-key updates and unchanged-TOAST updates end as the
//! source rows.

use serde_json::json;
use sluice_event::v1::{self, Numeric, value::Kind};
use sluice_sink_neo4j::NodeTable;

use crate::support::{TestTable, int, text, unchanged, with_harness};

fn node_table(label: String, properties: Option<Vec<String>>) -> NodeTable {
    NodeTable {
        label,
        properties,
        relationships: vec![],
    }
}

#[tokio::test]
async fn inserts_updates_and_deletes_end_as_the_source_rows() {
    with_harness(
        "neo_writes",
        |n, config| {
            config
                .nodes
                .insert(n.key("products"), node_table(n.label("Product"), None));
        },
        |mut h| async move {
            let t = TestTable::new(
                &h.names.table("products"),
                &[
                    ("id", "int8"),
                    ("name", "text"),
                    ("price", "numeric"),
                    ("in_stock", "bool"),
                    ("rating", "float8"),
                    ("attrs", "jsonb"),
                    ("tags", "_text"),
                ],
            );
            let numeric = |d: &str| -> v1::Value {
                Kind::Numeric(Numeric {
                    decimal: d.into(),
                    special: 0,
                })
                .into()
            };
            let jsonb = |s: &str| -> v1::Value { Kind::Jsonb(s.into()).into() };
            h.apply_all(&[
                t.create(
                    10,
                    vec![
                        int(1),
                        text("Kettle"),
                        numeric("12.50"),
                        true.into(),
                        4.5f64.into(),
                        jsonb(r#"{"colour": "red"}"#),
                        jsonb(r#"["a", "b"]"#),
                    ],
                ),
                t.create(
                    10,
                    vec![
                        int(2),
                        text("Teapot"),
                        numeric("9.00"),
                        false.into(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                    ],
                ),
                t.create(
                    10,
                    vec![
                        int(3),
                        text("Mug"),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                        v1::Value::null(),
                    ],
                ),
            ])
            .await;
            // An update that sets columns to NULL removes their properties; a delete
            // removes the node.
            h.apply_all(&[
                t.update(
                    20,
                    vec![
                        int(1),
                        text("Electric kettle"),
                        v1::Value::null(),
                        v1::Value::null(),
                        4.0f64.into(),
                        jsonb("[1, \"x\"]"),
                        jsonb(r#"["a"]"#),
                    ],
                ),
                t.delete(20, 2i64),
            ])
            .await;

            let nodes = h.nodes(&h.label("Product")).await;
            assert_eq!(nodes.len(), 2, "{nodes:?}");
            assert_eq!(
                nodes[r#"["1"]"#],
                json!({
                    "sluice_key": r#"["1"]"#, "sluice_version": 20, "id": 1,
                    "name": "Electric kettle", "rating": 4.0,
                    "attrs": r#"[1,"x"]"#, "tags": ["a"]
                })
            );
            assert_eq!(
                nodes[r#"["3"]"#],
                json!({ "sluice_key": r#"["3"]"#, "sluice_version": 10, "id": 3, "name": "Mug" })
            );
            let table = h.names.key("products");
            assert_eq!(h.tombstones(&table).await.get(r#"["2"]"#), Some(&20));

            // Inserted again after the delete: the tombstone goes.
            h.apply_all(&[t.create(
                30,
                vec![
                    int(2),
                    text("Teapot again"),
                    v1::Value::null(),
                    v1::Value::null(),
                    v1::Value::null(),
                    v1::Value::null(),
                    v1::Value::null(),
                ],
            )])
            .await;
            assert_eq!(
                h.nodes(&h.label("Product")).await[r#"["2"]"#]["name"],
                "Teapot again"
            );
            assert!(h.tombstones(&table).await.is_empty());
        },
    )
    .await;
}

#[tokio::test]
async fn only_the_chosen_columns_and_the_key_are_stored() {
    with_harness(
        "neo_props",
        |n, config| {
            config.nodes.insert(
                n.key("users"),
                node_table(n.label("User"), Some(vec!["email".into()])),
            );
        },
        |mut h| async move {
            let t = TestTable::new(
                &h.names.table("users"),
                &[("id", "int8"), ("email", "text"), ("password_hash", "text")],
            );
            h.apply_all(&[t.create(10, vec![int(1), text("ada@example.com"), text("x")])])
                .await;
            assert_eq!(
                h.nodes(&h.label("User")).await[r#"["1"]"#],
                json!({
                    "sluice_key": r#"["1"]"#, "sluice_version": 10, "id": 1,
                    "email": "ada@example.com"
                })
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_primary_key_update_moves_the_node() {
    with_harness(
        "neo_key_change",
        |n, config| {
            config
                .nodes
                .insert(n.key("accounts"), node_table(n.label("Account"), None));
        },
        |mut h| async move {
            let t = TestTable::new(
                &h.names.table("accounts"),
                &[("id", "int8"), ("owner", "text")],
            );
            let label = h.label("Account");
            h.apply_all(&[t.create(10, vec![int(1), text("ada")])])
                .await;
            h.apply_all(&t.key_change(20, 1i64, vec![int(2), text("ada")]))
                .await;
            let nodes = h.nodes(&label).await;
            assert_eq!(nodes.keys().collect::<Vec<_>>(), [r#"["2"]"#]);
            assert_eq!(nodes[r#"["2"]"#]["sluice_version"], 20);

            // A replay of the old key's insert does not bring it back.
            h.apply_all(&[t.create(10, vec![int(1), text("ada")])])
                .await;
            assert_eq!(
                h.nodes(&label).await.keys().collect::<Vec<_>>(),
                [r#"["2"]"#]
            );

            // Within one batch, moving the row on and back.
            let mut batch = vec![t.create(30, vec![int(7), text("grace")])];
            batch.extend(t.key_change(40, 7i64, vec![int(8), text("grace")]));
            batch.extend(t.key_change(50, 8i64, vec![int(7), text("grace hopper")]));
            h.apply_all(&batch).await;
            let nodes = h.nodes(&label).await;
            assert_eq!(nodes.keys().collect::<Vec<_>>(), [r#"["2"]"#, r#"["7"]"#]);
            assert_eq!(nodes[r#"["7"]"#]["owner"], "grace hopper");
            assert_eq!(nodes[r#"["7"]"#]["sluice_version"], 50);
        },
    )
    .await;
}

#[tokio::test]
async fn an_unchanged_toast_value_keeps_the_stored_property() {
    with_harness(
        "neo_toast",
        |n, config| {
            config
                .nodes
                .insert(n.key("docs"), node_table(n.label("Doc"), None));
        },
        |mut h| async move {
            let t = TestTable::new(
                &h.names.table("docs"),
                &[
                    ("id", "int8"),
                    ("title", "text"),
                    ("body", "text"),
                    ("note", "text"),
                ],
            );
            let label = h.label("Doc");
            let body = "long ".repeat(2000);
            h.apply_all(&[t.create(10, vec![int(1), text("a"), text(&body), text("n")])])
                .await;
            // Across batches: only the sent columns change; NULL still removes.
            h.apply_all(&[t.update(20, vec![int(1), text("b"), unchanged(), v1::Value::null()])])
                .await;
            let node = &h.nodes(&label).await[r#"["1"]"#];
            assert_eq!(node["title"], "b");
            assert_eq!(node["body"], body.as_str());
            assert!(node.get("note").is_none(), "{node}");
            assert_eq!(node["sluice_version"], 20);

            // Within one batch, folded into the full row before it.
            h.apply_all(&[
                t.create(30, vec![int(2), text("x"), text("body two"), text("n")]),
                t.update(40, vec![int(2), text("y"), unchanged(), text("m")]),
            ])
            .await;
            let node = &h.nodes(&label).await[r#"["2"]"#];
            assert_eq!(node["title"], "y");
            assert_eq!(node["body"], "body two");
            assert_eq!(node["note"], "m");

            // An older partial update changes nothing.
            h.apply_all(&[t.update(15, vec![int(1), text("old"), unchanged(), text("old")])])
                .await;
            assert_eq!(h.nodes(&label).await[r#"["1"]"#]["title"], "b");

            // The old row of REPLICA IDENTITY FULL supplies the value.
            h.apply_all(&[t.update_full(
                50,
                vec![
                    int(1),
                    text("b"),
                    text("from the old row"),
                    v1::Value::null(),
                ],
                vec![int(1), text("c"), unchanged(), v1::Value::null()],
            )])
            .await;
            let node = &h.nodes(&label).await[r#"["1"]"#];
            assert_eq!(node["body"], "from the old row");
            assert_eq!(node["title"], "c");
        },
    )
    .await;
}
