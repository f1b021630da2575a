//! Backpressure end to end: what the source does while Kafka is down, against a real broker
//! that is really stopped and started again.
//!
//! The promises under test (the `Backpressure` and `Progress tracking` docs of
//! `sluice_source::replicate` and `sluice_source::publish`):
//!
//! - When Kafka is slow or down, the reader stops reading WAL once `max_in_flight` events
//!   await acknowledgement, and keeps the replication connection alive; nothing buffers
//!   without bound, and it resumes by itself when Kafka is back.
//! - The slot's confirmed LSN never passes an unacknowledged event.
//!
//! ```text
//!  writer ──INSERT every 10 ms──▶ PostgreSQL ══walsender══▶ source ──▶ private Kafka
//!                                     │          replication   (max_in_flight 100)   │
//!                                     │          connection                          │
//!  watched: pg_replication_slots,     │          watched: ss        stack down kafka, 18 s,
//!  pg_stat_activity,                ◀─┘          (both ends)        stack up kafka
//!  pg_stat_replication_slots
//! ```
//!
//! The broker is a [`PrivateKafka`]: the shared one serves every other test running now.
//!
//! # What is observable, and why it proves the reader paused
//!
//! The source runs in this process, but the test watches it from outside, as an operator
//! would. `pg_stat_replication` would be the obvious place, but PostgreSQL shows its
//! positions (`sent_lsn`, `write_lsn`, `reply_time`) only to roles with
//! `pg_read_all_stats`, which the test role has not. What it can see:
//!
//! - The source's end of the replication connection (`ss`, found through the walsender's
//!   `pg_stat_activity.client_port`): bytes that arrived and wait unread in its receive
//!   queue (`Recv-Q`), bytes received (`bytes_received`), bytes sent (`bytes_sent`). A
//!   paused reader leaves a non-empty receive queue that never shrinks; once it is full
//!   the kernel accepts nothing more and `bytes_received` stops. Meanwhile `bytes_sent`
//!   grows: the source only ever sends standby status updates on this connection, and
//!   they are what keeps the walsender from timing out (`wal_sender_timeout`, 60 s by
//!   default and longer than this outage, so the unchanged walsender pid alone would not
//!   prove it). Linux only; where `ss` or the socket cannot be found (PostgreSQL in a
//!   container behind a proxy), these checks are skipped with a note.
//! - The walsender (`pg_stat_replication_slots.total_txns`, `pg_stat_activity.wait_event`):
//!   a logical walsender decodes WAL only as fast as it can write the results to its
//!   socket. Once the connection's buffers are full it blocks (wait event
//!   `WalSenderWriteData`) and decodes no further transaction while the writer keeps
//!   committing. That is the server's own evidence that nobody drains the connection,
//!   and that what is buffered between the two is bounded: the two sockets' buffers, plus
//!   the source's `max_in_flight` events.
//! - `pg_replication_slots`: the same walsender stays `active_pid`, and
//!   `confirmed_flush_lsn` does not move while the broker is down. With no broker nothing
//!   can be acknowledged, so any movement would confirm an unacknowledged event.
//!
//! # Timing
//!
//! librdkafka gives up on a record after `message.timeout.ms` (300 s by default, which the
//! source does not change), and the source then stops with a delivery error. The outage
//! here (stop, about 18 s down, restart) stays well below that, so the source must ride it
//! out; an outage longer than that bound is a different scenario (the source stops and a
//! restart replays from the slot).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use prost::Message as _;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use sluice_event::v1::{self, value::Kind};
use sluice_pgoutput::Lsn;
use sluice_source::SourceError;
use sluice_source::snapshot::SnapshotMode;
use sluice_testkit::PrivateKafka;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use crate::source::{Harness, lsn};

