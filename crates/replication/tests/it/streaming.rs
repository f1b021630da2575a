//! START_REPLICATION with pgoutput: frames, keepalives, confirmation, errors, throughput.

use std::time::{Duration, Instant};

use bytes::Buf;
use sluice_replication::{
    Lsn, ReplicationClient, ReplicationError, ReplicationMessage, ReplicationStream,
    SnapshotAction, XLogData, quote_publication_names, sqlstate,
};

use super::support::{Cleanup, config, confirmed_flush_lsn, sql, unique};

/// Reads until the next complete transaction (`B` ... `C`) has arrived, answering keepalives
/// that ask for it with `acknowledged`.
async fn next_transaction(stream: &mut ReplicationStream, acknowledged: Lsn) -> Vec<XLogData> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut transaction = Vec::new();
    loop {
        let payload = tokio::time::timeout_at(deadline.into(), stream.next_message())
            .await
            .expect("a transaction within 60 s")
            .expect("stream message")
            .expect("stream still open");
        match ReplicationMessage::parse(payload).expect("w or k message") {
            ReplicationMessage::XLogData(x) => {
                let tag = x.data.first().copied();
                if tag == Some(b'B') {
                    transaction.clear();
                }
                transaction.push(x);
                if tag == Some(b'C') {
                    return transaction;
                }
            }
            ReplicationMessage::PrimaryKeepalive(keepalive) => {
                if keepalive.reply_requested {
                    stream
                        .send_standby_status(acknowledged, acknowledged, acknowledged, false)
                        .await
                        .expect("answer keepalive");
                }
            }
        }
    }
}

/// pgoutput Commit: `C`, flags u8, commit LSN u64, end LSN u64, timestamp i64.
fn commit_end_lsn(commit: &XLogData) -> Lsn {
    assert_eq!(commit.data.first(), Some(&b'C'));
    let mut body = &commit.data[10..18];
    Lsn(body.get_u64())
}

fn tags(transaction: &[XLogData]) -> String {
    transaction.iter().map(|x| char::from(x.data[0])).collect()
}

/// Checks the shape of a transaction: its relation is described before the first change,
/// and its other messages are exactly `expected`. pgoutput may describe the relation again
/// mid-transaction whenever a concurrent catalog change (another test's `CREATE PUBLICATION`,
/// say) invalidates its cache, so repeated Relation messages are allowed anywhere.
fn assert_shape(transaction: &[XLogData], expected: &str) {
    let tags = tags(transaction);
    assert!(
        tags.starts_with("BR"),
        "relation before the changes: {tags}"
    );
    assert_eq!(tags.replace('R', ""), expected, "{tags}");
}

/// The messages of a transaction other than Relation messages.
fn without_relations(transaction: &[XLogData]) -> Vec<&XLogData> {
    transaction.iter().filter(|x| x.data[0] != b'R').collect()
}

struct Fixture {
    cleanup: Cleanup,
    table: String,
    publication: String,
    sql: tokio_postgres::Client,
}

async fn fixture(what: &str) -> Fixture {
    let mut cleanup = Cleanup::default();
    let table = cleanup.table(&unique(&format!("{what}_t")));
    let publication = cleanup.publication(&unique(&format!("{what}_p")));
    let sql = sql().await;
    sql.batch_execute(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, note text);
         CREATE PUBLICATION {publication} FOR TABLE {table};"
    ))
    .await
    .expect("table and publication");
    Fixture {
        cleanup,
        table,
        publication,
        sql,
    }
}

