//! A Kafka broker of one test's own, which the test may stop and start again.
//!
//! The shared broker (`SLUICE_KAFKA_BOOTSTRAP`) serves every test running at the same time,
//! so a test that needs Kafka to go away (an outage, a broker restart, a fault injected
//! mid-stream) must never touch it. [`PrivateKafka`] starts another single-node KRaft broker
//! through the local stack's own script, with its own state folder and ports:
//!
//! ```text
//!  PrivateKafka::start()   deploy/local/stack up kafka     SLUICE_STATE_DIR=<tempdir>
//!        │                                                  SLUICE_KAFKA_PORT=<free port>
//!        │  .stop()        deploy/local/stack down kafka    SLUICE_KAFKA_CONTROLLER_PORT=<free port>
//!        │  .start_again() deploy/local/stack up kafka      (jars: the usual SLUICE_CACHE_DIR)
//!        ▼
//!  Drop                    deploy/local/stack down kafka, then the tempdir is removed
//! ```
//!
//! `stack down` with a service argument stops that service and keeps its state folder
//! (only a bare `stack down` removes the whole folder), so after [`PrivateKafka::stop`] and
//! [`PrivateKafka::start_again`] the broker has the same cluster id, topics and records,
//! on the same address: clients reconnect by themselves, as they would to a restarted
//! production broker. [`PrivateKafka::stop`] returns once the broker process has exited
//! (a controlled shutdown, SIGKILL after 60 s) and its port refuses connections.
//!
//! # Ports
//!
//! The two ports (client and controller) are picked below Linux's default ephemeral range
//! (32768-60999). A port from that range could be taken as the local port of some other
//! test's outgoing connection while the broker is stopped, and the restart would then fail
//! to bind it. If the broker still finds a port taken at its first start (another process
//! won the race), [`PrivateKafka::start`] tries again with other ports.
//!
//! # Costs and limits
//!
//! A first start runs two short JVMs to format the storage, then the broker itself (up to
//! 512 MB of heap), then a probe JVM per readiness check: about 6 s on an idle 2-core
//! machine, more under load. Keep the number of private brokers per test run low. It needs what `deploy/local/stack up kafka` needs (Java
//! 17 and the jars in the cache, or Maven to fetch them once). The broker runs in its own
//! session; a test process killed with SIGKILL cannot run [`Drop`] and leaves it running
//! (its state folder names it: `sluice-private-kafka-*` under the temporary directory).

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Ports handed out by this process, so two private brokers of one process never share.
static TAKEN_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The lowest and (exclusive) highest port tried, below the default ephemeral range.
const PORT_RANGE: (u16, u16) = (20_000, 32_000);

/// How many times a first start is retried with new ports when the old ones were taken.
const START_ATTEMPTS: usize = 3;

/// Why a private broker could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum PrivateKafkaError {
    /// No two free ports were found.
    #[error("no free pair of ports in {low}..{high} for a private Kafka broker")]
    NoFreePorts {
        /// The lowest port tried.
        low: u16,
        /// The end of the range tried (exclusive).
        high: u16,
    },
    /// The temporary state folder could not be created.
    #[error("creating the private Kafka broker's state folder: {0}")]
    StateDir(#[source] io::Error),
    /// The stack script could not be run at all.
    #[error("could not run {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The stack script ran and failed; its output (with the broker log's tail) says why.
    #[error("`{command}` failed ({status}):\n{output}")]
    Failed {
        /// The command line.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard output and error.
        output: String,
    },
    /// `stack down` returned but something still accepts connections on the broker's port.
    #[error(
        "the private Kafka broker on port {port} still accepts connections after it was stopped"
    )]
    StillListening {
        /// The broker's client port.
        port: u16,
    },
}

/// A single-node Kafka broker that belongs to one test; see the module docs.
#[derive(Debug)]
pub struct PrivateKafka {
    state: tempfile::TempDir,
    port: u16,
    controller_port: u16,
    running: bool,
}

