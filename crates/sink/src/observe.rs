//! The sink runtime's metrics, every name in one place. Each carries the label `sink` (the
//! sink's kind), so the processes of several sinks can share one dashboard.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter, labels `sink`, `table`, `op`: events the store accepted (including those it
/// already had a newer version of).
pub const EVENTS_APPLIED_TOTAL: &str = "sluice_sink_events_applied_total";
/// Counter, labels `sink`, `class` (`undecodable`, `rejected`): records sent to the
/// dead-letter topic.
pub const DEAD_LETTERED_TOTAL: &str = "sluice_sink_dead_lettered_total";
/// Counter, label `sink`: batches retried after a retryable failure.
pub const RETRIES_TOTAL: &str = "sluice_sink_retries_total";
/// Histogram, label `sink`: records per applied batch.
pub const BATCH_RECORDS: &str = "sluice_sink_batch_records";
/// Histogram, label `sink`: seconds to apply a batch (retries included).
pub const BATCH_SECONDS: &str = "sluice_sink_batch_seconds";
/// Histogram, label `sink`: end-to-end freshness, from the change's commit in PostgreSQL
/// to the store accepting it.
pub const FRESHNESS_SECONDS: &str = "sluice_sink_freshness_seconds";
/// Gauge, labels `sink`, `topic`, `partition`: records of the partition not yet committed
/// by this consumer group (Kafka's high watermark minus the committed offset).
pub const CONSUMER_LAG: &str = "sluice_sink_consumer_lag";
/// Gauge, label `sink`: 1 while the consumer has partitions and the store answered.
pub const READY: &str = "sluice_sink_ready";

/// Every metric of the runtime.
pub const ALL: [&str; 8] = [
    EVENTS_APPLIED_TOTAL,
    DEAD_LETTERED_TOTAL,
    RETRIES_TOTAL,
    BATCH_RECORDS,
    BATCH_SECONDS,
    FRESHNESS_SECONDS,
    CONSUMER_LAG,
    READY,
];

/// Bucket bounds for the `_seconds` histograms: from a millisecond to ten minutes.
pub const SECONDS_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 600.0,
];

/// Bucket bounds for batch sizes.
pub const RECORDS_BUCKETS: [f64; 10] = [
    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// Registers descriptions and the starting values of the counters of `sink`.
pub fn describe(sink: &'static str) {
    describe_counter!(
        EVENTS_APPLIED_TOTAL,
        "Events the store accepted, by table and op."
    );
    describe_counter!(
        DEAD_LETTERED_TOTAL,
        "Records sent to the dead-letter topic."
    );
    describe_counter!(RETRIES_TOTAL, "Batches retried after a retryable failure.");
    describe_histogram!(BATCH_RECORDS, "Records per applied batch.");
    describe_histogram!(BATCH_SECONDS, Unit::Seconds, "Time to apply a batch.");
    describe_histogram!(
        FRESHNESS_SECONDS,
        Unit::Seconds,
        "From a change's commit in PostgreSQL to the store accepting it."
    );
    describe_gauge!(CONSUMER_LAG, "Records of a partition not yet committed.");
    describe_gauge!(
        READY,
        "1 while the sink has partitions and its store answers."
    );
    metrics::counter!(RETRIES_TOTAL, "sink" => sink).absolute(0);
    for class in ["undecodable", "rejected"] {
        metrics::counter!(DEAD_LETTERED_TOTAL, "sink" => sink, "class" => class).absolute(0);
    }
    metrics::gauge!(READY, "sink" => sink).set(0.0);
}
