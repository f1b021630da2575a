//! `sluice`: the command that runs Sluice's processes.
//!
//! ```text
//!  sluice source --config sluice.toml                PostgreSQL slot ─▶ Kafka
//!  sluice sink elasticsearch --config sink.toml      Kafka ─▶ Elasticsearch / OpenSearch
//!  sluice sink redis --config sink.toml              Kafka ─▶ Redis (cached rows)
//!  sluice sink neo4j --config sink.toml              Kafka ─▶ Neo4j (nodes, relationships)
//!  sluice replay elasticsearch --config sink.toml    rebuild indices, swap aliases, exit
//!  sluice verify --config sink.toml                  PostgreSQL vs every store: drift, exit 1
//!  sluice status --config sink.toml                  slot, snapshot, sink lag, dead letters; exit 1 on trouble
//!     │
//!     ├─ config: the TOML file + SLUICE_<SECTION>__<KEY> variables ─▶ checked, or exit 2 naming the key
//!     ├─ telemetry: logs to stderr (RUST_LOG), /metrics, /healthz and /readyz
//!     ├─ shutdown: SIGTERM/SIGINT ─▶ stop cleanly (a second signal exits at once)
//!     └─ supervise: the library's run loop, restarted with backoff on retryable errors
//!                   ─▶ exit 0 on shutdown, exit 1 with the error's message on a permanent one
//! ```
//!
//! The binary holds no business logic: the streaming cores are the `sluice-source` and
//! `sluice-sink` libraries and one crate per store; this crate only turns a config file
//! into their configs, keeps them running and makes them observable.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | stopped on SIGTERM or SIGINT |
//! | 1 | a permanent error; the message says what to do; for `verify`: drift found; for `status`: something needs attention |
//! | 2 | bad command line or config; the message names the option or key |
//! | 3 | `verify` could not finish (a store or PostgreSQL failed), or `status` could not reach PostgreSQL or Kafka: nothing is known |
//! | 130 | a second signal during shutdown |
//!
//! `anyhow` lives here only, at the edge; the modules have their own error types.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod offsets;
mod overrides;
mod replay;
mod report;
mod shutdown;
mod sink;
mod sink_config;
mod status;
mod supervise;
mod telemetry;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use sluice_sink::Health;
use sluice_sink_elasticsearch::ElasticsearchSink;
use sluice_sink_neo4j::Neo4jSink;
use sluice_sink_redis::RedisSink;

use crate::config::Config;
use crate::report::ErrorChain;
use crate::shutdown::Shutdown;
use crate::sink_config::SinkConfig;

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
    Source(ConfigArgs),
    /// Apply the change events on Kafka to a store, committing offsets only once the store
    /// accepted them, until SIGTERM or SIGINT.
    #[command(subcommand)]
    Sink(SinkKind),
    /// Rebuild a store from the start of the topics into fresh indices, then switch readers
    /// over atomically; the live sink keeps running.
    #[command(subcommand)]
    Replay(ReplayKind),
    /// Compare PostgreSQL with every configured store and name the rows missing, extra
    /// or stale; exit 1 on drift.
    Verify(verify::VerifyArgs),
    /// Report where the pipeline stands; exit 1 when something needs attention.
    ///
    /// Read from the servers, whether or not any Sluice process runs: the slot (active,
    /// confirmed and restart LSN, WAL held and bytes behind, wal_status), the publication's
    /// tables, the snapshot's progress, each sink group's lag and members, and the
    /// dead-letter topics.
    #[command(after_help = status::exit_codes_help())]
    Status(status::StatusArgs),
}

#[derive(Debug, Subcommand)]
enum ReplayKind {
    /// Rebuild Elasticsearch indices: a new index per table, filled from the topic, then
    /// the table's alias moved to it.
    Elasticsearch(ReplayArgs),
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Only this table (`schema.table`); repeat for several. Every table of the prefix
    /// when absent.
    #[arg(long = "table", value_name = "SCHEMA.TABLE")]
    tables: Vec<String>,
    /// Delete the indices the aliases pointed to once the swap is done (required when the
    /// name is still a concrete index rather than an alias).
    #[arg(long)]
    delete_old: bool,
}

#[derive(Debug, Subcommand)]
enum SinkKind {
    /// Elasticsearch or OpenSearch: one index (or alias) per table, documents versioned by
    /// commit LSN.
    Elasticsearch(ConfigArgs),
    /// Redis: one key per row (a hash or a JSON string), every write guarded by the
    /// row's version in a server-side script; optionally with a TTL, or invalidate-only.
    Redis(ConfigArgs),
    /// Neo4j: tables to labelled nodes, foreign keys and join tables to relationships,
    /// every write guarded by the stored version.
    Neo4j(ConfigArgs),
}

