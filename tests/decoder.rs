//! The decoder end to end: rows of every value type written to a real table, read back
//! through a logical replication slot with pgoutput in text and in binary format, decoded
//! by `sluice-pgoutput` and typed by `sluice-pgvalue`. Both formats must give the same
//! values, and those must render back to what PostgreSQL itself prints for the row.

use bytes::Bytes;
use sluice_pgoutput::{
    Cell, Decoder, LogicalMessage, OldTuple, RelationCache, register_type_name, typed_row,
};
use sluice_pgvalue::{TypeRegistry, Value};
use sluice_testkit::{Server, address, unique_name};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Session settings under which PostgreSQL's text output is what `sluice-pgvalue` parses;
/// the source sets the same on its replication connection.
const SETTINGS: &str = "SET TimeZone = 'Asia/Kolkata'; SET DateStyle = 'ISO, MDY'; \
    SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

/// (column type, value literal) pairs: one column per type family the decoder knows.
const COLUMNS: &[(&str, &str)] = &[
    ("bool", "true"),
    ("int2", "'-32768'"),
    ("int4", "2147483647"),
    ("int8", "'-9223372036854775808'"),
    ("oid", "4294967295"),
    ("float4", "'NaN'"),
    ("float8", "'-Infinity'"),
    (
        "numeric",
        "'123456789012345678901234567890.000000000000000000001'",
    ),
    ("numeric(10,2)", "'NaN'"),
    ("numeric", "'Infinity'"),
    ("numeric", "'-Infinity'"),
    ("float4", "'Infinity'"),
    ("text", "'naïve \"quoted\", {braced} \\ backslash'"),
    ("varchar(20)", "'short'"),
    ("bpchar(5)", "'ab'"),
    ("bytea", "'\\x00ff10'"),
    ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
    ("json", "'{\"a\": [1, 2.5, null]}'"),
    ("jsonb", "'{\"b\": {\"c\": true}}'"),
    ("date", "'0044-03-15 BC'"),
    ("date", "'infinity'"),
    ("time", "'23:59:59.999999'"),
    ("timetz", "'04:05:06.789-08'"),
    ("timestamp", "'infinity'"),
    ("timestamptz", "'2024-02-29 23:30:00.123456+05:30'"),
    ("timestamptz", "'-infinity'"),
    // Printed in the session's zone with its local mean time offset, +05:53:28.
    ("timestamptz", "'0044-03-15 12:00:00+00 BC'"),
    ("interval", "'-1 years 2 mons -3 days 04:05:06.789'"),
    ("inet", "'2001:db8::1/64'"),
    ("cidr", "'10.1.0.0/16'"),
    ("macaddr", "'08:00:2b:01:02:03'"),
    ("money", "'-1234.56'"),
    ("bit(4)", "B'1010'"),
    ("varbit", "B'1'"),
    ("int4[]", "'[0:1][1:2]={{1,NULL},{3,4}}'"),
    ("text[]", "ARRAY['a,b', NULL, 'NULL', '', 'q\"uote']"),
    ("int4range", "'[1,10)'"),
    ("tstzrange", "'(,\"2020-01-01 00:00:00+00\"]'"),
    ("numrange", "'empty'"),
];

