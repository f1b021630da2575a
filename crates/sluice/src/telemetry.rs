//! Logs and metrics.
//!
//! Logs go to stderr through `tracing`, filtered by `RUST_LOG` (default `info`);
//! librdkafka's own log records join them through `tracing-log`.
//!
//! Metrics are served in Prometheus' text format on `/metrics`, beside a `/healthz` that
//! answers `200 ok` while the process runs (a liveness probe). The exporter is
//! `metrics-exporter-prometheus` without its own HTTP listener; a two-route axum server
//! (axum and hyper 1 are already in the workspace's tree) serves both paths. Only metrics
//! this process updates are registered, with the names below
//! (`sluice_<subsystem>_<name>_<unit>[_total]`) and no labels. The source library's own
//! metrics (events, positions, lag, snapshot progress: `sluice_source::observe`) go
//! through the same `metrics` facade and appear beside them.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Metric names: one place, so dashboards and alerts have one list to follow.
pub(crate) mod names {
    /// Counter: restarts of the source after a retryable error.
    pub(crate) const SOURCE_RESTARTS_TOTAL: &str = "sluice_source_restarts_total";
    /// Gauge: 1 while a run of the source is in progress (connecting or streaming), 0
    /// while it waits to restart.
    pub(crate) const SOURCE_RUNNING: &str = "sluice_source_running";
    /// Gauge: always 1, labelled with the version: which build a process runs.
    pub(crate) const BUILD_INFO: &str = "sluice_build_info";
    /// The build info's label.
    pub(crate) const VERSION_LABEL: &str = "version";
}

/// How often the exporter's housekeeping runs (it drains histograms and summaries).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Prometheus' text exposition format.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Logs to stderr, filtered by `RUST_LOG` (`info` when unset or unparsable).
pub(crate) fn init_logging() {
    let (filter, bad_filter) = match std::env::var("RUST_LOG") {
        Ok(text) if !text.is_empty() => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new("info"), Some(error)),
        },
        _ => (EnvFilter::new("info"), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some(error) = bad_filter {
        tracing::warn!(error = %error, "RUST_LOG is not a valid filter; logging at info");
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    /// The exporter could not be installed.
    #[error("cannot install the metrics recorder: {0}")]
    Install(#[from] BuildError),
    /// The address cannot be listened on.
    #[error("metrics.listen_address: cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether the process does its job, for `/readyz`.
pub(crate) type Readiness = Arc<dyn Fn() -> bool + Send + Sync>;

/// Installs the exporter, registers this process's metrics and serves `/metrics`,
/// `/healthz` (alive) and `/readyz` (`readiness`: 200 when ready, 503 when not) on
/// `address` in the background. Returns the bound address (port 0 picks one).
pub(crate) async fn serve_metrics(
    address: SocketAddr,
    readiness: Readiness,
) -> Result<SocketAddr, MetricsError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| MetricsError::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { address, source })?;
    // Histograms with buckets (not summaries), so quantiles aggregate across processes.
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &sluice_sink::observe::SECONDS_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(sluice_sink::observe::BATCH_RECORDS.into()),
            &sluice_sink::observe::RECORDS_BUCKETS,
        )?
        .install_recorder()?;
    register();

    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route("/metrics", get(move || render(handle.clone())))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                    }
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(error = %error, "the metrics endpoint stopped");
        }
    });
    Ok(bound)
}

async fn render(handle: PrometheusHandle) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], handle.render())
}

/// Describes the metrics and gives them their starting values, so that they are exported
/// (at 0) before anything happened.
fn register() {
    metrics::describe_counter!(
        names::SOURCE_RESTARTS_TOTAL,
        "Restarts of the source after a retryable error."
    );
    metrics::describe_gauge!(
        names::SOURCE_RUNNING,
        "1 while a run of the source is in progress, 0 while it waits to restart."
    );
    metrics::describe_gauge!(names::BUILD_INFO, "Always 1; the version is a label.");
    metrics::counter!(names::SOURCE_RESTARTS_TOTAL).absolute(0);
    metrics::gauge!(names::SOURCE_RUNNING).set(0.0);
    metrics::gauge!(names::BUILD_INFO, names::VERSION_LABEL => env!("CARGO_PKG_VERSION")).set(1.0);
}
