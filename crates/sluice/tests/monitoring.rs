//! What operators watch, checked against the real processes: `sluice source` and `sluice
//! sink elasticsearch` run from the config files the Kubernetes manifests ship
//! (`deploy/k8s/base/config/`, with the `SLUICE_<SECTION>__<KEY>` overrides a Deployment
//! passes, credentials included), and
//!
//! - every metric name that the alert rules (`deploy/monitoring/alerts.yml`), the
//!   dashboards (`deploy/monitoring/dashboards/`) and the autoscaler's query name is one
//!   these processes expose on `/metrics`;
//! - a real Prometheus server (Debian's package, installed by `deploy/monitoring/install`)
//!   scrapes both, and the lag and throughput series appear in its query API with sane
//!   values, every dashboard query returns data, and the alert rules evaluate cleanly;
//! - the static checks of the deployment artifacts pass (`deploy/k8s/check`: kustomize and
//!   kubeconform; `deploy/monitoring/check`: promtool);
//! - the Redis and Neo4j sinks' Deployment configs start their sinks, ready, and the cache
//!   fills.

use std::collections::BTreeSet;
use std::net::TcpListener;

use serde_json::Value as Json;
use sluice_sink::TableName;

use super::store_pipeline::tail;
use super::*;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Rows in the table before the source starts: the initial snapshot's.
const SNAPSHOT_ROWS: i64 = 300;

/// A `sluice` process of the pipeline: the process, its log and its metrics address.
struct Process {
    running: Running,
    log: PathBuf,
    metrics: String,
}