#[tokio::test]
async fn every_value_type_decodes_alike_in_text_and_binary() {
    let client = connect().await;
    let table = unique_name("decoder_types");
    let mood = format!("{table}_mood");
    let positive = format!("{table}_positive");
    let mut columns = vec!["id int8 PRIMARY KEY".to_owned()];
    columns.extend(
        COLUMNS
            .iter()
            .enumerate()
            .map(|(i, (ty, _))| format!("c{i} {ty}")),
    );
    columns.push(format!("c_enum {mood}"));
    columns.push(format!("c_domain {positive}"));
    columns.push(format!("c_enum_array {mood}[]"));
    let mut literals = vec!["1".to_owned()];
    literals.extend(COLUMNS.iter().map(|(ty, lit)| format!("{lit}::{ty}")));
    literals.extend([
        "'happy'".to_owned(),
        "42".to_owned(),
        format!("ARRAY['sad', 'happy']::{mood}[]"),
    ]);
    client
        .batch_execute(&format!(
            "CREATE TYPE {mood} AS ENUM ('sad', 'happy');
             CREATE DOMAIN {positive} AS int4 CHECK (VALUE > 0);
             CREATE TABLE {table} ({});
             CREATE PUBLICATION {table}_pub FOR TABLE {table};",
            columns.join(", ")
        ))
        .await
        .expect("create table, types and publication");
    let slot = create_slot(&client, &table).await;
    client
        .batch_execute(&format!(
            "INSERT INTO {table} VALUES ({})",
            literals.join(", ")
        ))
        .await
        .expect("insert the row");

    let registry = load_registry(&client).await;
    let text = changes(&client, &slot, &format!("{table}_pub"), false).await;
    let binary = changes(&client, &slot, &format!("{table}_pub"), true).await;
    let text_row = inserted_row(&text, &registry);
    let binary_row = inserted_row(&binary, &registry);
    assert_eq!(text_row.len(), COLUMNS.len() + 4);
    assert_eq!(text_row, binary_row, "text and binary formats decode alike");

    // Each value renders back to exactly what PostgreSQL prints for it.
    let expected = row_as_text(&client, &table).await;
    for (i, (cell, expected)) in text_row.iter().zip(&expected).enumerate() {
        let Cell::Value(value) = cell else {
            panic!("column {i}: unexpected {cell:?}");
        };
        assert_eq!(
            &value.to_pg_text(),
            expected.as_deref().expect("no NULL in the row"),
            "column {i} ({})",
            COLUMNS
                .get(i.wrapping_sub(1))
                .map_or("id/user type", |c| c.0)
        );
    }
    // User types keep their meaning: the enum its label and type, the domain its base type.
    let enum_cell = &text_row[COLUMNS.len() + 1];
    assert!(
        matches!(enum_cell, Cell::Value(Value::Enum(e)) if e.label == "happy" && e.type_name.ends_with("_mood")),
        "{enum_cell:?}"
    );
    assert_eq!(text_row[COLUMNS.len() + 2], Cell::Value(Value::Int4(42)));

    drop_slot(&client, &slot, &table).await;
}

#[tokio::test]
async fn unchanged_toast_and_old_keys_are_kept_apart() {
    let client = connect().await;
    let table = unique_name("decoder_toast");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int8 PRIMARY KEY, big text, n int4);
             ALTER TABLE {table} ALTER COLUMN big SET STORAGE EXTERNAL;
             CREATE PUBLICATION {table}_pub FOR TABLE {table};"
        ))
        .await
        .expect("create table");
    let slot = create_slot(&client, &table).await;
    client
        .batch_execute(&format!(
            "INSERT INTO {table} VALUES (1, repeat('x', 10000), 1);
             UPDATE {table} SET n = 2 WHERE id = 1;
             UPDATE {table} SET id = 5 WHERE id = 1;"
        ))
        .await
        .expect("insert and update");

    let registry = TypeRegistry::new();
    let messages = changes(&client, &slot, &format!("{table}_pub"), false).await;
    let mut cache = RelationCache::new();
    let mut updates = Vec::new();
    for message in &messages {
        cache.apply(message);
        if let LogicalMessage::Update(update) = message {
            let relation = cache.relation(update.relation_id).expect("relation");
            let new = typed_row(relation, &update.new_tuple, &registry).expect("typed row");
            let old = update.old_tuple.as_ref().map(|old| match old {
                OldTuple::Key(tuple) | OldTuple::Full(tuple) => {
                    typed_row(relation, tuple, &registry).expect("typed old row")
                }
            });
            updates.push((new, old));
        }
    }
    assert_eq!(updates.len(), 2);
    // The first update did not touch the TOASTed column: it is marked, never faked.
    let (new, old) = &updates[0];
    assert_eq!(new[1], Cell::UnchangedToast);
    assert_eq!(new[2], Cell::Value(Value::Int4(2)));
    assert!(old.is_none(), "no key change, no old tuple");
    // The primary-key update carries the old key.
    let (new, old) = &updates[1];
    assert_eq!(new[0], Cell::Value(Value::Int8(5)));
    let old = old.as_ref().expect("old key of a primary-key update");
    assert_eq!(old[0], Cell::Value(Value::Int8(1)));

    drop_slot(&client, &slot, &table).await;
}