/// Deliveries awaiting Kafka before the source pauses reading: small, so the bound is
/// reached within a fraction of a second of the outage.
const MAX_IN_FLIGHT: usize = 100;
/// How long the broker stays down once it is stopped.
const OUTAGE: Duration = Duration::from_secs(18);
/// How long, after the broker is gone, before the slot's position is taken as the
/// reference: acknowledgements the broker sent while shutting down may still be on their
/// way through librdkafka and the source's status timer (500 ms).
const SETTLE: Duration = Duration::from_secs(2);
/// How often the walsender is sampled during the outage.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// Rows per writer transaction, and the pause between transactions.
const ROWS_PER_TRANSACTION: i64 = 10;
const PACE: Duration = Duration::from_millis(10);
/// `payload` is this many bytes, stored uncompressed (STORAGE EXTERNAL): each row is a
/// couple of kilobytes on the replication connection, so the walsender fills the socket
/// buffers within seconds once the source stops reading.
const PAYLOAD_BYTES: i64 = 2048;

/// What the writer has committed: rows `1..=rows`, and `pg_current_wal_lsn()` read
/// after the last commit (at or past that commit's end).
#[derive(Debug, Clone, Copy, Default)]
struct Committed {
    rows: i64,
    wal_after: u64,
}

/// The source's slot, walsender and socket, as seen from outside.
#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    /// Rows the writer had committed.
    rows: i64,
    /// `pg_replication_slots.active_pid`: the walsender serving the slot.
    pid: Option<i32>,
    confirmed: u64,
    /// The walsender's `pg_stat_activity.wait_event`.
    wait_event: Option<String>,
    /// `pg_stat_replication_slots.total_txns`: transactions the walsender decoded.
    decoded_txns: i64,
    /// `pg_current_wal_lsn()`.
    wal: u64,
    /// The replication connection's sockets, when `ss` can show them.
    sockets: Option<Sockets>,
}

/// Both ends of the replication connection, from `ss -tin`.
#[derive(Debug, Clone, Copy)]
struct Sockets {
    /// The source's end: bytes that arrived but the source has not read (`Recv-Q`).
    unread: u64,
    /// The source's end: `bytes_received` and `bytes_sent` over the connection's life.
    received: u64,
    sent: u64,
    /// The walsender's end: bytes written by the walsender the kernel could not send yet
    /// (`Send-Q`).
    unsent: u64,
}

