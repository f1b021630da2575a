//! The source's metrics: every name in one place, so that dashboards, alert rules and
//! the test that checks them against `/metrics` follow one list.
//!
//! Metrics go through the `metrics` facade; the `sluice` binary installs the Prometheus
//! exporter. LSNs are exported as numbers (bytes of WAL since 0/0), so lag in bytes is a
//! subtraction in PromQL as well as the ready-made `..._lag_bytes` gauge.

use std::time::Duration;

use metrics::{
    Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use sluice_pgoutput::Lsn;

/// Counter, labels `table` (`schema.table`, empty for logical messages) and `op`
/// (`create`, `update`, `delete`, `read`, `truncate`, `message`, `tombstone`): records
/// handed to Kafka.
pub const EVENTS_TOTAL: &str = "sluice_source_events_total";
/// Counter: transactions whose every event Kafka acknowledged.
pub const TRANSACTIONS_TOTAL: &str = "sluice_source_transactions_total";
/// Gauge: the LSN last confirmed to PostgreSQL as flushed.
pub const CONFIRMED_LSN: &str = "sluice_source_confirmed_lsn";
/// Gauge: the server's WAL end as last reported by the walsender.
pub const SERVER_WAL_END_LSN: &str = "sluice_source_server_wal_end_lsn";
/// Gauge: the server's WAL end minus the confirmed LSN: WAL the slot holds because of us.
pub const REPLICATION_LAG_BYTES: &str = "sluice_source_replication_lag_bytes";
/// Gauge: how far behind the source is in time: the age of the oldest transaction
/// received but not yet acknowledged by Kafka, or, while WAL is still waiting to be read,
/// the age of the last acknowledged one; 0 when caught up.
pub const REPLICATION_LAG_SECONDS: &str = "sluice_source_replication_lag_seconds";
/// Histogram: from a transaction's commit message arriving to Kafka acknowledging all
/// its events.
pub const KAFKA_DELIVERY_SECONDS: &str = "sluice_source_kafka_delivery_seconds";
/// Gauge: events handed to Kafka and not yet acknowledged.
pub const EVENTS_IN_FLIGHT: &str = "sluice_source_events_in_flight";
/// Counter: heartbeats published to the heartbeat topic.
pub const HEARTBEATS_TOTAL: &str = "sluice_source_heartbeats_total";
/// Gauge: 1 while the initial snapshot runs.
pub const SNAPSHOT_RUNNING: &str = "sluice_source_snapshot_running";
/// Counter, label `table`: rows the snapshot published (acknowledged chunks).
pub const SNAPSHOT_ROWS_TOTAL: &str = "sluice_source_snapshot_rows_total";
/// Gauge, label `table`: the table's estimated rows (`pg_class.reltuples`).
pub const SNAPSHOT_ROWS_ESTIMATED: &str = "sluice_source_snapshot_rows_estimated";

/// Every metric this crate exports.
pub const ALL: [&str; 12] = [
    EVENTS_TOTAL,
    TRANSACTIONS_TOTAL,
    CONFIRMED_LSN,
    SERVER_WAL_END_LSN,
    REPLICATION_LAG_BYTES,
    REPLICATION_LAG_SECONDS,
    KAFKA_DELIVERY_SECONDS,
    EVENTS_IN_FLIGHT,
    HEARTBEATS_TOTAL,
    SNAPSHOT_RUNNING,
    SNAPSHOT_ROWS_TOTAL,
    SNAPSHOT_ROWS_ESTIMATED,
];

/// Registers descriptions and units, and sets the gauges to their initial values so that
/// every series exists from the start (a dashboard shows 0, not "no data").
pub fn describe() {
    describe_counter!(EVENTS_TOTAL, "Records handed to Kafka, by table and op.");
    describe_counter!(
        TRANSACTIONS_TOTAL,
        "Transactions fully acknowledged by Kafka."
    );
    describe_gauge!(
        CONFIRMED_LSN,
        "The LSN last confirmed to PostgreSQL as flushed."
    );
    describe_gauge!(SERVER_WAL_END_LSN, "The server's WAL end as last reported.");
    describe_gauge!(
        REPLICATION_LAG_BYTES,
        Unit::Bytes,
        "WAL between the server's end and the confirmed LSN."
    );
    describe_gauge!(
        REPLICATION_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest change not yet on Kafka; 0 when caught up."
    );
    describe_histogram!(
        KAFKA_DELIVERY_SECONDS,
        Unit::Seconds,
        "From a commit arriving to Kafka acknowledging its events."
    );
    describe_gauge!(
        EVENTS_IN_FLIGHT,
        "Events sent to Kafka, not yet acknowledged."
    );
    describe_counter!(HEARTBEATS_TOTAL, "Heartbeats published.");
    describe_gauge!(SNAPSHOT_RUNNING, "1 while the initial snapshot runs.");
    describe_counter!(
        SNAPSHOT_ROWS_TOTAL,
        "Rows published by the snapshot, by table."
    );
    describe_gauge!(
        SNAPSHOT_ROWS_ESTIMATED,
        "Estimated rows of a table being snapshotted."
    );
    counter!(TRANSACTIONS_TOTAL).absolute(0);
    counter!(HEARTBEATS_TOTAL).absolute(0);
    gauge!(REPLICATION_LAG_BYTES).set(0.0);
    gauge!(REPLICATION_LAG_SECONDS).set(0.0);
    gauge!(EVENTS_IN_FLIGHT).set(0.0);
    gauge!(SNAPSHOT_RUNNING).set(0.0);
}

/// The replication position gauges.
pub(crate) fn positions(server_wal_end: Lsn, confirmed: Lsn) {
    gauge!(SERVER_WAL_END_LSN).set(server_wal_end.0 as f64);
    gauge!(CONFIRMED_LSN).set(confirmed.0 as f64);
    gauge!(REPLICATION_LAG_BYTES).set(server_wal_end.0.saturating_sub(confirmed.0) as f64);
}

/// One record handed to Kafka, for records of no table (logical messages).
pub(crate) fn event(table: &str, op: &'static str) {
    counter!(EVENTS_TOTAL, "table" => table.to_owned(), "op" => op).increment(1);
}

/// A table's [`EVENTS_TOTAL`] counters, looked up once per Relation message rather than
/// once per row.
pub(crate) struct TableCounters {
    by_op: [(&'static str, Counter); 6],
}

impl TableCounters {
    const OPS: [&'static str; 6] = [
        "create",
        "update",
        "delete",
        "read",
        "truncate",
        "tombstone",
    ];

    pub(crate) fn new(table: &str) -> Self {
        Self {
            by_op: Self::OPS.map(|op| {
                (
                    op,
                    counter!(EVENTS_TOTAL, "table" => table.to_owned(), "op" => op),
                )
            }),
        }
    }

    /// Counts one record of `op`.
    pub(crate) fn count(&self, op: &str) {
        if let Some((_, counter)) = self.by_op.iter().find(|(name, _)| *name == op) {
            counter.increment(1);
        }
    }
}

/// A transaction fully acknowledged, `delivery` after its commit arrived.
pub(crate) fn transaction_acknowledged(delivery: Duration) {
    counter!(TRANSACTIONS_TOTAL).increment(1);
    histogram!(KAFKA_DELIVERY_SECONDS).record(delivery.as_secs_f64());
}
