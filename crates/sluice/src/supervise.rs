//! Keeps the source running: restarts it after a retryable error with capped, jittered
//! exponential backoff, stops it on a permanent one or on shutdown.
//!
//! ```text
//!            ┌───────────── sleep(backoff), unless shutdown ◀────────────┐
//!            ▼                                                           │ retryable, or slot
//!  sluice_source::run(config, shutdown) ──Err──▶ classify ───────────────┤ busy for < slot_busy_wait
//!            │ Ok(confirmed LSN): shut down cleanly       │ permanent, or slot busy too long
//!            ▼                                            ▼
//!         exit 0                       exit 1 with the error's message (it says what to do)
//! ```
//!
//! # Why restarting is safe
//!
//! The source confirms a position to PostgreSQL only once Kafka acknowledged every event
//! at or before it, and a run ends without confirming anything more. A new run resumes
//! from the slot's confirmed position, so a restart replays (some events may reach Kafka
//! twice, each with its version) and never skips. The same holds for a crash, which is why
//! the supervisor can be this simple.
//!
//! # Backoff
//!
//! 0.5 s doubling up to 30 s, each delay drawn between half and all of its step so that
//! several sources restarted by one outage do not reconnect in step. A run that lasted a
//! minute counts as healthy and resets the backoff: the next failure is a new incident.
//!
//! # A slot held by someone else
//!
//! PostgreSQL refuses a slot that another connection reads (SQLSTATE `55006`), and the
//! replication crate calls that permanent: a second reader usually means a deployment
//! mistake. But after a crash or a `kill -9` the dead predecessor's walsender can hold the
//! slot for a moment, until PostgreSQL notices the connection is gone. So `55006` is
//! retried for `source.slot_busy_wait_seconds` (30 by default) and only then reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sluice_sink::backoff::Backoff;

use sluice_replication::sqlstate;
use sluice_source::{SourceConfig, SourceError};

use crate::report::ErrorChain;
use crate::shutdown::Shutdown;
use crate::telemetry::names;

/// The first delay before a restart.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest delay before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run at least this long resets the backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs the source until shutdown (`Ok`) or a permanent error (`Err`).
/// Whether a run of the source is in progress: the source's readiness.
pub(crate) static SOURCE_RUNS: AtomicBool = AtomicBool::new(false);

pub(crate) async fn run_source(
    config: &SourceConfig,
    slot_busy_wait: Duration,
    shutdown: &Shutdown,
) -> Result<(), SourceError> {
    let mut supervisor = Supervisor::new(slot_busy_wait);
    loop {
        let started = Instant::now();
        metrics::gauge!(names::SOURCE_RUNNING).set(1.0);
        SOURCE_RUNS.store(true, Ordering::Relaxed);
        let result = sluice_source::run(config, shutdown.requested()).await;
        SOURCE_RUNS.store(false, Ordering::Relaxed);
        metrics::gauge!(names::SOURCE_RUNNING).set(0.0);
        let error = match result {
            Ok(confirmed) => {
                tracing::info!(confirmed_lsn = %confirmed, "the source stopped");
                return Ok(());
            }
            Err(error) => error,
        };
        let class = Class::of(&error);
        if shutdown.is_requested() {
            if class == Class::Permanent {
                return Err(error);
            }
            tracing::warn!(
                error = %ErrorChain(&error),
                "the source failed while shutting down; the next start replays from the last confirmed position"
            );
            return Ok(());
        }
        let Some(delay) = supervisor.after_run(class, started.elapsed(), Instant::now()) else {
            return Err(error);
        };
        let retry_in_seconds = delay.as_secs_f64();
        if class == Class::SlotBusy {
            tracing::warn!(error = %ErrorChain(&error), retry_in_seconds, "the replication slot is held by another connection; waiting for it");
        } else {
            tracing::error!(error = %ErrorChain(&error), retry_in_seconds, "the source stopped; restarting it");
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.requested() => return Ok(()),
        }
        metrics::counter!(names::SOURCE_RESTARTS_TOTAL).increment(1);
    }
}

/// The supervisor's view of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A restart may succeed ([`SourceError::is_retryable`]).
    Retryable,
    /// Another connection reads the slot (`55006`).
    SlotBusy,
    /// A person has to change something.
    Permanent,
}