#[tokio::test]
async fn streams_pgoutput_then_confirms_flush_and_resumes_after_it() {
    let mut fixture = fixture("stream").await;
    let slot = fixture.cleanup.slot(&unique("stream"));
    let table = &fixture.table;
    let publications = quote_publication_names(&[&fixture.publication]);
    let options = [
        ("proto_version", "1"),
        ("publication_names", publications.as_str()),
    ];

    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    client
        .create_replication_slot(&slot, false, SnapshotAction::NoExport)
        .await
        .expect("permanent slot");
    let before = confirmed_flush_lsn(&fixture.sql, &slot)
        .await
        .expect("slot exists");
    let mut stream = client
        .start_replication(&slot, Lsn::INVALID, &options)
        .await
        .expect("START_REPLICATION");
    assert!(stream.backend_pid().is_some());

    fixture
        .sql
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, 'c'); COMMIT;"
        ))
        .await
        .expect("insert");
    let transaction = next_transaction(&mut stream, before).await;
    assert_shape(&transaction, "BIIIC");
    let end = commit_end_lsn(&transaction[transaction.len() - 1]);
    assert!(end > before, "commit end {end} after slot start {before}");

    // Confirm the commit: confirmed_flush_lsn must move to it (within a deadline generous
    // enough for a busy machine).
    stream
        .send_standby_status(end, end, end, false)
        .await
        .expect("standby status");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let confirmed = confirmed_flush_lsn(&fixture.sql, &slot).await;
        if confirmed >= Some(end) {
            assert_eq!(confirmed, Some(end));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "confirmed_flush_lsn stuck at {confirmed:?}, expected {end}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Asking for a reply makes the server send a keepalive at once.
    stream
        .send_standby_status(end, end, end, true)
        .await
        .expect("status asking for a reply");
    let keepalive = loop {
        let payload = tokio::time::timeout(Duration::from_secs(30), stream.next_message())
            .await
            .expect("keepalive within 30 s")
            .expect("stream")
            .expect("open");
        if let ReplicationMessage::PrimaryKeepalive(k) =
            ReplicationMessage::parse(payload).expect("message")
        {
            break k;
        }
    };
    assert!(keepalive.wal_end >= end);

    // Stop and get the connection back for commands; it cannot stream a second time.
    let mut client = stream.stop().await.expect("CopyDone and back to commands");
    let identity = client.identify_system().await.expect("commands after stop");
    assert!(identity.xlogpos >= end);
    let error = client
        .start_replication(&slot, Lsn::INVALID, &options)
        .await
        .expect_err("one logical stream per connection");
    assert!(matches!(error, ReplicationError::Config(_)), "{error}");

    // Resume on a new connection: only the transaction after the confirmed one comes.
    let client = ReplicationClient::connect(&config().await)
        .await
        .expect("reconnect");
    let mut stream = client
        .start_replication(&slot, Lsn::INVALID, &options)
        .await
        .expect("START_REPLICATION again");
    fixture
        .sql
        .batch_execute(&format!("INSERT INTO {table} VALUES (4, 'd')"))
        .await
        .expect("insert after restart");
    let transaction = next_transaction(&mut stream, end).await;
    assert_shape(&transaction, "BIC");
    let changes = without_relations(&transaction);
    assert!(changes[1].data.ends_with(b"d"), "the new row, not a replay");
    let second_end = commit_end_lsn(changes[2]);
    stream
        .send_standby_status(second_end, second_end, second_end, false)
        .await
        .expect("status");
    let mut client = stream.stop().await.expect("stop");
    client
        .drop_replication_slot(&slot, true)
        .await
        .expect("drop slot");
}

#[tokio::test]
async fn a_second_reader_on_an_active_slot_gets_object_in_use() {
    let mut fixture = fixture("busy").await;
    let slot = fixture.cleanup.slot(&unique("busy"));
    let publications = quote_publication_names(&[&fixture.publication]);
    let options = [
        ("proto_version", "1"),
        ("publication_names", publications.as_str()),
    ];
    let mut first = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    first
        .create_replication_slot(&slot, false, SnapshotAction::NoExport)
        .await
        .expect("slot");
    let stream = first
        .start_replication(&slot, Lsn::INVALID, &options)
        .await
        .expect("first reader");

    let second = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    let error = second
        .start_replication(&slot, Lsn::INVALID, &options)
        .await
        .expect_err("the slot is taken");
    assert_eq!(error.code(), Some(sqlstate::OBJECT_IN_USE), "{error}");
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("is active for PID"), "{message}");
    assert!(message.contains("pg_terminate_backend"), "{message}");

    let mut client = stream.stop().await.expect("stop");
    client
        .drop_replication_slot(&slot, true)
        .await
        .expect("drop");
}