#[derive(Debug, Args)]
struct ConfigArgs {
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
        Command::Sink(SinkKind::Elasticsearch(args)) => sink_elasticsearch(args).await,
        Command::Sink(SinkKind::Redis(args)) => sink_redis(args).await,
        Command::Sink(SinkKind::Neo4j(args)) => sink_neo4j(args).await,
        Command::Replay(ReplayKind::Elasticsearch(args)) => replay_elasticsearch(args).await,
        Command::Verify(args) => match verify_command(args).await {
            Ok(true) => return ExitCode::from(verify::DRIFT_EXIT_CODE),
            Ok(false) => Ok(()),
            Err(error) if error.downcast_ref::<config::ConfigError>().is_some() => Err(error),
            Err(error) => {
                eprintln!("sluice: {}", ErrorChain(error.as_ref()));
                return ExitCode::from(verify::FAILED_EXIT_CODE);
            }
        },
        Command::Status(args) => match status_command(args).await {
            Ok(true) => return ExitCode::from(status::ATTENTION_EXIT_CODE),
            Ok(false) => Ok(()),
            Err(error) if error.downcast_ref::<config::ConfigError>().is_some() => Err(error),
            Err(error) => {
                eprintln!("sluice: {}", ErrorChain(error.as_ref()));
                return ExitCode::from(status::UNREACHABLE_EXIT_CODE);
            }
        },
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

async fn source(args: ConfigArgs) -> anyhow::Result<()> {
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

async fn replay_elasticsearch(args: ReplayArgs) -> anyhow::Result<()> {
    let config = sink_config(&args.config.config)?;
    let search = required(&config.elasticsearch, "elasticsearch", "`url`")?;
    let shutdown = Shutdown::on_signals().context("cannot listen for signals")?;
    replay::elasticsearch(&config, search, &args.tables, args.delete_old, &shutdown).await
}

/// `sluice verify`: `Ok(true)` when drift was found.
async fn verify_command(args: verify::VerifyArgs) -> anyhow::Result<bool> {
    let config = sink_config(&args.config)?;
    // The environment configures the verify config; the source's file takes from it only
    // what the two share: the database's URL and Kafka's address.
    let shared = |o: &overrides::Override| {
        o.path.first().is_some_and(|section| section == "postgres")
            || o.path == ["kafka", "bootstrap_servers"]
    };
    let source = match &args.source_config {
        Some(path) => Some(
            config::load_with::<Config>(path, shared)
                .with_context(|| format!("config {}", path.display()))?
                .source_config(),
        ),
        None => None,
    };
    verify::run(&config, source.as_ref(), &args)
        .await
        .map_err(|error| match error {
            verify::VerifyError::Config(config) => anyhow::Error::from(config),
            other => other.into(),
        })
}

/// `sluice status`: `Ok(true)` when something needs attention.
async fn status_command(args: status::StatusArgs) -> anyhow::Result<bool> {
    let config = sink_config(&args.config)?;
    status::run(&config, &args)
        .await
        .map_err(|error| match error {
            status::StatusError::Config(config) => anyhow::Error::from(config),
            other => other.into(),
        })
}

async fn sink_elasticsearch(args: ConfigArgs) -> anyhow::Result<()> {
    let config = sink_config(&args.config)?;
    let store = required(&config.elasticsearch, "elasticsearch", "`url`")?.store_config();
    tracing::info!(url = %sluice_sink::redact_url(&store.url), "the store: Elasticsearch");
    run_sink(&config, "elasticsearch", || {
        ElasticsearchSink::connect(store.clone())
    })
    .await
}

async fn sink_redis(args: ConfigArgs) -> anyhow::Result<()> {
    let config = sink_config(&args.config)?;
    let store = required(&config.redis, "redis", "`url`")?;
    tracing::info!(url = %sluice_sink::redact_url(&store.url), "the store: Redis");
    run_sink(&config, "redis", || RedisSink::connect(store.clone())).await
}

async fn sink_neo4j(args: ConfigArgs) -> anyhow::Result<()> {
    let config = sink_config(&args.config)?;
    let store = required(&config.neo4j, "neo4j", "`url` and `nodes`")?;
    tracing::info!(url = %sluice_sink::redact_url(&store.url), "the store: Neo4j");
    run_sink(&config, "neo4j", || Neo4jSink::connect(store.clone())).await
}

/// The sink config at `path`.
fn sink_config(path: &std::path::Path) -> anyhow::Result<SinkConfig> {
    config::load(path).with_context(|| format!("config {}", path.display()))
}

/// A store's section, which the command needs.
fn required<'a, T>(section: &'a Option<T>, name: &str, keys: &str) -> anyhow::Result<&'a T> {
    section.as_ref().ok_or_else(|| {
        config::ConfigError::invalid_key(
            name,
            &format!("this command needs a [{name}] section with at least {keys}"),
        )
        .into()
    })
}

/// Serves the metrics endpoint and runs the sink of `kind` (made by `connect`) until
/// SIGTERM: what every `sluice sink <kind>` shares.
async fn run_sink<S, C, F>(
    config: &SinkConfig,
    kind: &'static str,
    connect: C,
) -> anyhow::Result<()>
where
    S: sluice_sink::Sink,
    C: Fn() -> F,
    F: std::future::Future<Output = Result<S, sluice_sink::SinkError>>,
{
    let health = Arc::new(Health::default());
    let shutdown = Shutdown::on_signals().context("cannot listen for signals")?;
    if config.metrics.enabled {
        let ready = health.clone();
        let address = telemetry::serve_metrics(
            config.metrics.listen_address,
            Arc::new(move || ready.is_ready()),
        )
        .await?;
        tracing::info!(%address, "serving /metrics and /healthz");
    }
    let runtime = config.runtime_config(kind)?;
    tracing::info!(kind, group = %runtime.group_id, topic_prefix = %runtime.topic_prefix, "starting the sink");
    sink::run(connect, &runtime, health, &shutdown).await?;
    Ok(())
}