impl Class {
    fn of(error: &SourceError) -> Class {
        match error {
            SourceError::Replication(e) if e.code() == Some(sqlstate::OBJECT_IN_USE) => {
                Class::SlotBusy
            }
            e if e.is_retryable() => Class::Retryable,
            _ => Class::Permanent,
        }
    }
}

/// The restart policy, apart from the clock and the source (so it can be tested).
#[derive(Debug)]
struct Supervisor {
    backoff: Backoff,
    slot_busy_wait: Duration,
    /// When the slot was first found held by another connection, in this streak.
    slot_busy_since: Option<Instant>,
}

impl Supervisor {
    fn new(slot_busy_wait: Duration) -> Supervisor {
        Supervisor {
            backoff: Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF),
            slot_busy_wait,
            slot_busy_since: None,
        }
    }

    /// After a run that lasted `ran_for` and failed with an error of `class`: the delay
    /// before the next run, or `None` to stop.
    fn after_run(&mut self, class: Class, ran_for: Duration, now: Instant) -> Option<Duration> {
        if ran_for >= HEALTHY_RUN {
            self.backoff.reset();
            self.slot_busy_since = None;
        }
        match class {
            Class::Permanent => return None,
            Class::Retryable => self.slot_busy_since = None,
            Class::SlotBusy => {
                let since = *self.slot_busy_since.get_or_insert(now);
                if now.duration_since(since) >= self.slot_busy_wait {
                    return None;
                }
            }
        }
        Some(self.backoff.next_delay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permanent_error_stops_and_a_retryable_one_restarts() {
        let now = Instant::now();
        let mut supervisor = Supervisor::new(Duration::from_secs(30));
        assert_eq!(
            supervisor.after_run(Class::Permanent, Duration::ZERO, now),
            None
        );
        for _ in 0..20 {
            let delay = supervisor
                .after_run(Class::Retryable, Duration::ZERO, now)
                .expect("retryable errors restart forever");
            assert!(delay <= MAX_BACKOFF);
        }
    }

    #[test]
    fn a_healthy_run_resets_the_backoff() {
        let now = Instant::now();
        let mut supervisor = Supervisor::new(Duration::from_secs(30));
        for _ in 0..10 {
            supervisor.after_run(Class::Retryable, Duration::ZERO, now);
        }
        let grown = supervisor
            .after_run(Class::Retryable, Duration::ZERO, now)
            .unwrap();
        assert!(
            grown >= MAX_BACKOFF / 2,
            "the backoff grew to its cap: {grown:?}"
        );
        let delay = supervisor
            .after_run(Class::Retryable, HEALTHY_RUN, now)
            .unwrap();
        assert!(delay <= INITIAL_BACKOFF);
    }

    #[test]
    fn a_busy_slot_is_waited_for_then_reported() {
        let start = Instant::now();
        let mut supervisor = Supervisor::new(Duration::from_secs(30));
        assert!(
            supervisor
                .after_run(Class::SlotBusy, Duration::ZERO, start)
                .is_some()
        );
        assert!(
            supervisor
                .after_run(
                    Class::SlotBusy,
                    Duration::ZERO,
                    start + Duration::from_secs(29)
                )
                .is_some()
        );
        assert_eq!(
            supervisor.after_run(
                Class::SlotBusy,
                Duration::ZERO,
                start + Duration::from_secs(30)
            ),
            None
        );
        // Another error in between starts a new streak.
        let mut supervisor = Supervisor::new(Duration::from_secs(30));
        supervisor.after_run(Class::SlotBusy, Duration::ZERO, start);
        supervisor.after_run(
            Class::Retryable,
            Duration::ZERO,
            start + Duration::from_secs(20),
        );
        assert!(
            supervisor
                .after_run(
                    Class::SlotBusy,
                    Duration::ZERO,
                    start + Duration::from_secs(40)
                )
                .is_some()
        );
        // Zero: report at once.
        let mut supervisor = Supervisor::new(Duration::ZERO);
        assert_eq!(
            supervisor.after_run(Class::SlotBusy, Duration::ZERO, start),
            None
        );
    }

    #[test]
    fn errors_are_classified_by_the_source_s_own_table() {
        assert_eq!(Class::of(&SourceError::StreamEnded), Class::Retryable);
        assert_eq!(
            Class::of(&SourceError::MissingSlot("s".into())),
            Class::Permanent
        );
        assert_eq!(
            Class::of(&SourceError::Contract("bad".into())),
            Class::Permanent
        );
    }
}
