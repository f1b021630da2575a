//! `sluice sink <kind>`: connects the store, runs the consumer runtime, and restarts it
//! with backoff when Kafka fails; a store that refuses the sink for good stops the process.
//!
//! ```text
//!  connect store ──Retryable──▶ backoff, again      ──Permanent──▶ exit 1
//!     │
//!  sluice_sink::runtime::run ──Ok (SIGTERM)──▶ exit 0
//!     │ Err(Kafka)  ──▶ backoff, restart (offsets are committed only after the store accepted)
//!     │ Err(Sink)   ──▶ exit 1 with the store's reason
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sluice_sink::backoff::Backoff;
use sluice_sink::runtime::{self, Health, RuntimeConfig, RuntimeError};
use sluice_sink::{Sink, SinkError};

use crate::report::ErrorChain;
use crate::shutdown::Shutdown;

/// Why a sink stopped for good.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkStopped {
    /// The store refuses the sink.
    #[error(transparent)]
    Store(SinkError),
    /// The runtime failed permanently.
    #[error(transparent)]
    Runtime(RuntimeError),
}

/// Runs a sink until SIGTERM: `connect` makes the store's client (again after a failure).
pub(crate) async fn run<S, C, F>(
    connect: C,
    config: &RuntimeConfig,
    health: Arc<Health>,
    shutdown: &Shutdown,
) -> Result<(), SinkStopped>
where
    S: Sink,
    C: Fn() -> F,
    F: Future<Output = Result<S, SinkError>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let failure = match connect().await {
            Ok(sink) => {
                tracing::info!(group = %config.group_id, topic_prefix = %config.topic_prefix, "consuming");
                match runtime::run(sink, config, health.clone(), shutdown.requested()).await {
                    Ok(()) => return Ok(()),
                    Err(error) if error.is_retryable() => ErrorChain(&error).to_string(),
                    Err(error) => return Err(SinkStopped::Runtime(error)),
                }
            }
            Err(SinkError::Retryable(reason)) => reason,
            Err(permanent) => return Err(SinkStopped::Store(permanent)),
        };
        if shutdown.is_requested() {
            return Ok(());
        }
        let delay = backoff.next_delay();
        tracing::error!(error = %failure, retry_in_seconds = delay.as_secs_f64(), "the sink stopped; restarting it");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.requested() => return Ok(()),
        }
    }
}
