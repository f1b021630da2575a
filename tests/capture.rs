//! What the source captures and how it keeps the slot moving, against real servers:
//! table and column filters and masks (in the snapshot and in the stream alike), schema
//! changes mid-stream, heartbeats while the captured tables are idle, and a 100k-row
//! transaction across two tables (one REPLICA IDENTITY FULL) checked event by event.

use std::time::{Duration, Instant};

use prost::Message as _;
use sluice_event::v1;
use sluice_source::filter::{CaptureFilter, MaskMethod};

use crate::snapshot::{Setup, after, consume, source};

fn columns(event: &v1::ChangeEvent) -> Vec<(String, String)> {
    event
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.type_name.clone()))
        .collect()
}

#[tokio::test]
async fn filters_and_masks_shape_the_snapshot_and_the_stream_alike() {
    let mut setup = Setup::new(
        "cap_filter",
        "CREATE TABLE {n}_a (id int PRIMARY KEY, email text, password text, note text, age int);
         INSERT INTO {n}_a VALUES (1, 'ann@example.com', 'pw1', 'first', 30);
         CREATE TABLE {n}_b (id int PRIMARY KEY);
         INSERT INTO {n}_b VALUES (1);",
        &["a", "b"],
        "TABLE {n}_a, {n}_b",
    )
    .await;
    let (a, b) = (setup.tables[0].clone(), setup.tables[1].clone());
    setup.config.filter = CaptureFilter::default()
        .exclude_tables([format!("public.{b}").parse().unwrap()])
        .exclude_columns([format!("public.{a}.password").parse().unwrap()])
        .masks([
            (
                format!("public.{a}.email").parse().unwrap(),
                MaskMethod::Hash,
            ),
            ("public.*.note".parse().unwrap(), MaskMethod::Redact),
            (format!("public.{a}.age").parse().unwrap(), MaskMethod::Null),
        ])
        .mask_salt("pepper");
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;
    setup
        .pg
        .batch_execute(&format!(
            "INSERT INTO {a} VALUES (2, 'bob@example.com', 'pw2', 'second', 40);
             UPDATE {a} SET email = NULL WHERE id = 1;
             INSERT INTO {b} VALUES (2);"
        ))
        .await
        .expect("changes");

    let records = consume(&bootstrap, &setup.topic(&a), 3).await;
    let mut records: Vec<_> = records.into_iter().map(|r| r.event).collect();
    records.sort_by_key(|e| source(e).version);
    let ops: Vec<v1::Op> = records.iter().map(|e| e.op()).collect();
    assert_eq!(ops, [v1::Op::Read, v1::Op::Create, v1::Op::Update]);
    let hashes: Vec<String> = setup
        .pg
        .query_one(
            "SELECT ARRAY[encode(sha256('pepperann@example.com'), 'hex'), \
                          encode(sha256('pepperbob@example.com'), 'hex')]",
            &[],
        )
        .await
        .expect("sha256")
        .get(0);
    for event in &records {
        // The excluded column is gone, masked ones are text (or keep their type for null).
        assert_eq!(
            columns(event),
            [
                ("id".into(), "int4".into()),
                ("email".into(), "text".into()),
                ("note".into(), "text".into()),
                ("age".into(), "int4".into()),
            ]
        );
    }
    assert_eq!(after(&records[0]), ["1", hashes[0].as_str(), "***", "NULL"]);
    assert_eq!(after(&records[1]), ["2", hashes[1].as_str(), "***", "NULL"]);
    // NULL stays NULL: a mask has nothing to hide.
    assert_eq!(after(&records[2]), ["1", "NULL", "***", "NULL"]);

    // The excluded table has no topic at all.
    let admin_metadata = {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("client");
        consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .expect("metadata")
    };
    let b_topic = setup.topic(&b);
    assert!(
        !admin_metadata.topics().iter().any(|t| t.name() == b_topic),
        "{b_topic} was created"
    );

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}