impl Harness {
    /// The pid of the walsender streaming the slot, once it streams. `Harness::start`
    /// returns as soon as the slot is active, which it also is while being created, before
    /// `START_REPLICATION`.
    async fn streaming_walsender(&self, source: &JoinHandle<Result<Lsn, SourceError>>) -> i32 {
        for _ in 0..600 {
            assert!(!source.is_finished(), "the source stopped before streaming");
            let pid = self
                .pg
                .query_opt(
                    "SELECT s.active_pid FROM pg_replication_slots s \
                     JOIN pg_stat_activity a ON a.pid = s.active_pid \
                     WHERE s.slot_name = $1 AND a.query LIKE 'START_REPLICATION%'",
                    &[&self.config.slot],
                )
                .await
                .expect("walsender");
            if let Some(row) = pid {
                return row.get(0);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the slot's walsender did not start streaming within 60 s");
    }

    async fn sample(&self, rows: i64) -> Sample {
        let row = self
            .pg
            .query_one(
                "SELECT s.active_pid, s.confirmed_flush_lsn::text, a.wait_event, a.client_port, \
                 inet_server_port(), st.total_txns, pg_current_wal_lsn()::text \
                 FROM pg_replication_slots s \
                 LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid \
                 LEFT JOIN pg_stat_replication_slots st ON st.slot_name = s.slot_name \
                 WHERE s.slot_name = $1",
                &[&self.config.slot],
            )
            .await
            .expect("slot and walsender");
        let text = |i: usize| row.get::<_, Option<String>>(i);
        let client_port: Option<i32> = row.get(3);
        let server_port: Option<i32> = row.get(4);
        Sample {
            at: Instant::now(),
            rows,
            pid: row.get(0),
            confirmed: lsn(&text(1).expect("a logical slot has a confirmed_flush_lsn")),
            wait_event: text(2),
            decoded_txns: row.get::<_, Option<i64>>(5).unwrap_or_default(),
            wal: lsn(&text(6).expect("pg_current_wal_lsn")),
            sockets: client_port
                .zip(server_port)
                .and_then(|(c, s)| sockets(c, s)),
        }
    }
}

/// The two ends of the TCP connection between `127.0.0.1:client_port` and
/// `127.0.0.1:server_port`, or `None` when `ss` is missing or shows no such connection.
fn sockets(client_port: i32, server_port: i32) -> Option<Sockets> {
    let output = std::process::Command::new("ss")
        .args([
            "-Htin",
            &format!(
                "( sport = :{client_port} and dport = :{server_port} ) or \
                 ( sport = :{server_port} and dport = :{client_port} )"
            ),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Each socket is a line `State Recv-Q Send-Q Local:Port Peer:Port`, then an
    // indented line of `name:value` details.
    let mut source_end = None;
    let mut walsender_end = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, recv_q, send_q, local, ..] = fields.as_slice() else {
            continue;
        };
        let details = match lines.peek() {
            Some(next) if next.starts_with(char::is_whitespace) => lines.next().unwrap_or(""),
            _ => "",
        };
        let counter = |name: &str| {
            details
                .split_whitespace()
                .find_map(|d| d.strip_prefix(name)?.strip_prefix(':')?.parse::<u64>().ok())
                .unwrap_or_default()
        };
        if local.ends_with(&format!(":{client_port}")) {
            source_end = Some((
                recv_q.parse().ok()?,
                counter("bytes_received"),
                counter("bytes_sent"),
            ));
        } else if local.ends_with(&format!(":{server_port}")) {
            walsender_end = Some(send_q.parse().ok()?);
        }
    }
    let ((unread, received, sent), unsent) = source_end.zip(walsender_end)?;
    Some(Sockets {
        unread,
        received,
        sent,
        unsent,
    })
}

/// The first sample from which `value` kept the value it has in the last one.
fn constant_since<T: PartialEq>(samples: &[Sample], value: impl Fn(&Sample) -> T) -> &Sample {
    let last = value(samples.last().expect("samples"));
    let mut since = samples.len() - 1;
    while since > 0 && value(&samples[since - 1]) == last {
        since -= 1;
    }
    &samples[since]
}

/// Commits `ROWS_PER_TRANSACTION` rows every `PACE` until `stop` turns true, publishing
/// progress; returns what it committed in all.
fn spawn_writer(
    url: String,
    table: String,
    mut stop: watch::Receiver<bool>,
    progress: watch::Sender<Committed>,
) -> JoinHandle<Committed> {
    tokio::spawn(async move {
        let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let mut committed = Committed::default();
        let copies = PAYLOAD_BYTES / 32;
        while !*stop.borrow_and_update() {
            let (first, last) = (committed.rows + 1, committed.rows + ROWS_PER_TRANSACTION);
            pg.batch_execute(&format!(
                "INSERT INTO {table} SELECT i, repeat(md5(i::text), {copies}) \
                 FROM generate_series({first}, {last}) AS i"
            ))
            .await
            .expect("insert");
            let wal: String = pg
                .query_one("SELECT pg_current_wal_lsn()::text", &[])
                .await
                .expect("lsn")
                .get(0);
            committed = Committed {
                rows: last,
                wal_after: lsn(&wal),
            };
            progress.send_replace(committed);
            tokio::time::sleep(PACE).await;
        }
        committed
    })
}

/// This process's resident set size in KiB, from `/proc/self/status` (0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or_default()
}

/// Reads the table's topic from the beginning until every id in `1..=rows` was seen at
/// least once (duplicates are allowed: delivery is at least once). Fails after 60 s
/// without a new id.
async fn consume_ids(bootstrap: &str, topic: &str, rows: i64) -> (BTreeSet<i64>, usize) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", sluice_testkit::unique_name("backpressure"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut ids = BTreeSet::new();
    let mut records = 0;
    while ids.len() < usize::try_from(rows).expect("rows") {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| {
                let missing: Vec<i64> = (1..=rows).filter(|i| !ids.contains(i)).take(10).collect();
                panic!(
                    "{} of {rows} ids on Kafka, none new for 60 s; first missing: {missing:?}",
                    ids.len()
                )
            })
            .expect("consume");
        records += 1;
        let Some(payload) = message.payload() else {
            continue;
        };
        let event = v1::ChangeEvent::decode(payload).expect("a ChangeEvent");
        let id = event
            .after
            .as_ref()
            .and_then(|row| row.values.first())
            .and_then(|value| match value.kind {
                Some(Kind::Integer(id)) => Some(id),
                _ => None,
            })
            .expect("an insert's id");
        assert!((1..=rows).contains(&id), "id {id} was never committed");
        ids.insert(id);
    }
    (ids, records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_outage_pauses_the_reader_keeps_the_slot_and_loses_nothing() {
    let started = Instant::now();
    let mut kafka = PrivateKafka::start().await.expect("a private Kafka broker");
    eprintln!(
        "private Kafka at {} ready in {:.1?}",
        kafka.bootstrap(),
        started.elapsed()
    );
    let mut h = Harness::with_kafka(
        "backpressure",
        "(id int8 PRIMARY KEY, payload text NOT NULL)",
        kafka.bootstrap(),
    )
    .await;
    h.pg.batch_execute(&format!(
        "ALTER TABLE {} ALTER COLUMN payload SET STORAGE EXTERNAL",
        h.name
    ))
    .await
    .expect("storage");
    h.config.max_in_flight = MAX_IN_FLIGHT;
    // The table starts empty: nothing to snapshot, streaming only. (Heartbeats stay as the
    // harness sets them: they go on during the outage and must not disturb it.)
    h.config.snapshot.mode = SnapshotMode::Never;
    let (stop_source, source) = h.start().await;
    let walsender = h.streaming_walsender(&source).await;

    let (stop_writer, writer_stopped) = watch::channel(false);
    let (progress, committed) = watch::channel(Committed::default());
    let writer = spawn_writer(
        h.config.postgres_url.clone(),
        h.name.clone(),
        writer_stopped,
        progress,
    );
    let rows = || committed.borrow().rows;

    // Streaming works: Kafka acknowledged the first transactions, so their commits are
    // confirmed.
    committed
        .clone()
        .wait_for(|c| c.rows >= 20 * ROWS_PER_TRANSACTION)
        .await
        .expect("writer");
    let target = committed.borrow().wal_after;
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.confirmed_flush_lsn().await < target {
        assert!(
            !source.is_finished(),
            "the source stopped: {:?}",
            source.await
        );
        assert!(
            Instant::now() < deadline,
            "the first commits were not confirmed within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The outage. `stop` returns once the broker process is gone and its port refuses
    // connections: from then on nothing can be acknowledged.
    let stopping = Instant::now();
    kafka.stop().await.expect("stop the private broker");
    let down_at = Instant::now();
    eprintln!("broker stopped in {:.1?}", down_at - stopping);
    tokio::time::sleep(SETTLE).await;
    let reference = h.sample(rows()).await;
    let rss_before = rss_kib();
    let mut samples = vec![reference.clone()];
    while down_at.elapsed() < OUTAGE {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let sample = h.sample(rows()).await;
        let into = sample.at - down_at;
        assert!(
            !source.is_finished(),
            "the source stopped while Kafka was down ({into:.1?} into the outage): {:?}",
            source.await
        );
        assert_eq!(
            sample.pid,
            Some(walsender),
            "the replication connection was kept: same walsender, still active ({into:.1?})"
        );
        assert_eq!(
            sample.confirmed, reference.confirmed,
            "the confirmed LSN moved while no broker could acknowledge anything ({into:.1?})"
        );
        samples.push(sample);
    }
    let rss_after = rss_kib();
    let last = samples.last().expect("samples").clone();
    let writing_waits = samples
        .iter()
        .filter(|s| s.wait_event.as_deref() == Some("WalSenderWriteData"))
        .count();
    eprintln!(
        "outage: {} rows committed, WAL +{} KiB; confirmed {:X} throughout; the walsender \
         waited on its socket (WalSenderWriteData) in {writing_waits} of {} samples; \
         sockets at the end {:?}; RSS {rss_before} KiB -> {rss_after} KiB",
        last.rows - reference.rows,
        (last.wal - reference.wal) / 1024,
        reference.confirmed,
        samples.len(),
        last.sockets,
    );

    // The writer kept committing: there was WAL to read and changes to confirm.
    assert!(last.rows > reference.rows, "the workload kept going");
    assert!(
        reference.confirmed < committed.borrow().wal_after,
        "commits made during the outage are not confirmed"
    );

    // The walsender stopped decoding once the connection's buffers were full, and stayed
    // stopped while the writer committed on: nobody drains the connection, so nothing
    // accumulates anywhere but in bounded buffers.
    let stalled = constant_since(&samples, |s| s.decoded_txns);
    eprintln!(
        "walsender stalled {:.1?} into the outage; {} rows committed since",
        stalled.at - down_at,
        last.rows - stalled.rows
    );
    assert!(
        last.at - stalled.at >= Duration::from_secs(3) && last.rows > stalled.rows,
        "the walsender decoded transactions until {:.1?} into the outage ({} in all): \
         the connection is still being drained",
        stalled.at - down_at,
        last.decoded_txns
    );
    assert!(
        writing_waits > 0,
        "the stalled walsender waits for its socket to take more data"
    );

    // The source's side of the connection: it read nothing, and kept talking.
    match samples
        .iter()
        .map(|s| s.sockets)
        .collect::<Option<Vec<Sockets>>>()
    {
        Some(sockets) => {
            for (sample, pair) in samples[1..].iter().zip(sockets.windows(2)) {
                assert!(
                    pair[1].unread > 0 && pair[1].unread >= pair[0].unread,
                    "the source read from its paused stream ({:.1?} into the outage): \
                     {:?} then {:?}",
                    sample.at - down_at,
                    pair[0],
                    pair[1]
                );
            }
            let full = constant_since(&samples, |s| s.sockets.map(|s| s.received));
            assert!(
                last.at - full.at >= Duration::from_secs(3),
                "the source's socket kept receiving until {:.1?} into the outage",
                full.at - down_at
            );
            let (first, final_) = (sockets[0], sockets[sockets.len() - 1]);
            assert!(
                final_.sent > first.sent,
                "the source sent no status update while paused: {first:?} then {final_:?}"
            );
            eprintln!(
                "buffered in the kernel: {} KiB unread by the source, {} KiB unsent by the \
                 walsender; the source sent {} bytes of status updates meanwhile",
                final_.unread / 1024,
                final_.unsent / 1024,
                final_.sent - first.sent
            );
        }
        None => eprintln!(
            "note: `ss` does not show the replication connection here; the socket checks \
             were skipped"
        ),
    }

    // Kafka comes back: the source resumes by itself, on the same connection.
    let restarting = Instant::now();
    kafka
        .start_again()
        .await
        .expect("restart the private broker");
    eprintln!(
        "broker back after {:.1?} down (restart took {:.1?})",
        down_at.elapsed(),
        restarting.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_writer.send_replace(true);
    let committed = writer.await.expect("writer");

    let (ids, records) = consume_ids(&kafka.bootstrap(), &h.topic(), committed.rows).await;
    assert_eq!(ids.len() as i64, committed.rows);
    eprintln!(
        "all {} rows on Kafka ({records} records read)",
        committed.rows
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut confirmed = h.confirmed_flush_lsn().await;
    while confirmed < committed.wal_after {
        assert!(
            Instant::now() < deadline,
            "confirmed {confirmed:X} < last commit {:X} 120 s after the broker returned",
            committed.wal_after
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        confirmed = h.confirmed_flush_lsn().await;
    }
    assert_eq!(
        h.sample(committed.rows).await.pid,
        Some(walsender),
        "the source resumed on the connection it kept"
    );

    stop_source.send(()).expect("stop");
    source.await.expect("join").expect("clean shutdown");
    h.clean_up().await;
    eprintln!("done in {:.1?}", started.elapsed());
}