impl Process {
    /// Starts `sluice <args>` with `config` and the overrides `env`, and waits until it
    /// serves its metrics endpoint.
    async fn start(args: &[&str], config: &Path, env: &[(&str, String)], log: PathBuf) -> Process {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the log");
        let mut command = sluice_command();
        command.args(args).arg("--config").arg(config);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start sluice");
        let mut running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(address) = text.lines().find_map(|line| {
                line.contains("serving /metrics")
                    .then(|| line.split("address=").nth(1))
                    .flatten()
            }) {
                return Process {
                    running,
                    metrics: address.trim().to_owned(),
                    log,
                };
            }
            if let Some(status) = running.0.try_wait().expect("try_wait") {
                panic!("sluice {args:?} exited with {status}:\n{}", tail(&log));
            }
            assert!(
                Instant::now() < deadline,
                "sluice {args:?} served no metrics within 60 s:\n{}",
                tail(&log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn get(&self, path: &str) -> String {
        http(&self.metrics, "GET", path)
    }
}

/// A plain HTTP/1.0 request (no chunked answer to decode): the response, head and body.
fn try_http(address: &str, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn http(address: &str, method: &str, path: &str) -> String {
    try_http(address, method, path)
        .unwrap_or_else(|error| panic!("{method} {address}{path}: {error}"))
}

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// The source and the Elasticsearch sink on one test table, from the Kubernetes configs.
struct Pipeline {
    h: Harness,
    source: Process,
    sink: Process,
    search: String,
    index: String,
}

impl Pipeline {
    async fn start(prefix: &str) -> Pipeline {
        let h = Harness::new(prefix, "(id int8 PRIMARY KEY, name text)").await;
        let t = h.name.clone();
        h.pg.batch_execute(&format!(
            "INSERT INTO {t} SELECT i, 'snapshot ' || i FROM generate_series(1, {SNAPSHOT_ROWS}) AS i;
             ANALYZE {t};"
        ))
        .await
        .expect("rows before the snapshot");
        let configs = repo().join("deploy/k8s/base/config");

        // What the source's Deployment passes (the Secret's URL), plus the test's names.
        let source = Process::start(
            &["source"],
            &configs.join("source.toml"),
            &[
                ("SLUICE_POSTGRES__URL", h.url.clone()),
                ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", h.bootstrap.clone()),
                ("SLUICE_KAFKA__REPLICATION_FACTOR", "1".into()),
                ("SLUICE_KAFKA__PARTITIONS", "3".into()),
                ("SLUICE_SOURCE__SLOT", h.slot()),
                ("SLUICE_SOURCE__PUBLICATION", format!("{t}_pub")),
                ("SLUICE_SOURCE__TOPIC_PREFIX", t.clone()),
                ("SLUICE_SOURCE__STATUS_INTERVAL_SECONDS", "0.5".into()),
                ("SLUICE_METRICS__LISTEN_ADDRESS", "127.0.0.1:0".into()),
            ],
            h.dir.path().join("source.log"),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while h
            .pg
            .query_opt(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active",
                &[&h.slot()],
            )
            .await
            .expect("slot query")
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "the source did not stream within 60 s:\n{}",
                tail(&source.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let search = address(Server::Search).await.expect("search engine");
        let index_prefix = t.replace('_', "-");
        let index = sluice_sink_elasticsearch::default_index_name(
            &index_prefix,
            &TableName {
                schema: "public".into(),
                table: t.clone(),
            },
        )
        .expect("index name");
        // What the sink's Deployment passes (the Secret's password), plus the test's names.
        let sink = Process::start(
            &["sink", "elasticsearch"],
            &configs.join("sink-elasticsearch.toml"),
            &[
                ("SLUICE_ELASTICSEARCH__PASSWORD", "not-checked-here".into()),
                ("SLUICE_ELASTICSEARCH__URL", search.clone()),
                ("SLUICE_ELASTICSEARCH__INDEX_PREFIX", index_prefix),
                ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", h.bootstrap.clone()),
                ("SLUICE_SINK__TOPIC_PREFIX", t.clone()),
                ("SLUICE_SINK__GROUP_ID", format!("{t}-elasticsearch")),
                ("SLUICE_SINK__TOPIC_REFRESH_SECONDS", "1".into()),
                ("SLUICE_SINK__BATCH_MAX_WAIT_MS", "100".into()),
                ("SLUICE_METRICS__LISTEN_ADDRESS", "127.0.0.1:0".into()),
            ],
            h.dir.path().join("sink.log"),
        )
        .await;
        Pipeline {
            h,
            source,
            sink,
            search: search
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            index,
        }
    }

    /// Inserts `rows` rows after the ones there, one transaction each.
    async fn write(&self, from: i64, rows: i64) {
        for id in from..from + rows {
            self.h
                .pg
                .batch_execute(&format!(
                    "INSERT INTO {} VALUES ({id}, 'streamed {id}')",
                    self.h.name
                ))
                .await
                .expect("insert");
        }
    }

    /// Waits until the index holds `rows` documents.
    async fn await_documents(&self, rows: i64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let _ = http(&self.search, "POST", &format!("/{}/_refresh", self.index));
            let count = serde_json::from_str::<Json>(body(&http(
                &self.search,
                "GET",
                &format!("/{}/_count", self.index),
            )))
            .ok()
            .and_then(|answer| answer["count"].as_i64());
            if count == Some(rows) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the index holds {count:?} documents, not {rows}, after 120 s:\n{}",
                tail(&self.sink.log)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn stop(self) {
        for process in [self.sink, self.source] {
            let status = terminate(process.running);
            assert!(
                status.success(),
                "sluice exits 0 on SIGTERM, not {status}:\n{}",
                tail(&process.log)
            );
        }
        let _ = http(&self.search, "DELETE", &format!("/{}", self.index));
        self.h.clean_up().await;
    }
}

/// The names of the samples in a Prometheus text exposition (`x_bucket`, `x_sum` and
/// `x_count` for a histogram `x`).
fn exposed_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Every `sluice_*` metric name the deployment artifacts use.
fn names_used() -> BTreeSet<(String, String)> {
    let monitoring = repo().join("deploy/monitoring");
    let mut files = vec![
        monitoring.join("alerts.yml"),
        repo().join("deploy/k8s/components/autoscaling/scaledobjects.yaml"),
    ];
    for entry in std::fs::read_dir(monitoring.join("dashboards")).expect("dashboards") {
        files.push(entry.expect("entry").path());
    }
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let mut rest = text.as_str();
        while let Some(start) = rest.find("sluice_") {
            let token: String = rest[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let file = file.file_name().unwrap().to_string_lossy().into_owned();
            rest = &rest[start + token.len()..];
            names.insert((token, file));
        }
    }
    names
}

#[tokio::test]
async fn dashboards_and_alert_rules_name_only_metrics_the_processes_export() {
    let p = Pipeline::start("mon_names").await;
    p.write(SNAPSHOT_ROWS + 1, 20).await;
    p.await_documents(SNAPSHOT_ROWS + 20).await;

    // The labelled series appear once something happened: events applied, a batch, the
    // lag of each partition (librdkafka's statistics, every 5 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (source, sink) = loop {
        let (source, sink) = (p.source.get("/metrics"), p.sink.get("/metrics"));
        if sink.contains("sluice_sink_consumer_lag{")
            && sink.contains("sluice_sink_freshness_seconds_bucket{")
            && source.contains("sluice_source_kafka_delivery_seconds_bucket{")
        {
            break (source, sink);
        }
        assert!(
            Instant::now() < deadline,
            "the labelled series did not appear within 60 s:\n{sink}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let exposed: BTreeSet<String> = exposed_names(&source)
        .into_iter()
        .chain(exposed_names(&sink))
        .collect();

    let used = names_used();
    assert!(
        used.len() >= 15,
        "the artifacts name too few metrics to be what they should: {used:?}"
    );
    let unknown: Vec<_> = used
        .iter()
        .filter(|(name, _)| !exposed.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "metric names used but not exported by the processes (name, file): {unknown:?}\nexported: {exposed:?}"
    );
    // Every metric of the source library and of the sink runtime is on a dashboard or in
    // an alert (the Elasticsearch sink's own counters are for drilling down, not there).
    let used_names: BTreeSet<&str> = used.iter().map(|(name, _)| name.as_str()).collect();
    for name in sluice_source::observe::ALL
        .iter()
        .chain(sluice_sink::observe::ALL.iter())
    {
        if matches!(
            *name,
            "sluice_source_confirmed_lsn" | "sluice_source_server_wal_end_lsn"
        ) {
            continue; // their difference is the lag, which is shown
        }
        assert!(
            used_names.iter().any(|used| used
                .strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest == "_bucket")),
            "{name} is exported but on no dashboard and in no alert"
        );
    }
    p.stop().await;
}

/// A Prometheus server scraping the pipeline every second, with the alert rules loaded.
struct Prometheus {
    child: Running,
    address: String,
    log: PathBuf,
    _storage: tempfile::TempDir,
}

impl Prometheus {
    fn start(p: &Pipeline) -> Prometheus {
        let install = Command::new("bash")
            .arg(repo().join("deploy/monitoring/install"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run deploy/monitoring/install");
        assert!(install.status.success(), "deploy/monitoring/install failed");
        let bin = PathBuf::from(String::from_utf8(install.stdout).expect("a path").trim());
        let storage = tempfile::tempdir().expect("temp dir");
        let config = storage.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules:?}\n\
                 scrape_configs:\n\
                 \x20 - job_name: sluice-source\n    static_configs:\n      - targets: [{source:?}]\n\
                 \x20 - job_name: sluice-sink-elasticsearch\n    static_configs:\n      - targets: [{sink:?}]\n",
                rules = repo().join("deploy/monitoring/alerts.yml"),
                source = p.source.metrics,
                sink = p.sink.metrics,
            ),
        )
        .expect("prometheus.yml");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let log = p.h.dir.path().join("prometheus.log");
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(bin.join("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                storage.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child: Running(child),
            address,
            log,
            _storage: storage,
        }
    }

    /// The result of an instant query, or why there is none yet.
    fn query(&self, promql: &str) -> Result<Vec<(Json, f64)>, String> {
        let encoded: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let response = try_http(
            &self.address,
            "GET",
            &format!("/api/v1/query?query={encoded}"),
        )
        .map_err(|error| format!("Prometheus does not answer: {error}"))?;
        let answer: Json = serde_json::from_str(body(&response))
            .map_err(|error| format!("{error}: {response}"))?;
        if answer["status"] != "success" {
            return Err(format!("{promql}: {answer}"));
        }
        Ok(answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|sample| {
                let value = sample["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (sample["metric"].clone(), value)
            })
            .collect())
    }

    /// Polls until `check` holds on the results of `promql` (120 s at most).
    async fn until(&self, what: &str, promql: &str, check: impl Fn(&[(Json, f64)]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let result = self.query(promql);
            if result.as_deref().is_ok_and(&check) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: `{promql}` gave {result:?} for 120 s\nPrometheus:\n{}",
                tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The queries of every dashboard, with Grafana's variables set as "all" would set them.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(repo().join("deploy/monitoring/dashboards")).expect("dashboards")
    {
        let path = entry.expect("entry").path();
        let board: Json =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        for panel in board["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"]
                    .as_str()
                    .expect("expr")
                    .replace("$__rate_interval", "30s")
                    .replace("$namespace", ".*")
                    .replace("$sink", ".*");
                queries.push((format!("{}: {}", board["uid"], panel["title"]), expr));
            }
        }
    }
    queries
}

#[tokio::test]
async fn a_real_prometheus_scrapes_lag_and_throughput_from_the_source_and_the_sink() {
    let p = Pipeline::start("mon_prom").await;
    let prometheus = Prometheus::start(&p);
    let t = p.h.name.clone();
    let table = format!("public.{t}");

    // Both targets up.
    prometheus
        .until("both targets are up", r#"up{job=~"sluice-.*"}"#, |r| {
            r.len() == 2 && r.iter().all(|(_, v)| *v == 1.0)
        })
        .await;

    // A steady trickle of changes while Prometheus watches.
    let streamed = 200;
    let writer = {
        let (url, t) = (p.h.url.clone(), t.clone());
        tokio::spawn(async move {
            let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            for id in SNAPSHOT_ROWS + 1..=SNAPSHOT_ROWS + streamed {
                pg.batch_execute(&format!("INSERT INTO {t} VALUES ({id}, 'streamed {id}')"))
                    .await
                    .expect("insert");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // Throughput while the changes flow: the source's events per table and op, and the
    // sink's applied events, as rates above zero.
    prometheus
        .until(
            "the source's throughput",
            &format!(
                r#"sum(rate(sluice_source_events_total{{job="sluice-source", table="{table}", op="create"}}[10s]))"#
            ),
            |r| r.len() == 1 && r[0].1 > 0.0,
        )
        .await;
    prometheus
        .until(
            "the sink's throughput",
            &format!(
                r#"sum(rate(sluice_sink_events_applied_total{{job="sluice-sink-elasticsearch", sink="elasticsearch", table="{table}", op="create"}}[10s]))"#
            ),
            |r| r.len() == 1 && r[0].1 > 0.0,
        )
        .await;
    // Lag: present and sane while streaming. The replication lag counts the WAL of the
    // whole server (other tests write to it too), so it is bounded loosely.
    prometheus
        .until(
            "the replication lag in bytes",
            r#"sluice_source_replication_lag_bytes{job="sluice-source"}"#,
            |r| r.len() == 1 && (0.0..1e9).contains(&r[0].1),
        )
        .await;
    prometheus
        .until(
            "the replication lag in seconds",
            r#"sluice_source_replication_lag_seconds{job="sluice-source"}"#,
            |r| r.len() == 1 && (0.0..60.0).contains(&r[0].1),
        )
        .await;
    prometheus
        .until(
            "the consumer lag of each of the topic's 3 partitions",
            &format!(r#"sluice_sink_consumer_lag{{job="sluice-sink-elasticsearch", topic="{t}.public.{t}"}}"#),
            |r| r.len() == 3 && r.iter().all(|(_, v)| (0.0..=streamed as f64).contains(v)),
        )
        .await;
    prometheus
        .until(
            "the freshness p99",
            r#"histogram_quantile(0.99, sum by (le) (rate(sluice_sink_freshness_seconds_bucket{job="sluice-sink-elasticsearch"}[30s])))"#,
            |r| r.len() == 1 && r[0].1 > 0.0 && r[0].1 < 60.0,
        )
        .await;
    // Every query of every dashboard evaluates and returns data.
    for (panel, expr) in dashboard_queries() {
        prometheus
            .until(&format!("dashboard panel {panel}"), &expr, |r| {
                !r.is_empty()
            })
            .await;
    }
    writer.await.expect("writer");

    // Once the writes stop and the store holds every row: the counters add up and the lag
    // is zero on every partition.
    p.await_documents(SNAPSHOT_ROWS + streamed).await;
    prometheus
        .until(
            "the snapshot's rows",
            &format!(
                r#"sluice_source_snapshot_rows_total{{job="sluice-source", table="{table}"}}"#
            ),
            |r| r.len() == 1 && r[0].1 == SNAPSHOT_ROWS as f64,
        )
        .await;
    prometheus
        .until(
            "the source's streamed inserts",
            &format!(
                r#"sluice_source_events_total{{job="sluice-source", table="{table}", op="create"}}"#
            ),
            |r| r.len() == 1 && r[0].1 == streamed as f64,
        )
        .await;
    prometheus
        .until(
            "the sink's applied events",
            &format!(r#"sum(sluice_sink_events_applied_total{{job="sluice-sink-elasticsearch", table="{table}"}})"#),
            |r| r.len() == 1 && r[0].1 >= (SNAPSHOT_ROWS + streamed) as f64,
        )
        .await;
    prometheus
        .until(
            "the consumer lag once caught up",
            &format!(r#"sum(sluice_sink_consumer_lag{{job="sluice-sink-elasticsearch", topic="{t}.public.{t}"}})"#),
            |r| r.len() == 1 && r[0].1 == 0.0,
        )
        .await;

    // The alert rules evaluate against the real series without error, and none fires.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rules: Json =
            serde_json::from_str(body(&http(&prometheus.address, "GET", "/api/v1/rules")))
                .expect("rules");
        let all: Vec<&Json> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().into_iter().flatten())
            .collect();
        let evaluated = !all.is_empty()
            && all.iter().all(|rule| {
                rule["lastEvaluation"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001"))
            });
        if evaluated {
            let unhealthy: Vec<_> = all.iter().filter(|rule| rule["health"] != "ok").collect();
            assert!(
                unhealthy.is_empty(),
                "rules failing to evaluate: {unhealthy:?}"
            );
            let firing: Vec<_> = all
                .iter()
                .filter(|rule| rule["state"] == "firing")
                .collect();
            assert!(
                firing.is_empty(),
                "alerts firing on a healthy pipeline: {firing:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rules were not evaluated within 60 s: {rules}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    drop(prometheus.child);
    p.stop().await;
}

/// Runs one of the deploy/ check scripts, failing with its output.
fn run_check(script: &str) {
    let output = Command::new("bash")
        .arg(repo().join(script))
        .stdin(Stdio::null())
        .output()
        .expect("run the check");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_kubernetes_manifests_render_and_validate() {
    run_check("deploy/k8s/check");
}

#[test]
fn the_alert_rules_and_dashboards_pass_promtool() {
    run_check("deploy/monitoring/check");
}

/// Starts `sluice sink <kind>` from its Deployment's config file, with the overrides its
/// Deployment passes and the test's names, and waits until it is ready.
async fn start_deployment_sink(p: &Pipeline, kind: &str, env: &[(&str, String)]) -> Process {
    let t = &p.h.name;
    let mut overrides = vec![
        ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", p.h.bootstrap.clone()),
        ("SLUICE_SINK__TOPIC_PREFIX", t.clone()),
        ("SLUICE_SINK__GROUP_ID", format!("{t}-{kind}")),
        ("SLUICE_SINK__TOPIC_REFRESH_SECONDS", "1".into()),
        ("SLUICE_METRICS__LISTEN_ADDRESS", "127.0.0.1:0".into()),
    ];
    overrides.extend(env.iter().cloned());
    let sink = Process::start(
        &["sink", kind],
        &repo().join(format!("deploy/k8s/base/config/sink-{kind}.toml")),
        &overrides,
        p.h.dir.path().join(format!("{kind}.log")),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sink.get("/readyz").contains(" 200 ") {
        assert!(
            Instant::now() < deadline,
            "sluice sink {kind} was not ready within 60 s:\n{}",
            tail(&sink.log)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sink
}

/// Runs `sluice verify` as the CronJob of deploy/k8s/components/verify does (its config,
/// the source's Deployment config, its arguments), on the cache only, with the test's
/// names: no drift.
fn verify_as_the_cronjob_does(p: &Pipeline, redis_url: &str) {
    let t = &p.h.name;
    let k8s = repo().join("deploy/k8s");
    // The source's Deployment config with the test's names (the environment below
    // configures the verify config; the source's file takes from it only the database's
    // URL and Kafka's address, as in the CronJob).
    let source_config = p.h.dir.path().join("source-for-verify.toml");
    let text = std::fs::read_to_string(k8s.join("base/config/source.toml")).expect("source.toml");
    std::fs::write(
        &source_config,
        text.replace("slot = \"sluice\"", &format!("slot = \"{}\"", p.h.slot()))
            .replace(
                "publication = \"sluice\"",
                &format!("publication = \"{t}_pub\""),
            )
            .replace(
                "topic_prefix = \"sluice\"",
                &format!("topic_prefix = \"{t}\""),
            ),
    )
    .expect("write the source config");
    let output = sluice_command()
        .args(["verify", "--config"])
        .arg(k8s.join("components/verify/config/verify.toml"))
        .arg("--source-config")
        .arg(&source_config)
        .args(["--repair", "--store", "redis"])
        .envs([
            ("SLUICE_POSTGRES__URL", p.h.url.clone()),
            ("SLUICE_KAFKA__BOOTSTRAP_SERVERS", p.h.bootstrap.clone()),
            ("SLUICE_ELASTICSEARCH__PASSWORD", "not-used-here".into()),
            ("SLUICE_NEO4J__PASSWORD", "not-used-here".into()),
            ("SLUICE_SINK__TOPIC_PREFIX", t.clone()),
            ("SLUICE_VERIFY__PUBLICATION", format!("{t}_pub")),
            ("SLUICE_VERIFY__SLOT", p.h.slot()),
            ("SLUICE_REDIS__URL", redis_url.to_owned()),
            ("SLUICE_REDIS__KEY_PREFIX", t.clone()),
        ])
        .output()
        .expect("run sluice verify");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "{SNAPSHOT_ROWS} rows checked, 0 missing, 0 extra, 0 stale"
        )),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_redis_and_neo4j_deployment_configs_start_their_sinks() {
    let p = Pipeline::start("mon_stores").await;
    let t = p.h.name.clone();
    let redis_url = address(Server::Redis).await.expect("redis");
    let redis = start_deployment_sink(
        &p,
        "redis",
        &[
            ("SLUICE_REDIS__URL", redis_url.clone()),
            ("SLUICE_REDIS__KEY_PREFIX", t.clone()),
        ],
    )
    .await;
    // The graph config maps the demo's shop tables, not the test's: the sink starts,
    // creates its constraints and skips the test's table.
    let neo4j = start_deployment_sink(
        &p,
        "neo4j",
        &[
            (
                "SLUICE_NEO4J__URL",
                address(Server::Neo4j).await.expect("neo4j"),
            ),
            ("SLUICE_NEO4J__PASSWORD", "not-checked-here".into()),
        ],
    )
    .await;

    // The cache holds the snapshot's rows under the configured layout.
    let client = redis::Client::open(redis_url.as_str()).expect("redis client");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{t}:public.{t}:*"))
            .query_async(&mut connection)
            .await
            .expect("KEYS (a test's few hundred keys)");
        if keys.len() as i64 == SNAPSHOT_ROWS {
            verify_as_the_cronjob_does(&p, &redis_url);
            let _: () = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut connection)
                .await
                .expect("UNLINK");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Redis holds {} of the {SNAPSHOT_ROWS} rows after 60 s:\n{}",
            keys.len(),
            tail(&redis.log)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for sink in [redis, neo4j] {
        let status = terminate(sink.running);
        assert!(status.success(), "sluice exits 0 on SIGTERM, not {status}");
    }
    p.stop().await;
}
