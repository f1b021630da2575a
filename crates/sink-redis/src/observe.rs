//! The sink's own metrics, every name in one place; the runtime counts batches, events,
//! retries and dead letters for every sink.

use metrics::{Unit, describe_counter};

/// Counter: writes the version guard refused because Redis holds a newer (or equal)
/// version of the row, a newer tombstone, or a higher truncate floor. Normal during
/// replays and retries; a success.
pub const STALE_WRITES_TOTAL: &str = "sluice_sink_redis_stale_writes_total";
/// Counter, label `outcome` (`merged`, `missing`): partial updates (unchanged TOAST)
/// merged onto the stored row, or of a row Redis does not hold.
pub const PARTIAL_UPDATES_TOTAL: &str = "sluice_sink_redis_partial_updates_total";
/// Counter: keys deleted by invalidate-only tables.
pub const INVALIDATIONS_TOTAL: &str = "sluice_sink_redis_invalidations_total";
/// Counter: rows removed by truncates.
pub const TRUNCATED_KEYS_TOTAL: &str = "sluice_sink_redis_truncated_keys_total";
/// Counter: pipelines (round trips of many commands) sent.
pub const PIPELINES_TOTAL: &str = "sluice_sink_redis_pipelines_total";

/// The label of [`PARTIAL_UPDATES_TOTAL`].
pub const OUTCOME: &str = "outcome";

/// Every metric of this crate.
pub const ALL: [&str; 5] = [
    STALE_WRITES_TOTAL,
    PARTIAL_UPDATES_TOTAL,
    INVALIDATIONS_TOTAL,
    TRUNCATED_KEYS_TOTAL,
    PIPELINES_TOTAL,
];

/// Registers the metrics' descriptions with the installed recorder.
pub fn describe() {
    describe_counter!(
        STALE_WRITES_TOTAL,
        Unit::Count,
        "Writes refused because Redis holds a newer version, tombstone or truncate floor (a success)."
    );
    describe_counter!(
        PARTIAL_UPDATES_TOTAL,
        Unit::Count,
        "Partial updates (unchanged TOAST), by outcome: merged, or missing (row not held)."
    );
    describe_counter!(
        INVALIDATIONS_TOTAL,
        Unit::Count,
        "Keys deleted for invalidate-only tables."
    );
    describe_counter!(
        TRUNCATED_KEYS_TOTAL,
        Unit::Count,
        "Rows removed by truncates."
    );
    describe_counter!(PIPELINES_TOTAL, Unit::Count, "Pipelines sent to Redis.");
}