#[tokio::test]
async fn a_missing_publication_fails_the_stream_with_a_server_error() {
    let mut fixture = fixture("nopub").await;
    let slot = fixture.cleanup.slot(&unique("nopub"));
    let missing = quote_publication_names(&["sluice_rt_no_such_publication"]);
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    client
        .create_replication_slot(&slot, true, SnapshotAction::NoExport)
        .await
        .expect("slot");
    let mut stream = client
        .start_replication(
            &slot,
            Lsn::INVALID,
            &[("proto_version", "1"), ("publication_names", &missing)],
        )
        .await
        .expect("the server checks publications only when decoding");
    fixture
        .sql
        .batch_execute(&format!("INSERT INTO {} VALUES (1, 'x')", fixture.table))
        .await
        .expect("insert");
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.next_message())
            .await
            .expect("an answer within 30 s")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended without an error"),
            Err(error) => break error,
        }
    };
    assert_eq!(error.code(), Some(sqlstate::UNDEFINED_OBJECT), "{error}");
    assert!(!error.is_retryable());
    assert_eq!(stream.next_message().await.expect("ended"), None);
    let mut client = stream
        .stop()
        .await
        .expect("back to commands after the error");
    let rows = client.simple_query("SELECT 1").await.expect("usable");
    assert_eq!(rows, vec![vec![Some("1".to_owned())]]);
}

/// Not a timed assertion: prints what one connection sustains for a 200k-row transaction.
#[tokio::test]
async fn throughput_of_a_200k_row_transaction() {
    const ROWS: i64 = 200_000;
    let mut cleanup = Cleanup::default();
    let table = cleanup.table(&unique("bulk_t"));
    let publication = cleanup.publication(&unique("bulk_p"));
    let slot = cleanup.slot(&unique("bulk"));
    let sql = sql().await;
    sql.batch_execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, name text, quantity int, \
         price numeric(12,2), created_at timestamptz, active boolean, tags text);
         CREATE PUBLICATION {publication} FOR TABLE {table};"
    ))
    .await
    .expect("table");
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    client
        .create_replication_slot(&slot, true, SnapshotAction::NoExport)
        .await
        .expect("slot");
    let publications = quote_publication_names(&[&publication]);
    let mut stream = client
        .start_replication(
            &slot,
            Lsn::INVALID,
            &[("proto_version", "1"), ("publication_names", &publications)],
        )
        .await
        .expect("start");

    let insert = Instant::now();
    sql.batch_execute(&format!(
        "INSERT INTO {table} SELECT g, 'customer ' || g, g % 100, g * 1.25, now(), g % 2 = 0, \
         'tag-a,tag-b' FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .expect("bulk insert");
    let committed = Instant::now();

    let mut frames = 0u64;
    let mut bytes = 0u64;
    let mut inserts = 0i64;
    let mut first_frame = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let payload = tokio::time::timeout_at(deadline.into(), stream.next_message())
            .await
            .expect("the transaction within 300 s")
            .expect("message")
            .expect("open");
        let size = payload.len() as u64;
        match ReplicationMessage::parse(payload).expect("message") {
            ReplicationMessage::XLogData(x) => {
                first_frame.get_or_insert_with(Instant::now);
                frames += 1;
                bytes += size;
                match x.data.first() {
                    Some(b'I') => inserts += 1,
                    Some(b'C') => {
                        let end = commit_end_lsn(&x);
                        stream
                            .send_standby_status(end, end, end, false)
                            .await
                            .expect("status");
                        break;
                    }
                    _ => {}
                }
            }
            ReplicationMessage::PrimaryKeepalive(k) if k.reply_requested => stream
                .send_standby_status(Lsn::INVALID, Lsn::INVALID, Lsn::INVALID, false)
                .await
                .expect("keepalive answer"),
            ReplicationMessage::PrimaryKeepalive(_) => {}
        }
    }
    let done = Instant::now();
    assert_eq!(inserts, ROWS);
    let first_frame = first_frame.unwrap_or(done);
    let streaming = done.duration_since(first_frame).as_secs_f64();
    let after_commit = done.duration_since(committed).as_secs_f64();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "THROUGHPUT {ROWS} rows: insert+commit {:.2} s; commit to last frame {after_commit:.2} s; \
         first to last frame {streaming:.2} s; {frames} frames, {mib:.1} MiB; \
         {:.0} frames/s and {:.1} MiB/s over the streaming window, \
         {:.0} frames/s end to end after commit",
        committed.duration_since(insert).as_secs_f64(),
        frames as f64 / streaming,
        mib / streaming,
        frames as f64 / after_commit,
    );
    stream
        .stop()
        .await
        .expect("stop")
        .close()
        .await
        .expect("close");
}
