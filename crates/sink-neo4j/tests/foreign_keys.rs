//! A foreign key is a relationship: created with the row, moved when the key changes,
//! removed when it becomes NULL or the row is deleted; a target not arrived yet is a
//! placeholder, filled when its row arrives.

use serde_json::json;
use sluice_event::v1;
use sluice_sink_neo4j::{Direction, ForeignKey, NodeTable};

use crate::support::{Names, TestTable, int, text, with_harness};

fn configure(n: &Names, config: &mut sluice_sink_neo4j::Neo4jConfig) {
    config
        .nodes
        .insert(n.key("users"), NodeTable::new(n.label("User")));
    config.nodes.insert(
        n.key("orders"),
        NodeTable {
            label: n.label("Order"),
            properties: None,
            relationships: vec![ForeignKey {
                columns: vec!["user_id".into()],
                target: n.key("users"),
                rel_type: n.label("PLACED"),
                direction: Direction::Incoming,
            }],
        },
    );
}

#[tokio::test]
async fn a_foreign_key_relationship_follows_the_row() {
    with_harness("neo_fk", configure, |mut h| async move {
        let users = TestTable::new(&h.names.table("users"), &[("id", "int8"), ("name", "text")]);
        let orders = TestTable::new(
            &h.names.table("orders"),
            &[("id", "int8"), ("user_id", "int8"), ("status", "text")],
        );
        let placed = h.label("PLACED");
        let user_label = h.label("User");
        h.apply_all(&[
            users.create(10, vec![int(1), text("ada")]),
            users.create(10, vec![int(2), text("grace")]),
            orders.create(11, vec![int(100), int(1), text("new")]),
            orders.create(11, vec![int(101), int(1), text("new")]),
        ])
        .await;
        assert_eq!(
            h.edges(&placed).await,
            [
                (r#"["1"]"#.into(), r#"["100"]"#.into()),
                (r#"["1"]"#.into(), r#"["101"]"#.into())
            ]
        );

        // The foreign key changes: the relationship moves. An update without a change
        // keeps it (one relationship, not two).
        h.apply_all(&[
            orders.update(20, vec![int(100), int(2), text("paid")]),
            orders.update(20, vec![int(101), int(1), text("paid")]),
        ])
        .await;
        h.apply_all(&[orders.update(21, vec![int(101), int(1), text("shipped")])])
            .await;
        assert_eq!(
            h.edges(&placed).await,
            [
                (r#"["1"]"#.into(), r#"["101"]"#.into()),
                (r#"["2"]"#.into(), r#"["100"]"#.into())
            ]
        );
        // An older event of the order does not move it back.
        h.apply_all(&[orders.update(15, vec![int(100), int(1), text("old")])])
            .await;
        assert_eq!(h.edges(&placed).await.len(), 2);
        assert!(
            h.edges(&placed)
                .await
                .contains(&(r#"["2"]"#.into(), r#"["100"]"#.into()))
        );

        // NULL: no relationship; a delete removes it with the node.
        h.apply_all(&[
            orders.update(30, vec![int(100), v1::Value::null(), text("orphaned")]),
            orders.delete(30, 101i64),
        ])
        .await;
        assert!(h.edges(&placed).await.is_empty());
        // The users are untouched (they are rows, not placeholders).
        assert_eq!(h.nodes(&user_label).await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_target_not_arrived_yet_is_a_placeholder_filled_later() {
    with_harness("neo_fk_placeholder", configure, |mut h| async move {
        let users = TestTable::new(&h.names.table("users"), &[("id", "int8"), ("name", "text")]);
        let orders = TestTable::new(
            &h.names.table("orders"),
            &[("id", "int8"), ("user_id", "int8"), ("status", "text")],
        );
        let placed = h.label("PLACED");
        let user_label = h.label("User");
        // The order arrives before its user (another topic).
        h.apply_all(&[orders.create(20, vec![int(100), int(7), text("new")])])
            .await;
        assert_eq!(
            h.edges(&placed).await,
            [(r#"["7"]"#.into(), r#"["100"]"#.into())]
        );
        assert_eq!(
            h.nodes(&user_label).await[r#"["7"]"#],
            json!({ "sluice_key": r#"["7"]"# })
        );
        // The user's row arrives (older than the order): it fills the placeholder.
        h.apply_all(&[users.create(10, vec![int(7), text("ada")])])
            .await;
        let users_now = h.nodes(&user_label).await;
        assert_eq!(users_now.len(), 1);
        assert_eq!(users_now[r#"["7"]"#]["name"], "ada");
        assert_eq!(users_now[r#"["7"]"#]["sluice_version"], 10);
        assert_eq!(
            h.edges(&placed).await,
            [(r#"["7"]"#.into(), r#"["100"]"#.into())]
        );

        // A placeholder nothing references any more is removed: order 101 points at
        // user 8 (not arrived), then moves to user 7.
        h.apply_all(&[orders.create(30, vec![int(101), int(8), text("new")])])
            .await;
        assert!(h.nodes(&user_label).await.contains_key(r#"["8"]"#));
        h.apply_all(&[orders.update(31, vec![int(101), int(7), text("new")])])
            .await;
        assert_eq!(
            h.nodes(&user_label).await.keys().collect::<Vec<_>>(),
            [r#"["7"]"#]
        );

        // A user deleted while a newer order still points at them (the user was inserted
        // again, and that insert is still on its way): the relationship stays, on a
        // placeholder, which the insert fills.
        h.apply_all(&[orders.create(50, vec![int(102), int(9), text("new")])])
            .await;
        h.apply_all(&[users.delete(40, 9i64)]).await;
        assert_eq!(
            h.nodes(&user_label).await[r#"["9"]"#],
            json!({ "sluice_key": r#"["9"]"# })
        );
        h.apply_all(&[users.create(45, vec![int(9), text("linus")])])
            .await;
        assert_eq!(h.nodes(&user_label).await[r#"["9"]"#]["name"], "linus");
        assert!(
            h.edges(&placed)
                .await
                .contains(&(r#"["9"]"#.into(), r#"["102"]"#.into()))
        );

        // Deleting the user removes the older relationships to them.
        h.apply_all(&[users.delete(60, 7i64)]).await;
        let edges = h.edges(&placed).await;
        assert_eq!(edges, [(r#"["9"]"#.into(), r#"["102"]"#.into())]);
        assert!(!h.nodes(&user_label).await.contains_key(r#"["7"]"#));
        // An older order pointing at the deleted user makes no placeholder.
        h.apply_all(&[orders.update(55, vec![int(103), int(7), text("late")])])
            .await;
        assert!(!h.nodes(&user_label).await.contains_key(r#"["7"]"#));
    })
    .await;
}
