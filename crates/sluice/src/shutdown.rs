//! Shutdown on SIGTERM or SIGINT.
//!
//! The first signal asks the source to stop cleanly: it stops reading WAL, waits (up to a
//! few seconds) for Kafka to acknowledge what is in flight, and reports the final confirmed
//! position to PostgreSQL, so the next start replays as little as possible. A second signal
//! exits at once, which is safe too (nothing unacknowledged was ever confirmed), only with
//! more to replay.

use tokio::sync::watch;

/// Exit code after a second signal: the shell's convention for "killed by SIGINT".
const FORCED_EXIT_CODE: i32 = 130;

/// Resolves once a shutdown was asked for; cheap to clone and to wait on many times.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Listens for SIGTERM and SIGINT in a background task.
    pub(crate) fn on_signals() -> std::io::Result<Shutdown> {
        let (sender, receiver) = watch::channel(false);
        let mut signals = Signals::new()?;
        tokio::spawn(async move {
            let name = signals.next().await;
            tracing::info!(
                signal = name,
                "shutting down; a second signal exits at once"
            );
            let _ = sender.send(true);
            let name = signals.next().await;
            tracing::warn!(signal = name, "exiting at once");
            std::process::exit(FORCED_EXIT_CODE);
        });
        Ok(Shutdown(receiver))
    }

    /// Resolves when a shutdown was asked for (at once if it already was).
    pub(crate) async fn requested(&self) {
        let mut receiver = self.0.clone();
        if receiver.wait_for(|asked| *asked).await.is_err() {
            // The signal task is gone (only at process exit): never resolve.
            std::future::pending::<()>().await;
        }
    }

    /// Whether a shutdown was asked for.
    pub(crate) fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The name of the next signal received.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
