//! Sluice's sink side: the consumer runtime every store shares, and the small [`Sink`]
//! trait a store implements.
//!
//! ```text
//!  Kafka topics <prefix>.<schema>.<table>
//!     │ consumer group per sink, manual commits
//!     ▼
//!  runtime: decode ──undecodable──▶ dead-letter topic <prefix>.sluice-dead-letter.<sink>
//!     │ batch (size or time)
//!     ▼
//!  Sink::apply(batch) ──Retryable──▶ backoff with jitter, same batch again (offsets stay)
//!     │ Ok(Applied { rejected })   ──Permanent──▶ stop, nothing committed
//!     ▼
//!  rejected records ──▶ dead-letter topic (acknowledged) ──▶ commit offsets past the batch
//! ```
//!
//! # Why applying twice is fine
//!
//! Every write a store makes carries the event's version (its commit LSN) and is accepted
//! only if it is not older than what the store holds. So a batch retried after a timeout,
//! a batch re-delivered after a crash or a rebalance, and a topic replayed from the start
//! all converge to the same state, and the runtime can always choose "apply again" over
//! "maybe lost".
//!
//! # Writing a sink
//!
//! A store is one crate with one type implementing [`Sink`]: apply a batch (in offset
//! order per partition; records of different partitions are independent), report the
//! records the store refused for good as [`Applied::rejected`], and classify failures as
//! [`SinkError::Retryable`] (connection, timeout, throttling, 5xx) or
//! [`SinkError::Permanent`] (the configuration is wrong: nothing will ever succeed).
//! Its planning folds a batch into steps of one write per row with [`fold::BatchPlanner`].
//! For `sluice verify`, the store also implements [`Inspect`]: the expected stored form
//! of a row, computed by its own planning code, and batched reads of what it holds.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backoff;
pub mod fold;
pub mod inspect;
pub mod json;
pub mod observe;
pub mod record;
pub mod runtime;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;

pub use inspect::{Inspect, InspectError, ScanPage};
pub use record::{Cell, Origin, Record, TableName};
pub use runtime::{Health, RuntimeConfig, RuntimeError};

/// A store's URL fit for logs and `Debug`: its password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Cannot fail: a URL with a password has a host.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".into(),
    }
}

/// A store that change events are applied to.
pub trait Sink: Send + 'static {
    /// The sink's kind (`elasticsearch`, `redis`, `neo4j`): a metrics label and the default
    /// consumer group and dead-letter topic suffix.
    fn kind(&self) -> &'static str;

    /// Applies a batch. Records of one partition come in offset order. Applying a record
    /// twice, or an older one after a newer one, must leave the newest version in place.
    fn apply(
        &mut self,
        batch: &[Record],
    ) -> impl Future<Output = Result<Applied, SinkError>> + Send;

    /// Whether the store answers: the readiness check.
    fn check(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// What a store did with a batch it accepted.
#[derive(Debug, Default)]
pub struct Applied {
    /// Records the store refused for good (a document its mapping rejects, say), by index
    /// in the batch, with the reason: they go to the dead-letter topic.
    pub rejected: Vec<Rejection>,
}

/// One record a store refused for good.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Its index in the batch.
    pub index: usize,
    /// Why, in one sentence for an operator (no row values).
    pub reason: String,
}

/// Why a batch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying: the store is unreachable, slow, throttling, or failing (5xx).
    #[error("the store failed, retrying: {0}")]
    Retryable(String),
    /// Will never succeed as configured (authentication, a missing index the sink may not
    /// create...): the process stops without committing.
    #[error("the store refuses the sink's writes: {0}")]
    Permanent(String),
}