#[tokio::test]
async fn columns_added_dropped_and_retyped_mid_stream_describe_later_events() {
    let setup = Setup::new(
        "cap_schema",
        "CREATE TABLE {n}_t (id int PRIMARY KEY, x int);",
        &["t"],
        "TABLE {n}_t",
    )
    .await;
    let t = setup.tables[0].clone();
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let (stop, mut task) = setup.start();
    setup.wait_streaming(&task).await;
    for step in [
        format!("INSERT INTO {t} VALUES (1, 10)"),
        format!("ALTER TABLE {t} ADD COLUMN y text; INSERT INTO {t} VALUES (2, 20, 'two')"),
        format!("ALTER TABLE {t} DROP COLUMN x; INSERT INTO {t} VALUES (3, 'three')"),
        format!(
            "ALTER TABLE {t} ALTER COLUMN y TYPE numeric USING length(y)::numeric; \
             INSERT INTO {t} VALUES (4, 4.5)"
        ),
    ] {
        setup.pg.batch_execute(&step).await.expect(&step);
    }
    // Four creates, and a SCHEMA_CHANGE on each of the 3 partitions per DDL.
    let topic = setup.topic(&t);
    let records = tokio::select! {
        records = consume(&bootstrap, &topic, 4 + 3 * 3) => records,
        stopped = &mut task => panic!("the source stopped: {stopped:?}"),
    };
    let mut creates: Vec<&v1::ChangeEvent> = records
        .iter()
        .map(|r| &r.event)
        .filter(|e| e.op() == v1::Op::Create)
        .collect();
    creates.sort_by_key(|e| source(e).version);
    type Shape = (Vec<(String, String)>, Vec<String>);
    let shapes: Vec<Shape> = creates.iter().map(|e| (columns(e), after(e))).collect();
    let col = |name: &str, ty: &str| (name.to_owned(), ty.to_owned());
    assert_eq!(
        shapes,
        [
            (
                vec![col("id", "int4"), col("x", "int4")],
                vec!["1".into(), "10".into()]
            ),
            (
                vec![col("id", "int4"), col("x", "int4"), col("y", "text")],
                vec!["2".into(), "20".into(), "two".into()]
            ),
            (
                vec![col("id", "int4"), col("y", "text")],
                vec!["3".into(), "three".into()]
            ),
            (
                vec![col("id", "int4"), col("y", "numeric")],
                vec!["4".into(), "4.5".into()]
            ),
        ]
    );
    let changes: Vec<&v1::ChangeEvent> = records
        .iter()
        .map(|r| &r.event)
        .filter(|e| e.op() == v1::Op::SchemaChange)
        .collect();
    assert_eq!(changes.len(), 9, "one per DDL and partition");
    let dropped = changes
        .iter()
        .find(|e| {
            e.columns.len() == 2 && e.columns[1].name == "y" && e.columns[1].type_name == "text"
        })
        .expect("the drop of x");
    let Some(v1::change_event::Payload::SchemaChange(change)) = &dropped.payload else {
        panic!("a schema change payload");
    };
    let previous: Vec<&str> = change
        .previous_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(previous, ["id", "x", "y"]);

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}

#[tokio::test]
async fn idle_captured_tables_do_not_hold_wal_while_the_database_is_busy() {
    let setup = Setup::new(
        "cap_heartbeat",
        "CREATE TABLE {n}_t (id int PRIMARY KEY);
         CREATE TABLE {n}_busy (id serial PRIMARY KEY, payload text);",
        &["t", "busy"],
        "TABLE {n}_t",
    )
    .await;
    let busy = setup.tables[1].clone();
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;
    // The rest of the database is busy; the captured table is not.
    for _ in 0..20 {
        setup
            .pg
            .batch_execute(&format!(
                "INSERT INTO {busy} (payload) SELECT md5(i::text) FROM generate_series(1, 500) AS i"
            ))
            .await
            .expect("busy writes");
    }
    let written: String = setup
        .pg
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("wal position")
        .get(0);
    let written: sluice_pgoutput::Lsn = written.parse().expect("lsn");
    // The slot confirms past that WAL within seconds: the walsender's keepalives and the
    // heartbeat messages (written each second here) both give an idle source a position
    // to confirm. Without either, the slot would hold this WAL until the table changed.
    let started = Instant::now();
    loop {
        let confirmed: String = setup
            .pg
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&setup.config.slot],
            )
            .await
            .expect("slot")
            .get(0);
        let confirmed: sluice_pgoutput::Lsn = confirmed.parse().expect("lsn");
        if confirmed >= written {
            break;
        }
        // Generous: on a busy machine the publish-and-confirm round trip can take a while.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "confirmed_flush_lsn {confirmed} stayed behind {written} for 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The heartbeat topic carries the slot's positions.
    let topic = format!("{}.sluice-heartbeat", setup.name);
    let heartbeats = crate::snapshot::consume_raw(&bootstrap, &topic, 2).await;
    let last = v1::Heartbeat::decode(heartbeats.last().expect("a heartbeat").as_slice())
        .expect("a Heartbeat");
    assert_eq!(last.slot, setup.config.slot);
    assert!(
        last.lsn >= last.confirmed_lsn && last.confirmed_lsn > 0,
        "{last:?}"
    );

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}

