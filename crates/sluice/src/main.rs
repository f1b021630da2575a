//! `sluice`: the command that runs Sluice's processes.
//!
//! ```text
//!  sluice source --config sluice.toml
//!     │
//!     ├─ config: the TOML file + SLUICE_<SECTION>__<KEY> variables ─▶ checked, or exit 2 naming the key
//!     ├─ telemetry: logs to stderr (RUST_LOG), /metrics and /healthz
//!     ├─ shutdown: SIGTERM/SIGINT ─▶ stop cleanly (a second signal exits at once)
//!     └─ supervise: sluice_source::run, restarted with backoff on retryable errors
//!                   ─▶ exit 0 on shutdown, exit 1 with the error's message on a permanent one
//! ```
//!
//! The binary holds no business logic: the streaming core is the `sluice-source` library,
//! and this crate only turns a config file into its config, keeps it running and makes it
//! observable. `sink <kind>`, `replay`, `verify` and `status` will be further subcommands.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | stopped on SIGTERM or SIGINT |
//! | 1 | a permanent error; the message says what to do |
//! | 2 | bad command line or config; the message names the option or key |
//! | 130 | a second signal during shutdown |
//!
//! `anyhow` lives here only, at the edge; the modules have their own error types.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod overrides;
mod report;
mod shutdown;
mod supervise;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::report::ErrorChain;
use crate::shutdown::Shutdown;

/// Change data capture from PostgreSQL to Kafka and on to Elasticsearch, Redis and Neo4j.
#[derive(Debug, Parser)]
#[command(name = "sluice", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream every committed change of the published tables from a PostgreSQL logical
    /// replication slot to Kafka, until SIGTERM or SIGINT.
    Source(SourceArgs),
}

#[derive(Debug, Args)]
struct SourceArgs {
    /// The TOML config file. `SLUICE_<SECTION>__<KEY>` environment variables override its
    /// keys (e.g. SLUICE_POSTGRES__URL, SLUICE_KAFKA__BOOTSTRAP_SERVERS).
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
}

/// A failure that is the operator's config, not the run.
const CONFIG_EXIT_CODE: u8 = 2;

/// mimalloc rather than the system allocator: the source allocates several small objects per
/// row (typed values, the event, the record), and glibc's malloc was a fifth of its time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging();
    let result = match cli.command {
        Command::Source(args) => source(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printed, not logged: the reason the process ends must show whatever RUST_LOG is.
            eprintln!("sluice: {}", ErrorChain(error.as_ref()));
            if error.downcast_ref::<config::ConfigError>().is_some()
                || error.downcast_ref::<telemetry::MetricsError>().is_some()
            {
                ExitCode::from(CONFIG_EXIT_CODE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn source(args: SourceArgs) -> anyhow::Result<()> {
    let config =
        Config::load(&args.config).with_context(|| format!("config {}", args.config.display()))?;
    let shutdown = Shutdown::on_signals().context("cannot listen for signals")?;
    if config.metrics.enabled {
        let address = telemetry::serve_metrics(
            config.metrics.listen_address,
            Arc::new(|| supervise::SOURCE_RUNS.load(std::sync::atomic::Ordering::Relaxed)),
        )
        .await?;
        tracing::info!(%address, "serving /metrics and /healthz");
    }
    let source_config = config.source_config();
    tracing::info!(
        slot = %source_config.slot,
        publication = %source_config.publication,
        topic_prefix = %source_config.topic_prefix,
        bootstrap_servers = %source_config.kafka.bootstrap_servers,
        "starting the source"
    );
    supervise::run_source(&source_config, config.slot_busy_wait(), &shutdown).await?;
    Ok(())
}
