//! Creating and dropping slots, and the exported snapshot.

use sluice_replication::{
    Lsn, PGOUTPUT, ReplicationClient, ReplicationError, SnapshotAction, sqlstate,
};

use super::support::{Cleanup, config, slot_exists, sql, unique};

#[tokio::test]
async fn exported_snapshot_reads_the_table_as_of_the_consistent_point() {
    let mut cleanup = Cleanup::default();
    let table = cleanup.table(&unique("snap_t"));
    let slot = cleanup.slot(&unique("snap"));
    let sql = sql().await;
    sql.batch_execute(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, note text);
         INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, 'c');"
    ))
    .await
    .expect("create table");

    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    let created = client
        .create_replication_slot(&slot, true, SnapshotAction::Export)
        .await
        .expect("CREATE_REPLICATION_SLOT");
    assert_eq!(created.slot_name, slot);
    assert_eq!(created.output_plugin, PGOUTPUT);
    assert!(created.consistent_point > Lsn::INVALID);
    let snapshot = created.snapshot_name.expect("an exported snapshot");

    // Changes after the slot's creation are the stream's, not the snapshot's.
    sql.batch_execute(&format!(
        "INSERT INTO {table} VALUES (4, 'd'); UPDATE {table} SET note = 'changed' WHERE id = 1;"
    ))
    .await
    .expect("later changes");

    let reader = super::support::sql().await;
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}';"
        ))
        .await
        .expect("import the snapshot");
    let rows = reader
        .query(&format!("SELECT id, note FROM {table} ORDER BY id"), &[])
        .await
        .expect("read in the snapshot");
    let seen: Vec<(i32, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(
        seen,
        vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
    );
    reader.batch_execute("COMMIT").await.expect("commit");

    let temporary: bool = sql
        .query_one(
            "SELECT temporary FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("slot listed")
        .get(0);
    assert!(temporary);
    client.close().await.expect("close");
    // A temporary slot goes with its session (the server removes it asynchronously, which
    // a busy machine can delay for seconds).
    for _ in 0..600 {
        if !slot_exists(&sql, &slot).await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("temporary slot {slot} outlived its connection by 30 s");
}

#[tokio::test]
async fn permanent_slot_lifecycle_and_its_errors() {
    let mut cleanup = Cleanup::default();
    let slot = cleanup.slot(&unique("perm"));
    let sql = sql().await;
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");

    let created = client
        .create_replication_slot(&slot, false, SnapshotAction::NoExport)
        .await
        .expect("create");
    assert_eq!(created.snapshot_name, None);
    assert!(slot_exists(&sql, &slot).await);

    let duplicate = client
        .create_replication_slot(&slot, false, SnapshotAction::NoExport)
        .await
        .expect_err("duplicate slot");
    assert_eq!(duplicate.code(), Some(sqlstate::DUPLICATE_OBJECT));
    assert!(!duplicate.is_retryable());

    client
        .drop_replication_slot(&slot, true)
        .await
        .expect("drop");
    assert!(!slot_exists(&sql, &slot).await);

    let missing = client
        .drop_replication_slot(&slot, false)
        .await
        .expect_err("already dropped");
    assert_eq!(
        missing.code(),
        Some(sqlstate::UNDEFINED_OBJECT),
        "{missing}"
    );
    assert!(!missing.is_retryable());
    assert!(missing.to_string().contains("What to do"));

    let invalid = client
        .create_replication_slot("Not-A-Slot", true, SnapshotAction::NoExport)
        .await
        .expect_err("invalid name");
    assert!(matches!(invalid, ReplicationError::Config(_)));

    let missing_start = client
        .start_replication(&slot, Lsn::INVALID, &[("proto_version", "1")])
        .await
        .expect_err("start on a missing slot");
    assert_eq!(missing_start.code(), Some(sqlstate::UNDEFINED_OBJECT));
}

#[tokio::test]
async fn use_snapshot_reads_in_the_replication_connections_own_transaction() {
    let mut cleanup = Cleanup::default();
    let table = cleanup.table(&unique("use_t"));
    let slot = cleanup.slot(&unique("use"));
    let sql = sql().await;
    sql.batch_execute(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY); INSERT INTO {table} VALUES (1), (2);"
    ))
    .await
    .expect("create table");

    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    client
        .simple_query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .expect("BEGIN");
    let created = client
        .create_replication_slot(&slot, true, SnapshotAction::Use)
        .await
        .expect("CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')");
    assert_eq!(created.snapshot_name, None);
    sql.batch_execute(&format!("INSERT INTO {table} VALUES (3)"))
        .await
        .expect("later insert");
    let count = client
        .simple_query(&format!("SELECT count(*) FROM {table}"))
        .await
        .expect("read in the slot's snapshot");
    assert_eq!(count, vec![vec![Some("2".to_owned())]]);
    client.simple_query("COMMIT").await.expect("COMMIT");
    client.close().await.expect("close");
}

/// PostgreSQL's walsender cleans up after any ERROR by dropping the temporary slots of its
/// session (`WalSndErrorCleanup` calls `ReplicationSlotCleanup`): a failed command on the
/// connection that holds a temporary slot loses the slot and its exported snapshot.
#[tokio::test]
async fn an_error_on_the_connection_drops_its_temporary_slots() {
    let mut cleanup = Cleanup::default();
    let slot = cleanup.slot(&unique("errtmp"));
    let sql = sql().await;
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    client
        .create_replication_slot(&slot, true, SnapshotAction::NoExport)
        .await
        .expect("temporary slot");
    assert!(slot_exists(&sql, &slot).await);
    client
        .simple_query("SELECT * FROM sluice_rt_no_such_table")
        .await
        .expect_err("a failing command");
    assert!(!slot_exists(&sql, &slot).await);
    client.close().await.expect("close");
}
