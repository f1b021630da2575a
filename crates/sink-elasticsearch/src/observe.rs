//! The sink's own metrics, every name in one place; the runtime counts batches, events,
//! retries and dead letters for every sink.

use metrics::{Unit, describe_counter};

/// Counter: writes the search engine refused because it holds a newer (or the same)
/// version of the document. Normal during replays and retries; a success.
pub const STALE_WRITES_TOTAL: &str = "sluice_sink_elasticsearch_stale_writes_total";
/// Counter, label `outcome` (`merged`, `newer_stored`, `missing`): partial updates
/// (unchanged TOAST) completed from the stored document.
pub const PARTIAL_FETCHES_TOTAL: &str = "sluice_sink_elasticsearch_partial_fetches_total";
/// Counter: documents removed by truncates.
pub const TRUNCATED_DOCUMENTS_TOTAL: &str = "sluice_sink_elasticsearch_truncated_documents_total";
/// Counter: bulk requests sent.
pub const BULK_REQUESTS_TOTAL: &str = "sluice_sink_elasticsearch_bulk_requests_total";

/// The label of [`PARTIAL_FETCHES_TOTAL`].
pub const OUTCOME: &str = "outcome";

/// Every metric of this crate.
pub const ALL: [&str; 4] = [
    STALE_WRITES_TOTAL,
    PARTIAL_FETCHES_TOTAL,
    TRUNCATED_DOCUMENTS_TOTAL,
    BULK_REQUESTS_TOTAL,
];

/// Registers the metrics' descriptions with the installed recorder.
pub fn describe() {
    describe_counter!(
        STALE_WRITES_TOTAL,
        Unit::Count,
        "Writes refused because the search engine holds a newer version (a success)."
    );
    describe_counter!(
        PARTIAL_FETCHES_TOTAL,
        Unit::Count,
        "Partial updates (unchanged TOAST) completed from the stored document, by outcome."
    );
    describe_counter!(
        TRUNCATED_DOCUMENTS_TOTAL,
        Unit::Count,
        "Documents removed by truncates."
    );
    describe_counter!(BULK_REQUESTS_TOTAL, Unit::Count, "Bulk requests sent.");
}