#[tokio::test]
async fn a_100k_row_transaction_across_two_tables_arrives_event_by_event() {
    const ROWS: usize = 100_000;
    let setup = Setup::new(
        "cap_big",
        "CREATE TABLE {n}_a (id int8 PRIMARY KEY, note text);
         ALTER TABLE {n}_a REPLICA IDENTITY FULL;
         CREATE TABLE {n}_b (id int8 PRIMARY KEY, a_id int8);",
        &["a", "b"],
        "TABLE {n}_a, {n}_b",
    )
    .await;
    let (a, b) = (setup.tables[0].clone(), setup.tables[1].clone());
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;
    setup
        .pg
        .batch_execute(&format!(
            "BEGIN;
             INSERT INTO {a} SELECT i, 'v' || i FROM generate_series(1, {ROWS}) AS i;
             INSERT INTO {b} SELECT i, i * 10 FROM generate_series(1, 10) AS i;
             UPDATE {a} SET note = 'changed' WHERE id <= 5;
             COMMIT;"
        ))
        .await
        .expect("one big transaction");

    let a_records = consume(&bootstrap, &setup.topic(&a), ROWS + 5).await;
    let b_records = consume(&bootstrap, &setup.topic(&b), 10).await;
    // One transaction: one commit LSN and xid, and every event its own position.
    let first = source(&a_records[0].event).clone();
    let mut positions = std::collections::BTreeSet::new();
    for record in a_records.iter().chain(&b_records) {
        let source = source(&record.event);
        assert_eq!(
            (source.commit_lsn, source.xid),
            (first.commit_lsn, first.xid)
        );
        assert!(positions.insert(source.position), "positions are unique");
    }
    // Every row of a exactly once as a create with its values, then the five updates
    // with the whole old row (REPLICA IDENTITY FULL).
    let mut created = vec![false; ROWS + 1];
    let mut updates = Vec::new();
    for record in &a_records {
        let row = after(&record.event);
        let id: usize = row[0].parse().unwrap();
        match record.event.op() {
            v1::Op::Create => {
                assert_eq!(row[1], format!("v{id}"));
                assert!(!created[id], "row {id} twice");
                created[id] = true;
            }
            v1::Op::Update => {
                let before = record.event.before.as_ref().expect("the FULL old row");
                let before: Vec<String> = before.values.iter().map(crate::snapshot::text).collect();
                assert_eq!(before, [id.to_string(), format!("v{id}")]);
                assert_eq!(row[1], "changed");
                updates.push(id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(created[1..].iter().all(|c| *c), "every row created");
    updates.sort_unstable();
    assert_eq!(updates, [1, 2, 3, 4, 5]);
    // Per key, the create comes before the update (same partition, commit order).
    for id in 1..=5 {
        let key = format!("[\"{id}\"]");
        let ops: Vec<v1::Op> = a_records
            .iter()
            .filter(|r| r.key == key)
            .map(|r| r.event.op())
            .collect();
        assert_eq!(ops, [v1::Op::Create, v1::Op::Update]);
    }
    let b_rows: Vec<Vec<String>> = b_records.iter().map(|r| after(&r.event)).collect();
    assert_eq!(b_rows.len(), 10);
    assert!(b_rows.iter().all(|r| r[1] == format!("{}0", r[0])));

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}
