//! The sink's own metrics, every name in one place; the runtime counts batches, events,
//! retries and dead letters for every sink.

use metrics::{Unit, describe_counter};

/// Counter: UNWIND statements sent (a retry of a refused statement row by row counts
/// each row).
pub const STATEMENTS_TOTAL: &str = "sluice_sink_neo4j_statements_total";
/// Counter: records Neo4j refused for good (dead-lettered).
pub const REJECTED_TOTAL: &str = "sluice_sink_neo4j_rejected_total";
/// Counter: nodes and relationships removed by truncates.
pub const TRUNCATED_TOTAL: &str = "sluice_sink_neo4j_truncated_total";
/// Counter: tombstones removed after their time to live.
pub const EXPIRED_TOMBSTONES_TOTAL: &str = "sluice_sink_neo4j_expired_tombstones_total";

/// Every metric of this crate.
pub const ALL: [&str; 4] = [
    STATEMENTS_TOTAL,
    REJECTED_TOTAL,
    TRUNCATED_TOTAL,
    EXPIRED_TOMBSTONES_TOTAL,
];

/// Registers the metrics' descriptions with the installed recorder.
pub fn describe() {
    describe_counter!(STATEMENTS_TOTAL, Unit::Count, "UNWIND statements sent.");
    describe_counter!(
        REJECTED_TOTAL,
        Unit::Count,
        "Records Neo4j refused for good (dead-lettered)."
    );
    describe_counter!(
        TRUNCATED_TOTAL,
        Unit::Count,
        "Nodes and relationships removed by truncates."
    );
    describe_counter!(
        EXPIRED_TOMBSTONES_TOTAL,
        Unit::Count,
        "Tombstones removed after their time to live."
    );
}