#[tokio::test]
async fn types_it_does_not_know_become_text_with_their_names() {
    let client = connect().await;
    let table = unique_name("decoder_unknown");
    let (pair, mood) = (format!("{table}_pair"), format!("{table}_mood"));
    client
        .batch_execute(&format!(
            "CREATE TYPE {pair} AS (n int4, label text);
             CREATE TYPE {mood} AS ENUM ('sad', 'happy');
             CREATE TABLE {table} (id int8 PRIMARY KEY, p point, pair {pair}, mood {mood},
                                   moods {mood}[]);
             CREATE PUBLICATION {table}_pub FOR TABLE {table};"
        ))
        .await
        .expect("create types, table and publication");
    let slot = create_slot(&client, &table).await;
    client
        .batch_execute(&format!(
            "INSERT INTO {table} VALUES (1, '(1.5,-2)', ROW(7, 'x y'), 'happy', '{{sad,happy}}')"
        ))
        .await
        .expect("insert the row");

    // A registry loaded before the types existed: it knows only the built-in types, and
    // learns the others' names from pgoutput's Type messages.
    let mut registry = TypeRegistry::new();
    let messages = changes(&client, &slot, &format!("{table}_pub"), false).await;
    let mut announced = Vec::new();
    for message in &messages {
        if let LogicalMessage::Type(type_message) = message {
            assert!(register_type_name(&mut registry, type_message));
            announced.push(type_message.name.clone());
        }
    }
    announced.sort();
    let mut expected_names = vec![pair.clone(), mood.clone(), format!("_{mood}")];
    expected_names.sort();
    assert_eq!(announced, expected_names, "a Type message per user type");

    let row = inserted_row(&messages, &registry);
    let names: Vec<Option<&str>> = row[1..]
        .iter()
        .map(|cell| match cell {
            Cell::Value(Value::Other(other)) => other.type_name.as_deref(),
            cell => panic!("not Value::Other: {cell:?}"),
        })
        .collect();
    let array = format!("_{mood}");
    assert_eq!(
        names,
        [
            Some("point"),
            Some(pair.as_str()),
            Some(mood.as_str()),
            Some(array.as_str())
        ]
    );
    let expected = row_as_text(&client, &table).await;
    for (cell, expected) in row.iter().zip(&expected).skip(1) {
        let Cell::Value(value) = cell else {
            unreachable!()
        };
        assert_eq!(Some(value.to_pg_text()), *expected);
    }

    drop_slot(&client, &slot, &table).await;
    client
        .batch_execute(&format!("DROP TYPE {pair}; DROP TYPE {mood};"))
        .await
        .expect("drop types");
}

async fn connect() -> Client {
    let url = address(Server::Postgres).await.expect("postgres address");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    client.batch_execute(SETTINGS).await.expect("settings");
    client
}

/// The slot's changes so far, decoded; the slot is only peeked.
async fn changes(
    client: &Client,
    slot: &str,
    publication: &str,
    binary: bool,
) -> Vec<LogicalMessage> {
    let binary = if binary { "true" } else { "false" };
    let rows = client
        .query(
            "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, \
             'proto_version', '1', 'publication_names', $2, 'binary', $3)",
            &[&slot, &publication, &binary],
        )
        .await
        .expect("peek changes");
    let mut decoder = Decoder::new(1).expect("protocol 1");
    rows.iter()
        .map(|row| {
            let data: Vec<u8> = row.get(0);
            decoder.decode(&Bytes::from(data)).expect("decode")
        })
        .collect()
}

fn inserted_row(messages: &[LogicalMessage], registry: &TypeRegistry) -> Vec<Cell> {
    let mut cache = RelationCache::new();
    for message in messages {
        cache.apply(message);
        if let LogicalMessage::Insert(insert) = message {
            let relation = cache.relation(insert.relation_id).expect("relation");
            return typed_row(relation, &insert.new_tuple, registry).expect("typed row");
        }
    }
    panic!("no Insert among {} messages", messages.len());
}

/// The row as PostgreSQL's output functions print it (the simple query protocol), with
/// `timestamptz` in UTC as the decoder normalises it; the changes were decoded in another
/// time zone, so the offsets were parsed for real.
async fn row_as_text(client: &Client, table: &str) -> Vec<Option<String>> {
    let messages = client
        .simple_query(&format!(
            "SET TimeZone = 'UTC'; SELECT * FROM {table}; RESET TimeZone; {SETTINGS}"
        ))
        .await
        .expect("select");
    messages
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .expect("one row")
}

async fn load_registry(client: &Client) -> TypeRegistry {
    sluice_source::load_registry(client)
        .await
        .expect("type registry")
}

/// A pgoutput slot named after `table`.
async fn create_slot(client: &Client, table: &str) -> String {
    let slot = format!("{table}_slot");
    client
        .execute(
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
            &[&slot],
        )
        .await
        .expect("create slot");
    slot
}

async fn drop_slot(client: &Client, slot: &str, table: &str) {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .expect("drop slot");
    client
        .batch_execute(&format!(
            "DROP PUBLICATION {table}_pub; DROP TABLE {table};"
        ))
        .await
        .expect("clean up");
}
