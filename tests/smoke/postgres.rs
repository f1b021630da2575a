//! PostgreSQL: a logical replication slot with the pgoutput plugin decodes a committed
//! insert into Begin, Relation, Insert and Commit messages.

use sluice_testkit::{Server, address, unique_name};
use tokio_postgres::NoTls;

#[tokio::test]
async fn pgoutput_slot_decodes_a_committed_insert() {
    let url = address(Server::Postgres).await.expect("postgres address");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);

    let wal_level: String = client
        .query_one("SHOW wal_level", &[])
        .await
        .expect("SHOW wal_level")
        .get(0);
    assert_eq!(wal_level, "logical");

    let table = unique_name("smoke_pg");
    let publication = format!("{table}_pub");
    let slot = format!("{table}_slot");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL);
             CREATE PUBLICATION {publication} FOR TABLE {table};"
        ))
        .await
        .expect("create table and publication");
    client
        .execute(
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
            &[&slot],
        )
        .await
        .expect("create slot");

    client
        .execute(
            &format!("INSERT INTO {table} (id, name) VALUES (7, 'gizmo')"),
            &[],
        )
        .await
        .expect("insert");

    let rows = client
        .query(
            "SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, \
             'proto_version', '1', 'publication_names', $2)",
            &[&slot, &publication],
        )
        .await
        .expect("read changes from the slot");
    let messages: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();

    let tags: Vec<char> = messages.iter().map(|m| m[0] as char).collect();
    assert_eq!(tags, ['B', 'R', 'I', 'C'], "pgoutput message sequence");
    let relation = &messages[1];
    assert!(
        contains(relation, table.as_bytes()),
        "the Relation message names the table"
    );
    let insert = &messages[2];
    assert!(
        contains(insert, b"gizmo") && contains(insert, b"7"),
        "the Insert message carries the row's values"
    );

    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .expect("drop slot");
    client
        .batch_execute(&format!(
            "DROP PUBLICATION {publication}; DROP TABLE {table};"
        ))
        .await
        .expect("clean up");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