impl PrivateKafka {
    /// Starts a new broker (empty, freshly formatted) on free ports and waits until it
    /// answers a real request.
    pub async fn start() -> Result<PrivateKafka, PrivateKafkaError> {
        let mut attempt = 1;
        loop {
            let (port, controller_port) = free_port_pair()?;
            let state = tempfile::Builder::new()
                .prefix("sluice-private-kafka-")
                .tempdir()
                .map_err(PrivateKafkaError::StateDir)?;
            let mut kafka = PrivateKafka {
                state,
                port,
                controller_port,
                running: false,
            };
            match kafka.start_again().await {
                Ok(()) => {
                    tracing::info!(
                        bootstrap = %kafka.bootstrap(),
                        state = %kafka.state.path().display(),
                        "private Kafka broker started"
                    );
                    return Ok(kafka);
                }
                Err(PrivateKafkaError::Failed { output, .. })
                    if attempt < START_ATTEMPTS && output.contains("Address already in use") =>
                {
                    tracing::warn!(port, controller_port, "ports taken; trying others");
                    attempt += 1;
                    // Dropping `kafka` stops what was started and removes the state.
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// `host:port` for `bootstrap.servers`. The same across [`Self::stop`] and
    /// [`Self::start_again`].
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether the broker was started and not stopped since (as far as this handle knows).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The broker's log (`kafka.log` in its state folder), for diagnosing a failed test.
    pub fn log_file(&self) -> PathBuf {
        self.state.path().join("kafka").join("kafka.log")
    }

    /// Stops the broker (a controlled shutdown; killed after 60 s), keeping its data.
    /// Returns once the process has exited and its port refuses connections, so from then
    /// on no client can get an acknowledgement from it.
    pub async fn stop(&mut self) -> Result<(), PrivateKafkaError> {
        self.stack("down").await?;
        self.running = false;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
            return Err(PrivateKafkaError::StillListening { port: self.port });
        }
        Ok(())
    }

    /// Starts the broker again on the same ports and data (or for the first time) and
    /// waits until it answers. Does nothing when it is already running.
    pub async fn start_again(&mut self) -> Result<(), PrivateKafkaError> {
        self.stack("up").await?;
        self.running = true;
        Ok(())
    }

    /// Runs `deploy/local/stack <verb> kafka` against this broker's state folder and ports.
    async fn stack(&self, verb: &'static str) -> Result<(), PrivateKafkaError> {
        let mut command = self.command(verb);
        let line = format!("{} {verb} kafka", stack_script().display());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|e| PrivateKafkaError::Spawn {
                command: line.clone(),
                source: io::Error::other(e),
            })?
            .map_err(|source| PrivateKafkaError::Spawn {
                command: line.clone(),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        Err(PrivateKafkaError::Failed {
            command: line,
            status: output.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }

    /// The stack command for this broker. Only the variables `stack up|down kafka` reads
    /// are set; the jar cache (`SLUICE_CACHE_DIR`, `~/.cache/sluice` by default) is the
    /// usual one, so nothing is downloaded twice.
    fn command(&self, verb: &str) -> Command {
        let mut command = Command::new(stack_script());
        command
            .args([verb, "kafka"])
            .env("SLUICE_STATE_DIR", self.state.path())
            .env("SLUICE_KAFKA_PORT", self.port.to_string())
            .env(
                "SLUICE_KAFKA_CONTROLLER_PORT",
                self.controller_port.to_string(),
            )
            .stdin(std::process::Stdio::null());
        command
    }
}

impl Drop for PrivateKafka {
    /// Stops the broker if it runs (blocking, a few seconds) and removes its state folder.
    fn drop(&mut self) {
        // `down kafka` is idempotent and cheap when nothing runs; run it even when this
        // handle believes the broker stopped, in case a start failed half-way.
        match self.command("down").output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => tracing::warn!(
                status = %output.status,
                stderr = %String::from_utf8_lossy(&output.stderr),
                "stopping the private Kafka broker failed"
            ),
            Err(error) => tracing::warn!(%error, "could not stop the private Kafka broker"),
        }
        if let Ok(mut taken) = TAKEN_PORTS.lock() {
            taken.remove(&self.port);
            taken.remove(&self.controller_port);
        }
        // `self.state` (the TempDir) removes the folder when dropped after this.
    }
}

/// `deploy/local/stack` of this repository, found from the testkit crate's own folder.
fn stack_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("deploy")
        .join("local")
        .join("stack")
}

/// Two free ports, `(client, controller)`, that no other private broker of this process
/// holds. Tried from a pseudo-random start so that concurrent test processes spread out.
fn free_port_pair() -> Result<(u16, u16), PrivateKafkaError> {
    let (low, high) = PORT_RANGE;
    let span = u32::from(high - low);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut taken = TAKEN_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pick = |skip: Option<u16>| {
        (0..span).find_map(|i| {
            let offset = (seed.wrapping_add(i.wrapping_mul(7_919))) % span;
            let port = low + u16::try_from(offset).unwrap_or_default();
            (Some(port) != skip && !taken.contains(&port) && bindable(port)).then_some(port)
        })
    };
    let port = pick(None);
    let controller_port = pick(port);
    match (port, controller_port) {
        (Some(port), Some(controller_port)) => {
            taken.insert(port);
            taken.insert(controller_port);
            Ok((port, controller_port))
        }
        _ => Err(PrivateKafkaError::NoFreePorts { low, high }),
    }
}

/// Whether nothing listens on (or holds) `127.0.0.1:port` right now.
fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_pairs_are_free_distinct_and_below_the_ephemeral_range() {
        let (a, b) = free_port_pair().expect("ports");
        let (c, d) = free_port_pair().expect("ports");
        let all: BTreeSet<u16> = [a, b, c, d].into();
        assert_eq!(all.len(), 4, "{a} {b} {c} {d}");
        assert!(all.iter().all(|p| (PORT_RANGE.0..PORT_RANGE.1).contains(p)));
    }

    #[test]
    fn the_stack_script_is_found() {
        assert!(stack_script().is_file(), "{}", stack_script().display());
    }
}
